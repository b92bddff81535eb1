//! The `Decoder`: one direction's state machine, from the first byte to records.
//!
//! The states that look for where TLS starts are in `scan`, the records in `records`; the
//! state and the calls the connection makes are here, so each file reads one job.

mod records;
mod scan;

use super::session::Session;
use super::{Counters, Event, Limits, Located, record};
use crate::capture::Timestamp;

/// The decoder's state: explicit, because each state reads the same bytes differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Nothing seen yet.
    Start,
    /// The capture joined the stream mid-way: look for the next record boundary.
    Resync { scanned: usize },
    /// Bytes that are not TLS, scanned for a hello record.
    Plaintext { scanned: usize },
    /// Reading records.
    Records,
    /// Reading SSLv2 records, whose 2- or 3-byte headers are framed differently.
    Sslv2,
    /// Lost: a gap, or bytes that do not frame. Everything after is ignored.
    Lost,
}

#[derive(Debug)]
pub struct Decoder {
    state: State,
    /// Whether this side sends the ClientHello (scanning for the right hello after plaintext).
    server: bool,
    /// Handshake records are encrypted from here on (after ChangeCipherSpec, or the TLS 1.3
    /// server after its ServerHello).
    encrypted: bool,
    /// TLS 1.3 is in use (a ServerHello or HelloRetryRequest said so): a ChangeCipherSpec is
    /// then a compatibility no-op, and a second ClientHello may follow it in cleartext.
    tls13: bool,
    /// This side sent an SSLv2-format CLIENT-HELLO: if what follows is not a TLS record, the
    /// server answered in SSLv2 and the client goes on in it (CLIENT-MASTER-KEY).
    sslv2_hello: bool,
    /// Handshake message bytes spanning records.
    handshake: Vec<u8>,
    limits: Limits,
    pub(crate) counters: Counters,
    /// The connection's decryption, lent for one `feed_decrypting` call.
    session: Option<Box<Session>>,
}

impl Decoder {
    pub fn new(server: bool, limits: Limits) -> Self {
        Decoder {
            state: State::Start,
            server,
            encrypted: false,
            tls13: false,
            sslv2_hello: false,
            handshake: Vec::new(),
            limits,
            counters: Counters::default(),
            session: None,
        }
    }

    /// The capture missed the stream's start: its first bytes may be the middle of a record.
    pub fn joined_mid_stream(&mut self) {
        if self.state == State::Start {
            self.state = State::Resync { scanned: 0 };
        }
    }

    /// The peer's ServerHello chose TLS 1.3 (the client's decoder learns it this way).
    pub(crate) fn set_tls13(&mut self) {
        self.tls13 = true;
    }

    /// The snaplen cut the stream after `data`, the bytes not yet decoded: a cleartext
    /// handshake record they start is told (a cut ClientHello still shows the connection is
    /// TLS, on any port).
    pub(crate) fn cut(
        &mut self,
        data: &[u8],
        origin: impl Fn(usize) -> Option<(u64, Timestamp)>,
        out: &mut Vec<Located>,
    ) {
        if self.encrypted || !matches!(self.state, State::Start | State::Records) {
            return;
        }
        if let Some((handshake_type, length)) = record::cut_handshake(data) {
            let captured = data.len();
            let event = Event::Cut {
                handshake_type,
                captured,
                length,
            };
            push(out, &origin, 0, event);
        }
    }

    /// The stream lost bytes: what follows cannot be framed with certainty.
    pub(crate) fn lose_sync(&mut self) {
        self.state = State::Lost;
        self.handshake = Vec::new();
    }

    /// Decodes what it can of `data`; returns how many bytes were used. `origin(i)` names the
    /// frame that carried `data[i]`.
    /// `feed`, opening protected records with the connection's `session` when there is one
    /// (shared by both directions, so lent for the call).
    pub(crate) fn feed_decrypting(
        &mut self,
        data: &[u8],
        origin: impl Fn(usize) -> Option<(u64, Timestamp)>,
        out: &mut Vec<Located>,
        session: &mut Option<Box<Session>>,
    ) -> usize {
        self.session = session.take();
        let used = self.feed(data, origin, out);
        *session = self.session.take();
        used
    }

    pub fn feed(
        &mut self,
        data: &[u8],
        origin: impl Fn(usize) -> Option<(u64, Timestamp)>,
        out: &mut Vec<Located>,
    ) -> usize {
        let mut used = 0;
        loop {
            let rest = data.get(used..).unwrap_or_default();
            if rest.is_empty() {
                return used;
            }
            let step = match self.state {
                State::Lost => return data.len(),
                State::Start => self.start(rest, used, &origin, out),
                State::Resync { scanned } => self.resync(rest, scanned),
                State::Plaintext { scanned } => {
                    self.scan_plaintext(rest, used, scanned, &origin, out)
                }
                State::Records => self.record(rest, used, &origin, out),
                State::Sslv2 => self.sslv2_record(rest, used, &origin, out),
            };
            match step {
                Some(n) => used += n,
                None => return used,
            }
        }
    }
}

fn push(
    out: &mut Vec<Located>,
    origin: &impl Fn(usize) -> Option<(u64, Timestamp)>,
    index: usize,
    event: Event,
) {
    let (frame, ts) = origin(index).unwrap_or_default();
    out.push(Located { event, frame, ts });
}
