//! TLS decoding of one direction's reassembled bytes: record framing, handshake message
//! framing across records, and decoding of the cleartext messages (tls-parser, x509-parser).
//!
//! A `Decoder` turns bytes into located `Event`s. It does not decide what the events mean for
//! the connection; that is the connection record's job.

pub mod certificate;
mod decoder;
pub mod decrypt;
pub mod fingerprint;
pub mod handshake;
pub mod keylog;
pub(crate) mod malformed;
pub mod names;
pub mod record;
pub(crate) mod session;
pub mod values;

use crate::capture::Timestamp;
pub use decoder::Decoder;
pub use handshake::{ClientHello, Message, ServerHello};
pub use malformed::Malformed;

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
pub(crate) struct Counters {
    /// Handshake messages refused for declaring more than `max_handshake_message`.
    pub(crate) messages_over_limit: u64,
    /// Certificates not decoded: beyond `max_chain`, or over `max_certificate`.
    pub(crate) certificates_over_limit: u64,
}

/// What one direction's bytes said, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Event {
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
    Malformed(Malformed),
    /// What an `Encrypted` record just before held, opened with the key log's keys.
    Decrypted(Decrypted),
}

/// The content of a record opened with a key log's keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decrypted {
    Handshake(Message),
    Alert {
        level: u8,
        description: u8,
    },
    /// A Finished checked against the transcript: `false` when the handshake the peers saw
    /// is not the one captured (a middlebox altered it).
    Finished {
        verified: bool,
    },
}

/// An event and the frame whose bytes completed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located {
    pub(crate) event: Event,
    pub(crate) frame: u64,
    pub(crate) ts: Timestamp,
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
