//! IP fragments (IPv4, and IPv6's fragment header) put back together, so that a datagram a
//! small MTU split (a tunnel's, or a ClientHello grown by a post-quantum key share) is read.
//!
//! etherparse's `IpDefragBuf` holds each datagram; its pool has no memory bound, so the pool
//! is ours: at most `max_datagrams` pending and `max_bytes` in all (the oldest pending goes
//! first), each forgotten `timeout` seconds of capture time after its first fragment. Only
//! fragments come here: an ordinary packet never touches it.

use super::walk::{Layers, Next, walk, walk_from};
use super::{Decoded, Skip};
use crate::capture::{LinkType, Packet, Timestamp};
use etherparse::defrag::IpDefragBuf;
use etherparse::{IpFragOffset, IpNumber, Ipv6ExtensionSlice, LaxNetSlice, LaxSlicedPacket};
use std::collections::HashMap;
use std::net::IpAddr;

/// The bounds on datagrams waiting for their fragments.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DefragLimits {
    pub(crate) max_datagrams: usize,
    /// Bytes of all pending datagrams together (each is at most 65,535).
    pub(crate) max_bytes: usize,
    /// Seconds of capture time after a datagram's first fragment before it is dropped.
    pub(crate) timeout: f64,
}

impl Default for DefragLimits {
    fn default() -> Self {
        DefragLimits {
            max_datagrams: 64,
            max_bytes: 4 << 20,
            timeout: 30.0,
        }
    }
}

/// What became of the fragments, by fragment (datagrams for `reassembled`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DefragCounters {
    /// Datagrams put together.
    pub(crate) reassembled: u64,
    /// Fragments dropped with their datagram to keep within `max_datagrams` or `max_bytes`.
    pub(crate) over_limit: u64,
    /// Fragments of datagrams not complete within the timeout, or by the end of the capture.
    pub(crate) timed_out: u64,
    /// Fragments dropped with their datagram because they overlapped others with different
    /// bytes, disagreed on the datagram's end or length, or were cut by the snaplen.
    pub(crate) inconsistent: u64,
}

impl DefragCounters {
    /// Fragments that were not put into a datagram.
    pub(crate) fn dropped(&self) -> u64 {
        self.over_limit + self.timed_out + self.inconsistent
    }
}

/// Which datagram a fragment belongs to (RFC 791's source, destination, protocol and
/// identification; RFC 8200's without the protocol).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    protocol: u8,
}

/// One fragment as the walk down its packet found it.
pub(super) struct Fragment<'a> {
    /// The layers outside its IP header.
    outer: Layers,
    key: Key,
    ttl: u8,
    offset: IpFragOffset,
    more: bool,
    payload: &'a [u8],
    /// The snaplen cut it: its datagram cannot be completed.
    cut: bool,
}

impl<'a> Fragment<'a> {
    pub(super) fn of(sliced: &LaxSlicedPacket<'a>, outer: &Layers) -> Option<Self> {
        let (key, ttl, offset, more, payload) = match &sliced.net {
            Some(LaxNetSlice::Ipv4(ip)) => {
                let h = ip.header();
                let key = Key {
                    src: h.source_addr().into(),
                    dst: h.destination_addr().into(),
                    id: u32::from(h.identification()),
                    protocol: h.protocol().0,
                };
                let (offset, more) = (h.fragments_offset(), h.more_fragments());
                (key, h.ttl(), offset, more, ip.payload())
            }
            Some(LaxNetSlice::Ipv6(ip)) => {
                let h = ip.header();
                let fragment = ip.extensions().clone().into_iter().find_map(|e| match e {
                    Ipv6ExtensionSlice::Fragment(f) => Some(f),
                    _ => None,
                })?;
                let key = Key {
                    src: h.source_addr().into(),
                    dst: h.destination_addr().into(),
                    id: fragment.identification(),
                    protocol: ip.payload().ip_number.0,
                };
                let (offset, more) = (fragment.fragment_offset(), fragment.more_fragments());
                (key, h.hop_limit(), offset, more, ip.payload())
            }
            _ => return None,
        };
        Some(Fragment {
            outer: *outer,
            key,
            ttl,
            offset,
            more,
            payload: payload.payload,
            cut: payload.incomplete,
        })
    }
}

struct Pending {
    buf: IpDefragBuf,
    outer: Layers,
    ttl: u8,
    started: Timestamp,
    fragments: u64,
}

/// A datagram put together from its fragments, as an IP packet of its own: the first
/// fragment's addresses, the payload whole, no fragmentation fields.
#[derive(Clone, Debug)]
pub struct Datagram {
    /// The fragment that completed it (Wireshark shows the reassembled datagram there).
    pub(crate) frame: u64,
    pub(crate) ts: Timestamp,
    /// The layers outside its IP header (a fragmented packet inside a tunnel).
    outer: Layers,
    ip: Vec<u8>,
}

impl Datagram {
    /// Its bytes as a raw IP packet (no layers outside).
    pub(crate) fn packet(&self) -> Packet<'_> {
        Packet {
            frame: self.frame,
            ts: self.ts,
            link: LinkType::RAW,
            data: &self.ip,
            orig_len: self.ip.len() as u32,
        }
    }

    /// Decoded as any packet is, its depth counting the layers outside it.
    pub(crate) fn decode(&self) -> Result<Decoded<'_>, Skip> {
        let mut layers = self.outer;
        walk_from(Next::Ip(&self.ip), 0, &mut layers, None)
    }

    /// The worker of `-j` it goes to: that of its connection (`Detached::shard`).
    pub(crate) fn shard(&self, shards: usize) -> usize {
        super::shard_of(&self.decode(), shards)
    }

    /// The layers around its TCP segment, those outside the datagram first.
    pub(crate) fn encapsulation(&self) -> Vec<super::Layer> {
        let mut layers = self.outer;
        let _ = walk_from(Next::Ip(&self.ip), 0, &mut layers, None);
        layers.as_slice()
    }
}

/// The datagrams waiting for fragments, within `DefragLimits`.
pub struct Defragmenter {
    limits: DefragLimits,
    pending: HashMap<Key, Pending>,
    bytes: usize,
    counters: DefragCounters,
}

impl Defragmenter {
    pub(crate) fn new(limits: DefragLimits) -> Self {
        Defragmenter {
            limits,
            pending: HashMap::new(),
            bytes: 0,
            counters: DefragCounters::default(),
        }
    }

    pub(crate) fn counters(&self) -> &DefragCounters {
        &self.counters
    }

    /// Adds a packet that decoded as `Skip::IpFragment`, at capture time `clock`; the
    /// datagram it completes, if any (a fragment inside it completed too, when the outer
    /// and the inner packet were both fragmented).
    pub(crate) fn add(&mut self, packet: &Packet<'_>, clock: Timestamp) -> Option<Datagram> {
        let missing = packet.orig_len > packet.data.len() as u32;
        let mut found = None;
        let mut layers = Layers::default();
        let _ = walk(packet.link, packet.data, 0, &mut layers, Some(&mut found));
        let mut fragment = found?;
        fragment.cut |= missing;
        let mut datagram = self.fragment(fragment, packet.frame, packet.ts, clock)?;
        // Each turn goes one IP header deeper, so `MAX_LAYERS` bounds it.
        for _ in 0..super::MAX_LAYERS {
            if datagram.decode() != Err(Skip::IpFragment) {
                return Some(datagram);
            }
            let mut found = None;
            let mut layers = datagram.outer;
            let _ = walk_from(Next::Ip(&datagram.ip), 0, &mut layers, Some(&mut found));
            datagram = self.fragment(found?, packet.frame, packet.ts, clock)?;
        }
        None
    }

    /// Drops what is left pending, counted as timed out (the capture ended first).
    pub(crate) fn finish(&mut self) {
        for (_, p) in self.pending.drain() {
            self.counters.timed_out += p.fragments;
        }
        self.bytes = 0;
    }

    fn fragment(
        &mut self,
        f: Fragment<'_>,
        frame: u64,
        ts: Timestamp,
        clock: Timestamp,
    ) -> Option<Datagram> {
        self.expire(clock);
        if f.cut {
            self.counters.inconsistent += 1 + self.remove(&f.key).map_or(0, |p| p.fragments);
            return None;
        }
        if !self.pending.contains_key(&f.key) {
            while self.pending.len() >= self.limits.max_datagrams.max(1) {
                self.drop_oldest(None);
            }
            let pending = Pending {
                buf: IpDefragBuf::new(IpNumber(f.key.protocol), Vec::new(), Vec::new()),
                outer: f.outer,
                ttl: f.ttl,
                started: clock,
                fragments: 0,
            };
            self.pending.insert(f.key, pending);
        }
        let end = usize::from(f.offset.byte_offset()).saturating_add(f.payload.len());
        let held = self.pending.get(&f.key).map_or(0, |p| p.buf.data().len());
        let growth = end.saturating_sub(held);
        while self.bytes + growth > self.limits.max_bytes && self.pending.len() > 1 {
            self.drop_oldest(Some(f.key));
        }
        if self.bytes + growth > self.limits.max_bytes {
            self.counters.over_limit += 1 + self.remove(&f.key).map_or(0, |p| p.fragments);
            return None;
        }
        let pending = self.pending.get_mut(&f.key)?;
        let before = pending.buf.data().len();
        let consistent = agrees(&pending.buf, f.offset, f.payload)
            && pending.buf.add(f.offset, f.more, f.payload).is_ok();
        if !consistent {
            self.counters.inconsistent += 1 + self.remove(&f.key).map_or(0, |p| p.fragments);
            return None;
        }
        pending.fragments += 1;
        let after = pending.buf.data().len();
        self.bytes = (self.bytes + after).saturating_sub(before);
        if !pending.buf.is_complete() {
            return None;
        }
        let done = self.remove(&f.key)?;
        let (payload, _) = done.buf.take_bufs();
        match ip_packet(&f.key, done.ttl, &payload) {
            Some(ip) => {
                self.counters.reassembled += 1;
                Some(Datagram {
                    frame,
                    ts,
                    outer: done.outer,
                    ip,
                })
            }
            None => {
                self.counters.inconsistent += done.fragments;
                None
            }
        }
    }

    fn remove(&mut self, key: &Key) -> Option<Pending> {
        let p = self.pending.remove(key)?;
        self.bytes = self.bytes.saturating_sub(p.buf.data().len());
        Some(p)
    }

    /// Drops the datagram pending longest (but not `keep`), counted as over the limit.
    fn drop_oldest(&mut self, keep: Option<Key>) {
        let oldest = self
            .pending
            .iter()
            .filter(|(k, _)| Some(**k) != keep)
            .min_by_key(|(_, p)| p.started)
            .map(|(k, _)| *k);
        if let Some(p) = oldest.and_then(|k| self.remove(&k)) {
            self.counters.over_limit += p.fragments;
        }
    }

    fn expire(&mut self, clock: Timestamp) {
        let timeout = self.limits.timeout;
        let stale: Vec<Key> = self
            .pending
            .iter()
            .filter(|(_, p)| clock.seconds_since(p.started) > timeout)
            .map(|(k, _)| *k)
            .collect();
        for key in stale {
            if let Some(p) = self.remove(&key) {
                self.counters.timed_out += p.fragments;
            }
        }
    }
}

/// Whether `payload` at `offset` repeats the bytes already held where they overlap: a
/// retransmitted fragment does, a conflicting one (an evasion, or damage) does not.
fn agrees(buf: &IpDefragBuf, offset: IpFragOffset, payload: &[u8]) -> bool {
    let start = usize::from(offset.byte_offset());
    let end = start.saturating_add(payload.len());
    buf.sections().iter().all(|s| {
        let from = start.max(usize::from(s.start));
        let to = end.min(usize::from(s.end));
        from >= to || buf.data().get(from..to) == payload.get(from - start..to - start)
    })
}

/// The datagram as one IP packet: a plain header with the fragment's addresses and TTL.
fn ip_packet(key: &Key, ttl: u8, payload: &[u8]) -> Option<Vec<u8>> {
    let len = u16::try_from(payload.len()).ok()?;
    let protocol = IpNumber(key.protocol);
    let mut ip = Vec::with_capacity(payload.len() + etherparse::Ipv6Header::LEN);
    match (key.src, key.dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            let mut h =
                etherparse::Ipv4Header::new(len, ttl, protocol, src.octets(), dst.octets()).ok()?;
            h.header_checksum = h.calc_header_checksum();
            ip.extend_from_slice(&h.to_bytes());
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            let h = etherparse::Ipv6Header {
                traffic_class: 0,
                flow_label: Default::default(),
                payload_length: len,
                next_header: protocol,
                hop_limit: ttl,
                source: src.octets(),
                destination: dst.octets(),
            };
            ip.extend_from_slice(&h.to_bytes());
        }
        _ => return None,
    }
    ip.extend_from_slice(payload);
    Some(ip)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::read_capture;
    use crate::net::decode;

    /// The fragments of a real capture (the kernel fragmented VXLAN's outer datagrams), in
    /// order: three datagrams of two fragments each.
    fn fragments() -> Vec<(u64, Vec<u8>)> {
        let file: &[u8] = include_bytes!("../../captures/vxlan-fragmented.pcap");
        let mut out = Vec::new();
        let (_, result) = read_capture(file, |p| {
            if decode(p) == Err(Skip::IpFragment) {
                out.push((p.frame, p.data.to_vec()));
            }
        });
        assert!(result.is_ok());
        assert_eq!(out.len(), 6);
        out
    }

    fn at(frame: u64, data: &[u8], secs: i64) -> (Packet<'_>, Timestamp) {
        let ts = Timestamp::new(secs, 0);
        let packet = Packet {
            frame,
            ts,
            link: LinkType::ETHERNET,
            data,
            orig_len: data.len() as u32,
        };
        (packet, ts)
    }

    fn add(d: &mut Defragmenter, (frame, data): &(u64, Vec<u8>), secs: i64) -> Option<Datagram> {
        let (packet, clock) = at(*frame, data, secs);
        d.add(&packet, clock)
    }

    #[test]
    fn each_datagram_completes_at_its_last_fragment_and_decodes_as_tcp() {
        let f = fragments();
        let mut d = Defragmenter::new(DefragLimits::default());
        let mut done = Vec::new();
        for fragment in &f {
            done.extend(add(&mut d, fragment, 0));
        }
        let frames: Vec<u64> = done.iter().map(|g| g.frame).collect();
        assert_eq!(frames, [f[1].0, f[3].0, f[5].0]);
        for g in &done {
            let Ok(Decoded::Tcp(seg)) = g.decode() else {
                panic!("frame {}: {:?}", g.frame, g.decode());
            };
            assert_eq!(seg.depth, 2);
            assert!(seg.payload.len() > 1400);
        }
        assert_eq!(d.counters().reassembled, 3);
        assert_eq!(d.counters().dropped(), 0);
        assert_eq!((d.pending.len(), d.bytes), (0, 0));
    }

    #[test]
    fn a_repeated_fragment_is_taken_and_a_conflicting_one_drops_its_datagram() {
        let f = fragments();
        let mut d = Defragmenter::new(DefragLimits::default());
        assert!(add(&mut d, &f[0], 0).is_none());
        assert!(add(&mut d, &f[0], 0).is_none());
        assert!(add(&mut d, &f[1], 0).is_some());
        // The test's own change: the first fragment's last byte differs on its second copy.
        let mut changed = f[0].clone();
        if let Some(last) = changed.1.last_mut() {
            *last ^= 0xff;
        }
        assert!(add(&mut d, &f[0], 0).is_none());
        assert!(add(&mut d, &changed, 0).is_none());
        assert!(add(&mut d, &f[1], 0).is_none());
        assert_eq!(d.counters().reassembled, 1);
        assert_eq!(d.counters().inconsistent, 2);
        d.finish();
        assert_eq!(d.counters().timed_out, 1);
    }

    #[test]
    fn a_datagram_is_dropped_after_the_timeout_in_capture_time() {
        let f = fragments();
        let mut d = Defragmenter::new(DefragLimits::default());
        assert!(add(&mut d, &f[0], 100).is_none());
        assert!(add(&mut d, &f[1], 131).is_none());
        assert_eq!(d.counters().timed_out, 1);
        assert!(add(&mut d, &f[2], 131).is_none());
        assert!(add(&mut d, &f[3], 160).is_some());
    }

    #[test]
    fn datagrams_and_bytes_pending_are_bounded_the_oldest_going_first() {
        let f = fragments();
        let one = DefragLimits {
            max_datagrams: 1,
            ..DefragLimits::default()
        };
        let mut d = Defragmenter::new(one);
        assert!(add(&mut d, &f[0], 0).is_none());
        assert!(add(&mut d, &f[2], 1).is_none());
        assert_eq!(d.counters().over_limit, 1);
        assert!(add(&mut d, &f[3], 1).is_some());

        let small = DefragLimits {
            max_bytes: 1000,
            ..DefragLimits::default()
        };
        let mut d = Defragmenter::new(small);
        assert!(add(&mut d, &f[0], 0).is_none());
        assert!(add(&mut d, &f[1], 0).is_none());
        assert_eq!(d.counters().over_limit, 2);
        assert_eq!((d.pending.len(), d.bytes), (0, 0));
    }

    #[test]
    fn a_fragment_cut_anywhere_is_dropped_never_a_panic() {
        let f = fragments();
        for (frame, data) in &f {
            let mut d = Defragmenter::new(DefragLimits::default());
            for len in 0..data.len() {
                let cut = data.get(..len).unwrap_or_default();
                let (mut packet, clock) = at(*frame, cut, 0);
                packet.orig_len = data.len() as u32;
                assert!(d.add(&packet, clock).is_none());
            }
            assert_eq!(d.counters().reassembled, 0);
            assert!(d.pending.is_empty());
        }
    }
}
