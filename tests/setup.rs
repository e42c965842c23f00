//! The path from nothing to a first start (issue 16): `init` makes the
//! group's own repo (its admin, no one else; asked for on a terminal, an
//! error naming the flag without one), the shell completions and man pages
//! a CLI user expects, and docs/setup.md kept true to the workflows (every
//! secret they read, no other) and to the prices the fake catalog serves.

#[allow(dead_code)]
#[path = "fakes/hetzner_catalog.rs"]
mod catalog;
#[path = "fakes/session_server.rs"]
mod session_fake;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mc-gitops"));
    for var in ["HCLOUD_TOKEN", "CLOUDFLARE_API_TOKEN", "GITHUB_ACTIONS", "MC_GITOPS_NOW"] {
        c.env_remove(var);
    }
    c.stdin(Stdio::null());
    c
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Every file under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut out = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    out
}

const INIT_FLAGS: &[&str] = &[
    "--name",
    "oak",
    "--zone",
    "oak.example",
    "--region",
    "us",
    "--player",
    "Oakley",
    "--github",
    "oak-admin",
];

#[test]
fn init_makes_the_groups_repo_with_its_admin_only() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("oak-state");
    let out = bin().arg("init").args(INIT_FLAGS).arg(&repo).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("mc-gitops check --fix"),
        "init says what comes next: {}",
        text(&out)
    );

    let all = files(&repo);
    let players: Vec<_> = all.iter().filter(|f| f.starts_with("players/")).collect();
    assert_eq!(players, ["players/Oakley.toml"], "only the admin is a player");
    assert!(!all.iter().any(|f| f.starts_with("sessions/") || f == "STATUS.md"), "{all:?}");
    // Nothing of the example's group is left: its friends, handles, repo, bucket, account.
    for f in &all {
        let t = std::fs::read(repo.join(f)).unwrap();
        let t = String::from_utf8_lossy(&t);
        for theirs in [
            "Grove",
            "grove",
            "Steve",
            "Alex",
            "Notch_",
            "grove-admin",
            "alex-builds",
            "grove-friends",
            "grove-worlds",
            "grove.place",
            "5f3c9a1e7b2d4c6e8a0f1b3d5e7c9a2b",
        ] {
            assert!(!t.contains(theirs), "{f} still says {theirs:?}");
        }
    }

    let player = read(&repo.join("players/Oakley.toml"));
    let doc: toml::Table = player.parse().unwrap();
    assert_eq!(doc.len(), 2, "name and added_by, as a friend's pull request writes it: {player}");
    assert_eq!(
        (doc["name"].as_str(), doc["added_by"].as_str()),
        (Some("Oakley"), Some("oak-admin"))
    );

    let server: toml::Table = read(&repo.join("server.toml")).parse().unwrap();
    assert_eq!(server["state"].as_str(), Some("stopped"));
    assert_eq!(server["region"].as_str(), Some("us"));
    assert_eq!(server["github"]["admins"].as_array().unwrap(), &[toml::Value::from("oak-admin")]);
    assert_eq!(server["github"]["repo"].as_str(), Some("oak-admin/oak-state"));
    assert_eq!(server["storage"]["bucket"].as_str(), Some("oak-worlds"));
    assert!(server["storage"].get("account_id").is_none(), "no account id given, none invented");
    assert_eq!(server["minecraft"]["motd"].as_str(), Some("Oak — friends only"));
    let owners = read(&repo.join(".github/CODEOWNERS"));
    assert!(owners.contains("/server.toml    @oak-admin"), "{owners}");
    let reconcile = read(&repo.join(".github/workflows/reconcile.yml"));
    assert!(
        reconcile.contains("options: [eu, us]\n        default: us\n"),
        "the button starts in the repo's region"
    );
    let readme = read(&repo.join("README.md"));
    assert!(readme.starts_with("# Oak:") && readme.contains("(players/Oakley.toml)"), "{readme}");

    // The loader sees one player and one op; the op template is a comment.
    let loaded = mc_gitops::repo::load(&repo).unwrap();
    let d = &loaded.desired;
    assert_eq!(d.players.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["Oakley"]);
    assert_eq!(
        d.ops.iter().map(|o| (o.name.as_str(), o.level)).collect::<Vec<_>>(),
        [("Oakley", 4)]
    );
    assert!(read(&repo.join("ops.toml")).contains("# [[op]]\n# name = \"FriendName\""));
    assert!(
        loaded.warnings.iter().any(|w| w.message.contains("Oakley has no uuid yet")),
        "{:?}",
        loaded.warnings
    );

    // The admin's next step: check --fix records the uuid from Mojang; then the repo
    // passes its check with no session and plans nothing.
    let mojang = session_fake::FakeSessionServer::start_in_background();
    let account = mojang.account("Oakley");
    let check = bin()
        .args(["check", "--fix", "--repo"])
        .arg(&repo)
        .env("MOJANG_API_BASE_URL", mojang.url())
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", text(&check));
    assert!(
        text(&check).contains("valid (1 players, 1 ops, 4 mods, 0 sessions)"),
        "{}",
        text(&check)
    );
    let uuid = mc_gitops::check::mojang::dashed(&account.id).unwrap();
    assert!(read(&repo.join("players/Oakley.toml")).contains(&format!("uuid = \"{uuid}\"")));
    let plan = bin().args(["plan", "--repo"]).arg(&repo).output().unwrap();
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));

    // A second init into the same, now non-empty, directory is refused.
    let again = bin().arg("init").args(INIT_FLAGS).arg(&repo).output().unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again).contains("is not empty"), "{}", text(&again));
}

#[test]
fn init_takes_the_account_id_bucket_and_repository_when_given() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("r");
    let out = bin()
        .arg("init")
        .args(INIT_FLAGS)
        .args(["--repository", "oak-club/server", "--bucket", "oak-club-worlds"])
        .args(["--account-id", "0123456789ABCDEF0123456789abcdef"])
        .arg(&repo)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let server: toml::Table = read(&repo.join("server.toml")).parse().unwrap();
    assert_eq!(server["github"]["repo"].as_str(), Some("oak-club/server"));
    assert_eq!(server["storage"]["bucket"].as_str(), Some("oak-club-worlds"));
    assert_eq!(server["storage"]["account_id"].as_str(), Some("0123456789abcdef0123456789abcdef"));
    assert!(read(&repo.join("README.md")).contains("`oak-club-worlds`"));
}

#[test]
fn init_without_a_terminal_names_each_missing_flag() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["init", "--name", "oak", "--zone", "oak.example"])
        .arg(dir.path().join("r"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("missing --region, --player, --github"), "{err}");
    assert!(!dir.path().join("r").exists(), "nothing is written");

    // A bad value names its flag too.
    let flags: Vec<&str> = INIT_FLAGS.iter().map(|f| if *f == "us" { "mars" } else { f }).collect();
    let out = bin().arg("init").args(flags).arg(dir.path().join("r")).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("--region \"mars\" is not a region of the example; the regions are: eu, us"),
        "{}",
        text(&out)
    );
}

/// `script` (util-linux) gives the command a terminal whose input is our pipe.
#[test]
fn init_on_a_terminal_asks_for_what_is_missing() {
    if Command::new("script").arg("--version").output().is_err() {
        panic!("`script` (Debian's bsdutils) is needed: bash scripts/test --setup-only installs it");
    }
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("pine-state");
    let cmd = format!("{} init --name pine {}", env!("CARGO_BIN_EXE_mc-gitops"), repo.display());
    // zone (refused once every answer is in, then asked again), region (empty: the
    // default, eu), player, an empty answer asked again, GitHub, account id (skipped).
    let answers = "pine\n\nPineapple\n\npine-admin\n\npine.example\n";
    let mut child = Command::new("script")
        .args(["--quiet", "--return", "--command", &cmd, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(answers.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    for q in [
        "Cloudflare DNS zone",
        "Region (eu, us) [eu]",
        "Your Minecraft name",
        "(an answer is needed)",
        "Your GitHub handle",
        "Cloudflare account id",
        "--zone \"pine\" is not a DNS zone name like example.org",
    ] {
        assert!(all.contains(q), "asked {q:?}: {all}");
    }
    assert!(!all.contains("Server name"), "--name was given: {all}");
    let server: toml::Table = read(&repo.join("server.toml")).parse().unwrap();
    assert_eq!(server["region"].as_str(), Some("eu"));
    assert_eq!(server["dns"]["zone"].as_str(), Some("pine.example"));
    assert_eq!(server["github"]["admins"].as_array().unwrap(), &[toml::Value::from("pine-admin")]);
    assert!(repo.join("players/Pineapple.toml").is_file());
}

#[test]
fn bash_completion_is_valid_and_completes_subcommands() {
    let out = bin().args(["completions", "bash"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("mc-gitops.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    let syntax = Command::new("bash").arg("-n").arg(&script).output().unwrap();
    assert!(syntax.status.success(), "bash -n: {}", text(&syntax));

    // Source it and ask for completions as bash would after a Tab.
    let complete = |line: &[&str]| -> Vec<String> {
        let words = line.iter().map(|w| format!("'{w}'")).collect::<Vec<_>>().join(" ");
        let probe = format!(
            "source '{}'\nfn=$(complete -p mc-gitops | sed -E 's/.*-F ([^ ]+).*/\\1/')\n\
             COMP_WORDS=({words}); COMP_CWORD={}; COMP_LINE='{}'; COMP_POINT=${{#COMP_LINE}}\n\
             \"$fn\" mc-gitops \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
             printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
            script.display(),
            line.len() - 1,
            line.join(" "),
        );
        let out = Command::new("bash").arg("-c").arg(probe).output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
        String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
    };
    let subcommands = complete(&["mc-gitops", ""]);
    for sub in ["plan", "apply", "check", "init", "completions", "man", "world"] {
        assert!(subcommands.iter().any(|w| w == sub), "{sub} in {subcommands:?}");
    }
    assert_eq!(complete(&["mc-gitops", "comp"]), ["completions"]);
    let shells = complete(&["mc-gitops", "completions", ""]);
    for shell in ["bash", "zsh", "fish"] {
        assert!(shells.iter().any(|w| w == shell), "{shell} in {shells:?}");
    }
    let init_flags = complete(&["mc-gitops", "init", "--"]);
    for flag in ["--player", "--github", "--region", "--zone", "--account-id"] {
        assert!(init_flags.iter().any(|w| w == flag), "{flag} in {init_flags:?}");
    }
}

#[test]
fn zsh_and_fish_completions_name_every_subcommand() {
    for shell in ["zsh", "fish"] {
        let out = bin().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
        let s = String::from_utf8_lossy(&out.stdout);
        for sub in ["plan", "apply", "init", "set-state", "completions", "man"] {
            assert!(s.contains(sub), "{shell}: {sub}");
        }
    }
    let bad = bin().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2), "clap refuses an unknown shell: {}", text(&bad));
}

#[test]
fn the_man_pages_render() {
    let out = bin().arg("man").output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let roff = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(roff.contains("\n.TH mc-gitops 1 "), "{roff}");
    for section in [".SH NAME", ".SH SYNOPSIS", ".SH OPTIONS", ".SH SUBCOMMANDS"] {
        assert!(roff.contains(section), "{section}");
    }
    let dir = tempfile::tempdir().unwrap();
    let top = dir.path().join("stdout.1");
    std::fs::write(&top, &roff).unwrap();
    let rendered = render(&top);
    for page in ["mc-gitops-init(1)", "mc-gitops-completions(1)", "mc-gitops-man(1)"] {
        assert!(rendered.contains(page), "{page} in:\n{rendered}");
    }

    // --out writes one page per command, each of which renders.
    let pages = dir.path().join("man1");
    let out = bin().args(["man", "--out"]).arg(&pages).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let written = files(&pages);
    for page in [
        "mc-gitops.1",
        "mc-gitops-init.1",
        "mc-gitops-completions.1",
        "mc-gitops-man.1",
        "mc-gitops-world-backup.1",
    ] {
        assert!(written.iter().any(|w| w == page), "{page} in {written:?}");
    }
    let init = render(&pages.join("mc-gitops-init.1"));
    for flag in ["--player", "--github", "--region", "--account-id"] {
        assert!(init.contains(flag), "{flag} in the init page:\n{init}");
    }
}

/// The page as a reader sees it: `man -l` (man-db), which runs groff.
fn render(page: &Path) -> String {
    let out = Command::new("man")
        .args(["--local-file", "--no-hyphenation", "--no-justification"])
        .arg(page)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .env("LANG", "C.UTF-8")
        .output()
        .unwrap_or_else(|e| panic!("`man` (Debian's man-db) is needed: bash scripts/test --setup-only installs it: {e}"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && !err.contains("warning"), "man -l {}: {err}", page.display());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

// --- docs/setup.md ------------------------------------------------------------

fn setup_md() -> String {
    read(&root().join("docs/setup.md"))
}

/// Every `secrets.NAME` the example's workflows read.
fn workflow_secrets() -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    let dir = root().join("state-repo-example/.github/workflows");
    for f in files(&dir) {
        let t = read(&dir.join(&f));
        for (i, _) in t.match_indices("secrets.") {
            let name: String = t[i + "secrets.".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            out.insert(name);
        }
    }
    out
}

#[test]
fn setup_md_sets_every_secret_the_workflows_read_and_no_other() {
    let wanted = workflow_secrets();
    assert!(wanted.contains("HCLOUD_TOKEN") && wanted.len() >= 5, "{wanted:?}");
    let doc = setup_md();
    let set: std::collections::BTreeSet<String> = doc
        .lines()
        .filter_map(|l| l.trim().strip_prefix("gh secret set "))
        .map(|rest| rest.split_whitespace().next().unwrap_or_default().to_string())
        .collect();
    assert_eq!(set, wanted, "docs/setup.md's `gh secret set` lines against the workflows' secrets");
}

#[test]
fn setup_md_quotes_the_prices_the_catalog_serves() {
    use rust_decimal::Decimal;
    let doc = setup_md();
    let ipv4: (Decimal, Decimal) = (catalog::IPV4_PRICE.0.parse().unwrap(), catalog::IPV4_PRICE.1.parse().unwrap());
    let vat = Decimal::from(100 + catalog::VAT_PERCENT) / Decimal::from(100);
    // The example's types where its regions place them (the first location of each).
    for (ty, location) in [("cx33", "fsn1"), ("cpx32", "fsn1"), ("cpx32", "ash")] {
        let t = catalog::SERVER_TYPES.iter().find(|t| t.name == ty).unwrap();
        let (monthly, hourly) = catalog::net_price(t, location).unwrap();
        let hourly = hourly.parse::<Decimal>().unwrap() + ipv4.1;
        let monthly = monthly.parse::<Decimal>().unwrap() + ipv4.0;
        let row = format!(
            "| {ty} | {location} | {} | {} | {} | {} |",
            hourly.round_dp(4),
            (hourly * vat).round_dp(4),
            monthly.round_dp(2),
            (monthly * vat).round_dp(2)
        );
        assert!(doc.contains(&row), "docs/setup.md has no row {row}");
    }
}

#[test]
fn the_readme_links_setup_md_before_anything_else() {
    let readme = read(&root().join("README.md"));
    let first_doc_link = readme.find("](docs/").expect("the README links docs/");
    assert!(
        readme[first_doc_link..].starts_with("](docs/setup.md)"),
        "the README's first docs/ link is docs/setup.md"
    );
    assert!(first_doc_link < readme.find("## How it works").unwrap());
}

#[test]
fn setup_md_describes_every_init_flag_and_no_other() {
    let help = bin().args(["init", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    let flags_in = |text: &str, prefix: &str| -> std::collections::BTreeSet<String> {
        text.lines()
            .filter_map(|l| l.trim_start().strip_prefix(prefix))
            .map(|rest| {
                let flag: String = rest.chars().take_while(|c| c.is_ascii_lowercase() || *c == '-').collect();
                format!("--{flag}")
            })
            .collect()
    };
    let mut in_help = flags_in(&help, "--");
    in_help.remove("--color");
    in_help.remove("--help");
    let in_doc = flags_in(&setup_md(), "| `--");
    assert_eq!(in_doc, in_help, "docs/setup.md's init table against `mc-gitops init --help`");
}

/// docs/setup.md's Actions-minutes paragraph names the schedule the example
/// workflow really has and the monthly jobs it costs (issue 17 item 5: the
/// old paragraph said 4,320 of a `*/10` schedule).
#[test]
fn setup_md_states_the_safety_net_schedule_and_its_monthly_jobs() {
    let wf = read(&root().join("state-repo-example/.github/workflows/reconcile.yml"));
    let crons: Vec<&str> = wf
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- cron: "))
        .map(|c| c.trim_matches('"'))
        .collect();
    assert_eq!(crons, ["17 * * * *"], "one hourly safety-net line");
    let doc = setup_md().split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(doc.contains("`cron: \"17 * * * *\"`"), "setup.md names the schedule");
    assert!(doc.contains("24 × 30 = 720 jobs"), "setup.md counts its jobs");
    assert!(!doc.contains("*/10"), "setup.md still describes the old schedule");
}
