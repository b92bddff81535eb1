//! Bytes from a file never make tlsdiag panic: every bundled capture, with bytes flipped,
//! cut short or followed by garbage, is read to a result (connections, and an error where the
//! file is damaged). The mutations are made here from the real captures, with a fixed seed.

mod common;

use tlsdiag::Options;
use tlsdiag::analyze::analyze_capture;
use tlsdiag::capture::CaptureError;

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn flipped_bytes_never_panic() {
    let mut rng = Rng(0x7153_d1a6);
    let mut runs = 0;
    for path in common::all_captures() {
        let original = std::fs::read(&path).expect("readable");
        for _ in 0..20 {
            let mut bytes = original.clone();
            // Leave the file header alone half the time, so that packets get parsed.
            let from = if rng.below(2) == 0 {
                24.min(bytes.len())
            } else {
                0
            };
            for _ in 0..1 + rng.below(16) {
                let at = from + rng.below(bytes.len() - from);
                bytes[at] ^= 1 << rng.below(8);
            }
            let _ = analyze_capture(&bytes[..], &Options::default());
            runs += 1;
        }
    }
    assert!(runs > 500);
}

#[test]
fn truncated_files_keep_what_came_before() {
    let mut rng = Rng(0x0bad_f11e);
    for path in common::all_captures() {
        let original = std::fs::read(&path).expect("readable");
        let (whole, whole_stats, _) = analyze_capture(&original[..], &Options::default());
        for _ in 0..30 {
            let cut = rng.below(original.len());
            let (analysis, stats, result) = analyze_capture(&original[..cut], &Options::default());
            assert!(stats.packets <= whole_stats.packets, "{}", path.display());
            assert!(analysis.connections.len() <= whole.connections.len() + 1);
            // A cut inside a record is reported as truncation; one at a record boundary is a
            // shorter valid file.
            assert!(
                matches!(
                    result,
                    Ok(()) | Err(CaptureError::Truncated { .. } | CaptureError::Empty)
                ),
                "{} cut at {cut}: {result:?}",
                path.display()
            );
        }
    }
}

#[test]
fn garbage_after_a_valid_file_is_reported_as_damage() {
    let path = common::captures_dir().join("protocol-version.pcap");
    let mut bytes = std::fs::read(path).expect("readable");
    let (clean, _, ok) = analyze_capture(&bytes[..], &Options::default());
    assert!(ok.is_ok());
    let mut rng = Rng(42);
    bytes.extend((0..3000).map(|_| rng.next() as u8));
    let (analysis, _, result) = analyze_capture(&bytes[..], &Options::default());
    assert!(
        result.is_err(),
        "garbage after the last packet must be reported"
    );
    assert_eq!(
        analysis.connections.len(),
        clean.connections.len(),
        "the connections before it survive"
    );
    assert_eq!(
        analysis.connections[0].verdict,
        clean.connections[0].verdict
    );
}

#[test]
fn a_full_connection_table_evicts_the_least_recent_and_counts_it() {
    let path = common::captures_dir().join("interleaved.pcap");
    let bytes = std::fs::read(path).expect("readable");
    let (roomy, _, _) = analyze_capture(&bytes[..], &Options::default());
    assert_eq!(roomy.counters.evicted_connections, 0);
    let tight = Options {
        max_connections: 2,
        ..Options::default()
    };
    let (analysis, _, result) = analyze_capture(&bytes[..], &tight);
    assert!(result.is_ok());
    assert!(
        analysis.counters.evicted_connections >= 3,
        "{}",
        analysis.counters.evicted_connections
    );
    // Every connection is still reported, judged as far as its packets went.
    assert!(analysis.connections.len() >= roomy.connections.len());
}

/// The files of captures/broken/, made from real captures by captures/make_broken.py.
fn broken(name: &str) -> (tlsdiag::analyze::Analysis, Result<(), CaptureError>) {
    let path = common::captures_dir().join("broken").join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (analysis, _, result) = analyze_capture(&bytes[..], &Options::default());
    (analysis, result)
}

fn outcomes(a: &tlsdiag::analyze::Analysis) -> Vec<(u64, tlsdiag::connection::Outcome)> {
    a.connections
        .iter()
        .map(|c| (c.tcp_stream, c.verdict.outcome))
        .collect()
}

#[test]
fn broken_files_say_what_and_where_and_keep_what_came_before() {
    let whole = common::analyze_named("interleaved.pcap");

    let (a, r) = broken("truncated-mid-record.pcap");
    assert!(
        matches!(r, Err(CaptureError::Truncated { offset: 10575 })),
        "{r:?}"
    );
    assert_eq!(
        a.connections.len(),
        3,
        "the connections begun before the cut"
    );

    let (a, r) = broken("garbage-appended.pcap");
    assert!(
        matches!(r, Err(CaptureError::Truncated { offset: 16594 })),
        "{r:?}"
    );
    assert_eq!(
        outcomes(&a),
        outcomes(&whole),
        "every verdict survives the garbage after it"
    );

    let (a, r) = broken("record-claims-2gb.pcap");
    assert!(
        matches!(r, Err(CaptureError::Truncated { offset: 15176 })),
        "{r:?}"
    );
    assert_eq!(a.connections.len(), 5);

    let (a, r) = broken("zero-length-record.pcap");
    assert!(r.is_ok(), "an empty record is odd but readable: {r:?}");
    assert_eq!(outcomes(&a), outcomes(&whole));
    assert_eq!(a.counters.malformed, 1, "the empty record is counted");

    let (_, r) = broken("not-a-capture.pcap");
    assert!(matches!(r, Err(CaptureError::NotACapture)), "{r:?}");
    let (_, r) = broken("empty.pcap");
    assert!(matches!(r, Err(CaptureError::Empty)), "{r:?}");

    let (a, r) = broken("pcapng-bad-block-length.pcapng");
    assert!(
        matches!(r, Err(CaptureError::Malformed { offset: 1000, .. })),
        "{r:?}"
    );
    assert_eq!(
        a.connections.len(),
        1,
        "the connection read before the damage is reported"
    );

    let ng = common::analyze_named("tls12-dumpcap.pcapng");
    let (a, r) = broken("pcapng-unknown-block.pcapng");
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(
        outcomes(&a),
        outcomes(&ng),
        "a block of unknown type is skipped"
    );
}
