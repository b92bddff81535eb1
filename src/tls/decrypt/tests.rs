//! Decryption on real records: RFC 8448's trace and loopback captures of every suite (see
//! testdata/decrypt/README.md), each plaintext compared with what tshark decrypted.

use super::*;
use crate::tls::keylog::KeyLog;
use proptest::prelude::*;

pub(super) fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// A `name hex` line of a fixture.
pub(super) fn fixture_value(text: &str, name: &str) -> Vec<u8> {
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no {name} in the fixture"));
    unhex(line)
}

pub(super) const RFC8448: &str = include_str!("../testdata/decrypt/rfc8448-1rtt.txt");

pub(super) fn rfc8448() -> impl Fn(&str) -> Vec<u8> {
    |name| fixture_value(RFC8448, name)
}

/// The handshake messages of a plaintext, whole (a test's records hold whole ones).
pub(super) fn split_handshake(mut data: &[u8]) -> Vec<Vec<u8>> {
    let mut messages = Vec::new();
    while data.len() >= 4 {
        let len =
            4 + usize::from(data[1]) * 65536 + usize::from(data[2]) * 256 + usize::from(data[3]);
        messages.push(data[..len].to_vec());
        data = &data[len..];
    }
    assert!(data.is_empty(), "a handshake message cut across records");
    messages
}

struct Record {
    from_client: bool,
    content_type: u8,
    version: u16,
    body: Vec<u8>,
}

/// A capture fixture made by testdata/decrypt/make.sh.
struct Capture {
    keylog: KeyLog,
    records: Vec<Record>,
    tshark: Vec<Vec<u8>>,
}

fn capture(text: &str) -> Capture {
    let mut keylog = KeyLog::default();
    let mut records = Vec::new();
    let mut tshark = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        match fields[0] {
            "keylog" => keylog.add_text(format!("{}\n", &line[7..]).as_bytes()),
            "record" => records.push(Record {
                from_client: fields[1] == "c",
                content_type: fields[2].parse().unwrap(),
                version: u16::from_str_radix(fields[3], 16).unwrap(),
                body: unhex(fields[4]),
            }),
            "tshark" => tshark.push(unhex(fields[1])),
            _ => {}
        }
    }
    assert_eq!(keylog.stats().malformed, 0);
    Capture {
        keylog,
        records,
        tshark,
    }
}

const CHANGE_CIPHER_SPEC: u8 = 20;
const HANDSHAKE: u8 = 22;
const APPLICATION_DATA: u8 = 23;
const CLIENT_HELLO: u8 = 1;
const SERVER_HELLO: u8 = 2;
const FINISHED: u8 = 20;
const KEY_UPDATE: u8 = 24;

/// What a walk through a capture found.
#[derive(Debug, Default)]
struct Walk {
    /// Plaintexts of the records decrypted, in capture order.
    plaintexts: Vec<Vec<u8>>,
    /// Finished messages checked, client's and server's.
    finished: Vec<Sender>,
    application_data: Vec<(Sender, Vec<u8>)>,
    key_updates: Vec<Sender>,
}

/// Walks a capture as a connection would: the hellos give the randoms, version and suite;
/// each direction decrypts from its ChangeCipherSpec (TLS 1.2) or the ServerHello (TLS
/// 1.3); every Finished is checked against the transcript.
fn walk(fixture: &str) -> (Suite, Walk) {
    let capture = capture(fixture);
    let mut walk = Walk::default();
    let mut transcript = Transcript::new();
    let (mut client_random, mut server_random) = ([0u8; 32], [0u8; 32]);
    let mut suite: Option<Suite> = None;
    // By direction, the client's first: what decrypts its records now, and (TLS 1.2)
    // what will from its ChangeCipherSpec on.
    let mut decryptors: [Option<Decryptor>; 2] = [None, None];
    let mut next: [Option<Decryptor>; 2] = [None, None];
    for r in &capture.records {
        let (sender, at) = if r.from_client {
            (Sender::Client, 0)
        } else {
            (Sender::Server, 1)
        };
        let is_tls13 = suite.is_some_and(|s| s.is_tls13());
        if r.content_type == CHANGE_CIPHER_SPEC {
            if !is_tls13 {
                decryptors[at] = next[at].take();
            }
            continue;
        }
        let (content_type, data) = match decryptors[at].as_mut() {
            Some(d) => {
                let p = d
                    .open(r.content_type, r.version, &r.body)
                    .unwrap_or_else(|e| {
                        panic!(
                            "{sender:?} record {:?} of type {}: {e}",
                            d.sequence(),
                            r.content_type
                        )
                    });
                walk.plaintexts.push(p.data.clone());
                (p.content_type, p.data)
            }
            None => (r.content_type, r.body.clone()),
        };
        if content_type == APPLICATION_DATA {
            walk.application_data.push((sender, data));
            continue;
        }
        if content_type != HANDSHAKE {
            continue;
        }
        for message in split_handshake(&data) {
            match message[0] {
                CLIENT_HELLO => client_random.copy_from_slice(&message[6..38]),
                SERVER_HELLO => {
                    server_random.copy_from_slice(&message[6..38]);
                    let (s, etm) = server_hello(&message);
                    suite = Some(s);
                    transcript.add(&message);
                    transcript.use_suite(&s);
                    let secrets = capture.keylog.secrets(&client_random).unwrap();
                    if s.is_tls13() {
                        for (at, secret) in [
                            &secrets.client_handshake_traffic_secret,
                            &secrets.server_handshake_traffic_secret,
                        ]
                        .into_iter()
                        .enumerate()
                        {
                            let secret = secret.as_ref().unwrap().as_bytes();
                            decryptors[at] = Some(Decryptor::tls13(&s, secret).unwrap());
                        }
                    } else {
                        let p = Tls12Params {
                            suite: s,
                            client_random,
                            server_random,
                            encrypt_then_mac: etm,
                        };
                        let master = secrets.master_secret.as_ref().unwrap().as_bytes();
                        let both = Decryptor::tls12(&p, master).unwrap();
                        next = [Some(both.client), Some(both.server)];
                    }
                    continue;
                }
                FINISHED => {
                    let s = suite.unwrap();
                    let secrets = capture.keylog.secrets(&client_random).unwrap();
                    check_finished(&s, secrets, sender, &transcript.hash().unwrap(), &message);
                    walk.finished.push(sender);
                    transcript.add(&message);
                    if s.is_tls13() {
                        // The sender's records after its Finished use traffic secret 0.
                        let secret = match sender {
                            Sender::Client => &secrets.client_traffic_secret_0,
                            Sender::Server => &secrets.server_traffic_secret_0,
                        };
                        let secret = secret.as_ref().unwrap().as_bytes();
                        decryptors[at] = Some(Decryptor::tls13(&s, secret).unwrap());
                    }
                    continue;
                }
                KEY_UPDATE => {
                    // The sender's next records use its next traffic secret.
                    decryptors[at].as_mut().unwrap().key_update().unwrap();
                    walk.key_updates.push(sender);
                    continue;
                }
                _ => {}
            }
            // TLS 1.3's NewSessionTicket comes after both Finished; nothing signs it.
            if !(is_tls13 && walk.finished.len() == 2) {
                transcript.add(&message);
            }
        }
    }
    (suite.unwrap(), walk)
}

fn check_finished(
    suite: &Suite,
    secrets: &crate::tls::keylog::Secrets,
    sender: Sender,
    transcript_hash: &[u8],
    message: &[u8],
) {
    let expected = if suite.is_tls13() {
        let secret = match sender {
            Sender::Client => &secrets.client_handshake_traffic_secret,
            Sender::Server => &secrets.server_handshake_traffic_secret,
        };
        let secret = secret.as_ref().unwrap().as_bytes();
        tls13::verify_data(suite, secret, transcript_hash).unwrap()
    } else {
        let master = secrets.master_secret.as_ref().unwrap().as_bytes();
        tls12::verify_data(suite, master, sender, transcript_hash)
            .unwrap()
            .to_vec()
    };
    let len = u8::try_from(expected.len()).unwrap();
    assert_eq!(message[1..4], [0, 0, len], "{sender:?} Finished length");
    assert_eq!(&message[4..], expected.as_slice(), "{sender:?} Finished");
}

/// The suite (version from supported_versions when present) and encrypt_then_mac of a
/// ServerHello message.
fn server_hello(message: &[u8]) -> (Suite, bool) {
    let legacy = u16::from_be_bytes([message[4], message[5]]);
    let session_id_len = usize::from(message[38]);
    let at = 39 + session_id_len;
    let cipher = u16::from_be_bytes([message[at], message[at + 1]]);
    let mut version = legacy;
    let mut etm = false;
    let mut ext = &message[at + 3 + 2..];
    while ext.len() >= 4 {
        let kind = u16::from_be_bytes([ext[0], ext[1]]);
        let len = usize::from(u16::from_be_bytes([ext[2], ext[3]]));
        if kind == 43 {
            version = u16::from_be_bytes([ext[4], ext[5]]);
        }
        etm |= kind == 22;
        ext = &ext[4 + len..];
    }
    let suite = Suite::new(ProtocolVersion(version), CipherSuite(cipher)).unwrap();
    (suite, etm)
}

const REQUEST: &[u8] = b"hello, tlsdiag\n";
const ANSWER: &[u8] = b"gaidslt ,olleh\n";

/// Checks one capture: both Finished verify, the application data is what was said, and
/// every plaintext is the one tshark decrypted.
fn check_capture(fixture: &str, version: u16, suite_id: u16) -> Walk {
    let (suite, walk) = walk(fixture);
    assert_eq!(suite.version(), ProtocolVersion(version));
    assert_eq!(suite.id(), CipherSuite(suite_id));
    assert!(
        walk.finished.contains(&Sender::Client),
        "the client's Finished"
    );
    assert!(
        walk.finished.contains(&Sender::Server),
        "the server's Finished"
    );
    let said: Vec<u8> = walk
        .application_data
        .iter()
        .filter(|(s, _)| *s == Sender::Client)
        .flat_map(|(_, d)| d.clone())
        .collect();
    let answered: Vec<u8> = walk
        .application_data
        .iter()
        .filter(|(s, _)| *s == Sender::Server)
        .flat_map(|(_, d)| d.clone())
        .collect();
    assert_eq!(said, REQUEST);
    assert_eq!(answered, ANSWER);
    // TLS 1.0 stacks send an empty record before each application data record (the
    // BEAST counter-measure); tshark shows no decrypted data for it.
    let shown: Vec<Vec<u8>> = walk
        .plaintexts
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect();
    assert_eq!(shown, capture(fixture).tshark, "tshark decrypted the same");
    Walk {
        plaintexts: Vec::new(),
        ..walk
    }
}

macro_rules! capture_tests {
    ($($name:ident: $file:literal, $version:literal, $suite:literal;)*) => {$(
        #[test]
        fn $name() {
            let _ = check_capture(include_str!(concat!("../testdata/decrypt/", $file, ".txt")), $version, $suite);
        }
    )*};
}

capture_tests! {
    tls13_aes128gcm: "tls13-aes128gcm", 0x0304, 0x1301;
    tls13_aes256gcm: "tls13-aes256gcm", 0x0304, 0x1302;
    tls13_chacha20: "tls13-chacha20", 0x0304, 0x1303;
    tls13_aes128ccm: "tls13-aes128ccm", 0x0304, 0x1304;
    tls13_aes128ccm8: "tls13-aes128ccm8", 0x0304, 0x1305;
    tls12_ecdhe_rsa_aes128gcm: "tls12-ecdhe-rsa-aes128gcm", 0x0303, 0xc02f;
    tls12_ecdhe_rsa_aes256gcm: "tls12-ecdhe-rsa-aes256gcm", 0x0303, 0xc030;
    tls12_ecdhe_rsa_chacha20: "tls12-ecdhe-rsa-chacha20", 0x0303, 0xcca8;
    tls12_rsa_aes128ccm: "tls12-rsa-aes128ccm", 0x0303, 0xc09c;
    tls12_rsa_aes256ccm8: "tls12-rsa-aes256ccm8", 0x0303, 0xc0a1;
    tls12_ecdhe_rsa_aes128sha_etm: "tls12-ecdhe-rsa-aes128sha-etm", 0x0303, 0xc013;
    tls12_ecdhe_rsa_aes128sha_mte: "tls12-ecdhe-rsa-aes128sha-mte", 0x0303, 0xc013;
    tls12_rsa_aes256sha256: "tls12-rsa-aes256sha256", 0x0303, 0x003d;
    tls12_ecdhe_rsa_aes256sha384_mte: "tls12-ecdhe-rsa-aes256sha384-mte", 0x0303, 0xc028;
    tls11_ecdhe_rsa_aes256sha_etm: "tls11-ecdhe-rsa-aes256sha-etm", 0x0302, 0xc014;
    tls10_ecdhe_rsa_aes128sha_mte: "tls10-ecdhe-rsa-aes128sha-mte", 0x0301, 0xc013;
    tls10_ecdhe_rsa_aes128sha_etm: "tls10-ecdhe-rsa-aes128sha-etm", 0x0301, 0xc013;
}

/// The client sends a KeyUpdate that asks the server to update too; each side's records
/// after its KeyUpdate are under its next traffic secret.
#[test]
fn tls13_key_update() {
    let fixture = include_str!("../testdata/decrypt/tls13-keyupdate.txt");
    let walk = check_capture(fixture, 0x0304, 0x1301);
    assert_eq!(walk.key_updates, [Sender::Client, Sender::Server]);
}

/// Every suite this module decrypts, at a version that has it.
const SUITES: [(u16, u16); 14] = [
    (0x0304, 0x1301),
    (0x0304, 0x1302),
    (0x0304, 0x1303),
    (0x0304, 0x1304),
    (0x0304, 0x1305),
    (0x0303, 0xc02f),
    (0x0303, 0xc030),
    (0x0303, 0xcca8),
    (0x0303, 0xc09c),
    (0x0303, 0xc0a1),
    (0x0303, 0xc013),
    (0x0303, 0xc028),
    (0x0302, 0xc014),
    (0x0301, 0xc013),
];

/// Decryptors for one suite with keys made from `seed`.
fn decryptors(version: u16, id: u16, seed: &[u8], etm: bool) -> Vec<Decryptor> {
    let suite = Suite::new(ProtocolVersion(version), CipherSuite(id)).unwrap();
    let mut secret = seed.to_vec();
    if suite.is_tls13() {
        secret.resize(suite.hash.len(), 0);
        return vec![Decryptor::tls13(&suite, &secret).unwrap()];
    }
    secret.resize(48, 0);
    let params = Tls12Params {
        suite,
        client_random: [1; 32],
        server_random: [2; 32],
        encrypt_then_mac: etm,
    };
    let both = Decryptor::tls12(&params, &secret).unwrap();
    vec![both.client, both.server]
}

#[test]
fn damaged_real_records_fail_cleanly() {
    for file in [
        include_str!("../testdata/decrypt/tls13-aes128ccm8.txt"),
        include_str!("../testdata/decrypt/tls12-ecdhe-rsa-chacha20.txt"),
        include_str!("../testdata/decrypt/tls12-ecdhe-rsa-aes128sha-mte.txt"),
        include_str!("../testdata/decrypt/tls10-ecdhe-rsa-aes128sha-etm.txt"),
    ] {
        let (suite, walk) = walk(file);
        // The client's application data record, decrypted as the walk did, then damaged.
        let capture = capture(file);
        let record = capture
            .records
            .iter()
            .find(|r| r.from_client && r.content_type == APPLICATION_DATA)
            .unwrap();
        assert!(!walk.application_data.is_empty());
        let body = &record.body;
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty", vec![]),
            ("one byte", body[..1].to_vec()),
            ("cut by one", body[..body.len() - 1].to_vec()),
            (
                "cut by a block",
                body[..body.len().saturating_sub(16)].to_vec(),
            ),
            ("last byte changed", {
                let mut b = body.clone();
                *b.last_mut().unwrap() ^= 1;
                b
            }),
            ("first byte changed", {
                let mut b = body.clone();
                b[0] ^= 0x80;
                b
            }),
            ("too long", vec![0; MAX_CIPHERTEXT + 1]),
            ("longer than a length field", vec![0; 70_000]),
        ];
        for (what, bad) in cases {
            let mut d = decryptors(suite.version().0, suite.id().0, &[9; 48], true).remove(0);
            let result = d.open(APPLICATION_DATA, record.version, &bad);
            assert!(result.is_err(), "{file:.30}: {what}: {result:?}");
        }
    }
}

#[test]
fn key_update_needs_tls13() {
    let mut d = decryptors(0x0303, 0xc02f, &[1], false).remove(0);
    assert_eq!(d.key_update(), Err(DecryptError::NotTls13));
    let v = rfc8448();
    let suite = Suite::new(ProtocolVersion(0x0304), CipherSuite(0x1301)).unwrap();
    let mut d = Decryptor::tls13(&suite, &v("client_application_traffic_secret")).unwrap();
    let record = v("client_application_record");
    d.open(23, 0x0303, &record[5..]).unwrap();
    assert_eq!(d.sequence(), Some(1));
    d.key_update().unwrap();
    assert_eq!(d.sequence(), Some(0), "a new key starts at record 0");
    assert_eq!(
        d.open(23, 0x0303, &record[5..]),
        Err(DecryptError::AuthenticationFailed)
    );
}

#[test]
fn tls13_refuses_unprotected_types_without_taking_a_sequence_number() {
    let v = rfc8448();
    let suite = Suite::new(ProtocolVersion(0x0304), CipherSuite(0x1301)).unwrap();
    let mut client = Decryptor::tls13(&suite, &v("client_handshake_traffic_secret")).unwrap();
    assert_eq!(
        client.open(20, 0x0303, &[1]),
        Err(DecryptError::NotProtected)
    );
    assert_eq!(
        client.open(21, 0x0303, &[2, 40]),
        Err(DecryptError::NotProtected)
    );
    let record = v("client_finished_record");
    let plain = client.open(23, 0x0303, &record[5..]).unwrap();
    assert_eq!(plain.content_type, 22);
}

#[test]
fn only_a_record_that_opens_takes_a_sequence_number() {
    let v = rfc8448();
    let suite = Suite::new(ProtocolVersion(0x0304), CipherSuite(0x1301)).unwrap();
    let mut d = Decryptor::tls13(&suite, &v("client_handshake_traffic_secret")).unwrap();
    // Early data under another key, as a server that rejected 0-RTT sees it.
    let early = v("client_application_record");
    assert_eq!(
        d.open(23, 0x0303, &early[5..]),
        Err(DecryptError::AuthenticationFailed)
    );
    assert_eq!(d.sequence(), Some(0));
    let finished = v("client_finished_record");
    assert_eq!(d.open(23, 0x0303, &finished[5..]).unwrap().content_type, 22);
    assert_eq!(d.sequence(), Some(1));
    d.sequence = None;
    assert_eq!(
        d.open(23, 0x0303, &finished[5..]),
        Err(DecryptError::SequenceExhausted)
    );
}

#[test]
fn debug_shows_no_key_and_no_data() {
    let d = decryptors(0x0303, 0xc013, &[0xab; 48], false).remove(0);
    let shown = format!("{d:?}");
    assert_eq!(
        shown,
        "Decryptor { suite: CipherSuite(49171), sequence: Some(0), .. }"
    );
    let p = Plaintext {
        content_type: 23,
        data: b"secret".to_vec(),
    };
    assert_eq!(format!("{p:?}"), "Plaintext { content_type: 23, len: 6 }");
}

proptest! {
    #[test]
    fn any_record_with_any_key_is_an_answer(
        which in 0..SUITES.len(),
        seed in proptest::collection::vec(any::<u8>(), 0..48),
        etm in any::<bool>(),
        content_type in any::<u8>(),
        version in any::<u16>(),
        records in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..600), 1..4),
    ) {
        let (v, id) = SUITES[which];
        for mut d in decryptors(v, id, &seed, etm) {
            for body in &records {
                // A random record passes a 64-bit or longer tag only by a miracle.
                prop_assert!(d.open(content_type, version, body).is_err());
            }
        }
    }
}
