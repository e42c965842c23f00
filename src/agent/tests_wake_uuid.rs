//! The agent hands the sleeping listener desired.json's whitelist with
//! each player's UUID (`whitelist_uuids`), at bind and when the document
//! changes while the port is held: the listener matches logins on both
//! (`sleeping::login`), so a UUID lost on the way would quietly fall back
//! to names.

use super::fakes::{doc, p, start, t0};
use crate::ids::PlayerUuid;
use crate::lifecycle::Phase;
use crate::storage::{ControlDoc, WhitelistEntry};

async fn local(f: impl std::future::Future<Output = ()>) {
    tokio::task::LocalSet::new().run_until(f).await;
}

const MINS: u64 = 60;

#[tokio::test(start_paused = true)]
async fn the_listener_gets_the_whitelists_uuids_at_bind_and_on_change() {
    local(async {
        let steve = PlayerUuid::parse("8667ba71-b85a-4004-af54-457a9734eed7").unwrap();
        let alex = PlayerUuid::parse("dd3ec016bb8a4efe9cc11796b7a57df9").unwrap();
        let w = start(t0(), true);
        *w.s.doc.borrow_mut() = Some(ControlDoc {
            whitelist_uuids: [(p("Steve"), steve)].into(),
            ..doc()
        });
        w.at(15 * MINS + 1).await;
        assert_eq!(w.phase(), Phase::Suspended);
        assert_eq!(
            *w.s.listening.borrow(),
            [WhitelistEntry {
                name: p("Steve"),
                uuid: Some(steve)
            }]
        );
        // A player added while suspended reaches the held port with their UUID.
        *w.s.doc.borrow_mut() = Some(ControlDoc {
            whitelist: vec![p("Alex"), p("Steve")],
            whitelist_uuids: [(p("Steve"), steve), (p("Alex"), alex)].into(),
            ..doc()
        });
        w.at(17 * MINS).await;
        assert_eq!(
            *w.s.listening.borrow(),
            [
                WhitelistEntry {
                    name: p("Alex"),
                    uuid: Some(alex)
                },
                WhitelistEntry {
                    name: p("Steve"),
                    uuid: Some(steve)
                }
            ]
        );
    })
    .await;
}
