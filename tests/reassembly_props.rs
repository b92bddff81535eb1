//! Property tests for reassembly, on the server's bytes of a real TLS 1.2 handshake
//! (captures/tls12-ecdhe-chain.pcap): any segmentation, order and duplication gives the same
//! bytes; a missing piece is always reported as a gap of the right size at the right offset,
//! and never decoded around.

use proptest::prelude::*;
use tlsdiag::capture::{Timestamp, read_capture};
use tlsdiag::flow::{Limits, Reassembler};
use tlsdiag::net::{Decoded, decode};

/// The SYN-ACK's sequence number and the server's payload bytes, in order.
fn real_stream() -> (u32, Vec<u8>) {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/captures/tls12-ecdhe-chain.pcap"
    ))
    .expect("capture");
    let mut isn = None;
    let mut stream = Vec::new();
    let (_, result) = read_capture(&bytes[..], |p| {
        if let Ok(Decoded::Tcp(seg)) = decode(p)
            && seg.src_port == 443
        {
            if seg.flags.syn {
                isn = Some(seg.seq);
            } else {
                stream.extend_from_slice(seg.payload);
            }
        }
    });
    assert!(result.is_ok());
    (isn.expect("SYN-ACK"), stream)
}

/// Cuts `stream` at the given sizes (cycled) into (offset, bytes) pieces.
fn cut(stream: &[u8], sizes: &[usize]) -> Vec<(usize, Vec<u8>)> {
    let mut pieces = Vec::new();
    let mut at = 0;
    for size in sizes.iter().cycle() {
        if at >= stream.len() {
            break;
        }
        let end = (at + size).min(stream.len());
        pieces.push((at, stream[at..end].to_vec()));
        at = end;
    }
    pieces
}

fn feed(isn: u32, pieces: &[(usize, Vec<u8>)]) -> Reassembler {
    let mut r = Reassembler::new(Limits {
        max_buffered: 1 << 20,
        max_pending_segments: 100_000,
    });
    r.set_initial_seq(isn);
    for (i, (offset, bytes)) in pieces.iter().enumerate() {
        let seq = isn.wrapping_add(1).wrapping_add(*offset as u32);
        r.segment(seq, bytes, i as u64 + 1, Timestamp::default());
    }
    r
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_cut_order_and_duplication_gives_the_same_bytes(
        sizes in prop::collection::vec(1usize..300, 1..20),
        keys in prop::collection::vec(any::<u32>(), 0..4000),
        dups in prop::collection::vec(any::<bool>(), 0..4000),
    ) {
        let (isn, stream) = real_stream();
        let mut pieces = cut(&stream, &sizes);
        // Shuffle by random keys, and repeat some pieces (possibly out of place).
        let mut keyed: Vec<(u32, (usize, Vec<u8>))> = pieces
            .drain(..)
            .enumerate()
            .map(|(i, p)| (keys.get(i).copied().unwrap_or(i as u32), p))
            .collect();
        keyed.sort_by_key(|(k, _)| *k);
        let mut shuffled = Vec::new();
        for (i, (_, p)) in keyed.into_iter().enumerate() {
            if dups.get(i).copied().unwrap_or(false) {
                shuffled.push(p.clone());
            }
            shuffled.push(p);
        }
        let mut r = feed(isn, &shuffled);
        prop_assert_eq!(r.flush(0, Timestamp::default()), None);
        prop_assert_eq!(r.data(), &stream[..]);
    }

    #[test]
    fn a_missing_piece_is_a_gap_of_its_size_at_its_offset(
        sizes in prop::collection::vec(1usize..300, 1..20),
        pick in any::<prop::sample::Index>(),
    ) {
        let (isn, stream) = real_stream();
        let mut pieces = cut(&stream, &sizes);
        prop_assume!(pieces.len() >= 3);
        // Never the last piece: a hole at the very end is not visible as a gap.
        let missing = pick.index(pieces.len() - 1);
        let (offset, lost) = pieces.remove(missing);
        let mut r = feed(isn, &pieces);
        let end = pieces.len() as u64 + 1;
        let gap = r.flush(end, Timestamp::default()).expect("the hole is reported");
        // Shown first by the piece after the hole (frames count from 1), not by the flush.
        let after = missing as u64 + 1;
        prop_assert_eq!((gap.offset, gap.len, gap.frame), (offset as u64, lost.len() as u64, after));
        // Only the bytes after the hole remain; nothing was stitched across it.
        prop_assert_eq!(r.data(), &stream[offset + lost.len()..]);
        prop_assert_eq!(r.data_offset(), (offset + lost.len()) as u64);
    }
}
