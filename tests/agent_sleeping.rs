//! The sleeping listener against hostile and odd clients: malformed and
//! oversized frames, a legacy 0xFE ping, more connections than it serves;
//! closing it frees the port for Minecraft at once; in stopping mode it
//! answers "stopping" and wakes nobody. (Attacks on the wake itself, and the
//! authenticated login that wakes, are in `hostile_wake.rs`.)

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use mc_gitops::agent::sleeping::{MAX_CONNECTIONS, NOT_WHITELISTED, STOPPING_MESSAGE, STOPPING_STATUS, Sleeping, SleepingConfig};
use mc_gitops::minecraft::packets;
use mc_gitops::minecraft::session_server::SessionServer;
use mc_gitops::minecraft::slp;
use mc_gitops::storage::WhitelistEntry;

async fn sleeping() -> Sleeping {
    let config = SleepingConfig {
        motd: "Grove".into(),
        max_players: 5,
        whitelist: vec![WhitelistEntry::name_only("Steve")],
        version_name: "1.20.1".into(),
        protocol: 763,
        // Nothing listens there: these tests never get as far as asking it.
        session_server: SessionServer::new("http://127.0.0.1:9").unwrap(),
    };
    Sleeping::bind("127.0.0.1:0".parse().unwrap(), config).await.unwrap()
}

const T: Duration = Duration::from_secs(5);

/// Send bytes and read until the listener closes the connection.
async fn exchange(port: u16, bytes: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(bytes).await.unwrap();
    // Half-close: a truncated frame then ends in EOF instead of waiting for more.
    s.shutdown().await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(T, s.read_to_end(&mut out))
        .await
        .expect("the listener must close the connection");
    out
}

#[tokio::test]
async fn malformed_and_oversized_packets_are_dropped_and_the_listener_keeps_serving() {
    let l = sleeping().await;
    let port = l.local_addr().port();
    let mut huge = Vec::new();
    packets::write_varint(&mut huge, 1 << 20);
    let mut bad_login = Vec::new();
    packets::write_varint(&mut bad_login, 763);
    packets::write_string(&mut bad_login, "x");
    bad_login.extend_from_slice(&25565u16.to_be_bytes());
    packets::write_varint(&mut bad_login, 2);
    let mut bytes = packets::frame(0, &bad_login);
    bytes.extend(packets::frame(0, &[200, 1])); // a 200-byte name in a 2-byte body
    for garbage in [huge, vec![0xff; 10], vec![3, 0, 1], bytes] {
        let reply = exchange(port, &garbage).await;
        assert!(reply.is_empty(), "garbage {garbage:?} got a reply {reply:?}");
    }
    let s = slp::status("127.0.0.1", port, T).await.unwrap();
    assert_eq!(s.max, 5);
}

#[tokio::test]
async fn legacy_ping_gets_the_1_6_kick_reply() {
    let l = sleeping().await;
    let reply = exchange(l.local_addr().port(), &[0xFE, 0x01]).await;
    assert_eq!(reply[0], 0xFF);
    let units: Vec<u16> = reply[3..].chunks(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
    let text = String::from_utf16(&units).unwrap();
    assert_eq!(text, "§1\u{0}763\u{0}1.20.1\u{0}Grove\u{0}0\u{0}5");
}

#[tokio::test]
async fn connections_beyond_the_bound_are_closed_at_once() {
    let l = sleeping().await;
    let port = l.local_addr().port();
    let mut idle = Vec::new();
    for _ in 0..MAX_CONNECTIONS {
        idle.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    }
    // Let the listener accept them all before the extra one arrives.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let reply = exchange(port, &[]).await;
    assert!(reply.is_empty());
    drop(idle);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(slp::status("127.0.0.1", port, T).await.is_ok(), "served again once slots are free");
}

#[tokio::test]
async fn dropping_the_listener_frees_the_port() {
    let l = sleeping().await;
    let addr = l.local_addr();
    drop(l);
    tokio::time::sleep(Duration::from_millis(50)).await;
    tokio::net::TcpListener::bind(addr)
        .await
        .expect("Minecraft can bind the port again");
}

fn login_bytes(name: &[u8]) -> Vec<u8> {
    let mut hs = Vec::new();
    packets::write_varint(&mut hs, 763);
    packets::write_string(&mut hs, "mc.grove.place");
    hs.extend_from_slice(&25565u16.to_be_bytes());
    packets::write_varint(&mut hs, 2);
    let mut start = Vec::new();
    packets::write_varint(&mut start, name.len() as i32);
    start.extend_from_slice(name);
    start.push(0); // has UUID: no
    let mut out = packets::frame(0, &hs);
    out.extend(packets::frame(0, &start));
    out
}

/// The disconnect reason of a Login Disconnect frame.
async fn reason(reply: &[u8]) -> String {
    let (id, body) = packets::read_frame(&mut &reply[..], 4096).await.unwrap();
    assert_eq!(id, 0);
    packets::Cursor::new(&body).string(4096).unwrap()
}

#[tokio::test]
async fn names_not_on_the_whitelist_are_refused_in_valid_json_and_long_names_dropped() {
    let mut l = sleeping().await;
    let port = l.local_addr().port();
    for hostile in [&b"Steve\"}"[..], b"Steve\n", b"'; rm -rf / #"] {
        let r = reason(&exchange(port, &login_bytes(hostile)).await).await;
        let v: serde_json::Value = serde_json::from_str(&r).expect("the reason stays valid JSON");
        assert_eq!(v["text"], NOT_WHITELISTED, "{r}");
    }
    // A 17-byte name is not a Login Start we serve: dropped without a reply.
    assert!(exchange(port, &login_bytes(b"SteveSteveSteveSt")).await.is_empty());
    assert!(tokio::time::timeout(Duration::from_millis(100), l.next_event()).await.is_err());
}

#[tokio::test]
async fn a_login_with_another_protocol_version_is_told_which_one_to_use() {
    let l = sleeping().await;
    let mut bytes = login_bytes(b"Steve");
    bytes[2] = 0xFF; // protocol 763 (0xFB 0x05) becomes 767
    let r = reason(&exchange(l.local_addr().port(), &bytes).await).await;
    assert!(r.contains("runs Minecraft 1.20.1"), "{r}");
}

/// Regression (issue 11, break 11): a dropped listener's socket closed only
/// when the runtime next ran its task, so binding the port right after failed
/// with "Address already in use". `close` returns once it is closed.
#[tokio::test]
async fn closing_the_listener_frees_the_port_before_it_returns() {
    for _ in 0..20 {
        let l = sleeping().await;
        let addr = l.local_addr();
        // A client mid-exchange does not keep the port.
        let _open = TcpStream::connect(addr).await.unwrap();
        l.close().await;
        let again = tokio::net::TcpListener::bind(addr)
            .await
            .expect("Minecraft can bind the port at once");
        drop(again);
    }
}

/// Regression (issue 11, break 13): while terminating nothing answered.
#[tokio::test]
async fn in_stopping_mode_a_ping_says_stopping_and_a_whitelisted_login_wakes_nobody() {
    let mut l = sleeping().await;
    let port = l.local_addr().port();
    l.set_stopping();
    let s = slp::status("127.0.0.1", port, T).await.unwrap();
    assert!(
        s.description.contains("Grove") && s.description.contains(STOPPING_STATUS),
        "{}",
        s.description
    );
    let r = reason(&exchange(port, &login_bytes(b"Steve")).await).await;
    assert!(r.contains(STOPPING_MESSAGE), "{r}");
    assert!(
        tokio::time::timeout(Duration::from_millis(200), l.next_event()).await.is_err(),
        "no wake while stopping"
    );
}
