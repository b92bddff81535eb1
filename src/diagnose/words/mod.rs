//! The words for people: for each failure, its likely cause, its fix, and the error a browser
//! would have shown. Rules decide the code, the evidence and the confidence, then choose their
//! words here by a `Why`, so every cause and fix a user reads has one home (as ripgrep keeps
//! each flag's help text in one place, apart from the code that acts on it).

use super::side_word;
use crate::connection::{CloseKind, WarningCode};
use crate::flow::Side;
use crate::tls::values::AlertDescription as Desc;
use crate::wire_text::WireText;

/// Which words a diagnosis takes: the failure code, finer where one code has several
/// wordings. A variant carries exactly the values its sentences name.
#[derive(Clone, Copy, Debug)]
pub(super) enum Why<'a> {
    /// `TcpNoResponse`.
    TcpNoResponse,
    /// `TcpRefused`.
    TcpRefused,
    /// `IcmpUnreachable`, by the ICMP error's kind.
    IcmpPortUnreachable,
    IcmpProhibited,
    IcmpNoRoute,
    /// `NoServerHello`.
    NoServerHello,
    /// `ClientHelloLost`.
    ClientHelloLost,
    /// `ClientReset`, `ClientClosed`, `ServerReset`, `ServerClosed`: a close with no TLS
    /// before it, by the side that closed.
    ClosedBeforeTls(Side),
    /// A server reset whose TTL shows another sender, after the ClientHello for this name.
    MiddleboxReset {
        sni: Option<&'a WireText>,
    },
    /// The server closed silently, at the ClientHello or later.
    ServerClosed {
        at_client_hello: bool,
        how: CloseKind,
    },
    /// The client closed after the server's certificates; the first finding about them.
    ClientClosedAtCertificate {
        finding: Option<&'a str>,
    },
    ClientClosed,
    /// `NotTlsClient`.
    NotTlsClient,
    /// `NotTlsServer`.
    NotTlsServer,
    /// `ProtocolVersion` sent by the server: the versions offered (none when the ClientHello
    /// is not in the capture), and whether they are TLS 1.3 alone.
    ServerRefusedVersions {
        offered: Option<&'a str>,
        only_tls13: bool,
    },
    /// `ProtocolVersion` sent by the client: the range it offered, as the summary says it.
    ClientRefusedVersion {
        range: &'a str,
    },
    /// `NoSharedCipher`.
    NoSharedCipher,
    /// `UnrecognizedName`.
    UnrecognizedName {
        sni: &'a WireText,
    },
    /// `MissingSni`.
    MissingSni,
    /// `NoApplicationProtocol`.
    NoApplicationProtocol,
    /// `CertificateRejected`: the first decisive finding about the chain (its kind and
    /// words), the alert's name and value, and the name the client asked for.
    CertificateRejected {
        finding: Option<(WarningCode, &'a str)>,
        description: &'a str,
        alert: Option<Desc>,
        sni: Option<&'a WireText>,
    },
    /// `CertificateRejectedTls13`.
    CertificateRejectedTls13,
    /// `ClientCertificateRequired`, said by an alert, or inferred from TLS 1.3 record sizes.
    ClientCertificateRequired,
    ClientCertificateRequiredTls13,
    /// `ClientCertificateRejected`, said by an alert, or inferred from TLS 1.3 record sizes.
    ClientCertificateRejected,
    ClientCertificateRejectedTls13,
    /// `HelloRetryFailed`: the retry was lost, rejected, or never sent.
    HelloRetryLost {
        asked: &'a str,
    },
    HelloRetryRejected,
    HelloRetryNotSent {
        asked: &'a str,
    },
    /// `DowngradeDetected`.
    DowngradeDetected,
    /// `CryptoFailure`: the alert's sender blamed its peer's bytes.
    CryptoFailure {
        peer: Side,
        alert: Option<Desc>,
    },
    /// `CryptoFailure`: a decrypted Finished that the captured handshake does not verify.
    FinishedMismatch,
    /// `CryptoFailure` (after the peer's Finished) or `Alert`: a TLS 1.2 encrypted alert.
    EncryptedAlert {
        sender: Side,
        after_finished: bool,
    },
    /// `Alert`: any other alert, by its sender.
    Alert {
        sender: Side,
    },
    /// `CaptureStartedLate`.
    CaptureStartedLate,
    /// `CaptureOneDirection`.
    CaptureOneDirection,
    /// `CaptureEnded`.
    CaptureEnded,
    /// `TruncatedPackets`.
    TruncatedPackets,
    /// `StreamGap`.
    StreamGap,
    /// `LimitReached`.
    LimitReached,
}

/// The cause, the fix, and the browser error (where one fits) of one `Why`.
pub(super) struct Words {
    pub(crate) cause: String,
    pub(crate) fix: String,
    pub(crate) browser: Option<&'static str>,
}

fn says(cause: impl Into<String>, fix: impl Into<String>, browser: Option<&'static str>) -> Words {
    Words {
        cause: cause.into(),
        fix: fix.into(),
        browser,
    }
}

/// The table.
pub(super) fn words(why: Why) -> Words {
    match why {
        Why::TcpNoResponse => says(
            concat!(
                "a firewall silently dropping the SYNs, the host down, ",
                "or no route back to the client"
            ),
            concat!(
                "check that the server is up and that firewalls between the client ",
                "and the server allow the port"
            ),
            Some("ERR_CONNECTION_TIMED_OUT"),
        ),
        Why::TcpRefused => says(
            "nothing listens on the port, or a firewall rejects with a reset",
            concat!(
                "start the service on that port or fix the port the client uses; ",
                "check firewall reject rules"
            ),
            Some("ERR_CONNECTION_REFUSED"),
        ),
        Why::IcmpPortUnreachable => says(
            concat!(
                "the host is up but nothing listens on the port ",
                "(the host, not its TCP stack, answered)"
            ),
            "start the service on that port, or point the client at the right port",
            Some("ERR_CONNECTION_REFUSED"),
        ),
        Why::IcmpProhibited => says(
            "a firewall rejects the connection with ICMP",
            concat!(
                "allow the port in the firewall that sent the ICMP error ",
                "(its address is in the evidence)"
            ),
            Some("ERR_ADDRESS_UNREACHABLE"),
        ),
        Why::IcmpNoRoute => says(
            "the network has no route to the server, or the host is down",
            "check routing to the server and that the host is up",
            Some("ERR_ADDRESS_UNREACHABLE"),
        ),
        Why::NoServerHello => says(
            concat!(
                "the server accepted the TCP connection but its TLS layer is stuck ",
                "(overloaded, blocked on a backend), or something between accepts TCP ",
                "and drops the TLS bytes"
            ),
            concat!(
                "check the server process (thread pool, accept queue, backend) ",
                "and any proxy in front of it at that time"
            ),
            Some("ERR_TIMED_OUT"),
        ),
        Why::ClientHelloLost => says(
            concat!(
                "a path MTU problem or a middlebox dropping large packets ",
                "(ICMP \"fragmentation needed\" filtered); ",
                "large post-quantum key shares make ClientHellos bigger"
            ),
            concat!(
                "lower the MTU / clamp the MSS on the path ",
                "(e.g. iptables TCPMSS --clamp-mss-to-pmtu), ",
                "let ICMP fragmentation-needed through, ",
                "or find the device that drops large packets"
            ),
            Some("ERR_TIMED_OUT"),
        ),
        Why::ClosedBeforeTls(side) => says(
            match side {
                Side::Client => concat!(
                    "the client connected and left without a ClientHello: ",
                    "a health check or port scan, or a client that gave up"
                ),
                Side::Server => concat!(
                    "the server closed the connection as soon as it was opened: ",
                    "connection limits, an IP allow-list, or a crashed worker"
                ),
            },
            format!("check the {}'s logs for why it closed", side_word(side)),
            None,
        ),
        Why::MiddleboxReset { sni } => says(
            format!(
                "a middlebox (firewall, IPS or SNI filter) reset the connection \
                after seeing the ClientHello{}",
                sni.map(|s| format!(" for {s}")).unwrap_or_default()
            ),
            concat!(
                "find the filtering device between client and server ",
                "(its hop is where the TTL changes) and its policy for this name"
            ),
            Some("ERR_CONNECTION_RESET"),
        ),
        Why::ServerClosed {
            at_client_hello,
            how,
        } => says(
            if at_client_hello {
                concat!(
                    "the server (or a proxy in front of it) rejected the ClientHello ",
                    "without saying why: TLS not enabled on this listener, ",
                    "no certificate configured for the name, ",
                    "or a version or cipher policy that closes instead of alerting"
                )
            } else {
                concat!(
                    "the server gave up mid-handshake without an alert: ",
                    "a crash, a timeout, or a policy that closes silently"
                )
            },
            concat!(
                "check the server's error log at this time; ",
                "test with openssl s_client -connect HOST:PORT -servername NAME"
            ),
            Some(match how {
                CloseKind::Rst => "ERR_CONNECTION_RESET",
                CloseKind::Fin => "ERR_CONNECTION_CLOSED",
            }),
        ),
        Why::ClientClosedAtCertificate { finding } => says(
            format!(
                "the client silently rejected the server's certificate: {}",
                finding.unwrap_or(concat!(
                    "nothing visible is wrong with it, ",
                    "so the client's trust store or pinning is the likely reason"
                ))
            ),
            "check the client's logs for a certificate verification error",
            None,
        ),
        Why::ClientClosed => says(
            concat!(
                "the client gave up without saying why: a timeout of its own, ",
                "a cancelled request, or a check that failed silently"
            ),
            "check the client's logs and timeouts",
            None,
        ),
        Why::NotTlsClient => says(
            concat!(
                "the client speaks plain text to a port that expects TLS ",
                "(http:// instead of https://, or a missing TLS setting), ",
                "or the port serves plain text"
            ),
            "use TLS on the client (https://, ssl=true), or connect to the plaintext port",
            None,
        ),
        Why::NotTlsServer => says(
            concat!(
                "the port runs a plaintext service (or TLS is terminated elsewhere); ",
                "OpenSSL reports this as \"wrong version number\""
            ),
            "point the client at the TLS port, or enable TLS on this listener",
            Some("ERR_SSL_PROTOCOL_ERROR"),
        ),
        Why::ServerRefusedVersions {
            offered,
            only_tls13,
        } => says(
            match offered {
                Some(range) => format!(
                    "the client offers only {range}; the server is configured for other versions"
                ),
                None => {
                    "the server is configured for versions the client does not offer".to_string()
                }
            },
            if only_tls13 {
                "enable TLS 1.3 on the server, or let the client offer TLS 1.2"
            } else {
                concat!(
                    "align the protocol versions: enable a version the client offers ",
                    "on the server, or update the client"
                )
            },
            Some("ERR_SSL_VERSION_OR_CIPHER_MISMATCH"),
        ),
        Why::ClientRefusedVersion { range } => says(
            format!("the server chose a version outside the client's range ({range})"),
            "enable a version the client accepts on the server (TLS 1.2 or 1.3)",
            Some("ERR_SSL_VERSION_OR_CIPHER_MISMATCH"),
        ),
        Why::NoSharedCipher => says(
            concat!(
                "no cipher suite (or key-exchange group, or signature algorithm) in common ",
                "between the client's offer and the server's configuration"
            ),
            concat!(
                "enable on the server a suite the client offers ",
                "(e.g. an ECDHE-GCM suite for TLS 1.2), or update the client's cipher list"
            ),
            Some("ERR_SSL_VERSION_OR_CIPHER_MISMATCH"),
        ),
        Why::UnrecognizedName { sni } => says(
            format!("no virtual host or certificate on this server is configured for {sni}"),
            format!(
                "add {sni} to the server's names (server_name / SNI configuration), \
                or fix the name the client uses"
            ),
            Some("ERR_SSL_UNRECOGNIZED_NAME_ALERT"),
        ),
        Why::MissingSni => says(
            concat!(
                "the client connects by IP address or is too old or configured not to send SNI, ",
                "and the server rejects handshakes without a name"
            ),
            concat!(
                "connect by host name (or set the SNI explicitly), ",
                "or give the server a default certificate for clients without SNI"
            ),
            Some("ERR_SSL_UNRECOGNIZED_NAME_ALERT"),
        ),
        Why::NoApplicationProtocol => says(
            concat!(
                "the server insists on an application protocol ",
                "(e.g. only h2, or a gRPC or DoT name) that the client does not offer"
            ),
            concat!(
                "offer the protocol the server expects on the client, ",
                "or allow the client's protocol on the server"
            ),
            Some("ERR_SSL_PROTOCOL_ERROR"),
        ),
        Why::CertificateRejected {
            finding,
            description,
            alert,
            sni,
        } => says(
            certificate_rejected_cause(finding, description),
            certificate_rejected_fix(finding.map(|(w, _)| w), sni),
            match (finding, alert) {
                (Some((warning, _)), _) => certificate_browser(warning),
                (None, Some(Desc::CERTIFICATE_EXPIRED)) => Some("ERR_CERT_DATE_INVALID"),
                (None, Some(Desc::CERTIFICATE_REVOKED)) => Some("ERR_CERT_REVOKED"),
                (None, _) => Some("ERR_CERT_AUTHORITY_INVALID"),
            },
        ),
        Why::CertificateRejectedTls13 => says(
            concat!(
                "the client could not verify the server's certificate ",
                "(unknown CA, expired, wrong name) or its signature; ",
                "the certificate travels encrypted in TLS 1.3, so a capture cannot show which"
            ),
            concat!(
                "connect with `openssl s_client -connect HOST:443 -servername NAME` ",
                "to see the chain and the verify error, and check the client's logs"
            ),
            Some("ERR_CERT_AUTHORITY_INVALID"),
        ),
        Why::ClientCertificateRequired => says(
            concat!(
                "mutual TLS: the server only accepts clients with a certificate, ",
                "and this client has none configured"
            ),
            concat!(
                "configure the client's certificate and key (for curl: --cert/--key), ",
                "or make client certificates optional on the server"
            ),
            Some("ERR_BAD_SSL_CLIENT_AUTH_CERT"),
        ),
        Why::ClientCertificateRequiredTls13 => says(
            concat!(
                "the server requires a client certificate (mutual TLS) ",
                "and the client has none configured"
            ),
            concat!(
                "configure the client's certificate and key, ",
                "or make client certificates optional on the server"
            ),
            Some("ERR_BAD_SSL_CLIENT_AUTH_CERT"),
        ),
        Why::ClientCertificateRejected => says(
            concat!(
                "the client's certificate is not signed by a CA the server trusts for clients, ",
                "or is expired or revoked"
            ),
            concat!(
                "issue the client a certificate from the CA the server trusts ",
                "(its ssl_client_certificate / CA file), or add the client's CA there"
            ),
            Some("ERR_BAD_SSL_CLIENT_AUTH_CERT"),
        ),
        Why::ClientCertificateRejectedTls13 => says(
            concat!(
                "the client's certificate is not signed by a CA the server trusts for clients, ",
                "or is expired"
            ),
            concat!(
                "issue the client a certificate from the CA the server trusts for clients, ",
                "or add the client's CA there"
            ),
            Some("ERR_BAD_SSL_CLIENT_AUTH_CERT"),
        ),
        Why::HelloRetryLost { asked } => says(
            concat!(
                "the path drops the larger second ClientHello ",
                "(an MTU or middlebox problem), while the first one passed"
            ),
            format!(
                "fix the path for large packets (MSS clamping, ICMP fragmentation-needed), \
                or make the client send a {asked} key share at once"
            ),
            Some("ERR_TIMED_OUT"),
        ),
        Why::HelloRetryRejected => says(
            concat!(
                "the client's second ClientHello did not satisfy the server ",
                "(group, cookie or parameters changed)"
            ),
            concat!(
                "compare the two ClientHellos: they must be the same ",
                "but for the key share and cookie (RFC 8446 4.1.2)"
            ),
            Some("ERR_SSL_PROTOCOL_ERROR"),
        ),
        Why::HelloRetryNotSent { asked } => says(
            format!("the client cannot or will not use {asked}, the only group the server accepts"),
            format!(
                "offer {asked} on the client, or enable one of the client's groups on the server"
            ),
            Some("ERR_SSL_PROTOCOL_ERROR"),
        ),
        Why::DowngradeDetected => says(
            concat!(
                "an earlier attempt at a higher version failed ",
                "(often a middlebox that breaks the newer handshake); ",
                "the server correctly refuses the downgrade"
            ),
            concat!(
                "find why the first, higher-version attempt failed ",
                "(look for the connection just before this one)"
            ),
            Some("ERR_SSL_VERSION_INTERFERENCE"),
        ),
        Why::FinishedMismatch => says(
            "the handshake the two ends hashed is not the one captured: a middlebox (a proxy, \
            a load balancer, an IPS) altered handshake bytes on the way, or the capture is of \
            altered traffic",
            "capture on both sides of every middlebox between the two ends and compare the \
            handshake bytes; disable TLS inspection or rewriting for this traffic",
            Some("ERR_SSL_PROTOCOL_ERROR"),
        ),
        Why::CryptoFailure { peer, alert } => {
            let peer = side_word(peer);
            says(
                format!(
                    "a broken or incompatible TLS implementation on the {peer}'s side, \
                    or a middlebox rewriting the handshake's bytes"
                ),
                format!(
                    "update the {peer}'s TLS library; capture on both sides of any proxy \
                    or load balancer to see whether bytes change in transit"
                ),
                Some(match alert {
                    Some(Desc::BAD_RECORD_MAC) => "ERR_SSL_BAD_RECORD_MAC_ALERT",
                    Some(Desc::DECRYPT_ERROR) => "ERR_SSL_DECRYPT_ERROR_ALERT",
                    _ => "ERR_SSL_PROTOCOL_ERROR",
                }),
            )
        }
        Why::EncryptedAlert {
            sender,
            after_finished,
        } => says(
            if after_finished {
                concat!(
                    "the Finished did not verify: the two sides derived different keys ",
                    "(a broken implementation, a wrong pre-shared key, or bytes changed in transit)"
                )
                .to_string()
            } else {
                format!(
                    "the {} gave up after encryption started; the alert's reason is encrypted",
                    side_word(sender)
                )
            },
            format!(
                "check the {}'s logs at this time for the alert's reason",
                side_word(sender)
            ),
            Some("ERR_SSL_PROTOCOL_ERROR"),
        ),
        Why::Alert { sender } => says(
            format!(
                "the {} gave up for the reason the alert names",
                side_word(sender)
            ),
            format!(
                "look at the {}'s logs at the time of the alert for the error behind it",
                side_word(sender)
            ),
            Some("ERR_SSL_PROTOCOL_ERROR"),
        ),
        Why::CaptureStartedLate => says(
            "the capture was started after the connection was opened",
            concat!(
                "start the capture before the client connects, ",
                "or reproduce the connection while capturing"
            ),
            None,
        ),
        Why::CaptureOneDirection => says(
            concat!(
                "asymmetric routing (the other direction takes another path past the capture ",
                "point), or a capture filter that keeps one direction"
            ),
            concat!(
                "capture where both directions pass (on the client or server host itself), ",
                "or on both paths and merge the files (mergecap)"
            ),
            None,
        ),
        Why::CaptureEnded => says(
            "the capture stopped before the handshake finished; nothing in it shows a failure",
            "capture for longer, or until the connection closes",
            None,
        ),
        Why::TruncatedPackets => says(
            "the capture was taken with a small snapshot length (tcpdump -s)",
            "capture with the full packet: tcpdump -s 0",
            None,
        ),
        Why::StreamGap => says(
            concat!(
                "the capture dropped packets (a busy capture host: ",
                "see tcpdump's 'dropped by kernel'), or a second path carried them"
            ),
            "capture with a larger buffer (tcpdump -B) and a filter, or on the host itself",
            None,
        ),
        Why::LimitReached => says(
            concat!(
                "the connection sent more than tlsdiag holds by default: ",
                "an unusually large handshake, or hostile traffic"
            ),
            "raise the limit named above and analyse the capture again",
            None,
        ),
    }
}

/// What a browser shows for a certificate with this problem.
pub(super) fn certificate_browser(warning: WarningCode) -> Option<&'static str> {
    match warning {
        WarningCode::CertExpired | WarningCode::CertNotYetValid => Some("ERR_CERT_DATE_INVALID"),
        WarningCode::CertNameMismatch => Some("ERR_CERT_COMMON_NAME_INVALID"),
        WarningCode::CertSelfSigned | WarningCode::CertChainIncomplete => {
            Some("ERR_CERT_AUTHORITY_INVALID")
        }
        WarningCode::WeakSignature => Some("ERR_CERT_WEAK_SIGNATURE_ALGORITHM"),
        WarningCode::WeakKey => Some("ERR_CERT_WEAK_KEY"),
        _ => None,
    }
}

fn certificate_rejected_cause(finding: Option<(WarningCode, &str)>, description: &str) -> String {
    let Some((warning, text)) = finding else {
        return format!(
            "the client does not trust the certificate ({description}), though nothing in the \
            certificate itself is wrong: the client's trust store lacks the issuing CA"
        );
    };
    let why = match warning {
        WarningCode::CertExpired => concat!(
            "it was not renewed, ",
            "or the renewed one was not deployed or the server not reloaded"
        ),
        WarningCode::CertNameMismatch => concat!(
            "the client asked for a name this certificate does not cover ",
            "(a wrong virtual host, or a name missing from the subjectAltName)"
        ),
        WarningCode::CertChainIncomplete => concat!(
            "clients that do not already hold that intermediate ",
            "cannot build a path to a trusted root"
        ),
        WarningCode::CertSelfSigned => "the client trusts only CAs in its store",
        _ => return text.to_string(),
    };
    format!("{text}: {why}")
}

fn certificate_rejected_fix(warning: Option<WarningCode>, sni: Option<&WireText>) -> String {
    match warning {
        Some(WarningCode::CertExpired) => "renew the certificate and reload the server".into(),
        Some(WarningCode::CertNotYetValid) => concat!(
            "check the clocks of the server and the client (NTP); ",
            "reissue if the certificate's dates are wrong"
        )
        .into(),
        Some(WarningCode::CertNameMismatch) => format!(
            "install a certificate whose subjectAltName includes {}, \
            or connect with a name the certificate has",
            sni.map_or("the requested name".to_string(), WireText::to_string)
        ),
        Some(WarningCode::CertSelfSigned) => concat!(
            "install a certificate from a CA the clients trust, ",
            "or add this certificate to the clients' trust store"
        )
        .into(),
        Some(WarningCode::CertChainIncomplete) => concat!(
            "configure the server to send the intermediate certificate(s) with the leaf ",
            "(the full chain file)"
        )
        .into(),
        Some(WarningCode::WeakSignature | WarningCode::WeakKey) => concat!(
            "reissue the certificate with a SHA-256 signature and a key of at least ",
            "2048 bits (RSA) or 256 bits (EC)"
        )
        .into(),
        _ => concat!(
            "add the CA that issued the server's certificate to the client's trust store, ",
            "or use a certificate from a CA the client trusts"
        )
        .into(),
    }
}

#[cfg(test)]
mod tests;
