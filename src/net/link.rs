//! The link layers under the IP packet: Ethernet, Linux cooked capture v1 and v2, DLT_NULL
//! and DLT_LOOP, and raw IP.

use super::tunnel::{ArpHardware, Sll, Sll2};
use super::walk::Next;
use super::{Carrier, Skip};
use crate::capture::{LinkType, Packet};
use etherparse::EtherType;

pub(super) fn first_layer(link: LinkType, data: &[u8]) -> Result<Next<'_>, Skip> {
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
pub(super) fn plain_ip<'a>(packet: &Packet<'a>) -> Option<&'a [u8]> {
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
