//! Failures that an alert names: the sender, the description and the stage tell the class.

use super::certificates;
use super::words::Why;
use super::{side_word, stage_at, stage_words};
use crate::connection::ClientCertificate;
use crate::connection::{Alert, Close, Code, Connection, Diagnosis, EndedBy, EventKind, Stage};
use crate::flow::Side;
use crate::tls::names;
use crate::tls::values::{
    AlertDescription as Desc, AlertLevel, AlertText, CipherSuite, ProtocolVersion,
};
use crate::wire_text;

/// The alert that ended the handshake: the first fatal one, a close_notify, or (TLS 1.2) an
/// encrypted one. TLS 1.3's encrypted alerts are inferred from sizes in `closes`.
fn decisive_alert(conn: &Connection) -> Option<&Alert> {
    let tls13 = conn.is_tls13();
    conn.alerts.iter().find(|a| {
        (a.encrypted && !tls13)
            || a.level == Some(AlertLevel::FATAL)
            || a.description == Some(Desc::CLOSE_NOTIFY)
    })
}

fn alert_words(alert: &Alert) -> String {
    match (alert.level, alert.description) {
        (Some(l), Some(d)) if alert.encrypted => {
            format!("{} (decrypted with the key log)", AlertText(l, d))
        }
        (Some(l), Some(d)) => AlertText(l, d).to_string(),
        _ => "an encrypted alert".to_string(),
    }
}

/// A decrypted Finished whose verify_data is not the captured handshake's: whatever the ends
/// then did, the handshake bytes changed between them, which only a key log can show.
pub(crate) fn finished_mismatch(conn: &Connection) -> Option<Diagnosis> {
    let at = conn.facts.finished_mismatch?;
    let stage = stage_at(conn, at.frame);
    let d = Diagnosis::new(Code::CryptoFailure, stage, EndedBy::Network, at.frame)
        .with_client_hello(conn)
        .summary(format!(
            "the {}'s Finished does not match the handshake captured: its bytes were altered \
            on the way",
            side_word(at.side)
        ))
        .evidence(
            at.frame,
            format!(
                "the {}'s Finished, decrypted with the key log, does not verify against the \
                transcript of the captured handshake messages",
                side_word(at.side)
            ),
        )
        .words(Why::FinishedMismatch);
    Some(d)
}

/// A HelloRetryRequest and no ServerHello after it: the retry is where it failed.
pub(crate) fn hello_retry_failed(conn: &Connection) -> Option<Diagnosis> {
    let hrr = conn.hello_retry.as_ref()?;
    if conn
        .facts
        .server_hello
        .as_ref()
        .is_some_and(|h| !h.message.hello_retry)
    {
        return None;
    }
    let (frame, ended_by, what) = retry_ending(conn)?;
    let asked = hrr.group.unwrap_or("an unnamed group");
    let offered = if conn.groups.is_empty() {
        "none".to_string()
    } else {
        conn.groups.join(", ")
    };
    let shares = if conn.key_share_groups.is_empty() {
        "none".to_string()
    } else {
        conn.key_share_groups.join(", ")
    };
    let second_hello = conn
        .timeline
        .iter()
        .filter(|e| e.event == EventKind::ClientHello)
        .nth(1)
        .map(|e| e.frame);
    let d = Diagnosis::new(Code::HelloRetryFailed, Stage::ServerHello, ended_by, frame)
        .with_client_hello(conn)
        .evidence(
            None,
            format!("client's supported groups: {offered}; key shares sent: {shares}"),
        )
        .evidence(
            hrr.frame,
            format!("HelloRetryRequest asks for {asked} ({})", hrr.cipher),
        );
    let d = match second_hello {
        // The retry was sent, repeated, and never answered: it was lost on the way.
        Some(second)
            if retried_after_timeout(conn)
                && conn.facts.client_unacked > 0
                && decisive_alert(conn).is_none() =>
        {
            retry_lost(conn, d, second, asked, (frame, what))
        }
        Some(second) => d
            .summary(format!(
                "the server rejected the client's retry with {asked}: {what}"
            ))
            .evidence(second, "the second ClientHello")
            .evidence(frame, what)
            .words(Why::HelloRetryRejected),
        None => d
            .summary(format!(
                "the client did not retry after the server asked for {asked}: {what}"
            ))
            .evidence(frame, what)
            .words(Why::HelloRetryNotSent { asked }),
    };
    Some(d)
}

/// What ended a failed retry: the decisive alert, else the first close; its frame, side and
/// words.
fn retry_ending(conn: &Connection) -> Option<(u64, EndedBy, String)> {
    Some(match (decisive_alert(conn), super::first_close(conn)) {
        (Some(a), _) => (
            a.frame,
            a.from.into(),
            format!("the {} sent {}", side_word(a.from), alert_words(a)),
        ),
        (None, Some(Close { side, frame, kind })) => (
            frame,
            side.into(),
            format!("the {} sent {kind}", side_word(side)),
        ),
        (None, None) => return None,
    })
}

/// The second ClientHello was sent, repeated, and never answered: lost on the way.
fn retry_lost(
    conn: &Connection,
    d: Diagnosis,
    second: u64,
    asked: &str,
    (frame, what): (u64, String),
) -> Diagnosis {
    let retransmits = conn.tcp.retransmissions.client;
    let last = conn.facts.last_retransmission.client.map(|s| s.frame);
    Diagnosis {
        ended_by: EndedBy::Network,
        frame: last.unwrap_or(frame),
        ..d
    }
    .likely()
    .summary(format!(
        "the client's second ClientHello, with the {asked} share the server asked for, \
        never reached the server: sent {} times, never acknowledged",
        retransmits + 1
    ))
    .evidence(
        second,
        "the second ClientHello, larger by its new key share",
    )
    .evidence(
        last,
        format!(
            "{retransmits} retransmission(s); {} bytes never acknowledged",
            conn.facts.client_unacked
        ),
    )
    .evidence(frame, what)
    .words(Why::HelloRetryLost { asked })
}

/// The client repeated itself after a retransmission timeout, not merely twice at once.
fn retried_after_timeout(conn: &Connection) -> bool {
    match (
        conn.facts.client_hello_ts,
        conn.facts.last_retransmission.client,
    ) {
        (Some(sent), Some(last)) => super::ms_between(sent, last.ts) >= super::closes::MIN_RTO_MS,
        _ => false,
    }
}

/// The first alert that ended the handshake, classified by sender, description and stage.
pub(crate) fn alert_received(conn: &Connection) -> Option<Diagnosis> {
    let alert = decisive_alert(conn)?;
    // An alert that answers the peer's FIN or RST (OpenSSL says decode_error on an early EOF)
    // is not why the handshake ended: the close is.
    if let Some(close) = super::first_close(conn)
        && close.side != alert.from
        && close.frame < alert.frame
    {
        return None;
    }
    let stage = stage_at(conn, alert.frame);
    let Some(code) = alert.description else {
        return Some(encrypted_tls12(conn, alert, stage));
    };
    let d = match (alert.from, code) {
        (_, Desc::PROTOCOL_VERSION) => protocol_version(conn, alert),
        (Side::Server, Desc::CERTIFICATE_REQUIRED) => client_certificate_required(conn, alert),
        (Side::Server, Desc::HANDSHAKE_FAILURE) if client_certificate_missing(conn) => {
            client_certificate_required(conn, alert)
        }
        (Side::Server, c) if c.is_about_a_certificate() && client_sent_certificate(conn) => {
            client_certificate_rejected(conn, alert)
        }
        (Side::Server, Desc::HANDSHAKE_FAILURE | Desc::INSUFFICIENT_SECURITY)
            if stage <= Stage::ServerHello =>
        {
            no_shared_cipher(conn, alert)
        }
        (Side::Server, Desc::UNRECOGNIZED_NAME) => unrecognized_name(conn, alert),
        (Side::Server, Desc::NO_APPLICATION_PROTOCOL) => no_application_protocol(conn, alert),
        (_, Desc::INAPPROPRIATE_FALLBACK) => downgrade(conn, alert),
        (Side::Client, c) if c.is_about_a_certificate() => certificates::rejected(conn, alert),
        (
            _,
            Desc::UNEXPECTED_MESSAGE
            | Desc::BAD_RECORD_MAC
            | Desc::ILLEGAL_PARAMETER
            | Desc::DECODE_ERROR
            | Desc::DECRYPT_ERROR,
        ) => crypto_failure(conn, alert, stage),
        _ => other_alert(conn, alert, stage),
    };
    Some(d)
}

fn base(conn: &Connection, code: Code, stage: Stage, alert: &Alert) -> Diagnosis {
    Diagnosis::new(code, stage, alert.from.into(), alert.frame)
        .with_client_hello(conn)
        .evidence(
            alert.frame,
            format!("the {} sent {}", side_word(alert.from), alert_words(alert)),
        )
}

/// The client offers TLS 1.3 and nothing older (GREASE aside).
fn only_tls13(conn: &Connection) -> bool {
    let offered = conn.client_versions.values().iter().copied();
    let mut real = offered.filter(|&v| !names::is_grease(v)).peekable();
    real.peek().is_some() && real.all(|v| ProtocolVersion(v) == ProtocolVersion::TLS13)
}

fn protocol_version(conn: &Connection, alert: &Alert) -> Diagnosis {
    let offered: Vec<&str> = conn.client_versions.without_grease().collect();
    // A ClientHello the snaplen cut says nothing of the versions it offered.
    let range = if offered.is_empty() {
        "the ClientHello is not in the capture".to_string()
    } else {
        offered.join(", ")
    };
    let (summary, why) = match alert.from {
        Side::Server => (
            format!("the server accepts none of the versions the client offers ({range})"),
            Why::ServerRefusedVersions {
                offered: (!offered.is_empty()).then_some(range.as_str()),
                only_tls13: only_tls13(conn),
            },
        ),
        Side::Client => (
            format!(
                "the client refused the server's version {}",
                conn.version.unwrap_or("(unknown)")
            ),
            Why::ClientRefusedVersion { range: &range },
        ),
    };
    base(conn, Code::ProtocolVersion, Stage::ClientHello, alert)
        .summary(summary)
        .words(why)
}

/// What the client's cipher suite list has and lacks, in the terms a server admin compares.
fn offer_profile(conn: &Connection) -> String {
    if conn.facts.client_hello.is_none() {
        return "the ClientHello is not in the capture".into();
    }
    let facts: Vec<_> = conn
        .cipher_suites
        .values()
        .iter()
        .filter(|&&c| !names::is_grease(c))
        .filter_map(|&c| names::cipher_facts(c))
        .collect();
    let tls13 = facts.iter().filter(|f| f.tls13).count();
    let legacy = facts.len() - tls13;
    let aead = facts
        .iter()
        .filter(|f| !f.tls13 && f.aead_tag_len.is_some())
        .count();
    let forward_secret = facts
        .iter()
        .filter(|f| !f.tls13 && f.forward_secret)
        .count();
    let mut parts = Vec::new();
    if legacy == 0 {
        parts.push("only TLS 1.3 suites".to_string());
    } else if tls13 == 0 {
        parts.push(format!(
            "{legacy} TLS 1.2-and-older suites, no TLS 1.3 suite"
        ));
    } else {
        parts.push(format!("{tls13} TLS 1.3 and {legacy} older suites"));
    }
    if legacy > 0 && aead == 0 {
        parts.push("only CBC (no GCM or ChaCha20)".into());
    }
    if legacy > 0 && forward_secret == 0 {
        parts.push("no ECDHE/DHE suite".into());
    }
    if !conn.groups.is_empty() {
        parts.push(format!("groups {}", conn.groups.join(", ")));
    }
    match conn.signature_algorithms.len() {
        0 => {}
        1..=3 => parts.push(format!(
            "signature algorithms {}",
            conn.signature_algorithms.join(", ")
        )),
        n => parts.push(format!("{n} signature algorithms")),
    }
    format!("the client offers {}", parts.join("; "))
}

fn no_shared_cipher(conn: &Connection, alert: &Alert) -> Diagnosis {
    let suites: Vec<&str> = conn.cipher_suites.without_grease().take(6).collect();
    base(conn, Code::NoSharedCipher, Stage::ClientHello, alert)
        .summary(format!(
            "the server found nothing acceptable in the ClientHello: {}",
            alert_words(alert).trim()
        ))
        .evidence(None, offer_profile(conn))
        .evidence(None, format!("first suites offered: {}", suites.join(", ")))
        .words(Why::NoSharedCipher)
}

fn unrecognized_name(conn: &Connection, alert: &Alert) -> Diagnosis {
    match &conn.sni {
        Some(sni) => base(conn, Code::UnrecognizedName, Stage::ClientHello, alert)
            .summary(format!("the server does not serve the name {sni}"))
            .words(Why::UnrecognizedName { sni }),
        None => base(conn, Code::MissingSni, Stage::ClientHello, alert)
            .summary("the server requires SNI, and the ClientHello has none")
            .evidence(None, "the ClientHello has no server_name extension")
            .words(Why::MissingSni),
    }
}

fn no_application_protocol(conn: &Connection, alert: &Alert) -> Diagnosis {
    let offered = if conn.alpn_offered.is_empty() {
        "nothing".to_string()
    } else {
        wire_text::join(&conn.alpn_offered, ", ")
    };
    base(conn, Code::NoApplicationProtocol, Stage::ClientHello, alert)
        .summary(format!(
            "the server supports none of the application protocols offered (ALPN {offered})"
        ))
        .evidence(None, format!("ALPN offered: {offered}"))
        .words(Why::NoApplicationProtocol)
}

fn downgrade(conn: &Connection, alert: &Alert) -> Diagnosis {
    base(conn, Code::DowngradeDetected, Stage::ClientHello, alert)
        .summary("the server refused a fallback to a lower version (TLS_FALLBACK_SCSV)")
        .evidence(
            None,
            if conn
                .cipher_suites
                .values()
                .contains(&CipherSuite::TLS_FALLBACK_SCSV.0)
            {
                "the ClientHello carries TLS_FALLBACK_SCSV: the client is retrying at a lower \
                version after a failure"
            } else {
                "the server judged this ClientHello a downgrade"
            },
        )
        .words(Why::DowngradeDetected)
}

/// The server asked for a client certificate: did the client send none, or an empty one?
fn client_certificate_missing(conn: &Connection) -> bool {
    conn.certificate_requested && conn.facts.client_certificate.is_none_or(|c| c.empty)
}

fn client_sent_certificate(conn: &Connection) -> bool {
    conn.facts.client_certificate.is_some_and(|c| !c.empty)
}

fn client_certificate_required(conn: &Connection, alert: &Alert) -> Diagnosis {
    let mut d = base(
        conn,
        Code::ClientCertificateRequired,
        Stage::ClientCertificate,
        alert,
    )
    .summary("the server requires a client certificate and the client sent none");
    if let Some(frame) = conn
        .timeline
        .iter()
        .find(|e| e.event == crate::connection::EventKind::CertificateRequest)
        .map(|e| e.frame)
    {
        d = d.evidence(frame, "the server sent a CertificateRequest");
    }
    if let Some(ClientCertificate { frame, empty: true }) = conn.facts.client_certificate {
        d = d.evidence(frame, "the client answered with an empty Certificate");
    }
    d.words(Why::ClientCertificateRequired)
}

fn client_certificate_rejected(conn: &Connection, alert: &Alert) -> Diagnosis {
    let mut d = base(
        conn,
        Code::ClientCertificateRejected,
        Stage::ClientCertificate,
        alert,
    )
    .summary(format!(
        "the server rejected the client's certificate: {}",
        alert_words(alert).trim()
    ));
    if let (Some(ClientCertificate { frame, .. }), Some(cert)) = (
        conn.facts.client_certificate,
        conn.client_certificates.first(),
    ) {
        d = d.evidence(
            frame,
            format!(
                "client certificate {} issued by {}",
                cert.subject, cert.issuer
            ),
        );
    }
    d.words(Why::ClientCertificateRejected)
}

fn crypto_failure(conn: &Connection, alert: &Alert, stage: Stage) -> Diagnosis {
    let other = side_word(alert.from.peer());
    base(conn, Code::CryptoFailure, stage, alert)
        .summary(format!(
            "the {} rejected the {other}'s handshake as malformed or unverifiable: {} {}",
            side_word(alert.from),
            alert_words(alert).trim(),
            stage_words(stage)
        ))
        .words(Why::CryptoFailure {
            peer: alert.from.peer(),
            alert: alert.description,
        })
}

fn other_alert(conn: &Connection, alert: &Alert, stage: Stage) -> Diagnosis {
    let code = if alert.description == Some(Desc::CLOSE_NOTIFY) {
        "closed the connection with close_notify"
    } else {
        "sent a fatal alert"
    };
    base(conn, Code::Alert, stage, alert)
        .summary(format!(
            "the {} {code} {}: {}",
            side_word(alert.from),
            stage_words(stage),
            alert_words(alert).trim()
        ))
        .words(Why::Alert { sender: alert.from })
}

/// TLS 1.2: an alert after ChangeCipherSpec is encrypted; its description cannot be read.
fn encrypted_tls12(conn: &Connection, alert: &Alert, stage: Stage) -> Diagnosis {
    let other = side_word(alert.from.peer());
    let after_finished = conn
        .facts
        .finished
        .get(alert.from.peer())
        .is_some_and(|f| f < alert.frame);
    let (code, summary) = if after_finished {
        (
            Code::CryptoFailure,
            format!(
                "the {} answered the {other}'s Finished with an encrypted alert",
                side_word(alert.from)
            ),
        )
    } else {
        (
            Code::Alert,
            format!(
                "the {} sent an encrypted alert {}",
                side_word(alert.from),
                stage_words(stage)
            ),
        )
    };
    Diagnosis::new(code, stage, alert.from.into(), alert.frame)
        .likely()
        .summary(summary)
        .with_client_hello(conn)
        .evidence(
            alert.frame,
            format!(
                "an alert record from the {} after its ChangeCipherSpec: \
                encrypted, so its description is not visible",
                side_word(alert.from)
            ),
        )
        .words(Why::EncryptedAlert {
            sender: alert.from,
            after_finished,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::tests_support::{connection, decides};

    #[test]
    fn a_hello_retry_the_server_refused_failed_at_the_retry() {
        let d = decides(
            hello_retry_failed,
            "hello-retry-failed.pcap",
            (Code::HelloRetryFailed, 13),
            "protocol-version.pcap",
        );
        assert_eq!(d.stage, Stage::ServerHello);
    }

    #[test]
    fn each_alert_tells_its_class() {
        let cases = [
            ("protocol-version.pcap", Code::ProtocolVersion),
            ("no-shared-cipher.pcap", Code::NoSharedCipher),
            ("no-common-signature.pcap", Code::NoSharedCipher),
            ("unrecognized-name.pcap", Code::UnrecognizedName),
            ("missing-sni.pcap", Code::MissingSni),
            ("no-application-protocol.pcap", Code::NoApplicationProtocol),
            ("inappropriate-fallback.pcap", Code::DowngradeDetected),
            (
                "client-cert-required-tls12.pcap",
                Code::ClientCertificateRequired,
            ),
            ("client-cert-rejected.pcap", Code::ClientCertificateRejected),
            ("cert-expired.pcap", Code::CertificateRejected),
            ("psk-mismatch.pcap", Code::CryptoFailure),
            ("alert-internal-error.pcap", Code::Alert),
        ];
        for (file, code) in cases {
            let d = alert_received(&connection(file, 0)).unwrap_or_else(|| panic!("{file}"));
            assert_eq!(d.code, code, "{file}");
            assert!(!d.cause.is_empty() && !d.fix.is_empty(), "{file}");
        }
        assert!(alert_received(&connection("middlebox-reset.pcap", 0)).is_none());
    }

    #[test]
    fn a_version_refusal_says_what_the_client_offered() {
        let d = alert_received(&connection("protocol-version.pcap", 0)).expect("alert");
        assert_eq!(d.ended_by, EndedBy::Server);
        assert_eq!(d.browser_error, Some("ERR_SSL_VERSION_OR_CIPHER_MISMATCH"));
        assert!(
            d.cause.starts_with("the client offers only "),
            "{}",
            d.cause
        );
    }
}
