//! The workers' reports put back into the order one thread gives (`ReportOrder`), each
//! released once every worker has moved past it, with tcp.stream numbered across the workers.
//!
//! tcp.stream numbers count the conversations created before a connection's first frame,
//! across all workers: each worker tells the merger the first frames of those it created
//! and of those it will not report, and the merger ranks them (`Numbering`).

use super::Spent;
use crate::analyze::{Creations, Finished, Moment, ReportOrder};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};

/// A report waiting for its turn (its record boxed: the heap moves a few words at each step).
struct Pending(ReportOrder, usize, Finished);

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl Eq for Pending {}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.cmp(&other.0)
    }
}

/// Puts the reports of several analyzers into the report's order (`ReportOrder`).
pub struct Merger {
    pending: BinaryHeap<Reverse<Pending>>,
    /// How far each input has judged everything.
    settled: Vec<Moment>,
    /// The connections each input left open at the end, in tcp.stream order as they come, and
    /// whether all of them have come: merged as they come, never all held at once.
    open_at_end: Vec<VecDeque<Finished>>,
    done: Vec<bool>,
    /// With several inputs: tcp.stream numbers across them.
    numbering: Option<Numbering>,
    /// With several inputs: the records handed on, by input, to go back to be freed.
    spent: Option<Vec<Spent>>,
}

impl Merger {
    pub(crate) fn new(inputs: usize, renumber: bool) -> Self {
        Merger {
            pending: BinaryHeap::new(),
            settled: vec![Moment::START; inputs],
            open_at_end: (0..inputs).map(|_| VecDeque::new()).collect(),
            done: vec![false; inputs],
            numbering: renumber.then(|| Numbering::new(inputs)),
            spent: renumber.then(|| (0..inputs).map(|_| Vec::new()).collect()),
        }
    }

    /// Whether reports wait for their turn.
    pub(crate) fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// `input` will add nothing more.
    pub(crate) fn input_done(&mut self, input: usize) {
        if let Some(d) = self.done.get_mut(input) {
            *d = true;
        }
    }

    /// Reports from `input`, the conversations it created and dropped since its last call,
    /// and how far it has now judged everything.
    pub(crate) fn add(
        &mut self,
        input: usize,
        finished: impl IntoIterator<Item = Finished>,
        creations: Creations,
        settled: Moment,
    ) {
        for f in finished {
            match self.open_at_end.get_mut(input) {
                Some(queue) if f.order.at == Moment::END => queue.push_back(f),
                _ => self.pending.push(Reverse(Pending(f.order, input, f))),
            }
        }
        if let Some(numbering) = &mut self.numbering {
            numbering.add(input, creations);
        }
        if let Some(s) = self.settled.get_mut(input) {
            *s = settled;
        }
    }

    /// `add` then `release`, for records taken from `finished` (which keeps its buffer):
    /// those already in their place (nothing waits, and nothing any input judges later comes
    /// before them), the common case, go out at once and are never moved into the heap.
    pub(crate) fn add_in_place(
        &mut self,
        input: usize,
        finished: &mut Vec<Finished>,
        settled: Moment,
        emit: &mut impl FnMut(&mut Finished),
    ) {
        finished.sort_by_key(|f| f.order);
        if let Some(s) = self.settled.get_mut(input) {
            *s = settled;
        }
        let before = self.settled.iter().min().copied().unwrap_or(Moment::END);
        let mut waiting = Vec::new();
        for mut f in finished.drain(..) {
            if waiting.is_empty() && self.pending.is_empty() && f.order.at < before {
                self.number(&mut f);
                emit(&mut f);
            } else {
                waiting.push(f);
            }
        }
        self.add(input, waiting, Creations::default(), settled);
        self.release(emit);
    }

    /// Hands on, in order, every report no input can still come before.
    pub(crate) fn release(&mut self, emit: &mut impl FnMut(&mut Finished)) {
        let Some(&before) = self.settled.iter().min() else {
            return;
        };
        while self
            .pending
            .peek()
            .is_some_and(|Reverse(p)| p.0.at < before)
        {
            self.pop(emit);
        }
        if before == Moment::END {
            // Every input is at its end and all else is out: the connections left open, by
            // first frame across the inputs, as far as every input's next one is known.
            while let Some(input) = self.next_open_at_end() {
                let order = self.open_at_end.get_mut(input).and_then(|q| q.pop_front());
                if let Some(f) = order {
                    self.hand_on(input, f, emit);
                }
            }
        }
    }

    /// The input whose next connection left open comes first; none when an input not done
    /// has none queued (its next may come first) or all are empty.
    fn next_open_at_end(&self) -> Option<usize> {
        let mut best: Option<(u64, usize)> = None;
        for (input, queue) in self.open_at_end.iter().enumerate() {
            match queue.front() {
                Some(f) => {
                    let first = f.order.first_frame;
                    if best.is_none_or(|(b, _)| first < b) {
                        best = Some((first, input));
                    }
                }
                None if !self.done.get(input).copied().unwrap_or(true) => return None,
                None => {}
            }
        }
        best.map(|(_, input)| input)
    }

    /// Hands on every report left, in order: the inputs are all done.
    pub(crate) fn finish(mut self, emit: &mut impl FnMut(&mut Finished)) {
        for s in &mut self.settled {
            *s = Moment::END;
        }
        self.done.iter_mut().for_each(|d| *d = true);
        self.release(emit);
    }

    /// The records of `input` handed on since the last call.
    pub(crate) fn take_spent(&mut self, input: usize) -> Spent {
        let spent = self.spent.as_mut().and_then(|s| s.get_mut(input));
        spent.map(std::mem::take).unwrap_or_default()
    }

    fn pop(&mut self, emit: &mut impl FnMut(&mut Finished)) {
        if let Some(Reverse(Pending(_, input, finished))) = self.pending.pop() {
            self.hand_on(input, finished, emit);
        }
    }

    /// With several inputs, gives the connection its tcp.stream number across them.
    fn number(&mut self, finished: &mut Finished) {
        if let Some(numbering) = &mut self.numbering {
            finished.conn.tcp_stream = numbering.number(finished.order.first_frame);
        }
    }

    fn hand_on(
        &mut self,
        input: usize,
        mut finished: Finished,
        emit: &mut impl FnMut(&mut Finished),
    ) {
        self.number(&mut finished);
        emit(&mut finished);
        if let Some(spent) = self.spent.as_mut().and_then(|s| s.get_mut(input)) {
            spent.push(finished);
        }
    }
}

/// tcp.stream numbers across several inputs. A conversation's number is the count of those
/// all inputs created before its first frame (one packet creates at most one, so first frames
/// are distinct): its rank among all first frames. Creations are ranked in frame order as far
/// as every input has told them, and a number is kept only until its conversation is reported
/// (or is known never to be): memory follows the conversations open, not all those a capture
/// held (a SYN flood is millions, each a conversation).
#[derive(Debug)]
struct Numbering {
    /// Per input: first frames created and not ranked yet, in frame order.
    waiting: Vec<VecDeque<u64>>,
    /// Per input: every conversation it created at or before this frame has been told.
    through: Vec<u64>,
    /// Conversations ranked so far.
    ranked: u64,
    /// The numbers of ranked conversations not reported yet, by first frame. foldhash, as
    /// the flow table: a flood makes one insertion and one removal per packet.
    numbers: HashMap<u64, u64, foldhash::fast::RandomState>,
    /// Conversations that will not be reported, told before they were ranked.
    dropped: HashSet<u64, foldhash::fast::RandomState>,
}

impl Numbering {
    fn new(inputs: usize) -> Self {
        Numbering {
            waiting: vec![VecDeque::new(); inputs],
            through: vec![0; inputs],
            ranked: 0,
            numbers: HashMap::default(),
            dropped: HashSet::default(),
        }
    }

    fn add(&mut self, input: usize, creations: Creations) {
        if let Some(waiting) = self.waiting.get_mut(input) {
            waiting.extend(creations.created);
        }
        if let Some(through) = self.through.get_mut(input) {
            *through = (*through).max(creations.through);
        }
        for frame in creations.dropped {
            if self.numbers.remove(&frame).is_none() {
                self.dropped.insert(frame);
            }
        }
        // Every input has told all it created up to here: nothing can come before these.
        let told = self.through.iter().min().copied().unwrap_or(u64::MAX);
        self.rank_through(told);
    }

    /// Ranks the creations at or before `frame`, in frame order across the inputs.
    fn rank_through(&mut self, frame: u64) {
        loop {
            let next = (self.waiting.iter_mut())
                .filter_map(|w| w.front().copied().map(|f| (f, w)))
                .min_by_key(|(f, _)| *f);
            let Some((first, waiting)) = next.filter(|(f, _)| *f <= frame) else {
                return;
            };
            waiting.pop_front();
            let number = self.ranked;
            self.ranked += 1;
            if !self.dropped.remove(&first) {
                self.numbers.insert(first, number);
            }
        }
    }

    /// The number of the conversation created at `first_frame`, now that it is reported.
    /// The merger hands a record on only once every input has moved past its moment, by
    /// then past its first frame, so every creation before it has been told.
    fn number(&mut self, first_frame: u64) -> u64 {
        self.rank_through(first_frame);
        // Its own creation came with or before its record: the fallback is never taken.
        self.numbers.remove(&first_frame).unwrap_or(self.ranked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn told(created: &[u64], dropped: &[u64], through: u64) -> Creations {
        Creations {
            created: created.to_vec(),
            dropped: dropped.to_vec(),
            through,
        }
    }

    #[test]
    fn numbers_rank_first_frames_across_inputs_and_are_forgotten_once_used() {
        let mut n = Numbering::new(2);
        // Input 0 created conversations at frames 1, 4 and 9, input 1 at 2, 5 and 7; the
        // one at 5 will not be reported, and says so before it can be ranked.
        n.add(0, told(&[1, 4], &[], 6));
        n.add(1, told(&[2, 5], &[5], 5));
        // Ranked as far as both have told: frames 1, 2, 4 and 5 (5 counted, not kept).
        assert_eq!(n.ranked, 4);
        assert_eq!(n.numbers.len(), 3);
        assert!(n.dropped.is_empty());
        // Reported out of frame order: each its rank among all first frames.
        assert_eq!(n.number(4), 2);
        assert_eq!(n.number(1), 0);
        n.add(1, told(&[7], &[], 8));
        n.add(0, told(&[9], &[], u64::MAX));
        // The one at 7 dropped once ranked; 2 reported.
        n.add(1, told(&[], &[7], u64::MAX));
        assert_eq!(n.number(2), 1);
        assert_eq!(n.number(9), 5);
        // Nothing is left once every conversation has been reported or dropped.
        assert!(n.numbers.is_empty(), "{:?}", n.numbers);
        assert!(n.dropped.is_empty() && n.waiting.iter().all(VecDeque::is_empty));
    }
}
