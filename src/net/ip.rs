//! IP and TCP/ICMP decoding: an IP header's facts, the ICMP errors that quote a TCP
//! connection, and the fast path for Ethernet or raw IP carrying a whole TCP segment.

use super::link::plain_ip;
use super::{Segment, TcpFlags, Unreachable};
use crate::capture::Packet;
use etherparse::{LaxNetSlice, LaxSlicedPacket, TcpSlice, TransportSlice};
use std::net::IpAddr;

/// Destination unreachable (ICMP type 3, ICMPv6 type 1) quoting a TCP header: RFC 792 and
/// RFC 4443 quote the offending IP header and at least 8 bytes after it, enough for the ports.
pub(super) fn unreachable_of(sliced: &LaxSlicedPacket<'_>) -> Option<Unreachable> {
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

/// Whether the IP packet at this layer carries a fragment (`step` skips it).
pub(super) fn is_fragment(sliced: &LaxSlicedPacket<'_>) -> bool {
    ip_facts(sliced).is_some_and(|(_, _, _, fragmented)| fragmented)
}

/// Source, destination, TTL (or hop limit) and whether the payload is a fragment.
pub(super) fn ip_facts(sliced: &LaxSlicedPacket<'_>) -> Option<(IpAddr, IpAddr, u8, bool)> {
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
// their way to the segment.
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
pub(super) fn plain_tcp<'a>(packet: &Packet<'a>) -> Option<Segment<'a>> {
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
    Some(segment(h.src, h.dst, h.ttl, &tcp, 0, 0))
}

// Built where it is used: a segment returned from a call was copied once more.
#[inline(always)]
pub(super) fn segment<'a>(
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    tcp: &TcpSlice<'a>,
    missing: u32,
    depth: u8,
) -> Segment<'a> {
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
        depth,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::LinkType;
    use crate::net::tests::each_bundled_packet;
    use crate::net::walk::{Layers, walk};
    use crate::net::{Decoded, decode};

    /// The short way and the general way agree on every packet the short way takes, in every
    /// bundled capture, and the short way takes most of those on Ethernet or raw IP outside
    /// any tunnel or tag (the cooked and tunneled captures go the general way on purpose).
    #[test]
    fn the_plain_tcp_path_decodes_as_the_general_one() {
        let (mut fast, mut total) = (0, 0);
        each_bundled_packet(|name, p| {
            let untunneled = match decode(p) {
                Ok(Decoded::Tcp(seg)) => seg.depth == 0,
                Ok(Decoded::Unreachable(_)) | Err(_) => true,
            };
            let plain_link = matches!(p.link, LinkType::ETHERNET | LinkType::RAW);
            if untunneled && plain_link {
                total += 1;
            }
            if let Some(seg) = plain_tcp(p) {
                fast += 1;
                let missing = p.orig_len.saturating_sub(p.data.len() as u32);
                let general = walk(p.link, p.data, missing, &mut Layers::default(), None);
                assert_eq!(general, Ok(Decoded::Tcp(seg)), "{name} frame {}", p.frame);
            }
        });
        assert!(
            fast * 10 > total * 9,
            "{fast} of {total} packets took the short way"
        );
    }
}
