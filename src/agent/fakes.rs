//! In-memory ports for the loop tests: each records its calls, in order,
//! with the second of the paused clock they happened at; the test drives the
//! world through [`World`] (players online, crashes, logins, desired.json).

use std::cell::{Cell, RefCell};
use std::future::pending;
use std::rc::Rc;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Duration, Instant};

use super::run::{Agent, Clock, Ports};
use super::traits::*;
use crate::ids::{PlayerName, SessionId};
use crate::lifecycle::Phase;
use crate::lifecycle::Timers;
use crate::storage::requests::{RequestDoc, RequestId, ResultDoc};
use crate::storage::{AgentStatusDoc, ControlDoc, ControlOp};

pub(super) fn t0() -> DateTime<Utc> {
    "2026-11-22T18:00:00Z".parse().unwrap()
}

pub(super) fn p(s: &str) -> PlayerName {
    PlayerName::new(s)
}

/// What the fakes share with the test.
pub(super) struct Shared {
    pub start: Instant,
    pub clock: Clock,
    pub calls: RefCell<Vec<(u64, String)>>,
    pub running: Cell<bool>,
    /// Whether a started JVM reaches its Done line.
    pub loads: Cell<bool>,
    pub players: RefCell<Vec<PlayerName>>,
    pub doc: RefCell<Option<ControlDoc>>,
    pub statuses: RefCell<Vec<AgentStatusDoc>>,
    pub snapshot_fails: Cell<bool>,
    pub taken: Cell<u32>,
    /// The game port as the fakes see it: who holds it, in which mode.
    pub port: Cell<Port>,
    /// How many times the listener bound the port.
    pub binds: Cell<u32>,
    /// Whether binding fails (something else holds the port).
    pub bind_fails: Cell<bool>,
    /// The status `Control::previous` answers at start.
    pub previous: RefCell<Option<AgentStatusDoc>>,
    /// Admin requests in the queue (answered ones stay, as in storage).
    pub queue: RefCell<Vec<RequestDoc>>,
    /// Requests recorded as started.
    pub started: RefCell<Vec<RequestId>>,
    /// Answers stored, in order.
    pub answers: RefCell<Vec<ResultDoc>>,
    /// The whitelist the listener was last given (at bind or since).
    pub listening: RefCell<Vec<crate::storage::WhitelistEntry>>,
}

/// Who holds the game port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Port {
    Free,
    Minecraft,
    Listener(PortMode),
}

impl Shared {
    fn call(&self, what: impl Into<String>) {
        let secs = self.start.elapsed().as_secs();
        self.calls.borrow_mut().push((secs, what.into()));
    }
}

pub(super) struct FakeMc(Rc<Shared>, mpsc::UnboundedReceiver<i32>);
impl Minecraft for FakeMc {
    async fn start(&mut self) -> PortResult<()> {
        self.0.call("start");
        if self.0.port.get() != Port::Free {
            return Err(PortError::Minecraft(format!("the game port is held ({:?})", self.0.port.get())));
        }
        self.0.port.set(Port::Minecraft);
        self.0.running.set(true);
        Ok(())
    }
    fn loaded(&self) -> bool {
        self.0.running.get() && self.0.loads.get()
    }
    fn version(&self) -> Option<String> {
        self.loaded().then(|| "1.20.1".into())
    }
    async fn stop(&mut self) -> PortResult<()> {
        self.0.call("stop");
        self.0.running.set(false);
        self.0.port.set(Port::Free);
        Ok(())
    }
    async fn exited(&mut self) -> Option<i32> {
        match self.1.recv().await {
            Some(code) => {
                self.0.running.set(false);
                self.0.port.set(Port::Free);
                Some(code)
            }
            None => pending().await,
        }
    }
}

pub(super) struct FakeConsole(Rc<Shared>);
impl FakeConsole {
    fn cmd(&self, what: String) -> PortResult<()> {
        if !self.0.running.get() {
            return Err(PortError::Console {
                command: what,
                reason: "connection refused".into(),
            });
        }
        self.0.call(what);
        Ok(())
    }
}
impl Console for FakeConsole {
    async fn list_players(&mut self) -> PortResult<Vec<PlayerName>> {
        if !self.0.running.get() {
            return Err(PortError::Console {
                command: "list".into(),
                reason: "connection refused".into(),
            });
        }
        Ok(self.0.players.borrow().clone())
    }
    async fn save_off(&mut self) -> PortResult<()> {
        self.cmd("save-off".into())
    }
    async fn save_all_flush(&mut self) -> PortResult<()> {
        self.cmd("save-all flush".into())
    }
    async fn save_on(&mut self) -> PortResult<()> {
        self.cmd("save-on".into())
    }
    async fn say(&mut self, line: &crate::countdown::Line) -> PortResult<()> {
        self.cmd(format!("say {line}"))
    }
    async fn whitelist_add(&mut self, name: &PlayerName) -> PortResult<()> {
        self.cmd(format!("whitelist add {name}"))
    }
    async fn whitelist_remove(&mut self, name: &PlayerName) -> PortResult<()> {
        self.cmd(format!("whitelist remove {name}"))
    }
    async fn op(&mut self, name: &PlayerName, level: u8) -> PortResult<()> {
        self.cmd(format!("op {name} {level}"))
    }
    async fn deop(&mut self, name: &PlayerName) -> PortResult<()> {
        self.cmd(format!("deop {name}"))
    }
    async fn command(&mut self, command: &str) -> PortResult<String> {
        self.cmd(format!("console {command}"))?;
        Ok(format!("reply to {command}"))
    }
}

pub(super) struct FakeSnapshots(Rc<Shared>);
impl Snapshots for FakeSnapshots {
    async fn snapshot(&mut self, reason: SnapshotReason) -> PortResult<SnapshotRef> {
        self.0.call(format!("snapshot {reason}"));
        if self.0.snapshot_fails.get() {
            return Err(PortError::Snapshot {
                reason: reason.to_string(),
                source: "upload failed".into(),
            });
        }
        let n = self.0.taken.get() + 1;
        self.0.taken.set(n);
        Ok(SnapshotRef {
            key: format!("worlds/grove/backups/{n}-{reason}.tar.zst"),
            sha256: format!("{n:064x}"),
            size: 1000 + u64::from(n),
            taken: self.0.clock.now(),
            world_bytes: Some(5000 + u64::from(n)),
        })
    }
    async fn restore(&mut self) -> PortResult<Option<SnapshotRef>> {
        self.0.call("restore");
        Ok(None)
    }
}

/// Binds like a socket: a second bind while the port is held fails, and
/// logins reach the agent only while it holds the port in sleeping mode.
pub(super) struct FakeListener(Rc<Shared>, Rc<RefCell<Option<mpsc::UnboundedReceiver<PlayerName>>>>);
impl Listener for FakeListener {
    type Held = FakeHeld;
    async fn open(&mut self, whitelist: &[crate::storage::WhitelistEntry], mode: PortMode) -> PortResult<FakeHeld> {
        if self.0.port.get() != Port::Free || self.0.bind_fails.get() {
            return Err(PortError::Listener("binding 0.0.0.0:25565: Address already in use".into()));
        }
        *self.0.listening.borrow_mut() = whitelist.to_vec();
        self.0.call(format!("bind {mode:?}"));
        self.0.binds.set(self.0.binds.get() + 1);
        self.0.port.set(Port::Listener(mode));
        let joins = self.1.borrow_mut().take().expect("one listener at a time");
        Ok(FakeHeld {
            s: self.0.clone(),
            joins: Some(joins),
            back: self.1.clone(),
        })
    }
}

pub(super) struct FakeHeld {
    s: Rc<Shared>,
    joins: Option<mpsc::UnboundedReceiver<PlayerName>>,
    back: Rc<RefCell<Option<mpsc::UnboundedReceiver<PlayerName>>>>,
}
impl HeldPort for FakeHeld {
    async fn next_wake(&mut self) -> PortResult<PlayerName> {
        if self.s.port.get() != Port::Listener(PortMode::Sleeping) {
            return pending().await;
        }
        match self.joins.as_mut().expect("held").recv().await {
            Some(p) => Ok(p),
            None => pending().await,
        }
    }
    fn set_whitelist(&mut self, whitelist: &[crate::storage::WhitelistEntry]) {
        *self.s.listening.borrow_mut() = whitelist.to_vec();
    }
    fn stopping(&mut self) {
        if self.s.port.get() != Port::Listener(PortMode::Stopping) {
            self.s.call("port stopping");
            self.s.port.set(Port::Listener(PortMode::Stopping));
        }
    }
    async fn close(mut self) {
        self.s.call("release");
        self.s.port.set(Port::Free);
        *self.back.borrow_mut() = self.joins.take();
    }
}

pub(super) struct FakeProvision(Rc<Shared>);
impl Provision for FakeProvision {
    async fn provision(&mut self, _doc: &ControlDoc) -> PortResult<()> {
        self.0.call("provision");
        Ok(())
    }
}

pub(super) struct FakeControl(Rc<Shared>);
impl Control for FakeControl {
    async fn desired(&mut self) -> PortResult<Option<ControlDoc>> {
        Ok(self.0.doc.borrow().clone())
    }
    async fn report(&mut self, status: &AgentStatusDoc) -> PortResult<()> {
        self.0.statuses.borrow_mut().push(status.clone());
        Ok(())
    }
    async fn previous(&mut self) -> PortResult<Option<AgentStatusDoc>> {
        Ok(self.0.previous.borrow().clone())
    }
    /// As the store does: unanswered requests in id order; one started and
    /// never answered comes back answered as interrupted.
    async fn requests(&mut self, limit: usize) -> PortResult<Vec<Incoming>> {
        let answered: Vec<RequestId> = self.0.answers.borrow().iter().map(|r| r.id.clone()).collect();
        let mut queue = self.0.queue.borrow().clone();
        queue.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(queue
            .into_iter()
            .filter(|r| !answered.contains(&r.id))
            .take(limit)
            .map(|r| match self.0.started.borrow().contains(&r.id) {
                true => Incoming::Answered(crate::agent::requests::interrupted(&r, self.0.clock.now(), None)),
                false => Incoming::Run(r),
            })
            .collect())
    }
    async fn starting(&mut self, id: &RequestId) -> PortResult<()> {
        self.0.started.borrow_mut().push(id.clone());
        Ok(())
    }
    async fn answer(&mut self, result: &ResultDoc) -> PortResult<()> {
        self.0.call(format!("answer {} {}", result.id, result.outcome.as_str()));
        self.0.answers.borrow_mut().push(result.clone());
        Ok(())
    }
}

pub(super) struct FakeNudge(Rc<Shared>);
impl Nudge for FakeNudge {
    async fn nudge(&mut self) -> PortResult<bool> {
        self.0.call("nudge");
        Ok(true)
    }
}

pub(super) struct World {
    pub s: Rc<Shared>,
    pub crash: mpsc::UnboundedSender<i32>,
    pub join: mpsc::UnboundedSender<PlayerName>,
    pub stop: Option<oneshot::Sender<()>>,
    pub task: tokio::task::JoinHandle<Phase>,
}

pub(super) fn doc() -> ControlDoc {
    ControlDoc {
        version: 1,
        whitelist: vec![p("Steve")],
        ops: vec![ControlOp {
            name: p("Steve"),
            level: 4,
        }],
        // As the reconciler writes it: the lists travel in these files too,
        // so the server booted with them (`control::Applied::from_doc`).
        assets: [super::control::WHITELIST_FILE, super::control::OPS_FILE]
            .map(|f| {
                let asset = crate::storage::AssetRef {
                    hash: format!("sha256:{}", crate::assets::sha256_hex(f.as_bytes())),
                    url: None,
                    size: None,
                    cache: false,
                };
                (f.to_string(), asset)
            })
            .into(),
        ..ControlDoc::default()
    }
}

/// Start the agent in the current `LocalSet`, created at `created`.
pub(super) fn start(created: DateTime<Utc>, loads: bool) -> World {
    start_for(created, loads, None)
}

/// Start an agent that knows its session (agent.toml's `session`).
pub(super) fn start_for(created: DateTime<Utc>, loads: bool, session: Option<SessionId>) -> World {
    start_with(created, loads, session, Timers::default())
}

/// Start an agent with these timers.
pub(super) fn start_with(created: DateTime<Utc>, loads: bool, session: Option<SessionId>, timers: Timers) -> World {
    start_after_with(created, loads, session, None, doc(), timers)
}

/// A status of `session` as an earlier agent wrote it.
pub(super) fn status_of(session: &SessionId) -> AgentStatusDoc {
    AgentStatusDoc {
        phase: Phase::Running,
        players_online: vec![],
        players_seen: vec![],
        presence: vec![],
        heartbeat: t0(),
        stopped_at: None,
        minecraft_version: None,
        protocol: None,
        session: Some(session.clone()),
        waiting: None,
        last_backup: None,
        boot: None,
        crashes: 0,
        crashed: false,
        restart_at: None,
        stopping_at: None,
        terminate_at: None,
        ready_to_terminate: false,
        last_error: None,
        credentials: None,
        peak_players: 0,
        backups: 0,
        world_bytes: None,
    }
}

/// Start an agent that finds `previous` as the last status written (an
/// agent restarted within its session).
pub(super) fn start_after(
    created: DateTime<Utc>,
    loads: bool,
    session: Option<SessionId>,
    previous: Option<AgentStatusDoc>,
    desired: ControlDoc,
) -> World {
    start_after_with(created, loads, session, previous, desired, Timers::default())
}

pub(super) fn start_after_with(
    created: DateTime<Utc>,
    loads: bool,
    session: Option<SessionId>,
    previous: Option<AgentStatusDoc>,
    desired: ControlDoc,
    timers: Timers,
) -> World {
    let clock = Clock::starting_at(t0());
    let s = Rc::new(Shared {
        start: Instant::now(),
        clock,
        calls: RefCell::default(),
        running: Cell::new(false),
        loads: Cell::new(loads),
        players: RefCell::default(),
        doc: RefCell::new(Some(desired)),
        statuses: RefCell::default(),
        snapshot_fails: Cell::new(false),
        taken: Cell::new(0),
        port: Cell::new(Port::Free),
        binds: Cell::new(0),
        bind_fails: Cell::new(false),
        previous: RefCell::new(previous),
        queue: RefCell::default(),
        started: RefCell::default(),
        answers: RefCell::default(),
        listening: RefCell::default(),
    });
    let (crash, crash_rx) = mpsc::unbounded_channel();
    let (join, join_rx) = mpsc::unbounded_channel();
    let (stop, stop_rx) = oneshot::channel::<()>();
    let ports = Ports {
        minecraft: FakeMc(s.clone(), crash_rx),
        console: FakeConsole(s.clone()),
        snapshots: FakeSnapshots(s.clone()),
        listener: FakeListener(s.clone(), Rc::new(RefCell::new(Some(join_rx)))),
        provision: FakeProvision(s.clone()),
        control: FakeControl(s.clone()),
        nudge: FakeNudge(s.clone()),
    };
    let agent = Agent::new(ports, timers, clock, Some(created)).for_session(session);
    let task = tokio::task::spawn_local(agent.run(async move {
        let _ = stop_rx.await;
    }));
    World {
        s,
        crash,
        join,
        stop: Some(stop),
        task,
    }
}

impl World {
    /// Sleep until `secs` after the start (the paused clock jumps there,
    /// letting the agent handle every deadline on the way, in order).
    pub(super) async fn at(&self, secs: u64) {
        tokio::time::sleep_until(self.s.start + Duration::from_secs(secs)).await;
    }
    pub(super) fn status(&self) -> AgentStatusDoc {
        self.s.statuses.borrow().last().cloned().expect("a status was written")
    }
    pub(super) fn phase(&self) -> Phase {
        self.status().phase
    }
    /// Calls made since the last `take`, without their times.
    pub(super) fn take(&self) -> Vec<String> {
        self.s.calls.borrow_mut().drain(..).map(|(_, c)| c).collect()
    }
    pub(super) fn take_timed(&self) -> Vec<(u64, String)> {
        self.s.calls.borrow_mut().drain(..).collect()
    }
    pub(super) fn phases(&self) -> Vec<Phase> {
        let mut v: Vec<Phase> = self.s.statuses.borrow().iter().map(|s| s.phase).collect();
        v.dedup();
        v
    }
    pub(super) fn players(&self, names: &[&str]) {
        *self.s.players.borrow_mut() = names.iter().map(|n| p(n)).collect();
    }
    pub(super) async fn shutdown(mut self) -> Phase {
        self.stop.take().unwrap().send(()).unwrap();
        self.task.await.unwrap()
    }
}
