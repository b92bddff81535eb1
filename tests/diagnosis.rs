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

#[allow(clippy::too_many_arguments)]
const fn row(
    file: &'static str,
    stream: u64,
    code: Code,
    stage: Stage,
    ended_by: EndedBy,
    frame: u64,
    confidence: Confidence,
    browser: Option<&'static str>,
    says: &'static str,
) -> Row {
    Row {
        file,
        stream,
        code,
        stage,
        ended_by,
        frame,
        confidence,
        browser,
        says,
    }
}

use Confidence::{Certain, Likely};
use EndedBy::{Client, Network, Server, Unknown};

const ROWS: &[Row] = &[
    row(
        "tcp-no-response.pcap",
        0,
        Code::TcpNoResponse,
        Stage::TcpConnect,
        Network,
        4,
        Certain,
        Some("ERR_CONNECTION_TIMED_OUT"),
        "SYNs sent at 0 ms, 1023 ms, 2047 ms, 3071 ms",
    ),
    row(
        "refused.pcap",
        0,
        Code::TcpRefused,
        Stage::TcpConnect,
        Server,
        2,
        Certain,
        Some("ERR_CONNECTION_REFUSED"),
        "answered the SYN to port 443 with RST",
    ),
    row(
        "icmp-admin-prohibited.pcap",
        0,
        Code::IcmpUnreachable,
        Stage::TcpConnect,
        Network,
        2,
        Certain,
        Some("ERR_ADDRESS_UNREACHABLE"),
        "ICMP administratively prohibited from 198.18.0.2",
    ),
    row(
        "no-server-hello.pcap",
        0,
        Code::NoServerHello,
        Stage::ClientHello,
        Client,
        6,
        Certain,
        Some("ERR_TIMED_OUT"),
        "never answered the ClientHello (4.0 s",
    ),
    row(
        "client-hello-lost.pcap",
        0,
        Code::ClientHelloLost,
        Stage::ClientHello,
        Network,
        9,
        Likely,
        Some("ERR_TIMED_OUT"),
        "never acknowledged",
    ),
    row(
        "server-reset.pcap",
        0,
        Code::ServerReset,
        Stage::ClientHello,
        Server,
        6,
        Certain,
        Some("ERR_CONNECTION_RESET"),
        "the same as the server's other packets",
    ),
    row(
        "middlebox-reset.pcap",
        0,
        Code::ServerReset,
        Stage::ClientHello,
        Server,
        5,
        Likely,
        Some("ERR_CONNECTION_RESET"),
        "the RST arrived with TTL 64, the server's other packets with TTL 63",
    ),
    row(
        "server-close.pcap",
        0,
        Code::ServerClosed,
        Stage::ClientHello,
        Server,
        6,
        Certain,
        Some("ERR_CONNECTION_CLOSED"),
        "FIN from the server",
    ),
    row(
        "client-reset.pcap",
        0,
        Code::ClientReset,
        Stage::ServerKeyExchange,
        Client,
        8,
        Likely,
        None,
        "self-signed",
    ),
    row(
        "client-close.pcap",
        0,
        Code::ClientClosed,
        Stage::ServerKeyExchange,
        Client,
        8,
        Likely,
        None,
        "FIN from the client",
    ),
    row(
        "http-on-443.pcap",
        0,
        Code::NotTlsClient,
        Stage::TcpConnect,
        Client,
        4,
        Certain,
        None,
        "the client sent an HTTP request, not TLS",
    ),
    row(
        "http-on-443.pcap",
        1,
        Code::NotTlsServer,
        Stage::ClientHello,
        Server,
        16,
        Certain,
        Some("ERR_SSL_PROTOCOL_ERROR"),
        "HTTP/1.0 400 Bad Request",
    ),
    row(
        "hostile-text.pcap",
        1,
        Code::NotTlsServer,
        Stage::ClientHello,
        Server,
        20,
        Certain,
        Some("ERR_SSL_PROTOCOL_ERROR"),
        r#"server's answer: "\x1b]0;PWNED\x07\x1b[2J"#,
    ),
    row(
        "ssh-on-443.pcap",
        0,
        Code::NotTlsServer,
        Stage::ClientHello,
        Server,
        6,
        Certain,
        Some("ERR_SSL_PROTOCOL_ERROR"),
        "an SSH banner",
    ),
    // `-i any` on lo (Linux cooked capture): a TLS 1.2-only client, a TLS 1.3-only server.
    row(
        "sll-any-dumpcap.pcapng",
        1,
        Code::ProtocolVersion,
        Stage::ClientHello,
        Server,
        23,
        Certain,
        Some("ERR_SSL_VERSION_OR_CIPHER_MISMATCH"),
        "none of the versions the client offers (TLSv1.2)",
    ),
    // `-i any` on lo (Linux cooked capture): a TLS 1.2-only client, a TLS 1.3-only server.
    row(
        "sll2-any-tcpdump.pcap",
        1,
        Code::ProtocolVersion,
        Stage::ClientHello,
        Server,
        20,
        Certain,
        Some("ERR_SSL_VERSION_OR_CIPHER_MISMATCH"),
        "none of the versions the client offers (TLSv1.2)",
    ),
    row(
        "protocol-version.pcap",
        0,
        Code::ProtocolVersion,
        Stage::ClientHello,
        Server,
        6,
        Certain,
        Some("ERR_SSL_VERSION_OR_CIPHER_MISMATCH"),
        "none of the versions the client offers (TLSv1.3)",
    ),
    row(
        "sslv2-refused.pcap",
        0,
        Code::ProtocolVersion,
        Stage::ClientHello,
        Server,
        6,
        Certain,
        Some("ERR_SSL_VERSION_OR_CIPHER_MISMATCH"),
        "none of the versions the client offers (SSLv2)",
    ),
    row(
        "interleaved.pcap",
        4,
        Code::ProtocolVersion,
        Stage::ClientHello,
        Server,
        52,
        Certain,
        Some("ERR_SSL_VERSION_OR_CIPHER_MISMATCH"),
        "protocol_version (70)",
    ),
    row(
        "no-shared-cipher.pcap",
        0,
        Code::NoSharedCipher,
        Stage::ClientHello,
        Server,
        6,
        Certain,
        Some("ERR_SSL_VERSION_OR_CIPHER_MISMATCH"),
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    ),
    row(
        "no-common-signature.pcap",
        0,
        Code::NoSharedCipher,
        Stage::ClientHello,
        Server,
        6,
        Certain,
        Some("ERR_SSL_VERSION_OR_CIPHER_MISMATCH"),
        "signature algorithms rsa_pkcs1_sha256",
    ),
    row(
        "unrecognized-name.pcap",
        0,
        Code::UnrecognizedName,
        Stage::ClientHello,
        Server,
        6,
        Certain,
        Some("ERR_SSL_UNRECOGNIZED_NAME_ALERT"),
        "does not serve the name other.test",
    ),
    row(
        "missing-sni.pcap",
        0,
        Code::MissingSni,
        Stage::ClientHello,
        Server,
        6,
        Certain,
        Some("ERR_SSL_UNRECOGNIZED_NAME_ALERT"),
        "no server_name extension",
    ),
    row(
        "no-application-protocol.pcap",
        0,
        Code::NoApplicationProtocol,
        Stage::ClientHello,
        Server,
        6,
        Certain,
        Some("ERR_SSL_PROTOCOL_ERROR"),
        "ALPN offered: http/1.1",
    ),
    row(
        "unknown-ca.pcap",
        0,
        Code::CertificateRejected,
        Stage::ServerCertificate,
        Client,
        8,
        Certain,
        Some("ERR_CERT_AUTHORITY_INVALID"),
        "is self-signed",
    ),
    row(
        "cert-expired.pcap",
        0,
        Code::CertificateRejected,
        Stage::ServerCertificate,
        Client,
        8,
        Certain,
        Some("ERR_CERT_DATE_INVALID"),
        "expired 370 days before this connection",
    ),
    row(
        "cert-not-yet-valid.pcap",
        0,
        Code::CertificateRejected,
        Stage::ServerCertificate,
        Client,
        8,
        Certain,
        Some("ERR_CERT_DATE_INVALID"),
        "becomes valid only 10 days after this connection",
    ),
    row(
        "cert-name-mismatch.pcap",
        0,
        Code::CertificateRejected,
        Stage::ServerCertificate,
        Client,
        8,
        Certain,
        Some("ERR_CERT_COMMON_NAME_INVALID"),
        "not wrong.test",
    ),
    row(
        "cert-chain-incomplete.pcap",
        0,
        Code::CertificateRejected,
        Stage::ServerCertificate,
        Client,
        8,
        Certain,
        Some("ERR_CERT_AUTHORITY_INVALID"),
        "the chain is incomplete",
    ),
    row(
        "cert-rejected-tls13.pcap",
        0,
        Code::CertificateRejectedTls13,
        Stage::EncryptedHandshake,
        Client,
        9,
        Likely,
        Some("ERR_CERT_AUTHORITY_INVALID"),
        "the exact size of an encrypted alert",
    ),
    row(
        "client-cert-required-tls12.pcap",
        0,
        Code::ClientCertificateRequired,
        Stage::ClientCertificate,
        Server,
        9,
        Certain,
        Some("ERR_BAD_SSL_CLIENT_AUTH_CERT"),
        "empty Certificate",
    ),
    row(
        "client-cert-required-tls13.pcap",
        0,
        Code::ClientCertificateRequired,
        Stage::ClientCertificate,
        Server,
        9,
        Likely,
        Some("ERR_BAD_SSL_CLIENT_AUTH_CERT"),
        "too small to carry a certificate",
    ),
    row(
        "client-cert-rejected.pcap",
        0,
        Code::ClientCertificateRejected,
        Stage::ClientCertificate,
        Server,
        9,
        Certain,
        Some("ERR_BAD_SSL_CLIENT_AUTH_CERT"),
        "client certificate CN=self-signed.test",
    ),
    row(
        "hello-retry-failed.pcap",
        0,
        Code::HelloRetryFailed,
        Stage::ServerHello,
        Network,
        13,
        Likely,
        Some("ERR_TIMED_OUT"),
        "HelloRetryRequest asks for secp384r1",
    ),
    row(
        "inappropriate-fallback.pcap",
        0,
        Code::DowngradeDetected,
        Stage::ClientHello,
        Server,
        6,
        Certain,
        Some("ERR_SSL_VERSION_INTERFERENCE"),
        "TLS_FALLBACK_SCSV",
    ),
    row(
        "psk-mismatch.pcap",
        0,
        Code::CryptoFailure,
        Stage::Finished,
        Server,
        9,
        Certain,
        Some("ERR_SSL_BAD_RECORD_MAC_ALERT"),
        "bad_record_mac (20)",
    ),
    row(
        "alert-internal-error.pcap",
        0,
        Code::Alert,
        Stage::ClientHello,
        Server,
        6,
        Certain,
        Some("ERR_SSL_PROTOCOL_ERROR"),
        "internal_error (80)",
    ),
    row(
        "started-late.pcap",
        0,
        Code::CaptureStartedLate,
        Stage::Established,
        Unknown,
        1,
        Certain,
        None,
        "both sides sent their Finished",
    ),
    row(
        "joined-request.pcap",
        0,
        Code::CaptureStartedLate,
        Stage::TcpConnect,
        Unknown,
        1,
        Certain,
        None,
        "the first packet of the connection is mid-stream",
    ),
    row(
        "one-direction-tls13-server.pcap",
        0,
        Code::CaptureOneDirection,
        Stage::EncryptedHandshake,
        Unknown,
        1,
        Certain,
        None,
        "holds only the server's packets",
    ),
    row(
        "one-direction-tls13-client.pcap",
        0,
        Code::CaptureOneDirection,
        Stage::Finished,
        Unknown,
        1,
        Certain,
        None,
        "holds no packet from the server",
    ),
    // A side that gives up in the clear says so even when the capture holds it alone.
    row(
        "one-direction-client-alert.pcap",
        0,
        Code::CertificateRejected,
        Stage::ServerCertificate,
        Client,
        5,
        Certain,
        Some("ERR_CERT_AUTHORITY_INVALID"),
        "the client rejected the server's certificate (unknown_ca)",
    ),
    // The first connection, which the client left without telling the server: the RST that
    // ended it at the server comes after the client's new SYN, so tshark counts it in stream 1.
    row(
        "port-reuse.pcap",
        0,
        Code::CaptureEnded,
        Stage::ServerKeyExchange,
        Unknown,
        7,
        Certain,
        None,
        "the capture ended after the server's key exchange",
    ),
    row(
        "ended-early.pcap",
        0,
        Code::CaptureEnded,
        Stage::ClientHello,
        Unknown,
        5,
        Certain,
        None,
        "the capture ended after the ClientHello",
    ),
    row(
        "snaplen-100.pcap",
        0,
        Code::TruncatedPackets,
        Stage::ServerHello,
        Unknown,
        4,
        Certain,
        None,
        "snapshot length cut",
    ),
    // A whole alert after a cut ClientHello decides, on a port tlsdiag does not know too.
    row(
        "snaplen-alert.pcap",
        0,
        Code::ProtocolVersion,
        Stage::ClientHello,
        Server,
        6,
        Certain,
        Some("ERR_SSL_VERSION_OR_CIPHER_MISMATCH"),
        "the snaplen cut the client's ClientHello after 34 of its",
    ),
    row(
        "snaplen-alert.pcap",
        1,
        Code::ProtocolVersion,
        Stage::ClientHello,
        Server,
        16,
        Certain,
        Some("ERR_SSL_VERSION_OR_CIPHER_MISMATCH"),
        "the snaplen cut the client's ClientHello after 34 of its",
    ),
    // Every flight of a success on port 4434 cut: the cut ClientHello shows it is TLS.
    row(
        "snaplen-alert.pcap",
        2,
        Code::TruncatedPackets,
        Stage::ServerHello,
        Unknown,
        24,
        Certain,
        None,
        "snapshot length cut",
    ),
    row(
        "lost-segment.pcap",
        0,
        Code::StreamGap,
        Stage::Finished,
        Unknown,
        6,
        Certain,
        None,
        "2172 bytes at stream offset 0",
    ),
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
