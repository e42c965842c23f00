//! Hostile state repos, through the real binary: links out of the repo,
//! files that are not files, files and lists too large to read, templates
//! that leak, break or lie, and lock entries that aim outside `mods/`. Each
//! test is one attack; each refusal names the file (and the line, where
//! there is one) and what would be valid.

mod common;
use common::{copy_dir, example};

use std::path::{Path, PathBuf};
use std::process::Command;

use mc_gitops::repo::diag::{Diagnostic, Severity};
use mc_gitops::repo::limits;

const CANARY: &str = "canary-hcloud-token-5f3a";

/// A copy of the example repo to attack, in `repo/` of a temporary
/// directory that also holds what lies outside it.
struct Repo {
    dir: tempfile::TempDir,
    root: PathBuf,
}

impl Repo {
    fn path(&self) -> &Path {
        &self.root
    }

    /// A path next to the repo, outside it.
    fn outside(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn repo() -> Repo {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    copy_dir(&example(), &root);
    Repo { dir, root }
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mc-gitops"));
    for var in [
        "CLOUDFLARE_API_TOKEN",
        "GITHUB_ACTIONS",
        "GITHUB_TOKEN",
        "MC_GITOPS_NOW",
        "GITHUB_STEP_SUMMARY",
    ] {
        c.env_remove(var);
    }
    // A secret in the environment, as the reconcile job has one.
    c.env("HCLOUD_TOKEN", CANARY);
    // Nothing may be looked up: an unreachable Mojang fails loudly.
    c.env("MOJANG_API_BASE_URL", "http://127.0.0.1:9");
    c
}

struct Run {
    ok: bool,
    out: String,
    problems: Vec<Diagnostic>,
}

/// `mc-gitops check` with its result file, so refusals can be read as data.
fn check(root: &Path) -> Run {
    let out_dir = tempfile::tempdir().unwrap();
    let result = out_dir.path().join("check-result.json");
    let out = bin()
        .args(["check", "--result-file"])
        .arg(&result)
        .arg("--repo")
        .arg(root)
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!text.contains("panicked"), "{text}");
    let problems = std::fs::read_to_string(&result)
        .ok()
        .map(|t| serde_json::from_str::<serde_json::Value>(&t).unwrap())
        .map(|v| serde_json::from_value(v["problems"].clone()).unwrap())
        .unwrap_or_default();
    Run {
        ok: out.status.success(),
        out: text,
        problems,
    }
}

fn run(root: &Path, args: &[&str]) -> Run {
    let out = bin().args(args).arg("--repo").arg(root).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!text.contains("panicked"), "{text}");
    Run {
        ok: out.status.success() || out.status.code() == Some(2),
        out: text,
        problems: Vec::new(),
    }
}

/// The one error about `file`, which must contain every one of `words`.
fn refused(r: &Run, file: &str, words: &[&str]) -> Diagnostic {
    assert!(!r.ok, "accepted:\n{}", r.out);
    let d = r
        .problems
        .iter()
        .find(|d| d.file == file && d.severity == Severity::Error)
        .unwrap_or_else(|| panic!("no error about {file}:\n{}", r.out));
    let text = format!("{} {}", d.message, d.help.as_deref().unwrap_or(""));
    for w in words {
        assert!(text.contains(w), "{file}: {text:?} lacks {w:?}");
    }
    d.clone()
}

fn write(root: &Path, rel: &str, text: impl AsRef<[u8]>) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn symlink(target: impl AsRef<Path>, root: &Path, rel: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, path).unwrap();
}

/// A player file with a UUID of its own (FNV-1a of the name).
fn player(name: &str) -> String {
    let hash = name
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    format!(
        "name = \"{name}\"\nuuid = \"00000000-0000-4000-8000-{:012x}\"\nadded_by = \"grove-admin\"\n",
        hash & 0xffff_ffff_ffff
    )
}

fn lock_with_mod_file(file: &str) -> String {
    let lock = std::fs::read_to_string(example().join("mods.lock")).unwrap();
    lock.replacen("file = \"fabric-api-0.92.2+1.20.1.jar\"", &format!("file = {file:?}"), 1)
}

fn line_of(root: &Path, rel: &str, needle: &str) -> usize {
    let text = std::fs::read_to_string(root.join(rel)).unwrap();
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

// --- links and special files ------------------------------------------------

// The reproduced attack: a template linked to /proc/self/environ put HCLOUD_TOKEN into STATUS.md.
#[test]
fn ledger_refuses_a_template_linked_to_the_environment() {
    let dir = repo();
    symlink("/proc/self/environ", dir.path(), ".mc-gitops/templates/STATUS.md.j2");
    let r = run(dir.path(), &["ledger", "--now", "2026-12-01T00:00:00Z"]);
    assert!(!r.ok, "{}", r.out);
    assert!(r.out.contains(".mc-gitops/templates/STATUS.md.j2"), "{}", r.out);
    assert!(r.out.contains("symbolic link"), "{}", r.out);
    let status = std::fs::read_to_string(dir.path().join("STATUS.md")).unwrap_or_default();
    assert!(!status.contains(CANARY), "the token leaked into STATUS.md");
    assert!(!r.out.contains(CANARY), "the token leaked into the output");
}

// The same link, caught by the pull request's check before it is merged.
#[test]
fn check_refuses_a_template_linked_to_the_environment() {
    let dir = repo();
    symlink("/proc/self/environ", dir.path(), ".mc-gitops/templates/STATUS.md.j2");
    let r = check(dir.path());
    refused(&r, ".mc-gitops/templates/STATUS.md.j2", &["symbolic link"]);
    assert!(!r.out.contains(CANARY), "{}", r.out);
}

// A player file linked to a file outside the repo: its text would be parsed and echoed in errors.
#[test]
fn check_refuses_a_player_file_linked_outside_the_repo() {
    let dir = repo();
    let outside = dir.outside("secret.toml");
    std::fs::write(&outside, format!("name = \"{CANARY}\"\n")).unwrap();
    symlink(&outside, dir.path(), "players/Evil.toml");
    let r = check(dir.path());
    refused(&r, "players/Evil.toml", &["symbolic link", "regular file"]);
    assert!(!r.out.contains(CANARY), "{}", r.out);
}

// server.toml itself a link (to another repo's, or to anything).
#[test]
fn check_refuses_server_toml_as_a_link() {
    let dir = repo();
    std::fs::rename(dir.path().join("server.toml"), dir.path().join("real.toml")).unwrap();
    symlink("real.toml", dir.path(), "server.toml");
    let r = check(dir.path());
    refused(&r, "server.toml", &["symbolic link"]);
}

// players/ a link to another directory: every file there would be whitelisted.
#[test]
fn check_refuses_a_linked_players_directory() {
    let dir = repo();
    let elsewhere = dir.outside("elsewhere");
    std::fs::rename(dir.path().join("players"), &elsewhere).unwrap();
    symlink(&elsewhere, dir.path(), "players");
    let r = check(dir.path());
    refused(&r, "players", &["symbolic link"]);
}

// A link inside sessions/: the ledger (and so the budget) would read a file from anywhere.
#[test]
fn check_refuses_a_linked_sessions_month() {
    let dir = repo();
    symlink("/etc", dir.path(), "sessions/2026/12");
    let r = check(dir.path());
    refused(&r, "sessions/2026/12", &["symbolic link"]);
}

// config/ files are shipped to the VPS: a link would ship the runner's environment.
#[test]
fn check_refuses_a_config_file_linked_to_the_environment() {
    let dir = repo();
    symlink("/proc/self/environ", dir.path(), "config/leak.properties");
    let r = check(dir.path());
    refused(&r, "config/leak.properties", &["symbolic link"]);
    let plan = run(dir.path(), &["plan"]);
    assert!(!plan.ok && !plan.out.contains(CANARY), "{}", plan.out);
}

// A FIFO as a player file: reading it would block the check forever.
#[test]
fn check_refuses_a_fifo_as_a_player_file() {
    let dir = repo();
    let path = dir.path().join("players/Pipe.toml");
    let made = Command::new("mkfifo").arg(&path).status().unwrap();
    assert!(made.success());
    let r = check(dir.path());
    refused(&r, "players/Pipe.toml", &["not a regular file"]);
}

// costs/ a link out of the repo: the bot's summaries would be written wherever it points.
#[test]
fn ledger_does_not_write_through_a_linked_costs_directory() {
    let dir = repo();
    let outside = dir.outside("runner-home");
    std::fs::create_dir(&outside).unwrap();
    symlink(&outside, dir.path(), "costs");
    let r = run(dir.path(), &["ledger", "--now", "2026-12-01T00:00:00Z"]);
    assert!(!r.ok, "{}", r.out);
    assert!(r.out.contains("costs is a symbolic link"), "{}", r.out);
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0, "wrote outside the repo");
}

// A committed `server.toml.tmp` link: the bot's edit of server.toml wrote through it.
#[test]
fn set_state_does_not_write_through_a_planted_temporary_link() {
    let dir = repo();
    let victim = dir.outside("victim.txt");
    std::fs::write(&victim, "untouched\n").unwrap();
    symlink(&victim, dir.path(), "server.toml.tmp");
    let r = run(dir.path(), &["set-state", "stopped"]);
    assert!(r.ok, "{}", r.out);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched\n");
    let server = std::fs::read_to_string(dir.path().join("server.toml")).unwrap();
    assert!(server.lines().any(|l| l.starts_with("state = \"stopped\"")), "{server}");
}

// --- sizes and counts --------------------------------------------------------

// A player file just over its limit (the review's was 107 MB: 60 s, 1.1 GB).
#[test]
fn check_refuses_a_player_file_over_its_size_limit() {
    let dir = repo();
    let limit = limits::MAX_PLAYER_FILE_BYTES as usize;
    let mut text = player("Big").into_bytes();
    text.resize(limit + 1, b'\n');
    write(dir.path(), "players/Big.toml", &text);
    let r = check(dir.path());
    let d = refused(
        &r,
        "players/Big.toml",
        &[&format!("{} bytes", limit + 1), &limit.to_string(), "MAX_PLAYER_FILE_BYTES"],
    );
    assert_eq!(d.line, 0, "a whole-file refusal");
    // Exactly at the limit is accepted.
    text.truncate(limit);
    write(dir.path(), "players/Big.toml", &text);
    assert!(check(dir.path()).ok);
}

// server.toml over its limit.
#[test]
fn check_refuses_server_toml_over_its_size_limit() {
    let dir = repo();
    let mut text = std::fs::read(dir.path().join("server.toml")).unwrap();
    text.resize(limits::MAX_SERVER_TOML_BYTES as usize + 1, b'#');
    write(dir.path(), "server.toml", &text);
    refused(&check(dir.path()), "server.toml", &["MAX_SERVER_TOML_BYTES"]);
}

// A session file over its limit (anyone who can push to sessions/ could stall every run).
#[test]
fn check_refuses_a_session_file_over_its_size_limit() {
    let dir = repo();
    let rel = "sessions/2026/11/20261101-1802-eu.toml";
    let mut text = std::fs::read(dir.path().join(rel)).unwrap();
    text.resize(limits::MAX_SESSION_FILE_BYTES as usize + 1, b'\n');
    write(dir.path(), rel, &text);
    refused(&check(dir.path()), rel, &["MAX_SESSION_FILE_BYTES"]);
}

// A template over its limit.
#[test]
fn check_refuses_a_template_over_its_size_limit() {
    let dir = repo();
    let text = "x".repeat(limits::MAX_TEMPLATE_BYTES as usize + 1);
    write(dir.path(), ".mc-gitops/templates/COSTS.md.j2", text);
    refused(&check(dir.path()), ".mc-gitops/templates/COSTS.md.j2", &["MAX_TEMPLATE_BYTES"]);
}

// More player files than the whitelist limit.
#[test]
fn check_refuses_more_players_than_the_limit() {
    let dir = repo();
    for i in 0..limits::MAX_PLAYERS {
        let name = format!("P{i:04}");
        write(dir.path(), &format!("players/{name}.toml"), player(&name));
    }
    let r = check(dir.path());
    refused(&r, "players", &["MAX_PLAYERS", &limits::MAX_PLAYERS.to_string()]);
}

// More mods than the limit, in mods.toml: refused at the first one over, with its line.
#[test]
fn check_refuses_more_mods_than_the_limit() {
    let dir = repo();
    let mut text = String::from("[mods]\n");
    for i in 0..=limits::MAX_MODS {
        text.push_str(&format!("mod-{i:04} = {{}}\n"));
    }
    write(dir.path(), "mods.toml", text);
    let r = check(dir.path());
    let d = refused(&r, "mods.toml", &["MAX_MODS", &limits::MAX_MODS.to_string()]);
    assert_eq!(d.line, limits::MAX_MODS + 2, "the first mod over the limit");
}

// A property value long enough to bloat server.properties on the VPS.
#[test]
fn check_refuses_an_overlong_property_value() {
    let dir = repo();
    let mut text = std::fs::read_to_string(dir.path().join("server.toml")).unwrap();
    let header = text.lines().find(|l| l.starts_with("[properties]")).unwrap().to_string();
    text = text.replacen(&header, &format!("{header}\nlevel-seed = \"{}\"", "7".repeat(5000)), 1);
    write(dir.path(), "server.toml", text);
    let r = check(dir.path());
    let d = refused(&r, "server.toml", &["properties.level-seed", "MAX_PROPERTY_CHARS"]);
    assert_eq!(d.line, line_of(dir.path(), "server.toml", "level-seed"));
}

// added_by is compared with the pull request's author: it must be a GitHub login, not a novel.
#[test]
fn check_refuses_an_added_by_that_is_not_a_github_login() {
    let dir = repo();
    write(
        dir.path(),
        "players/Alex.toml",
        format!(
            "name = \"Alex\"\nuuid = \"dd3ec016-bb8a-4efe-9cc1-1796b7a57df9\"\nadded_by = \"{}\"\n",
            "a".repeat(40)
        ),
    );
    let d = refused(&check(dir.path()), "players/Alex.toml", &["added_by", "GitHub login"]);
    assert_eq!(d.line, 3);
}

// Player names follow Minecraft's rule: 3–16 of A-Z a-z 0-9 _, nothing that reaches a command line.
#[test]
fn check_refuses_player_names_outside_minecraft_rules() {
    for name in ["ab", "abcdefghijklmnopq", "a;op x", "Ünïcode", "a b c"] {
        let dir = repo();
        let file = format!("players/{name}.toml");
        write(dir.path(), &file, player(name));
        let d = refused(&check(dir.path()), &file, &["not a Minecraft username", "3–16"]);
        assert_eq!(d.line, 1, "{name}");
    }
}

// --- mods.lock file names ----------------------------------------------------

// The reviewed attack: a lock entry whose file climbs out of mods/ into cron.
#[test]
fn check_refuses_a_lock_file_name_that_climbs_out_of_mods() {
    let dir = repo();
    write(dir.path(), "mods.lock", lock_with_mod_file("../../../etc/cron.d/evil"));
    let r = check(dir.path());
    let d = refused(&r, "mods.lock", &["../../../etc/cron.d/evil", "plain file name", ".jar"]);
    assert_eq!(d.line, line_of(dir.path(), "mods.lock", "cron.d"));
}

// Other names a lock must not hold: absolute, hidden, not a jar, odd bytes, too long.
#[test]
fn check_refuses_lock_file_names_that_are_not_plain_jars() {
    let long = format!("{}.jar", "a".repeat(300));
    for bad in [
        "/etc/passwd.jar",
        "mods/x.jar",
        "x.sh",
        ".jar",
        "..jar",
        "a\\b.jar",
        "a b.jar",
        "ü.jar",
        &long,
    ] {
        let dir = repo();
        write(dir.path(), "mods.lock", lock_with_mod_file(bad));
        let r = check(dir.path());
        let d = refused(&r, "mods.lock", &["file", ".jar"]);
        assert!(d.line > 0, "{bad}: {d:?}");
    }
}

// --- templates ---------------------------------------------------------------

// A template that does not parse: check says where, instead of apply panicking later.
#[test]
fn check_reports_a_broken_template_with_its_line() {
    let dir = repo();
    write(
        dir.path(),
        ".mc-gitops/templates/session.toml.j2",
        "id = {{ s.id | toml }}\n\n{% if s.price %}\nx = {{ \n",
    );
    let r = check(dir.path());
    let d = refused(&r, ".mc-gitops/templates/session.toml.j2", &["template"]);
    assert!(d.line >= 3, "{d:?}");
}

// A template that parses but fails when rendered (an unknown filter) is caught by check.
#[test]
fn check_renders_every_template_and_reports_render_errors() {
    let dir = repo();
    write(
        dir.path(),
        ".mc-gitops/templates/COSTS.md.j2",
        "# Costs\n\n{{ months | no_such_filter }}\n",
    );
    let d = refused(&check(dir.path()), ".mc-gitops/templates/COSTS.md.j2", &["no_such_filter"]);
    assert_eq!(d.line, 3, "{d:?}");
}

// A template looping without end is stopped by its fuel, not by the job's timeout.
#[test]
fn check_stops_a_template_that_never_ends() {
    let dir = repo();
    write(
        dir.path(),
        ".mc-gitops/templates/STATUS.md.j2",
        "{% for a in range(10000) %}{% for b in range(10000) %}{% for c in range(10000) %}x{% endfor %}{% endfor %}{% endfor %}\n",
    );
    refused(&check(dir.path()), ".mc-gitops/templates/STATUS.md.j2", &["template"]);
}

// A session template that leaves out [price] would make the next run's ledger free of charge.
#[test]
fn check_refuses_a_session_template_that_drops_the_price() {
    let dir = repo();
    let builtin = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/session.toml.j2")).unwrap();
    // The [price] table's lines go; the `{% if s.price %}` around them stays.
    let start = builtin.find("\n[price]").unwrap();
    let end = builtin.find("monthly_gross = {{ s.price.monthly_gross | toml }}\n").unwrap()
        + "monthly_gross = {{ s.price.monthly_gross | toml }}\n".len();
    let without_price = format!("{}\n{}", &builtin[..start], &builtin[end..]);
    write(dir.path(), ".mc-gitops/templates/session.toml.j2", without_price);
    refused(&check(dir.path()), ".mc-gitops/templates/session.toml.j2", &["price"]);
}

// `ledger` with a template that does not parse fails with the template's name, and writes nothing.
#[test]
fn ledger_reports_a_broken_template_and_writes_nothing() {
    let dir = repo();
    write(dir.path(), ".mc-gitops/templates/COSTS.md.j2", "{% for %}\n");
    let r = run(dir.path(), &["ledger", "--now", "2026-12-01T00:00:00Z"]);
    assert!(!r.ok, "{}", r.out);
    assert!(r.out.contains(".mc-gitops/templates/COSTS.md.j2"), "{}", r.out);
    assert!(!dir.path().join("COSTS.md").exists());
}

/// `root` with the built-in session template, or with `custom`.
fn repo_with_session_template(custom: Option<&str>) -> Repo {
    let dir = repo();
    if let Some(t) = custom {
        write(dir.path(), ".mc-gitops/templates/session.toml.j2", t);
    }
    dir
}

fn budget_decision(root: &Path) -> (String, String) {
    let loaded = mc_gitops::repo::load(root).unwrap();
    let now = "2026-11-02T12:00:00Z".parse().unwrap();
    let observed = mc_gitops::observe::ledger_only::observe(&loaded.ledger, &loaded.desired.server.name, now);
    let plan = mc_gitops::plan::plan(&loaded.desired, &observed);
    (observed.month_to_date.to_string(), mc_gitops::output::text::render_plan(&plan))
}

// A template that omits the price cannot change what the budget decides: the session written
// through it still records its price (the bot falls back to the built-in template and says so).
#[test]
fn a_session_template_omitting_the_price_does_not_change_budget_decisions() {
    let mut decisions = Vec::new();
    for custom in [None, Some("id = {{ s.id | toml }}\nserver = {{ s.server | toml }}\n")] {
        let dir = repo_with_session_template(custom);
        // Tighten the budget so one session reaches it.
        let server = std::fs::read_to_string(dir.path().join("server.toml")).unwrap();
        let monthly = server.lines().find(|l| l.starts_with("monthly")).unwrap();
        write(dir.path(), "server.toml", server.replacen(monthly, "monthly = 0.04", 1));
        let loaded = mc_gitops::repo::load(dir.path()).unwrap();
        let mut s = loaded.ledger.sessions.last().unwrap().clone();
        assert!(s.price.is_some());
        // Rewrite the session as apply would (here as a fresh file, priced, closed).
        std::fs::remove_file(dir.path().join(&s.file)).unwrap();
        s.cost = None;
        let warning = mc_gitops::repo::ledger::write::write_session(dir.path(), &s).unwrap();
        assert_eq!(warning.is_some(), custom.is_some(), "{warning:?}");
        if let Some(w) = warning {
            assert!(w.contains(".mc-gitops/templates/session.toml.j2"), "{w}");
        }
        decisions.push(budget_decision(dir.path()));
    }
    assert_eq!(decisions[0], decisions[1]);
    assert!(decisions[0].1.contains("budget"), "{}", decisions[0].1);
}

// A session template that does not even parse at apply time: the session is still recorded.
#[test]
fn writing_a_session_with_a_broken_template_does_not_panic_and_loses_nothing() {
    let dir = repo_with_session_template(Some("{% if %}"));
    let loaded = mc_gitops::repo::load(dir.path()).unwrap();
    let s = loaded.ledger.sessions[0].clone();
    std::fs::remove_file(dir.path().join(&s.file)).unwrap();
    let warning = mc_gitops::repo::ledger::write::write_session(dir.path(), &s).unwrap();
    assert!(warning.unwrap().contains("session.toml.j2"));
    let again = mc_gitops::repo::load(dir.path()).unwrap();
    assert_eq!(again.ledger.sessions[0], s);
}

// The status page's template linked to the environment: the page is not
// written, and the token is nowhere.
#[test]
fn ledger_site_refuses_a_status_page_template_linked_to_the_environment() {
    let dir = repo();
    symlink("/proc/self/environ", dir.path(), ".mc-gitops/templates/status.html.j2");
    let site = dir.outside("site");
    let r = run(
        dir.path(),
        &["ledger", "--now", "2026-12-01T00:00:00Z", "--site", site.to_str().unwrap()],
    );
    assert!(!r.ok, "{}", r.out);
    assert!(
        r.out.contains(".mc-gitops/templates/status.html.j2") && r.out.contains("symbolic link"),
        "{}",
        r.out
    );
    let page = std::fs::read_to_string(site.join("index.html")).unwrap_or_default();
    assert!(!page.contains(CANARY) && !r.out.contains(CANARY), "the token leaked");
    refused(&check(dir.path()), ".mc-gitops/templates/status.html.j2", &["symbolic link"]);
}

// A status page template that fails when rendered is caught by check, with its line.
#[test]
fn check_renders_the_status_page_template() {
    let dir = repo();
    write(
        dir.path(),
        ".mc-gitops/templates/status.html.j2",
        "<!doctype html>\n<title>{{ p.server }}</title>\n{{ p.sessions | no_such_filter }}\n",
    );
    let d = refused(&check(dir.path()), ".mc-gitops/templates/status.html.j2", &["no_such_filter"]);
    assert_eq!(d.line, 3, "{d:?}");
}

// --- privilege -----------------------------------------------------------------

// A new repo guards .mc-gitops/ (its templates) with CODEOWNERS, as the check's rule does.
#[test]
fn init_guards_the_templates_with_codeowners() {
    let dir = tempfile::tempdir().unwrap();
    let root: PathBuf = dir.path().join("new");
    let out = bin()
        .args(["init", "--name", "pines", "--zone", "pines.example", "--region", "eu"])
        .args(["--player", "Steve", "--github", "pines-admin"])
        .arg(&root)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let owners = std::fs::read_to_string(root.join(".github/CODEOWNERS")).unwrap();
    assert!(owners.lines().any(|l| l.starts_with("/.mc-gitops/ ")), "{owners}");
}

// A pull request that replaces a privileged directory by a link (no path under it changes) is flagged.
#[test]
fn a_friend_replacing_a_privileged_directory_by_a_link_is_flagged() {
    use mc_gitops::check::privilege::{Changed, judge};
    let admins = ["grove-admin".to_string()].into();
    for path in [".mc-gitops", "config", ".github"] {
        let changed = [Changed {
            path: path.into(),
            deleted: false,
            added_by: None,
        }];
        let d = judge(&changed, "alex", &admins);
        assert_eq!(d.len(), 1, "{path}: {d:?}");
        assert!(d[0].message.contains("is not an admin"), "{d:?}");
    }
}
