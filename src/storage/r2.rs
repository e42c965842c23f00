//! Opening the store: Cloudflare R2 through `object_store`'s S3 client when
//! `[storage]` is in server.toml and R2 credentials are in the environment,
//! the local file system otherwise.
//!
//! R2 speaks S3 at `https://<account_id>.r2.cloudflarestorage.com` with the
//! region `auto`. Credentials come from `R2_ACCESS_KEY_ID` and
//! `R2_SECRET_ACCESS_KEY`, plus `R2_SESSION_TOKEN` when they are temporary
//! (the VPS's scoped ones); `R2_ENDPOINT` overrides the address (tests, a
//! local S3 server). The secret parts live in [`Secret`]s until they are
//! handed to the S3 client, and nothing here prints them.

use std::sync::Arc;

use object_store::aws::{AmazonS3Builder, S3ConditionalPut};

use super::{StorageError, Store};
use crate::ids::ServerName;
use crate::repo::model::Storage;
use crate::secret::Secret;

/// R2 (or any S3) credentials as read from the environment.
#[derive(Clone, Debug)]
pub struct R2Credentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
}

impl R2Credentials {
    /// `None` when neither key is set; an error when only one is.
    pub fn from_inputs(inputs: &crate::inputs::Inputs) -> Result<Option<Self>, StorageError> {
        use crate::inputs::Var;
        let id = inputs.secret(Var::R2AccessKeyId);
        let secret = inputs.secret(Var::R2SecretAccessKey);
        match (id, secret) {
            (None, None) => Ok(None),
            (Some(_), None) => Err(StorageError::Config(
                "R2_ACCESS_KEY_ID is set but R2_SECRET_ACCESS_KEY is not; set both or neither".into(),
            )),
            (None, Some(_)) => Err(StorageError::Config(
                "R2_SECRET_ACCESS_KEY is set but R2_ACCESS_KEY_ID is not; set both or neither".into(),
            )),
            (Some(id), Some(secret)) => Ok(Some(R2Credentials {
                access_key_id: id.expose().to_string(),
                secret_access_key: secret,
                session_token: inputs.secret(Var::R2SessionToken),
            })),
        }
    }
}

/// The S3 address of an account's R2.
pub fn r2_endpoint(account_id: &str) -> String {
    format!("https://{account_id}.r2.cloudflarestorage.com")
}

impl Store {
    /// An S3/R2 bucket at `endpoint`.
    pub fn s3(endpoint: &str, bucket: &str, creds: &R2Credentials, server: &ServerName) -> Result<Self, StorageError> {
        let mut b = AmazonS3Builder::new()
            .with_endpoint(endpoint)
            .with_region("auto")
            .with_bucket_name(bucket)
            .with_access_key_id(&creds.access_key_id)
            .with_secret_access_key(creds.secret_access_key.expose())
            // R2 and S3 both honour If-Match / If-None-Match on PUT.
            .with_conditional_put(S3ConditionalPut::ETagMatch)
            // Plain http only for a local test server.
            .with_allow_http(endpoint.starts_with("http://127.0.0.1") || endpoint.starts_with("http://localhost"));
        if let Some(t) = &creds.session_token {
            b = b.with_token(t.expose());
        }
        let s3 = Arc::new(b.build().map_err(|e| StorageError::Config(e.to_string()))?);
        let mut store = Store::from_object_store(s3.clone(), server, format!("R2 bucket {bucket} at {endpoint}"));
        store.signer = Some(s3);
        Ok(store)
    }

    /// The store server.toml's `[storage]` and the environment call for:
    /// R2 when both are there, else the local directory `local_dir` (with a
    /// warning when `[storage]` names a bucket no credentials reach).
    pub fn from_settings(
        inputs: &crate::inputs::Inputs,
        storage: Option<&Storage>,
        local_dir: &std::path::Path,
        server: &ServerName,
    ) -> Result<Self, StorageError> {
        let creds = R2Credentials::from_inputs(inputs)?;
        let endpoint = inputs.nonempty(crate::inputs::Var::R2Endpoint);
        match (storage, creds) {
            (Some(s), Some(creds)) => {
                let endpoint = match (endpoint, &s.account_id) {
                    (Some(e), _) => e,
                    (None, Some(account)) => r2_endpoint(account),
                    (None, None) => {
                        return Err(StorageError::Config(
                            "server.toml [storage] has no account_id, so the R2 endpoint is unknown; add `account_id` or set R2_ENDPOINT"
                                .into(),
                        ));
                    }
                };
                Store::s3(&endpoint, &s.bucket, &creds, server)
            }
            (Some(s), None) => {
                let store = Store::local(local_dir, server)?;
                tracing::warn!(
                    "R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY are not set; bucket {} is not used, storage is the {}",
                    s.bucket,
                    store.describe
                );
                Ok(store)
            }
            (None, _) => Store::local(local_dir, server),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_show_their_secret_parts() {
        let c = R2Credentials {
            access_key_id: "AKID".into(),
            secret_access_key: Secret::new("very-secret-key"),
            session_token: Some(Secret::new("very-secret-token")),
        };
        let shown = format!("{c:?}");
        assert!(shown.contains("AKID"));
        assert!(!shown.contains("very-secret"), "{shown}");
        let store = Store::s3("http://127.0.0.1:9", "grove-worlds", &c, &ServerName::new("grove")).unwrap();
        let shown = format!("{store:?} {}", store.describe);
        assert!(!shown.contains("very-secret"), "{shown}");
    }

    #[test]
    fn the_endpoint_is_the_accounts_r2_address() {
        assert_eq!(
            r2_endpoint("5f3c9a1e7b2d4c6e8a0f1b3d5e7c9a2b"),
            "https://5f3c9a1e7b2d4c6e8a0f1b3d5e7c9a2b.r2.cloudflarestorage.com"
        );
    }
}
