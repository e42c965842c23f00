//! Hostile templates, through the real binary: templates that leak, break,
//! never end or drop the price, and the status page template. Each refusal
//! names the template (and the line, where there is one).

use super::*;

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
    let observed = mc_gitops::observe::ledger_only::observe(&loaded.ledger, &loaded.desired.server, now);
    let plan = mc_gitops::plan::plan(&loaded.desired, &observed);
    (observed.month_to_date.to_string(), mc_gitops::plan::render::text(&plan))
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
