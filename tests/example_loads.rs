//! The shipped example repo loads cleanly: it is what new users copy.

use std::path::Path;

#[test]
fn the_example_repo_is_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("state-repo-example");
    let loaded = match mc_gitops::repo::load(&root) {
        Ok(l) => l,
        Err(mc_gitops::repo::LoadError::Invalid(d)) => panic!("{}", d.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")),
        Err(e) => panic!("{e}"),
    };
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(loaded.desired.players.len(), 3);
    assert_eq!(loaded.ledger.sessions.len(), 2);
    assert!(loaded.ledger.open_session().is_none());
}
