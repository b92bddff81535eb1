//! A file is analysed as a stream: a connection closed and quiet for `linger` seconds of
//! capture time is judged and removed while the reading goes on, so memory follows the
//! connections open. The verdicts must be those of holding everything to the end, and a
//! connection's stragglers (a late ACK) must be counted, not opened as a connection of their
//! own, which would also shift every later tcp.stream number away from Wireshark's.
//!
//! The captures here are derived from real ones by this file: several single-connection
//! captures played one after the other, ten seconds apart; one with its last packet repeated
//! later.

mod common;

use common::derive::{Owned, analyze_packets, facts, packet, read_packets, shifted, write_pcap};
use std::collections::BTreeSet;
use tlsdiag::Options;
use tlsdiag::analyze::Analyzer;
use tlsdiag::capture::Timestamp;

/// Closed single-connection captures of several stacks and outcomes.
const CAPTURES: &[&str] = &[
    "tls13-sni-alpn.pcap",
    "tls12-ecdhe-chain.pcap",
    "cert-expired.pcap",
    "unknown-ca.pcap",
    "no-shared-cipher.pcap",
    "client-reset.pcap",
    "server-close.pcap",
];

/// The captures one after the other, ten seconds apart.
fn sequence() -> (Vec<Vec<Owned>>, Vec<Owned>) {
    let parts: Vec<Vec<Owned>> = CAPTURES
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let packets = read_packets(&common::captures_dir().join(name));
            shifted(&packets, Timestamp::new(1_700_000_000 + 10 * i as i64, 0))
        })
        .collect();
    let all = parts.iter().flatten().cloned().collect();
    (parts, all)
}

#[test]
fn closed_connections_come_out_while_the_file_is_read_with_the_same_verdicts() {
    let (parts, all) = sequence();
    let alone: Vec<String> = parts
        .iter()
        .map(|p| {
            let a = analyze_packets(p, &Options::default());
            assert_eq!(a.connections.len(), 1);
            facts(&a.connections[0])
        })
        .collect();

    let mut analyzer = Analyzer::new(Options::default());
    let mut early = Vec::new();
    for (i, p) in all.iter().enumerate() {
        analyzer.packet(&packet(p, i));
        for c in analyzer.take_finished() {
            early.push((i, c));
        }
    }
    let open_at_end = analyzer.open_connections();
    let rest = analyzer.finish();
    // Every connection but the last was judged during the reading, one capture-second after
    // it closed plus the linger, and none was held to the end.
    assert_eq!(
        early.len(),
        CAPTURES.len() - 1,
        "judged early: {}",
        early.len()
    );
    assert_eq!(open_at_end, 1);
    let mut seen: Vec<(u64, String)> = early
        .iter()
        .map(|(_, c)| (c.tcp_stream, facts(c)))
        .chain(rest.connections.iter().map(|c| (c.tcp_stream, facts(c))))
        .collect();
    seen.sort();
    let streams: Vec<u64> = seen.iter().map(|(s, _)| *s).collect();
    assert_eq!(streams, (0..CAPTURES.len() as u64).collect::<Vec<_>>());
    let verdicts: Vec<String> = seen.into_iter().map(|(_, f)| f).collect();
    assert_eq!(verdicts, alone);
    // And in the order they closed: each part's connection came out during a later part.
    let parts_len: Vec<usize> = parts.iter().map(Vec::len).collect();
    for (k, (i, c)) in early.iter().enumerate() {
        let part_end: usize = parts_len[..=k].iter().sum();
        assert!(
            *i >= part_end,
            "stream {} came out at packet {i}",
            c.tcp_stream
        );
        assert_eq!(c.tcp_stream, k as u64);
    }
}

#[test]
fn a_straggler_after_the_connection_was_judged_is_counted_not_a_new_connection() {
    let original = read_packets(&common::captures_dir().join("tls13-sni-alpn.pcap"));
    let last = original.last().expect("packets").clone();
    let mut derived = original.clone();
    // The last ACK again, thirty seconds later: long after the connection was retired.
    let mut late = last.clone();
    late.ts = Timestamp::new(last.ts.secs + 30, last.ts.nanos);
    derived.push(late);
    let a = analyze_packets(&derived, &Options::default());
    assert_eq!(a.connections.len(), 1);
    assert_eq!(a.counters.packets_after_close, 1);
    assert_eq!(a.counters.tcp_conversations, 1);
    assert_eq!(
        facts(&a.connections[0]),
        facts(&analyze_packets(&original, &Options::default()).connections[0])
    );
    // Wireshark too sees one conversation.
    if let Some(streams) = tshark_streams(&derived) {
        assert_eq!(streams, BTreeSet::from([0]));
    }
}

/// The tcp.stream numbers tshark gives the packets, when tshark is there.
fn tshark_streams(packets: &[Owned]) -> Option<BTreeSet<u64>> {
    if !common::tshark_available() {
        return None;
    }
    let path = std::env::temp_dir().join(format!("tlsdiag-straggler-{}.pcap", std::process::id()));
    std::fs::write(&path, write_pcap(packets)).expect("temporary file");
    let out = std::process::Command::new("tshark")
        .arg("-r")
        .arg(&path)
        .args(["-T", "fields", "-e", "tcp.stream"])
        .output()
        .expect("tshark runs");
    let _ = std::fs::remove_file(&path);
    assert!(out.status.success());
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect(),
    )
}
