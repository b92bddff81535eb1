//! The intake of TCP events: packets, SYNs, closes, ICMP errors, holes, a retried attempt.

use super::{Connection, Detail, EarlierAttempt, EventKind, GapInfo, IcmpFact};
use super::{Reset, Seen, SideAt};
use crate::capture::Timestamp;
use crate::flow::{PerSide, Side};

impl Connection {
    /// Counts one packet of `side`.
    pub(crate) fn packet(
        &mut self,
        side: Side,
        frame: u64,
        ts: Timestamp,
        ttl: u8,
        payload: usize,
        missing: u32,
    ) {
        self.last_frame = frame;
        if ts > self.facts.last_ts {
            self.facts.last_ts = ts;
        }
        *self.tcp.packets.get_mut(side) += 1;
        *self.tcp.payload_bytes.get_mut(side) += payload as u64;
        self.tcp.truncated_bytes += u64::from(missing);
        self.tcp.first_ttl.get_mut(side).get_or_insert(ttl);
    }

    pub(crate) fn syn(&mut self, side: Side, frame: u64, ts: Timestamp, ack: bool) {
        self.tcp.syn_count += 1;
        let (slot, kind) = if ack {
            (&mut self.facts.syn_ack, EventKind::SynAck)
        } else {
            (&mut self.facts.syn, EventKind::Syn)
        };
        let retransmitted = slot.is_some();
        slot.get_or_insert(frame);
        if !ack && self.facts.syns.len() < 16 {
            self.facts.syns.push(Seen { frame, ts });
        }
        let detail = retransmitted.then_some(Detail::Name("retransmission"));
        self.note(side, frame, ts, kind, detail);
    }

    pub(crate) fn fin(&mut self, side: Side, frame: u64, ts: Timestamp) {
        if self.facts.fin.get(side).is_none() {
            *self.facts.fin.get_mut(side) = Some(frame);
            self.note(side, frame, ts, EventKind::Fin, None);
        }
    }

    pub(crate) fn rst(&mut self, side: Side, frame: u64, ts: Timestamp, ttl: u8) {
        if self.facts.rst.get(side).is_none() {
            *self.facts.rst.get_mut(side) = Some(Reset { frame, ttl });
            self.note(side, frame, ts, EventKind::Rst, Some(Detail::Ttl(ttl)));
        }
    }

    /// Whether `side`'s segment (a SYN without ACK when `bare_syn`) starts a new attempt: the
    /// client's SYN after a reset that came before any payload.
    pub(crate) fn retried_after_reset(&self, side: Side, bare_syn: bool) -> bool {
        bare_syn && side == Side::Client && self.reset_before_data()
    }

    /// Reset before either side sent a byte: the client may still retry with the same SYN.
    pub(crate) fn reset_before_data(&self) -> bool {
        let f = &self.facts;
        (f.rst.client.is_some() || f.rst.server.is_some())
            && self.tcp.payload_bytes.client == 0
            && self.tcp.payload_bytes.server == 0
    }

    /// The SYN at `frame` starts the attempt judged from now on; the reset one is remembered.
    pub(crate) fn new_attempt(&mut self, frame: u64) {
        let f = &mut self.facts;
        let reset = match (f.rst.client, f.rst.server) {
            (Some(c), Some(s)) if s.frame < c.frame => Some((Side::Server, s.frame)),
            (Some(c), _) => Some((Side::Client, c.frame)),
            (None, s) => s.map(|s| (Side::Server, s.frame)),
        };
        if let Some((by, reset)) = reset {
            f.earlier_attempt = Some(EarlierAttempt {
                syn: f.syn.unwrap_or(self.first_frame),
                reset,
                by,
                retry: frame,
            });
        }
        f.rst = PerSide::default();
        f.fin = PerSide::default();
        f.syn_ack = None;
    }

    /// An ICMP error quoting this connection's packets.
    pub(crate) fn unreachable(
        &mut self,
        frame: u64,
        ts: Timestamp,
        icmp: &crate::net::Unreachable,
    ) {
        self.last_frame = self.last_frame.max(frame);
        if self.facts.icmp.is_none() {
            self.facts.icmp = Some(IcmpFact {
                frame,
                kind: icmp.kind,
                reporter: icmp.reporter,
            });
        }
        let detail = Detail::Icmp {
            kind: icmp.kind,
            reporter: icmp.reporter,
        };
        self.note(
            Side::Server,
            frame,
            ts,
            EventKind::IcmpUnreachable,
            Some(detail),
        );
    }

    pub(crate) fn gap(&mut self, side: Side, gap: &crate::flow::Gap) {
        self.gaps.push(GapInfo {
            frame: gap.frame,
            from: side,
            offset: gap.offset,
            bytes: gap.len,
        });
        self.facts.first_gap.get_or_insert(SideAt {
            frame: gap.frame,
            side,
        });
        let detail = Detail::Missing {
            bytes: gap.len,
            offset: gap.offset,
        };
        self.note(side, gap.frame, gap.ts, EventKind::Gap, Some(detail));
    }
}
