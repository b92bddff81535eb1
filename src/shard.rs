//! `-j N`: a file's connections split across worker threads by a symmetric hash of their
//! 4-tuple, and the workers' reports merged back into the order one thread gives.
//!
//! One thread reads the file, keeps the capture clock, decodes each packet's headers while
//! they are in its core's cache, and hands the packet, decoded and with the clock at that
//! packet, to the worker that owns its connection; every batch of packets also tells
//! every worker how far the clock went, so that a worker seeing no packets still ages its
//! connections. What a worker judges, and when, depends only on its connections' packets and
//! that clock (`analyze::ReportOrder`), and the merger releases reports in that order once
//! every worker has moved past them. `-j 1` runs the same merger over one analyzer without
//! threads: the output of any `-j` is the output of `-j 1`.
//!
//! tcp.stream numbers count the conversations created before a connection's first frame,
//! across all workers: each worker tells the merger the first frames of those it created
//! and of those it will not report, and the merger ranks them (`Numbering`).
//!
//! One difference remains, and only when the connection table fills: each worker has its own
//! share of `--max-connections`, and evicts from its own share (counted as
//! `evicted_connections`).

use crate::analyze::{Analyzer, Creations, Finished, Moment, Options, PacketCounters, ReportOrder};
use crate::capture::{CaptureClock, CaptureError, FileStats, LinkType, Packet, Timestamp};
use crate::connection::Connection;
use crate::net;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::io::Read;
use std::sync::{Arc, mpsc};

/// A batch goes to the workers when it holds this many packets or bytes.
const BATCH_PACKETS: usize = 2048;
const BATCH_BYTES: usize = 1 << 20;
/// Batches queued per worker: the bound on memory in flight.
const QUEUED_BATCHES: usize = 4;

/// What analysing one file gave besides its connections.
pub struct FileResult {
    pub stats: FileStats,
    pub result: Result<(), CaptureError>,
    pub counters: PacketCounters,
}

/// Analyses one capture with `jobs` workers, handing each reported connection to `emit` in
/// the report's order.
pub fn analyze<R: Read + Send>(
    input: R,
    options: &Options,
    jobs: usize,
    emit: impl FnMut(&mut Connection),
) -> FileResult {
    if jobs <= 1 {
        analyze_inline(input, options, emit)
    } else {
        analyze_threads(input, options, jobs, emit)
    }
}

fn analyze_inline<R: Read + Send>(
    input: R,
    options: &Options,
    mut emit: impl FnMut(&mut Connection),
) -> FileResult {
    let mut analyzer = Analyzer::new(options.clone());
    let mut merger = Merger::new(1, false);
    let mut finished = Vec::new();
    let (stats, result) = crate::capture::read_capture(input, |packet| {
        analyzer.packet(packet);
        if analyzer.has_finished() || merger.has_pending() {
            analyzer.move_finished(&mut finished);
            merger.add_in_place(0, &mut finished, analyzer.settled_to(), &mut emit);
        }
    });
    // One at a time: the connections left open are never all held twice.
    let counters = analyzer.finish_each_with_packets(|f| {
        finished.push(f);
        merger.add_in_place(0, &mut finished, Moment::END, &mut emit);
    });
    merger.finish(&mut emit);
    FileResult {
        stats,
        result,
        counters,
    }
}

/// Packets for one worker, and what each one is. Their bytes stay in the file's chunk that
/// the reader hands on (legacy pcap), or are copied here (pcapng).
#[derive(Default)]
struct Batch {
    chunk: Option<Arc<Vec<u8>>>,
    copied: Vec<u8>,
    packets: Vec<Meta>,
    /// The capture clock when the batch was sent, and the last frame sent to any worker.
    clock: Timestamp,
    frame: u64,
    last: bool,
    /// Datagrams reassembled from fragments by the reading thread, each with the number of
    /// the batch's packets before it and the clock at its last fragment.
    datagrams: Vec<(usize, Timestamp, net::Datagram)>,
}

struct Meta {
    /// Its headers, decoded by the reading thread: a worker reading them again from the
    /// bytes the reading core copied in missed the cache for most packets (1.2 GB bulk
    /// file, `-j 2`: 0.43 s against 0.38 s; the handshake-dense file, where the reading
    /// thread is the busier side, 0.16 s against 0.17 s).
    decoded: net::Detached,
    frame: u64,
    ts: Timestamp,
    clock: Timestamp,
    link: LinkType,
    orig_len: u32,
    /// Where its bytes start in `chunk`, or in `copied` when there is no chunk.
    start: usize,
    len: usize,
}

impl Batch {
    /// Adds a packet whose bytes lie in the batch's chunk at `start`, or else copies them.
    fn push(
        &mut self,
        packet: &Packet<'_>,
        decoded: net::Detached,
        start: Option<usize>,
        clock: Timestamp,
    ) {
        let start = start.unwrap_or_else(|| {
            self.copied.extend_from_slice(packet.data);
            self.copied.len() - packet.data.len()
        });
        self.packets.push(Meta {
            decoded,
            frame: packet.frame,
            ts: packet.ts,
            clock,
            link: packet.link,
            orig_len: packet.orig_len,
            start,
            len: packet.data.len(),
        });
    }

    fn bytes(&self) -> &[u8] {
        self.chunk.as_deref().unwrap_or(&self.copied)
    }

    fn clear(&mut self) {
        self.chunk = None;
        self.copied.clear();
        self.packets.clear();
        self.datagrams.clear();
        self.last = false;
    }
}

/// What a worker tells the merger after each batch, and once at the end.
struct Report {
    worker: usize,
    /// Each record goes back to the worker to be freed (`Spent`).
    finished: Vec<Finished>,
    creations: Creations,
    settled: Moment,
    /// Its packet counters, with its last report.
    counters: Option<PacketCounters>,
}

fn analyze_threads<R: Read + Send>(
    input: R,
    options: &Options,
    jobs: usize,
    mut emit: impl FnMut(&mut Connection),
) -> FileResult {
    let mut options = options.clone();
    options.max_connections = options.max_connections.div_ceil(jobs).max(1);
    std::thread::scope(|scope| {
        // Bounded, so that workers wait for a merger that falls behind instead of queueing
        // without end.
        let (to_merger, reports) = mpsc::sync_channel::<Report>(QUEUED_BATCHES * jobs);
        let mut queues = Vec::with_capacity(jobs);
        let mut workers = Vec::with_capacity(jobs);
        let mut spent = Vec::with_capacity(jobs);
        let (recycle, recycled) = mpsc::channel::<Batch>();
        for worker in 0..jobs {
            let (queue, batches) = mpsc::sync_channel::<Batch>(QUEUED_BATCHES);
            queues.push(queue);
            let (to_free, freed) = mpsc::channel::<Spent>();
            spent.push(to_free);
            let channels = WorkerChannels {
                batches,
                to_merger: to_merger.clone(),
                recycle: recycle.clone(),
                freed,
            };
            let options = options.clone();
            workers.push(scope.spawn(move || work(worker, options, channels)));
        }
        drop((to_merger, recycle));
        let defrag = options.defrag;
        let reader = scope.spawn(move || read_and_dispatch(input, queues, recycled, defrag));

        let mut merger = Merger::new(jobs, true);
        let mut counters = PacketCounters::default();
        for report in reports {
            merger.add(
                report.worker,
                report.finished,
                report.creations,
                report.settled,
            );
            if report.counters.is_some() {
                merger.input_done(report.worker);
            }
            merger.release(&mut emit);
            for (worker, to_free) in spent.iter().enumerate() {
                let records = merger.take_spent(worker);
                if !records.is_empty() {
                    // A worker gone frees nothing more; these are freed here instead.
                    let _ = to_free.send(records);
                }
            }
            if let Some(c) = report.counters {
                counters.add(&c);
            }
        }
        merger.finish(&mut emit);
        let failed = || CaptureError::Io(std::io::Error::other("an analysis thread failed"));
        let (stats, mut result, defragmented) = reader.join().unwrap_or_else(|_| {
            let none = net::DefragCounters::default();
            (FileStats::default(), Err(failed()), none)
        });
        counters.add_defrag(&defragmented);
        if workers.into_iter().any(|w| w.join().is_err()) {
            result = Err(failed());
        }
        FileResult {
            stats,
            result,
            counters,
        }
    })
}

/// The reading thread: every packet to the worker of its connection, in file order. IP
/// fragments are put together here, where every packet passes, and each datagram goes to the
/// worker of its connection after the packets before its last fragment.
fn read_and_dispatch<R: Read + Send>(
    input: R,
    queues: Vec<mpsc::SyncSender<Batch>>,
    recycled: mpsc::Receiver<Batch>,
    defrag_limits: net::DefragLimits,
) -> (FileStats, Result<(), CaptureError>, net::DefragCounters) {
    let mut defrag = net::Defragmenter::new(defrag_limits);
    let jobs = queues.len();
    let mut batches: Vec<Batch> = (0..jobs).map(|_| Batch::default()).collect();
    let mut held_bytes = 0;
    let mut ticks = CaptureClock::default();
    // The clock, last frame and packet count of what was put in the batches.
    let (mut clock, mut frame, mut held) = (Timestamp::default(), 0, 0);
    let send_all = |batches: &mut Vec<Batch>, clock, frame, last| {
        for (batch, queue) in batches.iter_mut().zip(&queues) {
            let mut fresh = recycled.try_recv().unwrap_or_default();
            fresh.clear();
            fresh.chunk = batch.chunk.clone();
            let mut full = std::mem::replace(batch, fresh);
            (full.clock, full.frame, full.last) = (clock, frame, last);
            // A worker gone has failed; the merger notices it (no last report).
            let _ = queue.send(full);
        }
    };
    let (stats, result) = crate::capture::read_capture_shared(input, |packet, shared| {
        if let Some(shared) = shared {
            let current = batches.first().and_then(|b| b.chunk.as_ref());
            if !current.is_some_and(|c| Arc::ptr_eq(c, shared.chunk)) {
                // A batch's packets all lie in one chunk.
                if held > 0 {
                    send_all(&mut batches, clock, frame, false);
                    (held, held_bytes) = (0, 0);
                }
                for batch in &mut batches {
                    batch.chunk = Some(Arc::clone(shared.chunk));
                }
            }
        }
        clock = ticks.tick(packet.ts);
        frame = packet.frame;
        let decoded = net::Detached::of(packet);
        if let Some(batch) = batches.get_mut(decoded.shard(jobs)) {
            batch.push(packet, decoded, shared.map(|s| s.start), clock);
        }
        if decoded.is_fragment()
            && let Some(datagram) = defrag.add(packet, clock)
            && let Some(batch) = batches.get_mut(datagram.shard(jobs))
        {
            batch.datagrams.push((batch.packets.len(), clock, datagram));
        }
        held += 1;
        held_bytes += packet.data.len();
        if held >= BATCH_PACKETS || held_bytes >= BATCH_BYTES {
            send_all(&mut batches, clock, frame, false);
            (held, held_bytes) = (0, 0);
        }
    });
    send_all(&mut batches, clock, frame, true);
    defrag.finish();
    (stats, result, *defrag.counters())
}

/// Records reported, handed back to the worker that made them to be freed there: glibc's
/// malloc frees memory from another thread's arena slowly, and the merger's thread would
/// otherwise spend its time on it.
type Spent = Vec<Finished>;

struct WorkerChannels {
    batches: mpsc::Receiver<Batch>,
    to_merger: mpsc::SyncSender<Report>,
    recycle: mpsc::Sender<Batch>,
    freed: mpsc::Receiver<Spent>,
}

/// A worker thread: one analyzer over the connections of its share.
fn work(worker: usize, options: Options, channels: WorkerChannels) {
    let WorkerChannels {
        batches,
        to_merger,
        recycle,
        freed,
    } = channels;
    let mut analyzer = Analyzer::new(options);
    analyzer.record_creations();
    analyzer.defragment_elsewhere();
    for mut batch in batches {
        freed.try_iter().for_each(drop);
        let bytes = batch.bytes();
        let mut datagrams = batch.datagrams.iter().peekable();
        for (i, meta) in batch.packets.iter().enumerate() {
            while let Some((_, clock, d)) = datagrams.next_if(|(before, _, _)| *before <= i) {
                analyzer.datagram_at(d, *clock);
            }
            let Some(data) = bytes.get(meta.start..meta.start.saturating_add(meta.len)) else {
                continue;
            };
            let packet = Packet {
                frame: meta.frame,
                ts: meta.ts,
                link: meta.link,
                data,
                orig_len: meta.orig_len,
            };
            analyzer.decoded_at(&packet, meta.decoded.attach(data), meta.clock);
        }
        for (_, clock, d) in datagrams {
            analyzer.datagram_at(d, *clock);
        }
        analyzer.advance(batch.clock, batch.frame);
        let last = batch.last;
        let report = Report {
            worker,
            finished: analyzer.take_finished_with_packets(),
            creations: analyzer.take_creations(),
            settled: analyzer.settled_to(),
            counters: None,
        };
        if to_merger.send(report).is_err() {
            return;
        }
        // The chunk goes back to the reader's pool as soon as no batch holds it.
        batch.chunk = None;
        let _ = recycle.send(batch);
        if last {
            break;
        }
    }
    // What is left, a chunk at a time: the merger merges the workers' connections left open
    // as they come, so they are never all held at once.
    const CHUNK: usize = 256;
    // Nothing is created from here on.
    let mut creations = analyzer.take_creations();
    creations.through = u64::MAX;
    let mut creations = Some(creations);
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut send = |chunk: Vec<Finished>, counters| {
        let _ = to_merger.send(Report {
            worker,
            finished: chunk,
            // The later reports tell nothing new; `through` keeps the first one's.
            creations: creations.take().unwrap_or_default(),
            settled: Moment::END,
            counters,
        });
    };
    let counters = analyzer.finish_each_with_packets(|f| {
        chunk.push(f);
        if chunk.len() >= CHUNK {
            send(
                std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK)),
                None,
            );
        }
    });
    send(chunk, Some(counters));
}

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
    pub fn new(inputs: usize, renumber: bool) -> Self {
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
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// `input` will add nothing more.
    pub fn input_done(&mut self, input: usize) {
        if let Some(d) = self.done.get_mut(input) {
            *d = true;
        }
    }

    /// Reports from `input`, the conversations it created and dropped since its last call,
    /// and how far it has now judged everything.
    pub fn add(
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
    pub fn add_in_place(
        &mut self,
        input: usize,
        finished: &mut Vec<Finished>,
        settled: Moment,
        emit: &mut impl FnMut(&mut Connection),
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
                emit(&mut f.conn);
            } else {
                waiting.push(f);
            }
        }
        self.add(input, waiting, Creations::default(), settled);
        self.release(emit);
    }

    /// Hands on, in order, every report no input can still come before.
    pub fn release(&mut self, emit: &mut impl FnMut(&mut Connection)) {
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
    pub fn finish(mut self, emit: &mut impl FnMut(&mut Connection)) {
        for s in &mut self.settled {
            *s = Moment::END;
        }
        self.done.iter_mut().for_each(|d| *d = true);
        self.release(emit);
    }

    /// The records of `input` handed on since the last call.
    pub fn take_spent(&mut self, input: usize) -> Spent {
        let spent = self.spent.as_mut().and_then(|s| s.get_mut(input));
        spent.map(std::mem::take).unwrap_or_default()
    }

    fn pop(&mut self, emit: &mut impl FnMut(&mut Connection)) {
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
        emit: &mut impl FnMut(&mut Connection),
    ) {
        self.number(&mut finished);
        emit(&mut finished.conn);
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
