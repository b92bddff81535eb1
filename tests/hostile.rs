//! Hostile input derived from the real captures: tlsdiag's limits bite and are counted, a SYN
//! flood stays within the connection table, a declared 16 MB handshake message is refused,
//! garbage before a ClientHello is not buffered, clocks that jump or duplicate packets do
//! not change what is read, and a pcapng section's interfaces are kept only up to a bound. Peak memory for the large cases is measured in
//! `benches/hostile.sh`, not here.

mod common;

use common::derive::{
    Owned, Tcp, analyze_packets, facts, garbage_before_hello, read_packets, syn_flood, tcp_offsets,
    wire_facts,
};
use tlsdiag::Options;
use tlsdiag::capture::{LinkType, Timestamp};
use tlsdiag::connection::{Code, Outcome, WarningCode};

fn capture(name: &str) -> Vec<Owned> {
    read_packets(&common::captures_dir().join(name))
}

fn with(f: impl FnOnce(&mut Options)) -> Options {
    let mut o = Options::default();
    f(&mut o);
    o
}

fn only(a: &tlsdiag::Analysis) -> &tlsdiag::connection::Connection {
    assert_eq!(a.connections.len(), 1);
    &a.connections[0]
}

#[test]
fn certificate_limits_leave_the_verdict_and_say_what_was_skipped() {
    let packets = capture("tls12-ecdhe-chain.pcap");
    let chain = analyze_packets(&packets, &with(|o| o.tls.max_chain = 1));
    let conn = only(&chain);
    assert_eq!(conn.verdict.outcome, Outcome::Established);
    assert_eq!(chain.counters.certificates_over_limit, 1);
    let codes: Vec<_> = conn.warnings.iter().map(|w| w.code).collect();
    // The intermediate was sent but not decoded: no false "chain incomplete".
    assert_eq!(codes, [WarningCode::LimitReached]);

    let size = analyze_packets(&packets, &with(|o| o.tls.max_certificate = 500));
    assert_eq!(only(&size).verdict.outcome, Outcome::Established);
    assert_eq!(size.counters.certificates_over_limit, 2);
    assert!(only(&size).certificates.is_empty());

    let roomy = analyze_packets(&packets, &Options::default());
    assert_eq!(roomy.counters.certificates_over_limit, 0);
    assert_eq!(only(&roomy).certificates.len(), 2);
}

#[test]
fn a_handshake_message_over_the_limit_is_refused_and_the_verdict_says_so() {
    let packets = capture("tls12-ecdhe-chain.pcap");
    let a = analyze_packets(&packets, &with(|o| o.tls.max_handshake_message = 1000));
    let conn = only(&a);
    let d = conn.diagnosis.as_ref().expect("diagnosed");
    assert_eq!(
        (conn.verdict.outcome, d.code),
        (Outcome::Incomplete, Code::LimitReached)
    );
    assert_eq!(d.frame, 6, "the server's Certificate arrives in frame 6");
    assert!(d.summary.contains("declared 1783 bytes"), "{}", d.summary);
    assert_eq!(a.counters.handshake_messages_over_limit, 1);
}

/// The ClientHello's handshake header rewritten to declare 16 MB (0xffffff bytes): refused at
/// once, not awaited (awaiting would hold the connection's bytes until the limit).
#[test]
fn a_declared_16_mb_handshake_message_is_refused_when_its_header_is_read() {
    let mut packets = capture("tls12-ecdhe-chain.pcap");
    let hello = packets
        .iter_mut()
        .find_map(|p| {
            let t = Tcp::of(p)?;
            (t.payload().first() == Some(&0x16)).then_some(p)
        })
        .expect("a ClientHello");
    let (_, at) = tcp_offsets(&hello.data).unwrap();
    assert_eq!(hello.data[at + 5], 1, "handshake type ClientHello");
    hello.data[at + 6..at + 9].copy_from_slice(&[0xff, 0xff, 0xff]);
    let a = analyze_packets(&packets, &Options::default());
    let conn = only(&a);
    // The server still completed its side (its Finished is in the capture), so the verdict
    // stands, with the refusal as a warning.
    assert_eq!(conn.verdict.outcome, Outcome::Established);
    assert_eq!(conn.sni, None);
    let w = &conn.warnings[0];
    assert_eq!(w.code, WarningCode::LimitReached);
    assert!(
        w.summary.contains("client's stream at frame 4"),
        "{}",
        w.summary
    );
    assert!(
        w.summary.contains("declared 16777219 bytes"),
        "{}",
        w.summary
    );
    assert_eq!(a.counters.handshake_messages_over_limit, 1);
}

#[test]
fn a_full_direction_buffer_is_a_limit_not_a_capture_loss() {
    let packets = capture("tls12-ecdhe-chain.pcap");
    let a = analyze_packets(&packets, &with(|o| o.reassembly.max_buffered = 1000));
    let d = only(&a).diagnosis.as_ref().expect("diagnosed");
    assert_eq!(d.code, Code::LimitReached);
    assert!(d.summary.contains("--max-buffered"), "{}", d.summary);
    assert!(a.counters.segments_over_buffer_limit >= 1);
}

/// The server's flight cut into 100-byte segments sent last-first: every one but the first
/// waits out of order, so a bound of 4 bites.
#[test]
fn too_many_out_of_order_segments_is_a_limit() {
    let mut packets = Vec::new();
    for p in capture("tls12-ecdhe-chain.pcap") {
        let Some((_, at)) = tcp_offsets(&p.data) else {
            packets.push(p);
            continue;
        };
        let payload = p.data[at..].to_vec();
        if payload.len() <= 1000 {
            packets.push(p);
            continue;
        }
        let mut pieces: Vec<Owned> = payload
            .chunks(100)
            .enumerate()
            .map(|(i, chunk)| {
                let mut q = p.clone();
                let mut t = Tcp::of(&mut q).unwrap();
                let seq = t.seq().wrapping_add(i as u32 * 100);
                t.set_seq(seq);
                t.set_payload(chunk);
                q
            })
            .collect();
        pieces.reverse();
        packets.extend(pieces);
    }
    let roomy = analyze_packets(&packets, &Options::default());
    assert_eq!(only(&roomy).verdict.outcome, Outcome::Established);
    let a = analyze_packets(&packets, &with(|o| o.reassembly.max_pending_segments = 4));
    let d = only(&a).diagnosis.as_ref().expect("diagnosed");
    assert_eq!(d.code, Code::LimitReached);
    assert!(d.summary.contains("--max-out-of-order"), "{}", d.summary);
    assert!(a.counters.segments_over_out_of_order_limit > 0);
}

/// The real SYN of tcp-no-response.pcap, sent from 100,000 random spoofed sources.
#[test]
fn a_syn_flood_stays_within_the_connection_table() {
    let syn = capture("tcp-no-response.pcap")
        .into_iter()
        .find(|p| tcp_offsets(&p.data).is_some())
        .expect("a SYN");
    let n = 100_000;
    let mut flood = Vec::new();
    syn_flood(&syn, n, |p| flood.push(p));
    let a = analyze_packets(&flood, &with(|o| o.max_connections = 1000));
    let c = &a.counters;
    assert_eq!(c.tcp_packets, n as u64);
    // A random 4-tuple can repeat: each repeat is a retransmitted SYN of the same connection.
    assert!(
        c.tcp_conversations > n as u64 - 100,
        "{}",
        c.tcp_conversations
    );
    assert_eq!(c.evicted_connections, c.tcp_conversations - 1000);
    assert_eq!(a.connections.len() as u64, c.tcp_conversations);
    // One SYN each, never retransmitted: the capture shows no timeout, only its own end.
    assert!(
        a.connections
            .iter()
            .all(|conn| conn.diagnosis.as_ref().map(|d| d.code) == Some(Code::CaptureEnded)),
    );
}

fn garbage(bytes: usize) -> Vec<Owned> {
    let mut out = Vec::new();
    garbage_before_hello(&capture("tls12-ecdhe-chain.pcap"), bytes, |p| out.push(p));
    out
}

#[test]
fn garbage_before_a_client_hello_is_scanned_a_little_then_not_buffered() {
    // A short prefix is scanned for the hello, as for STARTTLS.
    let short = analyze_packets(&garbage(20_000), &Options::default());
    let conn = only(&short);
    assert_eq!(conn.sni.as_ref().map(|s| s.as_str()), Some("server.test"));
    assert_eq!(conn.verdict.outcome, Outcome::Established);
    assert!(
        conn.timeline
            .iter()
            .filter_map(|e| e.detail.as_ref())
            .any(|d| d.to_string() == "after 20000 bytes of plaintext")
    );
    // 8 MiB, twice the default buffer: the client's direction is given up after the scan
    // window and nothing more is held. The server's side is still read.
    let long = analyze_packets(&garbage(8 << 20), &Options::default());
    let conn = only(&long);
    assert_eq!(conn.sni, None, "the hello lies beyond the scan window");
    assert!(conn.plaintext.client.is_some());
    assert_eq!(conn.certificates.len(), 2);
    assert_eq!(long.counters.segments_over_buffer_limit, 0);
    assert_eq!(conn.tcp.dropped_segments, 0);
}

/// Ethernet/IPv4 captures, each with its packets' times rewritten by `retime(index, ts)`.
fn retimed_captures(
    retime: impl Fn(usize, Timestamp) -> Timestamp,
) -> Vec<(String, Vec<Owned>, Vec<Owned>)> {
    common::all_captures()
        .into_iter()
        .map(|path| (path.display().to_string(), read_packets(&path)))
        .filter(|(_, p)| p.iter().all(|p| p.link == LinkType::ETHERNET))
        .map(|(name, original)| {
            let changed = original
                .iter()
                .enumerate()
                .map(|(i, p)| Owned {
                    ts: retime(i, p.ts),
                    ..p.clone()
                })
                .collect();
            (name, original, changed)
        })
        .collect()
}

#[test]
fn clocks_that_go_backwards_or_jump_years_change_no_wire_fact() {
    // Every third packet an hour early, every seventh thirty years late.
    let cases = retimed_captures(|i, ts| match i {
        i if i % 7 == 6 => Timestamp::new(ts.secs + 30 * 365 * 86_400, ts.nanos),
        i if i % 3 == 2 => Timestamp::new(ts.secs - 3600, ts.nanos),
        _ => ts,
    });
    assert!(cases.len() >= 40);
    for (name, original, changed) in &cases {
        let a = analyze_packets(original, &Options::default());
        let b = analyze_packets(changed, &Options::default());
        assert_eq!(a.connections.len(), b.connections.len(), "{name}");
        for (x, y) in a.connections.iter().zip(&b.connections) {
            assert_eq!(
                wire_facts(x),
                wire_facts(y),
                "{name} stream {}",
                x.tcp_stream
            );
            // The duration is reported as measured: negative or huge, never a panic.
            let _ = serde_json::to_string(y).unwrap();
        }
    }
}

/// A capture taken on two interfaces at once holds every packet twice.
#[test]
fn every_packet_twice_keeps_every_verdict() {
    let mut compared = 0;
    for path in common::all_captures() {
        let original = read_packets(&path);
        if original.iter().any(|p| p.link != LinkType::ETHERNET) {
            continue;
        }
        let doubled: Vec<Owned> = original
            .iter()
            .flat_map(|p| {
                let mut again = p.clone();
                again.ts = Timestamp::new(p.ts.secs, p.ts.nanos + 1_000);
                [p.clone(), again]
            })
            .collect();
        let a = analyze_packets(&original, &Options::default());
        let b = analyze_packets(&doubled, &Options::default());
        let name = path.display();
        assert_eq!(a.connections.len(), b.connections.len(), "{name}");
        for (x, y) in a.connections.iter().zip(&b.connections) {
            assert_eq!(facts(x), facts(y), "{name} stream {}", x.tcp_stream);
            compared += 1;
        }
    }
    assert!(compared >= 40, "{compared}");
}

/// A pcapng section describing more interfaces than tlsdiag keeps (`MAX_INTERFACES`), derived
/// here from the bundled dumpcap capture: its interface description repeated past the bound
/// before its packets, then each of its packet blocks once more, naming an interface past the
/// bound. The real packets are analysed as in the original; the copies are counted as orphans
/// (the interfaces beyond the bound are not kept, so memory stays bounded), not analysed.
#[test]
fn interfaces_beyond_the_bound_are_skipped_and_their_packets_counted() {
    use pcap_parser::pcapng::{Block, parse_block_le};
    use tlsdiag::capture::MAX_INTERFACES;

    let path = common::captures_dir().join("tls12-dumpcap.pcapng");
    let original = std::fs::read(&path).unwrap();
    // The blocks as bytes, split where pcap-parser reads them (the file is little-endian).
    let mut blocks: Vec<(&[u8], bool, bool)> = Vec::new();
    let mut rest = &original[..];
    while !rest.is_empty() {
        let (next, block) = parse_block_le(rest).unwrap();
        let raw = &rest[..rest.len() - next.len()];
        let idb = matches!(block, Block::InterfaceDescription(_));
        let epb = matches!(block, Block::EnhancedPacket(_));
        blocks.push((raw, idb, epb));
        rest = next;
    }
    let idbs: Vec<&[u8]> = blocks.iter().filter(|b| b.1).map(|b| b.0).collect();
    assert_eq!(idbs.len(), 1, "one interface in the original");
    let epbs: Vec<&[u8]> = blocks.iter().filter(|b| b.2).map(|b| b.0).collect();
    assert!(!epbs.is_empty());

    let mut derived = Vec::new();
    for (raw, idb, _) in &blocks {
        if *idb {
            for _ in 0..MAX_INTERFACES + 3 {
                derived.extend_from_slice(idbs[0]);
            }
        } else {
            derived.extend_from_slice(raw);
        }
    }
    let beyond = u32::try_from(MAX_INTERFACES + 1).unwrap();
    for epb in &epbs {
        let mut copy = epb.to_vec();
        // The interface ID follows the block type and length.
        copy[8..12].copy_from_slice(&beyond.to_le_bytes());
        derived.extend_from_slice(&copy);
    }

    let (ours, stats, result) =
        tlsdiag::analyze::analyze_capture(&derived[..], &Options::default());
    assert!(result.is_ok(), "{result:?}");
    let (theirs, original_stats) = common::analyze_path(&path);
    assert_eq!(stats.packets, original_stats.packets);
    assert_eq!(stats.orphan_packets, epbs.len() as u64);
    assert_eq!(stats.skipped_blocks, original_stats.skipped_blocks + 3);
    let facts_of = |a: &tlsdiag::Analysis| a.connections.iter().map(facts).collect::<Vec<_>>();
    assert_eq!(facts_of(&ours), facts_of(&theirs));
    assert!(!ours.connections.is_empty());
}
