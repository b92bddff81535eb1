//! Record decryption with keys derived from fuzzed secrets: every suite and version, CBC with
//! and without encrypt_then_mac, records of any type, version and length, then the Finished
//! computations and a KeyUpdate. Nothing panics; every answer is a plaintext or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlsdiag::tls::decrypt::{Decryptor, Sender, Suite, Tls12Params, Transcript, tls12, tls13};
use tlsdiag::tls::values::{CipherSuite, ProtocolVersion};

/// Versions and suites to try, some refused on purpose (SSL 3.0, 3DES, a suite at the wrong
/// version).
const SUITES: [(u16, u16); 18] = [
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
    (0x0303, 0x003d),
    (0x0303, 0xc028),
    (0x0302, 0xc014),
    (0x0301, 0xc013),
    (0x0300, 0x002f),
    (0x0303, 0x000a),
    (0x0304, 0xc02f),
];

fuzz_target!(|data: &[u8]| {
    // pick (a suite), flags (bit 0: encrypt_then_mac, bit 1: every record to the client's
    // decryptor), the secret's length, the secret, client_random, server_random, records.
    let Some((&[pick, flags, secret_len], rest)) = data.split_first_chunk::<3>() else {
        return;
    };
    let (version, id) = SUITES[usize::from(pick) % SUITES.len()];
    let Ok(suite) = Suite::new(ProtocolVersion(version), CipherSuite(id)) else {
        return;
    };
    // The secret's length is fuzzed too, so that wrong lengths are tried.
    let (secret, rest) = rest.split_at(usize::from(secret_len % 64).min(rest.len()));
    let Some((client_random, rest)) = rest.split_first_chunk::<32>() else {
        return;
    };
    let Some((server_random, mut records)) = rest.split_first_chunk::<32>() else {
        return;
    };
    let mut decryptors = Vec::new();
    if suite.is_tls13() {
        if let Ok(d) = Decryptor::tls13(&suite, secret) {
            decryptors.push(d);
        }
    } else {
        let params = Tls12Params {
            suite,
            client_random: *client_random,
            server_random: *server_random,
            encrypt_then_mac: flags & 1 == 1,
        };
        if let Ok(both) = Decryptor::tls12(&params, secret) {
            decryptors.push(both.client);
            decryptors.push(both.server);
        }
    }
    // Records: type, version (2), length (2, cut to what is left), body.
    let mut which = 0usize;
    while let Some((&[content_type, v0, v1, l0, l1], after)) = records.split_first_chunk::<5>() {
        let len = usize::from(u16::from_be_bytes([l0, l1])).min(after.len());
        let (body, next) = after.split_at(len);
        records = next;
        if let Some(d) = decryptors.get_mut(which % 2) {
            let plain = d.open(content_type, u16::from_be_bytes([v0, v1]), body);
            if let Ok(plain) = plain {
                assert!(plain.data.len() <= body.len());
                // A TLS 1.3 KeyUpdate: the next records are under the next secret.
                if plain.content_type == 22 && plain.data.first() == Some(&24) {
                    let _ = d.key_update();
                }
            }
        }
        which += usize::from(flags >> 1 & 1) + 1;
    }
    let mut transcript = Transcript::new();
    transcript.add(data);
    transcript.use_suite(&suite);
    if let Ok(hash) = transcript.hash() {
        if suite.is_tls13() {
            let _ = tls13::verify_data(&suite, secret, &hash);
        } else {
            let _ = tls12::verify_data(&suite, secret, Sender::Client, &hash);
        }
    }
});
