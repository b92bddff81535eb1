//! One connection's decryption, when a key log was given: the secrets of its client random,
//! each direction's record protection as the handshake moves from key to key, and the
//! handshake transcript each Finished is checked against.
//!
//! Both directions' decoders share it (a connection has one transcript, in sending order);
//! the connection's owner lends it to whichever decoder it feeds.

use super::decrypt::{self, Decryptor, Plaintext, Sender, Suite, Tls12Params, Transcript};
use super::handshake::{ClientHello, Message, ServerHello, kind};
use super::keylog::{KeyLog, Secret, Secrets};
use super::values::{CipherSuite, ProtocolVersion};
use crate::flow::{PerSide, Side};
use serde::Serialize;
use std::fmt;
use std::sync::Arc;

/// What became of a connection's decryption.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decryption {
    /// No key log was given.
    #[default]
    None,
    /// The key log holds nothing for this connection's client random (or it sent no
    /// ClientHello, or its suite is one tlsdiag does not decrypt).
    NoKeys,
    /// Keys found; every record tried opened.
    Ok,
    /// Keys found, but records did not authenticate: a key log from another run.
    Failed,
}

/// The extension number of encrypt_then_mac (RFC 7366).
const ENCRYPT_THEN_MAC: u16 = 22;

/// The direction a decoder reads: it knows itself as client or server by this flag.
fn at(server: bool) -> Side {
    if server { Side::Server } else { Side::Client }
}

pub(crate) struct Session {
    keylog: Arc<KeyLog>,
    client_random: Option<[u8; 32]>,
    suite: Option<Suite>,
    /// Each direction's record protection in force.
    active: PerSide<Option<Decryptor>>,
    /// TLS 1.2: each direction's protection from its ChangeCipherSpec on.
    pending: PerSide<Option<Decryptor>>,
    /// Each direction has sent its Finished: the handshake transcript is complete for it.
    finished: PerSide<bool>,
    /// TLS 1.3: a direction past its Finished whose application traffic keys are made only
    /// when one of its records needs them. Most connections settle first and are read no
    /// further, and the keys cost four HKDF-Expand-Labels.
    application_due: PerSide<bool>,
    transcript: Transcript,
    /// Each direction's decrypted bytes of a handshake message that later records complete.
    partial: PerSide<Vec<u8>>,
    /// The ServerHello chose a suite and the key log had its secrets.
    keys: Option<bool>,
    opened: u64,
    failed: u64,
}

/// Counts only: a session holds secrets.
impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("keys", &self.keys)
            .field("opened", &self.opened)
            .field("failed", &self.failed)
            .finish()
    }
}

impl Session {
    pub(crate) fn new(keylog: Arc<KeyLog>) -> Session {
        Session {
            keylog,
            client_random: None,
            suite: None,
            active: PerSide::default(),
            pending: PerSide::default(),
            finished: PerSide::default(),
            application_due: PerSide::default(),
            partial: PerSide::default(),
            transcript: Transcript::new(),
            keys: None,
            opened: 0,
            failed: 0,
        }
    }

    pub(crate) fn status(&self) -> Decryption {
        match self.keys {
            Some(true) if self.failed > 0 && self.opened == 0 => Decryption::Failed,
            Some(true) => Decryption::Ok,
            _ => Decryption::NoKeys,
        }
    }

    fn secrets(&self) -> Option<&Secrets> {
        self.keylog.secrets(self.client_random.as_ref()?)
    }

    /// A whole handshake message of one direction (its 4-byte header included), in clear or
    /// decrypted, in the order sent. For a Finished: whether its verify_data is the one the
    /// transcript and the secrets give (None when that cannot be computed).
    pub(crate) fn message(
        &mut self,
        server: bool,
        bytes: &[u8],
        decoded: &Message,
    ) -> Option<bool> {
        match decoded {
            Message::ClientHello(ch) if !server => self.client_hello(ch, bytes),
            Message::ServerHello(sh) if server => self.server_hello(sh, bytes),
            _ => {
                let kind = bytes.first().copied();
                if kind == Some(kind::FINISHED) {
                    return self.finished(server, bytes);
                }
                if kind == Some(kind::KEY_UPDATE) && *self.finished.get(at(server)) {
                    // The sender's next records use its next traffic secret.
                    if let Some(d) = self.active.get_mut(at(server)).as_mut() {
                        let _ = d.key_update();
                    }
                }
                // Messages after a side's Finished (tickets, key updates) are no part of it.
                if !*self.finished.get(at(server)) {
                    self.transcript.add(bytes);
                }
            }
        }
        None
    }

    fn client_hello(&mut self, ch: &ClientHello, bytes: &[u8]) {
        // A renegotiation's ClientHello (encrypted) starts no new session here.
        if self.suite.is_some() && self.client_random.is_some() {
            return;
        }
        self.client_random.get_or_insert(ch.random);
        self.transcript.add(bytes);
    }

    fn server_hello(&mut self, sh: &ServerHello, bytes: &[u8]) {
        if self.keys.is_some() {
            return;
        }
        let suite = Suite::new(ProtocolVersion(sh.version()), CipherSuite(sh.cipher));
        let Ok(suite) = suite else {
            self.keys = Some(false);
            return;
        };
        if sh.hello_retry {
            // The transcript goes on from the hash of the first ClientHello (RFC 8446 4.4.1).
            let _ = self.transcript.restart_after_hello_retry(&suite);
            self.transcript.add(bytes);
            return;
        }
        self.transcript.use_suite(&suite);
        self.transcript.add(bytes);
        self.suite = Some(suite);
        let keys = match self.secrets() {
            Some(secrets) if suite.is_tls13() => tls13_keys(&suite, secrets),
            Some(secrets) => tls12_keys(&suite, secrets, sh, self.client_random),
            None => None,
        };
        self.keys = Some(keys.is_some());
        if let Some((keys, tls13)) = keys {
            let [client, server] = keys;
            let both = PerSide { client, server };
            if tls13 {
                self.active = both;
            } else {
                self.pending = both;
            }
        }
    }

    /// Checks a Finished, then moves its sender to its traffic keys (TLS 1.3).
    fn finished(&mut self, server: bool, bytes: &[u8]) -> Option<bool> {
        let verified = self.verify_finished(server, bytes);
        self.transcript.add(bytes);
        *self.finished.get_mut(at(server)) = true;
        if self.suite.is_some_and(|s| s.is_tls13()) {
            *self.active.get_mut(at(server)) = None;
            *self.application_due.get_mut(at(server)) = true;
        }
        verified
    }

    /// TLS 1.3: a direction's keys from its application traffic secret, once it has sent
    /// its Finished.
    fn application_keys(&self, server: bool) -> Option<Decryptor> {
        let suite = self.suite?;
        let secrets = self.secrets()?;
        let secret = if server {
            &secrets.server_traffic_secret_0
        } else {
            &secrets.client_traffic_secret_0
        };
        Decryptor::tls13(&suite, secret.as_ref()?.as_bytes()).ok()
    }

    fn verify_finished(&self, server: bool, bytes: &[u8]) -> Option<bool> {
        let suite = self.suite.as_ref()?;
        let secrets = self.secrets()?;
        let hash = self.transcript.hash().ok()?;
        let sent = bytes.get(4..)?;
        let expected = if suite.is_tls13() {
            let secret = if server {
                secrets.server_handshake_traffic_secret.as_ref()?
            } else {
                secrets.client_handshake_traffic_secret.as_ref()?
            };
            decrypt::tls13::verify_data(suite, secret.as_bytes(), &hash).ok()?
        } else {
            let master = secrets.master_secret.as_ref()?;
            let sender = if server {
                Sender::Server
            } else {
                Sender::Client
            };
            let data = decrypt::tls12::verify_data(suite, master.as_bytes(), sender, &hash);
            data.ok()?.to_vec()
        };
        Some(expected == sent)
    }

    /// A direction's decrypted handshake bytes not yet a whole message, taken to be added to.
    pub(crate) fn take_partial(&mut self, server: bool) -> Vec<u8> {
        std::mem::take(self.partial.get_mut(at(server)))
    }

    /// What is left of a direction's decrypted bytes after its whole messages.
    pub(crate) fn keep_partial(&mut self, server: bool, bytes: Vec<u8>) {
        *self.partial.get_mut(at(server)) = bytes;
    }

    /// A ChangeCipherSpec: in TLS 1.2 and before, its sender's records are protected from
    /// here on.
    pub(crate) fn change_cipher_spec(&mut self, server: bool) {
        if let Some(d) = self.pending.get_mut(at(server)).take() {
            *self.active.get_mut(at(server)) = Some(d);
        }
    }

    /// Opens one protected record of a direction, when keys for it are in force.
    pub(crate) fn open(
        &mut self,
        server: bool,
        content_type: u8,
        version: u16,
        body: &[u8],
    ) -> Option<Plaintext> {
        if std::mem::take(self.application_due.get_mut(at(server))) {
            *self.active.get_mut(at(server)) = self.application_keys(server);
        }
        let decryptor = self.active.get_mut(at(server)).as_mut()?;
        match decryptor.open(content_type, version, body) {
            Ok(plain) => {
                self.opened += 1;
                Some(plain)
            }
            // A TLS 1.3 ChangeCipherSpec or cleartext record met under keys is no failure.
            Err(decrypt::DecryptError::NotProtected) => None,
            Err(_) => {
                self.failed += 1;
                None
            }
        }
    }
}

/// TLS 1.3's handshake keys, both ways (client, server); `true` for TLS 1.3.
type Keys = ([Option<Decryptor>; 2], bool);

fn tls13_keys(suite: &Suite, secrets: &Secrets) -> Option<Keys> {
    let open = |s: &Option<Secret>| {
        s.as_ref()
            .and_then(|s| Decryptor::tls13(suite, s.as_bytes()).ok())
    };
    let client = open(&secrets.client_handshake_traffic_secret);
    let server = open(&secrets.server_handshake_traffic_secret);
    (client.is_some() || server.is_some()).then_some(([client, server], true))
}

fn tls12_keys(
    suite: &Suite,
    secrets: &Secrets,
    sh: &ServerHello,
    client_random: Option<[u8; 32]>,
) -> Option<Keys> {
    let params = Tls12Params {
        suite: *suite,
        client_random: client_random?,
        server_random: sh.random,
        encrypt_then_mac: sh.extensions.contains(&ENCRYPT_THEN_MAC),
    };
    let master = secrets.master_secret.as_ref()?;
    let both = Decryptor::tls12(&params, master.as_bytes()).ok()?;
    Some(([Some(both.client), Some(both.server)], false))
}
