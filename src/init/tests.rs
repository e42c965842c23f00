//! Unit tests of `init`: the names it checks, replacements made once, and
//! that the built-in example still has every line init adapts.

use super::*;

pub(crate) fn options() -> Options {
    Options {
        name: "oak".into(),
        zone: "oak.example".into(),
        region: "us".into(),
        player: "Oakley".into(),
        github: "oak-admin".into(),
        repository: None,
        bucket: None,
        account_id: None,
    }
}

#[test]
fn names_and_zones_are_checked() {
    assert!(valid_zone("example.org") && !valid_zone("example") && !valid_zone("-a.org") && !valid_zone("a..org"));
    assert!(valid_github_handle("grove-admin") && !valid_github_handle("-x") && !valid_github_handle("a_b"));
    assert!(valid_repository("a/b.c") && !valid_repository("a") && !valid_repository("a/b/c"));
    let dir = Path::new("/tmp/x");
    for (bad, flag) in [
        (
            Options {
                name: "Oak".into(),
                ..options()
            },
            "--name",
        ),
        (
            Options {
                zone: "oak".into(),
                ..options()
            },
            "--zone",
        ),
        (
            Options {
                region: "mars".into(),
                ..options()
            },
            "--region",
        ),
        (
            Options {
                player: "a b".into(),
                ..options()
            },
            "--player",
        ),
        (
            Options {
                github: "a_b".into(),
                ..options()
            },
            "--github",
        ),
        (
            Options {
                account_id: Some("xyz".into()),
                ..options()
            },
            "--account-id",
        ),
        (
            Options {
                bucket: Some("B".into()),
                ..options()
            },
            "--bucket",
        ),
    ] {
        let e = check(dir, &bad).err().unwrap_or_else(|| panic!("{flag} accepted"));
        assert!(e.to_string().starts_with(flag), "{e}");
        assert_eq!(e.flag(), Some(flag));
    }
    assert_eq!(check(dir, &options()).unwrap().repository, "oak-admin/x");
}

#[test]
fn replacements_are_made_once() {
    let pairs = [("grove.place", "grove-worlds.org"), ("grove-worlds", "oak-worlds")];
    assert_eq!(replace_all("mc.grove.place grove-worlds", &pairs), "mc.grove-worlds.org oak-worlds");
    assert_eq!(title("oak"), "Oak");
}

#[test]
fn the_example_has_what_init_adapts() {
    assert_eq!(regions(), ["eu", "us"]);
    let dir = tempfile::tempdir().unwrap();
    let files = init(&dir.path().join("new"), &options()).unwrap();
    assert!(files.iter().all(|f| !f.starts_with("sessions")), "{files:?}");
    let players: Vec<_> = files.iter().filter(|f| f.starts_with("players/")).collect();
    assert_eq!(players, ["players/Oakley.toml"]);
    assert!(files.contains(&"server.toml".to_string()) && files.contains(&"README.md".to_string()));
    for wf in ["reconcile.yml", "check.yml", "check-comment.yml", "console.yml"] {
        assert!(files.contains(&format!(".github/workflows/{wf}")), "{wf}: {files:?}");
    }
    let again = init(&dir.path().join("new"), &options());
    assert!(matches!(again, Err(InitError::NotEmpty(_))));
}
