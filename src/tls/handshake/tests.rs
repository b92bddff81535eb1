//! Hello, certificate and SSLv2 message decoding on bytes cut from real captures.

use super::*;
use proptest::prelude::*;

type One = for<'a> fn(&'a [u8]) -> IResult<&'a [u8], TlsExtension<'a>>;
type List = for<'a> fn(&'a [u8]) -> IResult<&'a [u8], Vec<TlsExtension<'a>>>;

/// `each_extension` with `one` reads what tls-parser's list parser `list` reads.
fn same_as_list(raw: &[u8], one: One, list: List) -> Result<(), TestCaseError> {
    let mut seen = Vec::new();
    let ours = each_extension(raw, one, |e| seen.push(e));
    match (ours, list(raw)) {
        (Ok(()), Ok((_, theirs))) => prop_assert_eq!(seen, theirs),
        (Err(a), Err(b)) => prop_assert_eq!(format!("{a:?}"), format!("{b:?}")),
        (a, b) => prop_assert!(false, "ours {:?}, tls-parser's {:?}", a, b.map(|(_, v)| v)),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Lists of extensions of the types a hello carries (and any other), with contents
    /// that may or may not decode, cut anywhere or followed by junk.
    #[test]
    fn extensions_read_as_tls_parser_reads_them(
        list in prop::collection::vec(
            (prop::sample::select(vec![0u16, 5, 10, 11, 13, 16, 21, 23, 35, 41, 42, 43,
                45, 51, 0x0a0a, 0xff01, 0x1234]), prop::collection::vec(any::<u8>(), 0..24)),
            0..12),
        cut in any::<prop::sample::Index>(),
        junk in prop::collection::vec(any::<u8>(), 0..6),
    ) {
        let mut raw = Vec::new();
        for (kind, data) in &list {
            raw.extend_from_slice(&kind.to_be_bytes());
            raw.extend_from_slice(&(data.len() as u16).to_be_bytes());
            raw.extend_from_slice(data);
        }
        raw.extend_from_slice(&junk);
        let cut = cut.index(raw.len() + 1);
        let raw = raw.get(..cut).unwrap_or_default();
        same_as_list(raw, parse_tls_client_hello_extension,
            tls_parser::parse_tls_client_hello_extensions)?;
        same_as_list(raw, parse_tls_server_hello_extension,
            tls_parser::parse_tls_server_hello_extensions)?;
    }
}

/// The SERVER-HELLO and CLIENT-MASTER-KEY of a real SSLv2 handshake (scapy's peers).
#[test]
fn sslv2_server_hello_and_client_master_key_decode() {
    let file: &[u8] = include_bytes!("../../../captures/sslv2.pcap");
    let server = crate::tls::side_bytes(file, true);
    let hello = &server[2..2 + (usize::from(server[0] & 0x7f) << 8 | usize::from(server[1]))];
    let sh = decode_sslv2_server_hello(hello, &Limits::default()).expect("decodes");
    assert_eq!((sh.version, sh.session_id_hit), (version::SSLV2, false));
    assert_eq!(sh.cipher_specs.len(), 7);
    assert!(sh.cipher_specs.contains(&Sslv2Cipher::RC4_128_WITH_MD5));
    let cert = sh.certificate.expect("certificate decoded");
    assert!(
        cert.subject.as_str().contains("CN=server.test"),
        "{}",
        cert.subject
    );
    let tight = Limits {
        max_certificate: 100,
        ..Limits::default()
    };
    let sh = decode_sslv2_server_hello(hello, &tight).expect("decodes");
    assert!(sh.certificate.is_none() && sh.certificate_over_limit && sh.certificate_undecoded);

    let client = crate::tls::side_bytes(file, false);
    let rest = &client[2 + usize::from(client[1])..];
    let cmk = &rest[2..2 + usize::from(rest[1])];
    assert_eq!(
        decode_sslv2_client_master_key(cmk),
        Ok(Message::Sslv2ClientMasterKey {
            cipher: Sslv2Cipher::DES_192_EDE3_CBC_WITH_MD5
        })
    );
}

/// Point formats are kept exactly, whatever their number: in place up to six, boxed past.
#[test]
fn point_formats_keep_every_value() {
    for n in [0usize, 1, 3, 6, 7, 255] {
        let formats: Vec<u8> = (0..n).map(|i| i as u8).collect();
        let kept = PointFormats::new(&formats);
        assert_eq!(kept.as_slice(), formats.as_slice(), "{n} formats");
        assert_eq!(
            matches!(kept, PointFormats::Inline { .. }),
            n <= 6,
            "{n} formats"
        );
    }
}

/// The ClientHello of a bundled capture keeps its ec_point_formats (JA3's last field).
#[test]
fn the_client_hello_keeps_its_point_formats() {
    let file: &[u8] = include_bytes!("../../../captures/tls12-ecdhe-chain.pcap");
    let client = crate::tls::side_bytes(file, false);
    let len = usize::from(client[3]) << 8 | usize::from(client[4]);
    let Ok(Message::ClientHello(ch)) = decode(&client[5..5 + len], &Limits::default()) else {
        panic!("a ClientHello");
    };
    assert_eq!(ch.ec_point_formats.as_slice(), [0, 1, 2]);
}

#[test]
fn tls13_drafts_and_experiments_are_tls13() {
    for v in [0x0304, 0x7f12, 0x7f15, 0x7f1c, 0x7e01, 0xfb17, 0xfb1a] {
        assert!(version::is_tls13(v), "{v:#06x}");
    }
    for v in [0x0002, 0x0300, 0x0303, 0x7e7e, 0xfefd] {
        assert!(!version::is_tls13(v), "{v:#06x}");
    }
    assert!(version::is_early_tls13_draft(0x7f15) && !version::is_early_tls13_draft(0x7f16));
}

#[test]
fn garbage_never_panics() {
    for len in 0..64 {
        let junk: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
        for first in [1u8, 2, 11] {
            let mut m = junk.clone();
            if let Some(b) = m.first_mut() {
                *b = first;
            }
            let _ = decode(&m, &Limits::default());
        }
        let _ = decode_sslv2_client_hello(&junk);
        let _ = decode_sslv2_server_hello(&junk, &Limits::default());
        let _ = decode_sslv2_client_master_key(&junk);
        let _ = client_key_share_groups(&junk);
    }
}
