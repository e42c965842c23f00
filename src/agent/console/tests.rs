//! The RCON console against an in-process server that answers with vanilla
//! 1.20.1's texts, counts connections and watches for overlapping commands.

use std::sync::Mutex as StdMutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use super::*;
use crate::minecraft::rcon::{encode, read_packet};

const PASSWORD: &str = "generated-at-start";

#[derive(Default)]
struct State {
    connections: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    seen: StdMutex<Vec<String>>,
    players: StdMutex<Vec<&'static str>>,
    /// Close the connection once the next command is answered (a JVM restart).
    hang_up: AtomicBool,
    save_fails: AtomicBool,
}

impl State {
    fn answer(&self, command: &str) -> String {
        let players = self.players.lock().unwrap();
        match command.split_once(' ').unwrap_or((command, "")) {
            ("list", _) => format!("There are {} of a max of 20 players online: {}", players.len(), players.join(", ")),
            ("save-off", _) => "Automatic saving is now disabled".into(),
            ("save-all", "flush") if self.save_fails.load(SeqCst) => "Unable to save the game (is there enough disk space?)".into(),
            ("save-all", "flush") => "Saving the game (this may take a moment!)Saved the game".into(),
            ("whitelist", "add Nobody") => "That player does not exist".into(),
            ("whitelist", rest) if rest.starts_with("add ") => format!("Added {} to the whitelist", &rest[4..]),
            ("stop", _) => "Stopping the server".into(),
            ("op", name) => format!("Made {name} a server operator"),
            ("deop", name) => format!("Made {name} no longer a server operator"),
            _ => "Unknown or incomplete command, see below for error".into(),
        }
    }

    async fn session(self: Arc<Self>, mut s: TcpStream) {
        while let Ok(p) = read_packet(&mut s).await {
            let reply = match p.kind {
                3 if p.body == PASSWORD.as_bytes() => encode(p.id, 2, b""),
                3 => encode(-1, 2, b""),
                2 => {
                    let command = String::from_utf8(p.body).unwrap();
                    let now = self.in_flight.fetch_add(1, SeqCst) + 1;
                    self.max_in_flight.fetch_max(now, SeqCst);
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    let reply = self.answer(&command);
                    self.seen.lock().unwrap().push(command);
                    self.in_flight.fetch_sub(1, SeqCst);
                    encode(p.id, 0, reply.as_bytes())
                }
                _ => encode(p.id, 0, b"Unknown request 0"),
            };
            if s.write_all(&reply).await.is_err() {
                return;
            }
            // After the end marker's echo: between two commands.
            if p.kind == 0 && self.hang_up.swap(false, SeqCst) {
                return;
            }
        }
    }
}

async fn server() -> (SocketAddr, Arc<State>, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Arc::new(State::default());
    let st = state.clone();
    let task = tokio::spawn(async move {
        loop {
            let (s, _) = listener.accept().await.unwrap();
            st.connections.fetch_add(1, SeqCst);
            tokio::spawn(st.clone().session(s));
        }
    });
    (addr, state, task)
}

fn names(v: Vec<PlayerName>) -> Vec<String> {
    v.into_iter().map(|p| p.to_string()).collect()
}

#[tokio::test]
async fn list_reads_no_one_one_and_many_players_on_one_connection() {
    let (addr, state, _task) = server().await;
    let mut c = RconConsole::new(addr, Secret::new(PASSWORD));
    assert!(c.list_players().await.unwrap().is_empty());
    state.players.lock().unwrap().push("Steve");
    assert_eq!(names(c.list_players().await.unwrap()), ["Steve"]);
    state.players.lock().unwrap().extend(["Alex", "Notch_2"]);
    assert_eq!(names(c.list_players().await.unwrap()), ["Steve", "Alex", "Notch_2"]);
    assert_eq!(state.connections.load(SeqCst), 1);
}

#[test]
fn list_replies_of_another_shape_are_refused() {
    assert_eq!(parse_list("There are 0 of a max of 20 players online: "), Some(vec![]));
    assert_eq!(parse_list("There are 3 of a max of 20 players online: Steve"), None);
    assert_eq!(parse_list("Unknown or incomplete command, see below for error"), None);
}

#[tokio::test]
async fn a_lost_connection_is_made_again_and_the_command_sent_once_more() {
    let (addr, state, task) = server().await;
    let mut c = RconConsole::new(addr, Secret::new(PASSWORD));
    state.hang_up.store(true, SeqCst);
    c.save_off().await.unwrap();
    // The server hung up after answering; the next command finds out and reconnects.
    c.save_off().await.unwrap();
    assert_eq!(state.connections.load(SeqCst), 2);
    assert_eq!(*state.seen.lock().unwrap(), ["save-off", "save-off"]);
    // A new JVM: the console drops its connection and makes a new one.
    c.disconnect().await;
    c.list_players().await.unwrap();
    assert_eq!(state.connections.load(SeqCst), 3);

    // Nobody listening any more: the error names the address, and never the password.
    task.abort();
    let _ = task.await;
    c.disconnect().await;
    let e = c.list_players().await.unwrap_err().to_string();
    assert!(
        e.contains(&format!("console command `list`: cannot connect to RCON at {addr}")),
        "{e}"
    );
    assert!(!e.contains(PASSWORD), "{e}");
}

#[tokio::test]
async fn commands_from_clones_run_one_at_a_time() {
    let (addr, state, _task) = server().await;
    let c = RconConsole::new(addr, Secret::new(PASSWORD));
    let (mut a, mut b, mut d) = (c.clone(), c.clone(), c.clone());
    let (x, y, z) = tokio::join!(a.list_players(), b.save_off(), d.save_all_flush());
    assert_eq!(x.unwrap(), vec![]);
    y.unwrap();
    z.unwrap();
    assert_eq!(state.max_in_flight.load(SeqCst), 1);
    assert_eq!(state.connections.load(SeqCst), 1);
    assert_eq!(state.seen.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn failures_quote_the_answer_and_bad_names_are_never_sent() {
    let (addr, state, _task) = server().await;
    let mut c = RconConsole::new(addr, Secret::new(PASSWORD));
    c.whitelist_add(&PlayerName::new("Herobrine")).await.unwrap();
    let e = c.whitelist_add(&PlayerName::new("Nobody")).await.unwrap_err().to_string();
    assert_eq!(e, "console command `whitelist add Nobody`: That player does not exist");
    state.save_fails.store(true, SeqCst);
    let e = c.save_all_flush().await.unwrap_err().to_string();
    assert!(e.contains("Unable to save the game"), "{e}");
    let e = c.save_on().await.unwrap_err().to_string();
    assert!(e.contains("unexpected answer \"Unknown or incomplete command"), "{e}");
    let e = c.op(&PlayerName::new("x op Eve"), 4).await.unwrap_err().to_string();
    assert!(e.contains("\"x op Eve\" is not a Minecraft name"), "{e}");
    assert!(!state.seen.lock().unwrap().iter().any(|s| s.contains("Eve")));
}

#[tokio::test]
async fn a_wrong_password_is_an_error_that_does_not_print_it() {
    let (addr, _state, _task) = server().await;
    let mut c = RconConsole::new(addr, Secret::new("not-the-password"));
    let e = c.list_players().await.unwrap_err().to_string();
    assert!(e.contains("rejected the password"), "{e}");
    assert!(!e.contains("not-the-password"), "{e}");
}

#[tokio::test]
async fn stop_is_sent_and_the_connection_dropped() {
    let (addr, state, _task) = server().await;
    let mut c = RconConsole::new(addr, Secret::new(PASSWORD));
    c.list_players().await.unwrap();
    c.stop().await.unwrap();
    assert_eq!(*state.seen.lock().unwrap(), ["list", "stop"]);
    c.list_players().await.unwrap();
    assert_eq!(state.connections.load(SeqCst), 2, "a new connection after stop");
}

#[test]
fn the_granted_op_level_comes_from_server_properties() {
    assert_eq!(granted_op_level("motd=x\nop-permission-level=2\n"), 2);
    assert_eq!(granted_op_level("op-permission-level = 3\n"), 3);
    assert_eq!(granted_op_level("motd=x\n"), 4, "vanilla's default");
    assert_eq!(granted_op_level("op-permission-level=9\n"), 4, "unreadable: the highest");
    assert_eq!(granted_op_level("op-permission-level=two\n"), 4, "unreadable: the highest");
}

#[tokio::test]
async fn op_never_grants_more_than_ops_toml_says() {
    let (addr, state, _task) = server().await;
    let dir = tempfile::tempdir().unwrap();
    let props = dir.path().join("server.properties");
    std::fs::write(&props, "op-permission-level=3\n").unwrap();
    let mut c = RconConsole::new(addr, Secret::new(PASSWORD)).with_properties(props);
    c.op(&PlayerName::new("Steve"), 3).await.unwrap();
    c.op(&PlayerName::new("Alex"), 4).await.unwrap();
    c.op(&PlayerName::new("Jeb_"), 2).await.unwrap();
    assert_eq!(
        *state.seen.lock().unwrap(),
        ["op Steve", "op Alex", "deop Jeb_"],
        "level 3 and 4 get `op` (level 3), level 2 would be over-granted: deop until the next start"
    );
}
