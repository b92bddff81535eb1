//! TLS 1.3 without keys: everything after the ServerHello is encrypted, so the size and order
//! of the records tell what they can (an alert's exact size, the smallest Finished), and the
//! end of the capture decides a client Finished nothing contradicted.

use super::{Connection, EventKind, RecordSeen, Stage};
use crate::flow::Side;
use crate::tls::names;
use crate::tls::values::CipherSuite;

impl Connection {
    /// The size of an encrypted TLS 1.3 alert record: two bytes of alert, the inner content
    /// type and the AEAD tag (RFC 8446 5.2). No handshake message is that small but an empty
    /// EncryptedExtensions, which is one byte longer.
    pub(crate) fn tls13_alert_record_len(&self) -> usize {
        let cipher = self.facts.server_hello.as_ref().map(|h| h.message.cipher);
        let tag = cipher
            .and_then(names::cipher_facts)
            .and_then(|f| f.aead_tag_len)
            .unwrap_or(16);
        2 + 1 + usize::from(tag)
    }

    /// The smallest encrypted TLS 1.3 Finished record: the 4-byte header, the verify_data (the
    /// suite's hash length), the inner content type and the AEAD tag. Padding (JSSE pads every
    /// record by 16 bytes) only makes it larger; a client record below it is no Finished.
    pub(crate) fn tls13_finished_min_len(&self) -> usize {
        let cipher = self.facts.server_hello.as_ref().map(|h| h.message.cipher);
        let hash = if cipher == Some(CipherSuite::TLS_AES_256_GCM_SHA384.0) {
            48
        } else {
            32
        };
        4 + hash + self.tls13_alert_record_len() - 2
    }

    /// Whether the client's TLS 1.3 flight so far can hold its Finished: a record that large,
    /// or a second record (a Finished after an empty Certificate).
    pub(crate) fn tls13_client_may_have_finished(&self) -> bool {
        let f = &self.facts;
        f.tls13_after_client_first.client.is_some()
            || f.tls13_client_first
                .is_some_and(|r| r.length >= self.tls13_finished_min_len())
    }

    /// TLS 1.3 hides the rest of the handshake; record sizes and order tell what they can.
    pub(super) fn tls13_record(&mut self, side: Side, frame: u64, length: usize) -> EventKind {
        let alert_len = self.tls13_alert_record_len();
        let alert = length == alert_len;
        let kind = if alert {
            EventKind::EncryptedAlert
        } else {
            EventKind::EncryptedHandshake
        };
        let f = &mut self.facts;
        if f.established_at.is_some() {
            return if alert {
                EventKind::EncryptedAlert
            } else {
                EventKind::ApplicationData
            };
        }
        match (side, f.tls13_client_first) {
            (Side::Server, None) => kind,
            (Side::Client, None) => {
                f.tls13_client_first = Some(RecordSeen { frame, length });
                kind
            }
            // The client keeps talking (its Finished may follow an empty Certificate, then
            // data): only the server's next record, or the end, decides.
            (Side::Client, Some(_)) => {
                f.tls13_after_client_first
                    .client
                    .get_or_insert(RecordSeen { frame, length });
                if alert {
                    EventKind::EncryptedAlert
                } else {
                    EventKind::EncryptedHandshake
                }
            }
            (
                Side::Server,
                Some(RecordSeen {
                    frame: client_frame,
                    length: client_len,
                }),
            ) => {
                f.tls13_after_client_first
                    .server
                    .get_or_insert(RecordSeen { frame, length });
                // The client's Finished stands unless the server's next word is an alert.
                let finished = self.tls13_client_may_have_finished();
                let f = &mut self.facts;
                if client_len != alert_len
                    && finished
                    && !alert
                    && f.tls13_after_client_first.server == Some(RecordSeen { frame, length })
                {
                    f.established_at = Some(client_frame);
                    self.advance(Stage::Established);
                    return EventKind::ApplicationData;
                }
                if alert {
                    EventKind::EncryptedAlert
                } else {
                    EventKind::ApplicationData
                }
            }
        }
    }

    /// At the end of the capture: a TLS 1.3 client Finished that nothing contradicted stands,
    /// unless the server's stream has a hole, where its objection may have been.
    pub(crate) fn close_tls13_pending(&mut self) {
        let alert_len = self.tls13_alert_record_len();
        let server_objected = self
            .facts
            .tls13_after_client_first
            .server
            .is_some_and(|r| r.length == alert_len);
        let server_unseen = self.gaps.iter().any(|g| g.from == Side::Server);
        if self.facts.established_at.is_none()
            && !server_objected
            && !server_unseen
            && self.tls13_client_may_have_finished()
            && let Some(RecordSeen { frame, length: len }) = self.facts.tls13_client_first
            && len != alert_len
        {
            self.facts.established_at = Some(frame);
            self.advance(Stage::Established);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{GapInfo, Hello};
    use super::*;
    use crate::capture::Timestamp;
    use crate::tls::ServerHello;
    use crate::tls::handshake::version;

    /// A connection whose ServerHello (frame 6) chose TLS 1.3 with `cipher`.
    fn tls13(cipher: u16) -> Connection {
        let mut c = Connection::new(0, 1, Timestamp::default());
        let sh = ServerHello {
            selected_version: Some(version::TLS13),
            cipher,
            ..Default::default()
        };
        c.facts.server_hello = Some(Hello {
            frame: 6,
            message: Box::new(sh),
        });
        c
    }

    /// Each case: the records after the ServerHello as (side, length), in order, and whether
    /// the handshake is judged established, and at which frame (a record's frame is its index
    /// plus 10), once the capture ends.
    #[test]
    fn the_tls13_inference_from_record_sizes() {
        use Side::{Client, Server};
        const AES_GCM: u16 = 0x1301;
        const AES_CCM_8: u16 = 0x1305;
        type Case<'a> = (&'a str, u16, &'a [(Side, usize)], Option<u64>);
        let cases: &[Case] = &[
            (
                "the client's Finished, then the server's ticket",
                AES_GCM,
                &[
                    (Server, 23),
                    (Server, 900),
                    (Server, 286),
                    (Server, 74),
                    (Client, 74),
                    (Server, 250),
                ],
                Some(14),
            ),
            (
                "the client's only answer is alert-sized: it rejected the certificate",
                AES_GCM,
                &[
                    (Server, 23),
                    (Server, 900),
                    (Server, 286),
                    (Server, 74),
                    (Client, 19),
                ],
                None,
            ),
            (
                "the server's answer to the client's Finished is alert-sized",
                AES_GCM,
                &[(Server, 900), (Client, 74), (Server, 19)],
                None,
            ),
            (
                "the client's Finished and nothing after: it stands",
                AES_GCM,
                &[(Server, 900), (Client, 74)],
                Some(11),
            ),
            (
                "an 8-byte tag makes an alert 11 bytes",
                AES_CCM_8,
                &[(Server, 900), (Client, 11)],
                None,
            ),
            (
                "with an 8-byte tag the smallest Finished is 45 bytes",
                AES_CCM_8,
                &[(Server, 900), (Client, 45)],
                Some(11),
            ),
            (
                "a record smaller than any Finished, and nothing after: a padded alert (JSSE)",
                AES_GCM,
                &[(Server, 900), (Client, 35)],
                None,
            ),
            (
                "an empty Certificate, then the Finished",
                AES_GCM,
                &[(Server, 900), (Client, 25), (Client, 53)],
                Some(11),
            ),
        ];
        for (what, cipher, records, established) in cases {
            let mut c = tls13(*cipher);
            for (i, &(side, length)) in records.iter().enumerate() {
                c.tls13_record(side, 10 + i as u64, length);
            }
            c.close_tls13_pending();
            assert_eq!(c.facts.established_at, *established, "{what}");
        }
    }

    #[test]
    fn a_hole_in_the_servers_stream_leaves_the_finished_unproven() {
        let mut c = tls13(0x1301);
        c.tls13_record(Side::Server, 10, 900);
        c.tls13_record(Side::Client, 11, 74);
        c.gaps.push(GapInfo {
            frame: 12,
            from: Side::Server,
            offset: 2000,
            bytes: 100,
        });
        c.close_tls13_pending();
        assert_eq!(c.facts.established_at, None);
    }
}
