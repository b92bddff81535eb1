//! Retirement: when each conversation is due to leave the table, and what is kept of it
//! afterwards so that its stragglers (a last ACK, a retransmitted FIN) are known as its own.

use super::{Endpoint, Flow, FlowKey, FlowTable};
use crate::capture::Timestamp;
use crate::net::Segment;
use indexmap::map::Entry;
use std::cmp::Reverse;
use std::collections::{HashMap, VecDeque};

/// How long a retired conversation's stragglers are recognised as such, in seconds of
/// capture time: beyond it a packet on its ports opens a new conversation, as in Wireshark.
pub const REMEMBER_RETIRED: i64 = 120;

/// What is left of a retired conversation: enough to know its stragglers.
#[derive(Clone, Copy, Debug)]
pub(super) struct Retired {
    tcp_stream: u64,
    base_seq: [Option<u32>; 2],
    /// When it was due to retire; it is remembered for `REMEMBER_RETIRED` seconds after.
    at: Timestamp,
}

impl Retired {
    pub(super) fn of<T>(flow: &Flow<T>, at: Timestamp) -> Self {
        Retired {
            tcp_stream: flow.tcp_stream,
            base_seq: flow.base_seq,
            at,
        }
    }

    /// Whether `seg`, at capture time `now`, is a straggler of this conversation: it is still
    /// remembered, and the segment does not open a new connection on its ports.
    pub(super) fn claims(&self, from_lo: usize, seg: &Segment<'_>, now: Timestamp) -> bool {
        let forgotten =
            Timestamp::new(self.at.secs.saturating_add(REMEMBER_RETIRED), self.at.nanos);
        now < forgotten && !reuses_ports(&self.base_seq, from_lo, seg)
    }
}

/// When a conversation was due to retire, if it was by `now`.
pub(super) fn due_by<T>(
    state: &T,
    now: Timestamp,
    due: impl Fn(&T) -> Option<Timestamp>,
) -> Option<Timestamp> {
    due(state).filter(|at| *at <= now)
}

/// Whether `seg` opens a new connection on ports a conversation with these first sequence
/// numbers used: a SYN with another initial sequence number (Wireshark's rule).
pub(super) fn reuses_ports(base_seq: &[Option<u32>; 2], from_lo: usize, seg: &Segment<'_>) -> bool {
    seg.flags.syn
        && !seg.flags.ack
        && base_seq
            .get(from_lo)
            .copied()
            .flatten()
            .is_some_and(|base| base != seg.seq)
}

/// Retired conversations, kept small until forgotten, and in retirement order.
#[derive(Debug, Default)]
pub(super) struct Tombstones {
    by_key: HashMap<FlowKey, Retired, foldhash::fast::RandomState>,
    order: VecDeque<(FlowKey, u64, Timestamp)>,
}

impl Tombstones {
    pub(super) fn bury(&mut self, key: FlowKey, tomb: Retired) {
        self.by_key.insert(key, tomb);
        self.order.push_back((key, tomb.tcp_stream, tomb.at));
    }

    /// Whether a segment for which no conversation is open belongs to a retired one; one
    /// that reuses its ports, or comes after it is forgotten, starts a new conversation
    /// instead (and the old record goes). The answer depends on capture time alone, not on
    /// when the table last cleaned up, so that it is the same however the capture is split
    /// across threads.
    pub(super) fn straggler(
        &mut self,
        key: &FlowKey,
        from_lo: usize,
        seg: &Segment<'_>,
        now: Timestamp,
    ) -> bool {
        let Some(r) = self.by_key.get(key) else {
            return false;
        };
        let claimed = r.claims(from_lo, seg, now);
        if !claimed {
            self.by_key.remove(key);
        }
        claimed
    }

    /// Frees the conversations retired before `before` (no longer recognised anyway).
    fn forget(&mut self, before: Timestamp) {
        while let Some(&(key, stream, at)) = self.order.front() {
            if at >= before {
                break;
            }
            self.order.pop_front();
            if self
                .by_key
                .get(&key)
                .is_some_and(|r| r.tcp_stream == stream)
            {
                self.by_key.remove(&key);
            }
        }
    }
}

impl<T> FlowTable<T> {
    /// Notes that a conversation is due to retire at `at` (once: a later packet that moves
    /// its time on is found when `at` comes, and it is noted again then).
    pub(crate) fn schedule(
        &mut self,
        client: Endpoint,
        server: Endpoint,
        tcp_stream: u64,
        at: Timestamp,
    ) {
        let (key, _) = FlowKey::of(client, server);
        self.due.push(Reverse((at, tcp_stream, key)));
    }

    /// The earliest time a scheduled conversation may retire: none retires before it.
    pub(crate) fn next_due(&self) -> Option<Timestamp> {
        self.due.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Removes the conversations due to retire by `now` (as `due` tells), each with its due
    /// time, keeping a few dozen bytes of each for `REMEMBER_RETIRED` seconds: their
    /// stragglers are then recognised, instead of opening conversations of their own (which
    /// would also shift every later tcp.stream). Only the scheduled ones are looked at.
    pub(crate) fn retire_due(
        &mut self,
        now: Timestamp,
        due: impl Fn(&T) -> Option<Timestamp>,
    ) -> Vec<(Box<Flow<T>>, Timestamp)> {
        let mut retired = Vec::new();
        while let Some(&Reverse((at, stream, key))) = self.due.peek() {
            if at > now {
                break;
            }
            self.due.pop();
            let Entry::Occupied(entry) = self.flows.entry(key) else {
                continue;
            };
            if entry.get().tcp_stream != stream {
                continue;
            }
            match due(&entry.get().state) {
                Some(real) if real <= now => {
                    let flow = entry.swap_remove();
                    self.retired.bury(key, Retired::of(&flow, real));
                    retired.push((flow, real));
                }
                Some(later) => self.due.push(Reverse((later, stream, key))),
                None => {}
            }
        }
        let before = Timestamp::new(now.secs.saturating_sub(REMEMBER_RETIRED), now.nanos);
        self.retired.forget(before);
        self.compact_order();
        retired
    }
}
