//! The connection table: which TCP conversation a segment belongs to, numbered as Wireshark
//! numbers `tcp.stream`, and the per-direction reassembly of each.
//!
//! Every TCP conversation gets a stream number, TLS or not, so that `tcp.stream eq N` in
//! Wireshark finds the same connection. The table is generic over what the caller keeps per
//! connection, so this stage knows nothing of TLS.
//!
//! This file holds the table, its lookups and its eviction; `retire` the schedule of
//! retirements and the retired conversations' tombstones; `endpoint` who is who.

mod endpoint;
pub(crate) mod reassembly;
mod retire;

use crate::capture::Timestamp;
use crate::net::Segment;
use endpoint::FlowKey;
use indexmap::IndexMap;
use indexmap::map::Entry;
use retire::{Retired, Tombstones, due_by, reuses_ports};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

pub use endpoint::{Endpoint, PerSide, RoleEvidence, Side};
pub use reassembly::{Bound, Gap, Limits, Placement, Reassembler};
pub use retire::REMEMBER_RETIRED;

/// A conversation's entry: its stream number and the caller's state.
#[derive(Debug)]
pub struct Flow<T> {
    pub(crate) tcp_stream: u64,
    pub(crate) client: Endpoint,
    pub(crate) server: Endpoint,
    pub(crate) roles: RoleEvidence,
    /// First sequence number seen from each endpoint (`lo`, `hi`): Wireshark's base_seq, whose
    /// change on a SYN means the ports were reused by a new connection.
    base_seq: [Option<u32>; 2],
    /// Seen since the evictor last passed it (the "second chance" of a clock eviction).
    recent: bool,
    pub state: T,
}

impl<T> Flow<T> {
    /// The side that sent `seg`.
    pub(crate) fn side_of(&self, seg: &Segment<'_>) -> Side {
        if seg.src == self.client.ip && seg.src_port == self.client.port {
            Side::Client
        } else {
            Side::Server
        }
    }

    /// A segment of it was seen, from the `lo` (0) or `hi` (1) end of its key.
    fn seen(&mut self, from_lo: usize, seg: &Segment<'_>) {
        self.recent = true;
        let [lo, hi] = &mut self.base_seq;
        if from_lo == 0 { lo } else { hi }.get_or_insert(seg.seq);
    }

    /// Turns the roles around, when a later fact (a ClientHello) proves the guess wrong.
    pub(crate) fn swap_roles(&mut self, evidence: RoleEvidence) {
        std::mem::swap(&mut self.client, &mut self.server);
        self.roles = evidence;
    }
}

/// What a lookup found.
pub struct Lookup<'t, T> {
    /// The segment's conversation; none when it is a straggler of a retired one (a last ACK,
    /// a retransmitted FIN).
    pub flow: Option<&'t mut Flow<T>>,
    /// A previous connection on the same 4-tuple that this segment's SYN ended.
    pub(crate) replaced: Option<Box<Flow<T>>>,
    /// The connection on the same 4-tuple, found due to retire (at the time given) before
    /// this segment: retired now, as its due time would have.
    pub(crate) retired: Option<(Box<Flow<T>>, Timestamp)>,
    /// A connection pushed out to make room, the table being full.
    pub(crate) evicted: Option<Box<Flow<T>>>,
    pub(crate) is_new: bool,
}

/// All conversations of one capture, in the order they appeared.
#[derive(Debug)]
pub struct FlowTable<T> {
    /// Boxed, so that the table's slots stay small: growing it moves pointers, not states.
    /// foldhash: fast on small keys, and seeded per run, so that a flood of chosen 4-tuples
    /// cannot aim at one bucket. An `IndexMap`, so that the conversation last found can be
    /// found again by its index (`hot`).
    flows: IndexMap<FlowKey, Box<Flow<T>>, foldhash::fast::RandomState>,
    /// Where `ongoing` last found a conversation: most packets belong to the same one as the
    /// packet before, found there by comparing the key instead of hashing it. A removal moves
    /// entries, so the key is checked, never trusted.
    hot: usize,
    next_stream: u64,
    /// Ports treated as server ports when no SYN or ClientHello tells the roles.
    server_ports: Vec<u16>,
    /// The most conversations held at once; beyond it the least recently seen one goes.
    max_flows: usize,
    /// Conversations in the order they were (re)queued, for eviction; entries of flows that
    /// are gone are skipped when met.
    order: VecDeque<(FlowKey, u64)>,
    /// Conversations judged and removed, kept small until forgotten.
    retired: Tombstones,
    /// Conversations that were due to retire at these times when `schedule`d; each is checked
    /// again when its time comes (a later packet moves its time on).
    due: BinaryHeap<Reverse<(Timestamp, u64, FlowKey)>>,
}

impl<T> FlowTable<T> {
    pub fn new(server_ports: Vec<u16>, max_flows: usize) -> Self {
        FlowTable {
            flows: IndexMap::default(),
            hot: 0,
            next_stream: 0,
            server_ports,
            max_flows: max_flows.max(1),
            order: VecDeque::new(),
            retired: Tombstones::default(),
            due: BinaryHeap::new(),
        }
    }

    /// Removes a conversation not seen since the last pass (a clock sweep: each one seen in
    /// between gets a second chance), so eviction costs O(1) amortised even under a flood.
    fn evict_one(&mut self) -> Option<Box<Flow<T>>> {
        let mut budget = self.order.len() * 2;
        while budget > 0 {
            budget -= 1;
            let (key, stream) = self.order.pop_front()?;
            let Some(flow) = self.flows.get_mut(&key) else {
                continue;
            };
            if flow.tcp_stream != stream {
                continue;
            }
            if flow.recent {
                flow.recent = false;
                self.order.push_back((key, stream));
                continue;
            }
            return self.flows.swap_remove(&key);
        }
        None
    }

    pub(crate) fn len(&self) -> usize {
        self.flows.len()
    }

    /// Finds (or creates, with `init`) the conversation of `seg` at capture time `now`,
    /// hashing its key once when the conversation exists (the case of nearly every packet).
    /// `due` tells when a conversation's state is due to retire, if it is: one found due by
    /// `now` is retired first, exactly as if its due time had come just before.
    pub fn lookup(
        &mut self,
        seg: &Segment<'_>,
        now: Timestamp,
        due: impl Fn(&T) -> Option<Timestamp>,
        init: impl FnOnce() -> T,
    ) -> Lookup<'_, T> {
        let src = Endpoint::new(seg.src, seg.src_port);
        let dst = Endpoint::new(seg.dst, seg.dst_port);
        let (key, from_hi) = FlowKey::of(src, dst);
        let from_lo = usize::from(from_hi);
        let evicted = if self.flows.len() >= self.max_flows
            && !self.flows.contains_key(&key)
            && !self.retired.straggler(&key, from_lo, seg, now)
        {
            self.evict_one()
        } else {
            None
        };
        let stream = self.next_stream;
        let new_flow = |init: T| {
            let (client, server, roles) = initial_roles(seg, src, dst, &self.server_ports);
            Box::new(Flow {
                tcp_stream: stream,
                client,
                server,
                roles,
                base_seq: [None, None],
                recent: false,
                state: init,
            })
        };
        let mut lookup = Lookup {
            flow: None,
            replaced: None,
            retired: None,
            evicted,
            is_new: false,
        };
        let flow = match self.flows.entry(key) {
            Entry::Occupied(mut entry) => {
                let found = entry.get_mut();
                if let Some(at) = due_by(&found.state, now, &due) {
                    let tomb = Retired::of(found, at);
                    if tomb.claims(from_lo, seg, now) {
                        lookup.retired = Some((entry.swap_remove(), at));
                        self.retired.bury(key, tomb);
                        return lookup;
                    }
                    lookup.retired = Some((entry.insert(new_flow(init())), at));
                } else if reuses_ports(&found.base_seq, from_lo, seg) {
                    lookup.replaced = Some(entry.insert(new_flow(init())));
                }
                entry.into_mut()
            }
            Entry::Vacant(entry) => {
                if self.retired.straggler(entry.key(), from_lo, seg, now) {
                    return lookup;
                }
                entry.insert(new_flow(init()))
            }
        };
        // Every conversation already in the table has a smaller number.
        let is_new = flow.tcp_stream == stream;
        if is_new {
            self.next_stream += 1;
            self.order.push_back((key, stream));
        }
        flow.seen(from_lo, seg);
        lookup.is_new = is_new;
        lookup.flow = Some(flow);
        lookup
    }

    /// The conversation of `seg` when it is open, not due to retire by `now`, and the segment
    /// is no SYN (which may open a new connection on its ports): what `lookup` would find, the
    /// case of nearly every packet, without its bookkeeping for new, reused, retiring or
    /// evicted conversations. `None`: ask `lookup`.
    pub(crate) fn ongoing(
        &mut self,
        seg: &Segment<'_>,
        now: Timestamp,
        due: impl Fn(&T) -> Option<Timestamp>,
    ) -> Option<&mut Flow<T>> {
        if seg.flags.syn {
            return None;
        }
        let src = Endpoint::new(seg.src, seg.src_port);
        let dst = Endpoint::new(seg.dst, seg.dst_port);
        let (key, from_hi) = FlowKey::of(src, dst);
        let flow = self.open_by_key(&key, now, due)?;
        flow.seen(usize::from(from_hi), seg);
        Some(flow)
    }

    /// The open conversation between these endpoints at capture time `now`, if there is one
    /// (never creates one). One due to retire by then is over, as `lookup` counts it, whether
    /// or not `retire_due` has come to it yet.
    pub(crate) fn find_mut(
        &mut self,
        a: Endpoint,
        b: Endpoint,
        now: Timestamp,
        due: impl Fn(&T) -> Option<Timestamp>,
    ) -> Option<&mut Flow<T>> {
        self.open_by_key(&FlowKey::of(a, b).0, now, due)
    }

    /// `find_mut` by key: the conversation unless it is due to retire by `now`.
    fn open_by_key(
        &mut self,
        key: &FlowKey,
        now: Timestamp,
        due: impl Fn(&T) -> Option<Timestamp>,
    ) -> Option<&mut Flow<T>> {
        if self.flows.get_index(self.hot).is_none_or(|(k, _)| k != key) {
            self.hot = self.flows.get_index_of(key)?;
        }
        let (_, flow) = self.flows.get_index_mut(self.hot)?;
        due_by(&flow.state, now, due)
            .is_none()
            .then_some(&mut **flow)
    }

    /// Every conversation, in no set order.
    pub(crate) fn for_each_mut(&mut self, mut each: impl FnMut(&mut Flow<T>)) {
        for flow in self.flows.values_mut() {
            each(flow);
        }
    }

    /// Removes the conversations for which `pred` holds, in stream order.
    pub(crate) fn drain_where(
        &mut self,
        mut pred: impl FnMut(&Flow<T>) -> bool,
    ) -> Vec<Box<Flow<T>>> {
        let mut keys: Vec<(u64, FlowKey)> = self
            .flows
            .iter()
            .filter(|(_, f)| pred(f))
            .map(|(k, f)| (f.tcp_stream, *k))
            .collect();
        keys.sort_unstable_by_key(|(stream, _)| *stream);
        let removed = keys
            .into_iter()
            .filter_map(|(_, key)| self.flows.swap_remove(&key))
            .collect();
        self.compact_order();
        removed
    }

    /// The eviction queue keeps entries of removed flows until it meets them, and it meets
    /// them only when the table is full: compact it after removals, so that a long capture or
    /// live run does not grow it by an entry per conversation.
    fn compact_order(&mut self) {
        if self.order.len() > 2 * self.flows.len() + 1024 {
            let flows = &self.flows;
            self.order
                .retain(|(key, stream)| flows.get(key).is_some_and(|f| f.tcp_stream == *stream));
        }
    }

    /// Removes every conversation, yielding them in stream order one at a time: only the keys
    /// are sorted, so the conversations are never held twice.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = Box<Flow<T>>> + '_ {
        self.order.clear();
        let mut keys: Vec<(u64, FlowKey)> =
            self.flows.iter().map(|(k, f)| (f.tcp_stream, *k)).collect();
        keys.sort_unstable_by_key(|(stream, _)| *stream);
        keys.into_iter()
            .filter_map(|(_, key)| self.flows.swap_remove(&key))
    }
}

/// The client is the SYN sender; a SYN-ACK's receiver; otherwise the side not on a server port
/// (or on the higher port), to be corrected later by a ClientHello.
fn initial_roles(
    seg: &Segment<'_>,
    src: Endpoint,
    dst: Endpoint,
    server_ports: &[u16],
) -> (Endpoint, Endpoint, RoleEvidence) {
    if seg.flags.syn {
        return if seg.flags.ack {
            (dst, src, RoleEvidence::Syn)
        } else {
            (src, dst, RoleEvidence::Syn)
        };
    }
    let src_is_server = server_ports.contains(&src.port) && !server_ports.contains(&dst.port)
        || (server_ports.contains(&src.port) == server_ports.contains(&dst.port)
            && src.port < dst.port);
    if src_is_server {
        (dst, src, RoleEvidence::Port)
    } else {
        (src, dst, RoleEvidence::Port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::TcpFlags;
    use std::net::IpAddr;

    fn syn(port: u16) -> Segment<'static> {
        Segment {
            src: IpAddr::from([10, 0, 0, 1]),
            dst: IpAddr::from([10, 0, 0, 2]),
            src_port: port,
            dst_port: 443,
            ttl: 64,
            seq: 1,
            ack: 0,
            flags: TcpFlags {
                syn: true,
                ack: false,
                fin: false,
                rst: false,
            },
            window: 0,
            payload: &[],
            missing: 0,
            depth: 0,
        }
    }

    #[test]
    fn ongoing_finds_what_lookup_would_and_leaves_the_rest_to_it() {
        // The state is the time the conversation is due to retire, if closed.
        let mut table: FlowTable<Option<Timestamp>> = FlowTable::new(vec![443], 10);
        let due = |at: &Option<Timestamp>| *at;
        let t = |secs| Timestamp::new(secs, 0);
        let first = table.lookup(&syn(1000), t(0), due, || None).flow;
        assert_eq!(first.map(|f| f.tcp_stream), Some(0));

        // The server's answer, no SYN: found, and its first sequence number taken.
        let reply = Segment {
            src: IpAddr::from([10, 0, 0, 2]),
            dst: IpAddr::from([10, 0, 0, 1]),
            src_port: 443,
            dst_port: 1000,
            seq: 5000,
            flags: TcpFlags {
                ack: true,
                ..TcpFlags::default()
            },
            ..syn(1000)
        };
        let found = table
            .ongoing(&reply, t(1), due)
            .map(|f| (f.tcp_stream, f.base_seq));
        assert_eq!(found, Some((0, [Some(1), Some(5000)])));

        // A SYN may open a new connection on the ports, an unknown 4-tuple is new, and one
        // due to retire is retired: all are `lookup`'s, and `ongoing` changes nothing.
        assert!(table.ongoing(&syn(1000), t(1), due).is_none());
        let stranger = Segment {
            src_port: 2000,
            ..reply
        };
        assert!(table.ongoing(&stranger, t(1), due).is_none());
        assert_eq!(table.len(), 1);
        if let Some(flow) = table.ongoing(&reply, t(1), due) {
            flow.state = Some(t(2));
        }
        assert!(table.ongoing(&reply, t(3), due).is_none());
        let late = table.lookup(&reply, t(3), due, || None);
        assert_eq!(
            late.retired.map(|(f, at)| (f.tcp_stream, at)),
            Some((0, t(2)))
        );
        assert!(
            late.flow.is_none(),
            "a straggler of the retired conversation"
        );
    }

    #[test]
    fn ongoing_finds_each_conversation_after_removals_move_the_last_found() {
        // Three conversations; the first is found last, then retired: its removal moves the
        // third into its place, where `ongoing` last found one. Each must still be found by
        // its own key, and the retired one not at all.
        let mut table: FlowTable<Option<Timestamp>> = FlowTable::new(vec![443], 10);
        let due = |at: &Option<Timestamp>| *at;
        let t = |secs| Timestamp::new(secs, 0);
        let ack = |port| Segment {
            flags: TcpFlags {
                ack: true,
                ..TcpFlags::default()
            },
            ..syn(port)
        };
        for port in [1000, 2000, 3000] {
            table.lookup(&syn(port), t(0), due, || None);
        }
        let stream = |table: &mut FlowTable<_>, port| {
            table.ongoing(&ack(port), t(1), due).map(|f| f.tcp_stream)
        };
        assert_eq!(stream(&mut table, 1000), Some(0));
        if let Some(flow) = table.ongoing(&ack(1000), t(1), due) {
            flow.state = Some(t(1));
            let (client, server) = (flow.client, flow.server);
            table.schedule(client, server, 0, t(1));
        }
        let retired = table.retire_due(t(1), due);
        assert_eq!(
            retired
                .iter()
                .map(|(f, _)| f.tcp_stream)
                .collect::<Vec<_>>(),
            [0]
        );
        assert_eq!(stream(&mut table, 1000), None);
        assert_eq!(stream(&mut table, 3000), Some(2));
        assert_eq!(stream(&mut table, 2000), Some(1));
        assert_eq!(stream(&mut table, 3000), Some(2));
    }

    #[test]
    fn retiring_many_conversations_keeps_the_eviction_queue_small() {
        // Every conversation is due one second after it opens; the table never fills, so no
        // eviction ever walks the queue.
        let mut table: FlowTable<Timestamp> = FlowTable::new(vec![443], 100_000);
        for i in 0..50_000u32 {
            let now = Timestamp::new(i64::from(i), 0);
            let due = Timestamp::new(i64::from(i) + 1, 0);
            table.retire_due(now, |at| Some(*at));
            let flow = table.lookup(&syn(i as u16), now, |_| None, || due).flow;
            let flow = flow.expect("a new conversation");
            let (client, server, stream) = (flow.client, flow.server, flow.tcp_stream);
            table.schedule(client, server, stream, due);
        }
        assert!(table.len() <= 2);
        assert!(
            table.order.len() <= 2 * table.len() + 1024,
            "{} queued for {} open",
            table.order.len(),
            table.len()
        );
    }
}
