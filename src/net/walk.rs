//! The general way down a packet: the layers etherparse slices, and the tunnels, tags and
//! label stacks between them, each recorded as a `Layer`.

use super::ip::{ip_facts, is_fragment, segment, unreachable_of};
use super::link::first_layer;
use super::tunnel::{Erspan, Geneve, Gre, MplsStack, PppoeSession, Vxlan};
use super::{Carrier, Decoded, Layer, MAX_LAYERS, Skip, defrag};
use crate::capture::LinkType;
use etherparse::{
    EtherType, IpNumber, LaxLinkExtSlice, LaxNetSlice, LaxSlicedPacket, TransportSlice,
};
use std::net::IpAddr;

/// The layers met so far, in a fixed array: the general path allocates nothing either.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Layers {
    items: [Option<Layer>; MAX_LAYERS],
    len: usize,
}

impl Layers {
    pub(super) fn push(&mut self, layer: Layer) -> Result<(), Skip> {
        let slot = self.items.get_mut(self.len).ok_or(Skip::TooDeep)?;
        *slot = Some(layer);
        self.len += 1;
        Ok(())
    }

    pub(super) fn depth(&self) -> u8 {
        self.len as u8
    }

    pub(super) fn as_slice(&self) -> Vec<Layer> {
        self.items.iter().flatten().copied().collect()
    }
}

/// What the walk down a packet decodes next.
#[derive(Clone, Copy, Debug)]
pub(super) enum Next<'a> {
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
pub(super) fn walk<'a>(
    link: LinkType,
    data: &'a [u8],
    missing: u32,
    layers: &mut Layers,
    fragment: Option<&mut Option<defrag::Fragment<'a>>>,
) -> Result<Decoded<'a>, Skip> {
    walk_from(first_layer(link, data)?, missing, layers, fragment)
}

pub(super) fn walk_from<'a>(
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
