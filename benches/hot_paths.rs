//! Micro-benchmarks of the hot paths, on the packets of real captures in captures/:
//! packet decoding, flow lookup, reassembly, record framing and ClientHello parsing.
//!
//!   cargo bench --bench hot_paths
//!
//! The whole-file figures (beside tshark and cat) come from benches/compare.py.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::Path;
use tlsdiag::capture::Timestamp;
use tlsdiag::flow::{FlowTable, Limits, Reassembler};
use tlsdiag::net::{self, Decoded, Segment};
use tlsdiag::tls::{self, handshake, record};

#[path = "../tests/common/derive.rs"]
mod derive;

use derive::{Owned, packet as as_packet};

fn packets(name: &str) -> Vec<Owned> {
    derive::read_packets(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("captures")
            .join(name),
    )
}

fn segments(packets: &[Owned]) -> Vec<Segment<'_>> {
    packets
        .iter()
        .enumerate()
        .filter_map(|(i, p)| match net::decode(&as_packet(p, i)) {
            Ok(Decoded::Tcp(seg)) => Some(seg),
            _ => None,
        })
        .collect()
}

/// One direction's payload, in capture order: the server's when `server`.
fn stream(segs: &[Segment<'_>], server: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for s in segs {
        if (s.src_port == 443) == server {
            out.extend_from_slice(s.payload);
        }
    }
    out
}

fn hot_paths(c: &mut Criterion) {
    let tls12 = packets("tls12-ecdhe-chain.pcap");
    let segs = segments(&tls12);

    let mut g = c.benchmark_group("packet");
    g.throughput(Throughput::Elements(tls12.len() as u64));
    g.bench_function("decode (Ethernet/IPv4/TCP)", |b| {
        b.iter(|| {
            for (i, p) in tls12.iter().enumerate() {
                black_box(net::decode(&as_packet(p, i)).is_ok());
            }
        })
    });
    g.finish();

    // A table of 10,000 conversations, looked up by segments of the real capture whose client
    // port is varied: the table's size, not the packet, is what this measures.
    let mut g = c.benchmark_group("flow");
    let base = segs.first().copied().expect("a segment");
    let many: Vec<Segment<'_>> = (0..10_000u16)
        .map(|i| Segment {
            src_port: 20_000 + i,
            ..base
        })
        .collect();
    let mut table: FlowTable<u64> = FlowTable::new(vec![443], 100_000);
    // Never due to retire: the lookup alone is measured.
    let (now, due) = (Timestamp::default(), |_: &u64| None);
    for s in &many {
        table.lookup(s, now, due, || 0);
    }
    g.throughput(Throughput::Elements(many.len() as u64));
    g.bench_function("lookup in 10k conversations", |b| {
        b.iter(|| {
            for s in &many {
                if let Some(flow) = table.lookup(s, now, due, || 0).flow {
                    flow.state += 1;
                }
            }
        })
    });
    g.finish();

    let server = stream(&segs, true);
    let mut g = c.benchmark_group("stream");
    g.throughput(Throughput::Bytes(server.len() as u64));
    g.bench_function("reassembly, in order, 1448-byte segments", |b| {
        b.iter(|| {
            let mut r = Reassembler::new(Limits::default());
            r.set_initial_seq(0);
            let mut seq = 1u32;
            for chunk in server.chunks(1448) {
                r.segment(seq, chunk, 1, Timestamp::default());
                seq = seq.wrapping_add(chunk.len() as u32);
            }
            black_box(r.data().len())
        })
    });
    g.bench_function("record framing (server flight)", |b| {
        b.iter(|| {
            let mut at = 0;
            let mut records = 0;
            while let record::Framing::Record { total, .. } =
                record::frame(server.get(at..).unwrap_or_default())
            {
                at += total;
                records += 1;
            }
            black_box(records)
        })
    });
    g.finish();

    let client = stream(&segs, false);
    let hello = match record::frame(&client) {
        record::Framing::Record { payload, .. } => payload.to_vec(),
        _ => panic!("the client's first record frames"),
    };
    let mut g = c.benchmark_group("handshake");
    g.throughput(Throughput::Elements(1));
    g.bench_function("ClientHello parsing", |b| {
        b.iter(|| black_box(handshake::decode(&hello, &tls::Limits::default()).is_ok()))
    });
    g.finish();
}

criterion_group!(benches, hot_paths);
criterion_main!(benches);
