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
//! This file holds the reading thread and the workers; `merge` puts their reports in order
//! and numbers tcp.stream across the workers.
//!
//! One difference remains, and only when the connection table fills: each worker has its own
//! share of `--max-connections`, and evicts from its own share (counted as
//! `evicted_connections`).

mod merge;

use crate::analyze::{Analyzer, Creations, Finished, Moment, Options, PacketCounters};
use crate::capture::{CaptureClock, CaptureError, FileStats, LinkType, Packet, Timestamp};
use crate::net;
use std::io::Read;
use std::sync::{Arc, mpsc};

pub use merge::Merger;

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
/// the report's order, with its kept packets when `Options::keep_packets` asks for them.
pub fn analyze<R: Read + Send>(
    input: R,
    options: &Options,
    jobs: usize,
    emit: impl FnMut(&mut Finished),
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
    mut emit: impl FnMut(&mut Finished),
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
    /// Its headers, decoded by the reading thread while the packet is in its core's cache: a
    /// worker decoding them again from the copied bytes would miss the cache for most packets.
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
    mut emit: impl FnMut(&mut Finished),
) -> FileResult {
    let mut options = options.clone();
    options.max_connections = options.max_connections.div_ceil(jobs).max(1);
    // Each worker keeps its share of the packets' budget, as of the connections.
    if let Some(limits) = &mut options.keep_packets {
        limits.total_bytes = limits.total_bytes.div_ceil(jobs);
    }
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
