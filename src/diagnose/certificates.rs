//! What is wrong with a server's certificate chain, judged at the time of the capture.
//!
//! "Now" is the time of the frame that carried the Certificate message, never the time of
//! analysis: a post-mortem months later must still see what the client saw.

use super::{side_word, stage_words};
use crate::connection::{Alert, Code, Connection, Diagnosis, Stage, WarningCode};
use crate::tls::certificate::CertificateInfo;
use crate::tls::values::AlertDescription;
use crate::wire_text::{self, WireText};
use std::sync::Arc;

/// Certificates expiring within this many days of the capture get a warning.
const EXPIRES_SOON_DAYS: i64 = 30;

/// One problem with the chain, with the words and the browser error that go with it.
pub struct Finding {
    pub warning: WarningCode,
    pub text: String,
    pub browser: &'static str,
}

/// The problems of the chain the server sent, most decisive first.
pub fn findings(conn: &Connection) -> Vec<Finding> {
    let (Some(leaf), Some((_, ts))) = (conn.certificates.first(), conn.facts.server_certificate)
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
            browser: "ERR_CERT_DATE_INVALID",
        });
    } else if now < leaf.not_before_unix {
        out.push(Finding {
            warning: WarningCode::CertNotYetValid,
            text: format!(
                "the certificate for {} becomes valid only {} days after this connection (not before {}): a wrong clock on one side?",
                name(leaf),
                days(leaf.not_before_unix - now),
                leaf.not_before
            ),
            browser: "ERR_CERT_DATE_INVALID",
        });
    } else if leaf.not_after_unix - now < EXPIRES_SOON_DAYS * 86_400 {
        out.push(Finding {
            warning: WarningCode::CertExpiresSoon,
            text: format!(
                "the certificate expires {} days after this connection ({})",
                days(leaf.not_after_unix - now),
                leaf.not_after
            ),
            browser: "",
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
            browser: "ERR_CERT_COMMON_NAME_INVALID",
        });
    }
    if leaf.self_signed {
        out.push(Finding {
            warning: WarningCode::CertSelfSigned,
            text: format!(
                "the certificate for {} is self-signed: no CA vouches for it",
                name(leaf)
            ),
            browser: "ERR_CERT_AUTHORITY_INVALID",
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
            browser: "ERR_CERT_AUTHORITY_INVALID",
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
            browser: "ERR_CERT_WEAK_SIGNATURE_ALGORITHM",
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
        browser: "ERR_CERT_WEAK_KEY",
    })
}

/// The client's alert after the server's Certificate, explained from the certificates.
pub fn rejected(conn: &Connection, alert: &Alert) -> Diagnosis {
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
        (Some((frame, _)), Some(leaf)) => {
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
            d = d.evidence(None, "the certificates are not visible (TLS 1.3 encrypts them): the alert alone says why");
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
    let cause = match decisive.first() {
        Some(f) => match f.warning {
            WarningCode::CertExpired => format!(
                "{}: it was not renewed, or the renewed one was not deployed or the server not reloaded",
                f.text
            ),
            WarningCode::CertNameMismatch => format!(
                "{}: the client asked for a name this certificate does not cover (a wrong virtual host, or a name missing from the subjectAltName)",
                f.text
            ),
            WarningCode::CertChainIncomplete => format!(
                "{}: clients that do not already hold that intermediate cannot build a path to a trusted root",
                f.text
            ),
            WarningCode::CertSelfSigned => {
                format!("{}: the client trusts only CAs in its store", f.text)
            }
            _ => f.text.clone(),
        },
        None => format!(
            "the client does not trust the certificate ({description}), though nothing in the certificate itself is wrong: the client's trust store lacks the issuing CA"
        ),
    };
    let fix = match decisive.first().map(|f| f.warning) {
        Some(WarningCode::CertExpired) => "renew the certificate and reload the server".to_string(),
        Some(WarningCode::CertNotYetValid) => "check the clocks of the server and the client (NTP); reissue if the certificate's dates are wrong".to_string(),
        Some(WarningCode::CertNameMismatch) => format!(
            "install a certificate whose subjectAltName includes {}, or connect with a name the certificate has",
            conn.sni
                .as_ref()
                .map_or("the requested name".to_string(), WireText::to_string)
        ),
        Some(WarningCode::CertSelfSigned) => "install a certificate from a CA the clients trust, or add this certificate to the clients' trust store".to_string(),
        Some(WarningCode::CertChainIncomplete) => "configure the server to send the intermediate certificate(s) with the leaf (the full chain file)".to_string(),
        Some(WarningCode::WeakSignature | WarningCode::WeakKey) => "reissue the certificate with a SHA-256 signature and a key of at least 2048 bits (RSA) or 256 bits (EC)".to_string(),
        _ => "add the CA that issued the server's certificate to the client's trust store, or use a certificate from a CA the client trusts".to_string(),
    };
    let browser = match (decisive.first(), alert.description) {
        (Some(f), _) => f.browser,
        (None, Some(AlertDescription::CERTIFICATE_EXPIRED)) => "ERR_CERT_DATE_INVALID",
        (None, Some(AlertDescription::CERTIFICATE_REVOKED)) => "ERR_CERT_REVOKED",
        (None, _) => "ERR_CERT_AUTHORITY_INVALID",
    };
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
    d.summary(summary).cause(cause).fix(fix).browser(browser)
}
