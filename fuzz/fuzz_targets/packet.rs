//! One packet through link, IP and TCP/ICMP decoding, on every link type tlsdiag reads.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlsdiag::capture::{LinkType, Packet, Timestamp};

fuzz_target!(|data: &[u8]| {
    let Some((&link, bytes)) = data.split_first() else {
        return;
    };
    let links = [0, 1, 101, 108, 113, 228, 229, 276];
    let link = LinkType(links[usize::from(link) % links.len()]);
    let packet = Packet {
        frame: 1,
        ts: Timestamp::default(),
        link,
        data: bytes,
        orig_len: bytes.len() as u32 + u32::from(link.0 as u8 & 3),
    };
    let _ = tlsdiag::net::decode(&packet);
});
