//! desired.json's `stop_warnings` as the control document carries it.

use super::{ControlDoc, decode};
use crate::countdown::StopWarnings;

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
