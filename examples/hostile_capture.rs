//! Writes a hostile capture derived from the bundled real captures to standard output, for the
//! memory figures of `benches/hostile.sh` (the tests use the same generators on smaller sizes):
//!
//!   cargo run --release --example hostile_capture -- flood 1000000 > flood.pcap
//!   cargo run --release --example hostile_capture -- garbage 1073741824 | tlsdiag analyze -

#[path = "../tests/common/derive.rs"]
mod derive;

use std::io::Write;
use std::path::Path;
use tlsdiag::capture::{LinkType, PcapWriter};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (kind, size) = match args.as_slice() {
        [kind, size] => (kind.as_str(), size.parse::<usize>().ok()),
        _ => ("", None),
    };
    let captures = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let stdout = std::io::stdout();
    let mut w = PcapWriter::new(
        std::io::BufWriter::with_capacity(1 << 20, stdout.lock()),
        LinkType::ETHERNET,
        262_144,
    )?;
    let mut i = 0;
    let mut result = Ok(());
    let mut write = |p: derive::Owned| {
        if result.is_ok() {
            result = w.write(&derive::packet(&p, i));
            i += 1;
        }
    };
    match (kind, size) {
        ("flood", Some(n)) => {
            let syn = derive::read_packets(&captures.join("tcp-no-response.pcap"))
                .into_iter()
                .next()
                .expect("a SYN");
            derive::syn_flood(&syn, n, &mut write);
        }
        ("garbage", Some(bytes)) => {
            let packets = derive::read_packets(&captures.join("tls12-ecdhe-chain.pcap"));
            derive::garbage_before_hello(&packets, bytes, &mut write);
        }
        _ => {
            eprintln!("usage: hostile_capture flood SYNS | garbage BYTES");
            std::process::exit(2);
        }
    }
    result?;
    w.into_inner().flush()
}
