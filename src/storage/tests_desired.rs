//! desired.json's `stop_warnings` and `whitelist_uuids` as the control
//! document carries them.

use super::{ControlDoc, WhitelistEntry, decode};
use crate::countdown::StopWarnings;
use crate::ids::{PlayerName, PlayerUuid};

/// desired.json carries the countdown with the stop request in one
/// typed field: a document without it (an older reconciler) reads as
/// no countdown, and one asking more than the agent accepts is refused
/// with the key named.
#[test]
fn desired_json_carries_the_warnings_and_reads_their_absence_as_none() {
    let key = "control/grove/desired.json";
    let old = r#"{"version": 1, "session": null, "stop_requested": "2026-11-22T19:30:00Z", "stop_reason": "admin",
        "whitelist": [], "ops": [], "assets": {}, "written": null}"#;
    assert!(decode::<ControlDoc>(key, old.as_bytes()).unwrap().stop_warnings.is_empty());
    let doc = ControlDoc {
        stop_warnings: StopWarnings::standard(),
        ..ControlDoc::default()
    };
    let text = serde_json::to_string(&doc).unwrap();
    assert!(text.contains(r#""stop_warnings":["5m","1m","10s"]"#), "{text}");
    assert_eq!(decode::<ControlDoc>(key, text.as_bytes()).unwrap(), doc);
    let none = serde_json::to_string(&ControlDoc::default()).unwrap();
    assert!(!none.contains("stop_warnings"), "no countdown, no key: {none}");
    let long = old.replace(r#""whitelist""#, r#""stop_warnings": ["9h"], "whitelist""#);
    let e = crate::error::render_error(&decode::<ControlDoc>(key, long.as_bytes()).unwrap_err());
    assert!(e.contains(key) && e.contains("MAX_STOP_WARNING"), "{e}");
}

/// The whitelist's UUIDs travel beside the names (`whitelist_uuids`) and
/// come back the same; an older reconciler's document (names only) still
/// reads, each entry matched by name alone; the dashed and undashed forms
/// are one value; a malformed UUID is refused with the key named.
#[test]
fn desired_json_carries_whitelist_uuids_and_reads_a_names_only_document() {
    let key = "control/grove/desired.json";
    let old = r#"{"version": 1, "session": null, "stop_requested": null, "stop_reason": null,
        "whitelist": ["Steve", "Alex"], "ops": [], "assets": {}, "written": null}"#;
    let doc = decode::<ControlDoc>(key, old.as_bytes()).unwrap();
    assert!(doc.whitelist_uuids.is_empty());
    assert_eq!(
        doc.whitelist_entries(),
        vec![WhitelistEntry::name_only("Steve"), WhitelistEntry::name_only("Alex")]
    );

    let steve = PlayerUuid::parse("8667ba71-b85a-4004-af54-457a9734eed7").unwrap();
    let doc = ControlDoc {
        whitelist: vec![PlayerName::new("Steve"), PlayerName::new("Alex")],
        whitelist_uuids: [(PlayerName::new("Steve"), steve)].into(),
        ..ControlDoc::default()
    };
    let text = serde_json::to_string(&doc).unwrap();
    assert!(
        text.contains(r#""whitelist":["Steve","Alex"],"whitelist_uuids":{"Steve":"8667ba71-b85a-4004-af54-457a9734eed7"}"#),
        "names stay a list of strings, an older agent still reads them: {text}"
    );
    let back = decode::<ControlDoc>(key, text.as_bytes()).unwrap();
    assert_eq!(back, doc);
    assert_eq!(
        back.whitelist_entries(),
        vec![
            WhitelistEntry {
                name: PlayerName::new("Steve"),
                uuid: Some(steve)
            },
            WhitelistEntry::name_only("Alex"),
        ]
    );
    assert!(!serde_json::to_string(&ControlDoc::default()).unwrap().contains("whitelist_uuids"));

    let undashed = text.replace("8667ba71-b85a-4004-af54-457a9734eed7", "8667BA71B85A4004AF54457A9734EED7");
    assert_eq!(decode::<ControlDoc>(key, undashed.as_bytes()).unwrap(), doc);
    let bad = text.replace("8667ba71-b85a-4004-af54-457a9734eed7", "Steve");
    let e = crate::error::render_error(&decode::<ControlDoc>(key, bad.as_bytes()).unwrap_err());
    assert!(e.contains(key) && e.contains("not a UUID"), "{e}");
}
