//! IANA names for TLS wire values: cipher suites, groups, signature schemes, extensions,
//! alerts, versions and handshake types.
//!
//! tls-parser's tables come first; its names are turned into IANA's spelling (snake_case),
//! and a short table of our own covers values it lacks or names differently (newer groups and
//! extensions). Unknown values are shown as their number, GREASE values (RFC 8701) as "GREASE".

use super::handshake::Sslv2Cipher;
use std::sync::OnceLock;
use tls_parser::{
    NamedGroup, SignatureScheme, TlsAlertDescription, TlsCipherAu, TlsCipherEnc, TlsCipherEncMode,
    TlsCipherKx, TlsCipherMac, TlsCipherSuite, TlsExtensionType,
};

/// Names are made once per value and kept for the run (at most 65,536 of a kind), so that a
/// busy capture does not format the same few dozen names for every handshake. Each kind has a
/// table of slots, one per value, filled on first use; threads share it.
macro_rules! interned_names {
    ($($(#[$doc:meta])* $name:ident($value:ident: $ty:ty) from $make:ident;)*) => {$(
        $(#[$doc])*
        pub fn $name($value: $ty) -> &'static str {
            static TABLE: [OnceLock<Box<str>>; 1 << <$ty>::BITS] =
                [const { OnceLock::new() }; 1 << <$ty>::BITS];
            // Every value of the type has its slot; the fallback only satisfies the type.
            TABLE
                .get(usize::from($value))
                .map_or("", |cell| cell.get_or_init(|| $make($value).into_boxed_str()))
        }
    )*};
}

interned_names! {
    cipher_suite_name(id: u16) from cipher_suite_name_uncached;
    group_name(id: u16) from group_name_uncached;
    signature_scheme_name(id: u16) from signature_scheme_name_uncached;
    extension_name(id: u16) from extension_name_uncached;
    version_name(version: u16) from version_name_uncached;
    alert_description_name(code: u8) from alert_description_name_uncached;
    alert_level_name(level: u8) from alert_level_name_uncached;
    handshake_type_name(t: u8) from handshake_type_name_uncached;
}

/// RFC 8701: 0x0a0a, 0x1a1a ... 0xfafa.
pub(crate) fn is_grease(value: u16) -> bool {
    value & 0x0f0f == 0x0a0a && value >> 8 == value & 0xff
}

fn number(value: u16) -> String {
    format!("0x{value:04x}")
}

/// "ServerName" -> "server_name": tls-parser's CamelCase names to IANA's snake_case.
fn snake_case(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    let mut prev_lower_or_digit = false;
    for ch in camel.chars() {
        if ch.is_ascii_uppercase() && prev_lower_or_digit {
            out.push('_');
        }
        prev_lower_or_digit = ch.is_ascii_lowercase() || ch.is_ascii_digit();
        out.push(ch.to_ascii_lowercase());
    }
    out
}

/// tls-parser's Display of an unknown newtype value looks like "Name(12 / 0xc)".
fn known(display: String) -> Option<String> {
    (!display.contains('(')).then_some(display)
}

fn cipher_suite_name_uncached(id: u16) -> String {
    if is_grease(id) {
        return "GREASE".into();
    }
    // The table also names the two signalling values (0x00ff, 0x5600) as IANA does.
    TlsCipherSuite::from_id(id).map_or_else(|| number(id), |c| c.name.to_string())
}

fn group_name_uncached(id: u16) -> String {
    if is_grease(id) {
        return "GREASE".into();
    }
    let name = match id {
        // IANA's names where tls-parser's differ or are missing.
        29 => "x25519",
        30 => "x448",
        31 => "brainpoolP256r1tls13",
        32 => "brainpoolP384r1tls13",
        33 => "brainpoolP512r1tls13",
        41 => "curveSM2",
        26 => "brainpoolP256r1",
        27 => "brainpoolP384r1",
        28 => "brainpoolP512r1",
        0x11eb => "SecP256r1MLKEM768",
        0x11ec => "X25519MLKEM768",
        0x11ed => "SecP384r1MLKEM1024",
        0x0200 => "MLKEM512",
        0x0201 => "MLKEM768",
        0x0202 => "MLKEM1024",
        0x6399 => "X25519Kyber768Draft00",
        0x639a => "SecP256r1Kyber768Draft00",
        _ => {
            return known(format!("{:?}", NamedGroup(id)))
                .map_or_else(|| number(id), |n| snake_case(&n));
        }
    };
    name.into()
}

fn signature_scheme_name_uncached(id: u16) -> String {
    if is_grease(id) {
        return "GREASE".into();
    }
    if let Some(name) = known(SignatureScheme(id).to_string()) {
        return name;
    }
    // Post-quantum schemes tls-parser lacks.
    match id {
        0x0904 => return "mldsa44".into(),
        0x0905 => return "mldsa65".into(),
        0x0906 => return "mldsa87".into(),
        _ => {}
    }
    // TLS 1.2's (hash, signature) pairs that are not TLS 1.3 schemes (RFC 5246 7.4.1.4.1).
    let hash = match id >> 8 {
        1 => "md5",
        2 => "sha1",
        3 => "sha224",
        4 => "sha256",
        5 => "sha384",
        6 => "sha512",
        _ => return number(id),
    };
    let sign = match id & 0xff {
        1 => "rsa",
        2 => "dsa",
        3 => "ecdsa",
        _ => return number(id),
    };
    format!("{sign}_{hash}")
}

fn extension_name_uncached(id: u16) -> String {
    if is_grease(id) {
        return "GREASE".into();
    }
    let name = match id {
        // tls-parser's names that differ from IANA's.
        17 => "status_request_v2",
        35 => "session_ticket",
        45 => "psk_key_exchange_modes",
        50 => "signature_algorithms_cert",
        // Values tls-parser lacks.
        26 => "tls_lts",
        27 => "compress_certificate",
        34 => "delegated_credential",
        52 => "transparency_info",
        53 => "connection_id_deprecated",
        54 => "connection_id",
        57 => "quic_transport_parameters",
        58 => "ticket_request",
        59 => "dnssec_chain",
        // ALPS: 17513 is the draft codepoint, 17613 the one Chrome moved to.
        17513 | 17613 => "application_settings",
        // Not IANA's: Google's Channel ID, still in older Chrome captures.
        30032 => "channel_id",
        0xfd00 => "ech_outer_extensions",
        0xfe0d => "encrypted_client_hello",
        _ => {
            return known(TlsExtensionType(id).to_string())
                .map_or_else(|| number(id), |n| snake_case(&n));
        }
    };
    name.into()
}

fn alert_description_name_uncached(code: u8) -> String {
    let name = match code {
        90 => "user_canceled",
        111 => "certificate_unobtainable",
        113 => "bad_certificate_status_response",
        114 => "bad_certificate_hash_value",
        115 => "unknown_psk_identity",
        121 => "ech_required",
        _ => {
            return known(TlsAlertDescription(code).to_string())
                .map_or_else(|| code.to_string(), |n| snake_case(&n));
        }
    };
    name.into()
}

fn alert_level_name_uncached(level: u8) -> String {
    match level {
        1 => "warning".into(),
        2 => "fatal".into(),
        other => other.to_string(),
    }
}

fn version_name_uncached(version: u16) -> String {
    if is_grease(version) {
        return "GREASE".into();
    }
    match version {
        0x0002 => "SSLv2".into(),
        0x0300 => "SSLv3".into(),
        0x0301 => "TLSv1.0".into(),
        0x0302 => "TLSv1.1".into(),
        0x0303 => "TLSv1.2".into(),
        0x0304 => "TLSv1.3".into(),
        0x7f00..=0x7fff => format!("TLSv1.3-draft{}", version & 0xff),
        // tshark: "TLS 1.3 (Facebook draft 23)"; it leaves Google's experiments unnamed.
        0xfb17 => "TLSv1.3-facebook-draft23".into(),
        0xfb1a => "TLSv1.3-facebook-draft26".into(),
        0x7e01..=0x7e03 => format!("TLSv1.3-google-experiment{}", version & 0xff),
        0xfeff => "DTLSv1.0".into(),
        0xfefd => "DTLSv1.2".into(),
        0xfefc => "DTLSv1.3".into(),
        other => number(other),
    }
}

/// SSLv2 cipher kinds as tshark names them (`tls.handshake.cipherspec`). SSLv2 peers sent
/// no others; an unknown kind is named for what it is rather than by a number, since a 24-bit
/// value has no interned slot.
pub(crate) fn sslv2_cipher_name(cipher: Sslv2Cipher) -> &'static str {
    match cipher {
        Sslv2Cipher::RC4_128_WITH_MD5 => "SSL2_RC4_128_WITH_MD5",
        Sslv2Cipher::RC4_128_EXPORT40_WITH_MD5 => "SSL2_RC4_128_EXPORT40_WITH_MD5",
        Sslv2Cipher::RC2_128_CBC_WITH_MD5 => "SSL2_RC2_128_CBC_WITH_MD5",
        Sslv2Cipher::RC2_128_CBC_EXPORT40_WITH_MD5 => "SSL2_RC2_128_CBC_EXPORT40_WITH_MD5",
        Sslv2Cipher::IDEA_128_CBC_WITH_MD5 => "SSL2_IDEA_128_CBC_WITH_MD5",
        Sslv2Cipher::DES_64_CBC_WITH_MD5 => "SSL2_DES_64_CBC_WITH_MD5",
        Sslv2Cipher::DES_192_EDE3_CBC_WITH_MD5 => "SSL2_DES_192_EDE3_CBC_WITH_MD5",
        Sslv2Cipher::RC4_64_WITH_MD5 => "SSL2_RC4_64_WITH_MD5",
        _ => "SSL2_UNKNOWN_CIPHER",
    }
}

/// Why an SSLv2 cipher is weak, in `CipherFacts::weak`'s words: every one is, if only for
/// its MD5 MAC.
pub(crate) fn sslv2_cipher_weakness(cipher: Sslv2Cipher) -> &'static str {
    match cipher {
        Sslv2Cipher::RC4_128_EXPORT40_WITH_MD5 | Sslv2Cipher::RC2_128_CBC_EXPORT40_WITH_MD5 => {
            "EXPORT"
        }
        Sslv2Cipher::RC4_128_WITH_MD5 | Sslv2Cipher::RC4_64_WITH_MD5 => "RC4",
        Sslv2Cipher::DES_192_EDE3_CBC_WITH_MD5 => "3DES",
        Sslv2Cipher::DES_64_CBC_WITH_MD5 => "DES",
        _ => "MD5 MAC",
    }
}

/// SSLv2 ERROR codes (the SSL 2.0 specification, "Error Messages").
pub(crate) fn sslv2_error_name(code: Option<u16>) -> &'static str {
    match code {
        Some(1) => "NO-CIPHER-ERROR",
        Some(2) => "NO-CERTIFICATE-ERROR",
        Some(4) => "BAD-CERTIFICATE-ERROR",
        Some(6) => "UNSUPPORTED-CERTIFICATE-TYPE-ERROR",
        _ => "unknown SSLv2 error",
    }
}

fn handshake_type_name_uncached(t: u8) -> String {
    let name = match t {
        0 => "hello_request",
        1 => "client_hello",
        2 => "server_hello",
        3 => "hello_verify_request",
        4 => "new_session_ticket",
        5 => "end_of_early_data",
        6 => "hello_retry_request",
        8 => "encrypted_extensions",
        11 => "certificate",
        12 => "server_key_exchange",
        13 => "certificate_request",
        14 => "server_hello_done",
        15 => "certificate_verify",
        16 => "client_key_exchange",
        20 => "finished",
        21 => "certificate_url",
        22 => "certificate_status",
        23 => "supplemental_data",
        24 => "key_update",
        25 => "compressed_certificate",
        254 => "message_hash",
        other => return other.to_string(),
    };
    name.into()
}

/// What diagnosis needs to know about a negotiated suite, from tls-parser's table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CipherFacts {
    /// ECDHE or DHE key exchange, or any TLS 1.3 suite.
    pub(crate) forward_secret: bool,
    /// Why the suite is weak, where it is: "NULL", "EXPORT", "RC4", "3DES", "DES",
    /// "anonymous" or "MD5 MAC" (the first that applies, in that order).
    pub(crate) weak: Option<&'static str>,
    /// The record tag length in bytes; None for MAC-then-encrypt suites.
    pub(crate) aead_tag_len: Option<u8>,
    pub(crate) tls13: bool,
}

/// Facts about a suite; None for unknown ids and for the signalling values (0x00ff, 0x5600),
/// which the table lists but which are no suites: counting them would skew an offer's profile.
/// Made once per id and kept, like the names: every ClientHello's offer is looked at.
pub(crate) fn cipher_facts(id: u16) -> Option<CipherFacts> {
    static TABLE: [OnceLock<Option<CipherFacts>>; 1 << u16::BITS] =
        [const { OnceLock::new() }; 1 << u16::BITS];
    TABLE
        .get(usize::from(id))
        .and_then(|cell| *cell.get_or_init(|| cipher_facts_uncached(id)))
}

fn cipher_facts_uncached(id: u16) -> Option<CipherFacts> {
    if matches!(id, 0x00ff | 0x5600) {
        return None;
    }
    let suite = TlsCipherSuite::from_id(id)?;
    let tls13 = suite.kx == TlsCipherKx::Tls13;
    // PSK and SRP authenticate without a certificate; only the *_anon suites do not at all.
    let anonymous = suite.au == TlsCipherAu::Null && suite.kx != TlsCipherKx::Psk && !tls13;
    let weak = if suite.enc == TlsCipherEnc::Null {
        Some("NULL")
    } else if suite.name.contains("EXPORT") {
        Some("EXPORT")
    } else if suite.enc == TlsCipherEnc::Rc4 {
        Some("RC4")
    } else if suite.enc == TlsCipherEnc::TripleDes {
        Some("3DES")
    } else if suite.enc == TlsCipherEnc::Des {
        Some("DES")
    } else if anonymous {
        Some("anonymous")
    } else if suite.mac == TlsCipherMac::HmacMd5 {
        Some("MD5 MAC")
    } else {
        None
    };
    let aead_tag_len = if suite.name.contains("CCM_8") {
        Some(8)
    } else if matches!(
        suite.enc_mode,
        TlsCipherEncMode::Gcm | TlsCipherEncMode::Ccm
    ) || matches!(
        suite.enc,
        TlsCipherEnc::Chacha20_Poly1305 | TlsCipherEnc::Aegis
    ) {
        // The table lists AEGIS with an HMAC and no mode; its TLS tag is 128 bits.
        Some(16)
    } else if tls13 && suite.enc == TlsCipherEnc::Null {
        // RFC 9150's integrity-only suites protect TLS 1.3 records with a full HMAC as the tag.
        u8::try_from(suite.mac_length()).ok()
    } else {
        None
    };
    // The table swaps kx and au for the TLS_PSK_DHE_* suites (RFC 6655), which are DHE.
    let ephemeral = matches!(suite.kx, TlsCipherKx::Ecdhe | TlsCipherKx::Dhe)
        || (suite.kx == TlsCipherKx::Psk && suite.au == TlsCipherAu::Dhe);
    Some(CipherFacts {
        forward_secret: tls13 || ephemeral,
        weak,
        aead_tag_len,
        tls13,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grease() {
        for hi in 0..16u16 {
            assert!(is_grease(hi << 12 | 0x0a00 | hi << 4 | 0x0a));
        }
        assert!(!is_grease(0x0a1a));
        assert!(!is_grease(0x0b0b));
        assert!(!is_grease(0x1301));
    }

    #[test]
    fn cipher_suites() {
        assert_eq!(cipher_suite_name(0x1301), "TLS_AES_128_GCM_SHA256");
        assert_eq!(cipher_suite_name(0x1302), "TLS_AES_256_GCM_SHA384");
        assert_eq!(cipher_suite_name(0x1303), "TLS_CHACHA20_POLY1305_SHA256");
        assert_eq!(
            cipher_suite_name(0xc02f),
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
        );
        assert_eq!(
            cipher_suite_name(0xc02c),
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"
        );
        assert_eq!(
            cipher_suite_name(0xcca8),
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"
        );
        assert_eq!(cipher_suite_name(0x002f), "TLS_RSA_WITH_AES_128_CBC_SHA");
        assert_eq!(cipher_suite_name(0x000a), "TLS_RSA_WITH_3DES_EDE_CBC_SHA");
        assert_eq!(cipher_suite_name(0xc011), "TLS_ECDHE_RSA_WITH_RC4_128_SHA");
        assert_eq!(
            cipher_suite_name(0x00ff),
            "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"
        );
        assert_eq!(cipher_suite_name(0x5600), "TLS_FALLBACK_SCSV");
        assert_eq!(cipher_suite_name(0x0a0a), "GREASE");
        assert_eq!(cipher_suite_name(0xfafa), "GREASE");
        assert_eq!(cipher_suite_name(0x1234), "0x1234");
        assert_eq!(cipher_suite_name(0x00fe), "0x00fe");
    }

    #[test]
    fn groups() {
        assert_eq!(group_name(29), "x25519");
        assert_eq!(group_name(30), "x448");
        assert_eq!(group_name(23), "secp256r1");
        assert_eq!(group_name(24), "secp384r1");
        assert_eq!(group_name(25), "secp521r1");
        assert_eq!(group_name(26), "brainpoolP256r1");
        assert_eq!(group_name(41), "curveSM2");
        assert_eq!(group_name(0x0100), "ffdhe2048");
        assert_eq!(group_name(0x0104), "ffdhe8192");
        assert_eq!(group_name(0x11eb), "SecP256r1MLKEM768");
        assert_eq!(group_name(0x11ec), "X25519MLKEM768");
        assert_eq!(group_name(0x11ed), "SecP384r1MLKEM1024");
        assert_eq!(group_name(0x6399), "X25519Kyber768Draft00");
        assert_eq!(group_name(0xdada), "GREASE");
        assert_eq!(group_name(0x4444), "0x4444");
    }

    #[test]
    fn signature_schemes() {
        assert_eq!(signature_scheme_name(0x0403), "ecdsa_secp256r1_sha256");
        assert_eq!(signature_scheme_name(0x0503), "ecdsa_secp384r1_sha384");
        assert_eq!(signature_scheme_name(0x0804), "rsa_pss_rsae_sha256");
        assert_eq!(signature_scheme_name(0x0809), "rsa_pss_pss_sha256");
        assert_eq!(signature_scheme_name(0x0401), "rsa_pkcs1_sha256");
        assert_eq!(signature_scheme_name(0x0201), "rsa_pkcs1_sha1");
        assert_eq!(signature_scheme_name(0x0203), "ecdsa_sha1");
        assert_eq!(signature_scheme_name(0x0807), "ed25519");
        assert_eq!(signature_scheme_name(0x0808), "ed448");
        assert_eq!(signature_scheme_name(0x0905), "mldsa65");
        // TLS 1.2 hash/signature pairs that are no TLS 1.3 scheme.
        assert_eq!(signature_scheme_name(0x0202), "dsa_sha1");
        assert_eq!(signature_scheme_name(0x0301), "rsa_sha224");
        assert_eq!(signature_scheme_name(0x0303), "ecdsa_sha224");
        assert_eq!(signature_scheme_name(0x0101), "rsa_md5");
        assert_eq!(signature_scheme_name(0x0a0a), "GREASE");
        assert_eq!(signature_scheme_name(0x0709), "0x0709");
        assert_eq!(signature_scheme_name(0x1234), "0x1234");
    }

    #[test]
    fn extensions() {
        let cases = [
            (0, "server_name"),
            (5, "status_request"),
            (10, "supported_groups"),
            (11, "ec_point_formats"),
            (13, "signature_algorithms"),
            (15, "heartbeat"),
            (16, "application_layer_protocol_negotiation"),
            (18, "signed_certificate_timestamp"),
            (21, "padding"),
            (22, "encrypt_then_mac"),
            (23, "extended_master_secret"),
            (27, "compress_certificate"),
            (28, "record_size_limit"),
            (34, "delegated_credential"),
            (35, "session_ticket"),
            (41, "pre_shared_key"),
            (42, "early_data"),
            (43, "supported_versions"),
            (44, "cookie"),
            (45, "psk_key_exchange_modes"),
            (47, "certificate_authorities"),
            (49, "post_handshake_auth"),
            (50, "signature_algorithms_cert"),
            (51, "key_share"),
            (57, "quic_transport_parameters"),
            (13172, "next_protocol_negotiation"),
            (17513, "application_settings"),
            (17613, "application_settings"),
            (0xfe0d, "encrypted_client_hello"),
            (0xff01, "renegotiation_info"),
            (0x2a2a, "GREASE"),
            (0x7777, "0x7777"),
        ];
        for (id, name) in cases {
            assert_eq!(extension_name(id), name, "extension {id}");
        }
    }

    #[test]
    fn alerts() {
        let cases = [
            (0, "close_notify"),
            (10, "unexpected_message"),
            (20, "bad_record_mac"),
            (40, "handshake_failure"),
            (42, "bad_certificate"),
            (43, "unsupported_certificate"),
            (44, "certificate_revoked"),
            (45, "certificate_expired"),
            (46, "certificate_unknown"),
            (47, "illegal_parameter"),
            (48, "unknown_ca"),
            (49, "access_denied"),
            (50, "decode_error"),
            (51, "decrypt_error"),
            (70, "protocol_version"),
            (71, "insufficient_security"),
            (80, "internal_error"),
            (86, "inappropriate_fallback"),
            (90, "user_canceled"),
            (100, "no_renegotiation"),
            (109, "missing_extension"),
            (110, "unsupported_extension"),
            (112, "unrecognized_name"),
            (113, "bad_certificate_status_response"),
            (115, "unknown_psk_identity"),
            (116, "certificate_required"),
            (120, "no_application_protocol"),
            (121, "ech_required"),
            (200, "200"),
            (255, "255"),
        ];
        for (code, name) in cases {
            assert_eq!(alert_description_name(code), name, "alert {code}");
        }
        assert_eq!(alert_level_name(1), "warning");
        assert_eq!(alert_level_name(2), "fatal");
        assert_eq!(alert_level_name(7), "7");
    }

    #[test]
    fn versions_and_handshake_types() {
        assert_eq!(version_name(0x0002), "SSLv2");
        assert_eq!(version_name(0x7f15), "TLSv1.3-draft21");
        assert_eq!(version_name(0xfb1a), "TLSv1.3-facebook-draft26");
        assert_eq!(version_name(0x7e02), "TLSv1.3-google-experiment2");
        // tshark's names (`tshark -G values`, tls.handshake.cipherspec).
        assert_eq!(
            sslv2_cipher_name(Sslv2Cipher(0x0700c0)),
            "SSL2_DES_192_EDE3_CBC_WITH_MD5"
        );
        assert_eq!(
            sslv2_cipher_name(Sslv2Cipher(0x010080)),
            "SSL2_RC4_128_WITH_MD5"
        );
        assert_eq!(version_name(0x0300), "SSLv3");
        assert_eq!(version_name(0x0301), "TLSv1.0");
        assert_eq!(version_name(0x0302), "TLSv1.1");
        assert_eq!(version_name(0x0303), "TLSv1.2");
        assert_eq!(version_name(0x0304), "TLSv1.3");
        assert_eq!(version_name(0x7f12), "TLSv1.3-draft18");
        assert_eq!(version_name(0x7f1c), "TLSv1.3-draft28");
        assert_eq!(version_name(0x3a3a), "GREASE");
        assert_eq!(version_name(0x0305), "0x0305");
        assert_eq!(handshake_type_name(0), "hello_request");
        assert_eq!(handshake_type_name(1), "client_hello");
        assert_eq!(handshake_type_name(2), "server_hello");
        assert_eq!(handshake_type_name(4), "new_session_ticket");
        assert_eq!(handshake_type_name(8), "encrypted_extensions");
        assert_eq!(handshake_type_name(11), "certificate");
        assert_eq!(handshake_type_name(14), "server_hello_done");
        assert_eq!(handshake_type_name(20), "finished");
        assert_eq!(handshake_type_name(22), "certificate_status");
        assert_eq!(handshake_type_name(24), "key_update");
        assert_eq!(handshake_type_name(254), "message_hash");
        assert_eq!(handshake_type_name(99), "99");
    }

    fn facts(id: u16) -> CipherFacts {
        cipher_facts(id).unwrap_or_else(|| panic!("0x{id:04x} is in tls-parser's table"))
    }

    #[test]
    fn cipher_facts_tls13() {
        for id in 0x1301..=0x1305 {
            let f = facts(id);
            assert!(
                f.tls13 && f.forward_secret && f.weak.is_none(),
                "0x{id:04x}"
            );
        }
        assert_eq!(facts(0x1301).aead_tag_len, Some(16));
        assert_eq!(facts(0x1303).aead_tag_len, Some(16));
        assert_eq!(facts(0x1304).aead_tag_len, Some(16));
        assert_eq!(facts(0x1305).aead_tag_len, Some(8));
        // RFC 9150 integrity-only: no encryption, an HMAC-SHA256 tag.
        let integrity_only = facts(0xc0b4);
        assert_eq!(integrity_only.weak, Some("NULL"));
        assert_eq!(integrity_only.aead_tag_len, Some(32));
    }

    #[test]
    fn cipher_facts_tls12() {
        let ecdhe_gcm = facts(0xc02f);
        assert!(ecdhe_gcm.forward_secret && !ecdhe_gcm.tls13 && ecdhe_gcm.weak.is_none());
        assert_eq!(ecdhe_gcm.aead_tag_len, Some(16));
        assert_eq!(facts(0xcca9).aead_tag_len, Some(16));
        assert!(facts(0x009e).forward_secret); // DHE_RSA_WITH_AES_128_GCM
        let rsa_cbc = facts(0x002f);
        assert!(!rsa_cbc.forward_secret && rsa_cbc.weak.is_none());
        assert_eq!(rsa_cbc.aead_tag_len, None);
        assert!(!facts(0x009c).forward_secret); // RSA_WITH_AES_128_GCM
        assert!(facts(0xc0aa).forward_secret); // PSK_DHE_WITH_AES_128_CCM_8
        assert_eq!(facts(0xc0ae).aead_tag_len, Some(8)); // ECDHE_ECDSA_WITH_AES_128_CCM_8
        assert_eq!(facts(0xc0ac).aead_tag_len, Some(16)); // ECDHE_ECDSA_WITH_AES_128_CCM
    }

    #[test]
    fn cipher_facts_weaknesses() {
        assert_eq!(facts(0xc011).weak, Some("RC4"));
        assert_eq!(facts(0x0005).weak, Some("RC4"));
        assert_eq!(facts(0x000a).weak, Some("3DES"));
        assert_eq!(facts(0xc012).weak, Some("3DES"));
        assert_eq!(facts(0x0009).weak, Some("DES"));
        assert_eq!(facts(0x0002).weak, Some("NULL"));
        assert_eq!(facts(0x0000).weak, Some("NULL"));
        assert_eq!(facts(0x0003).weak, Some("EXPORT"));
        assert_eq!(facts(0x0034).weak, Some("anonymous"));
        assert_eq!(facts(0xc018).weak, Some("anonymous"));
        assert_eq!(facts(0x0025).weak, Some("MD5 MAC")); // KRB5_WITH_IDEA_CBC_MD5
        assert_eq!(facts(0x008c).weak, None); // PSK_WITH_AES_128_CBC_SHA
    }

    #[test]
    fn cipher_facts_unknown_and_signalling() {
        assert_eq!(cipher_facts(0x1234), None);
        assert_eq!(cipher_facts(0x0a0a), None);
        assert_eq!(cipher_facts(0x00ff), None);
        assert_eq!(cipher_facts(0x5600), None);
    }
}
