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
fn run_with(bytes: &[u8], jobs: usize, options: &Options) -> (Vec<String>, PacketCounters) {
    let mut lines = Vec::new();
    let done = shard::analyze(bytes, options, jobs, |c| {
        lines.push(serde_json::to_string(&c.conn).unwrap());
    });
    assert!(done.result.is_ok(), "{:?}", done.result);
    (lines, done.counters)
}

/// The tcp.stream of a connection's JSON line.
fn tcp_stream(line: &str) -> u64 {
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    v["tcp_stream"].as_u64().unwrap()
}

fn assert_same_for_any_jobs(name: &str, bytes: &[u8]) -> Vec<String> {
    assert_same_for_any_jobs_with(name, bytes, &Options::default())
}

fn assert_same_for_any_jobs_with(name: &str, bytes: &[u8], options: &Options) -> Vec<String> {
    let (one, counters) = run_with(bytes, 1, options);
    for jobs in [2, 3, 4, 7] {
        let (many, many_counters) = run_with(bytes, jobs, options);
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
        .map(|line| (tcp_stream(line), line.clone()))
        .collect();
    ours.sort();
    let theirs: Vec<(u64, String)> = library
        .connections
        .iter()
        .map(|c| (c.tcp_stream, serde_json::to_string(c).unwrap()))
        .collect();
    assert_eq!(ours, theirs);
}

/// Conversations that are not reported (no TLS, and no TLS port when none is named) still
/// count for tcp.stream: the workers tell the merger of them, and the numbers of the others
/// are those one thread gives.
#[test]
fn conversations_not_reported_still_count_for_tcp_stream_with_any_number_of_jobs() {
    let bytes = write_pcap(&everything_at_once());
    let all = assert_same_for_any_jobs("all captures at once", &bytes);
    let options = Options {
        tls_ports: Vec::new(),
        ..Options::default()
    };
    let report = assert_same_for_any_jobs_with("all captures, no TLS port", &bytes, &options);
    let streams: Vec<u64> = report.iter().map(|line| tcp_stream(line)).collect();
    // Some conversations were left out, and the numbers of those reported skip them.
    assert!(
        report.len() < all.len(),
        "{} of {}",
        report.len(),
        all.len()
    );
    let last = streams.iter().max().copied().unwrap_or(0);
    assert!(last + 1 > report.len() as u64, "no gap in {streams:?}");
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
