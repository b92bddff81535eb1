//! The pipeline: packets in, connection records out. Each packet goes through net decoding,
//! the flow table, reassembly, TLS decoding and the connection record, in that order.
//!
//! File and live input both feed `Analyzer::packet`, so they share every rule. Once a
//! connection's handshake has settled its payload is no longer buffered or parsed: later
//! packets only update counters and close events.
//!
//! Live input differs only in when a connection is reported (`Options::report_early`): as
//! soon as it establishes, or when it closes, or after it has been idle (`expire_idle`),
//! instead of at the end of a file; and it may keep each open connection's recent packets
//! (`Options::keep_packets`) to save those of a failure.

mod counters;
mod options;
mod order;
mod ring;
mod state;

pub use counters::*;
pub use options::*;
pub(crate) use order::*;
pub use ring::*;
use state::*;

use crate::capture::{
    CaptureClock, CaptureError, FileStats, LinkType, Packet, Timestamp, read_capture,
};
use crate::connection::Connection;
use crate::flow::{Endpoint, FlowTable};
use crate::net::{self, Datagram, Decoded, Defragmenter, Segment, Skip, Unreachable};
use crate::tls::Located;

/// A judged connection, with its recent packets when they were kept.
pub struct Finished {
    pub conn: Box<Connection>,
    pub packets: Vec<SavedPacket>,
    /// Its place in the report.
    pub(crate) order: ReportOrder,
}

pub struct Analyzer {
    options: Options,
    table: FlowTable<State>,
    run: Run,
    /// Scratch space for decoded events, reused across packets.
    events: Vec<Located>,
    /// The clock connections age by (`CaptureClock`), as it stands at the current packet.
    clock: Timestamp,
    ticks: CaptureClock,
    /// The last frame of the capture this analyzer has been told of.
    frame: u64,
    /// Where IP fragments are put together; `None` when another thread does it (`-j`).
    defrag: Option<Box<Defragmenter>>,
    /// The layers around the reassembled datagram being analysed, while it is (they cannot be
    /// read again from a packet).
    reassembled: Option<Vec<net::Layer>>,
}

/// What a run yields besides its table, with one owner: its counters, the connections judged
/// and not yet taken, the bytes of the packets kept (live `--save-failures`), and the
/// conversations created, when asked for (`record_creations`).
#[derive(Default)]
pub(super) struct Run {
    pub(super) counters: PacketCounters,
    pub(super) done: Vec<Finished>,
    pub(super) kept_bytes: usize,
    pub(super) created: Option<Creations>,
    /// Live, with a followed key log: a report may be waiting for its keys (`sweep_keys`).
    pub(super) reports_deferred: bool,
}

/// What an analyzer sharing a capture with others tells of its conversations, so that
/// tcp.stream can be numbered across all of them (`shard::Merger`).
#[derive(Debug, Default)]
pub(crate) struct Creations {
    /// The first frames of the conversations created, in frame order.
    pub(crate) created: Vec<u64>,
    /// The first frames of conversations judged and not reported (no TLS, and not on a TLS
    /// port): no record of theirs will ask for its number.
    pub(crate) dropped: Vec<u64>,
    /// Every conversation created at or before this frame is in `created`, of this or an
    /// earlier call.
    pub(crate) through: u64,
}

impl Analyzer {
    pub fn new(options: Options) -> Self {
        let table = FlowTable::new(options.tls_ports.clone(), options.max_connections);
        let options_defrag = options.defrag;
        Analyzer {
            options,
            table,
            run: Run::default(),
            events: Vec::new(),
            clock: Timestamp::new(i64::MIN, 0),
            ticks: CaptureClock::default(),
            frame: 0,
            defrag: Some(Box::new(Defragmenter::new(options_defrag))),
            reassembled: None,
        }
    }

    // Inlined into the reading loop: one call less per packet.
    #[inline]
    pub fn packet(&mut self, packet: &Packet<'_>) {
        let clock = self.ticks.tick(packet.ts);
        self.packet_at(packet, clock);
    }

    /// `packet`, with the capture clock as it stands at this packet: with several analyzers
    /// sharing a capture, the `CaptureClock` of all its packets so far, not only of those
    /// this one sees.
    pub(crate) fn packet_at(&mut self, packet: &Packet<'_>, clock: Timestamp) {
        self.decoded_at(packet, net::decode(packet), clock);
    }

    /// `packet_at`, with the packet already decoded (by the reading thread of `-j`).
    pub(crate) fn decoded_at(
        &mut self,
        packet: &Packet<'_>,
        decoded: Result<Decoded<'_>, Skip>,
        clock: Timestamp,
    ) {
        self.run.counters.packets += 1;
        self.run.counters.bytes += packet.data.len() as u64;
        self.clock = self.clock.max(clock);
        self.frame = self.frame.max(packet.frame);
        self.retire_due();
        match &decoded {
            Ok(Decoded::Tcp(seg)) => self.segment(packet, seg),
            Ok(Decoded::Unreachable(icmp)) => self.unreachable(packet, icmp),
            Err(Skip::IpFragment) => self.fragment(packet, clock),
            Err(skip) => self.count_skip(*skip, packet.link),
        }
    }

    /// Leaves IP fragments to whoever hands this analyzer its packets (`-j`'s reading thread,
    /// which puts them together before dealing packets by connection): they are only counted.
    pub(crate) fn defragment_elsewhere(&mut self) {
        self.defrag = None;
    }

    /// A fragment: counted, and its datagram analysed once complete. Cold and never inlined:
    /// the per-packet path stays as it was without fragments.
    #[cold]
    #[inline(never)]
    fn fragment(&mut self, packet: &Packet<'_>, clock: Timestamp) {
        self.run.counters.ip_fragments += 1;
        let datagram = self.defrag.as_mut().and_then(|d| d.add(packet, clock));
        if let Some(datagram) = datagram {
            self.datagram_at(&datagram, clock);
        }
    }

    /// A datagram reassembled from fragments, analysed as a packet at the frame of the fragment
    /// that completed it. It is not a packet of the capture: `packets` and `bytes` counted its
    /// fragments, and what it is when not TCP (UDP, ICMP ...) is not counted again. It goes
    /// through `decoded_at`, so that `segment` keeps one caller and stays inlined there (a
    /// second caller would make it a call per packet).
    #[cold]
    #[inline(never)]
    pub(crate) fn datagram_at(&mut self, datagram: &Datagram, clock: Timestamp) {
        let decoded = datagram.decode();
        let layers = match &decoded {
            Ok(Decoded::Tcp(seg)) if seg.depth > 0 => datagram.encapsulation(),
            Ok(_) => Vec::new(),
            Err(_) => {
                self.clock = self.clock.max(clock);
                self.frame = self.frame.max(datagram.frame);
                self.retire_due();
                return;
            }
        };
        let packet = datagram.packet();
        self.reassembled = Some(layers);
        self.decoded_at(&packet, decoded, clock);
        self.reassembled = None;
        // Its fragments were the packets.
        self.run.counters.packets -= 1;
        self.run.counters.bytes -= packet.data.len() as u64;
    }

    /// Puts a connection that has just closed on the table's schedule of retirements, once
    /// the packet's borrow of its flow is over.
    fn schedule(&mut self, request: Option<ScheduleRequest>) {
        if let Some((client, server, stream, at)) = request {
            self.table.schedule(client, server, stream, at);
        }
    }

    /// Moves the capture clock to `clock` and the capture to frame `frame` without a packet
    /// (the other analyzers of a shared capture saw packets).
    pub(crate) fn advance(&mut self, clock: Timestamp, frame: u64) {
        self.clock = self.clock.max(clock);
        self.frame = self.frame.max(frame);
        self.retire_due();
    }

    /// Retires the connections due by now: a look at the schedule's head for every packet,
    /// never a walk through the table. So a closed connection leaves exactly when it is due,
    /// whatever else the capture holds.
    fn retire_due(&mut self) {
        if self.table.next_due().is_some_and(|at| at <= self.clock) {
            self.retire_closed(self.clock);
        }
    }

    /// Judges the connections closed and quiet for `linger` seconds at time `now` and
    /// removes them, remembering only enough to know their stragglers for a while.
    fn retire_closed(&mut self, now: Timestamp) {
        let linger = self.options.linger;
        let retired = self.table.retire_due(now, |s| due(s, linger));
        let (diagnose, counters) = (&self.options.diagnose, &mut self.run.counters);
        for (flow, at) in retired {
            let kept = &mut self.run.kept_bytes;
            let finished = finish(flow.state, Moment::at(at, 0), diagnose, counters, kept);
            self.run.done.extend(finished);
        }
    }

    /// Every connection this analyzer judges from now on comes at or after this moment in
    /// the report's order (`ReportOrder::at`): those due later (the schedule's head, or a
    /// connection not closed yet, due after the clock), and those a later packet ends.
    pub(crate) fn settled_to(&self) -> Moment {
        let next = Moment::at(self.clock, self.frame.saturating_add(1));
        match self.table.next_due() {
            Some(due) => next.min(Moment::at(due, 0)),
            None => next,
        }
    }

    /// Asks for the first frame of every conversation created, and of every one not
    /// reported, to be taken with `take_creations` (with several analyzers, to number
    /// tcp.stream across them).
    pub(crate) fn record_creations(&mut self) {
        self.run.created = Some(Creations::default());
    }

    /// The conversations created, and those dropped unreported, since the last call.
    pub(crate) fn take_creations(&mut self) -> Creations {
        let mut taken = self
            .run
            .created
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default();
        taken.through = self.frame;
        taken
    }

    /// An ICMP error belongs to the connection whose packet it quotes; one that quotes no
    /// known connection is only counted.
    fn unreachable(&mut self, packet: &Packet<'_>, icmp: &Unreachable) {
        let src = Endpoint::new(icmp.src, icmp.src_port);
        let dst = Endpoint::new(icmp.dst, icmp.dst_port);
        let (clock, linger) = (self.clock, self.options.linger);
        match self.table.find_mut(src, dst, clock, |s| due(s, linger)) {
            Some(flow) => {
                let (kept, counters) = (&mut self.run.kept_bytes, &mut self.run.counters);
                keep(&mut flow.state, packet, &self.options, kept, counters);
                flow.state.conn.unreachable(packet.frame, packet.ts, icmp);
                flow.state.last_clock = clock;
                let request = schedule_request(flow, linger);
                self.schedule(request);
            }
            None => self.run.counters.skipped += 1,
        }
    }

    fn count_skip(&mut self, skip: Skip, link: LinkType) {
        let c = &mut self.run.counters;
        let reason = match skip {
            Skip::UnknownLinkType(LinkType(n)) => {
                c.count_link_type(LinkType(n).name(), 1);
                return;
            }
            Skip::NotIp(carrier) => {
                c.skipped += 1;
                SkipReason::NotIp(carrier)
            }
            Skip::NotTcp(protocol) => {
                c.skipped += 1;
                SkipReason::NotTcp(protocol)
            }
            Skip::IpFragment => {
                c.ip_fragments += 1;
                return;
            }
            Skip::TooDeep => {
                c.malformed += 1;
                SkipReason::TooDeep
            }
            Skip::Malformed => {
                c.malformed += 1;
                SkipReason::Malformed(link)
            }
        };
        c.count_skip_reason(reason, 1);
    }

    fn segment(&mut self, packet: &Packet<'_>, seg: &Segment<'_>) {
        self.run.counters.tcp_packets += 1;
        if seg.missing > 0 {
            self.run.counters.truncated += 1;
        }
        let (clock, linger) = (self.clock, self.options.linger);
        // Nearly every packet belongs to a connection already open: at most one hash finds
        // it, none when it is the connection the packet before belonged to.
        let flow = match self.table.ongoing(seg, clock, |s| due(s, linger)) {
            Some(flow) => flow,
            None => {
                let opened = open(
                    &mut self.table,
                    packet,
                    seg,
                    self.reassembled.as_deref(),
                    clock,
                    &self.options,
                    &mut self.run,
                );
                let Some(flow) = opened else {
                    self.run.counters.packets_after_close += 1;
                    return;
                };
                flow
            }
        };
        let side = flow.side_of(seg);
        let state = &mut flow.state;
        state.last_clock = clock;
        if self.options.keep_packets.is_some() && self.reassembled.is_none() {
            // Live input with --save-failures only: not a call per packet of a file. A
            // reassembled datagram is no packet of the link to save.
            let (kept, counters) = (&mut self.run.kept_bytes, &mut self.run.counters);
            keep(state, packet, &self.options, kept, counters);
        }
        let (frame, ts) = (packet.frame, packet.ts);
        // A settled connection's packets are mostly data: one flag test for them.
        if state.settled && seg.flags.syn && state.conn.retried_after_reset(side, !seg.flags.ack) {
            restart(state, &self.options, frame);
        }
        state
            .conn
            .packet(side, frame, ts, seg.ttl, seg.payload.len(), seg.missing);
        tcp_control(state, side, seg, packet);
        if state.settled {
            fin_control(state, side, seg, packet);
            if self.options.report_early && !state.reported && over(&state.conn) {
                report_unless_waiting(state, clock, frame, &self.options, &mut self.run);
            }
            let request = schedule_request(flow, linger);
            self.schedule(request);
            return;
        }
        if awaiting_keys(state) {
            // Before this packet's records: those held come first. (A settled connection
            // reads no more records: the sweep, `sweep_keys`, looks for its keys.)
            look_for_keys(state, false);
        }
        read_payload(state, side, seg, frame, ts, &mut self.events);
        // After the segment's data: a FIN closes the stream once its bytes are delivered.
        fin_control(state, side, seg, packet);
        if state.conn.settled() {
            state.settled = true;
            state.streams.client.stop();
            state.streams.server.stop();
        }
        if self.options.report_early && !state.reported {
            let established = state.conn.facts.established_at.is_some()
                && (state.conn.facts.syn.is_some() || state.conn.facts.client_hello.is_some());
            if established || over(&state.conn) {
                report_unless_waiting(state, clock, frame, &self.options, &mut self.run);
            }
        }
        let request = schedule_request(flow, linger);
        self.schedule(request);
    }

    /// Live input: connections not yet reported and silent for `idle` seconds at time `now`
    /// are judged as they stand, so that a SYN never answered is reported after the timeout,
    /// not when the program ends. Reported ones are forgotten once closed and quiet for
    /// `linger` seconds (their last ACKs must not start a new record); an established one
    /// still open stays (a few hundred bytes) until an hour of silence or eviction, so that
    /// an idle keep-alive connection is not reported again as one the capture joined late.
    pub fn expire_idle(&mut self, now: Timestamp, idle: f64) {
        const FORGET_OPEN: f64 = 3600.0;
        self.clock = self.clock.max(self.ticks.tick(now));
        self.sweep_keys(now);
        self.retire_closed(self.clock);
        let expired = self.table.drain_where(|flow| {
            let s = &flow.state;
            let quiet = now.seconds_since(s.conn.facts.last_ts);
            if s.reported {
                quiet >= FORGET_OPEN
            } else {
                quiet >= idle
            }
        });
        let (diagnose, counters) = (&self.options.diagnose, &mut self.run.counters);
        for flow in expired {
            let when = Moment::at(self.clock, 0);
            let kept = &mut self.run.kept_bytes;
            self.run
                .done
                .extend(finish(flow.state, when, diagnose, counters, kept));
        }
    }

    /// Live, with a followed key log: the connections whose reports wait for their keys
    /// look in it again, and are reported once the keys have come or `KEY_WAIT` seconds
    /// have passed by `now`. Called when the key log grew, and at each sweep; nothing to do
    /// (no walk of the table) while no report waits.
    pub fn sweep_keys(&mut self, now: Timestamp) {
        if !self.run.reports_deferred {
            return;
        }
        // The capture's clock, in which the reports fell due.
        self.clock = self.clock.max(self.ticks.tick(now));
        let (options, run, now) = (&self.options, &mut self.run, self.clock);
        let mut still = false;
        self.table.for_each_mut(|flow| {
            let state = &mut flow.state;
            let Some(since) = state.session.as_ref().and_then(|s| s.report_due_since()) else {
                return;
            };
            if state.reported {
                return;
            }
            look_for_keys(state, now.seconds_since(since) >= KEY_WAIT);
            // Waiting again (for application keys, after its handshake's came): still due
            // since then.
            if defer_report(state, since) {
                still = true;
            } else {
                // Frame 0: judged by the sweep, not by a packet.
                report_early(state, now, 0, options, run);
            }
        });
        run.reports_deferred = still;
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.table.len()
    }

    /// The packet counters so far.
    pub fn counters(&self) -> &PacketCounters {
        &self.run.counters
    }

    /// Whether connections judged so far wait to be taken.
    pub(crate) fn has_finished(&self) -> bool {
        !self.run.done.is_empty()
    }

    /// Connections judged so far and not yet taken, with their kept packets (live input).
    pub fn take_finished_with_packets(&mut self) -> Vec<Finished> {
        let mut out = Vec::new();
        self.move_finished(&mut out);
        out
    }

    /// Moves the connections judged so far into `out`. Both keep their buffers: a record is
    /// large, and a busy capture finishes one every few packets.
    pub(crate) fn move_finished(&mut self, out: &mut Vec<Finished>) {
        let ports = &self.options.tls_ports;
        for f in self.run.done.drain(..) {
            if reportable(&f.conn, ports) {
                out.push(f);
            } else if let Some(c) = &mut self.run.created {
                c.dropped.push(f.conn.first_frame);
            }
        }
    }

    /// Connections judged before the end (a port reused, or evicted from a full table), to be
    /// reported now: memory then follows the connections open, not all the capture held.
    pub fn take_finished(&mut self) -> Vec<Connection> {
        self.take_finished_with_packets()
            .into_iter()
            .map(|f| *f.conn)
            .collect()
    }

    /// Ends the analysis: every connection still open is judged as the capture left it and
    /// handed to `each` in tcp.stream order, one at a time (so that they are never all held
    /// twice). Returns the packet counters.
    pub(crate) fn finish_each(self, mut each: impl FnMut(Connection)) -> PacketCounters {
        self.finish_each_with_packets(|f| each(*f.conn))
    }

    /// `finish_each`, with each connection's kept packets (live input).
    pub fn finish_each_with_packets(mut self, mut each: impl FnMut(Finished)) -> PacketCounters {
        // Those due by the capture's last moment first, in their place.
        self.retire_closed(self.clock);
        for finished in self.take_finished_with_packets() {
            each(finished);
        }
        let Analyzer {
            options,
            mut table,
            run:
                Run {
                    mut counters,
                    mut kept_bytes,
                    ..
                },
            defrag,
            ..
        } = self;
        if let Some(mut defrag) = defrag {
            defrag.finish();
            counters.add_defrag(defrag.counters());
        }
        for flow in table.drain() {
            let finished = finish(
                flow.state,
                Moment::END,
                &options.diagnose,
                &mut counters,
                &mut kept_bytes,
            );
            if let Some(f) = finished.filter(|f| reportable(&f.conn, &options.tls_ports)) {
                each(f);
            }
        }
        counters
    }

    /// Ends the analysis and returns every connection not taken before, in tcp.stream order.
    pub fn finish(self) -> Analysis {
        let mut connections = Vec::new();
        let counters = self.finish_each(|c| connections.push(c));
        connections.sort_by_key(|c| c.tcp_stream);
        Analysis {
            connections,
            counters,
        }
    }
}

/// Reads a whole capture from `input` and analyses it. On damage, the connections read
/// before it are still judged and returned beside the error.
pub fn analyze_capture<R: std::io::Read + Send>(
    input: R,
    options: &Options,
) -> (Analysis, FileStats, Result<(), CaptureError>) {
    let mut analyzer = Analyzer::new(options.clone());
    let (stats, result) = read_capture(input, |packet| analyzer.packet(packet));
    (analyzer.finish(), stats, result)
}

/// The result of analysing one capture.
pub struct Analysis {
    pub connections: Vec<Connection>,
    pub counters: PacketCounters,
}
