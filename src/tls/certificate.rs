//! What an X.509 certificate says, in the terms an operator checks, decoded with x509-parser.
//!
//! Validity is kept as Unix times so that it can be judged at the capture's time, never at the
//! time of analysis: a post-mortem months later must still see what the client saw.

use serde::Serialize;
use std::fmt;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::objects::{oid_registry, oid2sn};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

/// One certificate as a peer sent it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CertificateInfo {
    pub subject: String,
    pub issuer: String,
    pub common_name: Option<String>,
    /// dNSName and iPAddress entries of the subjectAltName extension.
    pub san: Vec<String>,
    /// Lowercase hex, colon separated, as openssl prints it.
    pub serial: String,
    /// RFC 3339, UTC.
    pub not_before: String,
    pub not_after: String,
    #[serde(skip)]
    pub not_before_unix: i64,
    #[serde(skip)]
    pub not_after_unix: i64,
    /// "RSA", "EC", "Ed25519", "Ed448", "DSA", or the algorithm's OID.
    pub key_type: String,
    pub key_bits: Option<u32>,
    /// The signature algorithm's short name ("sha256WithRSAEncryption", "ecdsa-with-SHA256").
    pub signature_algorithm: String,
    pub self_signed: bool,
    pub is_ca: bool,
    pub der_len: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CertificateError {
    Malformed(String),
}

impl fmt::Display for CertificateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertificateError::Malformed(detail) => write!(f, "malformed certificate: {detail}"),
        }
    }
}

impl std::error::Error for CertificateError {}

pub fn decode_certificate(der: &[u8]) -> Result<CertificateInfo, CertificateError> {
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|e| CertificateError::Malformed(e.to_string()))?;
    let validity = cert.validity();
    let (key_type, key_bits) = key_facts(&cert);
    Ok(CertificateInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        common_name: cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_string),
        san: san_names(&cert),
        serial: cert
            .raw_serial()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
        not_before: rfc3339(validity.not_before.timestamp()),
        not_after: rfc3339(validity.not_after.timestamp()),
        not_before_unix: validity.not_before.timestamp(),
        not_after_unix: validity.not_after.timestamp(),
        key_type,
        key_bits,
        signature_algorithm: oid_name(&cert.signature_algorithm.algorithm),
        self_signed: self_signed(&cert),
        is_ca: cert
            .basic_constraints()
            .ok()
            .flatten()
            .is_some_and(|bc| bc.value.ca),
        der_len: der.len(),
    })
}

fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}

fn oid_name(oid: &x509_parser::der_parser::oid::Oid<'_>) -> String {
    oid2sn(oid, oid_registry()).map_or_else(|_| oid.to_id_string(), str::to_string)
}

fn san_names(cert: &X509Certificate<'_>) -> Vec<String> {
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some((*dns).to_string()),
            GeneralName::IPAddress(bytes) => ip_string(bytes),
            _ => None,
        })
        .collect()
}

fn ip_string(bytes: &[u8]) -> Option<String> {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        return Some(std::net::Ipv4Addr::from(v4).to_string());
    }
    <[u8; 16]>::try_from(bytes)
        .ok()
        .map(|v6| std::net::Ipv6Addr::from(v6).to_string())
}

/// Key type and size. RSA bits come from the modulus itself (leading zero bytes stripped);
/// EC bits from the named curve, since the point's length overstates P-521.
fn key_facts(cert: &X509Certificate<'_>) -> (String, Option<u32>) {
    let spki = cert.public_key();
    let algorithm = oid_name(&spki.algorithm.algorithm);
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => {
            let modulus: Vec<u8> = rsa
                .modulus
                .iter()
                .copied()
                .skip_while(|&b| b == 0)
                .collect();
            let bits = modulus
                .first()
                .map(|&top| (modulus.len() as u32 - 1) * 8 + (8 - top.leading_zeros()));
            ("RSA".into(), bits)
        }
        Ok(PublicKey::EC(_)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|oid| oid_name(&oid));
            let bits = match curve.as_deref() {
                Some("prime256v1" | "secp256r1" | "brainpoolP256r1" | "secp256k1") => Some(256),
                Some("secp384r1" | "brainpoolP384r1") => Some(384),
                Some("secp521r1") => Some(521),
                Some("brainpoolP512r1") => Some(512),
                Some("secp224r1") => Some(224),
                Some("prime192v1" | "secp192r1") => Some(192),
                _ => None,
            };
            ("EC".into(), bits)
        }
        Ok(PublicKey::DSA(y)) => ("DSA".into(), Some(y.len() as u32 * 8)),
        _ => match algorithm.as_str() {
            "ED25519" | "1.3.101.112" => ("Ed25519".into(), Some(256)),
            "ED448" | "1.3.101.113" => ("Ed448".into(), Some(456)),
            _ => (algorithm, None),
        },
    }
}

/// Issued by itself: the same name as issuer and subject, and, where both key identifiers are
/// present, the same key.
fn self_signed(cert: &X509Certificate<'_>) -> bool {
    if cert.subject().as_raw() != cert.issuer().as_raw() {
        return false;
    }
    let mut ski = None;
    let mut aki = None;
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => ski = Some(id.0),
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                aki = a.key_identifier.as_ref().map(|k| k.0)
            }
            _ => {}
        }
    }
    match (ski, aki) {
        (Some(s), Some(a)) => s == a,
        _ => true,
    }
}

impl CertificateInfo {
    /// Whether the certificate was valid at `unix_time` (the capture's time, never "now").
    pub fn valid_at(&self, unix_time: i64) -> bool {
        (self.not_before_unix..=self.not_after_unix).contains(&unix_time)
    }

    /// Whether `host` (an SNI name) is covered by the SAN dNSNames, with RFC 6125's left-most
    /// single-label wildcard, or by the CN when the certificate has no SAN dNSName at all.
    pub fn matches_host(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let dns: Vec<&String> = self
            .san
            .iter()
            .filter(|n| n.parse::<std::net::IpAddr>().is_err())
            .collect();
        if dns.is_empty() {
            return self
                .common_name
                .as_deref()
                .is_some_and(|cn| name_matches(cn, &host));
        }
        if host.parse::<std::net::IpAddr>().is_ok() {
            return self.san.iter().any(|n| n == &host);
        }
        dns.iter().any(|pattern| name_matches(pattern, &host))
    }
}

fn name_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        // The wildcard stands for exactly one label, and never for the whole name.
        Some(suffix) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
        None => pattern == host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made by `openssl req -x509` (see captures/README.md, "unit test certificates").
    const RSA_SAN: &[u8] = include_bytes!("testdata/rsa2048-san.der");
    const EC_CN_ONLY: &[u8] = include_bytes!("testdata/ec384-cn-only.der");
    const WEAK: &[u8] = include_bytes!("testdata/rsa1024-sha1.der");

    #[test]
    fn rsa_with_san() {
        let c = decode_certificate(RSA_SAN).expect("decodes");
        assert_eq!(c.subject, "O=tlsdiag test, CN=server.test");
        assert_eq!(c.issuer, c.subject);
        assert_eq!(c.common_name.as_deref(), Some("server.test"));
        assert_eq!(c.san, ["server.test", "*.example.test", "127.0.0.1"]);
        assert_eq!((c.key_type.as_str(), c.key_bits), ("RSA", Some(2048)));
        assert_eq!(c.signature_algorithm, "sha256WithRSAEncryption");
        assert!(c.self_signed);
        assert_eq!(c.der_len, RSA_SAN.len());
        assert_eq!(c.not_after_unix - c.not_before_unix, 30 * 86400);
        assert!(c.not_before.ends_with('Z') && c.not_before.len() == 20);
        assert!(c.serial.contains(':'));
    }

    #[test]
    fn validity_is_judged_at_a_given_time() {
        let c = decode_certificate(RSA_SAN).expect("decodes");
        assert!(!c.valid_at(c.not_before_unix - 1));
        assert!(c.valid_at(c.not_before_unix));
        assert!(c.valid_at(c.not_after_unix));
        assert!(!c.valid_at(c.not_after_unix + 1));
    }

    #[test]
    fn host_matching() {
        let c = decode_certificate(RSA_SAN).expect("decodes");
        assert!(c.matches_host("server.test"));
        assert!(c.matches_host("SERVER.test."));
        assert!(c.matches_host("a.example.test"));
        assert!(!c.matches_host("b.a.example.test"));
        assert!(!c.matches_host("example.test"));
        assert!(!c.matches_host("other.test"));
        assert!(c.matches_host("127.0.0.1"));
        let ec = decode_certificate(EC_CN_ONLY).expect("decodes");
        assert!(ec.san.is_empty());
        assert!(ec.matches_host("ec.test"));
    }

    #[test]
    fn key_sizes_and_weak_signatures() {
        let ec = decode_certificate(EC_CN_ONLY).expect("decodes");
        assert_eq!((ec.key_type.as_str(), ec.key_bits), ("EC", Some(384)));
        assert_eq!(ec.signature_algorithm, "ecdsa-with-SHA256");
        let weak = decode_certificate(WEAK).expect("decodes");
        assert_eq!(weak.key_bits, Some(1024));
        assert_eq!(weak.signature_algorithm, "sha1WithRSAEncryption");
    }

    #[test]
    fn garbage_and_every_truncation_are_errors() {
        assert!(decode_certificate(b"").is_err());
        assert!(decode_certificate(b"not a certificate at all").is_err());
        for len in 0..RSA_SAN.len() {
            assert!(
                decode_certificate(&RSA_SAN[..len]).is_err(),
                "prefix of {len} bytes"
            );
        }
    }
}
