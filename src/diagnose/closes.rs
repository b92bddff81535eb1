//! Failures without a readable alert: a side that closed, reset, stalled, or (TLS 1.3) sent
//! an encrypted record the size of an alert.

use super::words::Why;
use super::{
    certificates, first_close, ms_between, side_word, stage_at, stage_words, timestamp_at,
};
use crate::connection::{Close, CloseKind, Code, Connection, Diagnosis, EndedBy, Stage};
use crate::connection::{RecordSeen, Seen};
use crate::flow::Side;

/// A capture that ends this long after an unanswered ClientHello shows a stalled server.
const STALL_SECS: f64 = 5.0;
/// Linux's smallest retransmission timeout (RFC 6298 allows no less than this for a first one).
pub(crate) const MIN_RTO_MS: f64 = 200.0;
/// More client bytes than this in its final TLS 1.3 flight mean a certificate was in it.
const CERTIFICATE_FLIGHT_BYTES: u64 = 200;

/// TLS 1.3: instead of its Finished, the client sent one record the size of an alert.
pub(crate) fn certificate_rejected_tls13(conn: &Connection) -> Option<Diagnosis> {
    if !conn.is_tls13() {
        return None;
    }
    let RecordSeen { frame, length: len } = conn.facts.tls13_client_first?;
    let alert_len = conn.tls13_alert_record_len();
    // An alert record the exact size, or (padded, as JSSE pads) smaller than any Finished
    // with nothing after it.
    if len != alert_len && conn.tls13_client_may_have_finished() {
        return None;
    }
    let size = if len == alert_len {
        "the exact size of an encrypted alert (2 bytes, content type, tag)".to_string()
    } else {
        format!(
            "too small for a Finished ({} bytes at the least), the size of a padded alert",
            conn.tls13_finished_min_len()
        )
    };
    let server_flight: Vec<String> = conn
        .encrypted_records
        .server
        .first_sizes
        .iter()
        .map(|s| s.to_string())
        .collect();
    let sh_frame = &conn.facts.server_hello.as_ref()?.frame;
    let mut d = Diagnosis::new(
        Code::CertificateRejectedTls13,
        Stage::EncryptedHandshake,
        EndedBy::Client,
        frame,
    )
    .likely()
    .summary(
        "the client aborted after the server's encrypted flight, most likely rejecting \
        its certificate (TLS 1.3 hides which)",
    )
    .with_client_hello(conn)
    .evidence(
        *sh_frame,
        format!(
            "ServerHello chose {}; everything after it is encrypted",
            conn.cipher.unwrap_or("TLS 1.3")
        ),
    )
    .evidence(
        None,
        format!(
            "the server's encrypted records: {} bytes (EncryptedExtensions, \
            Certificate, CertificateVerify, Finished)",
            server_flight.join(", ")
        ),
    )
    .evidence(
        frame,
        format!("the client's only answer: one {len}-byte record, {size}, not a Finished"),
    );
    if let Some(Close { side, frame, kind }) = first_close(conn) {
        d = d.evidence(frame, format!("then the {} sent {kind}", side_word(side)));
    }
    Some(d.words(Why::CertificateRejectedTls13))
}

/// TLS 1.3: the client finished, and the server's next record is the size of an alert. The
/// server checks the client's certificate last, so this is mutual TLS failing.
pub(crate) fn server_rejected_client_certificate_tls13(conn: &Connection) -> Option<Diagnosis> {
    if !conn.is_tls13() {
        return None;
    }
    let alert_len = conn.tls13_alert_record_len();
    let RecordSeen {
        frame: client_frame,
        length: client_len,
    } = conn.facts.tls13_client_first?;
    let RecordSeen { frame, length: len } = conn.facts.tls13_after_client_first.server?;
    if client_len == alert_len || len != alert_len {
        return None;
    }
    let flight: u64 = conn
        .encrypted_records
        .client
        .bytes
        .saturating_sub(alert_len as u64);
    let with_certificate = flight > CERTIFICATE_FLIGHT_BYTES;
    let (code, summary, why) = if with_certificate {
        (
            Code::ClientCertificateRejected,
            "the server rejected the client's final flight, which carried a certificate: most \
            likely the client certificate",
            Why::ClientCertificateRejectedTls13,
        )
    } else {
        (
            Code::ClientCertificateRequired,
            "the server rejected the client's final flight, too small to carry a certificate: most \
            likely mutual TLS without a client certificate",
            Why::ClientCertificateRequiredTls13,
        )
    };
    Some(
        Diagnosis::new(code, Stage::ClientCertificate, EndedBy::Server, frame)
            .likely()
            .summary(summary)
            .with_client_hello(conn)
            .evidence(
                client_frame,
                format!(
                    "the client's encrypted flight: {flight} bytes in all \
                    (a Finished alone is 53 or 69)"
                ),
            )
            .evidence(
                frame,
                format!(
                    "the server answered with one {len}-byte record, the size of an encrypted alert"
                ),
            )
            .evidence(
                None,
                "TLS 1.3 encrypts the CertificateRequest and the client's Certificate: \
                sizes are all a capture shows",
            )
            .words(why),
    )
}

/// The ClientHello was sent, retransmitted, and never acknowledged, while the server's small
/// packets came through: large packets are lost on the path.
pub(crate) fn client_hello_lost(conn: &Connection) -> Option<Diagnosis> {
    let frame = conn.facts.client_hello.as_ref()?.frame;
    let retransmits = conn.tcp.retransmissions.client;
    if conn.tcp.payload_bytes.server > 0
        || retransmits == 0
        || conn.facts.client_unacked == 0
        || conn.facts.syn_ack.is_none()
    {
        return None;
    }
    let sent = conn.facts.client_hello_ts?;
    let Seen {
        frame: last,
        ts: last_ts,
    } = conn.facts.last_retransmission.client?;
    // A retransmission comes after a timeout; copies of a packet at the same moment are the
    // capture's duplicates, not the stack giving up on an acknowledgment.
    if ms_between(sent, last_ts) < MIN_RTO_MS {
        return None;
    }
    let size = conn.client_hello_size.unwrap_or(0);
    Some(
        Diagnosis::new(
            Code::ClientHelloLost,
            Stage::ClientHello,
            EndedBy::Network,
            last,
        )
        .likely()
        .summary(format!(
            "the {size}-byte ClientHello never reached the server: sent {} times, never \
            acknowledged, while the server's small packets came through",
            retransmits + 1
        ))
        .with_client_hello(conn)
        .evidence(frame, format!("ClientHello of {size} bytes"))
        .evidence(
            last,
            format!(
                "{retransmits} retransmission(s) of it, the last here; the \
                server acknowledged none of its {} bytes",
                conn.facts.client_unacked
            ),
        )
        .evidence(conn.facts.syn_ack, "the SYN-ACK (a small packet) arrived")
        .words(Why::ClientHelloLost),
    )
}

/// The ClientHello got no answer at all before the client gave up (or the capture ran on).
pub(crate) fn no_server_hello(conn: &Connection) -> Option<Diagnosis> {
    let frame = conn.facts.client_hello.as_ref()?.frame;
    let sent = conn.facts.client_hello_ts?;
    if conn.tcp.payload_bytes.server > 0 {
        return None;
    }
    // The server may close later (when its process ends); what counts is who left first.
    let client_close = match first_close(conn) {
        Some(Close {
            side: Side::Client,
            frame,
            ..
        }) => Some(frame),
        Some(Close {
            side: Side::Server, ..
        }) => return None,
        None => None,
    };
    let until = client_close
        .and_then(|f| conn.timeline.iter().find(|e| e.frame == f))
        .map_or(conn.facts.last_ts, |e| timestamp_at(conn, e.time));
    let waited = ms_between(sent, until) / 1000.0;
    let (ended_by, decisive, confidence_likely) = match client_close {
        Some(close) => (EndedBy::Client, close, false),
        None if waited >= STALL_SECS => (EndedBy::Unknown, conn.last_frame, true),
        None => return None,
    };
    let mut d = Diagnosis::new(Code::NoServerHello, Stage::ClientHello, ended_by, decisive)
        .summary(format!(
            "the server never answered the ClientHello ({waited:.1} s without a byte)"
        ))
        .with_client_hello(conn)
        .evidence(
            None,
            format!("no TLS byte from the server in the {waited:.1} s after frame {frame}"),
        );
    if let Some(close) = client_close {
        d = d.evidence(close, "the client gave up and closed");
    }
    if confidence_likely {
        d = d.likely();
    }
    Some(d.words(Why::NoServerHello))
}

/// RST or FIN before the handshake completed, with no alert to say why.
pub(crate) fn closed_during_handshake(conn: &Connection) -> Option<Diagnosis> {
    let Close {
        side,
        frame,
        kind: how,
    } = first_close(conn)?;
    let stage = stage_at(conn, frame);
    if stage == Stage::TcpConnect && !conn.facts.saw_tls {
        return Some(closed_before_tls(side, frame, how));
    }
    Some(match side {
        Side::Server => server_closed(conn, frame, how, stage),
        Side::Client => client_closed(conn, frame, how, stage),
    })
}

/// The class of a silent close: who, and whether by RST or FIN.
fn close_code(side: Side, how: CloseKind) -> Code {
    match (side, how == CloseKind::Rst) {
        (Side::Client, true) => Code::ClientReset,
        (Side::Client, false) => Code::ClientClosed,
        (Side::Server, true) => Code::ServerReset,
        (Side::Server, false) => Code::ServerClosed,
    }
}

fn closed_before_tls(side: Side, frame: u64, how: CloseKind) -> Diagnosis {
    Diagnosis::new(close_code(side, how), Stage::TcpConnect, side.into(), frame)
        .summary(format!(
            "the {} closed the connection ({how}) before any TLS was sent",
            side_word(side)
        ))
        .evidence(frame, format!("{how} from the {}", side_word(side)))
        .words(Why::ClosedBeforeTls(side))
}

fn server_closed(conn: &Connection, frame: u64, how: CloseKind, stage: Stage) -> Diagnosis {
    let reset = how == CloseKind::Rst;
    let mut d = Diagnosis::new(close_code(Side::Server, how), stage, EndedBy::Server, frame)
        .summary(format!(
            "the server's side {} {} without an alert",
            if reset {
                "reset the connection"
            } else {
                "closed the connection"
            },
            stage_words(stage)
        ))
        .with_client_hello(conn);
    let rst_ttl = conn.facts.rst.server.map(|r| r.ttl);
    let first_ttl = conn.tcp.first_ttl.server;
    if let (Some(rst), Some(first)) = (rst_ttl.filter(|_| reset), first_ttl)
        && rst != first
    {
        return d
            .likely()
            .evidence(
                frame,
                format!(
                    "the RST arrived with TTL {rst}, the server's other packets with TTL {first}"
                ),
            )
            .evidence(
                None,
                "a different TTL means a different sender: a device on the path injected the reset",
            )
            .words(Why::MiddleboxReset {
                sni: conn.sni.as_ref(),
            });
    }
    if let Some(ttl) = rst_ttl.filter(|_| reset) {
        d = d.evidence(
            frame,
            format!("RST with TTL {ttl}, the same as the server's other packets"),
        );
    } else {
        d = d.evidence(frame, format!("{how} from the server"));
    }
    d.words(Why::ServerClosed {
        at_client_hello: stage == Stage::ClientHello,
        how,
    })
}

fn client_closed(conn: &Connection, frame: u64, how: CloseKind, stage: Stage) -> Diagnosis {
    let reset = how == CloseKind::Rst;
    let mut d = Diagnosis::new(close_code(Side::Client, how), stage, EndedBy::Client, frame)
        .summary(format!(
            "the client {} {} without an alert",
            if reset {
                "reset the connection"
            } else {
                "closed the connection"
            },
            stage_words(stage)
        ))
        .with_client_hello(conn)
        .evidence(frame, format!("{how} from the client"));
    let found = certificates::findings(conn);
    if stage >= Stage::ServerCertificate && !conn.certificates.is_empty() {
        for f in &found {
            d = d.evidence(None, f.text.clone());
        }
        return d.likely().words(Why::ClientClosedAtCertificate {
            finding: found.first().map(|f| f.text.as_str()),
        });
    }
    d.words(Why::ClientClosed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::Confidence;
    use crate::diagnose::tests_support::{connection, decides};

    #[test]
    fn an_alert_sized_record_instead_of_the_clients_finished_rejects_the_certificate() {
        let conn = connection("cert-rejected-tls13.pcap", 0);
        let d = certificate_rejected_tls13(&conn).expect("rejected");
        assert_eq!((d.code, d.frame), (Code::CertificateRejectedTls13, 9));
        assert_eq!(d.confidence, Confidence::Likely);
        assert!(server_rejected_client_certificate_tls13(&conn).is_none());
    }

    #[test]
    fn an_alert_sized_answer_to_a_small_client_flight_wants_a_certificate() {
        let conn = connection("client-cert-required-tls13.pcap", 0);
        let d = server_rejected_client_certificate_tls13(&conn).expect("required");
        assert_eq!((d.code, d.frame), (Code::ClientCertificateRequired, 9));
        assert_eq!(d.browser_error, Some("ERR_BAD_SSL_CLIENT_AUTH_CERT"));
        assert!(certificate_rejected_tls13(&conn).is_none());
    }

    #[test]
    fn a_client_hello_retransmitted_and_never_acknowledged_was_lost() {
        let d = decides(
            client_hello_lost,
            "client-hello-lost.pcap",
            (Code::ClientHelloLost, 9),
            "no-server-hello.pcap",
        );
        assert_eq!(d.ended_by, EndedBy::Network);
    }

    #[test]
    fn a_client_hello_without_answer_is_no_server_hello() {
        decides(
            no_server_hello,
            "no-server-hello.pcap",
            (Code::NoServerHello, 6),
            "server-reset.pcap",
        );
    }

    #[test]
    fn a_silent_close_is_classed_by_side_and_kind() {
        let cases = [
            (
                "server-reset.pcap",
                Code::ServerReset,
                6,
                Confidence::Certain,
            ),
            (
                "middlebox-reset.pcap",
                Code::ServerReset,
                5,
                Confidence::Likely,
            ),
            (
                "server-close.pcap",
                Code::ServerClosed,
                6,
                Confidence::Certain,
            ),
            (
                "client-reset.pcap",
                Code::ClientReset,
                8,
                Confidence::Likely,
            ),
            (
                "client-close.pcap",
                Code::ClientClosed,
                8,
                Confidence::Likely,
            ),
        ];
        for (file, code, frame, confidence) in cases {
            let d = closed_during_handshake(&connection(file, 0)).expect(file);
            assert_eq!(
                (d.code, d.frame, d.confidence),
                (code, frame, confidence),
                "{file}"
            );
        }
        let middlebox = closed_during_handshake(&connection("middlebox-reset.pcap", 0));
        let cause = middlebox.map(|d| d.cause).unwrap_or_default();
        assert!(cause.starts_with("a middlebox"), "{cause}");
        // The client left after the server's certificates: the certificate is the likely why.
        let client = closed_during_handshake(&connection("client-close.pcap", 0));
        let cause = client.map(|d| d.cause).unwrap_or_default();
        assert!(cause.starts_with("the client silently rejected"), "{cause}");
        assert!(closed_during_handshake(&connection("ended-early.pcap", 0)).is_none());
    }
}
