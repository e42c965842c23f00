//! R2 temporary access credentials: the only credentials the VPS ever holds,
//! scoped to one bucket and the server's own prefixes, and gone within hours.
//!
//! `POST /accounts/{account_id}/r2/temp-access-credentials` per the document:
//! a camelCase body (`bucket`, `parentAccessKeyId`, `permission`, `prefixes`,
//! `ttlSeconds` ≤ 604800) and a result of `accessKeyId`, `secretAccessKey`,
//! `sessionToken`. The TTL bound is checked before sending, so a bad value
//! never costs a request. The secret parts go straight into [`Secret`]s, and
//! a malformed result is reported by field name only, never by value.

use reqwest::Method;
use serde_json::{Value, json};

use super::error::MAX_TEMP_CREDENTIALS_TTL;
use super::types::{R2Permission, TempCredentials};
use super::{Cloudflare, CloudflareError};
use crate::secret::Secret;

impl Cloudflare {
    /// Mint credentials for `bucket`, limited to `prefixes` (an empty slice
    /// sends none, which scopes them to the whole bucket), signed with the
    /// account's R2 key `parent_access_key_id`, living `ttl_seconds`.
    pub async fn r2_temp_credentials(
        &self,
        account_id: &str,
        bucket: &str,
        parent_access_key_id: &str,
        permission: R2Permission,
        prefixes: &[String],
        ttl_seconds: u64,
    ) -> Result<TempCredentials, CloudflareError> {
        let resource = format!("R2 temporary credentials for bucket {bucket} in account {account_id}");
        if ttl_seconds == 0 || ttl_seconds > MAX_TEMP_CREDENTIALS_TTL {
            return Err(CloudflareError::TtlOutOfRange { resource, ttl_seconds });
        }
        let mut body = json!({
            "bucket": bucket,
            "parentAccessKeyId": parent_access_key_id,
            "permission": permission,
            "ttlSeconds": ttl_seconds,
        });
        if !prefixes.is_empty() {
            body["prefixes"] = json!(prefixes);
        }
        let path = format!("/accounts/{account_id}/r2/temp-access-credentials");
        let env = self.request(Method::POST, &path, Some(&body), &resource).await?;
        let field = |name: &str| -> Result<String, CloudflareError> {
            env.result
                .get(name)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .ok_or_else(|| CloudflareError::Decode {
                    resource: resource.clone(),
                    detail: format!("result.{name} is missing or not a string"),
                })
        };
        Ok(TempCredentials {
            access_key_id: field("accessKeyId")?,
            secret_access_key: Secret::new(field("secretAccessKey")?),
            session_token: Secret::new(field("sessionToken")?),
        })
    }
}
