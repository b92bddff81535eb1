//! The judgement's vocabulary: how far a handshake got, its outcome, who ended it, the
//! failure classes and warnings, and the diagnosis with its evidence.

use super::EventKind;
use crate::flow::{Bound, Side};
use serde::Serialize;

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
    pub(crate) fn reached_by(event: EventKind, from: Side, tls13: bool) -> Option<Stage> {
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
pub(crate) enum Limit {
    Reassembly(Bound),
    HandshakeMessage { declared: usize },
}

impl Limit {
    /// What happened, and the flag that moves the bound.
    pub(crate) fn words(self) -> String {
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
pub(crate) struct LimitHit {
    pub(crate) frame: u64,
    pub(crate) side: Side,
    pub(crate) limit: Limit,
}

/// A weakness of a connection that did establish.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub code: WarningCode,
    pub summary: String,
    pub(crate) evidence: Vec<Evidence>,
}
