//! R2: the account key lists the bucket and writes, reads back and deletes
//! one probe object under `doctor/<id>`; and the Cloudflare token mints
//! temporary credentials from that key, as apply does for every new server.
//!
//! The probe is the only proof of write there is (R2 keys cannot list
//! their own permissions). The minted credentials are the least there
//! are: read-only, for `doctor/` only, for 60 seconds; they are dropped
//! without being printed or used.

use super::{Check, Env, why};
use crate::cloudflare::{Cloudflare, R2Permission};
use crate::repo::Desired;
use crate::storage::StorageError;
use crate::storage::Store;
use crate::storage::r2::r2_endpoint;

/// Where probes go: a prefix no world, control or asset key starts with.
pub(super) const PROBE_PREFIX: &str = "doctor/";
/// The minted credentials' life: long enough to be issued, no longer.
pub(super) const MINT_TTL_SECONDS: u64 = 60;

const KEY_FIX: &str = "create an R2 API token (R2 → Manage API tokens) with Object Read & Write on the bucket and store its Access Key ID and Secret Access Key as the R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY secrets";

/// What S3 said, in one line: `InvalidAccessKeyId: The access key does
/// not exist or has expired`, from the error XML object_store nests (three
/// times over) in its message; the whole chain when there is none.
fn said(e: &StorageError) -> (Option<String>, String) {
    let all = why(e);
    let tag = |t: &str| {
        let open = format!("<{t}>");
        let start = all.find(&open)? + open.len();
        let len = all[start..].find(&format!("</{t}>"))?;
        Some(all[start..start + len].to_string())
    };
    match (tag("Code"), tag("Message")) {
        (Some(code), message) => {
            let text = format!("{code}: {}", message.unwrap_or_default());
            (Some(code), text)
        }
        _ => (None, all),
    }
}

/// The fix for what S3 said, else `otherwise`.
fn fix_for(code: Option<&str>, bucket: &str, otherwise: String) -> String {
    match code {
        Some("InvalidAccessKeyId" | "SignatureDoesNotMatch") => {
            "R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY are not a key pair of this account: copy both again from R2 → Manage API tokens"
                .into()
        }
        Some("NoSuchBucket") => format!("create the bucket {bucket} in R2, or fix bucket in [storage] of server.toml"),
        _ => otherwise,
    }
}

/// The store doctor probes: `[storage]` and the key, or the line saying
/// which is missing.
fn open(env: &Env, d: &Desired) -> Result<Store, Check> {
    const ID: &str = "r2.key";
    let Some(storage) = &d.server.storage else {
        return Err(Check::fail(
            ID,
            "server.toml has no [storage]: worlds would live only on the runner, and new servers get no agent",
            "add [storage] with the R2 bucket and account_id to server.toml",
        ));
    };
    let creds = match &env.r2 {
        Err(e) => return Err(Check::fail(ID, why(e), KEY_FIX)),
        Ok(None) => return Err(Check::fail(ID, "R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY are not set", KEY_FIX)),
        Ok(Some(c)) => c,
    };
    let endpoint = match (&env.r2_endpoint, &storage.account_id) {
        (Some(e), _) => e.clone(),
        (None, Some(a)) => r2_endpoint(a),
        (None, None) => {
            return Err(Check::fail(
                ID,
                "[storage] has no account_id, so the R2 endpoint is unknown",
                "add account_id (shown on the R2 overview page) to [storage] in server.toml",
            ));
        }
    };
    Store::s3(&endpoint, &storage.bucket, creds, &d.server.name).map_err(|e| Check::fail(ID, why(&e), KEY_FIX))
}

/// List, then write, read back and delete one probe object.
pub(super) async fn r2(env: &Env, d: &Desired) -> Vec<Check> {
    let store = match open(env, d) {
        Ok(s) => s,
        Err(c) => return vec![c, Check::skip("r2.write", "the write probe needs the R2 key")],
    };
    let bucket = d.server.storage.as_ref().map(|s| s.bucket.as_str()).unwrap_or_default();
    let mut out = Vec::new();
    match store.list(PROBE_PREFIX).await {
        Ok(_) => out.push(Check::pass("r2.key", format!("the R2 key lists bucket {bucket}"))),
        Err(e) => {
            let (code, text) = said(&e);
            out.push(Check::fail(
                "r2.key",
                format!("the R2 key cannot list bucket {bucket}: {text}"),
                fix_for(
                    code.as_deref(),
                    bucket,
                    format!("check [storage] bucket and account_id, and give the key Object Read & Write on {bucket}"),
                ),
            ));
            out.push(Check::skip("r2.write", "the write probe needs a key that lists the bucket"));
            return out;
        }
    }
    out.push(match env.probes {
        true => probe(&store, bucket).await,
        false => Check::warn(
            "r2.write",
            format!("that the key may write to {bucket} is not proven (--no-write)"),
            format!("make sure the key has Object Read & Write on {bucket}, or run doctor without --no-write"),
        ),
    });
    out
}

async fn probe(store: &Store, bucket: &str) -> Check {
    const ID: &str = "r2.write";
    let key = format!("{PROBE_PREFIX}{}", super::probe_id());
    let body = format!("mc-gitops doctor probe {key}; safe to delete\n").into_bytes();
    let fix_write = format!("give the R2 key Object Read & Write on {bucket} (a read-only key cannot keep worlds)");
    if let Err(e) = store.put_bytes(&key, body.clone()).await {
        let (code, text) = said(&e);
        return Check::fail(
            ID,
            format!("the R2 key can read but not write: {text}"),
            fix_for(code.as_deref(), bucket, fix_write),
        );
    }
    let read = store.get_bytes(&key).await;
    let deleted = store.delete(&key).await;
    match (read, deleted) {
        (Ok(Some(got)), Ok(())) if got == body => Check::pass(ID, format!("wrote, read back and deleted {key} in {bucket}")),
        (Ok(got), Ok(())) => Check::fail(
            ID,
            format!("{key} read back {}", if got.is_some() { "different bytes" } else { "as missing" }),
            "check R2_ENDPOINT: another store answers for the bucket",
        ),
        (Err(e), _) => Check::fail(ID, format!("wrote {key} but cannot read it back: {}", said(&e).1), fix_write),
        (_, Err(e)) => Check::fail(
            ID,
            format!("wrote {key} but cannot delete it: {}", said(&e).1),
            format!("give the R2 key Object Read & Write on {bucket} (retention deletes old snapshots), then delete {key}"),
        ),
    }
}

/// Mint read-only credentials for `doctor/`, as apply mints the agent's.
pub(super) async fn mint(cf: Option<&Cloudflare>, env: &Env, d: &Desired) -> Check {
    const ID: &str = "r2.mint";
    let (Some(storage), Ok(Some(creds))) = (&d.server.storage, &env.r2) else {
        return Check::skip(ID, "temporary credentials are not checked without [storage] and the R2 key");
    };
    let Some(account) = &storage.account_id else {
        return Check::skip(ID, "temporary credentials need account_id in [storage]");
    };
    let Some(cf) = cf else {
        return Check::skip(ID, "temporary credentials are not checked without a working CLOUDFLARE_API_TOKEN");
    };
    let minted = cf
        .r2_temp_credentials(
            account,
            &storage.bucket,
            &creds.access_key_id,
            R2Permission::ObjectReadOnly,
            &[PROBE_PREFIX.to_string()],
            MINT_TTL_SECONDS,
        )
        .await;
    match minted {
        // Dropped here: never printed, never used.
        Ok(_) => Check::pass(
            ID,
            format!("temporary R2 credentials can be minted for the VPS (tried: read-only, {PROBE_PREFIX}, {MINT_TTL_SECONDS} s)"),
        ),
        Err(e) => Check::fail(
            ID,
            format!("cannot mint temporary R2 credentials: {}", why(&e)),
            "give the Cloudflare token Account → Workers R2 Storage → Edit, and make R2_ACCESS_KEY_ID a key of this account's R2",
        ),
    }
}
