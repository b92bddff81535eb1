//! What is wrong with a server's certificate chain, judged at the time of the capture.
//!
//! "Now" is the time of the frame that carried the Certificate message, never the time of
//! analysis: a post-mortem months later must still see what the client saw.

use super::words::Why;
use super::{side_word, stage_words};
use crate::connection::Seen;
use crate::connection::{Alert, Code, Connection, Diagnosis, Stage, WarningCode};
use crate::tls::certificate::CertificateInfo;
use crate::wire_text::{self, WireText};
use std::sync::Arc;

/// Certificates expiring within this many days of the capture get a warning.
const EXPIRES_SOON_DAYS: i64 = 30;

/// One problem with the chain, with the words that state it (the browser error that goes
/// with it is in the words table).
pub(crate) struct Finding {
    pub(crate) warning: WarningCode,
    pub(crate) text: String,
}

/// The problems of the chain the server sent, most decisive first.
pub(crate) fn findings(conn: &Connection) -> Vec<Finding> {
    let (Some(leaf), Some(Seen { ts, .. })) =
        (conn.certificates.first(), conn.facts.server_certificate)
    else {
        return Vec::new();
    };
    let now = ts.secs;
    let mut out = Vec::new();
    let days = |secs: i64| secs.abs() / 86_400;
    if now > leaf.not_after_unix {
        out.push(Finding {
            warning: WarningCode::CertExpired,
            text: format!(
                "the certificate for {} expired {} days before this connection (not after {})",
                name(leaf),
                days(now - leaf.not_after_unix),
                leaf.not_after
            ),
        });
    } else if now < leaf.not_before_unix {
        out.push(Finding {
            warning: WarningCode::CertNotYetValid,
            text: format!(
                "the certificate for {} becomes valid only {} days after this connection (not \
                before {}): a wrong clock on one side?",
                name(leaf),
                days(leaf.not_before_unix - now),
                leaf.not_before
            ),
        });
    } else if leaf.not_after_unix - now < EXPIRES_SOON_DAYS * 86_400 {
        out.push(Finding {
            warning: WarningCode::CertExpiresSoon,
            text: format!(
                "the certificate expires {} days after this connection ({})",
                days(leaf.not_after_unix - now),
                leaf.not_after
            ),
        });
    }
    if let Some(sni) = &conn.sni
        && !leaf.matches_host(sni.as_str())
    {
        let names = if leaf.san.is_empty() {
            leaf.common_name
                .as_ref()
                .map(WireText::to_string)
                .unwrap_or_default()
        } else {
            wire_text::join(&leaf.san, ", ")
        };
        out.push(Finding {
            warning: WarningCode::CertNameMismatch,
            text: format!("the certificate names {names}, not {sni}"),
        });
    }
    if leaf.self_signed {
        out.push(Finding {
            warning: WarningCode::CertSelfSigned,
            text: format!(
                "the certificate for {} is self-signed: no CA vouches for it",
                name(leaf)
            ),
        });
    } else if conn.certificates_undecoded == 0
        && let Some(top) = incomplete_top(&conn.certificates)
    {
        out.push(Finding {
            warning: WarningCode::CertChainIncomplete,
            text: format!(
                "the chain is incomplete: {} was issued by {}, which the server did not send",
                top.subject, top.issuer
            ),
        });
    }
    for cert in &conn.certificates {
        if let Some(finding) = weakness(cert) {
            out.push(finding);
        }
    }
    out
}

fn name(cert: &CertificateInfo) -> &WireText {
    cert.common_name.as_ref().unwrap_or(&cert.subject)
}

/// The sent chain ends in a certificate that is no CA and not self-signed: its issuer, an
/// intermediate (CAs do not issue server certificates from their roots), is missing.
fn incomplete_top(chain: &[Arc<CertificateInfo>]) -> Option<&CertificateInfo> {
    let top = chain
        .iter()
        .find(|c| !chain.iter().any(|other| other.subject == c.issuer))?;
    (!top.is_ca && !top.self_signed).then_some(top)
}

fn weakness(cert: &CertificateInfo) -> Option<Finding> {
    let sig = cert.signature_algorithm.to_ascii_lowercase();
    if sig.contains("md5") || sig.contains("sha1") {
        return Some(Finding {
            warning: WarningCode::WeakSignature,
            text: format!(
                "{} is signed with {}, which browsers reject",
                name(cert),
                cert.signature_algorithm
            ),
        });
    }
    let weak_key = match (cert.key_type.as_str(), cert.key_bits) {
        ("RSA" | "DSA", Some(bits)) => bits < 2048,
        ("EC", Some(bits)) => bits < 256,
        _ => false,
    };
    weak_key.then(|| Finding {
        warning: WarningCode::WeakKey,
        text: format!(
            "{} has a {}-bit {} key",
            name(cert),
            cert.key_bits.unwrap_or(0),
            cert.key_type
        ),
    })
}

/// The client's alert after the server's Certificate, explained from the certificates.
pub(crate) fn rejected(conn: &Connection, alert: &Alert) -> Diagnosis {
    let description = alert.description.map_or("an alert", |d| d.name());
    let found = findings(conn);
    let decisive: Vec<&Finding> = found
        .iter()
        .filter(|f| f.warning != WarningCode::CertExpiresSoon)
        .collect();
    let mut d = Diagnosis::new(
        Code::CertificateRejected,
        Stage::ServerCertificate,
        alert.from.into(),
        alert.frame,
    )
    .with_client_hello(conn);
    match (conn.facts.server_certificate, conn.certificates.first()) {
        (Some(Seen { frame, .. }), Some(leaf)) => {
            d = d.evidence(
                frame,
                format!(
                    "the server sent {} certificate(s): {} issued by {}, valid {} to {}",
                    conn.certificates.len(),
                    leaf.subject,
                    leaf.issuer,
                    leaf.not_before,
                    leaf.not_after
                ),
            )
        }
        _ => {
            d = d.evidence(
                None,
                "the certificates are not visible (TLS 1.3 encrypts them): the \
                alert alone says why",
            );
        }
    }
    d = d.evidence(
        alert.frame,
        format!(
            "the {} sent fatal {description} ({})",
            side_word(alert.from),
            alert.description.map_or(0, |d| d.0)
        ),
    );
    for f in &decisive {
        d = d.evidence(None, f.text.clone());
    }
    let summary = match decisive.first() {
        Some(f) => format!(
            "the client rejected the server's certificate ({description}): {}",
            f.text
        ),
        None => format!(
            "the client rejected the server's certificate ({description}) {}",
            stage_words(Stage::ServerCertificate)
        ),
    };
    d.summary(summary).words(Why::CertificateRejected {
        finding: decisive.first().map(|f| (f.warning, f.text.as_str())),
        description,
        alert: alert.description,
        sni: conn.sni.as_ref(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::tests_support::connection;
    use crate::tls::values::AlertLevel;

    fn codes(file: &str) -> Vec<WarningCode> {
        findings(&connection(file, 0))
            .iter()
            .map(|f| f.warning)
            .collect()
    }

    #[test]
    fn each_broken_chain_has_its_finding_first() {
        assert_eq!(
            codes("cert-expired.pcap").first(),
            Some(&WarningCode::CertExpired)
        );
        assert_eq!(
            codes("cert-not-yet-valid.pcap").first(),
            Some(&WarningCode::CertNotYetValid)
        );
        assert!(codes("cert-name-mismatch.pcap").contains(&WarningCode::CertNameMismatch));
        assert!(codes("cert-chain-incomplete.pcap").contains(&WarningCode::CertChainIncomplete));
        // TLS 1.3 hides the chain: nothing to find.
        assert!(codes("tls13-sni-alpn.pcap").is_empty());
    }

    fn rejected_in(file: &str) -> Diagnosis {
        let conn = connection(file, 0);
        let alert = conn
            .alerts
            .iter()
            .find(|a| a.level == Some(AlertLevel::FATAL))
            .expect("a fatal alert");
        rejected(&conn, alert)
    }

    #[test]
    fn a_rejected_certificate_is_explained_by_its_finding_or_by_the_trust_store() {
        let expired = rejected_in("cert-expired.pcap");
        assert_eq!(
            (expired.code, expired.frame),
            (Code::CertificateRejected, 8)
        );
        assert_eq!(expired.browser_error, Some("ERR_CERT_DATE_INVALID"));
        assert_eq!(expired.fix, "renew the certificate and reload the server");
        let mismatch = rejected_in("cert-name-mismatch.pcap");
        assert_eq!(mismatch.browser_error, Some("ERR_CERT_COMMON_NAME_INVALID"));
        let self_signed = rejected_in("unknown-ca.pcap");
        assert_eq!(
            self_signed.browser_error,
            Some("ERR_CERT_AUTHORITY_INVALID")
        );
        let cause = &self_signed.cause;
        assert!(
            cause.ends_with("the client trusts only CAs in its store"),
            "{cause}"
        );
        // The server's packets are not in the capture: the alert alone says why.
        let unseen = rejected_in("one-direction-client-alert.pcap");
        let cause = &unseen.cause;
        assert!(
            cause.ends_with("trust store lacks the issuing CA"),
            "{cause}"
        );
    }
}
