//! TLS decoding of one direction's reassembled bytes: record framing, handshake message
//! framing across records, and decoding of the cleartext messages (tls-parser, x509-parser).
//!
//! A `Decoder` turns bytes into located `Event`s. It does not decide what the events mean for
//! the connection; that is the connection record's job.

pub mod certificate;
pub mod handshake;
pub mod names;
pub mod record;
pub mod values;

use crate::capture::Timestamp;
pub use handshake::{ClientHello, Message, ServerHello};
use record::Framing;

/// Bounds on what one direction's decoder holds and decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest handshake message awaited across records. Real certificate messages reach a
    /// few hundred kilobytes; a declared 16 MB message is refused when its header is read,
    /// never awaited or allocated.
    pub max_handshake_message: usize,
    /// Certificates decoded per chain; the rest are counted.
    pub max_chain: usize,
    /// Largest certificate decoded; a larger one is counted, not parsed.
    pub max_certificate: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_handshake_message: 1 << 20,
            max_chain: 16,
            max_certificate: 256 << 10,
        }
    }
}

/// What the limits cost this direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Handshake messages refused for declaring more than `max_handshake_message`.
    pub messages_over_limit: u64,
    /// Certificates not decoded: beyond `max_chain`, or over `max_certificate`.
    pub certificates_over_limit: u64,
}
/// Plaintext scanned for the start of TLS (STARTTLS) before a direction is declared not TLS.
const MAX_PLAINTEXT_PREFIX: usize = 64 << 10;
/// Bytes kept of a plaintext prefix, to show the user.
const SHOWN_PREFIX: usize = 64;

/// What one direction's bytes said, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Handshake(Message),
    ChangeCipherSpec,
    Alert {
        level: u8,
        description: u8,
    },
    /// A record this decoder cannot read: encrypted handshake, alert or application data.
    Encrypted {
        content_type: u8,
        length: usize,
    },
    /// An encrypted SSLv2 record (after CLIENT-MASTER-KEY, or the server's after its
    /// SERVER-HELLO): SSLv2 does not say what it holds.
    Sslv2Encrypted {
        length: usize,
    },
    /// An SSLv2 ERROR message in clear (NO-CIPHER-ERROR, NO-CERTIFICATE-ERROR, ...).
    Sslv2Error {
        code: Option<u16>,
    },
    Heartbeat,
    /// Bytes before TLS that are not TLS (a STARTTLS exchange, HTTP, an SSH banner).
    Plaintext {
        first_bytes: Vec<u8>,
    },
    /// TLS started after a plaintext prefix of this many bytes.
    TlsAfterPlaintext {
        prefix_len: u64,
    },
    /// A handshake message declared more bytes than `Limits::max_handshake_message`: it is
    /// not awaited, and this direction is no longer followed.
    TooLarge {
        declared: usize,
    },
    /// A handshake record the snaplen cut: its header (and maybe the message type) was
    /// captured, the rest was not.
    Cut {
        handshake_type: Option<u8>,
        captured: usize,
        length: usize,
    },
    /// Bytes that claimed to be TLS but do not decode.
    Malformed {
        detail: String,
    },
}

/// An event and the frame whose bytes completed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located {
    pub event: Event,
    pub frame: u64,
    pub ts: Timestamp,
}

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

#[derive(Clone, Debug)]
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
    /// Records framed in this direction.
    records: u64,
    limits: Limits,
    pub counters: Counters,
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
            records: 0,
            limits,
            counters: Counters::default(),
        }
    }

    /// Whether any TLS record has been read in this direction.
    pub fn saw_tls(&self) -> bool {
        self.records > 0
    }

    /// The capture missed the stream's start: its first bytes may be the middle of a record.
    pub fn joined_mid_stream(&mut self) {
        if self.state == State::Start {
            self.state = State::Resync { scanned: 0 };
        }
    }

    /// Finds where whole records start again: a record header whose record ends exactly where
    /// the data ends or where another record header begins. Bounded like the plaintext scan.
    fn resync(&mut self, rest: &[u8], scanned: usize) -> Option<usize> {
        let chained = |i: usize| match rest.get(i..).map(record::frame) {
            Some(Framing::Record { total, .. }) => match rest.get(i + total..) {
                Some([]) => true,
                Some(after) => matches!(
                    record::frame(after),
                    Framing::Record { .. } | Framing::Incomplete
                ),
                None => false,
            },
            _ => false,
        };
        match (0..rest.len()).find(|&i| chained(i)) {
            Some(i) => {
                self.state = State::Records;
                Some(i)
            }
            None => {
                // Keep from the first record that may complete with more data, or a header's
                // worth: a boundary may straddle two deliveries.
                let pending = (0..rest.len()).find(|&i| {
                    matches!(rest.get(i..).map(record::frame), Some(Framing::Incomplete))
                });
                let skip = pending.unwrap_or(rest.len().saturating_sub(5));
                self.scan_further(scanned, rest.len(), skip, |scanned| State::Resync {
                    scanned,
                })
            }
        }
    }

    /// A scan found nothing in `rest_len` bytes: past the bound the direction is given up,
    /// else `skip` bytes are passed over and the scan waits for more.
    fn scan_further(
        &mut self,
        scanned: usize,
        rest_len: usize,
        skip: usize,
        next: impl FnOnce(usize) -> State,
    ) -> Option<usize> {
        if scanned + rest_len > MAX_PLAINTEXT_PREFIX {
            self.state = State::Lost;
            return Some(rest_len);
        }
        self.state = next(scanned + skip);
        if skip == 0 { None } else { Some(skip) }
    }

    /// The peer's ServerHello chose TLS 1.3 (the client's decoder learns it this way).
    pub fn set_tls13(&mut self) {
        self.tls13 = true;
    }

    /// The side turned out to be the other one (a ClientHello from the presumed server).
    pub fn set_server(&mut self, server: bool) {
        self.server = server;
    }

    /// The snaplen cut the stream after `data`, the bytes not yet decoded: a cleartext
    /// handshake record they start is told (a cut ClientHello still shows the connection is
    /// TLS, on any port).
    pub fn cut(
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
    pub fn lose_sync(&mut self) {
        self.state = State::Lost;
        self.handshake = Vec::new();
    }

    /// Decodes what it can of `data`; returns how many bytes were used. `origin(i)` names the
    /// frame that carried `data[i]`.
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

    fn start(
        &mut self,
        rest: &[u8],
        at: usize,
        origin: &impl Fn(usize) -> Option<(u64, Timestamp)>,
        out: &mut Vec<Located>,
    ) -> Option<usize> {
        match record::frame(rest) {
            Framing::Incomplete => None,
            Framing::NotTls => {
                let shown = rest.get(..SHOWN_PREFIX.min(rest.len())).unwrap_or_default();
                push(
                    out,
                    origin,
                    at,
                    Event::Plaintext {
                        first_bytes: shown.to_vec(),
                    },
                );
                self.state = State::Plaintext { scanned: 0 };
                Some(0)
            }
            Framing::Record { .. } | Framing::Sslv2ClientHello { .. } => {
                self.state = State::Records;
                Some(0)
            }
            Framing::Sslv2ServerHello { .. } => {
                self.state = State::Sslv2;
                Some(0)
            }
        }
    }

    /// Looks for the hello that starts TLS after a plaintext exchange. Each byte is a possible
    /// start; the plaintext prefix is bounded so a long non-TLS stream costs nothing more.
    fn scan_plaintext(
        &mut self,
        rest: &[u8],
        at: usize,
        scanned: usize,
        origin: &impl Fn(usize) -> Option<(u64, Timestamp)>,
        out: &mut Vec<Located>,
    ) -> Option<usize> {
        // Keep the last few bytes: a hello header may straddle two deliveries.
        const HEADER: usize = 6;
        match (0..rest.len())
            .find(|&i| record::starts_hello(rest.get(i..).unwrap_or_default(), self.server))
        {
            Some(i) => {
                push(
                    out,
                    origin,
                    at + i,
                    Event::TlsAfterPlaintext {
                        prefix_len: (scanned + i) as u64,
                    },
                );
                self.state = State::Records;
                Some(i)
            }
            None => {
                let skip = rest.len().saturating_sub(HEADER);
                self.scan_further(scanned, rest.len(), skip, |scanned| State::Plaintext {
                    scanned,
                })
            }
        }
    }

    fn record(
        &mut self,
        rest: &[u8],
        at: usize,
        origin: &impl Fn(usize) -> Option<(u64, Timestamp)>,
        out: &mut Vec<Located>,
    ) -> Option<usize> {
        match record::frame(rest) {
            Framing::Incomplete => None,
            Framing::NotTls if self.sslv2_hello => {
                self.state = State::Sslv2;
                Some(0)
            }
            Framing::Sslv2ServerHello { .. } => {
                self.state = State::Sslv2;
                Some(0)
            }
            Framing::NotTls => {
                push(
                    out,
                    origin,
                    at,
                    Event::Malformed {
                        detail: "bytes that are not a TLS record where one was expected".into(),
                    },
                );
                self.lose_sync();
                Some(rest.len())
            }
            Framing::Sslv2ClientHello { body, total } => {
                self.sslv2_hello = true;
                let event = match handshake::decode_sslv2_client_hello(body) {
                    Ok(ch) => Event::Handshake(Message::ClientHello(Box::new(ch))),
                    Err(detail) => Event::Malformed { detail },
                };
                push(out, origin, at + total - 1, event);
                Some(total)
            }
            Framing::Record {
                content_type,
                payload,
                total,
                ..
            } => {
                self.records += 1;
                let last = at + total - 1;
                self.content(content_type, payload, last, origin, out);
                Some(total)
            }
        }
    }

    /// One SSLv2 record: a cleartext hello or CLIENT-MASTER-KEY, after which the sender's
    /// records are encrypted.
    fn sslv2_record(
        &mut self,
        rest: &[u8],
        at: usize,
        origin: &impl Fn(usize) -> Option<(u64, Timestamp)>,
        out: &mut Vec<Located>,
    ) -> Option<usize> {
        let record::Sslv2Framing::Record { body, total } = record::frame_sslv2(rest) else {
            return None;
        };
        self.records += 1;
        let event = if self.encrypted {
            Event::Sslv2Encrypted { length: body.len() }
        } else {
            self.sslv2_message(body)
        };
        push(out, origin, at + total - 1, event);
        Some(total)
    }

    fn sslv2_message(&mut self, body: &[u8]) -> Event {
        let decoded = match body.first() {
            Some(&record::SSLV2_CLIENT_HELLO) => handshake::decode_sslv2_client_hello(body)
                .map(|ch| Message::ClientHello(Box::new(ch))),
            Some(&record::SSLV2_CLIENT_MASTER_KEY) => {
                self.encrypted = true;
                handshake::decode_sslv2_client_master_key(body)
            }
            Some(&record::SSLV2_SERVER_HELLO) => {
                // The server's next record (SERVER-VERIFY) is encrypted.
                self.encrypted = true;
                handshake::decode_sslv2_server_hello(body, &self.limits).map(|sh| {
                    self.counters.certificates_over_limit += u64::from(sh.certificate_over_limit);
                    Message::Sslv2ServerHello(Box::new(sh))
                })
            }
            Some(&record::SSLV2_ERROR) => {
                return Event::Sslv2Error {
                    code: crate::bytes::be_u16(body, 1),
                };
            }
            Some(other) => Err(format!("SSLv2 message of type {other} in clear")),
            None => Err("empty SSLv2 record".into()),
        };
        match decoded {
            Ok(message) => Event::Handshake(message),
            Err(detail) => Event::Malformed { detail },
        }
    }

    fn content(
        &mut self,
        content_type: u8,
        payload: &[u8],
        last: usize,
        origin: &impl Fn(usize) -> Option<(u64, Timestamp)>,
        out: &mut Vec<Located>,
    ) {
        let encrypted = Event::Encrypted {
            content_type,
            length: payload.len(),
        };
        let event = match content_type {
            record::CHANGE_CIPHER_SPEC => {
                push(out, origin, last, Event::ChangeCipherSpec);
                // Decided here, not by the caller: the next record may sit in the same segment.
                if !self.tls13 {
                    self.encrypted = true;
                    self.handshake = Vec::new();
                }
                return;
            }
            // A cleartext alert is exactly two bytes; anything else was encrypted.
            record::ALERT => match payload {
                &[level, description] => Event::Alert { level, description },
                _ => encrypted,
            },
            record::HANDSHAKE if !self.encrypted => {
                self.handshake_bytes(payload, last, origin, out);
                return;
            }
            record::HEARTBEAT => Event::Heartbeat,
            _ => encrypted,
        };
        push(out, origin, last, event);
    }

    /// Decodes every handshake message a record's payload completes. A record holding whole
    /// messages, the common case, is read where it lies; only the bytes of a message it cuts
    /// are kept, for the records that complete it.
    fn handshake_bytes(
        &mut self,
        payload: &[u8],
        last: usize,
        origin: &impl Fn(usize) -> Option<(u64, Timestamp)>,
        out: &mut Vec<Located>,
    ) {
        let mut kept = std::mem::take(&mut self.handshake);
        let continued = !kept.is_empty();
        if continued {
            kept.extend_from_slice(payload);
        }
        let bytes: &[u8] = if continued { &kept } else { payload };
        let mut used = 0;
        while let Some(rest) = bytes.get(used..) {
            let Some(&[_, b1, b2, b3]) = rest.get(..4) else {
                break;
            };
            let body_len = usize::from(b1) << 16 | usize::from(b2) << 8 | usize::from(b3);
            if body_len + 4 > self.limits.max_handshake_message {
                self.counters.messages_over_limit += 1;
                push(
                    out,
                    origin,
                    last,
                    Event::TooLarge {
                        declared: body_len + 4,
                    },
                );
                self.lose_sync();
                return;
            }
            let Some(msg) = rest.get(..body_len + 4) else {
                break;
            };
            let event = match handshake::decode(msg, &self.limits) {
                Ok(m) => {
                    if let Message::Certificate { over_limit, .. } = &m {
                        self.counters.certificates_over_limit += *over_limit as u64;
                    }
                    Event::Handshake(m)
                }
                Err(detail) => Event::Malformed { detail },
            };
            used += body_len + 4;
            if let Event::Handshake(Message::ServerHello(sh)) = &event {
                let tls13 = handshake::version::is_tls13(sh.version());
                self.tls13 |= sh.hello_retry || tls13;
                // After a TLS 1.3 ServerHello the server's handshake is encrypted.
                if !sh.hello_retry && tls13 {
                    self.encrypted = true;
                }
            }
            push(out, origin, last, event);
            if self.encrypted {
                return;
            }
        }
        // What is left is the start of a message that later records complete.
        self.handshake = if continued {
            kept.drain(..used.min(kept.len()));
            kept
        } else {
            bytes.get(used..).unwrap_or_default().to_vec()
        };
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

/// One direction's TCP payload of a bundled capture, for tests on real bytes.
#[cfg(test)]
pub(crate) fn side_bytes(file: &[u8], from_server: bool) -> Vec<u8> {
    use crate::net::{Decoded, decode};
    let mut stream = Vec::new();
    let _ = crate::capture::read_capture(file, |p| {
        if let Ok(Decoded::Tcp(seg)) = decode(p)
            && (seg.src_port == 443) == from_server
        {
            stream.extend_from_slice(seg.payload);
        }
    });
    stream
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::read_capture;
    use crate::net::{Decoded, decode};

    fn all_events(stream: &[u8], server: bool) -> Vec<Event> {
        let mut decoder = Decoder::new(server, Limits::default());
        let mut out = Vec::new();
        let used = decoder.feed(stream, |_| None, &mut out);
        assert_eq!(used, stream.len());
        out.into_iter().map(|l| l.event).collect()
    }

    /// Both sides of a real SSLv2 handshake (scapy's): the hellos and CLIENT-MASTER-KEY in
    /// clear, every record after them encrypted, none malformed.
    #[test]
    fn sslv2_handshakes_decode_both_ways() {
        let file: &[u8] = include_bytes!("../../captures/sslv2.pcap");
        let server = all_events(&side_bytes(file, true), true);
        assert!(
            matches!(server.first(), Some(Event::Handshake(Message::Sslv2ServerHello(sh)))
                if sh.version == 2 && sh.certificate.is_some()),
            "{server:?}"
        );
        assert_eq!(server.len(), 4, "{server:?}");
        assert!(
            server
                .iter()
                .skip(1)
                .all(|e| matches!(e, Event::Sslv2Encrypted { .. }))
        );
        let client = all_events(&side_bytes(file, false), false);
        assert!(
            matches!(client.first(), Some(Event::Handshake(Message::ClientHello(ch)))
                if ch.sslv2_format && ch.legacy_version == 2),
            "{client:?}"
        );
        assert_eq!(
            client.get(1),
            Some(&Event::Handshake(Message::Sslv2ClientMasterKey {
                cipher: handshake::Sslv2Cipher::DES_192_EDE3_CBC_WITH_MD5
            }))
        );
        assert_eq!(client.len(), 5, "{client:?}");
        assert!(
            client
                .iter()
                .skip(2)
                .all(|e| matches!(e, Event::Sslv2Encrypted { .. }))
        );
    }

    /// A TLS 1.3 draft ServerHello (draft 21, read by tlsdiag; draft 18, by tls-parser):
    /// what follows it is the encrypted handshake, as after an RFC 8446 one.
    #[test]
    fn tls13_draft_server_hellos_start_the_encrypted_handshake() {
        for (file, version) in [
            (
                &include_bytes!("../../captures/tls13-draft21.pcap")[..],
                0x7f15,
            ),
            (
                &include_bytes!("../../captures/tls13-draft18.pcap")[..],
                0x7f12,
            ),
        ] {
            let events = all_events(&side_bytes(file, true), true);
            assert!(
                matches!(events.first(), Some(Event::Handshake(Message::ServerHello(sh)))
                    if sh.version() == version && sh.cipher == 0x1302 && sh.group == Some(29)),
                "{events:?}"
            );
            assert!(
                events.iter().skip(1).all(|e| matches!(
                    e,
                    Event::Encrypted {
                        content_type: record::APPLICATION_DATA,
                        ..
                    }
                )),
                "{events:?}"
            );
        }
    }

    /// The server's bytes of a real TLS 1.2 handshake (one record: ServerHello, Certificate,
    /// ServerKeyExchange, CertificateRequest, ServerHelloDone), up to its ChangeCipherSpec or
    /// alert: the records' handshake bytes, joined.
    fn server_handshake() -> Vec<u8> {
        let file: &[u8] = include_bytes!("../../captures/client-cert-required-tls12.pcap");
        let mut stream = Vec::new();
        let _ = read_capture(file, |p| {
            if let Ok(Decoded::Tcp(seg)) = decode(p)
                && seg.src_port == 443
            {
                stream.extend_from_slice(seg.payload);
            }
        });
        let mut handshake = Vec::new();
        let mut rest = &stream[..];
        while let record::Framing::Record {
            content_type: record::HANDSHAKE,
            payload,
            total,
            ..
        } = record::frame(rest)
        {
            handshake.extend_from_slice(payload);
            rest = &rest[total..];
        }
        handshake
    }

    /// `handshake` framed in records of `size` bytes, fed to a server decoder in pieces of
    /// `piece` bytes: the events, without their origins.
    fn events(handshake: &[u8], size: usize, piece: usize) -> Vec<Event> {
        let mut stream = Vec::new();
        for chunk in handshake.chunks(size) {
            let len = chunk.len() as u16;
            stream.extend_from_slice(&[record::HANDSHAKE, 3, 3]);
            stream.extend_from_slice(&len.to_be_bytes());
            stream.extend_from_slice(chunk);
        }
        let mut decoder = Decoder::new(true, Limits::default());
        let (mut out, mut fed, mut used) = (Vec::new(), 0, 0);
        while fed < stream.len() {
            fed = (fed + piece).min(stream.len());
            used += decoder.feed(&stream[used..fed], |_| None, &mut out);
        }
        out.into_iter().map(|l| l.event).collect()
    }

    /// A handshake message cut across records, several messages in one record, and records
    /// cut across reads all decode as the real framing does.
    #[test]
    fn handshake_messages_decode_however_records_frame_them() {
        let handshake = server_handshake();
        assert!(handshake.len() > 1000, "{} bytes", handshake.len());
        let whole = events(&handshake, handshake.len(), usize::MAX);
        let kinds: Vec<_> = whole
            .iter()
            .map(|e| match e {
                Event::Handshake(Message::ServerHello(_)) => "server_hello",
                Event::Handshake(Message::Certificate { .. }) => "certificate",
                Event::Handshake(Message::Other { .. }) => "other",
                _ => "unexpected",
            })
            .collect();
        assert_eq!(
            kinds,
            ["server_hello", "certificate", "other", "other", "other"]
        );
        for size in [1, 2, 3, 5, 64, 700, 4000] {
            for piece in [1, 7, 1000, usize::MAX] {
                let framed = events(&handshake, size, piece);
                assert!(
                    framed == whole,
                    "records of {size} bytes, read {piece} at a time"
                );
            }
        }
    }
}
