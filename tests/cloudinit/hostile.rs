//! Hostile and maximal inputs: values that try to break out of the YAML land
//! as plain data, release values that could are refused, the largest inputs
//! stay within cloud-init's size bound, and secrets appear only in agent.toml.

use super::*;

#[test]
fn hostile_values_land_as_plain_data() {
    let hostile = "'; rm -rf / #\n\"}}{{ x }}{% if %}: - [a] &b *c !d |e >f %g @h `i` $(reboot)\u{2028}\u{85}é😀\n#cloud-config";
    let mut cfg = config(minted());
    cfg.motd = hostile.into();
    cfg.java[0] = hostile.into();
    set_r2(&mut cfg, hostile);
    let clean = parse(&cloudinit::render(&config(minted()), &release()).unwrap());
    let text = cloudinit::render(&cfg, &release()).unwrap();
    schema_check(&text);
    let doc = parse(&text);
    // Same keys, same commands, same files, same paths: nothing was added.
    let keys = |d: &Value| d.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&doc), keys(&clean));
    assert_eq!(doc["runcmd"], clean["runcmd"]);
    assert_eq!(doc["users"], clean["users"]);
    let paths = |d: &Value| {
        d["write_files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(paths(&doc), paths(&clean));
    for f in doc["write_files"].as_array().unwrap() {
        if f["path"] != "/etc/mc-gitops/agent.toml" {
            assert_eq!(f, file(&clean, f["path"].as_str().unwrap()), "{} changed", f["path"]);
        }
    }
    // And the values arrive byte for byte where they belong.
    let back = agent_config(file(&doc, "/etc/mc-gitops/agent.toml")["content"].as_str().unwrap());
    let (_, bucket, key_id, _) = r2(&back);
    assert_eq!(bucket, hostile);
    assert_eq!(key_id, hostile);
    assert_eq!(back.motd, hostile);
    assert_eq!(back, cfg, "every setting, as built");
}

#[test]
fn hostile_release_values_are_refused() {
    let cfg = config(minted());
    // (`$(reboot)` in a URL would be harmless: the script reads the URL from a
    // file and passes it quoted after --url; it is never evaluated.)
    for url in [
        "https://x.example/a\nruncmd: [reboot]",
        "https://x.example/a b",
        "http://x.example/a",
        "-o /etc/passwd",
    ] {
        let r = AgentRelease {
            url: url.into(),
            ..release()
        };
        assert!(cloudinit::render(&cfg, &r).is_err(), "{url:?} accepted");
    }
    let r = AgentRelease {
        sha256: format!("{}  /etc/shadow", "0".repeat(64)),
        ..release()
    };
    assert!(matches!(
        cloudinit::render(&cfg, &r),
        Err(cloudinit::CloudInitError::AgentSha256 { .. })
    ));
}

#[test]
fn maximal_inputs_stay_within_the_bound() {
    let mut cfg = config(minted());
    // The loader allows a 59-character motd; 4-byte characters cost the most (12 bytes escaped).
    cfg.motd = "😀".repeat(59);
    cfg.java[1] = format!("-Xmx{}M", u32::MAX);
    cfg.server = mc_gitops::ids::ServerName::new("a".repeat(63));
    cfg.server_created = Some("2026-11-22T18:00:07.123456789Z".parse().unwrap());
    cfg.session = Some(SessionId::new(format!("20261122-1800-{}", "r".repeat(32))));
    if let StorageConfig::R2 {
        endpoint,
        bucket,
        access_key_id,
        secret_access_key,
        session_token,
        ..
    } = &mut cfg.storage
    {
        *bucket = "b".repeat(63);
        *endpoint = format!("https://{}.r2.cloudflarestorage.com", "f".repeat(32));
        *access_key_id = Secret::new("k".repeat(64));
        *secret_access_key = Secret::new("s".repeat(128));
        *session_token = Some(Secret::new("t".repeat(1024)));
    }
    let long = AgentRelease {
        url: format!(
            "https://github.com/{}/{}/releases/download/v10.10.10/mc-gitops-x86_64-unknown-linux-musl",
            "o".repeat(39),
            "r".repeat(100)
        ),
        ..release()
    };
    let text = cloudinit::render(&cfg, &long).unwrap();
    eprintln!("maximal user-data: {} bytes", text.len());
    assert!(text.len() <= MAX_USER_DATA, "{} bytes", text.len());
    schema_check(&text);
}

#[test]
fn secrets_appear_only_in_the_agent_config() {
    let text = cloudinit::render(&config(minted()), &release()).unwrap();
    assert_eq!(text.matches("SHORT-LIVED-secret-access-key").count(), 1);
    let doc = parse(&text);
    let agent = file(&doc, "/etc/mc-gitops/agent.toml")["content"].as_str().unwrap();
    assert!(agent.contains("SHORT-LIVED-secret-access-key"));
    assert!(!format!("{:?}", config(minted())).contains("SHORT-LIVED"), "Debug must redact");
}
