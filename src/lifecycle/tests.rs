//! The lifecycle's transition function, case by case.

use super::*;

#[test]
fn the_end_reasons_the_ledger_accepts_are_the_lifecycles() {
    let all: Vec<&str> = EndReason::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(all, crate::repo::ledger::END_REASONS);
}
use Event as E;
use Phase as P;

fn to(phase: Phase, event: Event) -> Option<Phase> {
    match transition(phase, event) {
        Outcome::Moved { to, .. } => Some(to),
        Outcome::Ignored(_) => None,
    }
}

/// Every pair, written out: a change to the machine must change this table.
#[test]
fn every_phase_and_event_pair() {
    let table: &[(Phase, [Option<Phase>; 11])] = &[
        //                 Start               Ready          Joined           AllLeft        IdleEl          SuspEl              Stop      SuspReq          Crash                 Snapshot            Deleted
        (
            P::Offline,
            [Some(P::Provisioning), None, None, None, None, None, None, None, None, None, None],
        ),
        (
            P::Provisioning,
            [
                None,
                Some(P::Idle),
                None,
                None,
                None,
                None,
                Some(P::Terminating),
                None,
                Some(P::Provisioning),
                None,
                Some(P::Offline),
            ],
        ),
        (
            P::Running,
            [
                None,
                None,
                None,
                Some(P::Idle),
                None,
                None,
                Some(P::Terminating),
                Some(P::Suspended),
                Some(P::Running),
                None,
                Some(P::Offline),
            ],
        ),
        (
            P::Idle,
            [
                None,
                None,
                Some(P::Running),
                None,
                Some(P::Suspended),
                None,
                Some(P::Terminating),
                Some(P::Suspended),
                Some(P::Idle),
                None,
                Some(P::Offline),
            ],
        ),
        (
            P::Suspended,
            [
                None,
                None,
                Some(P::Running),
                None,
                None,
                Some(P::Terminating),
                Some(P::Terminating),
                None,
                None,
                None,
                Some(P::Offline),
            ],
        ),
        (
            P::Terminating,
            [
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                Some(P::Terminating),
                Some(P::Offline),
            ],
        ),
    ];
    assert_eq!(table.len(), Phase::ALL.len());
    for (phase, row) in table {
        for (event, want) in Event::ALL.iter().zip(row) {
            assert_eq!(to(*phase, *event), *want, "{phase:?} + {event:?}");
        }
    }
}

#[test]
fn the_happy_path_reaches_offline_again() {
    let mut p = P::Offline;
    for e in [
        E::StartRequested,
        E::Ready,
        E::PlayerJoined,
        E::AllLeft,
        E::IdleElapsed,
        E::SuspendElapsed,
        E::SnapshotVerified,
        E::ServerDeleted,
    ] {
        p = to(p, e).unwrap_or_else(|| panic!("{p:?} + {e:?} ignored"));
    }
    assert_eq!(p, P::Offline);
}

#[test]
fn a_join_during_the_suspend_countdown_wakes_the_server() {
    assert_eq!(
        transition(P::Suspended, E::PlayerJoined),
        Outcome::Moved {
            to: P::Running,
            effects: vec![Effect::StartMinecraft]
        }
    );
}

#[test]
fn deletion_only_follows_a_verified_snapshot() {
    for phase in Phase::ALL {
        for event in Event::ALL {
            if let Outcome::Moved { effects, .. } = transition(phase, event)
                && effects.contains(&Effect::DeleteServer)
            {
                assert_eq!((phase, event), (P::Terminating, E::SnapshotVerified));
            }
        }
    }
}

/// Break 7 of issue 11: only the agent called `transition`; the
/// reconciler derived phases its own way. Its view now comes from the
/// same function: the agent's phase, then the events it knows of.
#[test]
fn the_reconcilers_phase_is_the_agents_phase_moved_by_its_own_events() {
    let e = |server, agent, ready_recorded, stop_asked| Evidence {
        server,
        agent,
        ready_recorded,
        stop_asked,
    };
    assert_eq!(observed_phase(e(false, None, false, false)), P::Offline);
    assert_eq!(observed_phase(e(true, None, false, false)), P::Provisioning);
    assert_eq!(observed_phase(e(true, None, true, false)), P::Idle, "booted, nobody seen yet");
    for phase in [P::Running, P::Idle, P::Suspended, P::Provisioning] {
        assert_eq!(observed_phase(e(true, Some(phase), false, false)), phase);
        assert_eq!(
            observed_phase(e(true, Some(phase), false, true)),
            P::Terminating,
            "{phase:?}: a stop was asked"
        );
        assert_eq!(observed_phase(e(false, Some(phase), false, true)), P::Offline, "{phase:?}: gone");
    }
    assert_eq!(observed_phase(e(true, Some(P::Terminating), false, false)), P::Terminating);
    assert_eq!(observed_phase(e(true, None, true, true)), P::Terminating);
}

#[test]
fn an_end_reason_reads_back_what_it_writes() {
    for r in EndReason::ALL {
        let json = serde_json::to_value(r).unwrap();
        assert_eq!(json, r.as_str());
        assert_eq!(serde_json::from_value::<EndReason>(json).unwrap(), r);
    }
    assert!(serde_json::from_value::<EndReason>("whatever".into()).is_err());
}

#[test]
fn every_stop_path_snapshots_first() {
    for phase in [P::Running, P::Idle, P::Suspended, P::Provisioning] {
        match transition(phase, E::StopRequested) {
            Outcome::Moved { to, effects } => {
                assert_eq!(to, P::Terminating);
                assert!(effects.contains(&Effect::FinalSnapshot), "{phase:?}");
            }
            other => panic!("{phase:?}: {other:?}"),
        }
    }
}
