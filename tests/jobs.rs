//! `-j N` reports what `-j 1` reports, in the same order, with the same tcp.stream numbers and
//! counters: on every bundled capture, and on one file holding all of them at once (derived
//! here: each real capture's packets moved to start a quarter of a second after the previous
//! one's, and all of them merged by time, so that many connections overlap and share the
//! workers).

mod common;

use common::derive::{Owned, analyze_packets, read_packets, shifted, write_pcap};
use tlsdiag::Options;
use tlsdiag::analyze::PacketCounters;
use tlsdiag::capture::{LinkType, Timestamp};
use tlsdiag::shard;

/// The report, one JSON line per connection in output order, and the counters.
fn run(bytes: &[u8], jobs: usize) -> (Vec<String>, PacketCounters) {
    let mut lines = Vec::new();
    let done = shard::analyze(bytes, &Options::default(), jobs, |c| {
        lines.push(serde_json::to_string(&c).unwrap());
    });
    assert!(done.result.is_ok(), "{:?}", done.result);
    (lines, done.counters)
}

fn assert_same_for_any_jobs(name: &str, bytes: &[u8]) -> Vec<String> {
    let (one, counters) = run(bytes, 1);
    for jobs in [2, 3, 4, 7] {
        let (many, many_counters) = run(bytes, jobs);
        assert_eq!(one.len(), many.len(), "{name}: -j {jobs}");
        for (i, (a, b)) in one.iter().zip(&many).enumerate() {
            assert_eq!(a, b, "{name}: -j {jobs}, connection #{i}");
        }
        assert_eq!(counters, many_counters, "{name}: -j {jobs}");
    }
    one
}

#[test]
fn every_bundled_capture_reports_the_same_with_any_number_of_jobs() {
    for path in common::all_captures() {
        let bytes = std::fs::read(&path).unwrap();
        assert_same_for_any_jobs(&path.display().to_string(), &bytes);
    }
}

/// All Ethernet captures in one file, overlapping in time.
fn everything_at_once() -> Vec<Owned> {
    let mut all = Vec::new();
    let mut start = Timestamp::new(1_700_000_000, 0);
    for path in common::all_captures() {
        let packets = read_packets(&path);
        if packets.iter().any(|p| p.link != LinkType::ETHERNET) {
            continue;
        }
        all.extend(shifted(&packets, start));
        start = start.after(0.25);
    }
    all.sort_by_key(|p| p.ts);
    all
}

#[test]
fn many_overlapping_connections_report_the_same_with_any_number_of_jobs() {
    let packets = everything_at_once();
    let bytes = write_pcap(&packets);
    let report = assert_same_for_any_jobs("all captures at once", &bytes);
    assert!(report.len() >= 40, "{} connections", report.len());

    // And what the library's analyzer reports, by tcp.stream: the order changed, nothing else.
    let library = analyze_packets(&packets, &Options::default());
    let mut ours: Vec<(u64, String)> = report
        .iter()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            (v["tcp_stream"].as_u64().unwrap(), line.clone())
        })
        .collect();
    ours.sort();
    let theirs: Vec<(u64, String)> = library
        .connections
        .iter()
        .map(|c| (c.tcp_stream, serde_json::to_string(c).unwrap()))
        .collect();
    assert_eq!(ours, theirs);
}

#[test]
fn the_command_line_report_is_the_same_with_any_number_of_jobs() {
    let path = std::env::temp_dir().join(format!("tlsdiag-jobs-{}.pcap", std::process::id()));
    std::fs::write(&path, write_pcap(&everything_at_once())).unwrap();
    let out = |jobs: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tlsdiag"))
            .args(["analyze", "--format", "json", "-j", jobs])
            .arg(&path)
            .output()
            .unwrap();
        assert!(!out.stdout.is_empty());
        out.stdout
    };
    let one = out("1");
    for jobs in ["2", "4"] {
        assert!(one == out(jobs), "-j {jobs} differs from -j 1");
    }
    std::fs::remove_file(&path).ok();
}
