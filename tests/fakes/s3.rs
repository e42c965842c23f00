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

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use hyper_util::rt::TokioIo;
use s3s::auth::{S3Auth, SecretKey};
use s3s::service::S3ServiceBuilder;

pub const ACCESS_KEY: &str = "AKTESTSTORAGE0001";
pub const SECRET_KEY: &str = "s3-secret-key-never-printed-7f3a";
pub const BUCKET: &str = "grove-worlds";

pub struct S3Server {
    pub addr: SocketAddr,
    pub root: tempfile::TempDir,
    keys: Keys,
    task: tokio::task::JoinHandle<()>,
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
    pub async fn start() -> Self {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join(BUCKET)).unwrap();
        let fs = s3s_fs::FileSystem::new(root.path()).unwrap();
        let mut b = S3ServiceBuilder::new(fs);
        let keys = Keys::default();
        keys.0.lock().unwrap().insert(ACCESS_KEY.into(), SECRET_KEY.into());
        b.set_auth(keys.clone());
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
        S3Server { addr, root, keys, task }
    }

    /// Accept another key pair (temporary credentials just minted).
    pub fn allow(&self, access_key: &str, secret_key: &str) {
        self.keys.0.lock().unwrap().insert(access_key.into(), secret_key.into());
    }

    /// Refuse a key pair from now on (credentials that expired).
    pub fn revoke(&self, access_key: &str) {
        self.keys.0.lock().unwrap().remove(access_key);
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Where the server keeps an object's bytes.
    pub fn object_file(&self, key: &str) -> PathBuf {
        self.root.path().join(BUCKET).join(key)
    }

    /// The environment that points mc-gitops at this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("R2_ENDPOINT", self.endpoint()),
            ("R2_ACCESS_KEY_ID", ACCESS_KEY.into()),
            ("R2_SECRET_ACCESS_KEY", SECRET_KEY.into()),
        ]
    }
}
