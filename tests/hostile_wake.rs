//! Hostile-input corpus for the sleeping listener's wake (issue 12, item 7):
//! whitelisted names are public, so knowing one must not wake the server.
//! Each test is one attack against the real listener on a real socket, at
//! its default deadlines, with a fake of Mojang's session server
//! (`tests/fakes/session_server.rs`) that links `join` and `hasJoined` as
//! Mojang does. The attacker's client is written here (it must be able to
//! lie); the real client is node-minecraft-protocol (mineflayer) in online
//! mode.

#[path = "fakes/session_server.rs"]
mod session_fake;

mod common;

use std::process::Command;
use std::time::Duration;

use rsa::pkcs8::DecodePublicKey;
use rsa::rand_core::{OsRng, RngCore};
use rsa::{Pkcs1v15Encrypt, RsaPublicKey};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use mc_gitops::agent::sleeping::{
    NOT_WHITELISTED, RATE_LIMITED, RESPONSE_DEADLINE, Sleeping, SleepingConfig, UNVERIFIED, WAKE_MESSAGE, Woken,
};
use mc_gitops::agent::wake_limit::{MAX_FAILURES_OVERALL, MAX_FAILURES_PER_ADDRESS};
use mc_gitops::ids::{PlayerName, PlayerUuid};
use mc_gitops::minecraft::encryption::{Cfb8, EncryptionRequest, EncryptionResponse, server_hash};
use mc_gitops::minecraft::handshake::{Disconnect, Handshake, LoginStart, NextState};
use mc_gitops::minecraft::packets;
use mc_gitops::minecraft::session_server::SessionServer;
use mc_gitops::storage::WhitelistEntry;
use session_fake::{Account, Call, FakeSessionServer};

const T: Duration = Duration::from_secs(10);

/// The listener with a whitelist of names only (an older reconciler's
/// document, or players whose uuid `check --fix` has not filled in yet).
async fn setup() -> (Sleeping, FakeSessionServer) {
    let fake = FakeSessionServer::start().await;
    let l = listen(&fake, vec![WhitelistEntry::name_only("Steve"), WhitelistEntry::name_only("Alex")]).await;
    (l, fake)
}

async fn listen(fake: &FakeSessionServer, whitelist: Vec<WhitelistEntry>) -> Sleeping {
    let config = SleepingConfig {
        motd: "Grove".into(),
        max_players: 5,
        whitelist,
        version_name: "1.20.1".into(),
        protocol: 763,
        session_server: SessionServer::new(&fake.url()).unwrap(),
    };
    Sleeping::bind("127.0.0.1:0".parse().unwrap(), config).await.unwrap()
}

/// `name` on the whitelist with `account`'s UUID, written `dashed` as the
/// player file has it (the session server writes it undashed).
fn listed(name: &str, account: &Account, dashed: bool) -> WhitelistEntry {
    let uuid = PlayerUuid::parse(&account.id).unwrap();
    let written = if dashed { uuid.to_string() } else { account.id.clone() };
    WhitelistEntry {
        name: PlayerName::new(name),
        uuid: Some(PlayerUuid::parse(&written).unwrap()),
    }
}

/// A connection from `from` (any 127.0.0.0/8 address is this machine).
async fn connect(from: &str, port: u16) -> TcpStream {
    let sock = TcpSocket::new_v4().unwrap();
    sock.bind(format!("{from}:0").parse().unwrap()).unwrap();
    sock.connect(format!("127.0.0.1:{port}").parse().unwrap()).await.unwrap()
}

/// The listener's first answer to a Login Start.
enum First {
    Disconnect(String),
    Encryption(EncryptionRequest),
}

fn reason_text(d: &Disconnect) -> String {
    let v: serde_json::Value = serde_json::from_str(&d.reason).expect("the reason is a chat component");
    v["text"].as_str().unwrap().to_string()
}

/// Handshake and Login Start as `name`; what the listener answers.
async fn begin(s: &mut TcpStream, name: &str) -> First {
    let port = s.peer_addr().unwrap().port();
    let mut out = Handshake {
        protocol: 763,
        host: "mc.grove.place".into(),
        port,
        next: NextState::Login,
    }
    .write();
    out.extend(
        LoginStart {
            name: name.into(),
            uuid: None,
        }
        .write(),
    );
    s.write_all(&out).await.unwrap();
    let (id, body) = tokio::time::timeout(T, packets::read_frame(s, 4096)).await.unwrap().unwrap();
    match id {
        0 => First::Disconnect(reason_text(&Disconnect::parse(&body).unwrap())),
        1 => First::Encryption(EncryptionRequest::parse(&body).unwrap()),
        other => panic!("unexpected packet {other:#x}"),
    }
}

/// How the attacker's client answers an Encryption Request.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// As the real client: `join` at the session server with the account's token.
    Honest,
    /// No `join` (no access token for the account: anyone who knows the name).
    WithoutJoin,
    /// Joins, but sends back a verify token other than the one it got.
    WrongToken,
}

/// Answer `req` as `account` would; the Disconnect reason the listener
/// sends (decrypted), or `None` if it hung up without one.
async fn answer(s: &mut TcpStream, req: &EncryptionRequest, account: &Account, fake: &FakeSessionServer, how: Answer) -> Option<String> {
    let mut secret = [0u8; 16];
    OsRng.fill_bytes(&mut secret);
    if how != Answer::WithoutJoin {
        let resp = reqwest::Client::new()
            .post(format!("{}/session/minecraft/join", fake.url()))
            .json(&serde_json::json!({
                "accessToken": account.access_token,
                "selectedProfile": account.id,
                "serverId": server_hash(&req.server_id, &secret, &req.public_key),
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 204, "the fake accepts the account's join");
    }
    let key = RsaPublicKey::from_public_key_der(&req.public_key).expect("the listener's key is X.509 DER");
    let mut token = req.verify_token.clone();
    if how == Answer::WrongToken {
        token[0] ^= 0xff;
    }
    let seal = |m: &[u8]| key.encrypt(&mut OsRng, Pkcs1v15Encrypt, m).unwrap();
    let response = EncryptionResponse {
        shared_secret: seal(&secret),
        verify_token: seal(&token),
    };
    s.write_all(&response.write()).await.unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(T, s.read_to_end(&mut rest))
        .await
        .expect("the listener closes the connection")
        .unwrap();
    if rest.is_empty() {
        return None;
    }
    Cfb8::new(&secret).decrypt(&mut rest);
    let (id, body) = packets::read_frame(&mut rest.as_slice(), 4096).await.unwrap();
    assert_eq!(id, 0, "a Login Disconnect");
    Some(reason_text(&Disconnect::parse(&body).unwrap()))
}

async fn no_wake(l: &mut Sleeping, within: Duration) {
    let got = tokio::time::timeout(within, l.next_event()).await;
    assert!(got.is_err(), "the server was woken: {got:?}");
}

async fn woken(l: &mut Sleeping) -> Woken {
    tokio::time::timeout(T, l.next_event()).await.expect("a wake").unwrap()
}

// Attack: send a whitelisted name and never answer the Encryption Request.
#[tokio::test]
async fn a_whitelisted_name_without_an_encryption_response_wakes_nothing() {
    let (mut l, fake) = setup().await;
    let mut s = connect("127.0.0.1", l.local_addr().port()).await;
    let First::Encryption(req) = begin(&mut s, "Steve").await else {
        panic!("a whitelisted name gets an Encryption Request");
    };
    assert_eq!(req.server_id, "");
    assert_eq!(req.verify_token.len(), 4);
    no_wake(&mut l, RESPONSE_DEADLINE - Duration::from_secs(1)).await;
    // At its deadline the listener hangs up, still without waking anything.
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut rest))
        .await
        .expect("closed at the response deadline")
        .unwrap();
    assert!(rest.is_empty(), "{rest:?}");
    no_wake(&mut l, Duration::from_millis(200)).await;
    assert_eq!(fake.calls(), vec![], "the session server was never asked");
}

// Attack: replay a join the session server knows, with a verify token that
// was not the one sent (a response made for another connection or key).
#[tokio::test]
async fn a_wrong_verify_token_wakes_nothing() {
    let (mut l, fake) = setup().await;
    let steve = fake.account("Steve");
    let mut s = connect("127.0.0.1", l.local_addr().port()).await;
    let First::Encryption(req) = begin(&mut s, "Steve").await else {
        panic!()
    };
    let reply = answer(&mut s, &req, &steve, &fake, Answer::WrongToken).await;
    assert_eq!(reply, None, "hung up: there is no agreed cipher to say anything with");
    no_wake(&mut l, Duration::from_millis(500)).await;
    assert_eq!(fake.has_joined_calls(), 0, "refused before asking the session server");
}

// Attack: complete the key exchange for a whitelisted name without that
// account's access token (the session server never heard of the join).
#[tokio::test]
async fn a_login_the_session_server_does_not_know_wakes_nothing() {
    let (mut l, fake) = setup().await;
    let steve = fake.account("Steve");
    let mut s = connect("127.0.0.1", l.local_addr().port()).await;
    let First::Encryption(req) = begin(&mut s, "Steve").await else {
        panic!()
    };
    let reply = answer(&mut s, &req, &steve, &fake, Answer::WithoutJoin).await;
    assert_eq!(reply.as_deref(), Some(UNVERIFIED));
    no_wake(&mut l, Duration::from_millis(500)).await;
    let calls = fake.calls();
    assert!(
        matches!(&calls[..], [Call::HasJoined { username, status: 204, .. }] if username == "Steve"),
        "{calls:?}"
    );

    // The session server failing is a refusal too, never a wake.
    fake.then_answer(&[500]);
    let mut s = connect("127.0.0.1", l.local_addr().port()).await;
    let First::Encryption(req) = begin(&mut s, "Steve").await else {
        panic!()
    };
    let reply = answer(&mut s, &req, &steve, &fake, Answer::Honest).await;
    assert!(reply.is_some_and(|r| r.contains("Authentication servers are down")));
    no_wake(&mut l, Duration::from_millis(500)).await;
}

// Attack: a valid account of one's own, with a name not on the whitelist.
#[tokio::test]
async fn a_name_not_on_the_whitelist_wakes_nothing() {
    let (mut l, fake) = setup().await;
    let mut s = connect("127.0.0.1", l.local_addr().port()).await;
    let First::Disconnect(reason) = begin(&mut s, "Mallory").await else {
        panic!("no key exchange for a name not on the whitelist");
    };
    assert_eq!(reason, NOT_WHITELISTED);
    no_wake(&mut l, Duration::from_millis(500)).await;
    assert_eq!(fake.calls(), vec![]);
}

// Attack: a friend renames their account and a stranger registers the
// name they gave up. The stranger's own account proves the name to the
// session server (hasJoined answers the stranger's UUID), so a check by
// name alone woke the server (reproduced before the fix: a wake for Steve).
#[tokio::test]
async fn a_same_name_account_with_another_uuid_wakes_nothing() {
    let (log, _guard) = common::log::Log::capture();
    let fake = FakeSessionServer::start().await;
    let friend = fake.account("Steve_Renamed");
    let stranger = fake.account("Steve");
    let alex = fake.account("Alex");
    let notch = fake.account("Notch_");
    let whitelist = vec![
        listed("Steve", &friend, true),
        listed("Alex", &alex, true),
        WhitelistEntry::name_only("Notch_"),
    ];
    let mut l = listen(&fake, whitelist).await;
    let port = l.local_addr().port();
    let mut s = connect("127.0.0.1", port).await;
    let First::Encryption(req) = begin(&mut s, "Steve").await else {
        panic!("the name is on the whitelist: the key exchange goes on")
    };
    let reply = answer(&mut s, &req, &stranger, &fake, Answer::Honest).await;
    assert_eq!(
        reply.as_deref(),
        Some(NOT_WHITELISTED),
        "vanilla's words for an account not on the list"
    );
    no_wake(&mut l, Duration::from_millis(500)).await;
    let calls = fake.calls();
    assert!(
        matches!(&calls[..], [Call::Join { .. }, Call::HasJoined { username, status: 200, .. }] if username == "Steve"),
        "the session server vouched for the stranger's account: {calls:?}"
    );
    let (listed_uuid, joined_uuid) = (PlayerUuid::parse(&friend.id).unwrap(), PlayerUuid::parse(&stranger.id).unwrap());
    let refused = log.text();
    assert!(
        refused.contains(&format!("Steve's account {joined_uuid}, not the whitelisted {listed_uuid}")),
        "the refusal is logged with the name and both UUIDs: {refused}"
    );

    // The listed account, whose UUID the file writes dashed and the
    // session server undashed, still wakes the server.
    let mut s = connect("127.0.0.1", port).await;
    let First::Encryption(req) = begin(&mut s, "alex").await else {
        panic!()
    };
    let reply = answer(&mut s, &req, &alex, &fake, Answer::Honest).await;
    assert_eq!(reply.as_deref(), Some(WAKE_MESSAGE));
    assert_eq!(woken(&mut l).await, Woken(PlayerName::new("Alex")));
    no_wake(&mut l, Duration::from_millis(200)).await;

    // An entry without a UUID matches by name, as before; the log says so once.
    for _ in 0..2 {
        let mut s = connect("127.0.0.1", port).await;
        let First::Encryption(req) = begin(&mut s, "Notch_").await else {
            panic!()
        };
        assert_eq!(
            answer(&mut s, &req, &notch, &fake, Answer::Honest).await.as_deref(),
            Some(WAKE_MESSAGE)
        );
        assert_eq!(woken(&mut l).await, Woken(PlayerName::new("Notch_")));
    }
    let text = log.text();
    assert_eq!(text.matches("Notch_ is whitelisted without a uuid").count(), 1, "{text}");
    assert!(!text.contains("Alex is whitelisted without a uuid"), "{text}");
}

// Attack: loop on failed logins (from one address, then from many) to spend
// the listener's RSA decryptions and session-server requests.
#[tokio::test]
async fn repeated_failed_logins_are_rate_limited_per_address_and_overall() {
    let (mut l, fake) = setup().await;
    let port = l.local_addr().port();
    let steve = fake.account("Steve");
    let fail = |from: &'static str| {
        let (fake, steve) = (fake.clone(), steve.clone());
        async move {
            let mut s = connect(from, port).await;
            let First::Encryption(req) = begin(&mut s, "Steve").await else {
                panic!("{from} was refused before its failure")
            };
            answer(&mut s, &req, &steve, &fake, Answer::WithoutJoin).await
        }
    };
    for _ in 0..MAX_FAILURES_PER_ADDRESS {
        assert_eq!(fail("127.0.0.2").await.as_deref(), Some(UNVERIFIED));
    }
    let asked = fake.has_joined_calls();
    // Even an honest login from that address is now refused up front.
    let mut s = connect("127.0.0.2", port).await;
    let First::Disconnect(reason) = begin(&mut s, "Steve").await else {
        panic!("no key exchange past the per-address limit")
    };
    assert_eq!(reason, RATE_LIMITED);
    assert_eq!(fake.has_joined_calls(), asked, "no session-server request past the limit");
    // Another address still wakes the server.
    let mut s = connect("127.0.0.3", port).await;
    let First::Encryption(req) = begin(&mut s, "Steve").await else {
        panic!()
    };
    let reply = answer(&mut s, &req, &steve, &fake, Answer::Honest).await;
    assert_eq!(reply.as_deref(), Some(WAKE_MESSAGE));
    assert_eq!(woken(&mut l).await, Woken(PlayerName::new("Steve")));

    // Failures from many addresses add up to the overall limit.
    const MANY: [&str; 6] = ["127.0.1.1", "127.0.1.2", "127.0.1.3", "127.0.1.4", "127.0.1.5", "127.0.1.6"];
    let mut failures = MAX_FAILURES_PER_ADDRESS;
    'fill: for from in MANY {
        for _ in 0..MAX_FAILURES_PER_ADDRESS {
            if failures == MAX_FAILURES_OVERALL {
                break 'fill;
            }
            assert_eq!(fail(from).await.as_deref(), Some(UNVERIFIED));
            failures += 1;
        }
    }
    assert_eq!(failures, MAX_FAILURES_OVERALL, "enough addresses to reach the overall limit");
    let mut s = connect("127.0.2.1", port).await;
    let First::Disconnect(reason) = begin(&mut s, "Alex").await else {
        panic!("no key exchange past the overall limit")
    };
    assert_eq!(reason, RATE_LIMITED);
    no_wake(&mut l, Duration::from_millis(200)).await;
}

// Not an attack: the honest path, with the name in another case.
#[tokio::test]
async fn an_authenticated_whitelisted_player_wakes_the_server_with_the_whitelists_spelling() {
    let (mut l, fake) = setup().await;
    let steve = fake.account("Steve");
    let mut s = connect("127.0.0.1", l.local_addr().port()).await;
    let First::Encryption(req) = begin(&mut s, "sTeVe").await else {
        panic!()
    };
    let reply = answer(&mut s, &req, &steve, &fake, Answer::Honest).await;
    assert_eq!(reply.as_deref(), Some(WAKE_MESSAGE));
    assert_eq!(woken(&mut l).await, Woken(PlayerName::new("Steve")));
    no_wake(&mut l, Duration::from_millis(200)).await;
}

/// mineflayer joins as each spec (`name` offline, `name:id:token` online
/// against the fake); how each attempt ended, one JSON object per name.
async fn mineflayer(port: u16, fake: &FakeSessionServer, specs: Vec<String>) -> Vec<serde_json::Value> {
    let peers = common::peers();
    assert!(peers.join("node_modules/mineflayer").exists(), "npm ci --prefix tests/peers");
    let url = fake.url();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("mineflayer_join.js")
            .arg(port.to_string())
            .args(specs)
            .env("MC_SESSION_SERVER", url)
            .current_dir(peers)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "mineflayer: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

// The real client: node-minecraft-protocol in online mode wakes the server;
// the same client offline (a cracked client: no session) does not.
#[tokio::test]
async fn a_real_online_mode_client_wakes_the_server_and_an_offline_one_does_not() {
    let fake = FakeSessionServer::start().await;
    let steve = fake.account("Steve");
    let mut l = listen(&fake, vec![listed("Steve", &steve, false), WhitelistEntry::name_only("Alex")]).await;
    let port = l.local_addr().port();
    let online = format!("Steve:{}:{}", steve.id, steve.access_token);
    let v = mineflayer(port, &fake, vec!["Steve".into(), online]).await;
    assert_eq!(v.len(), 2, "{v:?}");
    assert!(v[0]["kicked"].as_str().is_some_and(|k| k.contains(UNVERIFIED)), "offline: {v:?}");
    assert!(v[1]["kicked"].as_str().is_some_and(|k| k.contains(WAKE_MESSAGE)), "online: {v:?}");
    assert_eq!(woken(&mut l).await, Woken(PlayerName::new("Steve")));
    no_wake(&mut l, Duration::from_millis(200)).await;
    // The client's join and the listener's question name the same server hash.
    let calls = fake.calls();
    let joined: Vec<&String> = calls
        .iter()
        .filter_map(|c| match c {
            Call::Join {
                server_id, status: 204, ..
            } => Some(server_id),
            _ => None,
        })
        .collect();
    let granted: Vec<&String> = calls
        .iter()
        .filter_map(|c| match c {
            Call::HasJoined {
                server_id, status: 200, ..
            } => Some(server_id),
            _ => None,
        })
        .collect();
    assert_eq!((joined.len(), &granted), (1, &joined), "{calls:?}");
}

// The renamed-friend attack through the real client: node-minecraft-protocol
// in online mode, logged in as the stranger's account called Steve, while
// the whitelist lists Steve with the friend's UUID.
#[tokio::test]
async fn a_real_client_on_a_same_name_account_with_another_uuid_wakes_nothing() {
    let fake = FakeSessionServer::start().await;
    let friend = fake.account("Steve_Renamed");
    let stranger = fake.account("Steve");
    let mut l = listen(&fake, vec![listed("Steve", &friend, true)]).await;
    let online = format!("Steve:{}:{}", stranger.id, stranger.access_token);
    let v = mineflayer(l.local_addr().port(), &fake, vec![online]).await;
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0]["kicked"].as_str().is_some_and(|k| k.contains(NOT_WHITELISTED)), "{v:?}");
    no_wake(&mut l, Duration::from_millis(500)).await;
}
