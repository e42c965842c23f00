//! Reading through links, special files and oversized files is refused;
//! the budget and the walk count what they read.

use super::*;

fn dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("a/b")).unwrap();
    std::fs::write(d.path().join("a/b/f.toml"), "x = 1\n").unwrap();
    d
}

#[test]
fn a_regular_file_within_its_limit_reads() {
    let d = dir();
    assert_eq!(read_file(d.path(), "a/b/f.toml", TEMPLATE).unwrap().unwrap(), b"x = 1\n");
    assert!(read_file(d.path(), "a/b/none.toml", TEMPLATE).unwrap().is_none());
    assert!(read_file(d.path(), "nope/none.toml", TEMPLATE).unwrap().is_none());
}

#[test]
fn paths_that_leave_the_repo_are_refused() {
    let d = dir();
    for bad in ["../etc/passwd", "/etc/passwd", "a/./b/f.toml", "a//f", ""] {
        assert!(
            matches!(read_file(d.path(), bad, TEMPLATE), Err(FileError::BadPath { .. })),
            "{bad}"
        );
    }
}

#[test]
fn a_link_anywhere_on_the_path_is_refused_and_named() {
    let d = dir();
    std::os::unix::fs::symlink(d.path().join("a"), d.path().join("l")).unwrap();
    std::os::unix::fs::symlink("f.toml", d.path().join("a/b/g.toml")).unwrap();
    let e = read_file(d.path(), "l/b/f.toml", TEMPLATE).unwrap_err();
    assert!(matches!(&e, FileError::Link { path } if path == "l"), "{e}");
    let e = read_file(d.path(), "a/b/g.toml", TEMPLATE).unwrap_err();
    assert!(matches!(&e, FileError::Link { path } if path == "a/b/g.toml"), "{e}");
    assert_eq!(
        e.message(),
        "is a symbolic link; the state repo's files are read only as regular files, never through links"
    );
}

#[test]
fn a_file_one_byte_over_its_limit_is_refused_with_the_limit_named() {
    let d = dir();
    let limit = Limit {
        name: "MAX_TEST",
        bytes: 5,
        what: "a test file",
    };
    let e = read_file(d.path(), "a/b/f.toml", limit).unwrap_err();
    assert_eq!(e.message(), "is 6 bytes, over the 5-byte limit for a test file (MAX_TEST)");
    assert!(read_file(d.path(), "a/b/f.toml", Limit { bytes: 6, ..limit }).is_ok());
}

#[test]
fn the_repo_budget_stops_reading_once_spent() {
    let d = dir();
    let mut b = Budget { left: 8 };
    assert!(b.read(d.path(), "a/b/f.toml", TEMPLATE).unwrap().is_some());
    let e = b.read(d.path(), "a/b/f.toml", TEMPLATE).unwrap_err();
    assert!(matches!(e, FileError::RepoTooLarge { .. }), "{e}");
}

#[test]
fn a_walk_caps_the_count_and_refuses_links_by_name() {
    let d = dir();
    for i in 0..3 {
        std::fs::write(d.path().join(format!("a/{i}.toml")), "").unwrap();
    }
    let w = Budget::default().walk(d.path(), "a", TEMPLATE, 10, "MAX_T");
    assert_eq!(w.files.len(), 4);
    assert!(w.refused.is_empty());
    let w = Budget::default().walk(d.path(), "a", TEMPLATE, 2, "MAX_T");
    assert!(matches!(&w.refused[..], [FileError::TooMany { max: 2, .. }]), "{:?}", w.refused);
    std::os::unix::fs::symlink("/etc", d.path().join("a/b/etc")).unwrap();
    let w = Budget::default().walk(d.path(), "a", TEMPLATE, 10, "MAX_T");
    assert!(
        matches!(&w.refused[..], [FileError::Link { path }] if path == "a/b/etc"),
        "{:?}",
        w.refused
    );
}

// Two applies writing the month's first session at once both find
// `sessions/2026/12` missing; the one whose create comes second must not fail
// (it did: "cannot read sessions/2026/12: File exists").
#[test]
fn writers_racing_to_make_one_directory_all_succeed() {
    for _ in 0..40 {
        let d = tempfile::tempdir().unwrap();
        let start = std::sync::Arc::new(std::sync::Barrier::new(8));
        let writers: Vec<_> = (0..8)
            .map(|i| {
                let (root, start) = (d.path().to_path_buf(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    write_atomic(&root, &format!("sessions/2026/12/{i}.toml"), b"x = 1\n")
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap().unwrap();
        }
    }
}
