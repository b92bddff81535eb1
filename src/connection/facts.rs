//! The facts a connection's record holds beside its timeline: what each side offered and
//! chose, TCP's counts, and the raw facts the verdict rules read.

use super::{IcmpFact, LimitHit, Stage};
use crate::capture::Timestamp;
use crate::flow::{PerSide, Side};
use crate::tls::handshake::Sslv2Cipher;
use crate::tls::names;
use crate::tls::{ClientHello, ServerHello};
use serde::Serialize;

/// Encrypted records of one direction (handshake, alerts and application data alike).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RecordStats {
    pub(crate) first_frame: Option<u64>,
    pub count: u64,
    pub(crate) bytes: u64,
    /// The sizes of the first few, which is what inferences about encrypted alerts rest on.
    pub(crate) first_sizes: Vec<usize>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ResumptionOffer {
    pub(crate) session_id: bool,
    pub(crate) session_ticket: bool,
    pub psk: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HelloRetry {
    pub frame: u64,
    /// The group the server asked the client to use.
    pub(crate) group: Option<&'static str>,
    pub cipher: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GapInfo {
    pub(crate) frame: u64,
    pub(crate) from: Side,
    /// Stream offset of the first missing byte in that direction.
    pub(crate) offset: u64,
    pub(crate) bytes: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TcpFacts {
    pub packets: PerSide<u64>,
    pub payload_bytes: PerSide<u64>,
    pub(crate) syn_count: u64,
    /// Segments whose every byte had been seen before, per sender (until the handshake
    /// settles).
    pub(crate) retransmissions: PerSide<u64>,
    pub(crate) out_of_order: u64,
    /// Payload bytes the snaplen cut from the capture.
    pub(crate) truncated_bytes: u64,
    /// Segments dropped because a buffering limit was reached.
    pub dropped_segments: u64,
    /// TTL (or hop limit) of the first packet from each side: an RST with another TTL than its
    /// side's first packet may come from a middlebox.
    pub(crate) first_ttl: PerSide<Option<u8>>,
}

/// Values of one IANA registry as sent (GREASE included, in order), kept as their numbers
/// and named only when read or written: the record of every handshake need not hold a name
/// for each of the dozens a ClientHello lists.
#[derive(Clone, Default)]
pub struct Names {
    values: Vec<u16>,
    name: Option<fn(u16) -> &'static str>,
}

impl Names {
    pub(crate) fn new(values: Vec<u16>, name: fn(u16) -> &'static str) -> Self {
        Names {
            values,
            name: Some(name),
        }
    }

    /// The numbers, as sent.
    pub(crate) fn values(&self) -> &[u16] {
        &self.values
    }

    pub fn iter(&self) -> impl Iterator<Item = &'static str> + '_ {
        let name = self.name.unwrap_or(|_| "");
        self.values.iter().map(move |&v| name(v))
    }

    /// The names of the real values, without the GREASE placeholders (RFC 8701) a client
    /// mixes in: what it actually offers.
    pub(crate) fn without_grease(&self) -> impl Iterator<Item = &'static str> + '_ {
        let name = self.name.unwrap_or(|_| "");
        let real = self.values.iter().filter(|&&v| !names::is_grease(v));
        real.map(move |&v| name(v))
    }

    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub(crate) fn join(&self, separator: &str) -> String {
        self.iter().collect::<Vec<_>>().join(separator)
    }
}

impl std::fmt::Debug for Names {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for Names {
    fn eq(&self, other: &Names) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Serialize for Names {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

/// What the verdict rules read: raw values and the frames of key events.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    pub start_ts: Timestamp,
    pub last_ts: Timestamp,
    /// The first ClientHello; its value lists (versions, suites, groups, key shares,
    /// signature schemes, extensions, ALPN) are in the record's fields, not here.
    pub client_hello: Option<Hello<ClientHello>>,
    pub(crate) client_hello_ts: Option<Timestamp>,
    /// The ServerHello kept for the verdict rules; its ALPN and extension list are in the
    /// record's fields, not here.
    pub(crate) server_hello: Option<Hello<ServerHello>>,
    pub(crate) server_hello_ts: Option<Timestamp>,
    /// The server's Certificate message: frame and time (certificates are judged then).
    pub(crate) server_certificate: Option<Seen>,
    pub(crate) client_certificate: Option<ClientCertificate>,
    /// Every SYN the client sent, the first few.
    pub(crate) syns: Vec<Seen>,
    pub(crate) icmp: Option<IcmpFact>,
    /// Client bytes the server had not acknowledged when the capture ended.
    pub(crate) client_unacked: u64,
    /// The last packet that repeated bytes already sent, per side.
    pub(crate) last_retransmission: PerSide<Option<Seen>>,
    pub syn: Option<u64>,
    pub(crate) syn_ack: Option<u64>,
    /// First FIN and first RST of each side.
    pub(crate) fin: PerSide<Option<u64>>,
    pub(crate) rst: PerSide<Option<Reset>>,
    pub(crate) ccs: PerSide<Option<u64>>,
    /// First encrypted handshake record after ChangeCipherSpec (TLS 1.2 and older): Finished.
    pub(crate) finished: PerSide<Option<u64>>,
    /// TLS 1.3: the client's first encrypted record after ServerHello.
    pub(crate) tls13_client_first: Option<RecordSeen>,
    /// TLS 1.3: the first record of each side after the client's first one.
    pub(crate) tls13_after_client_first: PerSide<Option<RecordSeen>>,
    pub(crate) stage: Stage,
    pub(crate) established_at: Option<u64>,
    /// SSLv2: the client's CLIENT-MASTER-KEY (frame, and the cipher it chose), after which
    /// both sides encrypt.
    pub(crate) sslv2_master_key: Option<MasterKey>,
    /// Application-data records of each side until the handshake settled: whether a
    /// connection the capture joined late is past its handshake.
    pub(crate) application_records: PerSide<u32>,
    pub(crate) first_gap: Option<SideAt>,
    pub(crate) saw_tls: bool,
    pub(crate) plaintext_first: Option<SideAt>,
    /// The first of tlsdiag's limits this connection reached.
    pub(crate) limit: Option<LimitHit>,
    /// Each side's decrypted Finished, checked against the transcript.
    pub(crate) finished_checked: PerSide<Option<bool>>,
    /// The first Finished that did not verify: the handshake was altered on the way.
    pub(crate) finished_mismatch: Option<SideAt>,
    /// Certificates left undecoded by --max-chain or --max-certificate.
    pub(crate) certificates_over_limit: usize,
    /// The last attempt reset before this one, on the same port pair and sequence numbers.
    pub earlier_attempt: Option<EarlierAttempt>,
}

/// A hello and the frame whose bytes completed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello<T> {
    pub frame: u64,
    pub message: Box<T>,
}

/// SSLv2's CLIENT-MASTER-KEY: its frame and the cipher kind it chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MasterKey {
    pub(crate) frame: u64,
    pub(crate) cipher: Sslv2Cipher,
}

/// A packet's frame and capture time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Seen {
    pub(crate) frame: u64,
    pub(crate) ts: Timestamp,
}

/// A reset, and the TTL (or hop limit) it came with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Reset {
    pub(crate) frame: u64,
    pub(crate) ttl: u8,
}

/// An encrypted record's frame and length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RecordSeen {
    pub(crate) frame: u64,
    pub(crate) length: usize,
}

/// The client's Certificate message, and whether it was empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ClientCertificate {
    pub(crate) frame: u64,
    pub(crate) empty: bool,
}

/// Where something first came, and from which side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SideAt {
    pub(crate) frame: u64,
    pub(crate) side: Side,
}

/// How a side closed its half of the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CloseKind {
    Fin,
    Rst,
}

/// "FIN" or "RST", as the evidence says it.
impl std::fmt::Display for CloseKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CloseKind::Fin => "FIN",
            CloseKind::Rst => "RST",
        })
    }
}

/// The first close of a connection: who, at which frame, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Close {
    pub(crate) side: Side,
    pub(crate) frame: u64,
    pub(crate) kind: CloseKind,
}

/// An attempt of a connection that was reset before any data, and retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EarlierAttempt {
    /// Its first SYN.
    pub syn: u64,
    /// The reset, and who sent it.
    pub reset: u64,
    pub by: Side,
    /// The SYN that started the next attempt.
    pub retry: u64,
}
