//! One direction of a TCP connection put back in order: the bytes as the receiver's socket
//! would read them, each byte tied to the frame that carried it.
//!
//! Sequence numbers are handled relative to the stream's first byte and compared by wrapping
//! difference, so a stream may start anywhere in sequence space. The first copy of a byte wins,
//! as in most stacks and in Wireshark. Missing bytes are never papered over: they surface as a
//! `Gap` that the caller reports at a frame.

use crate::capture::Timestamp;
use std::collections::{BTreeMap, VecDeque};

/// Bounds on what one direction may hold before its handshake settles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Contiguous bytes not yet consumed by the decoder.
    pub max_buffered: usize,
    /// Out-of-order segments held while waiting for the hole before them.
    pub max_pending_segments: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // Certificate chains of several hundred kilobytes exist in real traffic.
            max_buffered: 4 << 20,
            max_pending_segments: 512,
        }
    }
}

/// Bytes that the capture does not have: the stream resumes after them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gap {
    /// Stream offset of the first missing byte.
    pub offset: u64,
    pub len: u64,
    /// The first frame that shows the loss: the acknowledgment that passed the hole, or an
    /// earlier one carrying bytes after it (the missing bytes were sent before those).
    pub frame: u64,
    pub(crate) ts: Timestamp,
}

/// What became of one segment's payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    InOrder,
    /// Ahead of a hole; held until the hole fills.
    OutOfOrder,
    /// Every byte already seen.
    Retransmission,
    /// Some bytes already seen, the rest new.
    Overlap,
    /// Dropped because a limit was reached, or buffering has stopped.
    Dropped,
}

/// Which of the `Limits` dropped a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    Buffered,
    OutOfOrder,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counters {
    pub(crate) retransmissions: u64,
    pub(crate) out_of_order: u64,
    pub(crate) overlaps: u64,
    /// Segments dropped for a limit (either of the two below).
    pub(crate) dropped_segments: u64,
    /// Segments dropped because `max_buffered` bytes were waiting already.
    pub(crate) over_buffer: u64,
    /// Segments dropped because `max_pending_segments` were held already.
    pub(crate) over_out_of_order: u64,
    /// The frame of the first segment a limit dropped, and which limit.
    pub(crate) first_drop: Option<(u64, Bound)>,
}

#[derive(Clone, Debug)]
struct Pending {
    data: Vec<u8>,
    frame: u64,
    ts: Timestamp,
}

#[derive(Clone, Debug, Default)]
pub struct Reassembler {
    limits: Limits,
    /// Sequence number of stream offset 0, once known.
    base: Option<u32>,
    /// Relative sequence number of the next byte expected in order.
    next: u32,
    /// Whether a FIN occupies the sequence number `next` (so an ACK of next+1 is no gap).
    fin_at_next: bool,
    /// The peer's latest acknowledgment, relative.
    acked: Option<u32>,
    /// Contiguous bytes delivered in order and not yet consumed.
    buffered: Vec<u8>,
    /// Stream offset of `buffered[0]`.
    buffered_start: u64,
    /// For the bytes in `buffered`: (stream offset just past the segment's bytes, frame, time).
    origins: VecDeque<(u64, u64, Timestamp)>,
    /// Out-of-order segments by relative sequence number.
    pending: BTreeMap<u32, Pending>,
    stopped: bool,
    pub(crate) counters: Counters,
}

/// The signed distance from `b` to `a` in sequence space.
fn seq_diff(a: u32, b: u32) -> i64 {
    i64::from(a.wrapping_sub(b) as i32)
}

impl Reassembler {
    pub fn new(limits: Limits) -> Self {
        Reassembler {
            limits,
            ..Default::default()
        }
    }

    /// Declares where the stream's bytes start: the SYN's sequence number plus one.
    /// Ignored once data has arrived, so a late or repeated SYN cannot shift the stream.
    pub fn set_initial_seq(&mut self, syn_seq: u32) {
        if self.stream_offset() == 0 && self.pending.is_empty() {
            self.base = Some(syn_seq.wrapping_add(1));
            self.next = 0;
        }
    }

    /// Total stream offset of the next in-order byte.
    pub(crate) fn stream_offset(&self) -> u64 {
        self.buffered_start + self.buffered.len() as u64
    }

    /// Stops buffering: later segments are only counted. Frees what was held.
    pub(crate) fn stop(&mut self) {
        self.stopped = true;
        self.buffered = Vec::new();
        self.origins = VecDeque::new();
        self.pending = BTreeMap::new();
    }

    /// Takes one segment's payload starting at sequence number `seq`.
    pub fn segment(&mut self, seq: u32, payload: &[u8], frame: u64, ts: Timestamp) -> Placement {
        if payload.is_empty() {
            return Placement::InOrder;
        }
        if self.stopped {
            return Placement::Dropped;
        }
        let base = *self.base.get_or_insert(seq);
        let rel = seq.wrapping_sub(base);
        let ahead = seq_diff(rel, self.next);
        let len = payload.len() as i64;
        if ahead + len <= 0 {
            self.counters.retransmissions += 1;
            return Placement::Retransmission;
        }
        if ahead > 0 {
            return self.hold(rel, payload, frame, ts);
        }
        // Starts at or before `next`: the bytes before `next` are a repeat.
        let skip = usize::try_from(-ahead).unwrap_or(usize::MAX);
        let fresh = payload.get(skip..).unwrap_or_default();
        if !self.append(fresh, frame, ts) {
            return Placement::Dropped;
        }
        self.drain_pending();
        if skip > 0 {
            self.counters.overlaps += 1;
            Placement::Overlap
        } else {
            Placement::InOrder
        }
    }

    /// Records that this direction sent a FIN with sequence number `seq`.
    pub(crate) fn fin(&mut self, seq: u32) {
        if let Some(base) = self.base {
            self.fin_at_next = seq.wrapping_sub(base) == self.next;
        }
    }

    /// The peer acknowledged up to `ack`: bytes below it that we never saw were lost by the
    /// capture, not by the network. Returns the gap, after which the stream resumes.
    pub(crate) fn peer_ack(&mut self, ack: u32, frame: u64, ts: Timestamp) -> Option<Gap> {
        let base = self.base?;
        if self.stopped {
            return None;
        }
        let acked = seq_diff(ack.wrapping_sub(base), self.next);
        if acked.abs() < (1 << 30) {
            self.acked = Some(ack.wrapping_sub(base));
        }
        let allowance = i64::from(self.fin_at_next);
        // Far-off values are bogus acks (or a peer that never saw our SYN), not losses.
        if acked <= allowance || acked > (1 << 30) {
            return None;
        }
        let until = match self.pending.keys().next() {
            Some(&start) if seq_diff(start, self.next) < acked => seq_diff(start, self.next),
            _ => acked,
        };
        Some(self.skip(until as u64, frame, ts))
    }

    /// Bytes delivered in order that the peer has not acknowledged: a ClientHello the server
    /// never acknowledged was lost on the way, not ignored.
    pub(crate) fn unacked(&self) -> u64 {
        let Some(acked) = self.acked else {
            return self.stream_offset();
        };
        seq_diff(self.next, acked).max(0) as u64
    }

    /// At the end of the capture: whatever is still held behind a hole is delivered after
    /// reporting the hole as a gap.
    pub fn flush(&mut self, frame: u64, ts: Timestamp) -> Option<Gap> {
        let &start = self.pending.keys().next()?;
        let missing = seq_diff(start, self.next).max(0) as u64;
        Some(self.skip(missing, frame, ts))
    }

    /// Declares the next `missing` bytes lost (the snaplen cut them, or the capture dropped
    /// them) and resumes the stream after them.
    pub(crate) fn skip(&mut self, missing: u64, frame: u64, ts: Timestamp) -> Gap {
        // The bytes before the hole can no longer complete anything: drop them with it.
        let offset = self.stream_offset();
        self.buffered_start = offset + missing;
        self.buffered.clear();
        self.origins.clear();
        self.next = self.next.wrapping_add(missing as u32);
        self.fin_at_next = false;
        let (frame, ts) = self
            .pending
            .values()
            .map(|p| (p.frame, p.ts))
            .chain([(frame, ts)])
            .min_by_key(|&(frame, _)| frame)
            .unwrap_or((frame, ts));
        self.drain_pending();
        Gap {
            offset,
            len: missing,
            frame,
            ts,
        }
    }

    fn hold(&mut self, rel: u32, payload: &[u8], frame: u64, ts: Timestamp) -> Placement {
        if self.pending.contains_key(&rel) {
            self.counters.retransmissions += 1;
            return Placement::Retransmission;
        }
        if self.pending.len() >= self.limits.max_pending_segments {
            self.counters.dropped_segments += 1;
            self.counters.over_out_of_order += 1;
            self.counters
                .first_drop
                .get_or_insert((frame, Bound::OutOfOrder));
            return Placement::Dropped;
        }
        self.counters.out_of_order += 1;
        self.pending.insert(
            rel,
            Pending {
                data: payload.to_vec(),
                frame,
                ts,
            },
        );
        Placement::OutOfOrder
    }

    fn append(&mut self, fresh: &[u8], frame: u64, ts: Timestamp) -> bool {
        if fresh.is_empty() {
            return true;
        }
        if self.buffered.len() + fresh.len() > self.limits.max_buffered {
            self.counters.dropped_segments += 1;
            self.counters.over_buffer += 1;
            self.counters
                .first_drop
                .get_or_insert((frame, Bound::Buffered));
            return false;
        }
        self.buffered.extend_from_slice(fresh);
        self.next = self.next.wrapping_add(fresh.len() as u32);
        self.fin_at_next = false;
        self.origins.push_back((self.stream_offset(), frame, ts));
        true
    }

    /// Moves held segments that now touch `next` into the in-order buffer.
    fn drain_pending(&mut self) {
        while let Some(entry) = self.pending.first_entry() {
            let ahead = seq_diff(*entry.key(), self.next);
            if ahead > 0 {
                break;
            }
            let p = entry.remove();
            let skip = usize::try_from(-ahead).unwrap_or(usize::MAX);
            match p.data.get(skip..) {
                Some(fresh) if !fresh.is_empty() => {
                    if skip > 0 {
                        self.counters.overlaps += 1;
                    }
                    if !self.append(fresh, p.frame, p.ts) {
                        break;
                    }
                }
                _ => self.counters.retransmissions += 1,
            }
        }
    }

    /// The contiguous bytes not yet consumed.
    pub fn data(&self) -> &[u8] {
        &self.buffered
    }

    /// Stream offset of `data()[0]`.
    pub fn data_offset(&self) -> u64 {
        self.buffered_start
    }

    /// Marks the first `n` bytes of `data()` as used.
    pub(crate) fn consume(&mut self, n: usize) {
        let n = n.min(self.buffered.len());
        self.buffered.drain(..n);
        self.buffered_start += n as u64;
        while self
            .origins
            .front()
            .is_some_and(|&(end, _, _)| end <= self.buffered_start)
        {
            self.origins.pop_front();
        }
    }

    /// The frame (and its time) that carried the byte at `data()[index]`.
    pub(crate) fn origin_of(&self, index: usize) -> Option<(u64, Timestamp)> {
        let offset = self.buffered_start + index as u64;
        self.origins
            .iter()
            .find(|&&(end, _, _)| end > offset)
            .map(|&(_, frame, ts)| (frame, ts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(frame: u64) -> Timestamp {
        Timestamp::new(1_700_000_000, frame as u32 * 1000)
    }

    fn feed(r: &mut Reassembler, seq: u32, data: &[u8], frame: u64) -> Placement {
        r.segment(seq, data, frame, ts(frame))
    }

    #[test]
    fn in_order_and_origins() {
        let mut r = Reassembler::new(Limits::default());
        r.set_initial_seq(999);
        assert_eq!(feed(&mut r, 1000, b"hello ", 4), Placement::InOrder);
        assert_eq!(feed(&mut r, 1006, b"world", 5), Placement::InOrder);
        assert_eq!(r.data(), b"hello world");
        assert_eq!(r.origin_of(0).map(|o| o.0), Some(4));
        assert_eq!(r.origin_of(6).map(|o| o.0), Some(5));
        r.consume(6);
        assert_eq!(r.data(), b"world");
        assert_eq!(r.origin_of(0).map(|o| o.0), Some(5));
        assert_eq!(r.data_offset(), 6);
    }

    #[test]
    fn wraps_around_sequence_space() {
        let mut r = Reassembler::new(Limits::default());
        r.set_initial_seq(u32::MAX - 2);
        feed(&mut r, u32::MAX - 1, b"ab", 1);
        feed(&mut r, 0, b"cd", 2);
        assert_eq!(r.data(), b"abcd");
    }

    #[test]
    fn gap_from_ack_and_flush() {
        let mut r = Reassembler::new(Limits::default());
        r.set_initial_seq(0);
        feed(&mut r, 1, b"abc", 1);
        assert_eq!(feed(&mut r, 7, b"ghi", 3), Placement::OutOfOrder);
        // The receiver acknowledged everything: bytes 3..6 were lost by the capture, and
        // sent before frame 3, which carried the bytes after them.
        let gap = r.peer_ack(10, 4, ts(4)).expect("gap");
        assert_eq!((gap.offset, gap.len, gap.frame), (3, 3, 3));
        assert_eq!(r.data(), b"ghi");
        assert_eq!(r.data_offset(), 6);
        assert_eq!(r.peer_ack(10, 5, ts(5)), None);

        let mut r = Reassembler::new(Limits::default());
        r.set_initial_seq(0);
        feed(&mut r, 5, b"late", 2);
        let gap = r.flush(9, ts(9)).expect("gap");
        assert_eq!((gap.offset, gap.len, gap.frame), (0, 4, 2));
        assert_eq!(r.data(), b"late");
    }

    #[test]
    fn ack_of_fin_is_no_gap() {
        let mut r = Reassembler::new(Limits::default());
        r.set_initial_seq(0);
        feed(&mut r, 1, b"abc", 1);
        r.fin(4);
        assert_eq!(r.peer_ack(5, 2, ts(2)), None);
    }

    /// The server's segments of a real TLS 1.2 handshake (captures/tls12-ecdhe-chain.pcap):
    /// the SYN-ACK's sequence number and each data segment's (seq, payload).
    fn real_server_segments() -> (u32, Vec<(u32, Vec<u8>)>) {
        let file: &[u8] = include_bytes!("../../captures/tls12-ecdhe-chain.pcap");
        let mut isn = None;
        let mut segments = Vec::new();
        let (_, result) = crate::capture::read_capture(file, |p| {
            let Ok(crate::net::Decoded::Tcp(seg)) = crate::net::decode(p) else {
                return;
            };
            if seg.src_port != 443 {
                return;
            }
            if seg.flags.syn {
                isn = Some(seg.seq);
            } else if !seg.payload.is_empty() {
                segments.push((seg.seq, seg.payload.to_vec()));
            }
        });
        assert!(result.is_ok());
        (isn.expect("a SYN-ACK"), segments)
    }

    fn reassemble(isn: u32, segments: &[(u32, Vec<u8>)]) -> Vec<u8> {
        let mut r = Reassembler::new(Limits::default());
        r.set_initial_seq(isn);
        for (i, (seq, data)) in segments.iter().enumerate() {
            r.segment(*seq, data, i as u64 + 1, ts(i as u64));
        }
        assert_eq!(r.flush(0, ts(0)), None, "no hole may remain");
        r.data().to_vec()
    }

    /// Cuts the segments into `size`-byte pieces that overlap their predecessor by `overlap`.
    fn recut(segments: &[(u32, Vec<u8>)], size: usize, overlap: usize) -> Vec<(u32, Vec<u8>)> {
        let mut out = Vec::new();
        for (seq, data) in segments {
            let mut start = 0;
            while start < data.len() {
                let from = start.saturating_sub(overlap);
                let to = (start + size).min(data.len());
                out.push((seq.wrapping_add(from as u32), data[from..to].to_vec()));
                start = to;
            }
        }
        out
    }

    #[test]
    fn real_segments_in_any_order_give_the_same_stream() {
        let (isn, segments) = real_server_segments();
        assert!(segments.len() >= 2, "the capture has the server's flights");
        let expected = reassemble(isn, &segments);
        let total: usize = segments.iter().map(|(_, d)| d.len()).sum();
        assert_eq!(expected.len(), total);
        assert_eq!(
            expected.first(),
            Some(&22),
            "starts with a handshake record"
        );

        let mut reversed = segments.clone();
        reversed.reverse();
        assert_eq!(reassemble(isn, &reversed), expected, "out of order");

        let doubled: Vec<_> = segments
            .iter()
            .flat_map(|s| [s.clone(), s.clone()])
            .collect();
        assert_eq!(
            reassemble(isn, &doubled),
            expected,
            "every segment duplicated"
        );

        let small = recut(&segments, 7, 3);
        assert!(small.len() > 100);
        assert_eq!(
            reassemble(isn, &small),
            expected,
            "small overlapping pieces"
        );
        // A fixed shuffle: odd pieces first, then even ones backwards.
        let mut shuffled: Vec<_> = small.iter().skip(1).step_by(2).cloned().collect();
        shuffled.extend(small.iter().step_by(2).rev().cloned());
        assert_eq!(
            reassemble(isn, &shuffled),
            expected,
            "small pieces, shuffled"
        );
    }

    #[test]
    fn limits_bite_and_are_counted() {
        let mut r = Reassembler::new(Limits {
            max_buffered: 4,
            max_pending_segments: 1,
        });
        r.set_initial_seq(0);
        assert_eq!(feed(&mut r, 1, b"abcdef", 1), Placement::Dropped);
        assert_eq!(feed(&mut r, 10, b"x", 2), Placement::OutOfOrder);
        assert_eq!(feed(&mut r, 20, b"y", 3), Placement::Dropped);
        assert_eq!(r.counters.dropped_segments, 2);
        assert_eq!(
            (r.counters.over_buffer, r.counters.over_out_of_order),
            (1, 1)
        );
        assert_eq!(r.counters.first_drop, Some((1, Bound::Buffered)));
        r.stop();
        assert_eq!(feed(&mut r, 1, b"a", 4), Placement::Dropped);
        assert!(r.data().is_empty());
    }
}
