//! The record of one connection: what the wire showed, in order, as facts a person or a
//! script can read (serialised with serde; the field names are a documented contract).
//!
//! Facts are added as events arrive from the TCP and TLS stages; the judgement of what they
//! mean (outcome, stage, who ended it, why) is `diagnose`'s, and is stored here once made.

use crate::capture::Timestamp;
use crate::flow::{Bound, Endpoint, PerSide, RoleEvidence, Side};
use crate::tls::certificate::CertificateInfo;
use crate::tls::handshake::{Sslv2Cipher, Sslv2ServerHello, kind, version};
use crate::tls::names;
use crate::tls::values::{AlertDescription, AlertLevel, AlertText};
use crate::tls::{ClientHello, Event, Located, Message, ServerHello};
use crate::wire_text::WireText;
use serde::Serialize;
use std::sync::Arc;

/// The most events a timeline keeps; later ones are counted in `timeline_dropped`.
pub const MAX_TIMELINE: usize = 256;

/// Application-data records from one side after which a connection the capture joined past
/// its handshake is settled though the other side sent none: a TLS 1.3 server's encrypted
/// flight is a handful of records before the client's Finished.
pub const JOINED_RECORDS: u32 = 16;

/// How far the handshake got, in the order the messages come.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    #[default]
    TcpConnect,
    ClientHello,
    ServerHello,
    ServerCertificate,
    ServerKeyExchange,
    ClientCertificate,
    ClientKeyExchange,
    Finished,
    /// TLS 1.3 after ServerHello: the rest of the handshake is encrypted.
    EncryptedHandshake,
    Established,
}

impl Stage {
    /// The stage an event shows the handshake has reached, if any. `tls13`: TLS 1.3 was
    /// negotiated or asked for, so the ServerHello starts the encrypted part and a
    /// ChangeCipherSpec is a compatibility no-op.
    pub fn reached_by(event: EventKind, from: Side, tls13: bool) -> Option<Stage> {
        use EventKind as E;
        match (event, from) {
            (E::ClientHello, _) => Some(Stage::ClientHello),
            (E::ServerHello, _) if tls13 => Some(Stage::EncryptedHandshake),
            (E::ServerHello | E::HelloRetryRequest, _) => Some(Stage::ServerHello),
            (E::Certificate, Side::Server) => Some(Stage::ServerCertificate),
            (E::Certificate, Side::Client) => Some(Stage::ClientCertificate),
            (E::ServerKeyExchange | E::CertificateRequest | E::ServerHelloDone, _) => {
                Some(Stage::ServerKeyExchange)
            }
            (E::ClientKeyExchange | E::ClientMasterKey, _) => Some(Stage::ClientKeyExchange),
            (E::ChangeCipherSpec, _) if !tls13 => Some(Stage::Finished),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Established,
    Failed,
    #[default]
    Incomplete,
    NotTls,
}

/// Who gave up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndedBy {
    Client,
    Server,
    Network,
    #[default]
    Unknown,
}

impl From<Side> for EndedBy {
    fn from(side: Side) -> Self {
        match side {
            Side::Client => EndedBy::Client,
            Side::Server => EndedBy::Server,
        }
    }
}

/// The first judgement of a connection, made by `diagnose`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Verdict {
    pub outcome: Outcome,
    pub stage: Stage,
    pub ended_by: EndedBy,
    /// The decisive frame.
    pub frame: u64,
    pub reason: String,
}

/// The failure classes, in the order of a connection's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    TcpNoResponse,
    TcpRefused,
    IcmpUnreachable,
    NoServerHello,
    ClientHelloLost,
    ServerReset,
    ServerClosed,
    ClientReset,
    ClientClosed,
    NotTlsClient,
    NotTlsServer,
    ProtocolVersion,
    NoSharedCipher,
    UnrecognizedName,
    MissingSni,
    NoApplicationProtocol,
    CertificateRejected,
    CertificateRejectedTls13,
    ClientCertificateRequired,
    ClientCertificateRejected,
    HelloRetryFailed,
    DowngradeDetected,
    CryptoFailure,
    Alert,
    CaptureStartedLate,
    CaptureOneDirection,
    CaptureEnded,
    TruncatedPackets,
    StreamGap,
    LimitReached,
}

/// Whether the wire says it outright (a cleartext alert, an RST) or it is inferred (from
/// sizes, timing or TTLs, which the evidence then names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    Certain,
    Likely,
}

/// One fact a diagnosis rests on, at the frame that shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub frame: Option<u64>,
    pub fact: String,
}

/// Why a connection did not establish, in an operator's words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    pub code: Code,
    pub stage: Stage,
    pub ended_by: EndedBy,
    pub frame: u64,
    pub confidence: Confidence,
    pub summary: String,
    pub evidence: Vec<Evidence>,
    pub cause: String,
    pub fix: String,
    /// What Chrome would have shown, where one fits.
    pub browser_error: Option<&'static str>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningCode {
    LegacyVersion,
    WeakCipher,
    NoForwardSecrecy,
    CertExpired,
    CertNotYetValid,
    CertExpiresSoon,
    CertNameMismatch,
    CertSelfSigned,
    CertChainIncomplete,
    WeakKey,
    WeakSignature,
    SlowHandshake,
    LimitReached,
}

/// One of tlsdiag's own bounds, reached by a connection: what follows it was not read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    Reassembly(Bound),
    HandshakeMessage { declared: usize },
}

impl Limit {
    /// What happened, and the flag that moves the bound.
    pub fn words(self) -> String {
        match self {
            Limit::Reassembly(Bound::Buffered) => {
                "its buffer of handshake bytes was full (--max-buffered)".to_string()
            }
            Limit::Reassembly(Bound::OutOfOrder) => {
                "too many of its segments were held out of order (--max-out-of-order)".to_string()
            }
            Limit::HandshakeMessage { declared } => format!(
                "a handshake message declared {declared} bytes, over --max-handshake-message"
            ),
        }
    }
}

/// The first limit a connection reached: at which frame, in which direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitHit {
    pub frame: u64,
    pub side: Side,
    pub limit: Limit,
}

/// A weakness of a connection that did establish.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub code: WarningCode,
    pub summary: String,
    pub evidence: Vec<Evidence>,
}

/// An ICMP error that quoted one of the connection's packets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IcmpFact {
    pub frame: u64,
    pub kind: &'static str,
    pub reporter: std::net::IpAddr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    IcmpUnreachable,
    Syn,
    SynAck,
    Fin,
    Rst,
    ClientHello,
    ServerHello,
    HelloRetryRequest,
    Certificate,
    ServerKeyExchange,
    CertificateRequest,
    ServerHelloDone,
    ClientKeyExchange,
    /// SSLv2: the client's choice of cipher and its encrypted master key.
    ClientMasterKey,
    /// SSLv2: an ERROR message in clear.
    Sslv2Error,
    CertificateVerify,
    NewSessionTicket,
    Finished,
    HandshakeMessage,
    ChangeCipherSpec,
    Alert,
    EncryptedHandshake,
    EncryptedAlert,
    ApplicationData,
    Heartbeat,
    Plaintext,
    TlsStart,
    Malformed,
    Gap,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TimelineEvent {
    pub frame: u64,
    /// Seconds since the connection's first packet.
    pub time: f64,
    pub from: Side,
    pub event: EventKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<Detail>,
}

/// A timeline event's detail, kept as its parts and worded only when reported: most
/// connections of a busy capture are never printed one by one, and formatting every detail
/// of every handshake was a tenth of the time on a handshake-dense capture. Written (Display,
/// and as a JSON string) exactly as the words it stands for.
#[derive(Clone, Debug, PartialEq)]
pub enum Detail {
    Text(String),
    Name(&'static str),
    /// "SNI {name}"
    Sni(WireText),
    /// Text a peer sent (a certificate's subject), shown escaped.
    Wire(WireText),
    /// "{version} {cipher}"
    Negotiated {
        version: &'static str,
        cipher: &'static str,
    },
    /// "asks for {group}"
    AsksFor(&'static str),
    /// "{level} {description} ({code})"
    Alert {
        level: AlertLevel,
        description: AlertDescription,
    },
    /// "{n} bytes"
    Bytes(usize),
    /// "ttl {ttl}"
    Ttl(u8),
    /// "{kind} from {reporter}"
    Icmp {
        kind: &'static str,
        reporter: std::net::IpAddr,
    },
    /// "{bytes} bytes missing at stream offset {offset}"
    Missing {
        bytes: u64,
        offset: u64,
    },
    /// "after {n} bytes of plaintext"
    AfterPlaintext(u64),
    /// "cut: {captured} of {total} bytes captured"
    Cut {
        captured: usize,
        total: usize,
    },
}

impl std::fmt::Display for Detail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Detail::Text(text) => f.write_str(text),
            Detail::Name(name) => f.write_str(name),
            Detail::Sni(name) => write!(f, "SNI {name}"),
            Detail::Wire(text) => write!(f, "{text}"),
            Detail::Negotiated { version, cipher } => write!(f, "{version} {cipher}"),
            Detail::AsksFor(group) => write!(f, "asks for {group}"),
            Detail::Alert { level, description } => AlertText(*level, *description).fmt(f),
            Detail::Bytes(n) => write!(f, "{n} bytes"),
            Detail::Ttl(ttl) => write!(f, "ttl {ttl}"),
            Detail::Icmp { kind, reporter } => write!(f, "{kind} from {reporter}"),
            Detail::Missing { bytes, offset } => {
                write!(f, "{bytes} bytes missing at stream offset {offset}")
            }
            Detail::AfterPlaintext(n) => write!(f, "after {n} bytes of plaintext"),
            Detail::Cut { captured, total } => {
                write!(f, "cut: {captured} of {total} bytes captured")
            }
        }
    }
}

impl Serialize for Detail {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    pub frame: u64,
    pub time: f64,
    pub from: Side,
    /// Absent when the alert was encrypted.
    pub level: Option<AlertLevel>,
    pub description: Option<AlertDescription>,
    pub encrypted: bool,
}

/// Level and description by name, and the description's number as `code`.
impl Serialize for Alert {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Alert", 7)?;
        s.serialize_field("frame", &self.frame)?;
        s.serialize_field("time", &self.time)?;
        s.serialize_field("from", &self.from)?;
        s.serialize_field("level", &self.level)?;
        s.serialize_field("description", &self.description)?;
        s.serialize_field("code", &self.description.map(|d| d.0))?;
        s.serialize_field("encrypted", &self.encrypted)?;
        s.end()
    }
}

/// Encrypted records of one direction (handshake, alerts and application data alike).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RecordStats {
    pub first_frame: Option<u64>,
    pub count: u64,
    pub bytes: u64,
    /// The sizes of the first few, which is what inferences about encrypted alerts rest on.
    pub first_sizes: Vec<usize>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ResumptionOffer {
    pub session_id: bool,
    pub session_ticket: bool,
    pub psk: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HelloRetry {
    pub frame: u64,
    /// The group the server asked the client to use.
    pub group: Option<&'static str>,
    pub cipher: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GapInfo {
    pub frame: u64,
    pub from: Side,
    /// Stream offset of the first missing byte in that direction.
    pub offset: u64,
    pub bytes: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TcpFacts {
    pub packets: PerSide<u64>,
    pub payload_bytes: PerSide<u64>,
    pub syn_count: u64,
    /// Segments whose every byte had been seen before, per sender (until the handshake
    /// settles).
    pub retransmissions: PerSide<u64>,
    pub out_of_order: u64,
    /// Payload bytes the snaplen cut from the capture.
    pub truncated_bytes: u64,
    /// Segments dropped because a buffering limit was reached.
    pub dropped_segments: u64,
    /// TTL (or hop limit) of the first packet from each side: an RST with another TTL than its
    /// side's first packet may come from a middlebox.
    pub first_ttl: PerSide<Option<u8>>,
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
    pub fn new(values: Vec<u16>, name: fn(u16) -> &'static str) -> Self {
        Names {
            values,
            name: Some(name),
        }
    }

    /// The numbers, as sent.
    pub fn values(&self) -> &[u16] {
        &self.values
    }

    pub fn iter(&self) -> impl Iterator<Item = &'static str> + '_ {
        let name = self.name.unwrap_or(|_| "");
        self.values.iter().map(move |&v| name(v))
    }

    /// The names of the real values, without the GREASE placeholders (RFC 8701) a client
    /// mixes in: what it actually offers.
    pub fn without_grease(&self) -> impl Iterator<Item = &'static str> + '_ {
        let name = self.name.unwrap_or(|_| "");
        let real = self.values.iter().filter(|&&v| !names::is_grease(v));
        real.map(move |&v| name(v))
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn join(&self, separator: &str) -> String {
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

/// One connection, as reported.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Connection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Live capture with --save-failures: the pcap file holding this failure's packets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saved_packets: Option<String>,
    pub tcp_stream: u64,
    pub client: Option<Endpoint>,
    pub server: Option<Endpoint>,
    pub roles_from: Option<RoleEvidence>,
    /// The layers outside the IP packet of the connection's first segment, outermost first
    /// (VLAN tags, MPLS, PPPoE, outer IP, GRE, ERSPAN, VXLAN, Geneve); omitted when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub encapsulation: Vec<crate::net::Layer>,
    pub first_frame: u64,
    pub last_frame: u64,
    /// Written as RFC 3339 when reported; kept as a time until then (most connections of a
    /// busy capture are never printed one by one).
    #[serde(serialize_with = "crate::capture::serialize_rfc3339")]
    pub start: Timestamp,
    pub duration_ms: f64,

    pub sni: Option<WireText>,
    /// The SNI's bytes in hex, present only when they were not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni_hex: Option<String>,
    pub client_versions: Names,
    pub cipher_suites: Names,
    pub alpn_offered: Vec<WireText>,
    /// Every offered ALPN name's bytes in hex, present only when one was not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpn_offered_hex: Option<Vec<String>>,
    pub groups: Names,
    pub key_share_groups: Names,
    pub signature_algorithms: Names,
    pub client_extensions: Names,
    pub resumption_offered: ResumptionOffer,
    pub client_hello_size: Option<usize>,

    pub version: Option<&'static str>,
    pub cipher: Option<&'static str>,
    pub alpn: Option<WireText>,
    /// The chosen ALPN name's bytes in hex, present only when they were not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpn_hex: Option<String>,
    pub group: Option<&'static str>,
    pub resumed: Option<bool>,
    pub server_extensions: Names,
    pub hello_retry: Option<HelloRetry>,

    pub certificates: Vec<Arc<CertificateInfo>>,
    pub client_certificates: Vec<Arc<CertificateInfo>>,
    pub certificates_undecoded: usize,
    pub certificate_requested: bool,

    pub alerts: Vec<Alert>,
    pub encrypted_records: PerSide<RecordStats>,
    /// The first bytes of each side's non-TLS data, printable (STARTTLS, HTTP, banners).
    pub plaintext: PerSide<Option<String>>,
    pub gaps: Vec<GapInfo>,
    pub malformed: Vec<String>,
    pub tcp: TcpFacts,
    pub timeline: Vec<TimelineEvent>,
    pub timeline_dropped: u64,

    #[serde(flatten)]
    pub verdict: Verdict,
    /// Why it failed: present when the outcome is not `established`.
    pub diagnosis: Option<Diagnosis>,
    /// Weaknesses of an established connection.
    pub warnings: Vec<Warning>,

    #[serde(skip)]
    pub facts: Facts,
}

/// What the verdict rules read: raw values and the frames of key events.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    pub start_ts: Timestamp,
    pub last_ts: Timestamp,
    /// The first ClientHello; its value lists (versions, suites, groups, key shares,
    /// signature schemes, extensions, ALPN) are in the record's fields, not here.
    pub client_hello: Option<(u64, Box<ClientHello>)>,
    pub client_hello_ts: Option<Timestamp>,
    /// The ServerHello kept for the verdict rules; its ALPN and extension list are in the
    /// record's fields, not here.
    pub server_hello: Option<(u64, Box<ServerHello>)>,
    pub server_hello_ts: Option<Timestamp>,
    /// The server's Certificate message: frame and time (certificates are judged then).
    pub server_certificate: Option<(u64, Timestamp)>,
    /// The client's Certificate message: frame, and whether it was empty.
    pub client_certificate: Option<(u64, bool)>,
    /// Every SYN the client sent (frame, time), the first few.
    pub syns: Vec<(u64, Timestamp)>,
    pub icmp: Option<IcmpFact>,
    /// Client bytes the server had not acknowledged when the capture ended.
    pub client_unacked: u64,
    /// The last frame that repeated bytes already sent, and its time, per side.
    pub last_retransmission: PerSide<Option<(u64, Timestamp)>>,
    pub syn: Option<u64>,
    pub syn_ack: Option<u64>,
    /// First FIN and first RST of each side.
    pub fin: PerSide<Option<u64>>,
    pub rst: PerSide<Option<(u64, u8)>>,
    pub ccs: PerSide<Option<u64>>,
    /// First encrypted handshake record after ChangeCipherSpec (TLS 1.2 and older): Finished.
    pub finished: PerSide<Option<u64>>,
    /// TLS 1.3: the client's first encrypted record after ServerHello, and its size.
    pub tls13_client_first: Option<(u64, usize)>,
    /// TLS 1.3: the first record of each side after the client's first one.
    pub tls13_after_client_first: PerSide<Option<(u64, usize)>>,
    pub stage: Stage,
    pub established_at: Option<u64>,
    /// SSLv2: the client's CLIENT-MASTER-KEY (frame, and the cipher it chose), after which
    /// both sides encrypt.
    pub sslv2_master_key: Option<(u64, Sslv2Cipher)>,
    /// Application-data records of each side until the handshake settled: whether a
    /// connection the capture joined late is past its handshake.
    pub application_records: PerSide<u32>,
    pub first_gap: Option<(u64, Side)>,
    pub saw_tls: bool,
    pub plaintext_first: Option<(u64, Side)>,
    /// The first of tlsdiag's limits this connection reached.
    pub limit: Option<LimitHit>,
    /// Certificates left undecoded by --max-chain or --max-certificate.
    pub certificates_over_limit: usize,
    /// The last attempt reset before this one, on the same port pair and sequence numbers.
    pub earlier_attempt: Option<EarlierAttempt>,
}

/// How a side closed its half of the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseKind {
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
pub struct Close {
    pub side: Side,
    pub frame: u64,
    pub kind: CloseKind,
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

impl Connection {
    pub fn new(tcp_stream: u64, first_frame: u64, ts: Timestamp) -> Self {
        Connection {
            tcp_stream,
            first_frame,
            last_frame: first_frame,
            start: ts,
            facts: Facts {
                start_ts: ts,
                last_ts: ts,
                ..Default::default()
            },
            ..Default::default()
        }
    }

    pub fn set_roles(&mut self, client: Endpoint, server: Endpoint, evidence: RoleEvidence) {
        self.client = Some(client);
        self.server = Some(server);
        self.roles_from = Some(evidence);
    }

    fn time_of(&self, ts: Timestamp) -> f64 {
        (ts.seconds_since(self.facts.start_ts) * 1e6).round() / 1e6
    }

    /// Sets `duration_ms` from the first and last packets: once, when the connection is
    /// judged, rather than for each of its packets.
    pub fn close_duration(&mut self) {
        let seconds = self.facts.last_ts.seconds_since(self.facts.start_ts);
        self.duration_ms = (seconds * 1e6).round() / 1e3;
    }

    /// Counts one packet of `side`.
    pub fn packet(
        &mut self,
        side: Side,
        frame: u64,
        ts: Timestamp,
        ttl: u8,
        payload: usize,
        missing: u32,
    ) {
        self.last_frame = frame;
        if ts > self.facts.last_ts {
            self.facts.last_ts = ts;
        }
        *self.tcp.packets.get_mut(side) += 1;
        *self.tcp.payload_bytes.get_mut(side) += payload as u64;
        self.tcp.truncated_bytes += u64::from(missing);
        self.tcp.first_ttl.get_mut(side).get_or_insert(ttl);
    }

    pub fn note(
        &mut self,
        side: Side,
        frame: u64,
        ts: Timestamp,
        event: EventKind,
        detail: Option<Detail>,
    ) {
        // The stage advances even when the timeline is full.
        if let Some(stage) = Stage::reached_by(event, side, self.speaks_tls13()) {
            self.advance(stage);
        }
        if self.timeline.len() >= MAX_TIMELINE {
            self.timeline_dropped += 1;
            return;
        }
        if event == EventKind::ClientHello {
            // A handshake's timeline has a dozen or so events: room for them at once, rather
            // than growing twice (and not before, so that a flood of SYNs stays small).
            self.timeline
                .reserve(16usize.saturating_sub(self.timeline.len()));
        }
        let time = self.time_of(ts);
        self.timeline.push(TimelineEvent {
            frame,
            time,
            from: side,
            event,
            detail,
        });
    }

    pub fn syn(&mut self, side: Side, frame: u64, ts: Timestamp, ack: bool) {
        self.tcp.syn_count += 1;
        let (slot, kind) = if ack {
            (&mut self.facts.syn_ack, EventKind::SynAck)
        } else {
            (&mut self.facts.syn, EventKind::Syn)
        };
        let retransmitted = slot.is_some();
        slot.get_or_insert(frame);
        if !ack && self.facts.syns.len() < 16 {
            self.facts.syns.push((frame, ts));
        }
        let detail = retransmitted.then_some(Detail::Name("retransmission"));
        self.note(side, frame, ts, kind, detail);
    }

    pub fn fin(&mut self, side: Side, frame: u64, ts: Timestamp) {
        if self.facts.fin.get(side).is_none() {
            *self.facts.fin.get_mut(side) = Some(frame);
            self.note(side, frame, ts, EventKind::Fin, None);
        }
    }

    pub fn rst(&mut self, side: Side, frame: u64, ts: Timestamp, ttl: u8) {
        if self.facts.rst.get(side).is_none() {
            *self.facts.rst.get_mut(side) = Some((frame, ttl));
            self.note(side, frame, ts, EventKind::Rst, Some(Detail::Ttl(ttl)));
        }
    }

    /// Whether `side`'s segment (a SYN when `syn`) starts a new attempt of this connection: the
    /// client's SYN after a reset that came before any payload.
    pub fn retried_after_reset(&self, side: Side, syn: bool) -> bool {
        syn && side == Side::Client && self.reset_before_data()
    }

    /// Reset before either side sent a byte: the client may still retry with the same SYN.
    pub fn reset_before_data(&self) -> bool {
        let f = &self.facts;
        (f.rst.client.is_some() || f.rst.server.is_some())
            && self.tcp.payload_bytes.client == 0
            && self.tcp.payload_bytes.server == 0
    }

    /// The SYN at `frame` starts the attempt judged from now on; the reset one is remembered.
    pub fn new_attempt(&mut self, frame: u64) {
        let f = &mut self.facts;
        let reset = match (f.rst.client, f.rst.server) {
            (Some((c, _)), Some((s, _))) if s < c => Some((Side::Server, s)),
            (Some((c, _)), _) => Some((Side::Client, c)),
            (None, s) => s.map(|(s, _)| (Side::Server, s)),
        };
        if let Some((by, reset)) = reset {
            f.earlier_attempt = Some(EarlierAttempt {
                syn: f.syn.unwrap_or(self.first_frame),
                reset,
                by,
                retry: frame,
            });
        }
        f.rst = PerSide::default();
        f.fin = PerSide::default();
        f.syn_ack = None;
    }

    /// An ICMP error quoting this connection's packets.
    pub fn unreachable(&mut self, frame: u64, ts: Timestamp, icmp: &crate::net::Unreachable) {
        self.last_frame = self.last_frame.max(frame);
        if self.facts.icmp.is_none() {
            self.facts.icmp = Some(IcmpFact {
                frame,
                kind: icmp.kind,
                reporter: icmp.reporter,
            });
        }
        let detail = Detail::Icmp {
            kind: icmp.kind,
            reporter: icmp.reporter,
        };
        self.note(
            Side::Server,
            frame,
            ts,
            EventKind::IcmpUnreachable,
            Some(detail),
        );
    }

    pub fn gap(&mut self, side: Side, gap: &crate::flow::Gap) {
        self.gaps.push(GapInfo {
            frame: gap.frame,
            from: side,
            offset: gap.offset,
            bytes: gap.len,
        });
        self.facts.first_gap.get_or_insert((gap.frame, side));
        let detail = Detail::Missing {
            bytes: gap.len,
            offset: gap.offset,
        };
        self.note(side, gap.frame, gap.ts, EventKind::Gap, Some(detail));
    }

    /// Whether the handshake's fate is known, so that payload need no longer be buffered.
    pub fn settled(&self) -> bool {
        let f = &self.facts;
        f.established_at.is_some()
            || self
                .alerts
                .iter()
                .any(|a| a.level != Some(AlertLevel::WARNING))
            || f.rst.client.is_some()
            || f.rst.server.is_some()
            || self.joined_after_handshake()
    }

    /// Neither a SYN nor a ClientHello of this connection has been seen (the capture may have
    /// joined it late).
    pub fn start_unseen(&self) -> bool {
        let f = &self.facts;
        f.client_hello.is_none() && f.syn.is_none() && f.syn_ack.is_none()
    }

    /// The capture joined this connection after its handshake, and nothing that follows can
    /// change its verdict (`capture_started_late` at the stage reached): no SYN and no hello,
    /// and application data from both sides, since a side sends no ChangeCipherSpec or
    /// Finished after its own, or `JOINED_RECORDS` records of it from one side (a download,
    /// whose client sends nothing), which bounds the wait for a TLS 1.3 client's Finished.
    /// Without this, every record of a long connection the capture joined was framed.
    fn joined_after_handshake(&self) -> bool {
        let f = &self.facts;
        let records = &f.application_records;
        self.start_unseen()
            && f.server_hello.is_none()
            && ((records.client > 0 && records.server > 0)
                || records.client.max(records.server) >= JOINED_RECORDS)
    }

    /// Takes one decoded TLS event of `side`.
    pub fn tls_event(&mut self, side: Side, located: Located) {
        let Located { event, frame, ts } = located;
        match event {
            Event::Handshake(message) => {
                self.facts.saw_tls = true;
                self.handshake_message(side, frame, ts, message);
            }
            Event::ChangeCipherSpec => {
                self.facts.saw_tls = true;
                self.facts.ccs.get_mut(side).get_or_insert(frame);
                self.note(side, frame, ts, EventKind::ChangeCipherSpec, None);
            }
            Event::Alert { level, description } => {
                self.facts.saw_tls = true;
                let (level, description) = (AlertLevel(level), AlertDescription(description));
                self.alerts.push(Alert {
                    frame,
                    time: self.time_of(ts),
                    from: side,
                    level: Some(level),
                    description: Some(description),
                    encrypted: false,
                });
                let detail = Detail::Alert { level, description };
                self.note(side, frame, ts, EventKind::Alert, Some(detail));
            }
            Event::Encrypted {
                content_type,
                length,
            } => {
                self.facts.saw_tls = true;
                self.encrypted(side, frame, ts, content_type, length);
            }
            Event::Sslv2Encrypted { length } => {
                self.facts.saw_tls = true;
                self.sslv2_encrypted(side, frame, ts, length);
            }
            Event::Sslv2Error { code } => {
                self.facts.saw_tls = true;
                let detail = Detail::Name(names::sslv2_error_name(code));
                self.note(side, frame, ts, EventKind::Sslv2Error, Some(detail));
            }
            Event::Heartbeat => self.note(side, frame, ts, EventKind::Heartbeat, None),
            Event::Plaintext { first_bytes } => {
                self.facts.plaintext_first.get_or_insert((frame, side));
                let shown = printable(&first_bytes);
                let detail = Detail::Text(shown.clone());
                self.note(side, frame, ts, EventKind::Plaintext, Some(detail));
                *self.plaintext.get_mut(side) = Some(shown);
            }
            Event::TlsAfterPlaintext { prefix_len } => {
                let detail = Detail::AfterPlaintext(prefix_len);
                self.note(side, frame, ts, EventKind::TlsStart, Some(detail));
            }
            Event::TooLarge { declared } => {
                let limit = Limit::HandshakeMessage { declared };
                self.limit_reached(LimitHit { frame, side, limit });
                let detail = Detail::Text(limit.words());
                self.note(side, frame, ts, EventKind::Malformed, Some(detail));
            }
            Event::Cut {
                handshake_type,
                captured,
                length,
            } => {
                self.facts.saw_tls = true;
                let event = match handshake_type {
                    Some(kind::CLIENT_HELLO) => EventKind::ClientHello,
                    Some(kind::SERVER_HELLO) => EventKind::ServerHello,
                    _ => EventKind::HandshakeMessage,
                };
                // The record header's five bytes count toward what was captured.
                let detail = Detail::Cut {
                    captured,
                    total: length + 5,
                };
                self.note(side, frame, ts, event, Some(detail));
            }
            Event::Malformed { detail } => {
                self.malformed.push(format!("frame {frame}: {detail}"));
                self.note(
                    side,
                    frame,
                    ts,
                    EventKind::Malformed,
                    Some(Detail::Text(detail)),
                );
            }
        }
    }

    /// Keeps the first limit reached.
    pub fn limit_reached(&mut self, hit: LimitHit) {
        self.facts.limit.get_or_insert(hit);
    }

    /// TLS 1.3 was negotiated, in its RFC form or one of its drafts.
    pub fn is_tls13(&self) -> bool {
        self.facts
            .server_hello
            .as_ref()
            .is_some_and(|(_, sh)| !sh.hello_retry && version::is_tls13(sh.version()))
    }

    /// TLS 1.3 was negotiated or asked for (a HelloRetryRequest is TLS 1.3 only): a
    /// ChangeCipherSpec is then a compatibility no-op, not the start of encryption.
    pub fn speaks_tls13(&self) -> bool {
        self.is_tls13() || self.hello_retry.is_some()
    }

    fn advance(&mut self, stage: Stage) {
        if stage > self.facts.stage {
            self.facts.stage = stage;
        }
    }

    fn handshake_message(&mut self, side: Side, frame: u64, ts: Timestamp, message: Message) {
        let (kind, detail) = match message {
            Message::ClientHello(mut ch) => {
                let detail = ch.sni.as_ref().map(|s| Detail::Sni(s.clone()));
                if self.facts.client_hello.is_none() {
                    self.client_hello_facts(&mut ch);
                    self.facts.client_hello = Some((frame, ch));
                    self.facts.client_hello_ts = Some(ts);
                }
                (EventKind::ClientHello, detail)
            }
            Message::ServerHello(sh) => {
                if !sh.hello_retry {
                    self.facts.server_hello_ts.get_or_insert(ts);
                }
                self.server_hello(frame, sh)
            }
            Message::Certificate {
                chain,
                undecoded,
                over_limit,
            } => {
                self.certificates_undecoded += undecoded;
                self.facts.certificates_over_limit += over_limit;
                let detail = chain.first().map(|c| Detail::Wire(c.subject.clone()));
                match side {
                    Side::Server => {
                        self.certificates = chain;
                        self.facts.server_certificate.get_or_insert((frame, ts));
                    }
                    Side::Client => {
                        let empty = chain.is_empty() && undecoded == 0;
                        self.facts.client_certificate.get_or_insert((frame, empty));
                        self.client_certificates = chain;
                        if empty {
                            self.note(
                                side,
                                frame,
                                ts,
                                EventKind::Certificate,
                                Some(Detail::Name("empty")),
                            );
                            return;
                        }
                    }
                }
                (EventKind::Certificate, detail)
            }
            Message::Other { kind } => self.other_message(kind),
            Message::Sslv2ServerHello(sh) => match self.sslv2_server_hello(frame, ts, *sh) {
                Some(subject) => {
                    self.note(side, frame, ts, EventKind::ServerHello, Some(subject.0));
                    (EventKind::Certificate, subject.1)
                }
                None => (EventKind::ServerHello, None),
            },
            Message::Sslv2ClientMasterKey { cipher } => {
                let name = names::sslv2_cipher_name(cipher);
                self.cipher = Some(name);
                self.facts.sslv2_master_key.get_or_insert((frame, cipher));
                (EventKind::ClientMasterKey, Some(Detail::Name(name)))
            }
        };
        self.note(side, frame, ts, kind, detail);
    }

    /// An SSLv2 SERVER-HELLO is the ServerHello and the server's Certificate in one: kept as
    /// both, so that the rules and the report read it as they read TLS. Returns the two
    /// timeline details when it carried a certificate (it does not on a session-id hit).
    fn sslv2_server_hello(
        &mut self,
        frame: u64,
        ts: Timestamp,
        sh: Sslv2ServerHello,
    ) -> Option<(Detail, Option<Detail>)> {
        let version = names::version_name(sh.version);
        self.version = Some(version);
        self.resumed = Some(sh.session_id_hit);
        self.facts.server_hello_ts.get_or_insert(ts);
        if self.facts.server_hello.is_none() {
            let hello = ServerHello {
                legacy_version: sh.version,
                ..Default::default()
            };
            self.facts.server_hello = Some((frame, Box::new(hello)));
        }
        self.certificates_undecoded += usize::from(sh.certificate_undecoded);
        self.facts.certificates_over_limit += usize::from(sh.certificate_over_limit);
        if sh.session_id_hit {
            return None;
        }
        self.facts.server_certificate.get_or_insert((frame, ts));
        let subject = sh
            .certificate
            .as_ref()
            .map(|c| Detail::Wire(c.subject.clone()));
        self.certificates = sh.certificate.into_iter().collect();
        Some((Detail::Name(version), subject))
    }

    /// SSLv2 says nothing of what an encrypted record holds: the handshake is taken as done
    /// once both sides have encrypted after the client's CLIENT-MASTER-KEY (SERVER-VERIFY and
    /// CLIENT-FINISHED at the least; a server that rejected the key would have closed).
    fn sslv2_encrypted(&mut self, side: Side, frame: u64, ts: Timestamp, length: usize) {
        let first_of_side = self.count_encrypted(side, frame, length);
        let f = &mut self.facts;
        let kind = if f.established_at.is_some() {
            if !first_of_side {
                return;
            }
            EventKind::ApplicationData
        } else {
            let firsts = &self.encrypted_records;
            if let (Some(_), Some(c), Some(s)) = (
                f.sslv2_master_key,
                firsts.client.first_frame,
                firsts.server.first_frame,
            ) {
                f.established_at = Some(c.max(s));
                self.advance(Stage::Established);
            }
            EventKind::EncryptedHandshake
        };
        self.note(side, frame, ts, kind, Some(Detail::Bytes(length)));
    }

    /// Counts an encrypted record of `side`; whether it is the side's first.
    fn count_encrypted(&mut self, side: Side, frame: u64, length: usize) -> bool {
        let stats = self.encrypted_records.get_mut(side);
        let first_of_side = stats.count == 0;
        stats.first_frame.get_or_insert(frame);
        stats.count += 1;
        stats.bytes += length as u64;
        if stats.first_sizes.len() < 8 {
            // All eight at once: growing a Vec in glibc costs more than the bytes saved.
            stats.first_sizes.reserve_exact(8 - stats.first_sizes.len());
            stats.first_sizes.push(length);
        }
        first_of_side
    }

    fn other_message(&mut self, kind: u8) -> (EventKind, Option<Detail>) {
        match kind {
            kind::SERVER_KEY_EXCHANGE => (EventKind::ServerKeyExchange, None),
            kind::CERTIFICATE_REQUEST => {
                self.certificate_requested = true;
                (EventKind::CertificateRequest, None)
            }
            kind::SERVER_HELLO_DONE => (EventKind::ServerHelloDone, None),
            kind::CLIENT_KEY_EXCHANGE => (EventKind::ClientKeyExchange, None),
            kind::CERTIFICATE_VERIFY => (EventKind::CertificateVerify, None),
            kind::NEW_SESSION_TICKET => (EventKind::NewSessionTicket, None),
            kind::FINISHED => (EventKind::Finished, None),
            other => (
                EventKind::HandshakeMessage,
                Some(Detail::Name(names::handshake_type_name(other))),
            ),
        }
    }

    /// Takes the ClientHello's value lists into the record (they are not copied: the
    /// ClientHello kept in `facts` is left without them).
    fn client_hello_facts(&mut self, ch: &mut ClientHello) {
        use std::mem::take;
        self.sni = ch.sni.clone();
        self.sni_hex = ch.sni.as_ref().and_then(WireText::hex);
        let versions = if ch.supported_versions.is_empty() {
            vec![ch.legacy_version]
        } else {
            take(&mut ch.supported_versions)
        };
        self.client_versions = Names::new(versions, names::version_name);
        self.cipher_suites = Names::new(take(&mut ch.cipher_suites), names::cipher_suite_name);
        self.alpn_offered = take(&mut ch.alpn);
        if self.alpn_offered.iter().any(|a| a.hex().is_some()) {
            self.alpn_offered_hex = Some(self.alpn_offered.iter().map(WireText::to_hex).collect());
        }
        self.groups = Names::new(take(&mut ch.groups), names::group_name);
        self.key_share_groups = Names::new(take(&mut ch.key_share_groups), names::group_name);
        let schemes = take(&mut ch.signature_algorithms);
        self.signature_algorithms = Names::new(schemes, names::signature_scheme_name);
        self.client_extensions = Names::new(take(&mut ch.extensions), names::extension_name);
        self.resumption_offered = ResumptionOffer {
            session_id: !ch.session_id.is_empty(),
            session_ticket: ch.session_ticket,
            psk: ch.psk,
        };
        self.client_hello_size = Some(ch.length);
    }

    /// Takes the ServerHello's ALPN and extension list into the record, as the ClientHello's
    /// lists are taken.
    fn server_hello(
        &mut self,
        frame: u64,
        mut sh: Box<ServerHello>,
    ) -> (EventKind, Option<Detail>) {
        if sh.hello_retry {
            let group = sh.group.map(names::group_name);
            self.hello_retry = Some(HelloRetry {
                frame,
                group,
                cipher: names::cipher_suite_name(sh.cipher),
            });
            return (EventKind::HelloRetryRequest, group.map(Detail::AsksFor));
        }
        let version = names::version_name(sh.version());
        let cipher = names::cipher_suite_name(sh.cipher);
        self.version = Some(version);
        self.cipher = Some(cipher);
        self.alpn = std::mem::take(&mut sh.alpn);
        self.alpn_hex = self.alpn.as_ref().and_then(WireText::hex);
        self.group = sh.group.map(names::group_name);
        let extensions = std::mem::take(&mut sh.extensions);
        self.server_extensions = Names::new(extensions, names::extension_name);
        let client_sid = self
            .facts
            .client_hello
            .as_ref()
            .map(|(_, ch)| ch.session_id.as_slice());
        self.resumed = Some(if version::is_tls13(sh.version()) {
            sh.psk_selected
        } else {
            !sh.session_id.is_empty() && client_sid == Some(sh.session_id.as_slice())
        });
        if self.facts.server_hello.is_none()
            || self
                .facts
                .server_hello
                .as_ref()
                .is_some_and(|(_, s)| s.hello_retry)
        {
            self.facts.server_hello = Some((frame, sh));
        }
        (
            EventKind::ServerHello,
            Some(Detail::Negotiated { version, cipher }),
        )
    }

    fn encrypted(
        &mut self,
        side: Side,
        frame: u64,
        ts: Timestamp,
        content_type: u8,
        length: usize,
    ) {
        if content_type == crate::tls::record::APPLICATION_DATA {
            let records = self.facts.application_records.get_mut(side);
            *records = records.saturating_add(1);
        }
        let first_of_side = self.count_encrypted(side, frame, length);
        let kind = if self.is_tls13() {
            self.tls13_record(side, frame, length)
        } else {
            self.tls12_record(side, frame, content_type)
        };
        match kind {
            EventKind::EncryptedAlert => {
                self.alerts.push(Alert {
                    frame,
                    time: self.time_of(ts),
                    from: side,
                    level: None,
                    description: None,
                    encrypted: true,
                });
            }
            // After the handshake only the first application record per side is worth a line.
            EventKind::ApplicationData if !first_of_side && self.facts.established_at.is_some() => {
                return;
            }
            _ => {}
        }
        self.note(side, frame, ts, kind, Some(Detail::Bytes(length)));
    }

    fn tls12_record(&mut self, side: Side, frame: u64, content_type: u8) -> EventKind {
        use crate::tls::record::{ALERT, HANDSHAKE};
        match content_type {
            HANDSHAKE if self.facts.ccs.get(side).is_some() => {
                if self.facts.finished.get(side).is_none() {
                    *self.facts.finished.get_mut(side) = Some(frame);
                    let f = &self.facts.finished;
                    // In a full handshake the server finishes last, after verifying the
                    // client's Finished: its Finished alone proves the handshake completed
                    // (which matters when the capture holds only the server's direction).
                    let full = self.facts.stage >= Stage::ServerCertificate;
                    let done = match (f.client, f.server) {
                        (Some(c), Some(s)) => Some(c.max(s)),
                        (None, Some(s)) if full => Some(s),
                        _ => None,
                    };
                    if let Some(frame) = done {
                        self.facts.established_at = Some(frame);
                        self.advance(Stage::Established);
                    }
                }
                EventKind::EncryptedHandshake
            }
            HANDSHAKE => EventKind::EncryptedHandshake,
            ALERT => EventKind::EncryptedAlert,
            _ => EventKind::ApplicationData,
        }
    }

    /// The size of an encrypted TLS 1.3 alert record: two bytes of alert, the inner content
    /// type and the AEAD tag (RFC 8446 5.2). No handshake message is that small but an empty
    /// EncryptedExtensions, which is one byte longer.
    pub fn tls13_alert_record_len(&self) -> usize {
        let cipher = self.facts.server_hello.as_ref().map(|(_, sh)| sh.cipher);
        let tag = cipher
            .and_then(names::cipher_facts)
            .and_then(|f| f.aead_tag_len)
            .unwrap_or(16);
        2 + 1 + usize::from(tag)
    }

    /// TLS 1.3 hides the rest of the handshake; record sizes and order tell what they can.
    fn tls13_record(&mut self, side: Side, frame: u64, length: usize) -> EventKind {
        let alert_len = self.tls13_alert_record_len();
        let alert = length == alert_len;
        let kind = if alert {
            EventKind::EncryptedAlert
        } else {
            EventKind::EncryptedHandshake
        };
        let f = &mut self.facts;
        if f.established_at.is_some() {
            return if alert {
                EventKind::EncryptedAlert
            } else {
                EventKind::ApplicationData
            };
        }
        match (side, f.tls13_client_first) {
            (Side::Server, None) => kind,
            (Side::Client, None) => {
                f.tls13_client_first = Some((frame, length));
                kind
            }
            // The client keeps talking (its Finished may follow an empty Certificate, then
            // data): only the server's next record, or the end, decides.
            (Side::Client, Some(_)) => {
                f.tls13_after_client_first
                    .client
                    .get_or_insert((frame, length));
                if alert {
                    EventKind::EncryptedAlert
                } else {
                    EventKind::EncryptedHandshake
                }
            }
            (Side::Server, Some((client_frame, client_len))) => {
                f.tls13_after_client_first
                    .server
                    .get_or_insert((frame, length));
                // The client's Finished stands unless the server's next word is an alert.
                if client_len != alert_len
                    && !alert
                    && f.tls13_after_client_first.server == Some((frame, length))
                {
                    f.established_at = Some(client_frame);
                    self.advance(Stage::Established);
                    return EventKind::ApplicationData;
                }
                if alert {
                    EventKind::EncryptedAlert
                } else {
                    EventKind::ApplicationData
                }
            }
        }
    }

    /// At the end of the capture: a TLS 1.3 client Finished that nothing contradicted stands,
    /// unless the server's stream has a hole, where its objection may have been.
    pub fn close_tls13_pending(&mut self) {
        let alert_len = self.tls13_alert_record_len();
        let server_objected = self
            .facts
            .tls13_after_client_first
            .server
            .is_some_and(|(_, len)| len == alert_len);
        let server_unseen = self.gaps.iter().any(|g| g.from == Side::Server);
        if self.facts.established_at.is_none()
            && !server_objected
            && !server_unseen
            && let Some((frame, len)) = self.facts.tls13_client_first
            && len != alert_len
        {
            self.facts.established_at = Some(frame);
            self.advance(Stage::Established);
        }
    }
}

/// Bytes as text a terminal can show: printable ASCII kept, the rest escaped.
pub fn printable(bytes: &[u8]) -> String {
    bytes
        .iter()
        .flat_map(|&b| std::ascii::escape_default(b))
        .map(char::from)
        .collect()
}
