//! One connection's decryption, when a key log was given: the secrets of its client random,
//! each direction's record protection as the handshake moves from key to key, and the
//! handshake transcript each Finished is checked against.
//!
//! Both directions' decoders share it (a connection has one transcript, in sending order);
//! the connection's owner lends it to whichever decoder it feeds.
//!
//! A followed key log (live) may get a connection's secrets only after its records: the
//! client writes them as it reads the server's flight, which the capture saw first. A
//! session that needs a secret not logged yet waits (`awaiting`): it holds what it would
//! have read, in order and bounded, and its owner reads them again once the secret comes
//! (`keys_came`), or gives up and reads them with what there is (`give_up`).

use super::decrypt::{self, Decryptor, Plaintext, Sender, Suite, Tls12Params, Transcript};
use super::handshake::{ClientHello, Message, ServerHello, kind};
use super::keylog::{Secret, Secrets, SharedKeyLog};
use super::values::{CipherSuite, ProtocolVersion};
use crate::capture::Timestamp;
use crate::flow::{PerSide, Side};
use serde::Serialize;
use std::fmt;

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

/// Records held while a secret is awaited: enough for a handshake's flights and the first
/// records after them, whatever the certificates weigh.
const MAX_HELD: usize = 64;
const MAX_HELD_BYTES: usize = 64 << 10;

pub(crate) struct Session {
    keylog: SharedKeyLog,
    client_random: Option<[u8; 32]>,
    /// The key log's secrets for the client random, copied when found.
    secrets: Option<Secrets>,
    suite: Option<Suite>,
    /// TLS 1.2: what its keys are made from besides the master secret.
    tls12: Option<Tls12Params>,
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
    /// A followed key log lacks a secret this connection needs now.
    awaiting: Option<Box<Awaiting>>,
    /// A protected record of the handshake was not opened: the transcript lacks what it held.
    transcript_gap: bool,
    /// A wait ended without the keys it waited for (`give_up`, `drop_held`).
    wait_unmet: bool,
    opened: u64,
    failed: u64,
}

/// Which handshake keys may go in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Keying {
    /// Both directions' (TLS 1.3), as a followed key log will have them.
    Both,
    /// What the key log has: one direction's, when it has only that one's secret.
    WhatThereIs,
}

/// The secret a waiting session needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Need {
    /// The handshake's keys (TLS 1.3 handshake traffic secrets, or the TLS 1.2 master
    /// secret), from the ServerHello on.
    Handshake,
    /// A TLS 1.3 direction's application traffic secret, after its Finished.
    Application { server: bool },
}

struct Awaiting {
    need: Need,
    /// Live: when the connection's report fell due, and began to wait for the keys.
    report_due: Option<Timestamp>,
    /// The key log's generation when it was last looked in.
    looked_at: u64,
    held: Vec<Held>,
    held_bytes: usize,
}

/// What a waiting session would have read, in the order it came.
pub(crate) enum Held {
    /// A cleartext handshake message (header included) that came after a held record.
    Message {
        server: bool,
        bytes: Vec<u8>,
    },
    ChangeCipherSpec {
        server: bool,
    },
    Record(HeldRecord),
}

/// A protected record, with the frame that completed it.
pub(crate) struct HeldRecord {
    pub(crate) server: bool,
    pub(crate) content_type: u8,
    pub(crate) version: u16,
    pub(crate) body: Vec<u8>,
    pub(crate) frame: u64,
    pub(crate) ts: Timestamp,
}

/// Counts only: a session holds secrets.
impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("keys", &self.keys)
            .field("awaiting", &self.awaiting.as_ref().map(|a| a.need))
            .field("opened", &self.opened)
            .field("failed", &self.failed)
            .finish()
    }
}

impl Session {
    pub(crate) fn new(keylog: SharedKeyLog) -> Session {
        Session {
            keylog,
            client_random: None,
            secrets: None,
            suite: None,
            tls12: None,
            active: PerSide::default(),
            pending: PerSide::default(),
            finished: PerSide::default(),
            application_due: PerSide::default(),
            partial: PerSide::default(),
            transcript: Transcript::new(),
            keys: None,
            awaiting: None,
            transcript_gap: false,
            wait_unmet: false,
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
        self.secrets.as_ref()
    }

    /// Copies the key log's secrets for the client random again.
    fn look_up(&mut self) {
        if let Some(random) = &self.client_random {
            self.secrets = self.keylog.secrets(random);
        }
    }

    /// A wait for keys ended without them.
    pub(crate) fn wait_unmet(&self) -> bool {
        self.wait_unmet
    }

    /// Waiting for a secret a followed key log does not have yet.
    pub(crate) fn awaiting(&self) -> bool {
        self.awaiting.is_some()
    }

    /// The connection's report fell due at `at` (the first time counts) while it waits.
    pub(crate) fn report_due(&mut self, at: Timestamp) {
        if let Some(a) = self.awaiting.as_mut() {
            a.report_due.get_or_insert(at);
        }
    }

    /// Since when the connection's report has waited for its keys.
    pub(crate) fn report_due_since(&self) -> Option<Timestamp> {
        self.awaiting.as_ref()?.report_due
    }

    /// Starts waiting for `need`, from the key log as it is at `looked_at`.
    fn wait(&mut self, need: Need, looked_at: u64) {
        self.awaiting = Some(Box::new(Awaiting {
            need,
            report_due: None,
            looked_at,
            held: Vec::new(),
            held_bytes: 0,
        }));
    }

    /// Holds what a waiting session would read now; past the bound (its own, or all the
    /// waiting connections' together) it stops waiting.
    fn hold(&mut self, held: Held, bytes: usize) {
        let Some(a) = self.awaiting.as_ref() else {
            return;
        };
        let room = a.held.len() < MAX_HELD && a.held_bytes + bytes <= MAX_HELD_BYTES;
        if !room || !self.keylog.reserve(bytes) {
            self.drop_held();
            return;
        }
        if let Some(a) = self.awaiting.as_mut() {
            a.held_bytes += bytes;
            a.held.push(held);
        }
    }

    /// Ends the wait, giving back the bytes it held to the key log's budget.
    fn stop_waiting(&mut self) -> Option<Box<Awaiting>> {
        let a = self.awaiting.take()?;
        self.keylog.release(a.held_bytes);
        Some(a)
    }

    /// Past the bounds: stops waiting, and what was held is not read (the records after it
    /// could not be opened in sequence). Without handshake keys the connection has none; a
    /// direction without its application keys is read no further.
    fn drop_held(&mut self) {
        self.wait_unmet |= self.awaiting.is_some();
        if let Some(a) = self.stop_waiting()
            && a.need == Need::Handshake
        {
            self.keys = Some(false);
        }
    }

    /// Stops waiting (the wait is over, or the connection is judged): the keys there are go
    /// in force, one direction's only if that is all the key log has, and what was held is
    /// handed back to be read with them.
    pub(crate) fn give_up(&mut self) -> Option<Vec<Held>> {
        let need = self.awaiting.as_ref()?.need;
        self.wait_unmet = true;
        let installed = self.install(need, Keying::WhatThereIs);
        if need == Need::Handshake {
            self.keys = Some(installed);
        }
        self.stop_waiting().map(|a| a.held)
    }

    /// A waiting session looks in the key log again if it grew: when the secrets have come,
    /// their keys are in force and what it held is handed back, to be read in order
    /// (`replay`).
    pub(crate) fn keys_came(&mut self) -> Option<Vec<Held>> {
        let generation = self.keylog.generation();
        let a = self.awaiting.as_mut()?;
        if a.looked_at == generation {
            return None;
        }
        a.looked_at = generation;
        let need = a.need;
        if !self.install(need, Keying::Both) {
            return None;
        }
        self.stop_waiting().map(|a| a.held)
    }

    /// The keys `need` asks for, put in force from the secrets the key log has now; whether
    /// they were.
    fn install(&mut self, need: Need, keying: Keying) -> bool {
        self.look_up();
        match need {
            Need::Handshake => self.install_handshake_keys(keying),
            Need::Application { server } => {
                let keys = self.application_keys(server);
                let found = keys.is_some();
                if found {
                    *self.active.get_mut(at(server)) = keys;
                }
                found
            }
        }
    }

    /// Reads one thing held while waiting, other than a record (the decoder opens those).
    pub(crate) fn replay(&mut self, held: Held) {
        match held {
            Held::Message { server, bytes } => {
                // Waiting again (for application keys), it goes behind the records held anew.
                self.later_message(server, &bytes);
            }
            Held::ChangeCipherSpec { server } => self.change_cipher_spec(server),
            Held::Record(_) => {}
        }
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
            _ => return self.later_message(server, bytes),
        }
        None
    }

    /// A handshake message other than the hellos; one that comes after a held record goes
    /// into the transcript only once that record is read, so it is held behind it.
    fn later_message(&mut self, server: bool, bytes: &[u8]) -> Option<bool> {
        if self.awaiting.as_ref().is_some_and(|a| !a.held.is_empty()) {
            let held = Held::Message {
                server,
                bytes: bytes.to_vec(),
            };
            self.hold(held, bytes.len());
            return None;
        }
        self.other_message(server, bytes)
    }

    /// A handshake message other than the hellos.
    fn other_message(&mut self, server: bool, bytes: &[u8]) -> Option<bool> {
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
        if self.keys.is_some() || self.suite.is_some() {
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
        if !suite.is_tls13() {
            self.tls12 = self.client_random.map(|client_random| Tls12Params {
                suite,
                client_random,
                server_random: sh.random,
                encrypt_then_mac: sh.extensions.contains(&ENCRYPT_THEN_MAC),
            });
        }
        let generation = self.keylog.generation();
        self.look_up();
        // A followed key log may have one direction's secret before the other's (OpenSSL
        // logs the server's first): the connection waits for both, or for the wait's end.
        // Without a client random nothing can come.
        let following = self.keylog.is_following() && self.client_random.is_some();
        let keying = if following {
            Keying::Both
        } else {
            Keying::WhatThereIs
        };
        if self.install_handshake_keys(keying) {
            return;
        }
        if following {
            self.wait(Need::Handshake, generation);
        } else {
            self.keys = Some(false);
        }
    }

    /// The handshake's keys from the secrets found, put in force; whether they were.
    fn install_handshake_keys(&mut self, keying: Keying) -> bool {
        let (Some(suite), Some(secrets)) = (self.suite.as_ref(), self.secrets.as_ref()) else {
            return false;
        };
        let keys = if suite.is_tls13() {
            tls13_keys(suite, secrets)
        } else {
            self.tls12.and_then(|params| tls12_keys(&params, secrets))
        };
        let Some([client, server]) = keys else {
            return false;
        };
        if keying == Keying::Both && (client.is_none() || server.is_none()) {
            return false;
        }
        self.keys = Some(true);
        let both = PerSide { client, server };
        if suite.is_tls13() {
            self.active = both;
        } else {
            self.pending = both;
        }
        true
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
    fn application_keys(&mut self, server: bool) -> Option<Decryptor> {
        if self.keylog.is_following() {
            // Logged after the handshake's secrets, perhaps after they were copied.
            self.look_up();
        }
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
        if self.transcript_gap {
            // A handshake record that could not be opened is missing from the transcript:
            // a mismatch would say nothing about the handshake.
            return None;
        }
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
        if self.awaiting.is_some() {
            self.hold(Held::ChangeCipherSpec { server }, 0);
            return;
        }
        if let Some(d) = self.pending.get_mut(at(server)).take() {
            *self.active.get_mut(at(server)) = Some(d);
        }
    }

    /// Opens one protected record of a direction (completed by `frame`), when keys for it
    /// are in force; holds it while a secret is awaited.
    pub(crate) fn open(&mut self, record: RecordIn<'_>) -> Option<Plaintext> {
        let server = record.server;
        // While waiting (for the other direction's keys, say), the record is held as it is:
        // its own direction's switch of keys comes when it is read again.
        if self.awaiting.is_none() && std::mem::take(self.application_due.get_mut(at(server))) {
            let generation = self.keylog.generation();
            let keys = self.application_keys(server);
            if keys.is_none() && self.keylog.is_following() {
                self.wait(Need::Application { server }, generation);
            }
            *self.active.get_mut(at(server)) = keys;
        }
        if self.awaiting.is_some() {
            let held = HeldRecord {
                server,
                content_type: record.content_type,
                version: record.version,
                body: record.body.to_vec(),
                frame: record.frame,
                ts: record.ts,
            };
            let len = record.body.len();
            self.hold(Held::Record(held), len);
            return None;
        }
        let in_handshake = !*self.finished.get(at(server));
        let Some(decryptor) = self.active.get_mut(at(server)).as_mut() else {
            // A direction without keys (the key log had only the other's secret).
            self.transcript_gap |= in_handshake && self.keys == Some(true);
            return None;
        };
        match decryptor.open(record.content_type, record.version, record.body) {
            Ok(plain) => {
                self.opened += 1;
                Some(plain)
            }
            // A TLS 1.3 ChangeCipherSpec or cleartext record met under keys is no failure.
            Err(decrypt::DecryptError::NotProtected) => None,
            Err(_) => {
                self.failed += 1;
                self.transcript_gap |= in_handshake;
                None
            }
        }
    }
}

/// A connection judged while it waits gives back what it held.
impl Drop for Session {
    fn drop(&mut self) {
        self.stop_waiting();
    }
}

/// A protected record as `Session::open` takes it.
pub(crate) struct RecordIn<'a> {
    pub(crate) server: bool,
    pub(crate) content_type: u8,
    pub(crate) version: u16,
    pub(crate) body: &'a [u8],
    /// The frame that completed it, and its time: where its content is told.
    pub(crate) frame: u64,
    pub(crate) ts: Timestamp,
}

/// The handshake's keys, both ways (client, server).
type Keys = [Option<Decryptor>; 2];

fn tls13_keys(suite: &Suite, secrets: &Secrets) -> Option<Keys> {
    let open = |s: &Option<Secret>| {
        s.as_ref()
            .and_then(|s| Decryptor::tls13(suite, s.as_bytes()).ok())
    };
    let client = open(&secrets.client_handshake_traffic_secret);
    let server = open(&secrets.server_handshake_traffic_secret);
    (client.is_some() || server.is_some()).then_some([client, server])
}

fn tls12_keys(params: &Tls12Params, secrets: &Secrets) -> Option<Keys> {
    let master = secrets.master_secret.as_ref()?;
    let both = Decryptor::tls12(params, master.as_bytes()).ok()?;
    Some([Some(both.client), Some(both.server)])
}
