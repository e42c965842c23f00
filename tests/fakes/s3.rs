//! A real S3 server in-process: `s3s-fs` (objects as files under a temp
//! directory) behind `s3s`'s SigV4 check with one access key, served by
//! hyper on 127.0.0.1. It checks signatures and honours `If-Match` /
//! `If-None-Match` on PUT, so conditional writes and presigned URLs are
//! tested against the wire protocol, not against our own idea of it.
//!
//! Keys can be added and revoked while it runs ([`S3Server::allow`],
//! [`S3Server::revoke`]), so a test can stand in for R2 accepting freshly
//! minted temporary credentials and refusing expired ones. (s3s checks the
//! key pair's signature; it does not interpret session tokens.)
//!
//! A key added with [`S3Server::allow_scoped`] reaches only objects under
//! its prefixes, as R2 enforces the `prefixes` of temporary credentials:
//! any other key (and a list or copy whose prefix or source is outside) is
//! refused with AccessDenied. Keys added with [`S3Server::allow`] and the
//! account's own key reach the whole bucket.
//!
//! A key added with [`S3Server::allow_read_only`] may list, head and get
//! but not put, copy or delete (R2's "Object Read only" API token): every
//! write is AccessDenied.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use hyper_util::rt::TokioIo;
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::path::S3Path;
use s3s::service::S3ServiceBuilder;

pub(crate) const ACCESS_KEY: &str = "AKTESTSTORAGE0001";
pub(crate) const SECRET_KEY: &str = "s3-secret-key-never-printed-7f3a";
pub(crate) const BUCKET: &str = "grove-worlds";

pub(crate) struct S3Server {
    pub addr: SocketAddr,
    pub root: tempfile::TempDir,
    keys: Keys,
    scopes: Scopes,
    task: tokio::task::JoinHandle<()>,
}

/// The prefixes each scoped key may reach; a key not listed reaches all.
/// Keys in `read_only` may only read.
#[derive(Clone, Default)]
struct Scopes(Arc<Mutex<HashMap<String, Vec<String>>>>, Arc<Mutex<Vec<String>>>);

/// The operations an "Object Read only" key may run.
const READS: [&str; 6] = [
    "GetObject",
    "HeadObject",
    "ListObjects",
    "ListObjectsV2",
    "HeadBucket",
    "GetBucketLocation",
];

fn denied(what: &str) -> s3s::S3Error {
    s3s::s3_error!(AccessDenied, "{what} is outside the prefixes these credentials are scoped to")
}

#[async_trait::async_trait]
impl S3Access for Scopes {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> s3s::S3Result<()> {
        let Some(key) = cx.credentials().map(|c| c.access_key.clone()) else {
            return Err(s3s::s3_error!(AccessDenied, "anonymous requests are refused"));
        };
        if self.1.lock().unwrap().contains(&key) && !READS.contains(&cx.s3_op().name()) {
            return Err(s3s::s3_error!(
                AccessDenied,
                "{} needs a key with write permission; this one may only read",
                cx.s3_op().name()
            ));
        }
        let Some(prefixes) = self.0.lock().unwrap().get(&key).cloned() else {
            return Ok(());
        };
        let inside = |k: &str| prefixes.iter().any(|p| k.starts_with(p.as_str()));
        match cx.s3_path() {
            S3Path::Object { key, .. } => {
                if !inside(key) {
                    return Err(denied(key));
                }
                // A copy reads its source: that must be in scope too.
                if let Some(src) = cx.headers().get("x-amz-copy-source").and_then(|v| v.to_str().ok()) {
                    let src = percent_decode(src.trim_start_matches('/'));
                    let src_key = src.split_once('/').map_or("", |(_, k)| k);
                    if !inside(src_key) {
                        return Err(denied(src_key));
                    }
                }
                Ok(())
            }
            S3Path::Bucket { .. } => {
                let query = cx.uri().query().unwrap_or("");
                let prefix = query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("prefix="))
                    .map(percent_decode)
                    .unwrap_or_default();
                let listing = matches!(cx.s3_op().name(), "ListObjects" | "ListObjectsV2");
                if listing && inside(&prefix) {
                    Ok(())
                } else {
                    Err(denied(&format!("bucket operation {} (prefix {prefix:?})", cx.s3_op().name())))
                }
            }
            S3Path::Root => Err(denied("the account's bucket list")),
        }
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The key pairs the server accepts, changeable while it runs.
#[derive(Clone, Default)]
struct Keys(Arc<Mutex<HashMap<String, String>>>);

#[async_trait::async_trait]
impl S3Auth for Keys {
    async fn get_secret_key(&self, access_key: &str) -> s3s::S3Result<SecretKey> {
        match self.0.lock().unwrap().get(access_key) {
            Some(secret) => Ok(SecretKey::from(secret.as_str())),
            None => Err(s3s::s3_error!(InvalidAccessKeyId, "The access key does not exist or has expired")),
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl S3Server {
    /// A running server with bucket [`BUCKET`].
    pub(crate) async fn start() -> Self {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join(BUCKET)).unwrap();
        let fs = s3s_fs::FileSystem::new(root.path()).unwrap();
        let mut b = S3ServiceBuilder::new(fs);
        let keys = Keys::default();
        keys.0.lock().unwrap().insert(ACCESS_KEY.into(), SECRET_KEY.into());
        b.set_auth(keys.clone());
        let scopes = Scopes::default();
        b.set_access(scopes.clone());
        let service = b.build();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((sock, _)) = listener.accept().await else { continue };
                let svc = service.clone();
                conns.spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(sock), svc)
                        .await;
                });
            }
        });
        S3Server {
            addr,
            root,
            keys,
            scopes,
            task,
        }
    }

    /// Accept another key pair (temporary credentials just minted).
    pub(crate) fn allow(&self, access_key: &str, secret_key: &str) {
        self.keys.0.lock().unwrap().insert(access_key.into(), secret_key.into());
    }

    /// Accept a key pair for objects under `prefixes` only, as R2 scopes
    /// temporary credentials minted with `prefixes`.
    pub(crate) fn allow_scoped(&self, access_key: &str, secret_key: &str, prefixes: &[String]) {
        self.scopes.0.lock().unwrap().insert(access_key.into(), prefixes.to_vec());
        self.allow(access_key, secret_key);
    }

    /// Accept a key pair that may only read (list, head, get).
    pub(crate) fn allow_read_only(&self, access_key: &str, secret_key: &str) {
        self.scopes.1.lock().unwrap().push(access_key.into());
        self.allow(access_key, secret_key);
    }

    /// Refuse a key pair from now on (credentials that expired).
    pub(crate) fn revoke(&self, access_key: &str) {
        self.keys.0.lock().unwrap().remove(access_key);
    }

    pub(crate) fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The project's own store for `server` on this server's bucket, signing
    /// with the given key pair (the admin's, or a VPS's scoped one).
    pub(crate) fn store_as(&self, access_key: &str, secret_key: &str, server: &str) -> mc_gitops::storage::Store {
        let creds = mc_gitops::storage::r2::R2Credentials {
            access_key_id: access_key.into(),
            secret_access_key: mc_gitops::secret::Secret::new(secret_key),
            session_token: None,
        };
        mc_gitops::storage::Store::s3(&self.endpoint(), BUCKET, &creds, &mc_gitops::ids::ServerName::new(server)).unwrap()
    }

    /// Where the server keeps an object's bytes.
    pub(crate) fn object_file(&self, key: &str) -> PathBuf {
        self.root.path().join(BUCKET).join(key)
    }

    /// The environment that points mc-gitops at this server.
    pub(crate) fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("R2_ENDPOINT", self.endpoint()),
            ("R2_ACCESS_KEY_ID", ACCESS_KEY.into()),
            ("R2_SECRET_ACCESS_KEY", SECRET_KEY.into()),
        ]
    }
}
