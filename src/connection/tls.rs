//! The intake of TLS events: hellos, certificates, alerts, encrypted records, and what
//! TLS 1.3's encrypted flight lets be inferred from record sizes.

use super::{
    Alert, Connection, Detail, EventKind, HelloRetry, Limit, LimitHit, Names, Replay,
    ResumptionOffer, Stage,
};
use super::{ClientCertificate, Hello, MasterKey, Seen, SideAt};
use crate::capture::Timestamp;
use crate::flow::Side;
use crate::tls::handshake::{Sslv2ServerHello, kind, version};
use crate::tls::names;
use crate::tls::values::{AlertDescription, AlertLevel};
use crate::tls::{ClientHello, Decrypted, Event, Message, ServerHello};
use crate::wire_text::WireText;

impl Connection {
    /// Takes one decoded TLS event of `side`.
    #[inline]
    pub(crate) fn tls_event(&mut self, side: Side, event: Event, frame: u64, ts: Timestamp) {
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
                self.facts
                    .plaintext_first
                    .get_or_insert(SideAt { frame, side });
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
            Event::Decrypted(content) => self.decrypted(side, frame, ts, content),
            Event::Malformed(error) => {
                let detail = error.to_string();
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

    /// What a record of the key log's connection held. A decrypted alert completes the
    /// encrypted one just recorded at its frame (or is recorded, when its size did not say
    /// alert); a decrypted handshake message is taken as its cleartext twin is (a
    /// renegotiation's hellos come decoded by their type only, for the ladder).
    #[cold]
    fn decrypted(&mut self, side: Side, frame: u64, ts: Timestamp, content: Decrypted) {
        // The ladder names what the record held, in place of its size (a record read again
        // had its placeholder taken by `replay_record`).
        if self.replaying == Replay::Off
            && let Some(last) = self.timeline.last()
            && last.frame == frame
            && last.from == side
            && is_placeholder(last.event)
            && !matches!(content, Decrypted::Finished { .. })
        {
            self.timeline.pop();
        }
        match content {
            Decrypted::Alert { level, description } => {
                let (level, description) = (AlertLevel(level), AlertDescription(description));
                // The encrypted alert of this record: the first of its frame and side not
                // yet named (records are read, and read again, in order).
                let window = self
                    .alerts
                    .iter()
                    .rev()
                    .take_while(|a| a.frame >= frame)
                    .count();
                let first = self.alerts.len() - window;
                let last = self
                    .alerts
                    .get_mut(first..)
                    .unwrap_or_default()
                    .iter_mut()
                    .find(|a| a.frame == frame && a.from == side && a.level.is_none());
                match last {
                    Some(a) => {
                        a.level = Some(level);
                        a.description = Some(description);
                    }
                    _ => self.alerts.push(Alert {
                        frame,
                        time: self.time_of(ts),
                        from: side,
                        level: Some(level),
                        description: Some(description),
                        encrypted: true,
                    }),
                }
                let detail = Detail::Alert { level, description };
                self.note(side, frame, ts, EventKind::Alert, Some(detail));
            }
            Decrypted::Handshake(message) => self.handshake_message(side, frame, ts, message),
            Decrypted::Finished { verified } => {
                *self.facts.finished_checked.get_mut(side) = Some(verified);
                if !verified {
                    self.facts
                        .finished_mismatch
                        .get_or_insert(SideAt { frame, side });
                }
            }
        }
    }

    /// Records held until a followed key log had their keys are read again (`on`), or
    /// have been: the ladder and the alerts go back to frame order.
    pub(crate) fn replay(&mut self, on: bool) {
        self.replaying = if on { Replay::On } else { Replay::Off };
        if !on {
            self.timeline.sort_by_key(|e| e.frame);
            self.alerts.sort_by_key(|a| a.frame);
        }
    }

    /// A record read again, `len` bytes at `frame` from `side`: when it `told` something, its
    /// size-only line leaves the ladder and what it held is told in that place
    /// (`record_replayed`). Records are read again in order, and a record that told nothing
    /// keeps its line, so the first line of its frame, side and size is its own (or one
    /// just like it).
    pub(crate) fn replay_record(&mut self, side: Side, frame: u64, len: usize, told: bool) {
        let found = told
            .then(|| {
                self.timeline.iter().position(|e| {
                    e.frame == frame
                        && e.from == side
                        && is_placeholder(e.event)
                        && e.detail == Some(Detail::Bytes(len))
                })
            })
            .flatten();
        if let Some(i) = found {
            self.timeline.remove(i);
        }
        self.replaying = match found {
            Some(at) => Replay::Into {
                at,
                from: self.timeline.len(),
            },
            None => Replay::On,
        };
    }

    /// The lines a record read again added at the end of the ladder move to its place.
    pub(crate) fn record_replayed(&mut self) {
        if let Replay::Into { at, from } = self.replaying {
            let added = self.timeline.len().saturating_sub(from);
            if let Some(tail) = self.timeline.get_mut(at..) {
                tail.rotate_right(added.min(tail.len()));
            }
        }
        self.replaying = Replay::On;
    }

    #[inline(always)]
    fn handshake_message(&mut self, side: Side, frame: u64, ts: Timestamp, message: Message) {
        let (kind, detail) = match message {
            Message::ClientHello(mut ch) => {
                let detail = ch.sni.as_ref().map(|s| Detail::Sni(s.clone()));
                if self.facts.client_hello.is_none() {
                    self.client_hello_facts(&mut ch);
                    self.facts.client_hello = Some(Hello { frame, message: ch });
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
                        self.facts
                            .server_certificate
                            .get_or_insert(Seen { frame, ts });
                    }
                    Side::Client => {
                        let empty = chain.is_empty() && undecoded == 0;
                        self.facts
                            .client_certificate
                            .get_or_insert(ClientCertificate { frame, empty });
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
            Message::EncryptedExtensions { alpn } => {
                if self.alpn.is_none() {
                    self.alpn_hex = alpn.as_ref().and_then(WireText::hex);
                    self.alpn = alpn;
                }
                let name = names::handshake_type_name(kind::ENCRYPTED_EXTENSIONS);
                (EventKind::HandshakeMessage, Some(Detail::Name(name)))
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
                self.facts
                    .sslv2_master_key
                    .get_or_insert(MasterKey { frame, cipher });
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
            self.facts.server_hello = Some(Hello {
                frame,
                message: Box::new(hello),
            });
        }
        self.certificates_undecoded += usize::from(sh.certificate_undecoded);
        self.facts.certificates_over_limit += usize::from(sh.certificate_over_limit);
        if sh.session_id_hit {
            return None;
        }
        self.facts
            .server_certificate
            .get_or_insert(Seen { frame, ts });
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
    #[inline]
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
            .map(|h| h.message.session_id.as_slice());
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
                .is_some_and(|h| h.message.hello_retry)
        {
            self.facts.server_hello = Some(Hello { frame, message: sh });
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
}

/// A ladder line that tells an encrypted record by its size only.
fn is_placeholder(event: EventKind) -> bool {
    matches!(
        event,
        EventKind::EncryptedHandshake | EventKind::EncryptedAlert | EventKind::ApplicationData
    )
}

/// Bytes as text a terminal can show: printable ASCII kept, the rest escaped.
pub fn printable(bytes: &[u8]) -> String {
    bytes
        .iter()
        .flat_map(|&b| std::ascii::escape_default(b))
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame holding two records of one side, application data then close_notify: read
    /// again after their keys came, the ladder is what reading them at once gives.
    #[test]
    fn a_record_read_again_takes_its_own_place_on_the_ladder() {
        let ts = Timestamp::default();
        let (data, alert) = (1000, 19);
        let close = || {
            Event::Decrypted(Decrypted::Alert {
                level: 1,
                description: 0,
            })
        };
        let record = |length| Event::Encrypted {
            content_type: 23,
            length,
        };
        let ladder = |c: &Connection| -> Vec<String> {
            c.timeline
                .iter()
                .map(|e| format!("{:?} {:?}", e.event, e.detail))
                .collect()
        };
        let mut at_once = Connection::new(0, 1, ts);
        at_once.tls_event(Side::Server, record(data), 5, ts);
        at_once.tls_event(Side::Server, record(alert), 5, ts);
        at_once.tls_event(Side::Server, close(), 5, ts);

        let mut again = Connection::new(0, 1, ts);
        again.tls_event(Side::Server, record(data), 5, ts);
        again.tls_event(Side::Server, record(alert), 5, ts);
        again.replay(true);
        // The application data tells nothing; the alert record does.
        again.replay_record(Side::Server, 5, data, false);
        again.record_replayed();
        again.replay_record(Side::Server, 5, alert, true);
        again.tls_event(Side::Server, close(), 5, ts);
        again.record_replayed();
        again.replay(false);
        assert_eq!(ladder(&again), ladder(&at_once));
        assert_eq!(again.alerts.len(), 1);
        assert_eq!(again.alerts[0].description, Some(AlertDescription(0)));
    }
}
