//! The request queue's documents and their exactly-once rules.

use super::*;
use crate::ids::ServerName;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn req(id: &RequestId, command: Option<&str>) -> RequestDoc {
    RequestDoc {
        version: VERSION,
        id: id.clone(),
        action: if command.is_some() { Action::Console } else { Action::Backup },
        command: command.map(str::to_string),
        actor: "grove-admin".into(),
        asked: t("2026-12-04T21:03:01Z"),
        expires: t("2026-12-04T21:05:01Z"),
    }
}

#[test]
fn ids_sort_by_time_and_only_their_shape_parses() {
    let a = RequestId::new(t("2026-12-04T21:03:01Z"));
    let b = RequestId::new(t("2026-12-04T21:03:02Z"));
    assert!(a < b);
    assert!(a.as_str().starts_with("20261204T210301Z-"), "{a}");
    assert_eq!(RequestId::parse(a.as_str()), Ok(a.clone()));
    assert_eq!(a.asked(), t("2026-12-04T21:03:01Z"), "the id's time, read back");
    for bad in [
        "",
        "x",
        "20261204T210301Z",
        "20261204T210301Z-3F9A0C1D",
        "../../desired",
        "20261204T210301Z-3f9a0c1d/x",
    ] {
        assert!(RequestId::parse(bad).is_err(), "{bad:?}");
    }
}

#[tokio::test]
async fn a_request_round_trips_and_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::local(dir.path(), &ServerName::new("grove")).unwrap();
    let id = RequestId::parse("20261204T210301Z-3f9a0c1d").unwrap();
    let r = req(&id, Some("time set day"));
    s.put_request(&r).await.unwrap();
    assert!(matches!(
        s.put_request(&req(&id, Some("kill @a"))).await,
        Err(StorageError::Conflict { .. })
    ));
    assert_eq!(s.request(&id).await.unwrap(), Some(Ok(r.clone())));
    assert_eq!(s.list_requests().await.unwrap().pending, vec![id.clone()]);

    let answer = ResultDoc::answer(&r, t("2026-12-04T21:03:05Z"), Outcome::Ok, "Set the time to 1000", None);
    assert!(s.put_result(&answer).await.unwrap());
    let mut other = answer.clone();
    other.reply = "forged".into();
    assert!(!s.put_result(&other).await.unwrap(), "the first answer stays");
    assert_eq!(s.result(&id).await.unwrap(), Some(Ok(answer)));
    let l = s.list_requests().await.unwrap();
    assert_eq!((l.pending.len(), l.answered, l.strays.len()), (0, vec![id], 0));
}

#[tokio::test]
async fn unknown_fields_a_foreign_id_and_strays_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::local(dir.path(), &ServerName::new("grove")).unwrap();
    let id = RequestId::parse("20261204T210301Z-3f9a0c1d").unwrap();
    let mut v = serde_json::to_value(req(&id, Some("say hi"))).unwrap();
    v["run_as"] = "root".into();
    s.put_bytes(&s.request_key(&id), v.to_string().into_bytes()).await.unwrap();
    let why = s.request(&id).await.unwrap().unwrap().unwrap_err();
    assert!(why.contains("unknown field `run_as`"), "{why}");

    let other = RequestId::parse("20261204T210302Z-00000000").unwrap();
    s.put_bytes(&s.request_key(&other), serde_json::to_vec(&req(&id, None)).unwrap())
        .await
        .unwrap();
    let why = s.request(&other).await.unwrap().unwrap().unwrap_err();
    assert!(why.contains("not the id in its key"), "{why}");

    let mut two_lines = req(&id, Some("say hi"));
    two_lines.command = Some("say hi\nop Mallory".into());
    assert!(two_lines.check("k", &id).unwrap_err().to_string().contains("control character"));
    s.put_bytes(&format!("{}notes.txt", s.requests_prefix()), b"x".to_vec())
        .await
        .unwrap();
    assert_eq!(
        s.list_requests().await.unwrap().strays,
        vec!["control/grove/requests/notes.txt".to_string()]
    );
}

#[test]
fn a_long_reply_is_cut_on_a_character_boundary_and_says_so() {
    let long = "é".repeat(MAX_REPLY_BYTES);
    let c = cap(&long, MAX_REPLY_BYTES);
    assert!(
        c.len() <= MAX_REPLY_BYTES && c.ends_with(&format!("({} bytes in all)", long.len())),
        "{}",
        c.len()
    );
    assert_eq!(cap("short", 10), "short");
}
