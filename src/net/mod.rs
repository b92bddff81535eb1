//! Link, IP and TCP decoding of one packet, through etherparse.
//!
//! The result is a plain `Segment` (or the reason the packet was skipped), so later stages never
//! see etherparse types. Decoding is lax on purpose: a packet that the snaplen cut still yields
//! its headers and the payload bytes that were captured, with the missing length counted.

//!
//! `decode` tries the fast path for plain Ethernet or raw IP (`ip`) first, then the general
//! walk (`walk`) through the link layers (`link`) and the tunnels (`tunnel`'s header views).

use crate::capture::{LinkType, Packet};
use std::fmt;
use std::net::IpAddr;

mod defrag;
mod detached;
mod ip;
mod link;
mod tunnel;
mod walk;

pub use defrag::{Datagram, DefragCounters, DefragLimits, Defragmenter};
pub(crate) use detached::shard_of;
pub use detached::{Detached, endpoint_bits};
pub use tunnel::ArpHardware;

use ip::plain_tcp;
use walk::{Layers, walk};

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
    /// How many encapsulation layers (VLAN tags, tunnels) were outside the IP packet; 0 on
    /// the plain path. Only a count, so a segment stays small and copies cheaply: the layers
    /// themselves are read again (`encapsulation`) when a connection is created.
    pub depth: u8,
}

impl Segment<'_> {
    /// The sequence number of the first payload byte: a SYN occupies one number before it.
    pub(crate) fn data_seq(&self) -> u32 {
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
    pub(crate) ack: bool,
    pub(crate) fin: bool,
    pub(crate) rst: bool,
}

/// Why a packet gave no TCP segment; each is counted in the summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Skip {
    UnknownLinkType(LinkType),
    /// ARP, LLDP and other frames that carry no IP packet, by what their header names.
    NotIp(Carrier),
    /// UDP, ICMP and other transports, by IP protocol number.
    NotTcp(u8),
    /// A fragment of an IP packet: its datagram is decoded once `Defragmenter` has all of it.
    IpFragment,
    /// More than `MAX_LAYERS` encapsulations around the IP packet.
    TooDeep,
    /// Headers that do not parse, or that the snaplen cut before the TCP header ended.
    Malformed,
}

/// What a frame without an IP packet said it carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Carrier {
    EtherType(u16),
    /// A Linux cooked capture's protocol that is not an EtherType (802.3, 802.2 LLC ...), or
    /// a hardware type whose protocol field means something else (netlink, radiotap).
    Sll {
        hardware: ArpHardware,
        protocol: u16,
    },
    /// DLT_NULL and DLT_LOOP's address family.
    Family(u32),
    GreProtocol(u16),
    PppProtocol(u16),
    GeneveProtocol(u16),
    /// An MPLS payload that is neither IPv4 nor IPv6 (pseudowires).
    MplsPayload,
}

impl fmt::Display for Carrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Carrier::EtherType(t) => match ether_type_name(t) {
                Some(name) => write!(f, "EtherType 0x{t:04x} ({name})"),
                None => write!(f, "EtherType 0x{t:04x}"),
            },
            Carrier::Sll { hardware, protocol } => write!(
                f,
                "Linux cooked capture ARPHRD {} protocol 0x{protocol:04x}{}",
                hardware.0,
                match protocol {
                    0x0001 => " (802.3)",
                    0x0004 => " (802.2 LLC)",
                    0x000c => " (CAN)",
                    _ => "",
                }
            ),
            Carrier::Family(n) => write!(f, "address family {n}"),
            Carrier::GreProtocol(p) => write!(f, "GRE protocol 0x{p:04x}"),
            Carrier::PppProtocol(p) => write!(f, "PPP protocol 0x{p:04x}"),
            Carrier::GeneveProtocol(p) => write!(f, "Geneve protocol 0x{p:04x}"),
            Carrier::MplsPayload => f.write_str("MPLS payload not IP"),
        }
    }
}

/// The non-IP EtherTypes a capture commonly holds.
fn ether_type_name(t: u16) -> Option<&'static str> {
    Some(match t {
        0x0806 => "ARP",
        0x8035 => "RARP",
        0x8863 => "PPPoE discovery",
        0x888e => "EAPOL",
        0x88cc => "LLDP",
        0x88f7 => "PTP",
        0x8809 => "slow protocols (LACP)",
        0x9000 => "loopback",
        _ => return None,
    })
}

/// An ICMP or ICMPv6 destination-unreachable error, and the TCP connection it quotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unreachable {
    /// Who sent the error: the destination host, or a router or firewall on the way.
    pub(crate) reporter: IpAddr,
    pub(crate) ttl: u8,
    /// The ICMP code in words ("port unreachable", "administratively prohibited" ...).
    pub(crate) kind: &'static str,
    /// The quoted packet's source and destination: the connection's own 4-tuple.
    pub(crate) src: IpAddr,
    pub(crate) dst: IpAddr,
    pub(crate) src_port: u16,
    pub(crate) dst_port: u16,
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
    let missing = packet.orig_len.saturating_sub(packet.data.len() as u32);
    walk(
        packet.link,
        packet.data,
        missing,
        &mut Layers::default(),
        None,
    )
}

/// The layers around a packet's (innermost) IP header, outermost first; empty for a plain
/// packet. Read again from the packet when a connection is created, so the per-packet path
/// carries only their count.
pub(crate) fn encapsulation(packet: &Packet<'_>) -> Vec<Layer> {
    let mut layers = Layers::default();
    let _ = walk(packet.link, packet.data, 0, &mut layers, None);
    layers.as_slice()
}

/// Encapsulations decoded around one IP packet, at most; a deeper packet is `Skip::TooDeep`.
pub(crate) const MAX_LAYERS: usize = 8;

/// One encapsulation layer outside the IP packet that carries the TCP segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    /// An 802.1Q or 802.1ad tag, by VLAN id.
    Vlan(u16),
    /// An MPLS label stack, by its top label.
    Mpls(u32),
    /// A PPPoE session, by session id.
    Pppoe(u16),
    /// An outer IP header: IP in IP, or the IP header of a GRE, VXLAN or Geneve tunnel.
    Ip {
        src: IpAddr,
        dst: IpAddr,
    },
    Gre {
        key: Option<u32>,
    },
    /// ERSPAN type I (no header), II or III, by session id.
    Erspan {
        version: u8,
        session: u16,
    },
    /// VXLAN, by VNI.
    Vxlan(u32),
    /// Geneve, by VNI.
    Geneve(u32),
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Layer::Vlan(id) => write!(f, "vlan {id}"),
            Layer::Mpls(label) => write!(f, "mpls {label}"),
            Layer::Pppoe(session) => write!(f, "pppoe {session}"),
            Layer::Ip { src, dst } => {
                let v = if src.is_ipv4() { 4 } else { 6 };
                write!(f, "ipv{v} {src}>{dst}")
            }
            Layer::Gre { key: Some(key) } => write!(f, "gre key {key}"),
            Layer::Gre { key: None } => f.write_str("gre"),
            Layer::Erspan { version, session } => write!(f, "erspan{version} {session}"),
            Layer::Vxlan(vni) => write!(f, "vxlan {vni}"),
            Layer::Geneve(vni) => write!(f, "geneve {vni}"),
        }
    }
}

impl serde::Serialize for Layer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{Timestamp, read_capture};

    /// The first frame of a real loopback capture: Ethernet, IPv4, the client's SYN to 443.
    pub(super) fn first_frame() -> Vec<u8> {
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

    pub(super) fn packet(link: LinkType, data: &[u8]) -> Packet<'_> {
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
    pub(super) fn each_bundled_packet(mut f: impl FnMut(&str, &Packet<'_>)) {
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
}
