//! The words a `Why` gives: a choice within one code, interpolated values, and the certificate
//! findings that pick the cause, fix and browser error.

use super::*;

#[test]
fn a_server_close_is_a_reset_or_a_close_to_the_browser() {
    let browser = |how| {
        words(Why::ServerClosed {
            at_client_hello: false,
            how,
        })
        .browser
    };
    assert_eq!(browser(CloseKind::Rst), Some("ERR_CONNECTION_RESET"));
    assert_eq!(browser(CloseKind::Fin), Some("ERR_CONNECTION_CLOSED"));
}

#[test]
fn interpolated_values_land_in_their_sentences() {
    let sni = WireText::from("shop.test");
    let w = words(Why::UnrecognizedName { sni: &sni });
    assert_eq!(
        w.cause,
        "no virtual host or certificate on this server is configured for shop.test"
    );
    assert!(
        w.fix.starts_with("add shop.test to the server's names"),
        "{}",
        w.fix
    );
    let w = words(Why::CryptoFailure {
        peer: Side::Server,
        alert: Some(Desc::DECRYPT_ERROR),
    });
    assert!(w.cause.contains("on the server's side"), "{}", w.cause);
    assert_eq!(w.browser, Some("ERR_SSL_DECRYPT_ERROR_ALERT"));
}

#[test]
fn a_certificate_finding_chooses_the_cause_fix_and_browser() {
    let w = words(Why::CertificateRejected {
        finding: Some((WarningCode::CertSelfSigned, "it is self-signed")),
        description: "bad_certificate",
        alert: None,
        sni: None,
    });
    assert_eq!(
        w.cause,
        "it is self-signed: the client trusts only CAs in its store"
    );
    assert!(
        w.fix.starts_with("install a certificate from a CA"),
        "{}",
        w.fix
    );
    assert_eq!(w.browser, Some("ERR_CERT_AUTHORITY_INVALID"));
    let revoked = words(Why::CertificateRejected {
        finding: None,
        description: "certificate_revoked",
        alert: Some(Desc::CERTIFICATE_REVOKED),
        sni: None,
    });
    assert_eq!(revoked.browser, Some("ERR_CERT_REVOKED"));
    assert!(
        revoked.cause.contains("(certificate_revoked)"),
        "{}",
        revoked.cause
    );
}
