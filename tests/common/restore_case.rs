//! A sandbox for hostile restores, shared by `hostile_archive` (single
//! archives) and `hostile_pieces` (file lists and pieces): the example repo,
//! a previous world a refused restore must leave as it is, the S3 fake, and
//! the `mc-gitops world …` command run against them. Each binary plants its
//! own kind of snapshot in its own `impl Case`.
//!
//! Included with `#[path = "common/restore_case.rs"] mod restore_case;` next
//! to `mod common;` and `mod s3_fake;`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use mc_gitops::ids::ServerName;
use mc_gitops::secret::Secret;
use mc_gitops::storage::Store;
use mc_gitops::storage::r2::R2Credentials;
use sha2::{Digest, Sha256};

use crate::s3_fake::{ACCESS_KEY, BUCKET, S3Server, SECRET_KEY};

pub(crate) struct Case {
    pub s3: S3Server,
    pub tmp: tempfile::TempDir,
}

impl Case {
    pub(crate) async fn new() -> Case {
        let s3 = S3Server::start().await;
        let tmp = tempfile::tempdir().unwrap();
        crate::common::copy_dir(&crate::common::example(), &tmp.path().join("repo"));
        // The previous world, which a refused restore must leave as it is.
        let world = tmp.path().join("srv/world");
        std::fs::create_dir_all(world.join("region")).unwrap();
        std::fs::write(world.join("level.dat"), b"the previous world").unwrap();
        std::fs::write(world.join("region/r.0.0.mca"), vec![7u8; 4096]).unwrap();
        Case { s3, tmp }
    }

    pub(crate) fn store(&self) -> Store {
        let creds = R2Credentials {
            access_key_id: ACCESS_KEY.into(),
            secret_access_key: Secret::new(SECRET_KEY),
            session_token: None,
        };
        Store::s3(&self.s3.endpoint(), BUCKET, &creds, &ServerName::new("grove")).unwrap()
    }

    pub(crate) fn world(&self) -> PathBuf {
        self.tmp.path().join("srv/world")
    }

    /// `mc-gitops world <args> --dir <the world> --repo <the repo>`.
    pub(crate) async fn world_cmd(&self, args: &[&str]) -> Output {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_mc-gitops"));
        c.arg("world")
            .args(args)
            .arg("--dir")
            .arg(self.world())
            .arg("--repo")
            .arg(self.tmp.path().join("repo"));
        for (k, v) in self.s3.env() {
            c.env(k, v);
        }
        tokio::task::spawn_blocking(move || c.output().unwrap()).await.unwrap()
    }

    /// Every path and file content under the sandbox but the repo (where
    /// an escape would land), links shown as links.
    pub(crate) fn tree(&self) -> BTreeMap<String, String> {
        fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let e = e.unwrap();
                let p = e.path();
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                if rel == "repo" {
                    continue;
                }
                let kind = e.file_type().unwrap();
                if kind.is_symlink() {
                    out.insert(rel, format!("-> {}", std::fs::read_link(&p).unwrap().display()));
                } else if kind.is_dir() {
                    out.insert(rel.clone(), "dir".into());
                    walk(root, &p, out);
                } else {
                    out.insert(rel, format!("{:x}", Sha256::digest(std::fs::read(&p).unwrap())));
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(self.tmp.path(), self.tmp.path(), &mut out);
        out
    }
}
