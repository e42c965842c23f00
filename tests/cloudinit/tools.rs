//! The rendered files checked by the real tools: `mc-gitops render-cloud-init`'s
//! output, the shell scripts (shellcheck), the nftables ruleset (`nft -c`) and
//! the systemd units (`systemd-analyze verify`).

use super::*;

#[test]
fn render_cloud_init_prints_valid_user_data_with_marked_placeholders() {
    let out = Bin::cargo_bin("mc-gitops")
        .unwrap()
        .args(["render", "cloud-init", "--repo"])
        .arg(example())
        .env("MC_GITOPS_NOW", "2026-11-22T04:50:00Z")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains(PLACEHOLDER));
    schema_check(&text);
    let doc = parse(&text);
    let back = agent_config(file(&doc, "/etc/mc-gitops/agent.toml")["content"].as_str().unwrap());
    let (_, _, key_id, token) = r2(&back);
    assert_eq!(key_id, PLACEHOLDER);
    assert_eq!(token, PLACEHOLDER);
    assert_eq!(
        back.server_created,
        Some("2026-11-22T04:50:00Z".parse().unwrap()),
        "as if created now"
    );

    let bad = Bin::cargo_bin("mc-gitops")
        .unwrap()
        .args(["render", "cloud-init", "--agent-sha256", "xyz", "--repo"])
        .arg(example())
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("64 lowercase hex"));
}

#[test]
fn shell_scripts_pass_shellcheck() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("cloud-init");
    let scripts: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sh"))
        .collect();
    assert!(!scripts.is_empty());
    let out = Command::new(tool("shellcheck"))
        .args(["--severity=style", "--shell=sh"])
        .args(&scripts)
        .output()
        .unwrap();
    assert!(out.status.success(), "shellcheck:\n{}", String::from_utf8_lossy(&out.stdout));
}

/// The ruleset as `nft -c` (check only, nothing applied) reads it. The
/// `minecraft` user exists only on the VPS (nft resolves names when it
/// reads the rules), so `nobody` stands in for it here; not as root, the
/// check runs in a user and network namespace of its own.
#[test]
fn nftables_ruleset_checks() {
    let nft = tool("nft");
    let rules = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("cloud-init/nftables.conf")).unwrap();
    assert!(rules.contains("skuid \"minecraft\""));
    let dir = tempfile::tempdir().unwrap();
    let check = |text: &str| {
        let path = dir.path().join("nftables.conf");
        std::fs::write(&path, text).unwrap();
        // SAFETY: a plain getter.
        let root = unsafe { libc::geteuid() } == 0;
        let mut cmd = if root { Command::new(nft) } else { Command::new("unshare") };
        if !root {
            cmd.args(["-rn", nft]);
        }
        let out = cmd.arg("-c").arg("-f").arg(&path).output().unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (ok, err) = check(&rules.replace("skuid \"minecraft\"", "skuid \"nobody\""));
    assert!(ok, "nft -c refused the ruleset:\n{err}");
    // The check is real: an unknown user is refused.
    let (ok, err) = check(&rules.replace("skuid \"minecraft\"", "skuid \"no-such-user-mcg\""));
    assert!(!ok && err.contains("User does not exist"), "{err}");
}

/// `systemd-analyze verify` in a scratch root that holds the system's own
/// units, the agent's unit as written, and a stand-in executable. Any warning
/// (an unknown or misspelt key is only a warning) fails the test.
#[test]
fn systemd_units_verify_cleanly() {
    let analyze = tool("systemd-analyze");
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    for dir in ["usr/lib/systemd", "etc/systemd/system", "usr/local/bin", "usr/bin"] {
        std::fs::create_dir_all(r.join(dir)).unwrap();
    }
    let system_units = ["/usr/lib/systemd/system", "/lib/systemd/system"]
        .into_iter()
        .find(|p| Path::new(p).is_dir())
        .expect("systemd's units");
    assert!(
        Command::new("cp")
            .arg("-r")
            .arg(system_units)
            .arg(r.join("usr/lib/systemd/"))
            .status()
            .unwrap()
            .success()
    );
    let exe = r.join("usr/local/bin/mc-gitops");
    std::fs::write(&exe, "#!/bin/sh\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let units = ["mc-gitops-agent.service"];
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("cloud-init");
    for u in units {
        std::fs::copy(src.join(u), r.join("etc/systemd/system").join(u)).unwrap();
    }
    let out = Command::new(analyze)
        .args(["verify", "--man=no"])
        .arg(format!("--root={}", r.display()))
        .args(units)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "systemd-analyze verify:\n{stderr}"
    );
}
