//! Property tests on whole real captures: any segmentation, reordering, duplication and
//! overlap of a connection's packets gives the same facts and verdict; a segment the capture
//! lost before the handshake was decided gives `stream_gap` (or the same verdict, when what
//! survives still proves it), never a wrong decode.

mod common;

use common::derive::{Owned, Rng, Tcp, analyze_packets, facts, read_packets, resegment};
use proptest::prelude::*;
use tlsdiag::Options;
use tlsdiag::connection::{Code, Outcome};

/// Single-connection captures of several stacks and outcomes, with no retransmission (so
/// that every payload packet carries bytes seen nowhere else).
const CAPTURES: &[&str] = &[
    "tls12-ecdhe-chain.pcap",
    "tls13-sni-alpn.pcap",
    "cert-expired.pcap",
    "unknown-ca.pcap",
    "no-shared-cipher.pcap",
    "resumed-tls13.pcap",
    "client-cert-required-tls13.pcap",
];

fn capture(i: usize) -> Vec<Owned> {
    read_packets(&common::captures_dir().join(CAPTURES[i % CAPTURES.len()]))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn any_segmentation_order_duplication_and_overlap_keeps_the_verdict(
        which in 0..CAPTURES.len(),
        // Smaller pieces of a flight exceed --max-out-of-order (512) and are limit_reached.
        size in 16usize..400,
        overlap in 0usize..24,
        seed in 1u64..u64::MAX,
        duplicate_one_in in 2u64..8,
    ) {
        let original = capture(which);
        let mut rng = Rng(seed);
        let mut derived = Vec::new();
        for p in &original {
            let mut pieces = resegment(p, size, overlap);
            // Shuffle each packet's pieces (Fisher-Yates), repeating some.
            for i in (1..pieces.len()).rev() {
                let j = (rng.next() % (i as u64 + 1)) as usize;
                pieces.swap(i, j);
            }
            for piece in pieces {
                if rng.next().is_multiple_of(duplicate_one_in) {
                    derived.push(piece.clone());
                }
                derived.push(piece);
            }
        }
        let a = analyze_packets(&original, &Options::default());
        let b = analyze_packets(&derived, &Options::default());
        prop_assert_eq!(a.connections.len(), b.connections.len());
        for (x, y) in a.connections.iter().zip(&b.connections) {
            prop_assert_eq!(facts(x), facts(y));
        }
    }

    #[test]
    fn a_lost_segment_before_the_decision_is_a_stream_gap(
        which in 0..CAPTURES.len(),
        pick in 0usize..1000,
        size in 50usize..600,
    ) {
        let original: Vec<Owned> = capture(which)
            .iter()
            .flat_map(|p| resegment(p, size, 0))
            .collect();
        let before = analyze_packets(&original, &Options::default());
        prop_assume!(before.connections.len() == 1);
        let decided_at = before.connections[0].verdict.frame as usize;
        // Payload packets before the decisive frame (frames count from 1).
        let candidates: Vec<usize> = original
            .iter()
            .enumerate()
            .take(decided_at.saturating_sub(1))
            .filter(|(_, p)| Tcp::of(&mut (*p).clone()).is_some_and(|t| !t.payload().is_empty()))
            .map(|(i, _)| i)
            .collect();
        prop_assume!(!candidates.is_empty());
        let lost = candidates[pick % candidates.len()];
        let mut with_gap = original.clone();
        with_gap.remove(lost);
        let after = analyze_packets(&with_gap, &Options::default());
        prop_assert_eq!(after.connections.len(), 1);
        let c = &after.connections[0];
        prop_assert_eq!(c.gaps.len(), 1, "the hole is reported");
        // What survives the hole may still prove the outcome (a TLS 1.2 server's Finished
        // proves it verified the client's); anything else is a stream gap, never another
        // verdict.
        let same = c.verdict.outcome == before.connections[0].verdict.outcome
            && c.diagnosis.as_ref().map(|d| d.code)
                == before.connections[0].diagnosis.as_ref().map(|d| d.code);
        let gap = c.verdict.outcome == Outcome::Incomplete
            && c.diagnosis.as_ref().map(|d| d.code) == Some(Code::StreamGap);
        prop_assert!(same || gap, "{:?}: {}", c.verdict.outcome, c.verdict.reason);
    }
}
