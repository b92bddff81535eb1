//! IANA names for TLS wire values: cipher suites, groups, signature schemes, extensions,
//! alerts, versions and handshake types.
//!
//! tls-parser's tables come first; its names are turned into IANA's spelling (snake_case),
//! and a short table of our own covers values it lacks or names differently (newer groups and
//! extensions). Unknown values are shown as their number, GREASE values (RFC 8701) as "GREASE".

use tls_parser::{
    NamedGroup, SignatureScheme, TlsAlertDescription, TlsCipherAu, TlsCipherEnc, TlsCipherEncMode,
    TlsCipherKx, TlsCipherMac, TlsCipherSuite, TlsExtensionType,
};

/// RFC 8701: 0x0a0a, 0x1a1a ... 0xfafa.
pub fn is_grease(value: u16) -> bool {
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

pub fn cipher_suite_name(id: u16) -> String {
    if is_grease(id) {
        return "GREASE".into();
    }
    match id {
        // Signalling values that are not suites, named as IANA lists them.
        0x00ff => "TLS_EMPTY_RENEGOTIATION_INFO_SCSV".into(),
        0x5600 => "TLS_FALLBACK_SCSV".into(),
        _ => TlsCipherSuite::from_id(id).map_or_else(|| number(id), |c| c.name.to_string()),
    }
}

pub fn group_name(id: u16) -> String {
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

pub fn signature_scheme_name(id: u16) -> String {
    if is_grease(id) {
        return "GREASE".into();
    }
    if let Some(name) = known(SignatureScheme(id).to_string()) {
        return name;
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

pub fn extension_name(id: u16) -> String {
    if is_grease(id) {
        return "GREASE".into();
    }
    let name = match id {
        15 => "heartbeat",
        17 => "status_request_v2",
        27 => "compress_certificate",
        34 => "delegated_credential",
        35 => "session_ticket",
        57 => "quic_transport_parameters",
        13172 => "next_protocol_negotiation",
        17513 | 17613 => "application_settings",
        0xfe0d => "encrypted_client_hello",
        0xffce => "encrypted_server_name",
        _ => {
            return known(TlsExtensionType(id).to_string())
                .map_or_else(|| number(id), |n| snake_case(&n));
        }
    };
    name.into()
}

pub fn alert_description_name(code: u8) -> String {
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

pub fn alert_level_name(level: u8) -> String {
    match level {
        1 => "warning".into(),
        2 => "fatal".into(),
        other => other.to_string(),
    }
}

pub fn version_name(version: u16) -> String {
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
        other => number(other),
    }
}

pub fn handshake_type_name(t: u8) -> String {
    let name = match t {
        0 => "hello_request",
        1 => "client_hello",
        2 => "server_hello",
        3 => "hello_verify_request",
        4 => "new_session_ticket",
        5 => "end_of_early_data",
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
        24 => "key_update",
        25 => "compressed_certificate",
        254 => "message_hash",
        other => return other.to_string(),
    };
    name.into()
}

/// What diagnosis needs to know about a negotiated suite, from tls-parser's table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CipherFacts {
    /// ECDHE or DHE key exchange, or any TLS 1.3 suite.
    pub forward_secret: bool,
    /// Why the suite is weak, where it is.
    pub weak: Option<&'static str>,
    /// The AEAD tag length; None for MAC-then-encrypt suites.
    pub aead_tag_len: Option<u8>,
    pub tls13: bool,
}

pub fn cipher_facts(id: u16) -> Option<CipherFacts> {
    let suite = TlsCipherSuite::from_id(id)?;
    let tls13 = suite.kx == TlsCipherKx::Tls13;
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
    let aead = suite.mac == TlsCipherMac::Aead
        || matches!(
            suite.enc_mode,
            TlsCipherEncMode::Gcm | TlsCipherEncMode::Ccm
        )
        || suite.enc == TlsCipherEnc::Chacha20_Poly1305;
    let aead_tag_len = aead.then(|| {
        if suite.name.ends_with("CCM_8") || suite.name.contains("CCM_8_") {
            8
        } else {
            16
        }
    });
    Some(CipherFacts {
        forward_secret: tls13 || matches!(suite.kx, TlsCipherKx::Ecdhe | TlsCipherKx::Dhe),
        weak,
        aead_tag_len,
        tls13,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cipher_suites() {
        assert_eq!(cipher_suite_name(0x1301), "TLS_AES_128_GCM_SHA256");
        assert_eq!(
            cipher_suite_name(0xc02f),
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
        );
        assert_eq!(cipher_suite_name(0x002f), "TLS_RSA_WITH_AES_128_CBC_SHA");
        assert_eq!(
            cipher_suite_name(0x00ff),
            "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"
        );
        assert_eq!(cipher_suite_name(0x0a0a), "GREASE");
        assert_eq!(cipher_suite_name(0x1234), "0x1234");
    }

    #[test]
    fn groups_schemes_extensions() {
        assert_eq!(group_name(29), "x25519");
        assert_eq!(group_name(23), "secp256r1");
        assert_eq!(group_name(0x0100), "ffdhe2048");
        assert_eq!(group_name(0x11ec), "X25519MLKEM768");
        assert_eq!(group_name(0xdada), "GREASE");
        assert_eq!(group_name(0x4444), "0x4444");
        assert_eq!(signature_scheme_name(0x0403), "ecdsa_secp256r1_sha256");
        assert_eq!(signature_scheme_name(0x0804), "rsa_pss_rsae_sha256");
        assert_eq!(signature_scheme_name(0x0303), "ecdsa_sha224");
        assert_eq!(signature_scheme_name(0x0101), "rsa_md5");
        assert_eq!(extension_name(0), "server_name");
        assert_eq!(extension_name(16), "application_layer_protocol_negotiation");
        assert_eq!(extension_name(35), "session_ticket");
        assert_eq!(extension_name(43), "supported_versions");
        assert_eq!(extension_name(0xff01), "renegotiation_info");
        assert_eq!(extension_name(0xfe0d), "encrypted_client_hello");
        assert_eq!(extension_name(0x2a2a), "GREASE");
        assert_eq!(extension_name(0x7777), "0x7777");
    }

    #[test]
    fn alerts_versions_handshakes() {
        assert_eq!(alert_description_name(40), "handshake_failure");
        assert_eq!(alert_description_name(48), "unknown_ca");
        assert_eq!(alert_description_name(70), "protocol_version");
        assert_eq!(alert_description_name(90), "user_canceled");
        assert_eq!(alert_description_name(112), "unrecognized_name");
        assert_eq!(alert_description_name(120), "no_application_protocol");
        assert_eq!(alert_description_name(200), "200");
        assert_eq!(alert_level_name(2), "fatal");
        assert_eq!(version_name(0x0303), "TLSv1.2");
        assert_eq!(version_name(0x7f12), "TLSv1.3-draft18");
        assert_eq!(version_name(0x3a3a), "GREASE");
        assert_eq!(handshake_type_name(14), "server_hello_done");
    }

    #[test]
    fn cipher_facts_from_the_table() {
        let tls13 = cipher_facts(0x1301).expect("known");
        assert!(tls13.tls13 && tls13.forward_secret && tls13.weak.is_none());
        assert_eq!(tls13.aead_tag_len, Some(16));
        assert_eq!(cipher_facts(0x1305).and_then(|f| f.aead_tag_len), Some(8));
        let rsa_cbc = cipher_facts(0x002f).expect("known");
        assert!(!rsa_cbc.forward_secret && rsa_cbc.aead_tag_len.is_none());
        assert_eq!(cipher_facts(0xc011).and_then(|f| f.weak), Some("RC4"));
        assert_eq!(cipher_facts(0x000a).and_then(|f| f.weak), Some("3DES"));
        assert_eq!(cipher_facts(0x0002).and_then(|f| f.weak), Some("NULL"));
        assert_eq!(cipher_facts(0x0034).and_then(|f| f.weak), Some("anonymous"));
        assert!(cipher_facts(0xc02f).is_some_and(|f| f.forward_secret && f.weak.is_none()));
        assert_eq!(cipher_facts(0x1234), None);
    }
}
