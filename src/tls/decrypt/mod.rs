//! Decryption of TLS records with the secrets of a key log (`tls::keylog`), and the check of
//! the Finished messages: TLS 1.3 (AES-GCM, ChaCha20-Poly1305, AES-CCM and CCM_8) and
//! TLS 1.0 to 1.2 (the same AEADs, and AES-CBC with HMAC-SHA1, -SHA256 or -SHA384, with or
//! without encrypt_then_mac).
//!
//! The pieces, for whoever wires this into a connection:
//! - `Suite::new(version, cipher_suite)` from the ServerHello: supported_versions when
//!   present, else its legacy version, and its cipher suite.
//! - One `Decryptor` per direction and key. TLS 1.3: `Decryptor::tls13(&suite, secret)` with
//!   the direction's handshake traffic secret after the ServerHello, then a new one with its
//!   traffic secret 0 after that direction's Finished; `key_update` after a KeyUpdate.
//!   TLS 1.2 and earlier: `Decryptor::tls12(&Tls12Params, master_secret)` gives both
//!   directions, each used from that direction's ChangeCipherSpec on.
//! - `Decryptor::open(content_type, version, body)` with a record's header fields as sent
//!   and its body, each protected record of the direction in order; a record that opens
//!   takes the next sequence number, one that fails takes none.
//! - `Transcript` collects the handshake messages; `tls12::verify_data` and
//!   `tls13::verify_data` compute what a Finished must hold.
//!
//! Keys never leave this module and nothing here prints them: `Decryptor`'s `Debug` shows
//! its suite and sequence number. Peer bytes cannot make it panic; whatever does not decrypt
//! is a `DecryptError`.

mod record;
mod suite;
pub mod tls12;
pub mod tls13;
mod transcript;

pub use suite::Suite;
pub use tls12::Sender;
pub use transcript::Transcript;

use crate::tls::values::{CipherSuite, ProtocolVersion};
use hmac::{Hmac, KeyInit, Mac};
use md5::Md5;
use record::{Aead, Cbc, MAX_CIPHERTEXT, NONCE_LEN};
use sha1::Sha1;
use sha2::{Sha256, Sha384};
use std::fmt;
use suite::Protection;

/// TLS 1.3's protected records all say application_data (RFC 8446 5.2).
const TLS13_OUTER_TYPE: u8 = 23;

/// Why a record, a key or a Finished could not be had.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecryptError {
    UnsupportedVersion(ProtocolVersion),
    /// Not one of the suites this module decrypts (3DES, RC4, ARIA, Camellia, NULL ...), or
    /// a suite of another version.
    UnsupportedSuite(CipherSuite),
    /// A secret of the wrong length for the suite: the key log line is for another suite, or
    /// is not the secret it says.
    SecretLength {
        expected: usize,
        got: usize,
    },
    /// A key could not be derived (a length the KDF refuses; not expected with a known suite).
    KeyDerivation,
    /// Shorter than its nonce, IV, tag, MAC or padding.
    RecordTooShort,
    /// Over 2^14 + 2048 bytes (RFC 5246 6.2.3).
    RecordTooLong,
    /// A CBC record that is not whole blocks.
    NotBlockAligned,
    /// CBC padding that does not read as padding: a wrong key, or a damaged record.
    BadPadding,
    /// The AEAD tag or the MAC does not match: a wrong key or sequence, or a damaged record.
    AuthenticationFailed,
    /// TLS 1.3: the decrypted record is all zeros, with no content type (RFC 8446 5.4).
    NoContentType,
    /// TLS 1.3: a record of another type than application_data, which is never protected
    /// (the middlebox-compatibility change_cipher_spec, a plaintext alert).
    NotProtected,
    /// 2^64 records: the sequence number cannot go on (RFC 5246 6.1).
    SequenceExhausted,
    /// `Decryptor::key_update` on a TLS 1.2 connection.
    NotTls13,
    /// `Transcript::hash` before `Transcript::use_suite`.
    TranscriptWithoutSuite,
    /// More than 1 MiB of handshake came before the suite was known.
    TranscriptTooLong,
}

impl fmt::Display for DecryptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecryptError::UnsupportedVersion(v) => write!(f, "cannot decrypt {}", v.name()),
            DecryptError::UnsupportedSuite(s) => write!(f, "cannot decrypt {}", s.name()),
            DecryptError::SecretLength { expected, got } => {
                write!(f, "a {got}-byte secret where the suite needs {expected}")
            }
            DecryptError::KeyDerivation => f.write_str("key derivation failed"),
            DecryptError::RecordTooShort => f.write_str("record too short to be protected"),
            DecryptError::RecordTooLong => f.write_str("record longer than 2^14 + 2048 bytes"),
            DecryptError::NotBlockAligned => f.write_str("CBC record not whole blocks"),
            DecryptError::BadPadding => f.write_str("bad CBC padding"),
            DecryptError::AuthenticationFailed => f.write_str("record authentication failed"),
            DecryptError::NoContentType => f.write_str("TLS 1.3 record without content type"),
            DecryptError::NotProtected => f.write_str("TLS 1.3 record not application_data"),
            DecryptError::SequenceExhausted => f.write_str("sequence number exhausted"),
            DecryptError::NotTls13 => f.write_str("KeyUpdate outside TLS 1.3"),
            DecryptError::TranscriptWithoutSuite => f.write_str("transcript hash before the suite"),
            DecryptError::TranscriptTooLong => f.write_str("handshake too long to keep"),
        }
    }
}

impl std::error::Error for DecryptError {}

/// One opened record.
#[derive(Clone, PartialEq, Eq)]
pub struct Plaintext {
    /// The real content type: in TLS 1.3 the inner one, not the outer application_data.
    pub content_type: u8,
    pub data: Vec<u8>,
}

/// By content type and length: application data is the user's, not ours to show.
impl fmt::Debug for Plaintext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plaintext")
            .field("content_type", &self.content_type)
            .field("len", &self.data.len())
            .finish()
    }
}

/// What TLS 1.2 (1.0, 1.1) key derivation needs besides the master secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tls12Params {
    pub suite: Suite,
    /// ClientHello.random.
    pub client_random: [u8; 32],
    /// ServerHello.random.
    pub server_random: [u8; 32],
    /// The ServerHello carried encrypt_then_mac (extension 22, RFC 7366); it changes CBC
    /// records only.
    pub encrypt_then_mac: bool,
}

/// The two directions of a TLS 1.2 connection.
pub struct Directions {
    /// Opens what the client sends.
    pub client: Decryptor,
    /// Opens what the server sends.
    pub server: Decryptor,
}

enum Keys {
    Tls13 {
        aead: Aead,
        iv: [u8; NONCE_LEN],
        /// Kept for KeyUpdate, which derives the next one from it.
        secret: Vec<u8>,
    },
    Tls12Aead {
        aead: Aead,
        /// The fixed IV, left-aligned (4 bytes for GCM and CCM, 12 for ChaCha20).
        fixed_iv: [u8; NONCE_LEN],
        explicit_nonce_len: usize,
    },
    Cbc(Cbc),
}

/// One direction's record protection and sequence number.
pub struct Decryptor {
    suite: Suite,
    keys: Keys,
    /// The next record's sequence number; `None` once 2^64 records went.
    sequence: Option<u64>,
}

/// By suite and sequence number only: the rest is keys.
impl fmt::Debug for Decryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decryptor")
            .field("suite", &self.suite.id())
            .field("sequence", &self.sequence)
            .finish_non_exhaustive()
    }
}

impl Decryptor {
    /// TLS 1.3: opens the records protected with `traffic_secret` (a handshake traffic
    /// secret, a traffic secret 0, or CLIENT_EARLY_TRAFFIC_SECRET for 0-RTT data), from
    /// sequence number 0.
    pub fn tls13(suite: &Suite, traffic_secret: &[u8]) -> Result<Decryptor, DecryptError> {
        let (key, iv) = tls13::traffic_keys(suite, traffic_secret)?;
        let Protection::Aead(alg) = suite.protection else {
            return Err(DecryptError::UnsupportedSuite(suite.id()));
        };
        Ok(Decryptor {
            suite: *suite,
            keys: Keys::Tls13 {
                aead: Aead::new(alg, &key)?,
                iv,
                secret: traffic_secret.to_vec(),
            },
            sequence: Some(0),
        })
    }

    /// TLS 1.2, 1.1, 1.0: both directions' protection from the master secret (the key log's
    /// CLIENT_RANDOM line), each from sequence number 0 at its ChangeCipherSpec.
    pub fn tls12(params: &Tls12Params, master_secret: &[u8]) -> Result<Directions, DecryptError> {
        let suite = &params.suite;
        let (client, server) = tls12::key_block(
            suite,
            master_secret,
            &params.client_random,
            &params.server_random,
        )?;
        let direction = |keys: tls12::DirectionKeys| -> Result<Decryptor, DecryptError> {
            let keys = match suite.protection {
                Protection::Aead(alg) => {
                    let mut fixed_iv = [0u8; NONCE_LEN];
                    for (f, k) in fixed_iv.iter_mut().zip(&keys.iv) {
                        *f = *k;
                    }
                    Keys::Tls12Aead {
                        aead: Aead::new(alg, &keys.key)?,
                        fixed_iv,
                        explicit_nonce_len: alg.tls12_explicit_nonce_len(),
                    }
                }
                Protection::Cbc { cipher, mac } => Keys::Cbc(Cbc::new(
                    cipher,
                    &keys.key,
                    mac,
                    &keys.mac_key,
                    (!keys.iv.is_empty()).then_some(keys.iv.as_slice()),
                    params.encrypt_then_mac,
                )?),
            };
            Ok(Decryptor {
                suite: *suite,
                keys,
                sequence: Some(0),
            })
        };
        Ok(Directions {
            client: direction(client)?,
            server: direction(server)?,
        })
    }

    /// Opens the next record of this direction: `content_type` and `version` as its header
    /// says, `body` the bytes after the header. A record that opens takes the next sequence
    /// number; one that does not takes none, so that a record under another key can be
    /// tried and passed over (RFC 8446 4.2.10: the early data of a rejected 0-RTT is skipped
    /// by trying it with the handshake key). In TLS 1.3, where every protected record says
    /// application_data, a record of another type is `NotProtected`.
    pub fn open(
        &mut self,
        content_type: u8,
        version: u16,
        body: &[u8],
    ) -> Result<Plaintext, DecryptError> {
        if matches!(self.keys, Keys::Tls13 { .. }) && content_type != TLS13_OUTER_TYPE {
            return Err(DecryptError::NotProtected);
        }
        let sequence = self.sequence.ok_or(DecryptError::SequenceExhausted)?;
        if body.len() > MAX_CIPHERTEXT {
            return Err(DecryptError::RecordTooLong);
        }
        let header = (content_type, version);
        let (content_type, data) = match &mut self.keys {
            Keys::Tls13 { aead, iv, .. } => record::open_tls13(aead, iv, sequence, header, body)?,
            Keys::Tls12Aead {
                aead,
                fixed_iv,
                explicit_nonce_len,
            } => {
                let data = record::open_tls12_aead(
                    aead,
                    fixed_iv,
                    *explicit_nonce_len,
                    sequence,
                    header,
                    body,
                )?;
                (content_type, data)
            }
            Keys::Cbc(cbc) => (content_type, cbc.open(sequence, header, body)?),
        };
        self.sequence = sequence.checked_add(1);
        Ok(Plaintext { content_type, data })
    }

    /// The sequence number of the next record.
    pub fn sequence(&self) -> Option<u64> {
        self.sequence
    }

    pub fn suite(&self) -> &Suite {
        &self.suite
    }

    /// TLS 1.3 KeyUpdate (RFC 8446 4.6.3): the records after the sender's KeyUpdate are
    /// protected with the next traffic secret, from sequence number 0.
    pub fn key_update(&mut self) -> Result<(), DecryptError> {
        let Keys::Tls13 { secret, .. } = &self.keys else {
            return Err(DecryptError::NotTls13);
        };
        let next = tls13::next_traffic_secret(&self.suite, secret)?;
        *self = Decryptor::tls13(&self.suite, &next)?;
        Ok(())
    }
}

/// The hashes HMAC runs over here: the PRFs' and TLS 1.3's (record MACs are in `record`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HmacHash {
    Md5,
    Sha1,
    Sha256,
    Sha384,
}

/// HMAC(key, parts joined).
fn hmac(hash: HmacHash, key: &[u8], parts: &[&[u8]]) -> Result<Vec<u8>, DecryptError> {
    fn run<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> Result<Vec<u8>, DecryptError> {
        let mut mac =
            <M as KeyInit>::new_from_slice(key).map_err(|_| DecryptError::KeyDerivation)?;
        for part in parts {
            mac.update(part);
        }
        Ok(mac.finalize().into_bytes().to_vec())
    }
    match hash {
        HmacHash::Md5 => run::<Hmac<Md5>>(key, parts),
        HmacHash::Sha1 => run::<Hmac<Sha1>>(key, parts),
        HmacHash::Sha256 => run::<Hmac<Sha256>>(key, parts),
        HmacHash::Sha384 => run::<Hmac<Sha384>>(key, parts),
    }
}

#[cfg(test)]
mod tests;
