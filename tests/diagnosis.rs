//! Every failure class on a real capture: the code, stage, side, decisive frame, confidence and
//! browser error of each failed or incomplete connection in captures/, and a phrase of its
//! explanation. A connection that fails without a row here fails the test, so no verdict goes
//! unreviewed.

mod common;

use tlsdiag::connection::{Code, Confidence, EndedBy, Stage};

struct Row {
    file: &'static str,
    stream: u64,
    code: Code,
    stage: Stage,
    ended_by: EndedBy,
    frame: u64,
    confidence: Confidence,
    browser: Option<&'static str>,
    /// A phrase the summary or the evidence must contain.
    says: &'static str,
}

use Confidence::{Certain, Likely};
use EndedBy::{Client, Network, Server, Unknown};

#[rustfmt::skip]
const ROWS: &[Row] = &[
    Row { file: "tcp-no-response.pcap", stream: 0, code: Code::TcpNoResponse, stage: Stage::TcpConnect, ended_by: Network, frame: 4, confidence: Certain, browser: Some("ERR_CONNECTION_TIMED_OUT"), says: "SYNs sent at 0 ms, 1023 ms, 2047 ms, 3071 ms" },
    Row { file: "refused.pcap", stream: 0, code: Code::TcpRefused, stage: Stage::TcpConnect, ended_by: Server, frame: 2, confidence: Certain, browser: Some("ERR_CONNECTION_REFUSED"), says: "answered the SYN to port 443 with RST" },
    Row { file: "icmp-admin-prohibited.pcap", stream: 0, code: Code::IcmpUnreachable, stage: Stage::TcpConnect, ended_by: Network, frame: 2, confidence: Certain, browser: Some("ERR_ADDRESS_UNREACHABLE"), says: "ICMP administratively prohibited from 198.18.0.2" },
    Row { file: "no-server-hello.pcap", stream: 0, code: Code::NoServerHello, stage: Stage::ClientHello, ended_by: Client, frame: 6, confidence: Certain, browser: Some("ERR_TIMED_OUT"), says: "never answered the ClientHello (4.0 s" },
    Row { file: "client-hello-lost.pcap", stream: 0, code: Code::ClientHelloLost, stage: Stage::ClientHello, ended_by: Network, frame: 9, confidence: Likely, browser: Some("ERR_TIMED_OUT"), says: "never acknowledged" },
    Row { file: "server-reset.pcap", stream: 0, code: Code::ServerReset, stage: Stage::ClientHello, ended_by: Server, frame: 6, confidence: Certain, browser: Some("ERR_CONNECTION_RESET"), says: "the same as the server's other packets" },
    Row { file: "middlebox-reset.pcap", stream: 0, code: Code::ServerReset, stage: Stage::ClientHello, ended_by: Server, frame: 5, confidence: Likely, browser: Some("ERR_CONNECTION_RESET"), says: "the RST arrived with TTL 64, the server's other packets with TTL 63" },
    Row { file: "server-close.pcap", stream: 0, code: Code::ServerClosed, stage: Stage::ClientHello, ended_by: Server, frame: 6, confidence: Certain, browser: Some("ERR_CONNECTION_CLOSED"), says: "FIN from the server" },
    Row { file: "client-reset.pcap", stream: 0, code: Code::ClientReset, stage: Stage::ServerKeyExchange, ended_by: Client, frame: 8, confidence: Likely, browser: None, says: "self-signed" },
    Row { file: "client-close.pcap", stream: 0, code: Code::ClientClosed, stage: Stage::ServerKeyExchange, ended_by: Client, frame: 8, confidence: Likely, browser: None, says: "FIN from the client" },
    Row { file: "http-on-443.pcap", stream: 0, code: Code::NotTlsClient, stage: Stage::TcpConnect, ended_by: Client, frame: 4, confidence: Certain, browser: None, says: "the client sent an HTTP request, not TLS" },
    Row { file: "http-on-443.pcap", stream: 1, code: Code::NotTlsServer, stage: Stage::ClientHello, ended_by: Server, frame: 16, confidence: Certain, browser: Some("ERR_SSL_PROTOCOL_ERROR"), says: "HTTP/1.0 400 Bad Request" },
    Row { file: "hostile-text.pcap", stream: 1, code: Code::NotTlsServer, stage: Stage::ClientHello, ended_by: Server, frame: 20, confidence: Certain, browser: Some("ERR_SSL_PROTOCOL_ERROR"), says: r#"server's answer: "\x1b]0;PWNED\x07\x1b[2J"# },
    Row { file: "hostile-markup.pcap", stream: 0, code: Code::CertificateRejected, stage: Stage::ServerCertificate, ended_by: Client, frame: 8, confidence: Certain, browser: Some("ERR_CERT_COMMON_NAME_INVALID"), says: r#"the certificate names <img src=x onerror=alert(1)>.test, not <script>alert("sni")</script>.test"# },
    Row { file: "hostile-markup.pcap", stream: 1, code: Code::NotTlsServer, stage: Stage::ClientHello, ended_by: Server, frame: 17, confidence: Certain, browser: Some("ERR_SSL_PROTOCOL_ERROR"), says: "HTTP/1.1 400 Bad Request" },
    Row { file: "ssh-on-443.pcap", stream: 0, code: Code::NotTlsServer, stage: Stage::ClientHello, ended_by: Server, frame: 6, confidence: Certain, browser: Some("ERR_SSL_PROTOCOL_ERROR"), says: "an SSH banner" },
    // `-i any` on lo (Linux cooked capture): a TLS 1.2-only client, a TLS 1.3-only server.
    Row { file: "sll-any-dumpcap.pcapng", stream: 1, code: Code::ProtocolVersion, stage: Stage::ClientHello, ended_by: Server, frame: 23, confidence: Certain, browser: Some("ERR_SSL_VERSION_OR_CIPHER_MISMATCH"), says: "none of the versions the client offers (TLSv1.2)" },
    // `-i any` on lo (Linux cooked capture): a TLS 1.2-only client, a TLS 1.3-only server.
    Row { file: "sll2-any-tcpdump.pcap", stream: 1, code: Code::ProtocolVersion, stage: Stage::ClientHello, ended_by: Server, frame: 20, confidence: Certain, browser: Some("ERR_SSL_VERSION_OR_CIPHER_MISMATCH"), says: "none of the versions the client offers (TLSv1.2)" },
    Row { file: "protocol-version.pcap", stream: 0, code: Code::ProtocolVersion, stage: Stage::ClientHello, ended_by: Server, frame: 6, confidence: Certain, browser: Some("ERR_SSL_VERSION_OR_CIPHER_MISMATCH"), says: "none of the versions the client offers (TLSv1.3)" },
    Row { file: "sslv2-refused.pcap", stream: 0, code: Code::ProtocolVersion, stage: Stage::ClientHello, ended_by: Server, frame: 6, confidence: Certain, browser: Some("ERR_SSL_VERSION_OR_CIPHER_MISMATCH"), says: "none of the versions the client offers (SSLv2)" },
    Row { file: "interleaved.pcap", stream: 4, code: Code::ProtocolVersion, stage: Stage::ClientHello, ended_by: Server, frame: 52, confidence: Certain, browser: Some("ERR_SSL_VERSION_OR_CIPHER_MISMATCH"), says: "protocol_version (70)" },
    // A client's attempts that its retries follow: retry-refused.pcap's, chromium-retry.pcap's
    // and fallback-protocol-version.pcap's stream 1 establish; two-client-stacks.pcap's TLS 1.0-only
    // client fails three times against a TLS 1.2+ server.
    Row { file: "retry-refused.pcap", stream: 0, code: Code::TcpRefused, stage: Stage::TcpConnect, ended_by: Server, frame: 2, confidence: Certain, browser: Some("ERR_CONNECTION_REFUSED"), says: "answered the SYN to port 443 with RST" },
    Row { file: "chromium-retry.pcap", stream: 0, code: Code::ServerReset, stage: Stage::ClientHello, ended_by: Server, frame: 6, confidence: Certain, browser: Some("ERR_CONNECTION_RESET"), says: "reset the connection after the ClientHello" },
    Row { file: "fallback-protocol-version.pcap", stream: 0, code: Code::ProtocolVersion, stage: Stage::ClientHello, ended_by: Server, frame: 6, confidence: Certain, browser: Some("ERR_SSL_VERSION_OR_CIPHER_MISMATCH"), says: "none of the versions the client offers (TLSv1.3)" },
    Row { file: "two-client-stacks.pcap", stream: 0, code: Code::ProtocolVersion, stage: Stage::ClientHello, ended_by: Server, frame: 6, confidence: Certain, browser: Some("ERR_SSL_VERSION_OR_CIPHER_MISMATCH"), says: "none of the versions the client offers (TLSv1.0)" },
    Row { file: "two-client-stacks.pcap", stream: 1, code: Code::ProtocolVersion, stage: Stage::ClientHello, ended_by: Server, frame: 16, confidence: Certain, browser: Some("ERR_SSL_VERSION_OR_CIPHER_MISMATCH"), says: "none of the versions the client offers (TLSv1.0)" },
    Row { file: "two-client-stacks.pcap", stream: 2, code: Code::ProtocolVersion, stage: Stage::ClientHello, ended_by: Server, frame: 26, confidence: Certain, browser: Some("ERR_SSL_VERSION_OR_CIPHER_MISMATCH"), says: "none of the versions the client offers (TLSv1.0)" },
    Row { file: "no-shared-cipher.pcap", stream: 0, code: Code::NoSharedCipher, stage: Stage::ClientHello, ended_by: Server, frame: 6, confidence: Certain, browser: Some("ERR_SSL_VERSION_OR_CIPHER_MISMATCH"), says: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" },
    Row { file: "no-common-signature.pcap", stream: 0, code: Code::NoSharedCipher, stage: Stage::ClientHello, ended_by: Server, frame: 6, confidence: Certain, browser: Some("ERR_SSL_VERSION_OR_CIPHER_MISMATCH"), says: "signature algorithms rsa_pkcs1_sha256" },
    Row { file: "unrecognized-name.pcap", stream: 0, code: Code::UnrecognizedName, stage: Stage::ClientHello, ended_by: Server, frame: 6, confidence: Certain, browser: Some("ERR_SSL_UNRECOGNIZED_NAME_ALERT"), says: "does not serve the name other.test" },
    Row { file: "missing-sni.pcap", stream: 0, code: Code::MissingSni, stage: Stage::ClientHello, ended_by: Server, frame: 6, confidence: Certain, browser: Some("ERR_SSL_UNRECOGNIZED_NAME_ALERT"), says: "no server_name extension" },
    Row { file: "no-application-protocol.pcap", stream: 0, code: Code::NoApplicationProtocol, stage: Stage::ClientHello, ended_by: Server, frame: 6, confidence: Certain, browser: Some("ERR_SSL_PROTOCOL_ERROR"), says: "ALPN offered: http/1.1" },
    Row { file: "unknown-ca.pcap", stream: 0, code: Code::CertificateRejected, stage: Stage::ServerCertificate, ended_by: Client, frame: 8, confidence: Certain, browser: Some("ERR_CERT_AUTHORITY_INVALID"), says: "is self-signed" },
    Row { file: "cert-expired.pcap", stream: 0, code: Code::CertificateRejected, stage: Stage::ServerCertificate, ended_by: Client, frame: 8, confidence: Certain, browser: Some("ERR_CERT_DATE_INVALID"), says: "expired 370 days before this connection" },
    Row { file: "cert-not-yet-valid.pcap", stream: 0, code: Code::CertificateRejected, stage: Stage::ServerCertificate, ended_by: Client, frame: 8, confidence: Certain, browser: Some("ERR_CERT_DATE_INVALID"), says: "becomes valid only 10 days after this connection" },
    Row { file: "cert-name-mismatch.pcap", stream: 0, code: Code::CertificateRejected, stage: Stage::ServerCertificate, ended_by: Client, frame: 8, confidence: Certain, browser: Some("ERR_CERT_COMMON_NAME_INVALID"), says: "not wrong.test" },
    Row { file: "cert-chain-incomplete.pcap", stream: 0, code: Code::CertificateRejected, stage: Stage::ServerCertificate, ended_by: Client, frame: 8, confidence: Certain, browser: Some("ERR_CERT_AUTHORITY_INVALID"), says: "the chain is incomplete" },
    Row { file: "cert-rejected-tls13.pcap", stream: 0, code: Code::CertificateRejectedTls13, stage: Stage::EncryptedHandshake, ended_by: Client, frame: 9, confidence: Likely, browser: Some("ERR_CERT_AUTHORITY_INVALID"), says: "the exact size of an encrypted alert" },
    Row { file: "client-cert-required-tls12.pcap", stream: 0, code: Code::ClientCertificateRequired, stage: Stage::ClientCertificate, ended_by: Server, frame: 9, confidence: Certain, browser: Some("ERR_BAD_SSL_CLIENT_AUTH_CERT"), says: "empty Certificate" },
    Row { file: "client-cert-required-tls13.pcap", stream: 0, code: Code::ClientCertificateRequired, stage: Stage::ClientCertificate, ended_by: Server, frame: 9, confidence: Likely, browser: Some("ERR_BAD_SSL_CLIENT_AUTH_CERT"), says: "too small to carry a certificate" },
    Row { file: "client-cert-rejected.pcap", stream: 0, code: Code::ClientCertificateRejected, stage: Stage::ClientCertificate, ended_by: Server, frame: 9, confidence: Certain, browser: Some("ERR_BAD_SSL_CLIENT_AUTH_CERT"), says: "client certificate CN=self-signed.test" },
    Row { file: "hello-retry-failed.pcap", stream: 0, code: Code::HelloRetryFailed, stage: Stage::ServerHello, ended_by: Network, frame: 13, confidence: Likely, browser: Some("ERR_TIMED_OUT"), says: "HelloRetryRequest asks for secp384r1" },
    Row { file: "inappropriate-fallback.pcap", stream: 0, code: Code::DowngradeDetected, stage: Stage::ClientHello, ended_by: Server, frame: 6, confidence: Certain, browser: Some("ERR_SSL_VERSION_INTERFERENCE"), says: "TLS_FALLBACK_SCSV" },
    Row { file: "psk-mismatch.pcap", stream: 0, code: Code::CryptoFailure, stage: Stage::Finished, ended_by: Server, frame: 9, confidence: Certain, browser: Some("ERR_SSL_BAD_RECORD_MAC_ALERT"), says: "bad_record_mac (20)" },
    Row { file: "alert-internal-error.pcap", stream: 0, code: Code::Alert, stage: Stage::ClientHello, ended_by: Server, frame: 6, confidence: Certain, browser: Some("ERR_SSL_PROTOCOL_ERROR"), says: "internal_error (80)" },
    Row { file: "started-late.pcap", stream: 0, code: Code::CaptureStartedLate, stage: Stage::Established, ended_by: Unknown, frame: 1, confidence: Certain, browser: None, says: "both sides sent their Finished" },
    Row { file: "joined-request.pcap", stream: 0, code: Code::CaptureStartedLate, stage: Stage::TcpConnect, ended_by: Unknown, frame: 1, confidence: Certain, browser: None, says: "the first packet of the connection is mid-stream" },
    Row { file: "one-direction-tls13-server.pcap", stream: 0, code: Code::CaptureOneDirection, stage: Stage::EncryptedHandshake, ended_by: Unknown, frame: 1, confidence: Certain, browser: None, says: "holds only the server's packets" },
    Row { file: "one-direction-tls13-client.pcap", stream: 0, code: Code::CaptureOneDirection, stage: Stage::Finished, ended_by: Unknown, frame: 1, confidence: Certain, browser: None, says: "holds no packet from the server" },
    // A side that gives up in the clear says so even when the capture holds it alone.
    Row { file: "one-direction-client-alert.pcap", stream: 0, code: Code::CertificateRejected, stage: Stage::ServerCertificate, ended_by: Client, frame: 5, confidence: Certain, browser: Some("ERR_CERT_AUTHORITY_INVALID"), says: "the client rejected the server's certificate (unknown_ca)" },
    // The first connection, which the client left without telling the server: the RST that
    // ended it at the server comes after the client's new SYN, so tshark counts it in stream 1.
    Row { file: "port-reuse.pcap", stream: 0, code: Code::CaptureEnded, stage: Stage::ServerKeyExchange, ended_by: Unknown, frame: 7, confidence: Certain, browser: None, says: "the capture ended after the server's key exchange" },
    Row { file: "ended-early.pcap", stream: 0, code: Code::CaptureEnded, stage: Stage::ClientHello, ended_by: Unknown, frame: 5, confidence: Certain, browser: None, says: "the capture ended after the ClientHello" },
    Row { file: "snaplen-100.pcap", stream: 0, code: Code::TruncatedPackets, stage: Stage::ServerHello, ended_by: Unknown, frame: 4, confidence: Certain, browser: None, says: "snapshot length cut" },
    // A whole alert after a cut ClientHello decides, on a port tlsdiag does not know too.
    Row { file: "snaplen-alert.pcap", stream: 0, code: Code::ProtocolVersion, stage: Stage::ClientHello, ended_by: Server, frame: 6, confidence: Certain, browser: Some("ERR_SSL_VERSION_OR_CIPHER_MISMATCH"), says: "the snaplen cut the client's ClientHello after 34 of its" },
    Row { file: "snaplen-alert.pcap", stream: 1, code: Code::ProtocolVersion, stage: Stage::ClientHello, ended_by: Server, frame: 16, confidence: Certain, browser: Some("ERR_SSL_VERSION_OR_CIPHER_MISMATCH"), says: "the snaplen cut the client's ClientHello after 34 of its" },
    // Every flight of a success on port 4434 cut: the cut ClientHello shows it is TLS.
    Row { file: "snaplen-alert.pcap", stream: 2, code: Code::TruncatedPackets, stage: Stage::ServerHello, ended_by: Unknown, frame: 24, confidence: Certain, browser: None, says: "snapshot length cut" },
    Row { file: "lost-segment.pcap", stream: 0, code: Code::StreamGap, stage: Stage::Finished, ended_by: Unknown, frame: 6, confidence: Certain, browser: None, says: "2172 bytes at stream offset 0" },
];

/// Files holding another file's connections, joined a packet later: their rows are that
/// file's.
const SAME_ROWS_AS: &[(&str, &str)] = &[
    ("joined-download.pcap", "joined-request.pcap"),
    ("sll-any-tcpdump.pcap", "sll-any-dumpcap.pcapng"),
];

/// The files a row's verdicts must be found in.
fn files_of(r: &Row) -> impl Iterator<Item = &'static str> + '_ {
    let alike = SAME_ROWS_AS.iter().filter(|(_, of)| *of == r.file);
    std::iter::once(r.file).chain(alike.map(|(file, _)| *file))
}

#[test]
fn every_failure_class_is_diagnosed_from_its_real_capture() {
    for (r, file) in ROWS.iter().flat_map(|r| files_of(r).map(move |f| (r, f))) {
        let analysis = common::analyze_named(file);
        let c = common::stream(&analysis, r.stream);
        let at = format!("{file} stream {}", r.stream);
        let d = c
            .diagnosis
            .as_ref()
            .unwrap_or_else(|| panic!("{at}: no diagnosis ({})", c.verdict.reason));
        assert_eq!(
            (
                d.code,
                d.stage,
                d.ended_by,
                d.frame,
                d.confidence,
                d.browser_error
            ),
            (
                r.code,
                r.stage,
                r.ended_by,
                r.frame,
                r.confidence,
                r.browser
            ),
            "{at}: {}",
            d.summary
        );
        let text = std::iter::once(d.summary.as_str())
            .chain(d.evidence.iter().map(|e| e.fact.as_str()))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            text.contains(r.says),
            "{at}: expected {:?} in\n{text}",
            r.says
        );
        assert!(
            !d.cause.is_empty() && !d.fix.is_empty(),
            "{at}: cause and fix"
        );
        assert!(
            d.evidence.iter().any(|e| e.frame == Some(d.frame)),
            "{at}: the decisive frame is in the evidence"
        );
        // The verdict agrees with its diagnosis.
        assert_eq!(
            (c.verdict.stage, c.verdict.ended_by, c.verdict.frame),
            (d.stage, d.ended_by, d.frame),
            "{at}"
        );
    }
}

#[test]
fn every_class_of_the_table_has_a_capture() {
    let covered: std::collections::BTreeSet<Code> = ROWS.iter().map(|r| r.code).collect();
    let all = [
        Code::TcpNoResponse,
        Code::TcpRefused,
        Code::IcmpUnreachable,
        Code::NoServerHello,
        Code::ClientHelloLost,
        Code::ServerReset,
        Code::ServerClosed,
        Code::ClientReset,
        Code::ClientClosed,
        Code::NotTlsClient,
        Code::NotTlsServer,
        Code::ProtocolVersion,
        Code::NoSharedCipher,
        Code::UnrecognizedName,
        Code::MissingSni,
        Code::NoApplicationProtocol,
        Code::CertificateRejected,
        Code::CertificateRejectedTls13,
        Code::ClientCertificateRequired,
        Code::ClientCertificateRejected,
        Code::HelloRetryFailed,
        Code::DowngradeDetected,
        Code::CryptoFailure,
        Code::Alert,
        Code::CaptureStartedLate,
        Code::CaptureOneDirection,
        Code::CaptureEnded,
        Code::TruncatedPackets,
        Code::StreamGap,
    ];
    let missing: Vec<&Code> = all.iter().filter(|c| !covered.contains(c)).collect();
    assert!(missing.is_empty(), "classes without a capture: {missing:?}");
}

#[test]
fn no_failed_connection_goes_unreviewed() {
    for path in common::all_captures() {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let (analysis, _) = common::analyze_path(&path);
        for c in analysis
            .connections
            .iter()
            .filter(|c| c.diagnosis.is_some())
        {
            assert!(
                ROWS.iter()
                    .any(|r| files_of(r).any(|f| f == name) && r.stream == c.tcp_stream),
                "{name} stream {}: {:?} has no row here",
                c.tcp_stream,
                c.diagnosis.as_ref().map(|d| d.code)
            );
        }
    }
}

#[test]
fn established_connections_carry_warnings_not_diagnoses() {
    let interleaved = common::analyze_named("interleaved.pcap");
    let self_signed = common::stream(&interleaved, 0);
    assert!(self_signed.diagnosis.is_none());
    let codes: Vec<_> = self_signed.warnings.iter().map(|w| w.code).collect();
    assert_eq!(codes, [tlsdiag::connection::WarningCode::CertSelfSigned]);
    let legacy = common::analyze_named("legacy-tls10-rsa.pcap");
    let c = common::stream(&legacy, 0);
    assert_eq!(c.verdict.outcome, tlsdiag::connection::Outcome::Established);
    let codes: Vec<_> = c.warnings.iter().map(|w| w.code).collect();
    use tlsdiag::connection::WarningCode as W;
    assert_eq!(codes, [W::LegacyVersion, W::NoForwardSecrecy]);
    let clean = common::analyze_named("tls12-ecdhe-chain.pcap");
    assert!(common::stream(&clean, 0).warnings.is_empty());
}

#[test]
fn slow_handshakes_are_warned_about_above_the_threshold() {
    let path = common::captures_dir().join("tls13-sni-alpn.pcap");
    let run = |ms: f64| {
        let options = tlsdiag::Options {
            diagnose: tlsdiag::diagnose::DiagnoseOptions {
                slow_handshake_ms: ms,
            },
            ..Default::default()
        };
        let file = std::fs::File::open(&path).expect("readable");
        let (analysis, _, result) = tlsdiag::analyze::analyze_capture(file, &options);
        assert!(result.is_ok());
        analysis.connections[0]
            .warnings
            .iter()
            .map(|w| (w.code, w.summary.clone()))
            .collect::<Vec<_>>()
    };
    assert!(run(1000.0).is_empty());
    let warned = run(0.5);
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert_eq!(warned[0].0, tlsdiag::connection::WarningCode::SlowHandshake);
    assert!(
        warned[0].1.contains("from ClientHello to ServerHello"),
        "{}",
        warned[0].1
    );
}
