//! Certificate decoding and the checks made on it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(cert) = tlsdiag::tls::certificate::decode_certificate(data) {
        let _ = cert.valid_at(0);
        let _ = cert.matches_host("a.example.test");
    }
});
