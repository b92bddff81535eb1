//! Verdicts do not depend on how TCP cut the bytes: every Ethernet/IPv4 capture in captures/ is
//! re-segmented here into many small segments, each packet's pieces sent out of order with some
//! sent twice, and every connection must keep its facts and its diagnosis.
//!
//! The derived packets are the real packets with their payload split: the link and IP headers
//! are copied, the IP length and TCP sequence number adjusted, nothing else invented
//! (checksums are not recomputed; tlsdiag does not verify them, as loopback captures carry
//! none). Frame numbers change with the split, so verdicts are compared without them.

mod common;

use common::derive::{Owned, analyze_packets, facts, read_packets, tcp_offsets};
use tlsdiag::Options;
use tlsdiag::capture::LinkType;

/// Splits one packet's payload into `size`-byte pieces, as separate packets.
fn split(p: &Owned, size: usize) -> Vec<Owned> {
    let Some((tcp, payload_at)) = tcp_offsets(&p.data) else {
        return vec![Owned {
            ts: p.ts,
            link: p.link,
            data: p.data.clone(),
        }];
    };
    let ip_len = usize::from(u16::from_be_bytes([p.data[16], p.data[17]]));
    let end = (14 + ip_len).min(p.data.len());
    let payload = &p.data[payload_at..end];
    let syn_or_fin = p.data[tcp + 13] & 0x03 != 0;
    if payload.len() <= size || syn_or_fin {
        return vec![Owned {
            ts: p.ts,
            link: p.link,
            data: p.data.clone(),
        }];
    }
    let seq = u32::from_be_bytes([
        p.data[tcp + 4],
        p.data[tcp + 5],
        p.data[tcp + 6],
        p.data[tcp + 7],
    ]);
    payload
        .chunks(size)
        .enumerate()
        .map(|(i, chunk)| {
            let mut data = p.data[..payload_at].to_vec();
            let new_ip_len = (payload_at - 14 + chunk.len()) as u16;
            data[16..18].copy_from_slice(&new_ip_len.to_be_bytes());
            data[tcp + 4..tcp + 8]
                .copy_from_slice(&seq.wrapping_add((i * size) as u32).to_be_bytes());
            data.extend_from_slice(chunk);
            Owned {
                ts: p.ts,
                link: p.link,
                data,
            }
        })
        .collect()
}

/// Each packet's pieces: the even ones first, then the odd ones, and every third one twice.
fn scramble(pieces: Vec<Owned>) -> Vec<Owned> {
    if pieces.len() < 2 {
        return pieces;
    }
    let mut out = Vec::new();
    for (i, piece) in pieces.iter().enumerate().filter(|(i, _)| i % 2 == 1) {
        out.push(Owned {
            ts: piece.ts,
            link: piece.link,
            data: piece.data.clone(),
        });
        if i % 3 == 0 {
            out.push(Owned {
                ts: piece.ts,
                link: piece.link,
                data: piece.data.clone(),
            });
        }
    }
    out.extend(pieces.into_iter().step_by(2));
    out
}

#[test]
fn resegmented_and_reordered_captures_keep_their_verdicts() {
    let mut compared = 0;
    let mut extra_packets = 0;
    for path in common::all_captures() {
        let packets = read_packets(&path);
        if packets
            .iter()
            .any(|p| p.link != LinkType::ETHERNET || tcp_offsets(&p.data).is_none())
        {
            continue; // SLL2, VLAN, IPv6, ICMP: the splitting above reads Ethernet/IPv4/TCP only
        }
        let original = analyze_packets(&packets, &Options::default());
        let derived: Vec<Owned> = packets
            .iter()
            .flat_map(|p| scramble(split(p, 37)))
            .collect();
        extra_packets += derived.len() - packets.len();
        let resegmented = analyze_packets(&derived, &Options::default());
        let name = path.display();
        assert_eq!(
            original.connections.len(),
            resegmented.connections.len(),
            "{name}"
        );
        for (a, b) in original.connections.iter().zip(&resegmented.connections) {
            assert_eq!(facts(a), facts(b), "{name} stream {}", a.tcp_stream);
            compared += 1;
        }
    }
    assert!(compared >= 30, "only {compared} connections compared");
    assert!(
        extra_packets > 1000,
        "the split made only {extra_packets} more packets"
    );
}
