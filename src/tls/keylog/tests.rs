use super::*;
use proptest::prelude::*;

const RANDOM: &str = "77aa3086bf94e8a074faeacceded99914f966ca8822c1166f94fdd14ae715ad5";
const MASTER: &str = "5b567dfc9e354331c39e7abfe82a9b48749e7067dd4dd01bb4400ddbc49a6786\
                      00112233445566778899aabbccddeeff";

fn random() -> [u8; 32] {
    hex_array::<32>(RANDOM.as_bytes()).unwrap()
}

/// A TLS 1.3 key log as OpenSSL 3.0's s_client -keylogfile writes it (the
/// tls13-aes256gcm fixture's lines).
const TLS13_LOG: &str = include_str!("../testdata/decrypt/tls13-aes256gcm.txt");

fn keylog_lines(fixture: &str) -> String {
    fixture
        .lines()
        .filter_map(|l| l.strip_prefix("keylog "))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn reads_a_tls12_line() {
    let mut log = KeyLog::default();
    log.add_text(format!("# comment\n\nCLIENT_RANDOM {RANDOM} {MASTER}\n").as_bytes());
    let secrets = log.secrets(&random()).unwrap();
    assert_eq!(secrets.master_secret.as_ref().unwrap().len(), 48);
    assert_eq!(
        secrets.master_secret.as_ref().unwrap().as_bytes().first(),
        Some(&0x5b)
    );
    assert_eq!(log.len(), 1);
    assert_eq!(log.stats().lines, 3);
    assert_eq!(log.stats().secrets, 1);
    assert_eq!(log.stats().malformed, 0);
}

#[test]
fn reads_openssl_tls13_lines() {
    let mut log = KeyLog::default();
    log.add_text(keylog_lines(TLS13_LOG).as_bytes());
    assert_eq!(log.len(), 1);
    assert_eq!(log.stats().secrets, 5);
    let (_, secrets) = log.entries.iter().next().unwrap();
    let hs = secrets.server_handshake_traffic_secret.as_ref().unwrap();
    assert_eq!(hs.len(), 48, "TLS_AES_256_GCM_SHA384: SHA-384 secrets");
    assert!(secrets.client_handshake_traffic_secret.is_some());
    assert!(secrets.client_traffic_secret_0.is_some());
    assert!(secrets.server_traffic_secret_0.is_some());
    assert!(secrets.exporter_secret.is_some());
    assert!(secrets.master_secret.is_none());
    assert!(secrets.client_early_traffic_secret.is_none());
}

#[test]
fn pieces_of_any_size_read_as_the_whole() {
    let text = keylog_lines(TLS13_LOG);
    let mut whole = KeyLog::default();
    whole.add_text(text.as_bytes());
    for size in [1, 7, 64, 200] {
        let mut pieces = KeyLog::default();
        for piece in text.as_bytes().chunks(size) {
            pieces.add_text(piece);
        }
        assert_eq!(pieces.stats(), whole.stats(), "pieces of {size}");
        assert_eq!(pieces.entries, whole.entries);
    }
}

#[test]
fn a_last_line_without_newline_waits_for_finish() {
    let mut log = KeyLog::default();
    log.add_text(format!("CLIENT_RANDOM {RANDOM} {MASTER}").as_bytes());
    assert!(log.is_empty(), "the line may still grow");
    log.finish();
    assert_eq!(log.len(), 1);
    log.finish();
    assert_eq!(log.stats().lines, 1);
}

#[test]
fn crlf_tabs_and_upper_case_hex_are_read() {
    let mut log = KeyLog::default();
    let line = format!("CLIENT_RANDOM\t{}  {}\r\n", RANDOM.to_uppercase(), MASTER);
    log.add_text(line.as_bytes());
    assert_eq!(log.len(), 1);
    assert!(log.secrets(&random()).is_some());
}

#[test]
fn malformed_lines_are_counted_by_number_only() {
    let mut log = KeyLog::default();
    let text = format!(
        "CLIENT_RANDOM {RANDOM}\n\
         CLIENT_RANDOM {RANDOM} {MASTER} extra\n\
         CLIENT_RANDOM {RANDOM} 0011\n\
         CLIENT_RANDOM zz{} {MASTER}\n\
         SERVER_TRAFFIC_SECRET_0 {RANDOM} {}\n\
         RSA 0011223344556677 {MASTER}\n\
         CLIENT_RANDOM {RANDOM} {MASTER}\n",
        &RANDOM[2..],
        &MASTER[..62]
    );
    log.add_text(text.as_bytes());
    let stats = log.stats();
    assert_eq!(stats.malformed, 5);
    let numbers: Vec<u64> = stats.malformed_lines.iter().map(|l| l.line).collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5]);
    assert!(
        stats
            .malformed_lines
            .iter()
            .all(|l| l.source == Source::File(1))
    );
    assert_eq!(stats.unknown_labels, 1, "the old RSA form");
    assert_eq!(log.len(), 1);
}

#[test]
fn only_the_first_malformed_line_numbers_are_kept() {
    let mut log = KeyLog::default();
    log.add_text("junk\n".repeat(100).as_bytes());
    assert_eq!(log.stats().malformed, 100);
    assert_eq!(log.stats().malformed_lines.len(), MALFORMED_LINES_KEPT);
}

#[test]
fn a_long_line_is_not_held() {
    let mut log = KeyLog::default();
    for _ in 0..1000 {
        log.add_text(&[b'a'; 1000]);
        assert!(log.lines.pending.len() <= MAX_LINE);
    }
    log.add_text(format!("\nCLIENT_RANDOM {RANDOM} {MASTER}\n").as_bytes());
    assert_eq!(log.stats().malformed, 1);
    assert_eq!(log.stats().malformed_lines.first().map(|l| l.line), Some(1));
    assert_eq!(log.len(), 1);
}

#[test]
fn entries_are_bounded() {
    let mut log = KeyLog::with_max_entries(2);
    for i in 0..5u8 {
        let random = format!("{i:02x}{}", &RANDOM[2..]);
        log.add_text(format!("CLIENT_RANDOM {random} {MASTER}\n").as_bytes());
    }
    // A known client random still takes its other secrets.
    let secret = "ab".repeat(32);
    let random = format!("00{}", &RANDOM[2..]);
    log.add_text(format!("EXPORTER_SECRET {random} {secret}\n").as_bytes());
    assert_eq!(log.len(), 2);
    assert_eq!(log.stats().over_limit, 3);
    assert_eq!(log.stats().secrets, 3);
}

#[test]
fn what_waiting_connections_hold_is_bounded_together() {
    let shared = SharedKeyLog::following(KeyLog::default());
    assert!(shared.reserve(MAX_HELD_TOTAL - 10));
    assert!(!shared.reserve(11));
    assert!(shared.reserve(10));
    assert!(!shared.reserve(1));
    shared.release(MAX_HELD_TOTAL);
    assert!(shared.reserve(MAX_HELD_TOTAL));
    assert!(!shared.reserve(usize::MAX));
}

#[test]
fn a_followed_key_log_forgets_its_oldest_client_randoms_when_full() {
    let shared = SharedKeyLog::following(KeyLog::with_max_entries(2));
    let random = |n: u8| format!("{n:02x}").repeat(32);
    for n in 1..=3 {
        let line = format!("CLIENT_RANDOM {} {MASTER}\n", random(n));
        assert!(shared.update(|log| log.add_text(line.as_bytes())));
    }
    let kept = |n: u8| shared.secrets(&[n; 32]).is_some();
    assert!(!kept(1) && kept(2) && kept(3));
    shared.read(|log| {
        assert_eq!(log.len(), 2);
        assert_eq!(log.stats().evicted, 1);
        assert_eq!(log.stats().over_limit, 0);
    });
    // A file's key log keeps the first ones and counts the rest.
    let mut complete = KeyLog::with_max_entries(2);
    for n in 1..=3 {
        complete.add_text(format!("CLIENT_RANDOM {} {MASTER}\n", random(n)).as_bytes());
    }
    assert_eq!(complete.stats().over_limit, 1);
    assert!(complete.secrets(&[1; 32]).is_some());
}

#[test]
fn two_sources_keep_their_own_partial_lines() {
    let mut log = KeyLog::default();
    let (mut a, mut b) = (Lines::default(), Lines::default());
    let line = format!("CLIENT_RANDOM {RANDOM} {MASTER}\n");
    let (head, tail) = line.split_at(20);
    log.add_text_from(&mut a, head.as_bytes());
    log.add_text_from(&mut b, b"# b's comment\nCLIENT_RAN");
    log.add_text_from(&mut a, tail.as_bytes());
    assert_eq!(log.stats().malformed, 0);
    assert!(log.secrets(&random()).is_some());
    log.finish_from(&mut b);
    assert_eq!(log.stats().malformed, 1);
}

#[test]
fn a_shared_key_log_tells_when_it_grew() {
    let shared = SharedKeyLog::following(KeyLog::default());
    let before = shared.generation();
    assert!(!shared.update(|log| log.add_text(b"# nothing\n")));
    assert_eq!(shared.generation(), before);
    let line = format!("CLIENT_RANDOM {RANDOM} {MASTER}\n");
    assert!(shared.update(|log| log.add_text(line.as_bytes())));
    assert_ne!(shared.generation(), before);
    assert!(shared.secrets(&random()).unwrap().master_secret.is_some());
}

#[test]
fn secrets_never_print() {
    let mut log = KeyLog::default();
    log.add_text(format!("CLIENT_RANDOM {RANDOM} {MASTER}\nCLIENT_RANDOM {RANDOM}").as_bytes());
    let shown = format!("{log:?} {:?}", log.secrets(&random()));
    assert!(shown.contains("Secret(48 bytes)"), "{shown}");
    assert!(!shown.to_lowercase().contains("5b567dfc"), "{shown}");
    assert!(!shown.contains("91, 86"), "{shown}");
}

#[test]
fn reads_a_decryption_secrets_block() {
    let mut log = KeyLog::default();
    // As editcap --inject-secrets writes it: the file's text, zero-padded to 32 bits.
    let text = format!("CLIENT_RANDOM {RANDOM} {MASTER}\njunk");
    let mut data = text.clone().into_bytes();
    data.resize(text.len().next_multiple_of(4), 0);
    let len = u32::try_from(text.len()).unwrap();
    log.add_text(b"CLIENT_RAN");
    assert_eq!(
        log.add_decryption_secrets(SECRETS_TYPE_TLS_KEY_LOG, len, &data),
        Ok(())
    );
    assert_eq!(log.len(), 1);
    assert_eq!(
        log.stats().malformed_lines,
        [LineAt {
            source: Source::DecryptionSecretsBlock(1),
            line: 2
        }]
    );
    // The held text line is still the file's.
    assert_eq!(log.lines.pending, b"CLIENT_RAN");
    let wireguard = 0x5747_4b4c;
    assert_eq!(
        log.add_decryption_secrets(wireguard, 4, b"abcd"),
        Err(SecretsBlockError::NotTlsKeyLog {
            secrets_type: wireguard
        })
    );
    assert_eq!(log.stats().other_secrets_blocks, 1);
}

#[test]
fn a_secrets_block_ending_in_newline_has_no_empty_last_line() {
    let mut log = KeyLog::default();
    let text = format!("CLIENT_RANDOM {RANDOM} {MASTER}\n");
    let len = u32::try_from(text.len()).unwrap();
    log.add_decryption_secrets(SECRETS_TYPE_TLS_KEY_LOG, len, text.as_bytes())
        .unwrap();
    assert_eq!(log.stats().lines, 1);
    // A length past the data reads what there is.
    log.add_decryption_secrets(SECRETS_TYPE_TLS_KEY_LOG, u32::MAX, text.as_bytes())
        .unwrap();
    assert_eq!(log.stats().secrets, 2);
}

proptest! {
    #[test]
    fn any_bytes_in_any_pieces(data in proptest::collection::vec(any::<u8>(), 0..2048),
                               cut in 1usize..300) {
        let mut log = KeyLog::with_max_entries(4);
        for piece in data.chunks(cut) {
            log.add_text(piece);
            prop_assert!(log.lines.pending.len() <= MAX_LINE);
        }
        log.finish();
        let _ = log.add_decryption_secrets(SECRETS_TYPE_TLS_KEY_LOG, 100, &data);
        prop_assert!(log.len() <= 4);
        prop_assert!(log.stats().malformed_lines.len() <= MALFORMED_LINES_KEPT);
        let _ = log.secrets(&[0; 32]);
    }
}
