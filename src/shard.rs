//! `-j N`: a file's connections split across worker threads by a symmetric hash of their
//! 4-tuple, and the workers' reports merged back into the order one thread gives.
//!
//! One thread reads the file, keeps the capture clock, and hands each packet, with the clock
//! at that packet, to the worker that owns its connection; every batch of packets also tells
//! every worker how far the clock went, so that a worker seeing no packets still ages its
//! connections. What a worker judges, and when, depends only on its connections' packets and
//! that clock (`analyze::ReportOrder`), and the merger releases reports in that order once
//! every worker has moved past them. `-j 1` runs the same merger over one analyzer without
//! threads: the output of any `-j` is the output of `-j 1`.
//!
//! tcp.stream numbers count the conversations created before a connection's first frame,
//! across all workers: each worker tells the merger the first frames of those it created.
//!
//! One difference remains, and only when the connection table fills: each worker has its own
//! share of `--max-connections`, and evicts from its own share (counted as
//! `evicted_connections`).

use crate::analyze::{Analyzer, Finished, Options, PacketCounters, ReportOrder, When};
use crate::capture::{CaptureClock, CaptureError, FileStats, LinkType, Packet, Timestamp};
use crate::connection::Connection;
use crate::net;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
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
    let (stats, result) = crate::capture::read_capture(input, |packet| {
        analyzer.packet(packet);
        let settled = analyzer.settled_to();
        if analyzer.has_finished() || settled != merger.settled(0) {
            let finished = analyzer
                .take_finished_with_packets()
                .into_iter()
                .map(Box::new);
            merger.add(0, finished, Vec::new(), settled);
            merger.release(&mut emit);
        }
    });
    let mut finished = Vec::new();
    let counters = analyzer.finish_each_with_packets(|f| finished.push(f));
    merger.add(0, finished.into_iter().map(Box::new), Vec::new(), When::End);
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
    /// The capture clock when the batch was sent.
    clock: Timestamp,
    last: bool,
}

struct Meta {
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
    fn push(&mut self, packet: &Packet<'_>, start: Option<usize>, clock: Timestamp) {
        let start = start.unwrap_or_else(|| {
            self.copied.extend_from_slice(packet.data);
            self.copied.len() - packet.data.len()
        });
        self.packets.push(Meta {
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
        self.last = false;
    }
}

/// What a worker tells the merger after each batch, and once at the end.
struct Report {
    worker: usize,
    /// Boxed by the worker, so that the merger's heap moves pointers and the boxes go back to
    /// the worker to be freed (`Spent`).
    #[allow(clippy::vec_box)]
    finished: Vec<Box<Finished>>,
    created: Vec<u64>,
    settled: When,
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
        let (to_merger, reports) = mpsc::channel::<Report>();
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
        let reader = scope.spawn(move || read_and_dispatch(input, queues, recycled));

        let mut merger = Merger::new(jobs, true);
        let mut counters = PacketCounters::default();
        for report in reports {
            merger.add(
                report.worker,
                report.finished,
                report.created,
                report.settled,
            );
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
        let (stats, mut result) = reader
            .join()
            .unwrap_or_else(|_| (FileStats::default(), Err(failed())));
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

/// The reading thread: every packet to the worker of its connection, in file order.
fn read_and_dispatch<R: Read + Send>(
    input: R,
    queues: Vec<mpsc::SyncSender<Batch>>,
    recycled: mpsc::Receiver<Batch>,
) -> (FileStats, Result<(), CaptureError>) {
    let jobs = queues.len();
    let mut batches: Vec<Batch> = (0..jobs).map(|_| Batch::default()).collect();
    let (mut held_packets, mut held_bytes) = (0, 0);
    let mut ticks = CaptureClock::default();
    let mut clock = Timestamp::default();
    let send_all = |batches: &mut Vec<Batch>, clock: Timestamp, last: bool| {
        for (batch, queue) in batches.iter_mut().zip(&queues) {
            let mut fresh = recycled.try_recv().unwrap_or_default();
            fresh.clear();
            fresh.chunk = batch.chunk.clone();
            let mut full = std::mem::replace(batch, fresh);
            full.clock = clock;
            full.last = last;
            // A worker gone has failed; the merger notices it (no last report).
            let _ = queue.send(full);
        }
    };
    let (stats, result) = crate::capture::read_capture_shared(input, |packet, shared| {
        clock = ticks.tick(packet.ts);
        if let Some(shared) = shared {
            let current = batches.first().and_then(|b| b.chunk.as_ref());
            if !current.is_some_and(|c| Arc::ptr_eq(c, shared.chunk)) {
                // A batch's packets all lie in one chunk.
                if held_packets > 0 {
                    send_all(&mut batches, clock, false);
                    (held_packets, held_bytes) = (0, 0);
                }
                for batch in &mut batches {
                    batch.chunk = Some(Arc::clone(shared.chunk));
                }
            }
        }
        let worker = net::shard_of(packet, jobs);
        if let Some(batch) = batches.get_mut(worker) {
            batch.push(packet, shared.map(|s| s.start), clock);
        }
        held_packets += 1;
        held_bytes += packet.data.len();
        if held_packets >= BATCH_PACKETS || held_bytes >= BATCH_BYTES {
            send_all(&mut batches, clock, false);
            (held_packets, held_bytes) = (0, 0);
        }
    });
    send_all(&mut batches, clock, true);
    (stats, result)
}

/// Records reported, handed back to the worker that made them to be freed there: glibc's
/// malloc frees memory from another thread's arena slowly, and the merger's thread would
/// otherwise spend its time on it.
#[allow(clippy::vec_box)]
type Spent = Vec<Box<Finished>>;

struct WorkerChannels {
    batches: mpsc::Receiver<Batch>,
    to_merger: mpsc::Sender<Report>,
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
    let boxed = |finished: Vec<Finished>| finished.into_iter().map(Box::new).collect();
    for mut batch in batches {
        freed.try_iter().for_each(drop);
        let bytes = batch.bytes();
        for meta in &batch.packets {
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
            analyzer.packet_at(&packet, meta.clock);
        }
        analyzer.advance(batch.clock);
        let last = batch.last;
        let report = Report {
            worker,
            finished: boxed(analyzer.take_finished_with_packets()),
            created: analyzer.take_creations(),
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
    let created = analyzer.take_creations();
    let mut finished = Vec::new();
    let counters = analyzer.finish_each_with_packets(|f| finished.push(f));
    let _ = to_merger.send(Report {
        worker,
        finished: boxed(finished),
        created,
        settled: When::End,
        counters: Some(counters),
    });
}

/// A report waiting for its turn: boxed, so that the heap moves a pointer, not a record of
/// a couple of kilobytes, at each step of a push or pop.
struct Pending(ReportOrder, usize, Box<Finished>);

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
    settled: Vec<When>,
    /// With several inputs: each one's conversations, by first frame, to number tcp.stream.
    created: Option<Vec<Vec<u64>>>,
    /// With several inputs: the records handed on, by input, to go back to be freed.
    spent: Option<Vec<Spent>>,
}

impl Merger {
    pub fn new(inputs: usize, renumber: bool) -> Self {
        let start = When::At(Timestamp::new(i64::MIN, 0));
        Merger {
            pending: BinaryHeap::new(),
            settled: vec![start; inputs],
            created: renumber.then(|| vec![Vec::new(); inputs]),
            spent: renumber.then(|| (0..inputs).map(|_| Vec::new()).collect()),
        }
    }

    pub fn settled(&self, input: usize) -> When {
        self.settled.get(input).copied().unwrap_or(When::End)
    }

    /// Reports from `input`, the first frames of the conversations it created since its last
    /// call, and how far it has now judged everything.
    pub fn add(
        &mut self,
        input: usize,
        finished: impl IntoIterator<Item = Box<Finished>>,
        created: Vec<u64>,
        settled: When,
    ) {
        self.pending.extend(
            finished
                .into_iter()
                .map(|f| Reverse(Pending(f.order, input, f))),
        );
        if let Some(mine) = self.created.as_mut().and_then(|c| c.get_mut(input)) {
            mine.extend(created);
        }
        if let Some(s) = self.settled.get_mut(input) {
            *s = settled;
        }
    }

    /// Hands on, in order, every report no input can still come before.
    pub fn release(&mut self, emit: &mut impl FnMut(&mut Connection)) {
        let Some(&before) = self.settled.iter().min() else {
            return;
        };
        while self
            .pending
            .peek()
            .is_some_and(|Reverse(p)| p.0.when < before)
        {
            self.pop(emit);
        }
    }

    /// Hands on every report left, in order: the inputs are all done.
    pub fn finish(mut self, emit: &mut impl FnMut(&mut Connection)) {
        while !self.pending.is_empty() {
            self.pop(emit);
        }
    }

    /// The records of `input` handed on since the last call.
    pub fn take_spent(&mut self, input: usize) -> Spent {
        let spent = self.spent.as_mut().and_then(|s| s.get_mut(input));
        spent.map(std::mem::take).unwrap_or_default()
    }

    fn pop(&mut self, emit: &mut impl FnMut(&mut Connection)) {
        let Some(Reverse(Pending(order, input, mut finished))) = self.pending.pop() else {
            return;
        };
        if let Some(created) = &self.created {
            finished.conn.tcp_stream = stream_number(created, order);
        }
        emit(&mut finished.conn);
        if let Some(spent) = self.spent.as_mut().and_then(|s| s.get_mut(input)) {
            spent.push(finished);
        }
    }
}

/// The conversations created, across all inputs, before this connection's first frame.
fn stream_number(created: &[Vec<u64>], order: ReportOrder) -> u64 {
    let before: usize = created
        .iter()
        .map(|c| c.partition_point(|&frame| frame < order.first_frame))
        .sum();
    before as u64
}
