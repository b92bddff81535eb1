//! Fingerprints on the specification's own examples and on values from real hellos.

use super::*;

/// The example of FoxIO's JA4.md: its ClientHello's values, and the fingerprint, raw
/// fingerprint and intermediate strings the specification gives for them.
fn spec_client() -> ClientValues<'static> {
    ClientValues {
        legacy_version: 0x0303,
        supported_versions: &[0x0a0a, 0x0304, 0x0303],
        cipher_suites: &[
            0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014,
            0x009c, 0x009d, 0x002f, 0x0035,
        ],
        extensions: &[
            0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012,
            0x002b, 0xff01, 0x000b, 0x000a, 0x0015,
        ],
        groups: &[0x001d, 0x0017, 0x0018],
        ec_point_formats: &[0],
        signature_algorithms: &[
            0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
        ],
        first_alpn: Some(b"h2"),
    }
}

#[test]
fn the_ja4_specification_example() {
    let prints = client(&spec_client());
    assert_eq!(prints.ja4, "t13d1516h2_8daaf6152771_e5627efa2ab1");
    assert_eq!(
        prints.ja4_r,
        "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,\
         cca8,cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_\
         0403,0804,0401,0503,0805,0501,0806,0601"
    );
    // Without signature algorithms the extension list is hashed alone, no underscore.
    let bare = ClientValues {
        signature_algorithms: &[],
        ..spec_client()
    };
    assert!(client(&bare).ja4.ends_with("_6d807ffa2a79"));
}

/// GREASE (RFC 8701) anywhere changes nothing: not the counts, the lists or the version.
#[test]
fn grease_is_left_out() {
    let ciphers = [0x1a1a, 0x1301, 0x1302, 0x1303];
    let extensions = [0x2a2a, 0x0000, 0x002b, 0x000d, 0x0a0a];
    let greased = ClientValues {
        legacy_version: 0x0303,
        supported_versions: &[0xfafa, 0x0304, 0x0303],
        cipher_suites: &ciphers,
        extensions: &extensions,
        groups: &[0x3a3a, 0x001d],
        signature_algorithms: &[0x4a4a, 0x0403],
        ..Default::default()
    };
    let plain = ClientValues {
        supported_versions: &[0x0304, 0x0303],
        cipher_suites: &ciphers[1..],
        extensions: &extensions[1..4],
        groups: &[0x001d],
        signature_algorithms: &[0x0403],
        ..greased
    };
    assert_eq!(client(&greased), client(&plain));
    assert!(client(&plain).ja4.starts_with("t13d030300_"));
    assert_eq!(client(&plain).ja3_full, "771,4865-4866-4867,0-43-13,29,");
}

/// JA3 as Wireshark writes it, checked against tshark 4.0 on bundled captures.
#[test]
fn ja3_as_wireshark_writes_it() {
    // hello-retry-failed.pcap, frame 4 (openssl s_client).
    let v = ClientValues {
        legacy_version: 0x0303,
        cipher_suites: &[0x1302, 0x1303, 0x1301, 0x00ff],
        extensions: &[0, 11, 10, 35, 22, 23, 13, 43, 45, 51],
        groups: &[29, 23, 30, 25, 24, 256, 257, 258, 259, 260],
        ec_point_formats: &[0, 1, 2],
        ..Default::default()
    };
    let prints = client(&v);
    assert_eq!(
        prints.ja3_full,
        "771,4866-4867-4865-255,0-11-10-35-22-23-13-43-45-51,\
         29-23-30-25-24-256-257-258-259-260,0-1-2"
    );
    assert_eq!(prints.ja3, "f146948b4a599d4d7ddf071b74696983");
    // Nothing but cipher suites: the empty lists keep their commas.
    let bare = ClientValues {
        legacy_version: 0x0301,
        cipher_suites: &[0x002f, 0x0035, 0x0005],
        ..Default::default()
    };
    assert_eq!(client(&bare).ja3_full, "769,47-53-5,,,");
}

/// The example of FoxIO's JA4S.md, and a TLS 1.3 ServerHello with ALPN.
#[test]
fn ja4s_and_ja3s() {
    let spec = ServerValues {
        legacy_version: 0x0303,
        version: 0x0303,
        cipher: 0xc030,
        extensions: &[0x0005, 0x0017, 0xff01, 0x0000],
        alpn: None,
    };
    let prints = server(&spec);
    assert_eq!(prints.ja4s, "t120400_c030_4e8089b08790");
    assert_eq!(prints.ja4s_r, "t120400_c030_0005,0017,ff01,0000");
    assert_eq!(prints.ja3s_full, "771,49200,5-23-65281-0");

    // tls13-draft18.pcap, frame 6: JA3S keeps the legacy field, a draft is "00" to JA4S.
    let draft = ServerValues {
        legacy_version: 0x7f12,
        version: 0x7f12,
        cipher: 0x1302,
        extensions: &[51],
        alpn: None,
    };
    assert_eq!(server(&draft).ja3s_full, "32530,4866,51");
    assert!(server(&draft).ja4s.starts_with("t000100_1302_"));

    let tls13 = ServerValues {
        legacy_version: 0x0303,
        version: 0x0304,
        cipher: 0x1301,
        extensions: &[],
        alpn: Some(b"h2"),
    };
    assert_eq!(server(&tls13).ja4s, "t1300h2_1301_000000000000");
}

/// The example of FoxIO's JA4X.md: issuer and subject CN, C, ST, O; extensions
/// keyUsage, extKeyUsage, subjectAltName.
#[test]
fn the_ja4x_specification_example() {
    let names: [&[u8]; 4] = [&[0x55, 4, 3], &[0x55, 4, 6], &[0x55, 4, 8], &[0x55, 4, 10]];
    let extensions: [&[u8]; 3] = [
        &[0x55, 0x1d, 0x0f],
        &[0x55, 0x1d, 0x25],
        &[0x55, 0x1d, 0x11],
    ];
    let x = ja4x(
        names.iter().copied(),
        names.iter().copied(),
        extensions.iter().copied(),
    );
    assert_eq!(x.ja4x, "96a6439c8f5c_96a6439c8f5c_aae71e8db6d7");
    assert_eq!(
        x.ja4x_r,
        "550403,550406,550408,55040a_550403,550406,550408,55040a_551d0f,551d25,551d11"
    );
    // A certificate without extensions (X.509 v1): zeros, as for JA4's empty lists.
    let v1 = ja4x(names.iter().copied(), names.iter().copied(), [].into_iter());
    assert!(v1.ja4x.ends_with("_000000000000"));
    assert!(v1.ja4x_r.ends_with("55040a_"));
}

#[test]
fn the_parts_of_ja4() {
    type Case = (&'static str, &'static [u8], &'static str);
    // JA4.md's ALPN rules and examples.
    let alpn: &[Case] = &[
        ("absent or empty", b"", "00"),
        ("h2", b"h2", "h2"),
        ("http/1.1", b"http/1.1", "h1"),
        ("one character is both ends", b"x", "xx"),
        ("0xAB", &[0xab], "ab"),
        ("0xAB 0xCD", &[0xab, 0xcd], "ad"),
        ("0x30 0xAB", &[0x30, 0xab], "3b"),
        ("0x30 0x31 0xAB 0xCD", &[0x30, 0x31, 0xab, 0xcd], "3d"),
        ("0x30 0xAB 0xCD 0x31", &[0x30, 0xab, 0xcd, 0x31], "01"),
        ("punctuation at an end", b"h2-", "6d"),
    ];
    for (what, value, code) in alpn {
        let mut out = String::new();
        push_alpn_code(&mut out, Some(value));
        assert_eq!(out, *code, "{what}");
    }
    let mut out = String::new();
    push_alpn_code(&mut out, None);
    assert_eq!(out, "00");

    for (v, code) in [
        (0x0304, "13"),
        (0x0300, "s3"),
        (0x0002, "s2"),
        (0x7f12, "00"),
    ] {
        assert_eq!(version_code(v), code, "{v:#06x}");
    }
    // supported_versions counts only when the extension was sent.
    let no_extension = ClientValues {
        legacy_version: 0x0301,
        supported_versions: &[0x0304],
        ..Default::default()
    };
    assert_eq!(ja4_version(&no_extension), 0x0301);

    let many: Vec<u16> = (1..=120).collect();
    let crowded = ClientValues {
        cipher_suites: &many,
        extensions: &many,
        ..Default::default()
    };
    assert!(client(&crowded).ja4.starts_with("t00i9999"));
    let empty = client(&ClientValues::default());
    assert_eq!(empty.ja4, "t00i000000_000000000000_000000000000");
    assert_eq!(empty.ja4_r, "t00i000000__");
    assert_eq!(empty.ja3_full, "0,,,,");
}

/// An identical hello is computed once; a different one, even by a value moved from one
/// list to the next, is not taken for it.
#[test]
fn identical_hellos_share_their_fingerprints() {
    let a = client(&spec_client());
    assert!(Arc::ptr_eq(&a, &client(&spec_client())));
    let moved = [
        ClientValues {
            cipher_suites: &[0x1301, 0x1302],
            extensions: &[],
            ..Default::default()
        },
        ClientValues {
            cipher_suites: &[0x1301],
            extensions: &[0x1302],
            ..Default::default()
        },
    ];
    assert_ne!(client(&moved[0]), client(&moved[1]));
    let without_alpn = ClientValues {
        first_alpn: None,
        ..spec_client()
    };
    let empty_alpn = ClientValues {
        first_alpn: Some(b""),
        ..spec_client()
    };
    assert!(!Arc::ptr_eq(&client(&without_alpn), &client(&empty_alpn)));
    let s = ServerValues {
        legacy_version: 0x0303,
        version: 0x0304,
        cipher: 0x1301,
        extensions: &[0x002b, 0x0033],
        alpn: None,
    };
    assert!(Arc::ptr_eq(&server(&s), &server(&s)));
    assert_ne!(
        server(&s),
        server(&ServerValues {
            cipher: 0x1302,
            ..s
        })
    );
}

/// Past its bound the memo starts again rather than growing.
#[test]
fn the_memo_is_bounded() {
    let versions: Vec<[u16; 1]> = (0..=MEMO_ENTRIES as u16).map(|v| [v]).collect();
    for v in &versions {
        let _ = client(&ClientValues {
            cipher_suites: v,
            ..Default::default()
        });
    }
    CLIENTS.with_borrow(|memo| assert!(memo.computed.len() <= MEMO_ENTRIES));
    // A hostile ClientHello's longest lists fill it at once, and the next one empties it.
    let long: Vec<u16> = (0..32_000).collect();
    for first in 0..20u16 {
        let mut ciphers = long.clone();
        ciphers[0] = first;
        let _ = client(&ClientValues {
            cipher_suites: &ciphers,
            extensions: &long,
            groups: &long,
            ..Default::default()
        });
        CLIENTS.with_borrow(|memo| assert!(memo.values <= MEMO_VALUES));
    }
}

#[test]
fn numbers_are_written_exactly() {
    for v in [0u16, 7, 10, 99, 100, 771, 4865, 65535] {
        let mut s = String::new();
        push_decimal(&mut s, v);
        assert_eq!(s, v.to_string());
        let mut h = String::new();
        push_hex4(&mut h, v);
        assert_eq!(h, format!("{v:04x}"));
    }
}
