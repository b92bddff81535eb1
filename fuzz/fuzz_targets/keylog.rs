//! Key log text, as any bytes in fuzzed piece sizes, then as a Decryption Secrets Block, then
//! lookups: bounded memory, no panic, and no line's text kept or shown.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlsdiag::tls::keylog::{KeyLog, SECRETS_TYPE_TLS_KEY_LOG};

fuzz_target!(|data: &[u8]| {
    let Some((&cut, text)) = data.split_first() else {
        return;
    };
    let mut log = KeyLog::with_max_entries(64);
    for piece in text.chunks(usize::from(cut).max(1)) {
        log.add_text(piece);
    }
    log.finish();
    let len = u32::try_from(text.len()).unwrap_or(u32::MAX);
    let secrets_len = len.saturating_sub(u32::from(cut));
    let _ = log.add_decryption_secrets(SECRETS_TYPE_TLS_KEY_LOG, secrets_len, text);
    assert!(log.len() <= 64);
    let stats = log.stats();
    assert!(stats.malformed_lines.len() <= 8);
    assert!(stats.lines <= 2 * (text.len() as u64 + 1));
    // A client random taken from the input, as a lookup by a ClientHello would be.
    let mut random = [0u8; 32];
    for (r, b) in random.iter_mut().zip(text) {
        *r = *b;
    }
    if let Some(secrets) = log.secrets(&random) {
        // Secrets show as lengths, never as arrays of bytes.
        let shown = format!("{secrets:?}");
        assert!(!shown.contains('['), "{shown}");
    }
    let _ = format!("{log:?}");
});
