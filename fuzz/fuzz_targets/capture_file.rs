//! The whole pipeline on one capture file's bytes: reader, decoding, diagnosis, reports.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlsdiag::Options;
use tlsdiag::analyze::analyze_capture;

fuzz_target!(|data: &[u8]| {
    let (analysis, _, _) = analyze_capture(data, &Options::default());
    for conn in &analysis.connections {
        let _ = serde_json::to_string(conn);
    }
});
