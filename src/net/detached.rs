//! A packet's decoding apart from its bytes, and the shard it goes to under `-j`.

use super::{Decoded, Segment, Skip, decode};
use crate::capture::Packet;
use std::net::IpAddr;

/// A packet's decoding without its bytes. The reading thread of `-j` decodes each packet as
/// it walks the file, while the headers are in its core's cache, and the worker that owns the
/// connection takes this instead of reading the headers again from another core's cache.
#[derive(Clone, Copy, Debug)]
pub struct Detached {
    decoded: Result<Decoded<'static>, Skip>,
    /// Where the segment's payload lies in the packet's bytes.
    payload_start: usize,
    payload_len: usize,
}

impl Detached {
    pub(crate) fn of(packet: &Packet<'_>) -> Self {
        let (decoded, payload_start, payload_len) = match decode(packet) {
            Ok(Decoded::Tcp(seg)) => {
                // A subslice's place in its slice, from their addresses.
                let start =
                    (seg.payload.as_ptr() as usize).saturating_sub(packet.data.as_ptr() as usize);
                let detached = Segment {
                    payload: &[],
                    ..seg
                };
                (Ok(Decoded::Tcp(detached)), start, seg.payload.len())
            }
            Ok(Decoded::Unreachable(u)) => (Ok(Decoded::Unreachable(u)), 0, 0),
            Err(skip) => (Err(skip), 0, 0),
        };
        Detached {
            decoded,
            payload_start,
            payload_len,
        }
    }

    /// The decoding again, its payload borrowed from `data`, the packet's bytes.
    pub(crate) fn attach<'a>(&self, data: &'a [u8]) -> Result<Decoded<'a>, Skip> {
        match self.decoded {
            Ok(Decoded::Tcp(seg)) => {
                let end = self.payload_start.saturating_add(self.payload_len);
                let payload = match self.payload_len {
                    // Wherever an empty slice points.
                    0 => &[],
                    _ => data.get(self.payload_start..end).ok_or(Skip::Malformed)?,
                };
                Ok(Decoded::Tcp(Segment { payload, ..seg }))
            }
            other => other,
        }
    }

    /// Whether the packet is an IP fragment (`Defragmenter::add` takes it).
    pub(crate) fn is_fragment(&self) -> bool {
        matches!(self.decoded, Err(Skip::IpFragment))
    }

    /// Which of `shards` the packet goes to: both directions of a TCP connection, and the
    /// ICMP errors quoting it, to the same one (a symmetric hash of the 4-tuple, the same in
    /// every run); packets of no connection to the first.
    pub(crate) fn shard(&self, shards: usize) -> usize {
        shard_of(&self.decoded, shards)
    }
}

/// `Detached::shard`, of any decoding.
pub(crate) fn shard_of(decoded: &Result<Decoded<'_>, Skip>, shards: usize) -> usize {
    use std::hash::BuildHasher;
    if shards <= 1 {
        return 0;
    }
    let (a, b) = match *decoded {
        Ok(Decoded::Tcp(s)) => (
            endpoint_bits(s.src, s.src_port),
            endpoint_bits(s.dst, s.dst_port),
        ),
        Ok(Decoded::Unreachable(u)) => (
            endpoint_bits(u.src, u.src_port),
            endpoint_bits(u.dst, u.dst_port),
        ),
        Err(_) => return 0,
    };
    let pair = if a <= b { (a, b) } else { (b, a) };
    let hash = foldhash::fast::FixedState::default().hash_one(pair);
    // The hash scaled onto 0..shards by a multiply (Lemire's reduction), not `hash % shards`,
    // which compiles to a 64-bit division on the reading thread's path.
    ((u128::from(hash) * shards as u128) >> 64) as usize
}

/// An endpoint as fixed-width integers: the address as IPv6 (IPv4 mapped into it) and the
/// port. Hashing and comparing them is a few instructions, where `IpAddr`'s are a branch and
/// a slice each, for every packet.
pub fn endpoint_bits(ip: IpAddr, port: u16) -> (u128, u16) {
    let ip = match ip {
        // ::ffff:a.b.c.d, as `to_ipv6_mapped` would give, without building the bytes.
        IpAddr::V4(v4) => (0xffff_u128 << 32) | u128::from(v4.to_bits()),
        IpAddr::V6(v6) => v6.to_bits(),
    };
    (ip, port)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::tests::each_bundled_packet;

    /// A decoding detached from its packet and attached again is the decoding (payload
    /// included), and both directions of a connection, and the ICMP errors quoting it, go to
    /// one shard.
    #[test]
    fn a_detached_decoding_attaches_again_and_shards_by_connection() {
        let mut shard_of_pair = std::collections::HashMap::new();
        let (mut packets, mut unreachable) = (0, 0);
        each_bundled_packet(|name, p| {
            let detached = Detached::of(p);
            assert_eq!(
                detached.attach(p.data),
                decode(p),
                "{name} frame {}",
                p.frame
            );
            let (a, b) = match decode(p) {
                Ok(Decoded::Tcp(s)) => ((s.src, s.src_port), (s.dst, s.dst_port)),
                Ok(Decoded::Unreachable(u)) => {
                    unreachable += 1;
                    ((u.src, u.src_port), (u.dst, u.dst_port))
                }
                Err(_) => return,
            };
            packets += 1;
            let pair = (name.to_string(), a.min(b), a.max(b));
            let shard = detached.shard(7);
            assert_eq!(
                *shard_of_pair.entry(pair).or_insert(shard),
                shard,
                "{name} frame {}",
                p.frame
            );
        });
        assert!(
            packets > 500 && unreachable > 0,
            "{packets} packets, {unreachable} ICMP"
        );
        let used: std::collections::HashSet<_> = shard_of_pair.values().collect();
        assert!(
            used.len() > 3,
            "{} connections in {} shards",
            shard_of_pair.len(),
            used.len()
        );
    }
}
