//! The handshake transcript: the hash of every handshake message so far, which the
//! Finished messages sign (RFC 8446 4.4.1, RFC 5246 7.4.9).
//!
//! The hash is the suite's, known only from the ServerHello on: until then the messages
//! are kept (up to `MAX_BUFFERED` bytes), and from `use_suite` on they are hashed as they
//! come, so that a long handshake costs no memory.

use super::DecryptError;
use super::suite::{HashAlg, Suite};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384};

/// Bytes kept before the suite is known: a ClientHello and ServerHello take a few hundred
/// to a few thousand (with a post-quantum key share).
pub(super) const MAX_BUFFERED: usize = 1 << 20;

/// HandshakeType message_hash (RFC 8446 4.4.1).
const MESSAGE_HASH: u8 = 254;

#[derive(Clone)]
enum Running {
    Sha256(Sha256),
    Sha384(Sha384),
    /// TLS 1.0 and 1.1 sign MD5 and SHA-1 of the messages side by side.
    Md5Sha1(Md5, Sha1),
}

impl Running {
    fn new(hash: HashAlg) -> Running {
        match hash {
            HashAlg::Sha256 => Running::Sha256(Sha256::new()),
            HashAlg::Sha384 => Running::Sha384(Sha384::new()),
            HashAlg::Md5Sha1 => Running::Md5Sha1(Md5::new(), Sha1::new()),
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        match self {
            Running::Sha256(h) => h.update(bytes),
            Running::Sha384(h) => h.update(bytes),
            Running::Md5Sha1(md5, sha1) => {
                md5.update(bytes);
                sha1.update(bytes);
            }
        }
    }

    fn value(&self) -> Vec<u8> {
        match self.clone() {
            Running::Sha256(h) => h.finalize().to_vec(),
            Running::Sha384(h) => h.finalize().to_vec(),
            Running::Md5Sha1(md5, sha1) => {
                let mut both = md5.finalize().to_vec();
                both.extend_from_slice(&sha1.finalize());
                both
            }
        }
    }
}

#[derive(Clone)]
enum State {
    Buffering(Vec<u8>),
    /// More than `MAX_BUFFERED` bytes came before the suite: no hash can be right.
    Overflowed,
    Hashing(Running),
}

/// The handshake messages of one connection, both directions, in the order they were sent.
#[derive(Clone)]
pub struct Transcript {
    state: State,
}

impl Default for Transcript {
    fn default() -> Self {
        Transcript::new()
    }
}

/// By its state only: the messages are not secret, but are long and say nothing here.
impl std::fmt::Debug for Transcript {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.state {
            State::Buffering(b) => format!("buffering {} bytes", b.len()),
            State::Overflowed => "overflowed".to_string(),
            State::Hashing(_) => "hashing".to_string(),
        };
        f.debug_tuple("Transcript").field(&state).finish()
    }
}

impl Transcript {
    pub fn new() -> Transcript {
        Transcript {
            state: State::Buffering(Vec::new()),
        }
    }

    /// Adds one whole handshake message, its 4-byte header included, as it was sent (in
    /// TLS 1.3, as it was decrypted). Every message counts except HelloRequest, and in
    /// TLS 1.3 the NewSessionTicket and KeyUpdate after the handshake.
    pub fn add(&mut self, message: &[u8]) {
        match &mut self.state {
            State::Buffering(buffer) if buffer.len() + message.len() > MAX_BUFFERED => {
                self.state = State::Overflowed;
            }
            State::Buffering(buffer) => buffer.extend_from_slice(message),
            State::Overflowed => {}
            State::Hashing(running) => running.update(message),
        }
    }

    /// Hashes with `suite`'s hash from here on, the messages so far included: call it once
    /// the ServerHello has told the suite. A second call changes nothing.
    pub fn use_suite(&mut self, suite: &Suite) {
        if let State::Buffering(buffer) = &self.state {
            let mut running = Running::new(suite.hash);
            running.update(buffer);
            self.state = State::Hashing(running);
        }
    }

    /// After a HelloRetryRequest (RFC 8446 4.4.1): the first ClientHello is replaced by a
    /// message_hash message holding its hash. Call it with the first ClientHello added and
    /// the suite set, before adding the HelloRetryRequest.
    pub fn restart_after_hello_retry(&mut self, suite: &Suite) -> Result<(), DecryptError> {
        self.use_suite(suite);
        let first = self.hash()?;
        let len = u8::try_from(first.len()).map_err(|_| DecryptError::KeyDerivation)?;
        let mut running = Running::new(suite.hash);
        running.update(&[MESSAGE_HASH, 0, 0, len]);
        running.update(&first);
        self.state = State::Hashing(running);
        Ok(())
    }

    /// The hash of the messages so far: what the next Finished signs.
    pub fn hash(&self) -> Result<Vec<u8>, DecryptError> {
        match &self.state {
            State::Hashing(running) => Ok(running.value()),
            State::Buffering(_) => Err(DecryptError::TranscriptWithoutSuite),
            State::Overflowed => Err(DecryptError::TranscriptTooLong),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::values::{CipherSuite, ProtocolVersion};

    fn suite(version: u16, id: u16) -> Suite {
        Suite::new(ProtocolVersion(version), CipherSuite(id)).unwrap()
    }

    #[test]
    fn hashes_what_came_before_and_after_the_suite() {
        let mut early = Transcript::new();
        early.add(b"abc");
        assert_eq!(early.hash(), Err(DecryptError::TranscriptWithoutSuite));
        early.use_suite(&suite(0x0303, 0xc02f));
        early.add(b"def");
        let mut late = Transcript::new();
        late.use_suite(&suite(0x0303, 0xc02f));
        late.add(b"abcdef");
        assert_eq!(early.hash(), late.hash());
        assert_eq!(early.hash().unwrap(), Sha256::digest(b"abcdef").to_vec());
        // The value can be asked for again and again.
        assert_eq!(early.hash(), late.hash());
    }

    #[test]
    fn tls10_signs_md5_and_sha1() {
        let mut t = Transcript::new();
        t.add(b"abc");
        t.use_suite(&suite(0x0301, 0xc013));
        let value = t.hash().unwrap();
        assert_eq!(value.len(), 36);
        assert_eq!(value[..16], Md5::digest(b"abc")[..]);
        assert_eq!(value[16..], Sha1::digest(b"abc")[..]);
        let mut sha384 = Transcript::new();
        sha384.use_suite(&suite(0x0304, 0x1302));
        assert_eq!(sha384.hash().unwrap().len(), 48);
    }

    #[test]
    fn a_hello_retry_replaces_the_first_client_hello_by_its_hash() {
        let s = suite(0x0304, 0x1301);
        let mut t = Transcript::new();
        t.add(b"first client hello");
        t.restart_after_hello_retry(&s).unwrap();
        t.add(b"hrr");
        let mut expected = vec![254, 0, 0, 32];
        expected.extend_from_slice(&Sha256::digest(b"first client hello"));
        expected.extend_from_slice(b"hrr");
        assert_eq!(t.hash().unwrap(), Sha256::digest(&expected).to_vec());
    }

    #[test]
    fn buffering_is_bounded() {
        let mut t = Transcript::new();
        let piece = vec![0u8; 64 << 10];
        for _ in 0..20 {
            t.add(&piece);
        }
        t.use_suite(&suite(0x0303, 0xc02f));
        assert_eq!(t.hash(), Err(DecryptError::TranscriptTooLong));
        assert_eq!(format!("{t:?}"), "Transcript(\"overflowed\")");
    }
}
