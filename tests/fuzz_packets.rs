//! Fuzz target (issue 12, measurements): the sleeping listener's packet
//! readers, fed arbitrary bytes as a client would send them. The bytes go
//! through the listener's own frame reader (`sleeping::read_packet`, the
//! [`MAX_CLIENT_FRAME`] cap) and every frame through every body parser it
//! uses (Handshake, Status Request, Ping, Login Start, Encryption Response,
//! whose fields then go through the listener key's decryption).
//! For every input: no panic; an accepted packet written back parses to the
//! same packet; and the bytes allocated while reading one input stay under
//! [`ALLOCATION_BOUND`], however large the lengths it announces (a counting
//! global allocator on the fuzzing thread measures it).
//!
//! `MC_GITOPS_FUZZ_SECS` sets the budget (3 s in CI); the long run is
//! `bash scripts/fuzz 600 fuzz_packets`.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use mc_gitops::agent::sleeping::{MAX_CLIENT_FRAME, read_packet};
use mc_gitops::minecraft::encryption::{EncryptionResponse, MAX_ENCRYPTED_LEN, ServerKey};
use mc_gitops::minecraft::handshake::{Handshake, LoginStart, NextState, Ping, StatusRequest};
use mc_gitops::minecraft::packets::{self, Cursor, PacketError};

use common::fuzz;

/// What reading one input may allocate at its peak: the frame buffer and a
/// copy of its body (each at most [`MAX_CLIENT_FRAME`]), the parsed fields,
/// the packets written back and the big integers of one RSA decryption of
/// an at most 128-byte block (a few KiB), with room to spare. An announced
/// length is never allocated before it is checked, so no input comes near.
const ALLOCATION_BOUND: usize = 64 * 1024;

thread_local! {
    static TRACKING: Cell<bool> = const { Cell::new(false) };
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

/// The system allocator, counting live bytes on a thread that asked for it.
struct Counting;

fn count(grow: usize, shrink: usize) {
    let _ = TRACKING.try_with(|t| {
        if t.get() {
            let live = LIVE.with(|l| {
                let v = (l.get() + grow).saturating_sub(shrink);
                l.set(v);
                v
            });
            PEAK.with(|p| p.set(p.get().max(live)));
        }
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size(), 0);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(0, layout.size());
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size, layout.size());
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The peak bytes `f` allocated on this thread beyond what was live before.
fn peak_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LIVE.with(|l| l.set(0));
    PEAK.with(|p| p.set(0));
    TRACKING.with(|t| t.set(true));
    let out = f();
    TRACKING.with(|t| t.set(false));
    (out, PEAK.with(|p| p.get()))
}

/// The body of a frame this crate wrote.
fn body_of(frame: &[u8]) -> Vec<u8> {
    let mut c = Cursor::new(frame);
    c.varint().unwrap();
    c.varint().unwrap();
    frame[c.pos..].to_vec()
}

/// The listener's key, made once (as the listener makes one per start).
fn key() -> &'static ServerKey {
    static KEY: std::sync::OnceLock<ServerKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| ServerKey::generate().unwrap())
}

/// Every parser on one frame body; an accepted packet must round-trip.
fn parse_every_way(body: &[u8]) {
    if let Ok(h) = Handshake::parse(body) {
        assert_eq!(Handshake::parse(&body_of(&h.write())).unwrap(), h);
    }
    if let Ok(l) = LoginStart::parse(body) {
        assert_eq!(LoginStart::parse(&body_of(&l.write())).unwrap(), l);
    }
    if let Ok(r) = EncryptionResponse::parse(body) {
        assert!(r.shared_secret.len() <= MAX_ENCRYPTED_LEN && r.verify_token.len() <= MAX_ENCRYPTED_LEN);
        assert_eq!(EncryptionResponse::parse(&body_of(&r.write())).unwrap(), r);
        // What the listener does next: decrypt both fields with its key.
        assert!(key().open(&r, &[0x3c; 4]).is_err(), "random bytes never decrypt to the token");
    }
    if let Ok(p) = Ping::parse(body) {
        assert_eq!(Ping::parse(&body_of(&p.write())).unwrap(), p);
    }
    if StatusRequest::parse(body).is_ok() {
        assert!(body.is_empty());
    }
}

/// Read `input` as the listener reads a connection, frame after frame until
/// the first error; how many frames were read, and why it stopped.
fn feed(rt: &tokio::runtime::Runtime, input: &[u8]) -> (usize, PacketError) {
    let mut r = input;
    rt.block_on(async {
        let mut frames = 0;
        loop {
            match read_packet(&mut r).await {
                Ok((_id, body)) => {
                    assert!(body.len() < MAX_CLIENT_FRAME);
                    parse_every_way(&body);
                    frames += 1;
                }
                Err(e) => return (frames, e),
            }
        }
    })
}

/// A login (handshake, Login Start, Encryption Response) then a status
/// exchange (handshake, Status Request, Ping), as clients send them.
fn seed() -> Vec<u8> {
    let hs = |next| Handshake {
        protocol: 763,
        host: "mc.grove.place".into(),
        port: 25565,
        next,
    };
    let mut v = hs(NextState::Login).write();
    v.extend(
        LoginStart {
            name: "Steve".into(),
            uuid: Some([0x5e; 16]),
        }
        .write(),
    );
    v.extend(
        EncryptionResponse {
            shared_secret: vec![0xa5; MAX_ENCRYPTED_LEN],
            verify_token: vec![0x3c; MAX_ENCRYPTED_LEN],
        }
        .write(),
    );
    v.extend(hs(NextState::Status).write());
    v.extend(StatusRequest.write());
    v.extend(Ping(1_764_000_000_000).write());
    v
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().unwrap()
}

#[test]
fn fuzz_the_sleeping_listeners_packet_readers() {
    let rt = runtime();
    key();
    let (frames, end) = feed(&rt, &seed());
    assert_eq!(frames, 6, "the seed is valid to its end");
    assert!(matches!(end, PacketError::Closed), "{end}");
    let mut worst = 0;
    fuzz::run("packets", fuzz::bytes_near(seed(), 2 * MAX_CLIENT_FRAME), |input| {
        let (_, peak) = peak_allocation(|| feed(&rt, &input));
        worst = worst.max(peak);
        assert!(peak <= ALLOCATION_BOUND, "{peak} bytes allocated for a {}-byte input", input.len());
    });
    println!("fuzz packets: peak allocation per input {worst} bytes (bound {ALLOCATION_BOUND})");
}

/// Resource bound: a frame one byte over the cap, and one announcing 2 GiB,
/// are refused naming the cap, without allocating what they announce.
#[test]
fn frames_over_the_cap_are_refused_without_allocating_them() {
    let rt = runtime();
    for len in [MAX_CLIENT_FRAME as i32 + 1, i32::MAX] {
        let mut input = Vec::new();
        packets::write_varint(&mut input, len);
        input.extend(vec![0u8; 64]);
        let ((frames, end), peak) = peak_allocation(|| feed(&rt, &input));
        assert_eq!(frames, 0);
        let text = end.to_string();
        assert!(matches!(end, PacketError::FrameLength { max: MAX_CLIENT_FRAME, .. }), "{text}");
        assert!(
            text.contains(&len.to_string()) && text.contains(&MAX_CLIENT_FRAME.to_string()),
            "{text}"
        );
        assert!(peak < 1024, "{peak} bytes allocated for a refused {len}-byte frame");
    }
    // A byte array one over its cap inside a frame that fits.
    let over = EncryptionResponse {
        shared_secret: vec![1; MAX_ENCRYPTED_LEN + 1],
        verify_token: vec![2; 4],
    };
    let err = EncryptionResponse::parse(&body_of(&over.write())).unwrap_err();
    assert!(
        matches!(err, PacketError::BytesLength { len, max: MAX_ENCRYPTED_LEN } if len == MAX_ENCRYPTED_LEN as i64 + 1),
        "{err}"
    );
}
