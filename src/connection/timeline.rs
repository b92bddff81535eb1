//! What happened, in order: the timeline's events and their details, and the alerts.

use crate::flow::Side;
use crate::tls::values::{AlertDescription, AlertLevel, AlertText};
use crate::wire_text::WireText;
use serde::Serialize;

/// An ICMP error that quoted one of the connection's packets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct IcmpFact {
    pub(crate) frame: u64,
    pub(crate) kind: &'static str,
    pub(crate) reporter: std::net::IpAddr,
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
/// connections of a busy capture are never printed one by one. Written (Display, and as a
/// JSON string) exactly as the words it stands for.
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
    pub(crate) time: f64,
    pub from: Side,
    /// Absent when the alert was encrypted.
    pub(crate) level: Option<AlertLevel>,
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
