//! The run's counters: every packet read, skipped, cut or dropped, by reason, bounded.

use crate::capture::LinkType;
use crate::net::{self};
use serde::Serialize;
use std::collections::BTreeMap;

/// What the capture held besides connections: every packet is accounted for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PacketCounters {
    pub packets: u64,
    pub bytes: u64,
    pub tcp_packets: u64,
    pub tcp_conversations: u64,
    /// Packets that are not IP (ARP, LLDP ...) or not TCP (UDP, ICMP ...).
    pub skipped: u64,
    /// Headers that did not parse, or that the snaplen cut before the TCP header ended.
    pub malformed: u64,
    /// IP fragments (each also counted below by what became of it).
    pub ip_fragments: u64,
    /// Datagrams reassembled from fragments and decoded as packets of their own (their TCP
    /// segments count in `tcp_packets`).
    pub ip_datagrams_reassembled: u64,
    /// Fragments dropped with their datagram to stay within the datagrams or bytes pending.
    pub ip_fragments_over_limit: u64,
    /// Fragments of datagrams not complete within the timeout or by the end of the capture.
    pub ip_fragments_timed_out: u64,
    /// Fragments overlapping others with different bytes, disagreeing on the datagram's
    /// length, or cut by the snaplen: dropped with their datagram.
    pub ip_fragments_inconsistent: u64,
    /// Packets whose payload the snaplen cut.
    pub(crate) truncated: u64,
    /// Connections judged early and dropped because the table was full.
    pub evicted_connections: u64,
    /// Segments dropped because their direction already buffered `max_buffered` bytes.
    pub segments_over_buffer_limit: u64,
    /// Segments dropped because their direction already held `max_out_of_order` segments.
    pub segments_over_out_of_order_limit: u64,
    /// Handshake messages refused for declaring more than `max_handshake_message` bytes.
    pub handshake_messages_over_limit: u64,
    /// Certificates not decoded: beyond `max_chain` in their chain, or over
    /// `max_certificate` bytes.
    pub certificates_over_limit: u64,
    /// Packets not kept for --save-failures because all kept packets reached their budget.
    #[serde(skip_serializing_if = "is_zero")]
    pub(crate) packets_not_kept: u64,
    /// Live --keylog: connections whose wait for keys the followed key log did not get in
    /// time ended without them (after `KEY_WAIT`, when judged, or past the bounds of what
    /// they may hold): judged keyless, or with one direction's keys.
    #[serde(skip_serializing_if = "is_zero")]
    pub key_waits_unmet: u64,
    /// Packets of connections already closed, judged and removed (late ACKs, retransmitted
    /// FINs): counted, not reported as connections of their own.
    #[serde(skip_serializing_if = "is_zero")]
    pub packets_after_close: u64,
    /// Packets on link types tlsdiag does not decode, by link type name.
    pub unknown_link_types: BTreeMap<String, u64>,
    /// Skipped packets by reason (EtherType, cooked-capture hardware and protocol, IP
    /// protocol, malformed on a link type ...): at most `MAX_SKIP_REASONS` kept apart, the
    /// rest under `other`; omitted when none.
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        serialize_with = "named_counts"
    )]
    pub skip_reasons: BTreeMap<SkipReason, u64>,
}

/// Why a packet was skipped, finer than the counters: what `Skip` says, with the link type
/// of a malformed packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipReason {
    NotIp(net::Carrier),
    NotTcp(u8),
    IpFragment,
    TooDeep,
    Malformed(LinkType),
    /// Reasons beyond the first `MAX_SKIP_REASONS`.
    Other,
}

impl SkipReason {
    /// Packets tlsdiag could not read, as opposed to traffic that is not TCP over IP (ARP,
    /// UDP, 802.2 LLC ...): a tunnel payload it does not know, too many layers, fragments,
    /// broken headers.
    pub(crate) fn is_unread(self) -> bool {
        use net::Carrier;
        match self {
            SkipReason::NotIp(Carrier::EtherType(_) | Carrier::Sll { .. }) => false,
            SkipReason::NotIp(_) => true,
            SkipReason::NotTcp(_) | SkipReason::Other => false,
            SkipReason::IpFragment | SkipReason::TooDeep | SkipReason::Malformed(_) => true,
        }
    }
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::NotIp(carrier) => write!(f, "{carrier}"),
            SkipReason::NotTcp(n) => match etherparse::IpNumber(*n).keyword_str() {
                Some(name) => write!(f, "IP protocol {n} ({name})"),
                None => write!(f, "IP protocol {n}"),
            },
            SkipReason::IpFragment => f.write_str("IP fragment not reassembled"),
            SkipReason::TooDeep => write!(f, "more than {} encapsulations", net::MAX_LAYERS),
            SkipReason::Malformed(link) => write!(f, "malformed on {}", link.name()),
            SkipReason::Other => f.write_str(OTHER_LINK_TYPES),
        }
    }
}

fn named_counts<S: serde::Serializer>(
    map: &BTreeMap<SkipReason, u64>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_map(map.iter().map(|(k, v)| (k.to_string(), v)))
}

impl PacketCounters {
    /// Adds another analyzer's counts of the same capture (`-j`).
    pub(crate) fn add(&mut self, other: &PacketCounters) {
        // Destructured, so that a new counter cannot be forgotten here.
        let PacketCounters {
            packets,
            bytes,
            tcp_packets,
            tcp_conversations,
            skipped,
            malformed,
            ip_fragments,
            ip_datagrams_reassembled,
            ip_fragments_over_limit,
            ip_fragments_timed_out,
            ip_fragments_inconsistent,
            truncated,
            evicted_connections,
            segments_over_buffer_limit,
            segments_over_out_of_order_limit,
            handshake_messages_over_limit,
            certificates_over_limit,
            packets_not_kept,
            key_waits_unmet,
            packets_after_close,
            unknown_link_types,
            skip_reasons,
        } = other;
        self.packets += packets;
        self.bytes += bytes;
        self.tcp_packets += tcp_packets;
        self.tcp_conversations += tcp_conversations;
        self.skipped += skipped;
        self.malformed += malformed;
        self.ip_fragments += ip_fragments;
        self.ip_datagrams_reassembled += ip_datagrams_reassembled;
        self.ip_fragments_over_limit += ip_fragments_over_limit;
        self.ip_fragments_timed_out += ip_fragments_timed_out;
        self.ip_fragments_inconsistent += ip_fragments_inconsistent;
        self.truncated += truncated;
        self.evicted_connections += evicted_connections;
        self.segments_over_buffer_limit += segments_over_buffer_limit;
        self.segments_over_out_of_order_limit += segments_over_out_of_order_limit;
        self.handshake_messages_over_limit += handshake_messages_over_limit;
        self.certificates_over_limit += certificates_over_limit;
        self.packets_not_kept += packets_not_kept;
        self.key_waits_unmet += key_waits_unmet;
        self.packets_after_close += packets_after_close;
        for (name, n) in unknown_link_types {
            self.count_link_type(name.clone(), *n);
        }
        for (reason, n) in skip_reasons {
            self.count_skip_reason(*reason, *n);
        }
    }

    /// Adds what a defragmenter made of the fragments; those it dropped are packets that could
    /// not be read (`SkipReason::IpFragment`).
    pub(crate) fn add_defrag(&mut self, d: &net::DefragCounters) {
        self.ip_datagrams_reassembled += d.reassembled;
        self.ip_fragments_over_limit += d.over_limit;
        self.ip_fragments_timed_out += d.timed_out;
        self.ip_fragments_inconsistent += d.inconsistent;
        if d.dropped() > 0 {
            self.count_skip_reason(SkipReason::IpFragment, d.dropped());
        }
    }

    /// Counts `n` packets skipped for `reason`, bounded as `count_link_type` is.
    pub(crate) fn count_skip_reason(&mut self, reason: SkipReason, n: u64) {
        let map = &mut self.skip_reasons;
        let reason = if map.len() >= MAX_SKIP_REASONS && !map.contains_key(&reason) {
            SkipReason::Other
        } else {
            reason
        };
        *map.entry(reason).or_default() += n;
    }

    /// Packets that tlsdiag could not read (`SkipReason::is_unread`, unknown link types).
    pub fn unread(&self) -> u64 {
        let reasons: u64 = self
            .skip_reasons
            .iter()
            .filter(|(r, _)| r.is_unread())
            .map(|(_, n)| n)
            .sum();
        reasons + self.unknown_link_types.values().sum::<u64>()
    }

    /// Counts `n` packets on the unknown link type `name`. At most `MAX_LINK_TYPE_NAMES`
    /// names are kept and the rest counted as `other`: a hostile file of ever new link types
    /// (a pcapng section and interface each) would otherwise grow the map, and the summary,
    /// with the file.
    pub(crate) fn count_link_type(&mut self, name: String, n: u64) {
        let map = &mut self.unknown_link_types;
        let name = if map.len() >= MAX_LINK_TYPE_NAMES && !map.contains_key(&name) {
            OTHER_LINK_TYPES.to_string()
        } else {
            name
        };
        *map.entry(name).or_default() += n;
    }
}

/// Link type names counted apart in `unknown_link_types`; packets on others are counted under
/// `OTHER_LINK_TYPES`.
pub(crate) const MAX_LINK_TYPE_NAMES: usize = 64;

/// Skip reasons counted apart in `skip_reasons`.
pub(crate) const MAX_SKIP_REASONS: usize = 64;

pub(crate) const OTHER_LINK_TYPES: &str = "other";

pub(crate) fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_type_names_are_bounded_and_every_packet_still_counted() {
        let mut c = PacketCounters::default();
        for n in 0..(MAX_LINK_TYPE_NAMES as u32 + 40) {
            c.count_link_type(LinkType(1000 + n).name(), 2);
        }
        // A name already kept is still counted apart once the bound is reached.
        c.count_link_type(LinkType(1000).name(), 1);
        assert_eq!(c.unknown_link_types.len(), MAX_LINK_TYPE_NAMES + 1);
        assert_eq!(c.unknown_link_types.get(OTHER_LINK_TYPES), Some(&80));
        assert_eq!(c.unknown_link_types.get("LINKTYPE_1000"), Some(&3));
        let total: u64 = c.unknown_link_types.values().sum();
        assert_eq!(total, 2 * (MAX_LINK_TYPE_NAMES as u64 + 40) + 1);

        // Adding another analyzer's counts keeps the bound.
        let mut sum = PacketCounters::default();
        sum.add(&c);
        sum.add(&c);
        assert_eq!(sum.unknown_link_types.len(), MAX_LINK_TYPE_NAMES + 1);
        assert_eq!(sum.unknown_link_types.values().sum::<u64>(), 2 * total);
    }
}
