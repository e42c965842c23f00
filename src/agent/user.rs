//! The user Minecraft runs as, apart from the agent.
//!
//! Every mod is code from the internet running inside the JVM, so the JVM
//! must not be able to read what the agent holds: `agent.toml` (the scoped
//! R2 credentials) and the agent's memory. On the VPS the agent runs as root
//! with a bounded capability set (the unit's `CapabilityBoundingSet`:
//! SETUID, SETGID, KILL, CHOWN, DAC_OVERRIDE) and starts the JVM with
//! another uid and gid ([`RunAs`], `CommandExt::uid`/`gid` in `super::jvm`).
//! Changing from uid 0 to a non-zero uid makes the kernel clear every
//! capability of the child, and std drops the supplementary groups, so the
//! JVM is a plain unprivileged process; it stays the agent's child, so the
//! agent still sees its exit status and reads its log.
//!
//! Chosen over a second systemd unit the agent would drive over D-Bus: that
//! would need a polkit rule to let the agent start it, hide the exit status
//! and the log behind systemd's API, and the end-to-end tests (which run the
//! agent as a plain process) could not exercise it. Here the same code path
//! runs everywhere; without `minecraft_user` the JVM runs as the agent's own
//! user (tests, a home server).
//!
//! The Minecraft directory belongs to that user: the agent writes the world
//! and the files `desired.json` lists, then [`hand_over`] gives every entry
//! to it (without following a link), before the JVM starts.

use std::ffi::CString;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("there is no user `{name}` on this machine (agent.toml `minecraft_user`)")]
    Unknown { name: String },
    #[error("`minecraft_user` = \"{name}\" is uid 0: Minecraft never runs as root")]
    Root { name: String },
    #[error("looking up the user `{name}`")]
    Lookup {
        name: String,
        #[source]
        source: std::io::Error,
    },
    #[error("giving {} to the user `{user}`", path.display())]
    Chown {
        path: PathBuf,
        user: String,
        #[source]
        source: std::io::Error,
    },
}

pub use crate::agent_toml::valid_name;

/// Who the JVM runs as: a user's name, uid and primary gid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunAs {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

impl RunAs {
    /// The user `name` from the system's user database; root is refused.
    pub fn lookup(name: &str) -> Result<RunAs, UserError> {
        let unknown = || UserError::Unknown { name: name.to_string() };
        let c = CString::new(name).map_err(|_| unknown())?;
        let mut buf = vec![0u8; 4096];
        loop {
            // SAFETY: getpwnam_r writes only into `pwd` and `buf` (whose
            // length is passed) and sets `result` to null or to `&pwd`.
            let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
            let mut result: *mut libc::passwd = std::ptr::null_mut();
            let rc = unsafe { libc::getpwnam_r(c.as_ptr(), &mut pwd, buf.as_mut_ptr().cast(), buf.len(), &mut result) };
            if rc == libc::ERANGE && buf.len() < 1 << 20 {
                buf.resize(buf.len() * 4, 0);
                continue;
            }
            if rc != 0 {
                return Err(UserError::Lookup {
                    name: name.to_string(),
                    source: std::io::Error::from_raw_os_error(rc),
                });
            }
            if result.is_null() {
                return Err(unknown());
            }
            if pwd.pw_uid == 0 {
                return Err(UserError::Root { name: name.to_string() });
            }
            return Ok(RunAs {
                name: name.to_string(),
                uid: pwd.pw_uid,
                gid: pwd.pw_gid,
            });
        }
    }
}

/// Give `dir` and everything under it to `user`, links themselves included
/// and never followed (`lchown`; a directory is entered only if it is one,
/// not a link to one). Returns how many entries changed owner. Run while the
/// JVM is not running, so nothing under `dir` moves meanwhile.
pub fn hand_over(dir: &Path, user: &RunAs) -> Result<u64, UserError> {
    use std::os::unix::fs::MetadataExt;
    let fail = |path: &Path, source| UserError::Chown {
        path: path.to_path_buf(),
        user: user.name.clone(),
        source,
    };
    let mut changed = 0;
    let mut todo = vec![dir.to_path_buf()];
    while let Some(path) = todo.pop() {
        let meta = std::fs::symlink_metadata(&path).map_err(|e| fail(&path, e))?;
        if meta.uid() != user.uid || meta.gid() != user.gid {
            std::os::unix::fs::lchown(&path, Some(user.uid), Some(user.gid)).map_err(|e| fail(&path, e))?;
            changed += 1;
        }
        if meta.file_type().is_dir() {
            for entry in std::fs::read_dir(&path).map_err(|e| fail(&path, e))? {
                todo.push(entry.map_err(|e| fail(&path, e))?.path());
            }
        }
    }
    Ok(changed)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    #[test]
    fn names_are_plain_user_names() {
        for ok in ["minecraft", "_mc", "mc-2", &"a".repeat(32)] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "Minecraft", "2mc", "mc:x", "../mc", "mc\n", "mc ", &"a".repeat(33)] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn root_and_unknown_users_are_refused() {
        assert!(matches!(RunAs::lookup("root"), Err(UserError::Root { .. })));
        let e = RunAs::lookup("no-such-user-mcg").unwrap_err();
        assert_eq!(
            e.to_string(),
            "there is no user `no-such-user-mcg` on this machine (agent.toml `minecraft_user`)"
        );
    }

    /// The user a test can hand files to: `nobody` when the test runs as
    /// root (a real change of owner), else the test's own user.
    pub(crate) fn someone() -> RunAs {
        // SAFETY: plain getters.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        if uid == 0 {
            RunAs::lookup("nobody").expect("a root test machine has `nobody`")
        } else {
            RunAs {
                name: "me".into(),
                uid,
                gid,
            }
        }
    }

    #[test]
    fn hand_over_gives_the_tree_and_never_follows_a_link() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("agent.toml");
        std::fs::write(&outside, "secret").unwrap();
        let before = std::fs::metadata(&outside).unwrap();
        let mc = tmp.path().join("mc");
        std::fs::create_dir_all(mc.join("world/region")).unwrap();
        std::fs::write(mc.join("world/region/r.0.0.mca"), "x").unwrap();
        std::fs::write(mc.join("server.properties"), "motd=x").unwrap();
        std::os::unix::fs::symlink(&outside, mc.join("world/link")).unwrap();
        std::os::unix::fs::symlink(tmp.path(), mc.join("dirlink")).unwrap();
        let user = someone();
        hand_over(&mc, &user).unwrap();
        for p in [
            "",
            "world",
            "world/region",
            "world/region/r.0.0.mca",
            "server.properties",
            "world/link",
            "dirlink",
        ] {
            let m = std::fs::symlink_metadata(mc.join(p)).unwrap();
            assert_eq!((m.uid(), m.gid()), (user.uid, user.gid), "{p}");
        }
        let after = std::fs::metadata(&outside).unwrap();
        assert_eq!(
            (after.uid(), after.gid()),
            (before.uid(), before.gid()),
            "a link's target is not handed over"
        );
        assert_eq!(hand_over(&mc, &user).unwrap(), 0, "a second pass changes nothing");
    }
}
