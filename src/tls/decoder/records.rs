//! The record states: TLS records (handshake messages framed across them, alerts, the
//! encrypted rest) and SSLv2 records.

use super::{Decoder, State, push};
use crate::capture::Timestamp;
use crate::tls::handshake::{self, Message};
use crate::tls::record::{self, Framing};
use crate::tls::session::{HeldRecord, RecordIn, Session};
use crate::tls::{Decrypted, Event, Located, Malformed};

impl Decoder {
    pub(super) fn record(
        &mut self,
        rest: &[u8],
        at: usize,
        origin: &impl Fn(usize) -> Option<(u64, Timestamp)>,
        out: &mut Vec<Located>,
    ) -> Option<usize> {
        match record::frame(rest) {
            Framing::Incomplete => None,
            Framing::NotTls if self.sslv2_hello => {
                self.state = State::Sslv2;
                Some(0)
            }
            Framing::Sslv2ServerHello { .. } => {
                self.state = State::Sslv2;
                Some(0)
            }
            Framing::NotTls => {
                push(out, origin, at, Event::Malformed(Malformed::NotARecord));
                self.lose_sync();
                Some(rest.len())
            }
            Framing::Sslv2ClientHello { body, total } => {
                self.sslv2_hello = true;
                let event = match handshake::decode_sslv2_client_hello(body) {
                    Ok(ch) => Event::Handshake(Message::ClientHello(Box::new(ch))),
                    Err(error) => Event::Malformed(error),
                };
                push(out, origin, at + total - 1, event);
                Some(total)
            }
            Framing::Record {
                content_type,
                version,
                payload,
                total,
            } => {
                let last = at + total - 1;
                self.content((content_type, version), payload, last, origin, out);
                Some(total)
            }
        }
    }

    /// One SSLv2 record: a cleartext hello or CLIENT-MASTER-KEY, after which the sender's
    /// records are encrypted.
    pub(super) fn sslv2_record(
        &mut self,
        rest: &[u8],
        at: usize,
        origin: &impl Fn(usize) -> Option<(u64, Timestamp)>,
        out: &mut Vec<Located>,
    ) -> Option<usize> {
        let record::Sslv2Framing::Record { body, total } = record::frame_sslv2(rest) else {
            return None;
        };
        let event = if self.encrypted {
            Event::Sslv2Encrypted { length: body.len() }
        } else {
            self.sslv2_message(body)
        };
        push(out, origin, at + total - 1, event);
        Some(total)
    }

    fn sslv2_message(&mut self, body: &[u8]) -> Event {
        let decoded = match body.first() {
            Some(&record::SSLV2_CLIENT_HELLO) => handshake::decode_sslv2_client_hello(body)
                .map(|ch| Message::ClientHello(Box::new(ch))),
            Some(&record::SSLV2_CLIENT_MASTER_KEY) => {
                self.encrypted = true;
                handshake::decode_sslv2_client_master_key(body)
            }
            Some(&record::SSLV2_SERVER_HELLO) => {
                // The server's next record (SERVER-VERIFY) is encrypted.
                self.encrypted = true;
                handshake::decode_sslv2_server_hello(body, &self.limits).map(|sh| {
                    self.counters.certificates_over_limit += u64::from(sh.certificate_over_limit);
                    Message::Sslv2ServerHello(Box::new(sh))
                })
            }
            Some(&record::SSLV2_ERROR) => {
                return Event::Sslv2Error {
                    code: crate::bytes::be_u16(body, 1),
                };
            }
            Some(&message_type) => Err(Malformed::Sslv2InClear { message_type }),
            None => Err(Malformed::Sslv2Empty),
        };
        match decoded {
            Ok(message) => Event::Handshake(message),
            Err(error) => Event::Malformed(error),
        }
    }

    /// One record's content, by its header's (content type, version).
    fn content(
        &mut self,
        (content_type, version): (u8, u16),
        payload: &[u8],
        last: usize,
        origin: &impl Fn(usize) -> Option<(u64, Timestamp)>,
        out: &mut Vec<Located>,
    ) {
        let encrypted = Event::Encrypted {
            content_type,
            length: payload.len(),
        };
        let event = match content_type {
            record::CHANGE_CIPHER_SPEC => {
                push(out, origin, last, Event::ChangeCipherSpec);
                if let Some(session) = self.session.as_mut() {
                    session.change_cipher_spec(self.server);
                }
                // Decided here, not by the caller: the next record may sit in the same segment.
                if !self.tls13 {
                    self.encrypted = true;
                    self.handshake = Vec::new();
                }
                return;
            }
            // A cleartext alert is exactly two bytes; anything else was encrypted.
            record::ALERT => match payload {
                &[level, description] => Event::Alert { level, description },
                _ => encrypted,
            },
            record::HANDSHAKE if !self.encrypted => {
                self.handshake_bytes(payload, last, origin, out);
                return;
            }
            record::HEARTBEAT => Event::Heartbeat,
            _ => encrypted,
        };
        let protected = self.session.is_some() && matches!(event, Event::Encrypted { .. });
        push(out, origin, last, event);
        if protected {
            self.decrypt((content_type, version), payload, last, origin, out);
        }
    }

    /// A cleartext handshake message to the session (its randoms, its suite, its transcript).
    #[cold]
    #[inline(never)]
    fn tell_session(&mut self, msg: &[u8], event: &Event) {
        if let (Some(session), Event::Handshake(message)) = (self.session.as_mut(), event) {
            session.message(self.server, msg, message);
        }
    }

    /// A protected record opened with the session's keys: its alert, or the handshake
    /// messages it holds or completes. Application data stays unread. Out of line: the
    /// record loop without a key log stays as small as it was.
    #[cold]
    #[inline(never)]
    fn decrypt(
        &mut self,
        (content_type, version): (u8, u16),
        payload: &[u8],
        last: usize,
        origin: &impl Fn(usize) -> Option<(u64, Timestamp)>,
        out: &mut Vec<Located>,
    ) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        let (frame, ts) = origin(last).unwrap_or_default();
        let record = RecordIn {
            server: self.server,
            content_type,
            version,
            body: payload,
            frame,
            ts,
        };
        let Some(plain) = session.open(record) else {
            return;
        };
        match (plain.content_type, plain.data.as_slice()) {
            (record::ALERT, &[level, description]) => {
                let alert = Decrypted::Alert { level, description };
                push(out, origin, last, Event::Decrypted(alert));
            }
            (record::HANDSHAKE, data) => self.decrypted_handshake(data, last, origin, out),
            _ => {}
        }
    }

    /// A record held while the session awaited its keys, opened now that they came: what
    /// it holds is told at the frame that carried it.
    pub(crate) fn replay_record(
        &mut self,
        held: &HeldRecord,
        session: &mut Option<Box<Session>>,
        out: &mut Vec<Located>,
    ) {
        self.session = session.take();
        let origin = |_| Some((held.frame, held.ts));
        let header = (held.content_type, held.version);
        self.decrypt(header, &held.body, 0, &origin, out);
        *session = self.session.take();
    }

    /// Decrypted handshake messages, which may span records as cleartext ones do; each goes
    /// to the session's transcript too, and a Finished is checked against it.
    fn decrypted_handshake(
        &mut self,
        data: &[u8],
        last: usize,
        origin: &impl Fn(usize) -> Option<(u64, Timestamp)>,
        out: &mut Vec<Located>,
    ) {
        let server = self.server;
        let Some(mut kept) = self.session.as_mut().map(|s| s.take_partial(server)) else {
            return;
        };
        kept.extend_from_slice(data);
        let mut used = 0;
        while let Some(len) = kept.get(used..).and_then(message_len) {
            if len > self.limits.max_handshake_message {
                self.counters.messages_over_limit += 1;
                kept.clear();
                used = 0;
                break;
            }
            let Some(msg) = kept.get(used..used + len) else {
                break;
            };
            used += len;
            let decoded = handshake::decode_decrypted(msg, &self.limits, self.tls13);
            let Ok(message) = decoded else {
                continue;
            };
            let verified = self
                .session
                .as_mut()
                .and_then(|s| s.message(self.server, msg, &message));
            push(
                out,
                origin,
                last,
                Event::Decrypted(Decrypted::Handshake(message)),
            );
            if let Some(verified) = verified {
                let checked = Decrypted::Finished { verified };
                push(out, origin, last, Event::Decrypted(checked));
            }
        }
        kept.drain(..used.min(kept.len()));
        if let Some(session) = self.session.as_mut() {
            session.keep_partial(server, kept);
        }
    }

    /// Decodes every handshake message a record's payload completes. A record holding whole
    /// messages, the common case, is read where it lies; only the bytes of a message it cuts
    /// are kept, for the records that complete it.
    fn handshake_bytes(
        &mut self,
        payload: &[u8],
        last: usize,
        origin: &impl Fn(usize) -> Option<(u64, Timestamp)>,
        out: &mut Vec<Located>,
    ) {
        let mut kept = std::mem::take(&mut self.handshake);
        let continued = !kept.is_empty();
        if continued {
            kept.extend_from_slice(payload);
        }
        let bytes: &[u8] = if continued { &kept } else { payload };
        let mut used = 0;
        while let Some(rest) = bytes.get(used..) {
            let Some(&[_, b1, b2, b3]) = rest.get(..4) else {
                break;
            };
            let body_len = usize::from(b1) << 16 | usize::from(b2) << 8 | usize::from(b3);
            if body_len + 4 > self.limits.max_handshake_message {
                self.counters.messages_over_limit += 1;
                push(
                    out,
                    origin,
                    last,
                    Event::TooLarge {
                        declared: body_len + 4,
                    },
                );
                self.lose_sync();
                return;
            }
            let Some(msg) = rest.get(..body_len + 4) else {
                break;
            };
            let event = match handshake::decode(msg, &self.limits) {
                Ok(m) => {
                    if let Message::Certificate { over_limit, .. } = &m {
                        self.counters.certificates_over_limit += *over_limit as u64;
                    }
                    Event::Handshake(m)
                }
                Err(error) => Event::Malformed(error),
            };
            used += body_len + 4;
            if self.session.is_some() {
                self.tell_session(msg, &event);
            }
            if let Event::Handshake(Message::ServerHello(sh)) = &event {
                let tls13 = handshake::version::is_tls13(sh.version());
                self.tls13 |= sh.hello_retry || tls13;
                // After a TLS 1.3 ServerHello the server's handshake is encrypted.
                if !sh.hello_retry && tls13 {
                    self.encrypted = true;
                }
            }
            push(out, origin, last, event);
            if self.encrypted {
                return;
            }
        }
        // What is left is the start of a message that later records complete.
        self.handshake = if continued {
            kept.drain(..used.min(kept.len()));
            kept
        } else {
            bytes.get(used..).unwrap_or_default().to_vec()
        };
    }
}

/// The length of the handshake message `rest` starts with, its 4-byte header included, once
/// the header is there.
fn message_len(rest: &[u8]) -> Option<usize> {
    let &[_, b1, b2, b3] = rest.get(..4)? else {
        return None;
    };
    Some((usize::from(b1) << 16 | usize::from(b2) << 8 | usize::from(b3)) + 4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::read_capture;
    use crate::net::{Decoded, decode};
    use crate::tls::{Limits, side_bytes};

    fn all_events(stream: &[u8], server: bool) -> Vec<Event> {
        let mut decoder = Decoder::new(server, Limits::default());
        let mut out = Vec::new();
        let used = decoder.feed(stream, |_| None, &mut out);
        assert_eq!(used, stream.len());
        out.into_iter().map(|l| l.event).collect()
    }

    /// Both sides of a real SSLv2 handshake (scapy's): the hellos and CLIENT-MASTER-KEY in
    /// clear, every record after them encrypted, none malformed.
    #[test]
    fn sslv2_handshakes_decode_both_ways() {
        let file: &[u8] = include_bytes!("../../../captures/sslv2.pcap");
        let server = all_events(&side_bytes(file, true), true);
        assert!(
            matches!(server.first(), Some(Event::Handshake(Message::Sslv2ServerHello(sh)))
                if sh.version == 2 && sh.certificate.is_some()),
            "{server:?}"
        );
        assert_eq!(server.len(), 4, "{server:?}");
        assert!(
            server
                .iter()
                .skip(1)
                .all(|e| matches!(e, Event::Sslv2Encrypted { .. }))
        );
        let client = all_events(&side_bytes(file, false), false);
        assert!(
            matches!(client.first(), Some(Event::Handshake(Message::ClientHello(ch)))
                if ch.sslv2_format && ch.legacy_version == 2),
            "{client:?}"
        );
        assert_eq!(
            client.get(1),
            Some(&Event::Handshake(Message::Sslv2ClientMasterKey {
                cipher: handshake::Sslv2Cipher::DES_192_EDE3_CBC_WITH_MD5
            }))
        );
        assert_eq!(client.len(), 5, "{client:?}");
        assert!(
            client
                .iter()
                .skip(2)
                .all(|e| matches!(e, Event::Sslv2Encrypted { .. }))
        );
    }

    /// A TLS 1.3 draft ServerHello (draft 21, read by tlsdiag; draft 18, by tls-parser):
    /// what follows it is the encrypted handshake, as after an RFC 8446 one.
    #[test]
    fn tls13_draft_server_hellos_start_the_encrypted_handshake() {
        for (file, version) in [
            (
                &include_bytes!("../../../captures/tls13-draft21.pcap")[..],
                0x7f15,
            ),
            (
                &include_bytes!("../../../captures/tls13-draft18.pcap")[..],
                0x7f12,
            ),
        ] {
            let events = all_events(&side_bytes(file, true), true);
            assert!(
                matches!(events.first(), Some(Event::Handshake(Message::ServerHello(sh)))
                    if sh.version() == version && sh.cipher == 0x1302 && sh.group == Some(29)),
                "{events:?}"
            );
            assert!(
                events.iter().skip(1).all(|e| matches!(
                    e,
                    Event::Encrypted {
                        content_type: record::APPLICATION_DATA,
                        ..
                    }
                )),
                "{events:?}"
            );
        }
    }

    /// The server's bytes of a real TLS 1.2 handshake (one record: ServerHello, Certificate,
    /// ServerKeyExchange, CertificateRequest, ServerHelloDone), up to its ChangeCipherSpec or
    /// alert: the records' handshake bytes, joined.
    fn server_handshake() -> Vec<u8> {
        let file: &[u8] = include_bytes!("../../../captures/client-cert-required-tls12.pcap");
        let mut stream = Vec::new();
        let _ = read_capture(file, |p| {
            if let Ok(Decoded::Tcp(seg)) = decode(p)
                && seg.src_port == 443
            {
                stream.extend_from_slice(seg.payload);
            }
        });
        let mut handshake = Vec::new();
        let mut rest = &stream[..];
        while let record::Framing::Record {
            content_type: record::HANDSHAKE,
            payload,
            total,
            ..
        } = record::frame(rest)
        {
            handshake.extend_from_slice(payload);
            rest = &rest[total..];
        }
        handshake
    }

    /// `handshake` framed in records of `size` bytes, fed to a server decoder in pieces of
    /// `piece` bytes: the events, without their origins.
    fn events(handshake: &[u8], size: usize, piece: usize) -> Vec<Event> {
        let mut stream = Vec::new();
        for chunk in handshake.chunks(size) {
            let len = chunk.len() as u16;
            stream.extend_from_slice(&[record::HANDSHAKE, 3, 3]);
            stream.extend_from_slice(&len.to_be_bytes());
            stream.extend_from_slice(chunk);
        }
        let mut decoder = Decoder::new(true, Limits::default());
        let (mut out, mut fed, mut used) = (Vec::new(), 0, 0);
        while fed < stream.len() {
            fed = (fed + piece).min(stream.len());
            used += decoder.feed(&stream[used..fed], |_| None, &mut out);
        }
        out.into_iter().map(|l| l.event).collect()
    }

    /// A handshake message cut across records, several messages in one record, and records
    /// cut across reads all decode as the real framing does.
    #[test]
    fn handshake_messages_decode_however_records_frame_them() {
        let handshake = server_handshake();
        assert!(handshake.len() > 1000, "{} bytes", handshake.len());
        let whole = events(&handshake, handshake.len(), usize::MAX);
        let kinds: Vec<_> = whole
            .iter()
            .map(|e| match e {
                Event::Handshake(Message::ServerHello(_)) => "server_hello",
                Event::Handshake(Message::Certificate { .. }) => "certificate",
                Event::Handshake(Message::Other { .. }) => "other",
                _ => "unexpected",
            })
            .collect();
        assert_eq!(
            kinds,
            ["server_hello", "certificate", "other", "other", "other"]
        );
        for size in [1, 2, 3, 5, 64, 700, 4000] {
            for piece in [1, 7, 1000, usize::MAX] {
                let framed = events(&handshake, size, piece);
                assert!(
                    framed == whole,
                    "records of {size} bytes, read {piece} at a time"
                );
            }
        }
    }
}
