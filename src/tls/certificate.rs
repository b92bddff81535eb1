//! What an X.509 certificate says, in the terms an operator checks, decoded with x509-parser.
//!
//! Validity is kept as Unix times so that it can be judged at the capture's time, never at the
//! time of analysis: a post-mortem months later must still see what the client saw.

use super::fingerprint::{self, Ja4x};
use crate::wire_text::WireText;
use serde::Serialize;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use x509_parser::asn1_rs::Tag;
use x509_parser::der_parser::der::parse_der_integer;
use x509_parser::der_parser::oid::Oid;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::objects::{oid_registry, oid2sn};
use x509_parser::oid_registry::{
    OID_KEY_TYPE_DSA, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_PKCS1_RSAENCRYPTION, OID_PKCS1_RSASSAPSS,
    OID_SIG_ED448, OID_SIG_ED25519,
};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::{PublicKey, RSAPublicKey};
use x509_parser::x509::{AttributeTypeAndValue, SubjectPublicKeyInfo};

/// One certificate as a peer sent it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CertificateInfo {
    /// The subject as x509-parser prints it ("O=Example, CN=server.test").
    pub subject: WireText,
    pub issuer: WireText,
    /// The subject's first CN.
    pub common_name: Option<WireText>,
    /// dNSName and iPAddress entries of the subjectAltName extension, in order.
    pub san: Vec<WireText>,
    /// Lowercase hex, colon separated, as openssl prints it (no DER sign byte).
    pub serial: String,
    /// RFC 3339, UTC, seconds precision.
    pub not_before: String,
    pub not_after: String,
    #[serde(skip)]
    pub not_before_unix: i64,
    #[serde(skip)]
    pub not_after_unix: i64,
    /// "RSA", "EC", "Ed25519", "Ed448", "DSA", or the key algorithm's dotted OID.
    pub key_type: String,
    /// RSA modulus or DSA prime bits, EC curve bits, 256 for Ed25519 and 456 for Ed448.
    pub key_bits: Option<u32>,
    /// "sha256WithRSAEncryption", "ecdsa-with-SHA256", "RSASSA-PSS", "ED25519", ..., or the
    /// dotted OID.
    pub signature_algorithm: String,
    /// Issued by itself: same raw subject and issuer and, where both are present, the
    /// authority key id equal to the subject key id.
    pub self_signed: bool,
    /// basicConstraints cA.
    pub is_ca: bool,
    pub der_len: usize,
    /// JA4X and its raw form: computed with the rest, once per distinct certificate (the
    /// decoding is cached), and written as `ja4x` and `ja4x_r`.
    #[serde(flatten)]
    pub fingerprint: Ja4x,
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

/// Decodes one DER certificate, remembering the last few hundred decoded on this thread: a
/// server sends the same chain in every full handshake, and parsing X.509 is the costliest
/// step of a handshake. The key is the whole DER, so a hit is the same certificate, byte for
/// byte; the cache is emptied when it holds `CACHE_BYTES`, so memory stays bounded.
pub(crate) fn decode_certificate_cached(
    der: &[u8],
) -> Result<Arc<CertificateInfo>, CertificateError> {
    const CACHE_BYTES: usize = 4 << 20;
    #[derive(Default)]
    struct Cache {
        decoded: HashMap<Box<[u8]>, Arc<CertificateInfo>, foldhash::fast::RandomState>,
        bytes: usize,
    }
    thread_local! {
        static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
    }
    if let Some(hit) = CACHE.with_borrow(|c| c.decoded.get(der).cloned()) {
        return Ok(hit);
    }
    let info = Arc::new(decode_certificate(der)?);
    CACHE.with_borrow_mut(|c| {
        if c.bytes + der.len() > CACHE_BYTES {
            *c = Cache::default();
        }
        if der.len() <= CACHE_BYTES {
            c.bytes += der.len();
            c.decoded.insert(der.into(), Arc::clone(&info));
        }
    });
    Ok(info)
}

/// Decodes one DER certificate (one entry of a Certificate message).
pub fn decode_certificate(der: &[u8]) -> Result<CertificateInfo, CertificateError> {
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|e| CertificateError::Malformed(e.to_string()))?;
    let not_before_unix = cert.validity().not_before.timestamp();
    let not_after_unix = cert.validity().not_after.timestamp();
    let (key_type, key_bits) = key_facts(cert.public_key());
    Ok(CertificateInfo {
        subject: WireText::from_text(cert.subject().to_string()),
        issuer: WireText::from_text(cert.issuer().to_string()),
        common_name: cert.subject().iter_common_name().next().map(attribute_text),
        san: san_names(&cert),
        serial: serial_hex(cert.raw_serial()),
        not_before: rfc3339(not_before_unix),
        not_after: rfc3339(not_after_unix),
        not_before_unix,
        not_after_unix,
        key_type,
        key_bits,
        signature_algorithm: signature_name(&cert.signature_algorithm.algorithm),
        self_signed: self_signed(&cert),
        is_ca: cert
            .basic_constraints()
            .ok()
            .flatten()
            .is_some_and(|bc| bc.value.ca),
        der_len: der.len(),
        fingerprint: fingerprint::ja4x(
            cert.issuer()
                .iter_attributes()
                .map(|a| a.attr_type().as_bytes()),
            cert.subject()
                .iter_attributes()
                .map(|a| a.attr_type().as_bytes()),
            cert.extensions().iter().map(|e| e.oid.as_bytes()),
        ),
    })
}

/// x509-parser reads only the ASCII/UTF-8 string types; old certificates also use BMPString
/// (UTF-16BE) and TeletexString (in practice Latin-1 or ASCII).
fn attribute_text(attr: &AttributeTypeAndValue<'_>) -> WireText {
    if let Ok(s) = attr.as_str() {
        return WireText::from_text(s.to_string());
    }
    let value = attr.attr_value();
    match value.tag() {
        Tag::BmpString => {
            let units = value
                .data
                .chunks_exact(2)
                .filter_map(|pair| <[u8; 2]>::try_from(pair).ok())
                .map(u16::from_be_bytes);
            let text = char::decode_utf16(units)
                .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect();
            WireText::from_text(text)
        }
        Tag::TeletexString => {
            WireText::from_text(value.data.iter().map(|&b| char::from(b)).collect())
        }
        _ => WireText::from_bytes(value.data),
    }
}

/// openssl shows the serial's magnitude: the 0x00 that DER adds before a high bit is dropped.
fn serial_hex(raw: &[u8]) -> String {
    let magnitude = match raw {
        [0, next, ..] if next & 0x80 != 0 => raw.get(1..).unwrap_or(raw),
        _ => raw,
    };
    magnitude
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
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

fn oid_name(oid: &Oid<'_>) -> String {
    oid2sn(oid, oid_registry()).map_or_else(|_| oid.to_id_string(), str::to_string)
}

/// The registry's short names, in openssl's spelling where the registry differs or lacks them.
fn signature_name(oid: &Oid<'_>) -> String {
    if *oid == OID_PKCS1_RSASSAPSS {
        return "RSASSA-PSS".into();
    } else if *oid == OID_SIG_ED25519 {
        return "ED25519".into();
    } else if *oid == OID_SIG_ED448 {
        return "ED448".into();
    }
    let dotted = oid.to_id_string();
    let name = match dotted.as_str() {
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
        "2.16.840.1.101.3.4.3.1" => "dsa_with_SHA224",
        "2.16.840.1.101.3.4.3.2" => "dsa_with_SHA256",
        _ => return oid_name(oid),
    };
    name.into()
}

fn san_names(cert: &X509Certificate<'_>) -> Vec<WireText> {
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some(WireText::from_text((*dns).to_string())),
            GeneralName::IPAddress(bytes) => {
                ip_from_bytes(bytes).map(|ip| WireText::from_text(ip.to_string()))
            }
            _ => None,
        })
        .collect()
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        return Some(IpAddr::from(v4));
    }
    <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from)
}

/// Bits of a big-endian unsigned integer, leading zero bytes (DER's sign byte) ignored.
fn bit_len(be: &[u8]) -> Option<u32> {
    let start = be.iter().position(|&b| b != 0)?;
    let top = be.get(start)?;
    let rest = u32::try_from(be.len() - start - 1).ok()?;
    rest.checked_mul(8)?.checked_add(8 - top.leading_zeros())
}

/// Key type and size. EC bits come from the named curve, since the point's length overstates
/// P-521; DSA bits from the prime p in the parameters, since y may be shorter.
fn key_facts(spki: &SubjectPublicKeyInfo<'_>) -> (String, Option<u32>) {
    let algorithm = &spki.algorithm.algorithm;
    if *algorithm == OID_PKCS1_RSAENCRYPTION || *algorithm == OID_PKCS1_RSASSAPSS {
        // x509-parser reads the key only under rsaEncryption; RSASSA-PSS keys are the same.
        let bits = RSAPublicKey::from_der(&spki.subject_public_key.data)
            .ok()
            .and_then(|(_, rsa)| bit_len(rsa.modulus));
        ("RSA".into(), bits)
    } else if *algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok())
            .map(|oid| oid.to_id_string());
        let bits = match curve.as_deref() {
            Some("1.2.840.10045.3.1.1") => Some(192),   // prime192v1
            Some("1.3.132.0.33") => Some(224),          // secp224r1
            Some("1.2.840.10045.3.1.7") => Some(256),   // prime256v1 (P-256)
            Some("1.3.132.0.10") => Some(256),          // secp256k1
            Some("1.3.36.3.3.2.8.1.1.7") => Some(256),  // brainpoolP256r1
            Some("1.3.132.0.34") => Some(384),          // secp384r1
            Some("1.3.36.3.3.2.8.1.1.11") => Some(384), // brainpoolP384r1
            Some("1.3.36.3.3.2.8.1.1.13") => Some(512), // brainpoolP512r1
            Some("1.3.132.0.35") => Some(521),          // secp521r1
            // Another curve: the point's length is the best estimate there is.
            _ => match spki.parsed() {
                Ok(PublicKey::EC(point)) => u32::try_from(point.key_size()).ok().filter(|&b| b > 0),
                _ => None,
            },
        };
        ("EC".into(), bits)
    } else if *algorithm == OID_KEY_TYPE_DSA {
        let from_p = spki.algorithm.parameters.as_ref().and_then(|params| {
            let (_, p) = parse_der_integer(params.data).ok()?;
            bit_len(p.as_slice().ok()?)
        });
        let from_y = || match spki.parsed() {
            Ok(PublicKey::DSA(y)) => bit_len(y),
            _ => None,
        };
        ("DSA".into(), from_p.or_else(from_y))
    } else if *algorithm == OID_SIG_ED25519 {
        ("Ed25519".into(), Some(256))
    } else if *algorithm == OID_SIG_ED448 {
        ("Ed448".into(), Some(456))
    } else {
        (algorithm.to_id_string(), None)
    }
}

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
    // A CA that re-issued its key under the same name signs with the old key: not self-signed.
    match (ski, aki) {
        (Some(s), Some(a)) => s == a,
        _ => true,
    }
}

impl CertificateInfo {
    /// Whether the certificate was valid at `unix_time` (the capture's time, never "now").
    /// Both bounds are inclusive (RFC 5280 4.1.2.5).
    pub fn valid_at(&self, unix_time: i64) -> bool {
        (self.not_before_unix..=self.not_after_unix).contains(&unix_time)
    }

    /// Whether `host` (an SNI name) is covered by the SAN dNSNames, with RFC 6125's left-most
    /// single-label wildcard, or by the CN when the certificate has no SAN dNSName at all.
    /// An IP address (which SNI should not carry, but clients send) matches SAN iPAddresses.
    pub fn matches_host(&self, host: &str) -> bool {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return self
                .san
                .iter()
                .any(|n| n.as_str().parse::<IpAddr>() == Ok(ip));
        }
        let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        if host.is_empty() {
            return false;
        }
        // iPAddress entries are kept as their text; a dNSName never parses as an address.
        let mut dns = self
            .san
            .iter()
            .filter(|n| n.as_str().parse::<IpAddr>().is_err())
            .peekable();
        if dns.peek().is_none() {
            return self
                .common_name
                .as_ref()
                .is_some_and(|cn| name_matches(cn.as_str(), &host));
        }
        dns.any(|pattern| name_matches(pattern.as_str(), &host))
    }
}

/// `host` is lowercase without a trailing dot.
fn name_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern
        .strip_suffix('.')
        .unwrap_or(pattern)
        .to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        // The wildcard stands for exactly one whole label, never for the whole name, and (as
        // browsers require) not directly under a top-level label: "*.test" matches nothing.
        Some(suffix) => {
            suffix.contains('.')
                && host
                    .split_once('.')
                    .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix)
        }
        None => pattern == host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Self-signed CA certificates made with `openssl req -x509 -days 30`: RSA 2048 with SANs
    // (DNS:server.test, DNS:*.example.test, IP:127.0.0.1), EC P-384 with a CN only, and
    // RSA 1024 signed with SHA-1 (`-sha1`).
    const RSA_SAN: &[u8] = include_bytes!("testdata/rsa2048-san.der");
    const EC_CN_ONLY: &[u8] = include_bytes!("testdata/ec384-cn-only.der");
    const WEAK: &[u8] = include_bytes!("testdata/rsa1024-sha1.der");
    // A P-256 leaf (CA:FALSE, serial 0xc3a5, SAN DNS:leaf.test and IP:::1) that a separate RSA
    // CA signed with RSASSA-PSS (`openssl x509 -req -sigopt rsa_padding_mode:pss`).
    const LEAF: &[u8] = include_bytes!("testdata/ec256-leaf-pss.der");
    // Self-signed: Ed25519 (CN=ed.test) and DSA 1024 with SHA-256 (CN=dsa.test).
    const ED25519: &[u8] = include_bytes!("testdata/ed25519.der");
    const DSA: &[u8] = include_bytes!("testdata/dsa1024.der");

    fn decode(der: &[u8]) -> CertificateInfo {
        decode_certificate(der).unwrap_or_else(|e| panic!("test certificate: {e}"))
    }

    #[test]
    fn rsa_with_san() {
        let c = decode(RSA_SAN);
        assert_eq!(c.subject, "O=tlsdiag test, CN=server.test");
        assert_eq!(c.issuer, c.subject);
        assert_eq!(
            c.common_name.as_ref().map(WireText::as_str),
            Some("server.test")
        );
        assert_eq!(c.san, ["server.test", "*.example.test", "127.0.0.1"]);
        assert_eq!(
            c.serial,
            "63:3e:3e:60:fa:d0:64:bd:18:22:62:14:7a:35:93:d6:ad:d1:2b:b6"
        );
        assert_eq!(c.not_before, "2026-11-25T05:05:04Z");
        assert_eq!(c.not_after, "2026-12-25T05:05:04Z");
        assert_eq!(c.not_after_unix - c.not_before_unix, 30 * 86400);
        assert_eq!((c.key_type.as_str(), c.key_bits), ("RSA", Some(2048)));
        assert_eq!(c.signature_algorithm, "sha256WithRSAEncryption");
        assert!(c.self_signed && c.is_ca);
        assert_eq!(c.der_len, RSA_SAN.len());
    }

    #[test]
    fn ec_leaf_signed_by_a_ca() {
        let c = decode(LEAF);
        assert_eq!(c.subject, "O=tlsdiag test, CN=leaf.test");
        assert_eq!(c.issuer, "CN=tlsdiag test CA");
        assert_eq!(
            c.common_name.as_ref().map(WireText::as_str),
            Some("leaf.test")
        );
        assert_eq!(c.san, ["leaf.test", "::1"]);
        assert_eq!(c.serial, "c3:a5");
        assert_eq!((c.key_type.as_str(), c.key_bits), ("EC", Some(256)));
        assert_eq!(c.signature_algorithm, "RSASSA-PSS");
        assert!(!c.self_signed && !c.is_ca);
        assert!(c.not_before.ends_with('Z') && c.not_before.len() == 20);
    }

    #[test]
    fn key_sizes_and_signature_algorithms() {
        let ec = decode(EC_CN_ONLY);
        assert_eq!((ec.key_type.as_str(), ec.key_bits), ("EC", Some(384)));
        assert_eq!(ec.signature_algorithm, "ecdsa-with-SHA256");
        assert_eq!(ec.subject, "CN=ec.test");
        let weak = decode(WEAK);
        assert_eq!((weak.key_type.as_str(), weak.key_bits), ("RSA", Some(1024)));
        assert_eq!(weak.signature_algorithm, "sha1WithRSAEncryption");
        let ed = decode(ED25519);
        assert_eq!((ed.key_type.as_str(), ed.key_bits), ("Ed25519", Some(256)));
        assert_eq!(ed.signature_algorithm, "ED25519");
        assert!(ed.self_signed);
        let dsa = decode(DSA);
        assert_eq!((dsa.key_type.as_str(), dsa.key_bits), ("DSA", Some(1024)));
        assert_eq!(dsa.signature_algorithm, "dsa_with_SHA256");
    }

    #[test]
    fn serial_drops_only_the_sign_byte() {
        assert_eq!(serial_hex(&[0x00, 0x80, 0x01]), "80:01");
        assert_eq!(serial_hex(&[0x00, 0x7f]), "00:7f");
        assert_eq!(serial_hex(&[0x0a, 0x1b]), "0a:1b");
        assert_eq!(serial_hex(&[0x00]), "00");
        assert_eq!(serial_hex(&[]), "");
    }

    #[test]
    fn validity_is_judged_at_a_given_time() {
        let c = decode(RSA_SAN);
        assert!(!c.valid_at(c.not_before_unix - 1));
        assert!(c.valid_at(c.not_before_unix));
        assert!(c.valid_at(c.not_before_unix + 86400));
        assert!(c.valid_at(c.not_after_unix));
        assert!(!c.valid_at(c.not_after_unix + 1));
        assert!(!c.valid_at(0));
    }

    #[test]
    fn host_matching() {
        let c = decode(RSA_SAN);
        assert!(c.matches_host("server.test"));
        assert!(c.matches_host("SERVER.test."));
        assert!(c.matches_host("a.example.test"));
        assert!(c.matches_host("A.Example.TEST"));
        assert!(!c.matches_host("b.a.example.test"));
        assert!(!c.matches_host("example.test"));
        assert!(!c.matches_host(".example.test"));
        assert!(!c.matches_host("other.test"));
        assert!(!c.matches_host(""));
        assert!(c.matches_host("127.0.0.1"));
        assert!(!c.matches_host("127.0.0.2"));
        // The CN counts only without any SAN dNSName.
        let ec = decode(EC_CN_ONLY);
        assert!(ec.san.is_empty());
        assert!(ec.matches_host("ec.test"));
        assert!(!ec.matches_host("x.ec.test"));
        let leaf = decode(LEAF);
        assert!(leaf.matches_host("leaf.test"));
        assert!(leaf.matches_host("::1"));
        assert!(leaf.matches_host("0:0:0:0:0:0:0:1"));
    }

    #[test]
    fn host_matching_rules() {
        let mut c = decode(RSA_SAN);
        c.san = vec![
            "*.test".into(),
            "f*.example.test".into(),
            "192.0.2.1".into(),
        ];
        c.common_name = Some("cn.test".into());
        // A wildcard right under a top-level label, or inside a label, matches nothing.
        assert!(!c.matches_host("a.test"));
        assert!(!c.matches_host("foo.example.test"));
        // With SAN dNSNames present the CN is ignored.
        assert!(!c.matches_host("cn.test"));
        // Only iPAddress entries: names fall back to the CN, addresses still match.
        c.san = vec!["192.0.2.1".into()];
        assert!(c.matches_host("cn.test"));
        assert!(c.matches_host("192.0.2.1"));
        c.common_name = Some("*.wild.example".into());
        assert!(c.matches_host("x.wild.example"));
        c.common_name = None;
        assert!(!c.matches_host("cn.test"));
    }

    #[test]
    fn garbage_and_every_truncation_are_errors() {
        assert!(decode_certificate(b"").is_err());
        assert!(decode_certificate(b"not a certificate at all").is_err());
        assert!(decode_certificate(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(decode_certificate(&[0x30, 0x03, 0x02, 0x01, 0x00]).is_err());
        for der in [RSA_SAN, EC_CN_ONLY, WEAK, LEAF, ED25519, DSA] {
            for len in 0..der.len() {
                let prefix = der.get(..len).unwrap_or_default();
                assert!(decode_certificate(prefix).is_err(), "prefix of {len} bytes");
            }
        }
    }

    #[test]
    fn corrupted_bytes_never_panic() {
        // Every single-byte change of a real certificate: decoding may succeed or fail, but
        // must return.
        for der in [LEAF, ED25519] {
            for i in 0..der.len() {
                for flip in [0x01u8, 0x80, 0xff] {
                    let mut bytes = der.to_vec();
                    if let Some(b) = bytes.get_mut(i) {
                        *b ^= flip;
                    }
                    let _ = decode_certificate(&bytes);
                }
            }
        }
    }

    /// JA4X as FoxIO's JA4X.md defines it; the fingerprints are those ja4plus 1.4.0 (Python,
    /// on `cryptography`) gives for the same files.
    #[test]
    fn ja4x_of_real_certificates() {
        let c = decode(RSA_SAN);
        assert_eq!(c.fingerprint.ja4x, "769119f9990f_769119f9990f_ecad00239dd7");
        // O and CN; subjectKeyIdentifier, authorityKeyIdentifier, basicConstraints, SAN.
        assert_eq!(
            c.fingerprint.ja4x_r,
            "55040a,550403_55040a,550403_551d0e,551d23,551d13,551d11"
        );
        let leaf = decode(LEAF);
        assert_eq!(
            leaf.fingerprint.ja4x,
            "7022c563de38_769119f9990f_4547ce6bed00"
        );
        let json = serde_json::to_value(&c).unwrap_or_default();
        assert_eq!(json["ja4x"], "769119f9990f_769119f9990f_ecad00239dd7");
        assert!(
            json["ja4x_r"]
                .as_str()
                .is_some_and(|r| r.starts_with("55040a,"))
        );
    }

    #[test]
    fn serializes_without_unix_times() {
        let json = serde_json::to_value(decode(LEAF)).unwrap_or_default();
        assert_eq!(json["serial"], "c3:a5");
        assert_eq!(json["san"][1], "::1");
        assert!(json.get("not_before").is_some() && json.get("not_before_unix").is_none());
    }

    #[test]
    fn the_cache_hands_back_the_same_decoding_for_the_same_bytes_only() {
        let a = decode_certificate_cached(RSA_SAN).expect("decodes");
        let b = decode_certificate_cached(RSA_SAN).expect("decodes");
        assert!(
            Arc::ptr_eq(&a, &b),
            "the second decoding came from the cache"
        );
        assert_eq!(*a, decode_certificate(RSA_SAN).expect("decodes"));
        let other = decode_certificate_cached(EC_CN_ONLY).expect("decodes");
        assert_ne!(a.subject, other.subject);
        // One byte changed is another certificate (here, one that no longer decodes).
        let mut changed = RSA_SAN.to_vec();
        changed[1] ^= 0xff;
        assert!(decode_certificate_cached(&changed).is_err());
    }

    #[test]
    fn error_display() {
        let e = CertificateError::Malformed("x".into());
        assert_eq!(e.to_string(), "malformed certificate: x");
        let _: &dyn std::error::Error = &e;
    }
}
