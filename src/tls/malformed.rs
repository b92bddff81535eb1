//! Why bytes that claimed to be TLS do not decode: the decoder's one error type.
//!
//! Each variant is a cause the decoder tells apart; `Display` writes the words reports show
//! (the JSON's `malformed` list and the timeline), which must not change with the code.

use std::fmt;

/// Bytes that claimed to be TLS but do not decode, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// Where a record was expected, bytes that do not frame as one.
    NotARecord,
    /// A handshake message of no bytes.
    EmptyHandshake,
    /// tls-parser read the bytes as a message that is not a handshake message.
    NotAHandshake,
    /// tls-parser did not read the handshake message: its error, as it debug-prints it.
    Undecodable(String),
    /// The message read, but not as the type its header declared.
    NotTheDeclaredType(Declared),
    /// The hello's extensions did not decode: tls-parser's error, as it debug-prints it.
    Extensions { hello: Hello, parser: String },
    /// A ServerHello of a TLS 1.3 draft before 22 (read here, not by tls-parser) is short.
    EarlyDraftServerHello,
    /// An SSLv2 message shorter than its fixed fields.
    Sslv2TooShort(Sslv2Message),
    /// An SSLv2 message whose lengths run past its record.
    Sslv2CutShort(Sslv2Field),
    /// An SSLv2 message of a type that is never sent in clear, or unknown.
    Sslv2InClear { message_type: u8 },
    /// An SSLv2 record with no message type.
    Sslv2Empty,
}

/// The handshake types whose decoding checks what tls-parser read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Declared {
    ClientHello,
    ServerHello,
    Certificate,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hello {
    Client,
    Server,
}

/// The SSLv2 messages read in clear, spelled as the reports always have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sslv2Message {
    ClientHello,
    ServerHello,
    ClientMasterKey,
}

/// The variable-length fields of the SSLv2 hellos.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sslv2Field {
    CipherSpecs,
    SessionId,
    Certificate,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::NotARecord => {
                f.write_str("bytes that are not a TLS record where one was expected")
            }
            Malformed::EmptyHandshake => f.write_str("empty handshake message"),
            Malformed::NotAHandshake => f.write_str("not a handshake message"),
            Malformed::Undecodable(parser) => write!(f, "undecodable handshake message: {parser}"),
            Malformed::NotTheDeclaredType(declared) => write!(f, "{declared} did not decode"),
            Malformed::Extensions { hello, parser } => {
                write!(f, "{hello} extensions did not decode: {parser}")
            }
            Malformed::EarlyDraftServerHello => {
                f.write_str("TLS 1.3 draft ServerHello did not decode")
            }
            Malformed::Sslv2TooShort(message) => write!(f, "SSLv2 {message} too short"),
            Malformed::Sslv2CutShort(field) => write!(f, "SSLv2 {field} cut short"),
            Malformed::Sslv2InClear { message_type } => {
                write!(f, "SSLv2 message of type {message_type} in clear")
            }
            Malformed::Sslv2Empty => f.write_str("empty SSLv2 record"),
        }
    }
}

impl std::error::Error for Malformed {}

impl fmt::Display for Declared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Declared::ClientHello => "ClientHello",
            Declared::ServerHello => "ServerHello",
            Declared::Certificate => "Certificate",
        })
    }
}

impl fmt::Display for Hello {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Hello::Client => "ClientHello",
            Hello::Server => "ServerHello",
        })
    }
}

impl fmt::Display for Sslv2Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The CLIENT-HELLO has always been spelled as TLS spells it here.
        f.write_str(match self {
            Sslv2Message::ClientHello => "ClientHello",
            Sslv2Message::ServerHello => "SERVER-HELLO",
            Sslv2Message::ClientMasterKey => "CLIENT-MASTER-KEY",
        })
    }
}

impl fmt::Display for Sslv2Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Sslv2Field::CipherSpecs => "cipher specs",
            Sslv2Field::SessionId => "session id",
            Sslv2Field::Certificate => "certificate",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The words each cause wrote when the decoder's errors were strings.
    #[test]
    fn display_writes_the_words_reports_always_showed() {
        let parser = || "Error(Error { input: [0], code: Verify })".to_string();
        for (error, words) in [
            (
                Malformed::NotARecord,
                "bytes that are not a TLS record where one was expected",
            ),
            (Malformed::EmptyHandshake, "empty handshake message"),
            (Malformed::NotAHandshake, "not a handshake message"),
            (
                Malformed::Undecodable(parser()),
                "undecodable handshake message: Error(Error { input: [0], code: Verify })",
            ),
            (
                Malformed::NotTheDeclaredType(Declared::ClientHello),
                "ClientHello did not decode",
            ),
            (
                Malformed::NotTheDeclaredType(Declared::ServerHello),
                "ServerHello did not decode",
            ),
            (
                Malformed::NotTheDeclaredType(Declared::Certificate),
                "Certificate did not decode",
            ),
            (
                Malformed::Extensions {
                    hello: Hello::Client,
                    parser: parser(),
                },
                "ClientHello extensions did not decode: Error(Error { input: [0], code: Verify })",
            ),
            (
                Malformed::Extensions {
                    hello: Hello::Server,
                    parser: parser(),
                },
                "ServerHello extensions did not decode: Error(Error { input: [0], code: Verify })",
            ),
            (
                Malformed::EarlyDraftServerHello,
                "TLS 1.3 draft ServerHello did not decode",
            ),
            (
                Malformed::Sslv2TooShort(Sslv2Message::ClientHello),
                "SSLv2 ClientHello too short",
            ),
            (
                Malformed::Sslv2TooShort(Sslv2Message::ServerHello),
                "SSLv2 SERVER-HELLO too short",
            ),
            (
                Malformed::Sslv2TooShort(Sslv2Message::ClientMasterKey),
                "SSLv2 CLIENT-MASTER-KEY too short",
            ),
            (
                Malformed::Sslv2CutShort(Sslv2Field::CipherSpecs),
                "SSLv2 cipher specs cut short",
            ),
            (
                Malformed::Sslv2CutShort(Sslv2Field::SessionId),
                "SSLv2 session id cut short",
            ),
            (
                Malformed::Sslv2CutShort(Sslv2Field::Certificate),
                "SSLv2 certificate cut short",
            ),
            (
                Malformed::Sslv2InClear { message_type: 7 },
                "SSLv2 message of type 7 in clear",
            ),
            (Malformed::Sslv2Empty, "empty SSLv2 record"),
        ] {
            assert_eq!(error.to_string(), words);
        }
    }
}
