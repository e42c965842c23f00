//! The cloud-init user-data: valid for cloud-init itself (`cloud-init
//! schema`, the Debian package CI installs), read back by PyYAML (the parser
//! cloud-init uses) exactly as built even from hostile values, within the
//! size bound for maximal inputs, and carrying no secret beyond the
//! short-lived R2 credentials. The shell script passes shellcheck and the
//! systemd units pass `systemd-analyze verify`.

use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::Command as Bin;
use mc_gitops::agent_toml::{AgentConfig, StorageConfig};
use mc_gitops::cloudinit::{self, AgentRelease, MAX_USER_DATA, PLACEHOLDER};
use mc_gitops::ids::SessionId;
use mc_gitops::repo::properties::RCON_PORT;
use mc_gitops::secret::Secret;
use mc_gitops::storage::credentials::AgentCredentials;
use serde_json::Value;

mod hostile;
mod tools;

/// The agent's config as `mc-gitops agent` reads it on the VPS.
fn agent_config(text: &str) -> AgentConfig {
    mc_gitops::agent_toml::parse("agent.toml", text).unwrap_or_else(|e| panic!("the agent refuses its config: {e:?}\n{text}"))
}

/// (endpoint, bucket, access key id, session token) of an R2 storage config.
fn r2(cfg: &AgentConfig) -> (String, String, String, String) {
    match &cfg.storage {
        StorageConfig::R2 {
            endpoint,
            bucket,
            access_key_id,
            session_token,
            ..
        } => (
            endpoint.clone(),
            bucket.clone(),
            access_key_id.expose().to_string(),
            session_token.as_ref().map(|t| t.expose().to_string()).unwrap_or_default(),
        ),
        other => panic!("not R2: {other:?}"),
    }
}

const INSTALL: &str = "run `bash scripts/test --setup-only` or: apt-get install -y cloud-init shellcheck systemd nftables";

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("state-repo-example")
}

fn tool(name: &str) -> &str {
    let ok = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok, "`{name}` is not installed; {INSTALL}");
    name
}

fn release() -> AgentRelease {
    AgentRelease {
        url: "https://github.com/grove-friends/mc-gitops/releases/download/v0.1.0/mc-gitops-x86_64-linux-musl".into(),
        sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
    }
}

fn config(creds: AgentCredentials) -> AgentConfig {
    let loaded = mc_gitops::repo::load(&example()).unwrap();
    cloudinit::for_session(
        &loaded.desired,
        SessionId::new("20261122-0450-eu"),
        cloudinit::minted_storage(&creds),
    )
}

fn minted() -> AgentCredentials {
    let server = mc_gitops::ids::ServerName::new("grove");
    AgentCredentials {
        endpoint: mc_gitops::storage::r2::r2_endpoint("5f3c9a1e7b2d4c6e8a0f1b3d5e7c9a2b"),
        bucket: "grove-worlds".into(),
        prefixes: mc_gitops::storage::credentials::agent_prefixes(&server),
        access_key_id: "a1b2c3d4e5f6".into(),
        secret_access_key: Secret::new("SHORT-LIVED-secret-access-key-0123456789"),
        session_token: Secret::new("SHORT-LIVED-session-token-abcdef"),
        issued: "2026-11-22T00:00:00Z".parse().unwrap(),
        expires: "2026-11-22T12:00:00Z".parse().unwrap(),
    }
}

/// Set the R2 store's bucket and key id.
fn set_r2(cfg: &mut AgentConfig, value: &str) {
    match &mut cfg.storage {
        StorageConfig::R2 { bucket, access_key_id, .. } => {
            *bucket = value.into();
            *access_key_id = Secret::new(value);
        }
        other => panic!("not R2: {other:?}"),
    }
}

/// `cloud-init schema` on the rendered text.
fn schema_check(text: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("user-data.yaml");
    std::fs::write(&path, text).unwrap();
    let out = Command::new(tool("cloud-init"))
        .args(["schema", "--config-file"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cloud-init schema rejected the user-data:\n{}{}\n---\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The user-data as cloud-init's own YAML parser reads it.
fn parse(text: &str) -> Value {
    tool("cloud-init");
    let mut child = Command::new("/usr/bin/python3")
        .args(["-c", "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "PyYAML could not read the user-data");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn file<'a>(doc: &'a Value, path: &str) -> &'a Value {
    doc["write_files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == path)
        .unwrap_or_else(|| panic!("no {path}"))
}

#[test]
fn example_user_data_is_valid_cloud_config_and_small() {
    let text = cloudinit::render(&config(minted()), &release()).unwrap();
    assert!(text.starts_with("#cloud-config\n"));
    assert!(text.len() <= MAX_USER_DATA, "{} bytes", text.len());
    schema_check(&text);
    let doc = parse(&text);
    // No `packages:` (cloud-init would install them before runcmd): the
    // agent starts first and install-packages.sh installs beside it.
    assert_eq!(doc["package_update"], false);
    assert_eq!(doc["package_upgrade"], false);
    assert!(doc.get("packages").is_none());
    let packages = file(&doc, "/usr/local/lib/mc-gitops/install-packages.sh")["content"]
        .as_str()
        .unwrap();
    for p in ["openjdk-17-jre-headless", "zstd", "nftables"] {
        assert!(packages.contains(p), "install-packages.sh installs {p}");
    }
    // The firewall's ruleset is loaded before Java is installed, so
    // Minecraft (which waits for java) never runs without it.
    let (rules, java) = (
        packages.rfind("\nfirewall\n").unwrap(),
        packages.find("apt_install openjdk-17-jre-headless").unwrap(),
    );
    assert!(rules < java, "{packages}");
    assert!(
        !packages.lines().any(|l| l.trim_start().starts_with('#') && !l.starts_with("#!")),
        "comments are not shipped"
    );
    // Minecraft's own user: no login, no password.
    let mc = &doc["users"][1];
    assert_eq!(mc["name"], cloudinit::MINECRAFT_USER);
    assert_eq!(
        (&mc["system"], &mc["shell"], &mc["lock_passwd"]),
        (&true.into(), &"/usr/sbin/nologin".into(), &true.into())
    );
    // Nobody logs in with a password; root not at all over ssh.
    assert_eq!((&doc["ssh_pwauth"], &doc["disable_root"]), (&false.into(), &true.into()));
    for key in ["password", "chpasswd", "passwd"] {
        assert!(doc.get(key).is_none() && mc.get(key).is_none(), "no `{key}` anywhere");
    }

    // The agent's config is root's alone (0600, cloud-init's default owner
    // root:root); Minecraft runs as another user and cannot read it.
    let agent = file(&doc, "/etc/mc-gitops/agent.toml");
    assert_eq!(
        (agent["permissions"].as_str(), agent.get("owner"), agent.get("defer")),
        (Some("0600"), None, None)
    );
    // What the agent itself reads: its own strict parser, as on the VPS.
    let back = agent_config(agent["content"].as_str().unwrap());
    let (endpoint, bucket, _, token) = r2(&back);
    assert_eq!(bucket, "grove-worlds");
    assert_eq!(endpoint, "https://5f3c9a1e7b2d4c6e8a0f1b3d5e7c9a2b.r2.cloudflarestorage.com");
    assert_eq!(back.timers.idle.as_secs(), 15 * 60);
    assert_eq!(token, "SHORT-LIVED-session-token-abcdef");
    // The agent provisions only from a desired.json naming its session.
    assert_eq!(back.session, Some(SessionId::new("20261122-0450-eu")));
    // The sleeping listener shows the repo's motd.
    let loaded = mc_gitops::repo::load(&example()).unwrap();
    assert_eq!(back.motd, loaded.desired.server.minecraft.motd);
    assert_eq!(
        back.minecraft_user.as_deref(),
        Some(cloudinit::MINECRAFT_USER),
        "the JVM runs as minecraft"
    );
    assert_eq!(back, config(minted()), "every setting arrives as built");

    assert_eq!(
        file(&doc, "/etc/mc-gitops/agent.sha256")["content"],
        format!("{}  mc-gitops.download\n", release().sha256)
    );
    assert_eq!(file(&doc, "/etc/mc-gitops/agent.url")["content"], format!("{}\n", release().url));
    // One process model: the agent's unit runs Minecraft as its child; no
    // second unit, no file that starts Minecraft behind the agent's back.
    let units: Vec<&str> = doc["write_files"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["path"].as_str())
        .filter(|p| p.starts_with("/etc/systemd/"))
        .collect();
    assert_eq!(units, ["/etc/systemd/system/mc-gitops-agent.service"]);
    let c = file(&doc, units[0])["content"].as_str().unwrap();
    for line in [
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=/srv/minecraft",
        // Where the agent records admin requests started and answered (root-only).
        "StateDirectory=mc-gitops",
        "StateDirectoryMode=0700",
        "PrivateTmp=yes",
        "ProtectHome=yes",
        "Restart=on-failure",
        // Root, bounded to what starting the JVM as minecraft and handing
        // it /srv/minecraft takes; that setuid clears every capability.
        "CapabilityBoundingSet=CAP_SETUID CAP_SETGID CAP_KILL CAP_CHOWN CAP_DAC_OVERRIDE",
        // Neither the agent nor the JVM (one cgroup) reads the user-data again.
        "IPAddressDeny=169.254.169.254",
        // SIGTERM to the agent alone, which stops Minecraft over RCON...
        "KillMode=mixed",
        // ...within the agent's 90 s grace, with room to spare.
        "TimeoutStopSec=300",
        "OOMPolicy=continue",
    ] {
        assert!(c.lines().any(|l| l == line), "the agent unit lacks {line}");
    }
    // The JIT needs W+X memory.
    assert!(!c.lines().any(|l| l.starts_with("MemoryDenyWriteExecute")));
    // No User= (root, bounded above) and nothing that would hand the JVM a capability.
    for key in ["User=", "AmbientCapabilities=", "SecureBits="] {
        assert!(!c.lines().any(|l| l.starts_with(key)), "the agent unit has {key}");
    }
    let stop_grace = mc_gitops::agent::jvm::STOP_GRACE.as_secs();
    assert!(stop_grace + 60 <= 300, "TimeoutStopSec must outlast STOP_GRACE ({stop_grace} s)");
    let nft = file(&doc, "/etc/mc-gitops/nftables.conf")["content"].as_str().unwrap();
    assert!(nft.contains(&format!("iif != \"lo\" tcp dport {RCON_PORT} drop")));
    // The metadata service is closed to the minecraft user (besides the unit's IPAddressDeny).
    assert!(
        nft.lines()
            .any(|l| l.trim() == "meta skuid \"minecraft\" ip daddr 169.254.169.254 reject"),
        "{nft}"
    );
    // The install script makes /etc/mc-gitops root's alone before the agent starts.
    let install = file(&doc, "/usr/local/lib/mc-gitops/install-agent.sh")["content"].as_str().unwrap();
    let (lock, start) = (
        install.find("chmod 0700 \"$etc\"").unwrap(),
        install.find("systemctl enable").unwrap(),
    );
    assert!(lock < start && install.contains("chown -R root:root \"$etc\""), "{install}");
    assert!(install.contains("install -d -o minecraft -g minecraft -m 0750 /srv/minecraft"));
    assert_eq!(back.rcon_port, RCON_PORT, "the port the firewall keeps on loopback");
    assert_eq!(
        doc["runcmd"],
        serde_json::json!([
            ["/usr/local/lib/mc-gitops/install-packages.sh", "--firewall-if-installed"],
            ["/usr/local/lib/mc-gitops/install-agent.sh"],
            ["/usr/local/lib/mc-gitops/install-packages.sh"]
        ])
    );
    // On the prebuilt image the agent already installed is kept only with the pinned sha256.
    assert!(
        install.contains("\"$(sha256sum < mc-gitops | cut -d ' ' -f 1)\" = \"$want\""),
        "{install}"
    );
}

/// `mc-gitops image build`'s user-data: valid, installs the packages and
/// the checked agent binary, powers off for the snapshot, and carries
/// nothing of a session (no agent.toml, no unit, no credentials).
#[test]
fn image_user_data_installs_everything_and_carries_no_session() {
    let text = cloudinit::render_image(&mc_gitops::ids::ServerName::new("grove"), &release()).unwrap();
    assert!(text.starts_with("#cloud-config\n"));
    assert!(text.len() <= MAX_USER_DATA, "{} bytes", text.len());
    schema_check(&text);
    let doc = parse(&text);
    let packages = doc["packages"].as_array().unwrap();
    for p in ["openjdk-17-jre-headless", "zstd", "nftables", "curl", "ca-certificates"] {
        assert!(packages.contains(&p.into()), "the image lacks {p}");
    }
    assert_eq!(doc["users"][1]["name"], cloudinit::MINECRAFT_USER);
    assert_eq!(
        doc["runcmd"],
        serde_json::json!([["/usr/local/lib/mc-gitops/install-agent.sh", "--binary-only"]])
    );
    assert_eq!(doc["power_state"]["mode"], "poweroff");
    assert_eq!(
        file(&doc, "/etc/mc-gitops/agent.sha256")["content"],
        format!("{}  mc-gitops.download\n", release().sha256)
    );
    let paths: Vec<&str> = doc["write_files"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["path"].as_str())
        .collect();
    assert!(
        !paths.iter().any(|p| p.ends_with("agent.toml") || p.starts_with("/etc/systemd/")),
        "{paths:?}"
    );
    assert!(!text.contains("SHORT-LIVED") && !text.contains("[storage]"));
}
