//! Link, IP and TCP decoding of one packet, through etherparse.
//!
//! The result is a plain `Segment` (or the reason the packet was skipped), so later stages never
//! see etherparse types. Decoding is lax on purpose: a packet that the snaplen cut still yields
//! its headers and the payload bytes that were captured, with the missing length counted.

use crate::capture::{LinkType, Packet};
use etherparse::{
    EtherType, LaxNetSlice, LaxSlicedPacket, LinuxSllProtocolType, TcpSlice, TransportSlice,
};
use std::net::IpAddr;

/// One TCP segment, in the terms reassembly and diagnosis need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    /// IPv4 TTL or IPv6 hop limit: a different value on an RST hints at an injecting middlebox.
    pub ttl: u8,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    /// The payload bytes that were captured.
    pub payload: &'a [u8],
    /// Payload bytes that were on the wire but not captured (snaplen).
    pub missing: u32,
}

impl Segment<'_> {
    /// The sequence number of the first payload byte: a SYN occupies one number before it.
    pub fn data_seq(&self) -> u32 {
        if self.flags.syn {
            self.seq.wrapping_add(1)
        } else {
            self.seq
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFlags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
}

/// Why a packet gave no TCP segment; each is counted in the summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Skip {
    UnknownLinkType(LinkType),
    /// ARP, LLDP and other non-IP frames.
    NotIp,
    /// UDP, ICMP and other transports.
    NotTcp,
    /// A fragment of an IP packet; fragments are counted, not reassembled (handshakes rarely
    /// fragment because TCP sizes its segments to the path MTU).
    IpFragment,
    /// Headers that do not parse, or that the snaplen cut before the TCP header ended.
    Malformed,
}

/// An ICMP or ICMPv6 destination-unreachable error, and the TCP connection it quotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unreachable {
    /// Who sent the error: the destination host, or a router or firewall on the way.
    pub reporter: IpAddr,
    pub ttl: u8,
    /// The ICMP code in words ("port unreachable", "administratively prohibited" ...).
    pub kind: &'static str,
    /// The quoted packet's source and destination: the connection's own 4-tuple.
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
}

/// What a packet is, for the stages after this one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    Tcp(Segment<'a>),
    Unreachable(Unreachable),
}

/// Decodes one captured packet down to its TCP segment, or the ICMP error about one.
pub fn decode<'a>(packet: &Packet<'a>) -> Result<Decoded<'a>, Skip> {
    if let Some(segment) = plain_tcp(packet) {
        return Ok(Decoded::Tcp(segment));
    }
    let sliced = slice_link(packet.link, packet.data)?;
    if let Some(unreachable) = unreachable_of(&sliced) {
        return Ok(Decoded::Unreachable(unreachable));
    }
    let missing = packet.orig_len.saturating_sub(packet.data.len() as u32);
    segment_of(&sliced, missing).map(Decoded::Tcp)
}

/// A packet's decoding without its bytes. The reading thread of `-j` decodes each packet as
/// it walks the file, while the headers are in its core's cache, and the worker that owns the
/// connection takes this instead of reading the headers again from another core's cache
/// (that second read cost more than the decode itself).
#[derive(Clone, Copy, Debug)]
pub struct Detached {
    decoded: Result<Decoded<'static>, Skip>,
    /// Where the segment's payload lies in the packet's bytes.
    payload_start: usize,
    payload_len: usize,
}

impl Detached {
    pub fn of(packet: &Packet<'_>) -> Self {
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
    pub fn attach<'a>(&self, data: &'a [u8]) -> Result<Decoded<'a>, Skip> {
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

    /// Which of `shards` the packet goes to: both directions of a TCP connection, and the
    /// ICMP errors quoting it, to the same one (a symmetric hash of the 4-tuple, the same in
    /// every run); packets of no connection to the first.
    pub fn shard(&self, shards: usize) -> usize {
        use std::hash::BuildHasher;
        if shards <= 1 {
            return 0;
        }
        let (a, b) = match self.decoded {
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
        // The hash scaled onto 0..shards by a multiply (Lemire's reduction): `hash % shards`
        // compiled to a 64-bit division, a tenth of the reading thread's dispatch (perf).
        ((u128::from(hash) * shards as u128) >> 64) as usize
    }
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

/// Destination unreachable (ICMP type 3, ICMPv6 type 1) quoting a TCP header: RFC 792 and
/// RFC 4443 quote the offending IP header and at least 8 bytes after it, enough for the ports.
fn unreachable_of(sliced: &LaxSlicedPacket<'_>) -> Option<Unreachable> {
    use etherparse::icmpv4::DestUnreachableHeader as V4;
    use etherparse::icmpv6::DestUnreachableCode as V6;
    let (kind, quoted) = match &sliced.transport {
        Some(TransportSlice::Icmpv4(icmp)) => match icmp.icmp_type() {
            etherparse::Icmpv4Type::DestinationUnreachable(code) => {
                let kind = match code {
                    V4::Network | V4::NetworkUnknown => "network unreachable",
                    V4::Host | V4::HostUnknown | V4::Isolated => "host unreachable",
                    V4::Protocol => "protocol unreachable",
                    V4::Port => "port unreachable",
                    V4::FragmentationNeeded { .. } => "fragmentation needed",
                    V4::NetworkProhibited | V4::HostProhibited | V4::FilterProhibited => {
                        "administratively prohibited"
                    }
                    _ => "destination unreachable",
                };
                (kind, icmp.payload())
            }
            _ => return None,
        },
        Some(TransportSlice::Icmpv6(icmp)) => match icmp.icmp_type() {
            etherparse::Icmpv6Type::DestinationUnreachable(code) => {
                let kind = match code {
                    V6::NoRoute | V6::RejectRoute => "no route to destination",
                    V6::Prohibited | V6::SourceAddressFailedPolicy => "administratively prohibited",
                    V6::Address | V6::BeyondScope => "address unreachable",
                    V6::Port => "port unreachable",
                };
                (kind, icmp.payload())
            }
            _ => return None,
        },
        _ => return None,
    };
    let (reporter, _, ttl, _) = ip_facts(sliced)?;
    let inner = LaxSlicedPacket::from_ip(quoted).ok()?;
    let (src, dst, _, _) = ip_facts(&inner)?;
    let ports = inner
        .ip_payload()
        .filter(|p| p.ip_number == etherparse::IpNumber::TCP)?
        .payload;
    Some(Unreachable {
        reporter,
        ttl,
        kind,
        src,
        dst,
        src_port: crate::bytes::be_u16(ports, 0)?,
        dst_port: crate::bytes::be_u16(ports, 2)?,
    })
}

/// Source, destination, TTL (or hop limit) and whether the payload is a fragment.
fn ip_facts(sliced: &LaxSlicedPacket<'_>) -> Option<(IpAddr, IpAddr, u8, bool)> {
    match &sliced.net {
        Some(LaxNetSlice::Ipv4(ip)) => {
            let h = ip.header();
            Some((
                IpAddr::V4(h.source_addr()),
                IpAddr::V4(h.destination_addr()),
                h.ttl(),
                ip.is_payload_fragmented(),
            ))
        }
        Some(LaxNetSlice::Ipv6(ip)) => {
            let h = ip.header();
            Some((
                IpAddr::V6(h.source_addr()),
                IpAddr::V6(h.destination_addr()),
                h.hop_limit(),
                ip.is_payload_fragmented(),
            ))
        }
        Some(LaxNetSlice::Arp(_)) | None => None,
    }
}

fn slice_link(link: LinkType, data: &[u8]) -> Result<LaxSlicedPacket<'_>, Skip> {
    match link {
        LinkType::ETHERNET => LaxSlicedPacket::from_ethernet(data).map_err(|_| Skip::Malformed),
        LinkType::RAW | LinkType::RAW_OPENBSD | LinkType::IPV4 | LinkType::IPV6 => {
            LaxSlicedPacket::from_ip(data).map_err(|_| Skip::Malformed)
        }
        LinkType::NULL | LinkType::LOOP => {
            let (family, rest) = split_at_checked(data, 4)?;
            Ok(LaxSlicedPacket::from_ether_type(
                bsd_family_ether_type(link, family)?,
                rest,
            ))
        }
        LinkType::LINUX_SLL => {
            let header =
                etherparse::LinuxSllHeaderSlice::from_slice(data).map_err(|_| Skip::Malformed)?;
            let LinuxSllProtocolType::EtherType(ether_type) = header.protocol_type() else {
                return Err(Skip::NotIp);
            };
            let (_, rest) = split_at_checked(data, header.slice().len())?;
            Ok(LaxSlicedPacket::from_ether_type(ether_type, rest))
        }
        LinkType::LINUX_SLL2 => {
            // SLL2 (what `tcpdump -i any` writes) is not in etherparse: a 20-byte header whose
            // first two bytes are the EtherType of the payload.
            let (header, rest) = split_at_checked(data, SLL2_HEADER_LEN)?;
            let ether_type = crate::bytes::be_u16(header, 0).ok_or(Skip::Malformed)?;
            Ok(LaxSlicedPacket::from_ether_type(
                EtherType(ether_type),
                rest,
            ))
        }
        other => Err(Skip::UnknownLinkType(other)),
    }
}

const SLL2_HEADER_LEN: usize = 20;

fn split_at_checked(data: &[u8], at: usize) -> Result<(&[u8], &[u8]), Skip> {
    data.split_at_checked(at).ok_or(Skip::Malformed)
}

/// DLT_NULL stores the address family in host byte order, DLT_LOOP in network order; the
/// IPv6 family number differs between BSDs (24, 28, 30), as libpcap documents.
fn bsd_family_ether_type(link: LinkType, family: &[u8]) -> Result<EtherType, Skip> {
    let bytes: [u8; 4] = family.try_into().map_err(|_| Skip::Malformed)?;
    let value = if link == LinkType::LOOP {
        u32::from_be_bytes(bytes)
    } else {
        // The writer's byte order is unknown; the family is small, so the non-zero end tells.
        let le = u32::from_le_bytes(bytes);
        if le <= 0xffff {
            le
        } else {
            u32::from_be_bytes(bytes)
        }
    };
    match value {
        2 => Ok(EtherType::IPV4),
        24 | 28 | 30 => Ok(EtherType::IPV6),
        _ => Err(Skip::NotIp),
    }
}

/// The IP packet of an Ethernet frame or raw IP packet; `None` for any other link or type.
fn plain_ip<'a>(packet: &Packet<'a>) -> Option<&'a [u8]> {
    match packet.link {
        LinkType::ETHERNET => {
            let eth = etherparse::Ethernet2Slice::from_slice_without_fcs(packet.data).ok()?;
            match eth.ether_type() {
                EtherType::IPV4 | EtherType::IPV6 => Some(eth.payload_slice()),
                _ => None,
            }
        }
        LinkType::RAW | LinkType::RAW_OPENBSD | LinkType::IPV4 | LinkType::IPV6 => {
            Some(packet.data)
        }
        _ => None,
    }
}

/// What the fast paths need of an IP header carrying TCP, read from the header alone (not
/// etherparse's lax slicing, which also walks IPv6 extension headers and tells why a payload
/// is short); `None` for anything else (fragments, extension headers, other protocols).
struct TcpInIp {
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    header_len: usize,
    /// What the header says the packet holds, header included.
    total_len: usize,
}

// Inlined, as `segment` is: returned from a call, the header's facts went through memory on
// their way to the segment (with both inlined, 7% fewer instructions on the 100 MB cut).
#[inline(always)]
fn tcp_in_ip(ip: &[u8]) -> Option<TcpInIp> {
    match ip.first()? >> 4 {
        4 => {
            let h = etherparse::Ipv4HeaderSlice::from_slice(ip).ok()?;
            if h.protocol() != etherparse::IpNumber::TCP || h.is_fragmenting_payload() {
                return None;
            }
            Some(TcpInIp {
                src: h.source_addr().into(),
                dst: h.destination_addr().into(),
                ttl: h.ttl(),
                header_len: h.slice().len(),
                total_len: usize::from(h.total_len()),
            })
        }
        6 => {
            let h = etherparse::Ipv6HeaderSlice::from_slice(ip).ok()?;
            if h.next_header() != etherparse::IpNumber::TCP {
                return None;
            }
            Some(TcpInIp {
                src: h.source_addr().into(),
                dst: h.destination_addr().into(),
                ttl: h.hop_limit(),
                header_len: h.slice().len(),
                total_len: h.slice().len() + usize::from(h.payload_length()),
            })
        }
        _ => None,
    }
}

/// The common case, decoded layer by layer: Ethernet or raw IP carrying a whole, unfragmented
/// TCP segment. Building the full `LaxSlicedPacket` moves a few hundred bytes per packet, a
/// cost that shows on bulk traffic. `None`: anything else (VLAN, ICMP, fragments, a cut or
/// damaged packet) takes the general way, which says why it is skipped.
fn plain_tcp<'a>(packet: &Packet<'a>) -> Option<Segment<'a>> {
    if packet.orig_len as usize != packet.data.len() {
        return None;
    }
    let ip = plain_ip(packet)?;
    let h = tcp_in_ip(ip)?;
    // Ethernet may pad a short frame; a length beyond the bytes, or none (segmentation
    // offload, jumbograms), goes the general way.
    if h.total_len <= h.header_len {
        return None;
    }
    let tcp = etherparse::TcpSlice::from_slice(ip.get(h.header_len..h.total_len)?).ok()?;
    Some(segment(h.src, h.dst, h.ttl, &tcp, 0))
}

// Built where it is used: a segment returned from a call was copied once more.
#[inline(always)]
fn segment<'a>(src: IpAddr, dst: IpAddr, ttl: u8, tcp: &TcpSlice<'a>, missing: u32) -> Segment<'a> {
    Segment {
        src,
        dst,
        src_port: tcp.source_port(),
        dst_port: tcp.destination_port(),
        ttl,
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        flags: TcpFlags {
            syn: tcp.syn(),
            ack: tcp.ack(),
            fin: tcp.fin(),
            rst: tcp.rst(),
        },
        window: tcp.window_size(),
        payload: tcp.payload(),
        missing,
    }
}

fn segment_of<'a>(sliced: &LaxSlicedPacket<'a>, missing: u32) -> Result<Segment<'a>, Skip> {
    let Some((src, dst, ttl, fragmented)) = ip_facts(sliced) else {
        return Err(if sliced.stop_err.is_some() {
            Skip::Malformed
        } else {
            Skip::NotIp
        });
    };
    if fragmented {
        return Err(Skip::IpFragment);
    }
    let tcp = match &sliced.transport {
        Some(TransportSlice::Tcp(tcp)) => tcp,
        Some(_) => return Err(Skip::NotTcp),
        None => {
            let is_tcp = sliced
                .ip_payload()
                .is_some_and(|p| p.ip_number == etherparse::IpNumber::TCP);
            return Err(if is_tcp || sliced.stop_err.is_some() {
                Skip::Malformed
            } else {
                Skip::NotTcp
            });
        }
    };
    Ok(segment(src, dst, ttl, tcp, missing))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{Timestamp, read_capture};

    /// The first frame of a real loopback capture: Ethernet, IPv4, the client's SYN to 443.
    fn first_frame() -> Vec<u8> {
        let file: &[u8] = include_bytes!("../../captures/tls13-sni-alpn.pcap");
        let mut first = None;
        let (_, result) = read_capture(file, |p| {
            if first.is_none() {
                first = Some(p.data.to_vec());
            }
        });
        assert!(result.is_ok());
        first.expect("a packet")
    }

    fn packet(link: LinkType, data: &[u8]) -> Packet<'_> {
        Packet {
            frame: 1,
            ts: Timestamp::default(),
            link,
            data,
            orig_len: data.len() as u32,
        }
    }

    #[test]
    fn ethernet_syn() {
        let bytes = first_frame();
        let Ok(Decoded::Tcp(seg)) = decode(&packet(LinkType::ETHERNET, &bytes)) else {
            panic!("a TCP segment");
        };
        assert_eq!(seg.dst_port, 443);
        assert!(seg.flags.syn && !seg.flags.ack);
        assert_eq!(seg.ttl, 64);
        assert!(seg.payload.is_empty());
    }

    #[test]
    fn raw_ip_and_null_and_sll2_wrap_the_same_ip_packet() {
        let eth = first_frame();
        let ip = eth.get(14..).expect("ip").to_vec();
        let raw = decode(&packet(LinkType::RAW, &ip)).expect("raw");
        assert!(matches!(raw, Decoded::Tcp(_)));
        let mut null = vec![2, 0, 0, 0];
        null.extend_from_slice(&ip);
        assert_eq!(decode(&packet(LinkType::NULL, &null)), Ok(raw));
        let mut sll2 = vec![0x08, 0x00];
        sll2.extend_from_slice(&[0; 18]);
        sll2.extend_from_slice(&ip);
        assert_eq!(decode(&packet(LinkType::LINUX_SLL2, &sll2)), Ok(raw));
    }

    #[test]
    fn every_truncation_is_a_skip_or_a_segment_never_a_panic() {
        let eth = first_frame();
        let links = [
            LinkType::ETHERNET,
            LinkType::RAW,
            LinkType::NULL,
            LinkType::LINUX_SLL2,
            LinkType::LINUX_SLL,
        ];
        for len in 0..eth.len() {
            let cut = eth.get(..len).expect("prefix");
            for link in links {
                let _ = decode(&packet(link, cut));
            }
        }
        assert_eq!(
            decode(&packet(LinkType(147), &eth)),
            Err(Skip::UnknownLinkType(LinkType(147)))
        );
    }

    /// Every packet of every bundled capture, with the capture's name.
    fn each_bundled_packet(mut f: impl FnMut(&str, &Packet<'_>)) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
        for entry in std::fs::read_dir(dir).expect("captures/") {
            let path = entry.expect("entry").path();
            if !matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng")
            ) {
                continue;
            }
            let bytes = std::fs::read(&path).expect("readable");
            let name = path.display().to_string();
            let _ = read_capture(&bytes[..], |p| f(&name, p));
        }
    }

    /// The short way and the general way agree on every packet the short way takes, in every
    /// bundled capture, and the short way takes most of them.
    #[test]
    fn the_plain_tcp_path_decodes_as_the_general_one() {
        let (mut fast, mut total) = (0, 0);
        each_bundled_packet(|name, p| {
            total += 1;
            if let Some(seg) = plain_tcp(p) {
                fast += 1;
                let missing = p.orig_len.saturating_sub(p.data.len() as u32);
                let general = slice_link(p.link, p.data).and_then(|s| segment_of(&s, missing));
                assert_eq!(general, Ok(seg), "{name} frame {}", p.frame);
            }
        });
        assert!(
            fast * 10 > total * 9,
            "{fast} of {total} packets took the short way"
        );
    }

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
