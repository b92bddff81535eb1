//! Link, IP and TCP decoding of one packet, through etherparse.
//!
//! The result is a plain `Segment` (or the reason the packet was skipped), so later stages never
//! see etherparse types. Decoding is lax on purpose: a packet that the snaplen cut still yields
//! its headers and the payload bytes that were captured, with the missing length counted.

use crate::capture::{LinkType, Packet};
use etherparse::{
    EtherType, IpNumber, LaxLinkExtSlice, LaxNetSlice, LaxSlicedPacket, TcpSlice, TransportSlice,
};
use std::fmt;
use std::net::IpAddr;

mod defrag;
mod tunnel;

pub use defrag::{Datagram, DefragCounters, DefragLimits, Defragmenter};

pub use tunnel::ArpHardware;
use tunnel::{Erspan, Geneve, Gre, MplsStack, PppoeSession, Sll, Sll2, Vxlan};

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
pub fn encapsulation(packet: &Packet<'_>) -> Vec<Layer> {
    let mut layers = Layers::default();
    let _ = walk(packet.link, packet.data, 0, &mut layers, None);
    layers.as_slice()
}

/// Encapsulations decoded around one IP packet, at most; a deeper packet is `Skip::TooDeep`.
pub const MAX_LAYERS: usize = 8;

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

/// The layers met so far, in a fixed array: the general path allocates nothing either.
#[derive(Clone, Copy, Debug, Default)]
struct Layers {
    items: [Option<Layer>; MAX_LAYERS],
    len: usize,
}

impl Layers {
    fn push(&mut self, layer: Layer) -> Result<(), Skip> {
        let slot = self.items.get_mut(self.len).ok_or(Skip::TooDeep)?;
        *slot = Some(layer);
        self.len += 1;
        Ok(())
    }

    fn depth(&self) -> u8 {
        self.len as u8
    }

    fn as_slice(&self) -> Vec<Layer> {
        self.items.iter().flatten().copied().collect()
    }
}

/// What the walk down a packet decodes next.
#[derive(Clone, Copy, Debug)]
enum Next<'a> {
    Ethernet(&'a [u8]),
    Ether(EtherType, &'a [u8]),
    Ip(&'a [u8]),
}

/// Where one turn of the walk ended: the packet's meaning, or the next layer in.
enum Step<'a> {
    Done(Decoded<'a>),
    Into(Next<'a>),
}

/// The general way: etherparse slices each layer it knows (Ethernet, VLAN tags, IP, UDP,
/// TCP, ICMP); the tunnels between them are read by `tunnel`'s views. Each turn records a
/// layer before going in, so `MAX_LAYERS` bounds the walk. A fragment ends it as
/// `Skip::IpFragment`, and is handed over in `fragment` when asked for.
fn walk<'a>(
    link: LinkType,
    data: &'a [u8],
    missing: u32,
    layers: &mut Layers,
    fragment: Option<&mut Option<defrag::Fragment<'a>>>,
) -> Result<Decoded<'a>, Skip> {
    walk_from(first_layer(link, data)?, missing, layers, fragment)
}

fn walk_from<'a>(
    mut next: Next<'a>,
    missing: u32,
    layers: &mut Layers,
    mut fragment: Option<&mut Option<defrag::Fragment<'a>>>,
) -> Result<Decoded<'a>, Skip> {
    for _ in 0..=MAX_LAYERS {
        let sliced = match next {
            Next::Ethernet(d) => LaxSlicedPacket::from_ethernet(d).map_err(|_| Skip::Malformed)?,
            Next::Ether(t, d) => LaxSlicedPacket::from_ether_type(t, d),
            Next::Ip(d) => LaxSlicedPacket::from_ip(d).map_err(|_| Skip::Malformed)?,
        };
        for ext in &sliced.link_exts {
            if let LaxLinkExtSlice::Vlan(vlan) = ext {
                layers.push(Layer::Vlan(vlan.vlan_identifier().value()))?;
            }
        }
        if let Some(out) = fragment.as_mut()
            && is_fragment(&sliced)
        {
            **out = defrag::Fragment::of(&sliced, layers);
        }
        next = match step(&sliced, next, missing, layers)? {
            Step::Done(decoded) => return Ok(decoded),
            Step::Into(inner) => inner,
        };
    }
    Err(Skip::TooDeep)
}

fn first_layer(link: LinkType, data: &[u8]) -> Result<Next<'_>, Skip> {
    match link {
        LinkType::ETHERNET => Ok(Next::Ethernet(data)),
        LinkType::RAW | LinkType::RAW_OPENBSD | LinkType::IPV4 | LinkType::IPV6 => {
            Ok(Next::Ip(data))
        }
        LinkType::NULL | LinkType::LOOP => {
            let (family, rest) = split_at_checked(data, 4)?;
            Ok(Next::Ether(bsd_family_ether_type(link, family)?, rest))
        }
        LinkType::LINUX_SLL => {
            let sll = Sll::new_checked(data).ok_or(Skip::Malformed)?;
            sll_payload(sll.hardware(), sll.protocol(), sll.payload())
        }
        LinkType::LINUX_SLL2 => {
            let sll = Sll2::new_checked(data).ok_or(Skip::Malformed)?;
            sll_payload(sll.hardware(), sll.protocol(), sll.payload())
        }
        other => Err(Skip::UnknownLinkType(other)),
    }
}

/// A cooked capture's payload by its protocol field, whatever the hardware type (loopback,
/// Ethernet, tunnels, rmnet, none ...). Netlink, radiotap and Frame Relay put something else
/// in that field, and values below 0x0600 are Linux's own (802.3, 802.2 LLC, CAN ...), not
/// EtherTypes: those are skipped, by hardware and protocol.
fn sll_payload(hardware: ArpHardware, protocol: u16, payload: &[u8]) -> Result<Next<'_>, Skip> {
    const MIN_ETHER_TYPE: u16 = 0x0600;
    let foreign = matches!(
        hardware,
        ArpHardware::NETLINK | ArpHardware::IEEE80211_RADIOTAP | ArpHardware::FRAD
    );
    if foreign || protocol < MIN_ETHER_TYPE {
        return Err(Skip::NotIp(Carrier::Sll { hardware, protocol }));
    }
    Ok(Next::Ether(EtherType(protocol), payload))
}

/// One layer sliced by etherparse: its TCP segment or ICMP error, or the tunnel inside it.
fn step<'a>(
    sliced: &LaxSlicedPacket<'a>,
    at: Next<'a>,
    missing: u32,
    layers: &mut Layers,
) -> Result<Step<'a>, Skip> {
    if !matches!(
        sliced.net,
        Some(LaxNetSlice::Ipv4(_) | LaxNetSlice::Ipv6(_))
    ) {
        return below_ip(sliced, at, layers).map(Step::Into);
    }
    if let Some(unreachable) = unreachable_of(sliced) {
        return Ok(Step::Done(Decoded::Unreachable(unreachable)));
    }
    let (src, dst, ttl, fragmented) = ip_facts(sliced).ok_or(Skip::Malformed)?;
    if fragmented {
        return Err(Skip::IpFragment);
    }
    match &sliced.transport {
        Some(TransportSlice::Tcp(tcp)) => {
            let seg = segment(src, dst, ttl, tcp, missing, layers.depth());
            return Ok(Step::Done(Decoded::Tcp(seg)));
        }
        Some(TransportSlice::Udp(udp)) => {
            return in_udp(udp.destination_port(), udp.payload(), src, dst, layers).map(Step::Into);
        }
        _ => {}
    }
    let payload = sliced.ip_payload().ok_or(Skip::Malformed)?;
    match payload.ip_number {
        IpNumber::IPV4 | IpNumber::IPV6 => {
            layers.push(Layer::Ip { src, dst })?;
            Ok(Step::Into(Next::Ip(payload.payload)))
        }
        IpNumber::GRE => {
            layers.push(Layer::Ip { src, dst })?;
            in_gre(payload.payload, layers).map(Step::Into)
        }
        // A TCP header that did not parse, or a transport the snaplen cut.
        IpNumber::TCP => Err(Skip::Malformed),
        _ if sliced.stop_err.is_some() => Err(Skip::Malformed),
        other => Err(Skip::NotTcp(other.0)),
    }
}

/// A frame with no IP packet at this layer: MPLS or PPPoE around one, or something else.
fn below_ip<'a>(
    sliced: &LaxSlicedPacket<'a>,
    at: Next<'a>,
    layers: &mut Layers,
) -> Result<Next<'a>, Skip> {
    const MPLS_UNICAST: EtherType = EtherType(0x8847);
    const MPLS_MULTICAST: EtherType = EtherType(0x8848);
    const PPPOE_SESSION: EtherType = EtherType(0x8864);
    let (ether_type, payload) = match (sliced.ether_payload(), at) {
        (Some(p), _) => (p.ether_type, p.payload),
        (None, Next::Ether(t, d)) => (t, d),
        (None, _) => return Err(Skip::Malformed),
    };
    match ether_type {
        EtherType::IPV4 | EtherType::IPV6 => Err(Skip::Malformed),
        MPLS_UNICAST | MPLS_MULTICAST => {
            let mpls = MplsStack::new_checked(payload).ok_or(Skip::Malformed)?;
            layers.push(Layer::Mpls(mpls.top_label()))?;
            // No field names the payload: its first nibble is the IP version (RFC 4385).
            match mpls.payload().first().map(|b| b >> 4) {
                Some(4) => Ok(Next::Ether(EtherType::IPV4, mpls.payload())),
                Some(6) => Ok(Next::Ether(EtherType::IPV6, mpls.payload())),
                _ => Err(Skip::NotIp(Carrier::MplsPayload)),
            }
        }
        PPPOE_SESSION => {
            let pppoe = PppoeSession::new_checked(payload).ok_or(Skip::Malformed)?;
            layers.push(Layer::Pppoe(pppoe.session_id()))?;
            match pppoe.ppp_protocol() {
                PppoeSession::PPP_IPV4 => Ok(Next::Ether(EtherType::IPV4, pppoe.payload())),
                PppoeSession::PPP_IPV6 => Ok(Next::Ether(EtherType::IPV6, pppoe.payload())),
                other => Err(Skip::NotIp(Carrier::PppProtocol(other))),
            }
        }
        _ if sliced.stop_err.is_some() => Err(Skip::Malformed),
        EtherType(other) => Err(Skip::NotIp(Carrier::EtherType(other))),
    }
}

/// VXLAN and Geneve by their IANA ports; any other UDP is not ours.
fn in_udp<'a>(
    port: u16,
    payload: &'a [u8],
    src: IpAddr,
    dst: IpAddr,
    layers: &mut Layers,
) -> Result<Next<'a>, Skip> {
    match port {
        Vxlan::PORT => {
            let vxlan = Vxlan::new_checked(payload).ok_or(Skip::Malformed)?;
            layers.push(Layer::Ip { src, dst })?;
            layers.push(Layer::Vxlan(vxlan.vni()))?;
            Ok(Next::Ethernet(vxlan.payload()))
        }
        Geneve::PORT => {
            let geneve = Geneve::new_checked(payload).ok_or(Skip::Malformed)?;
            layers.push(Layer::Ip { src, dst })?;
            layers.push(Layer::Geneve(geneve.vni()))?;
            let protocol = geneve.protocol();
            by_protocol(protocol, geneve.payload())
                .ok_or(Skip::NotIp(Carrier::GeneveProtocol(protocol)))
        }
        _ => Err(Skip::NotTcp(IpNumber::UDP.0)),
    }
}

/// GRE's payload by its protocol type: an Ethernet frame, an IP packet, or ERSPAN around a
/// mirrored frame.
fn in_gre<'a>(bytes: &'a [u8], layers: &mut Layers) -> Result<Next<'a>, Skip> {
    let gre = Gre::new_checked(bytes)?;
    layers.push(Layer::Gre { key: gre.key() })?;
    let protocol = gre.protocol();
    match protocol {
        // Type I has no header of its own and no sequence number (as Wireshark tells them).
        Gre::ERSPAN_II if !gre.has_sequence() => {
            layers.push(Layer::Erspan {
                version: 1,
                session: 0,
            })?;
            Ok(Next::Ethernet(gre.payload()))
        }
        Gre::ERSPAN_II | Gre::ERSPAN_III => {
            let erspan = Erspan::new_checked(gre.payload(), protocol).ok_or(Skip::Malformed)?;
            let version = if protocol == Gre::ERSPAN_III { 3 } else { 2 };
            let session = erspan.session();
            layers.push(Layer::Erspan { version, session })?;
            Ok(Next::Ethernet(erspan.payload()))
        }
        _ => {
            by_protocol(protocol, gre.payload()).ok_or(Skip::NotIp(Carrier::GreProtocol(protocol)))
        }
    }
}

/// A tunnel's payload by the EtherType that names it (GRE's and Geneve's protocol type).
fn by_protocol(protocol: u16, payload: &[u8]) -> Option<Next<'_>> {
    match EtherType(protocol) {
        EtherType(Gre::TRANSPARENT_ETHERNET) => Some(Next::Ethernet(payload)),
        t @ (EtherType::IPV4 | EtherType::IPV6) => Some(Next::Ether(t, payload)),
        _ => None,
    }
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

    /// Whether the packet is an IP fragment (`Defragmenter::add` takes it).
    pub fn is_fragment(&self) -> bool {
        matches!(self.decoded, Err(Skip::IpFragment))
    }

    /// Which of `shards` the packet goes to: both directions of a TCP connection, and the
    /// ICMP errors quoting it, to the same one (a symmetric hash of the 4-tuple, the same in
    /// every run); packets of no connection to the first.
    pub fn shard(&self, shards: usize) -> usize {
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
    // The hash scaled onto 0..shards by a multiply (Lemire's reduction): `hash % shards`
    // compiled to a 64-bit division, a tenth of the reading thread's dispatch (perf).
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

/// Whether the IP packet at this layer carries a fragment (`step` skips it).
fn is_fragment(sliced: &LaxSlicedPacket<'_>) -> bool {
    ip_facts(sliced).is_some_and(|(_, _, _, fragmented)| fragmented)
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
        other => Err(Skip::NotIp(Carrier::Family(other))),
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
    Some(segment(h.src, h.dst, h.ttl, &tcp, 0, 0))
}

// Built where it is used: a segment returned from a call was copied once more.
#[inline(always)]
fn segment<'a>(
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
