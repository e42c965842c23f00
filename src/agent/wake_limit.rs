//! How many failed wakes the sleeping listener tolerates: per source
//! address and overall, within a sliding window. Each authenticated login
//! costs an RSA decryption and a request to the session server, so a
//! stranger looping on a whitelisted name would otherwise spend both
//! without bound (and give a timing attack on the key its queries).
//!
//! An attempt counts as failed from the moment it starts ([`WakeLimit::begin`]
//! returns a [`Ticket`]) until it succeeds ([`Ticket::succeeded`]), so an
//! attempt that times out, hangs up or panics is a failure without anyone
//! having to say so, and attempts in flight count too. The record holds at
//! most [`MAX_FAILURES_OVERALL`] entries: past that, nothing new starts.
//!
//! IPv6 addresses count by their /64, the block one host is usually given;
//! an IPv4-mapped address counts as its IPv4 address.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// How long a failure counts.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(10 * 60);
/// Failures (and attempts in flight) from one address within the window
/// after which its next login is refused before any key exchange. A player
/// who mistyped nothing needs one attempt; a few leave room for a client
/// started in offline mode or a flaky network.
pub const MAX_FAILURES_PER_ADDRESS: usize = 5;
/// Failures from every address together within the window after which
/// nobody's login starts an exchange until the oldest ages out: the bound
/// on session-server requests and RSA decryptions a botnet can cause.
pub const MAX_FAILURES_OVERALL: usize = 30;

/// Why an attempt was not started.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Limited {
    #[error("{MAX_FAILURES_PER_ADDRESS} failed logins from this address in the last {} minutes", FAILURE_WINDOW.as_secs() / 60)]
    Address,
    #[error("{MAX_FAILURES_OVERALL} failed logins from all addresses in the last {} minutes", FAILURE_WINDOW.as_secs() / 60)]
    Overall,
}

/// The address as it is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    V4([u8; 4]),
    V6Net([u8; 8]),
}

fn source(ip: IpAddr) -> Source {
    match ip {
        IpAddr::V4(v4) => Source::V4(v4.octets()),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => Source::V4(v4.octets()),
            None => Source::V6Net(v6.octets()[..8].try_into().expect("8 bytes")),
        },
    }
}

struct Entry {
    at: Instant,
    source: Source,
    id: u64,
}

#[derive(Default)]
struct Record {
    entries: VecDeque<Entry>,
    next_id: u64,
}

#[derive(Clone, Default)]
pub struct WakeLimit {
    record: Arc<Mutex<Record>>,
}

/// One attempt under way; dropped without [`Ticket::succeeded`], it stays
/// a failure.
pub struct Ticket {
    record: Arc<Mutex<Record>>,
    id: u64,
}

impl WakeLimit {
    /// Start an attempt from `ip`, or say why not.
    pub fn begin(&self, ip: IpAddr) -> Result<Ticket, Limited> {
        let now = Instant::now();
        let source = source(ip);
        let mut r = self.record.lock().unwrap_or_else(|e| e.into_inner());
        while r.entries.front().is_some_and(|e| now.duration_since(e.at) >= FAILURE_WINDOW) {
            r.entries.pop_front();
        }
        if r.entries.iter().filter(|e| e.source == source).count() >= MAX_FAILURES_PER_ADDRESS {
            return Err(Limited::Address);
        }
        if r.entries.len() >= MAX_FAILURES_OVERALL {
            return Err(Limited::Overall);
        }
        let id = r.next_id;
        r.next_id += 1;
        r.entries.push_back(Entry { at: now, source, id });
        Ok(Ticket {
            record: self.record.clone(),
            id,
        })
    }

    /// Failures (and attempts in flight) counted now.
    pub fn counted(&self) -> usize {
        self.record.lock().unwrap_or_else(|e| e.into_inner()).entries.len()
    }
}

impl Ticket {
    /// The attempt authenticated: it no longer counts.
    pub fn succeeded(self) {
        let mut r = self.record.lock().unwrap_or_else(|e| e.into_inner());
        r.entries.retain(|e| e.id != self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn failures_are_limited_per_address_and_overall_and_age_out() {
        let l = WakeLimit::default();
        for _ in 0..MAX_FAILURES_PER_ADDRESS {
            drop(l.begin(ip("203.0.113.7")).unwrap());
        }
        assert_eq!(l.begin(ip("203.0.113.7")).err(), Some(Limited::Address));
        assert_eq!(
            l.begin(ip("::ffff:203.0.113.7")).err(),
            Some(Limited::Address),
            "mapped counts as v4"
        );
        l.begin(ip("203.0.113.8")).unwrap().succeeded();
        assert_eq!(l.counted(), MAX_FAILURES_PER_ADDRESS, "a success does not count");

        let mut held = Vec::new();
        for i in 0..(MAX_FAILURES_OVERALL - MAX_FAILURES_PER_ADDRESS) {
            held.push(l.begin(ip(&format!("198.51.100.{i}"))).unwrap());
        }
        assert_eq!(l.begin(ip("192.0.2.1")).err(), Some(Limited::Overall), "in-flight attempts count");
        drop(held);

        tokio::time::advance(FAILURE_WINDOW).await;
        assert!(l.begin(ip("203.0.113.7")).is_ok(), "failures age out");
        assert_eq!(l.counted(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn ipv6_counts_by_its_64() {
        let l = WakeLimit::default();
        for i in 0..MAX_FAILURES_PER_ADDRESS {
            drop(l.begin(ip(&format!("2001:db8:1:2::{i:x}"))).unwrap());
        }
        assert_eq!(l.begin(ip("2001:db8:1:2:ffff::1")).err(), Some(Limited::Address));
        assert!(l.begin(ip("2001:db8:1:3::1")).is_ok());
    }
}
