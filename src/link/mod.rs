//! Links judged connections to one another: a connection from the same client address to the
//! same server that starts within a window after one that did not establish is its retry, and
//! a fallback when it offers an older highest version or fewer cipher suites.
//!
//! This stage sits between the diagnosis and the report. It sees connections in report order
//! and hands them on in an order that follows from that order alone, so any `-j` gives the
//! same report. To name its retry, a connection that did not establish is held back until the
//! retry comes or the window has passed in capture time (`Linking::Hold`); a live report
//! prints each connection at once and names only the earlier attempt (`Linking::Print`).

use crate::capture::Timestamp;
use crate::connection::{Connection, Fallback, Outcome};
use crate::flow::Endpoint;
use crate::tls::handshake::version;
use crate::tls::names;
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

/// The window a retry must start in, after the end of the attempt it retries.
pub const DEFAULT_RETRY_WINDOW_SECS: f64 = 30.0;

/// Connections held at once (attempts awaiting a retry, retries queued behind them); beyond
/// it the oldest is handed on, and counted in `RetryCounts::window_cut`.
pub(crate) const MAX_AWAITING: usize = 65_536;

/// Whether an attempt that did not establish waits for its retry before it is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Linking {
    /// Held until its retry comes or the window passes, so that it can name its retry.
    Hold,
    /// Reported at once; a retry names it, it does not name the retry.
    Print,
}

/// What the linking found, for the summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RetryCounts {
    /// Connections that retried an attempt that did not establish.
    pub retries: u64,
    /// Of those, retries that offered less: an older highest version, fewer cipher suites.
    pub fallbacks: u64,
    /// Attempts that did not establish, after which a retry (or a retry of a retry) did.
    pub recovered: u64,
    /// Attempts that did not establish and that no retry within the window recovered from.
    pub not_recovered: u64,
    /// Attempts handed on before their window passed because `MAX_AWAITING` were waiting.
    #[serde(skip_serializing_if = "crate::analyze::is_zero")]
    pub window_cut: u64,
}

/// A retry is sought among attempts from the same client address to the same server.
type Key = (IpAddr, Endpoint);

/// An attempt that did not establish, while a retry of it may still come.
struct Attempt {
    key: Key,
    stream: u64,
    start: Timestamp,
    last: Timestamp,
    sni: Option<Vec<u8>>,
    offer: Offer,
    /// The attempts before it in its chain of retries, all of which failed.
    failures_before: u64,
    retried: bool,
}

/// What a ClientHello offered, to tell a fallback.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Offer {
    highest_version: Option<u16>,
    cipher_suites: usize,
}

/// A connection on its way through, with the attempt it may still be retried as.
struct Entry {
    seq: u64,
    attempt: Option<Attempt>,
    /// Absent in `Print` mode, where the connection is already reported.
    conn: Option<Connection>,
}

pub struct Linker {
    mode: Linking,
    window: f64,
    max_awaiting: usize,
    /// In report order, `seq` counting up by one: attempts awaiting a retry, and (held only)
    /// the connections queued behind them.
    queue: VecDeque<Entry>,
    next_seq: u64,
    /// The awaiting attempts by key, as `seq`s, oldest first.
    by_key: HashMap<Key, Vec<u64>>,
    /// The latest end of a connection handed in: the capture time the window is measured on.
    clock: Timestamp,
    ready: VecDeque<Connection>,
    counts: RetryCounts,
}

impl Linker {
    /// A window of 0 or less links nothing and holds nothing.
    pub fn new(mode: Linking, window_secs: f64) -> Linker {
        Linker {
            mode,
            window: window_secs,
            max_awaiting: MAX_AWAITING,
            queue: VecDeque::new(),
            next_seq: 0,
            by_key: HashMap::new(),
            clock: Timestamp::default(),
            ready: VecDeque::new(),
            counts: RetryCounts::default(),
        }
    }

    /// Takes a judged connection; what can be reported then comes out of `ready`.
    pub fn push(&mut self, mut conn: Connection) {
        if self.window <= 0.0 {
            self.ready.push_back(conn);
            return;
        }
        self.clock = self.clock.max(conn.facts.last_ts);
        self.drain();
        let failures_before = self.link(&mut conn).unwrap_or(0);
        let linked_to_held = conn.retry_of.is_some() && self.mode == Linking::Hold;
        let attempt = match conn.verdict.outcome {
            Outcome::Failed | Outcome::Incomplete => self.attempt(&conn, failures_before),
            Outcome::Established => {
                self.counts.recovered += failures_before;
                None
            }
            Outcome::NotTls => None,
        };
        let conn = match (&attempt, self.mode) {
            (None, _) if !linked_to_held || self.queue.is_empty() => {
                self.ready.push_back(conn);
                return;
            }
            (Some(_), Linking::Print) => {
                self.ready.push_back(conn);
                None
            }
            _ => Some(conn),
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        if let Some(a) = &attempt {
            self.by_key.entry(a.key).or_default().push(seq);
        }
        self.queue.push_back(Entry { seq, attempt, conn });
        if self.queue.len() > self.max_awaiting {
            self.counts.window_cut += 1;
            self.pop_front();
        }
        self.drain();
    }

    /// Moves the capture clock on (a live capture, while no connection is judged).
    pub fn advance(&mut self, now: Timestamp) {
        self.clock = self.clock.max(now);
        self.drain();
    }

    /// The next connection to report, in the order `push` allows.
    pub fn ready(&mut self) -> Option<Connection> {
        self.ready.pop_front()
    }

    /// Hands on everything held: the end of the input, or of one file of it (the next file's
    /// clock starts again, as its stream numbers do).
    pub fn finish(&mut self) {
        while !self.queue.is_empty() {
            self.pop_front();
        }
        self.clock = Timestamp::default();
    }

    pub fn counts(&self) -> RetryCounts {
        self.counts
    }

    /// Marks `conn` as the retry of the latest awaiting attempt it follows, if any: the
    /// failures of that attempt's chain, its own included.
    fn link(&mut self, conn: &mut Connection) -> Option<u64> {
        let key = key(conn)?;
        let seqs = self.by_key.get(&key)?;
        let front = self.queue.front()?.seq;
        let start = conn.facts.start_ts;
        let sni = conn.sni.as_ref().map(|s| s.as_bytes());
        let window = self.window;
        let index = seqs.iter().rev().find_map(|&seq| {
            let index = usize::try_from(seq.checked_sub(front)?).ok()?;
            let a = self.queue.get(index)?.attempt.as_ref()?;
            let follows = a.stream < conn.tcp_stream
                && a.start <= start
                && start.seconds_since(a.last) <= window
                && a.sni.as_deref().is_none_or(|s| Some(s) == sni);
            (follows && !a.retried).then_some(index)
        })?;
        let offer = offer(conn);
        let entry = self.queue.get_mut(index)?;
        let attempt = entry.attempt.as_mut()?;
        attempt.retried = true;
        if let Some(earlier) = entry.conn.as_mut() {
            earlier.retried_by = Some(conn.tcp_stream);
        }
        conn.retry_of = Some(attempt.stream);
        conn.fallback = fallback(attempt.offer, offer);
        self.counts.retries += 1;
        self.counts.fallbacks += u64::from(conn.fallback.is_some());
        Some(attempt.failures_before + 1)
    }

    fn attempt(&mut self, conn: &Connection, failures_before: u64) -> Option<Attempt> {
        let Some(key) = key(conn) else {
            self.counts.not_recovered += failures_before + 1;
            return None;
        };
        Some(Attempt {
            key,
            stream: conn.tcp_stream,
            start: conn.facts.start_ts,
            last: conn.facts.last_ts,
            sni: conn.sni.as_ref().map(|s| s.as_bytes().to_vec()),
            offer: offer(conn),
            failures_before,
            retried: false,
        })
    }

    /// Hands on the front entries that wait for nothing more: attempts retried or whose
    /// window has passed, and the connections queued behind them.
    fn drain(&mut self) {
        while let Some(e) = self.queue.front() {
            let waiting = e
                .attempt
                .as_ref()
                .is_some_and(|a| !a.retried && self.clock.seconds_since(a.last) <= self.window);
            if waiting {
                break;
            }
            self.pop_front();
        }
    }

    fn pop_front(&mut self) {
        let Some(entry) = self.queue.pop_front() else {
            return;
        };
        if let Some(a) = &entry.attempt {
            if !a.retried {
                self.counts.not_recovered += a.failures_before + 1;
            }
            if let Some(seqs) = self.by_key.get_mut(&a.key) {
                seqs.retain(|&s| s != entry.seq);
                if seqs.is_empty() {
                    self.by_key.remove(&a.key);
                }
            }
        }
        if let Some(conn) = entry.conn {
            self.ready.push_back(conn);
        }
    }
}

fn key(conn: &Connection) -> Option<Key> {
    Some((conn.client?.ip, conn.server?))
}

fn offer(conn: &Connection) -> Offer {
    let real = conn.client_versions.values().iter().copied();
    let highest = real
        .filter(|&v| !names::is_grease(v))
        .map(version_rank)
        .max();
    Offer {
        highest_version: highest,
        cipher_suites: conn.cipher_suites.values().len(),
    }
}

/// Versions in the order of age: TLS 1.3's drafts count as TLS 1.3.
fn version_rank(v: u16) -> u16 {
    if version::is_tls13(v) {
        version::TLS13
    } else {
        v
    }
}

/// A retry that offers less than the attempt before it: an older highest version, fewer
/// cipher suites. An attempt without a ClientHello (refused, timed out) offered nothing to
/// fall back from.
fn fallback(before: Offer, now: Offer) -> Option<Fallback> {
    let (Some(was), Some(is)) = (before.highest_version, now.highest_version) else {
        return None;
    };
    if is >= was && now.cipher_suites >= before.cipher_suites {
        return None;
    }
    Some(Fallback {
        highest_version_before: names::version_name(was),
        highest_version: names::version_name(is),
        cipher_suites_before: before.cipher_suites,
        cipher_suites: now.cipher_suites,
    })
}

#[cfg(test)]
mod tests;
