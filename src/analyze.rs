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

use crate::capture::{
    CaptureClock, CaptureError, FileStats, LinkType, Packet, Timestamp, read_capture,
};
use crate::connection::{Connection, Facts, Limit, LimitHit, Outcome};
use crate::diagnose::{self, DiagnoseOptions};
use crate::flow::{
    Endpoint, Flow, FlowTable, Limits, PerSide, Placement, Reassembler, RoleEvidence, Side,
};
use crate::net::{self, Datagram, Decoded, DefragLimits, Defragmenter, Segment, Skip, Unreachable};
use crate::tls::{self, Decoder, Located};
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};

/// TLS's registered ports (IANA) and the usual alternatives, on which connections that never
/// carried TLS are reported too.
pub const DEFAULT_TLS_PORTS: &[u16] = &[
    443, 465, 563, 636, 853, 989, 990, 991, 992, 993, 994, 995, 5061, 6443, 8443,
];

/// Connections tracked at once by default: a few hundred megabytes at the very most.
pub const DEFAULT_MAX_CONNECTIONS: usize = 100_000;
/// Long enough for the last ACK and a retransmitted FIN or two after a close.
pub const DEFAULT_LINGER: f64 = 2.0;

#[derive(Clone, Debug)]
pub struct Options {
    /// Ports on which non-TLS connections (refused, timed out, plain HTTP) are reported.
    pub tls_ports: Vec<u16>,
    /// Bytes and out-of-order segments held per direction before the handshake settles.
    pub reassembly: Limits,
    /// Handshake message size, certificates per chain, bytes per certificate.
    pub tls: tls::Limits,
    /// Connections tracked at once; beyond it the least recently seen is judged early and
    /// dropped (counted as `evicted_connections`).
    pub max_connections: usize,
    pub diagnose: DiagnoseOptions,
    /// Report a connection when it establishes or closes, not only at the end (live input).
    pub report_early: bool,
    /// Keep each open connection's recent packets, to hand over with a failed connection.
    pub keep_packets: Option<PacketRingLimits>,
    /// Seconds of capture time a closed connection stays quiet before it is judged and
    /// removed, so that memory follows the connections open, not all those of the capture.
    pub linger: f64,
    /// Datagrams pending reassembly from IP fragments, their bytes, and their timeout.
    pub defrag: DefragLimits,
}

/// How many of an open connection's recent packets are kept, and the budget of them all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketRingLimits {
    pub packets_per_connection: usize,
    pub bytes_per_connection: usize,
    /// For all connections together: beyond it packets are not kept (and counted).
    pub total_bytes: usize,
}

impl Default for PacketRingLimits {
    fn default() -> Self {
        PacketRingLimits {
            packets_per_connection: 64,
            bytes_per_connection: 256 << 10,
            total_bytes: 64 << 20,
        }
    }
}

/// One packet kept for saving, with the frame number it had.
#[derive(Clone, Debug)]
pub struct SavedPacket {
    pub frame: u64,
    pub ts: Timestamp,
    pub data: Vec<u8>,
    pub orig_len: u32,
}

impl SavedPacket {
    pub fn packet(&self, link: LinkType) -> Packet<'_> {
        Packet {
            frame: self.frame,
            ts: self.ts,
            link,
            data: &self.data,
            orig_len: self.orig_len,
        }
    }
}

/// A judged connection, with its recent packets when they were kept.
pub struct Finished {
    pub conn: Box<Connection>,
    pub packets: Vec<SavedPacket>,
    /// Its place in the report.
    pub order: ReportOrder,
}

/// When a connection was judged, in capture time: `End` for those the capture left open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum When {
    At(Timestamp),
    End,
}

/// A moment of the analysis: a capture time, then the frame of the packet that ended a
/// connection at that time (0 for a connection that ended by being due: no packet did it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Moment {
    pub when: When,
    pub cause: u64,
}

impl Moment {
    pub fn at(ts: Timestamp, cause: u64) -> Moment {
        Moment {
            when: When::At(ts),
            cause,
        }
    }

    pub const START: Moment = Moment {
        when: When::At(Timestamp {
            secs: i64::MIN,
            nanos: 0,
        }),
        cause: 0,
    };
    pub const END: Moment = Moment {
        when: When::End,
        cause: u64::MAX,
    };
}

/// A judged connection's place in a file's report: by the moment it was judged, then by its
/// first frame (which orders connections as their tcp.stream numbers do). All of it follows
/// from the capture alone, never from when the analyzer happened to look, so that any split
/// of the capture across threads reports in the same order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ReportOrder {
    pub at: Moment,
    pub first_frame: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            tls_ports: DEFAULT_TLS_PORTS.to_vec(),
            reassembly: Limits::default(),
            tls: tls::Limits::default(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            diagnose: DiagnoseOptions::default(),
            report_early: false,
            keep_packets: None,
            linger: DEFAULT_LINGER,
            defrag: DefragLimits::default(),
        }
    }
}

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
    pub truncated: u64,
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
    pub packets_not_kept: u64,
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
    pub fn is_unread(self) -> bool {
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
    pub fn add(&mut self, other: &PacketCounters) {
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
    pub fn add_defrag(&mut self, d: &net::DefragCounters) {
        self.ip_datagrams_reassembled += d.reassembled;
        self.ip_fragments_over_limit += d.over_limit;
        self.ip_fragments_timed_out += d.timed_out;
        self.ip_fragments_inconsistent += d.inconsistent;
        if d.dropped() > 0 {
            self.count_skip_reason(SkipReason::IpFragment, d.dropped());
        }
    }

    /// Counts `n` packets skipped for `reason`, bounded as `count_link_type` is.
    pub fn count_skip_reason(&mut self, reason: SkipReason, n: u64) {
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
    pub fn count_link_type(&mut self, name: String, n: u64) {
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
pub const MAX_LINK_TYPE_NAMES: usize = 64;
/// Skip reasons counted apart in `skip_reasons`.
pub const MAX_SKIP_REASONS: usize = 64;
pub const OTHER_LINK_TYPES: &str = "other";

pub(crate) fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Per-connection state: the record, and the two directions' reassembly and decoding.
struct State {
    /// Boxed: the record goes out whole when the connection is judged, so it moves as a
    /// pointer, not as a couple of kilobytes through every step to the report.
    conn: Box<Connection>,
    streams: PerSide<Reassembler>,
    decoders: PerSide<Decoder>,
    settled: bool,
    /// Already reported (live): later packets are followed but not reported again.
    reported: bool,
    /// Recent packets, when kept.
    ring: VecDeque<SavedPacket>,
    ring_bytes: usize,
    /// The capture clock at the connection's last packet.
    last_clock: Timestamp,
    /// Handed to the table's schedule of retirements (once closed).
    scheduled: bool,
}

/// A connection to put on the table's schedule of retirements: its endpoints, its stream, and
/// when it is due.
type ScheduleRequest = (Endpoint, Endpoint, u64, Timestamp);

/// A connection that has just become due to retire (closed), to be scheduled once.
fn schedule_request(flow: &mut Flow<State>, linger: f64) -> Option<ScheduleRequest> {
    if flow.state.scheduled {
        return None;
    }
    let at = due(&flow.state, linger)?;
    flow.state.scheduled = true;
    Some((flow.client, flow.server, flow.tcp_stream, at))
}

/// When a connection is due to leave the table: `linger` seconds of capture clock after its
/// last packet, once it is closed.
fn due(state: &State, linger: f64) -> Option<Timestamp> {
    closed(&state.conn).then(|| state.last_clock.after(linger))
}

pub struct Analyzer {
    options: Options,
    table: FlowTable<State>,
    done: Vec<Finished>,
    /// Bytes of all kept packets.
    kept_bytes: usize,
    counters: PacketCounters,
    /// Scratch space for decoded events, reused across packets.
    events: Vec<Located>,
    /// The clock connections age by (`CaptureClock`), as it stands at the current packet.
    clock: Timestamp,
    ticks: CaptureClock,
    /// The last frame of the capture this analyzer has been told of.
    frame: u64,
    /// The conversations created, and those judged and not reported, when asked for
    /// (`record_creations`).
    created: Option<Creations>,
    /// Where IP fragments are put together; `None` when another thread does it (`-j`).
    defrag: Option<Box<Defragmenter>>,
    /// The layers around the reassembled datagram being analysed, while it is (they cannot be
    /// read again from a packet).
    reassembled: Option<Vec<net::Layer>>,
}

/// What an analyzer sharing a capture with others tells of its conversations, so that
/// tcp.stream can be numbered across all of them (`shard::Merger`).
#[derive(Debug, Default)]
pub struct Creations {
    /// The first frames of the conversations created, in frame order.
    pub created: Vec<u64>,
    /// The first frames of conversations judged and not reported (no TLS, and not on a TLS
    /// port): no record of theirs will ask for its number.
    pub dropped: Vec<u64>,
    /// Every conversation created at or before this frame is in `created`, of this or an
    /// earlier call.
    pub through: u64,
}

impl Analyzer {
    pub fn new(options: Options) -> Self {
        let table = FlowTable::new(options.tls_ports.clone(), options.max_connections);
        let options_defrag = options.defrag;
        Analyzer {
            options,
            table,
            done: Vec::new(),
            kept_bytes: 0,
            counters: PacketCounters::default(),
            events: Vec::new(),
            clock: Timestamp::new(i64::MIN, 0),
            ticks: CaptureClock::default(),
            frame: 0,
            created: None,
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
    pub fn packet_at(&mut self, packet: &Packet<'_>, clock: Timestamp) {
        self.decoded_at(packet, net::decode(packet), clock);
    }

    /// `packet_at`, with the packet already decoded (by the reading thread of `-j`).
    pub fn decoded_at(
        &mut self,
        packet: &Packet<'_>,
        decoded: Result<Decoded<'_>, Skip>,
        clock: Timestamp,
    ) {
        self.counters.packets += 1;
        self.counters.bytes += packet.data.len() as u64;
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
    pub fn defragment_elsewhere(&mut self) {
        self.defrag = None;
    }

    /// A fragment: counted, and its datagram analysed once complete. Cold and never inlined:
    /// the per-packet path stays as it was without fragments.
    #[cold]
    #[inline(never)]
    fn fragment(&mut self, packet: &Packet<'_>, clock: Timestamp) {
        self.counters.ip_fragments += 1;
        let datagram = self.defrag.as_mut().and_then(|d| d.add(packet, clock));
        if let Some(datagram) = datagram {
            self.datagram_at(&datagram, clock);
        }
    }

    /// A datagram reassembled from fragments, analysed as a packet at the frame of the fragment
    /// that completed it. It is not a packet of the capture: `packets` and `bytes` counted its
    /// fragments, and what it is when not TCP (UDP, ICMP ...) is not counted again. It goes
    /// through `decoded_at`, so that `segment` keeps one caller and stays inlined there (a
    /// second caller made it a call per packet: 0.8% more instructions on a bulk recording).
    #[cold]
    #[inline(never)]
    pub fn datagram_at(&mut self, datagram: &Datagram, clock: Timestamp) {
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
        self.counters.packets -= 1;
        self.counters.bytes -= packet.data.len() as u64;
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
    pub fn advance(&mut self, clock: Timestamp, frame: u64) {
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
        let (diagnose, counters) = (&self.options.diagnose, &mut self.counters);
        for (flow, at) in retired {
            let kept = &mut self.kept_bytes;
            let finished = finish(flow.state, Moment::at(at, 0), diagnose, counters, kept);
            self.done.extend(finished);
        }
    }

    /// Every connection this analyzer judges from now on comes at or after this moment in
    /// the report's order (`ReportOrder::at`): those due later (the schedule's head, or a
    /// connection not closed yet, due after the clock), and those a later packet ends.
    pub fn settled_to(&self) -> Moment {
        let next = Moment::at(self.clock, self.frame.saturating_add(1));
        match self.table.next_due() {
            Some(due) => next.min(Moment::at(due, 0)),
            None => next,
        }
    }

    /// Asks for the first frame of every conversation created, and of every one not
    /// reported, to be taken with `take_creations` (with several analyzers, to number
    /// tcp.stream across them).
    pub fn record_creations(&mut self) {
        self.created = Some(Creations::default());
    }

    /// The conversations created, and those dropped unreported, since the last call.
    pub fn take_creations(&mut self) -> Creations {
        let mut taken = self
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
                let (kept, counters) = (&mut self.kept_bytes, &mut self.counters);
                keep(&mut flow.state, packet, &self.options, kept, counters);
                flow.state.conn.unreachable(packet.frame, packet.ts, icmp);
                flow.state.last_clock = clock;
                let request = schedule_request(flow, linger);
                self.schedule(request);
            }
            None => self.counters.skipped += 1,
        }
    }

    fn count_skip(&mut self, skip: Skip, link: LinkType) {
        let c = &mut self.counters;
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
        self.counters.tcp_packets += 1;
        if seg.missing > 0 {
            self.counters.truncated += 1;
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
                    &mut self.counters,
                    &mut self.kept_bytes,
                    &mut self.done,
                    &mut self.created,
                );
                let Some(flow) = opened else {
                    self.counters.packets_after_close += 1;
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
            let (kept, counters) = (&mut self.kept_bytes, &mut self.counters);
            keep(state, packet, &self.options, kept, counters);
        }
        let (frame, ts) = (packet.frame, packet.ts);
        if state.settled
            && state
                .conn
                .retried_after_reset(side, seg.flags.syn && !seg.flags.ack)
        {
            restart(state, &self.options, frame);
        }
        state
            .conn
            .packet(side, frame, ts, seg.ttl, seg.payload.len(), seg.missing);
        tcp_control(state, side, seg, frame, ts);
        if state.settled {
            fin_control(state, side, seg, frame, ts);
            if self.options.report_early && !state.reported && over(&state.conn) {
                let d = &self.options.diagnose;
                let (counters, kept) = (&mut self.counters, &mut self.kept_bytes);
                let now = Moment::at(clock, frame);
                self.done.push(report_now(state, now, d, counters, kept));
            }
            let request = schedule_request(flow, linger);
            self.schedule(request);
            return;
        }
        let placement = state
            .streams
            .get_mut(side)
            .segment(seg.data_seq(), seg.payload, frame, ts);
        count_placement(&mut state.conn, side, frame, ts, placement);
        if seg.missing > 0 && matches!(placement, Placement::InOrder | Placement::Overlap) {
            // The snaplen cut the rest of this segment: the records wholly captured are read,
            // a handshake record the cut ended is told, and the stream resumes after the hole.
            decode_side(state, side, &mut self.events);
            cut_side(state, side, &mut self.events);
            let gap = state
                .streams
                .get_mut(side)
                .skip(u64::from(seg.missing), frame, ts);
            state.conn.gap(side, &gap);
            state.decoders.get_mut(side).lose_sync();
        }
        if seg.flags.ack
            && let Some(gap) = state
                .streams
                .get_mut(side.peer())
                .peer_ack(seg.ack, frame, ts)
        {
            state.conn.gap(side.peer(), &gap);
            state.decoders.get_mut(side.peer()).lose_sync();
        }
        for s in [side, side.peer()] {
            decode_side(state, s, &mut self.events);
        }
        // After the segment's data: a FIN closes the stream once its bytes are delivered.
        fin_control(state, side, seg, frame, ts);
        if state.conn.settled() {
            state.settled = true;
            state.streams.client.stop();
            state.streams.server.stop();
        }
        if self.options.report_early && !state.reported {
            let established = state.conn.facts.established_at.is_some()
                && (state.conn.facts.syn.is_some() || state.conn.facts.client_hello.is_some());
            if established || over(&state.conn) {
                let d = &self.options.diagnose;
                let (counters, kept) = (&mut self.counters, &mut self.kept_bytes);
                let now = Moment::at(clock, frame);
                self.done.push(report_now(state, now, d, counters, kept));
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
        let (diagnose, counters) = (&self.options.diagnose, &mut self.counters);
        for flow in expired {
            let when = Moment::at(self.clock, 0);
            let kept = &mut self.kept_bytes;
            self.done
                .extend(finish(flow.state, when, diagnose, counters, kept));
        }
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.table.len()
    }

    /// The packet counters so far.
    pub fn counters(&self) -> &PacketCounters {
        &self.counters
    }

    /// Whether connections judged so far wait to be taken.
    pub fn has_finished(&self) -> bool {
        !self.done.is_empty()
    }

    /// Connections judged so far and not yet taken, with their kept packets (live input).
    pub fn take_finished_with_packets(&mut self) -> Vec<Finished> {
        let mut out = Vec::new();
        self.move_finished(&mut out);
        out
    }

    /// Moves the connections judged so far into `out`. Both keep their buffers: a record is
    /// large, and a busy capture finishes one every few packets.
    pub fn move_finished(&mut self, out: &mut Vec<Finished>) {
        let ports = &self.options.tls_ports;
        for f in self.done.drain(..) {
            if reportable(&f.conn, ports) {
                out.push(f);
            } else if let Some(c) = &mut self.created {
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
    pub fn finish_each(self, mut each: impl FnMut(Connection)) -> PacketCounters {
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
            mut counters,
            mut kept_bytes,
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

impl Analysis {
    pub fn count(&self, outcome: Outcome) -> usize {
        self.connections
            .iter()
            .filter(|c| c.verdict.outcome == outcome)
            .count()
    }
}

/// TLS connections, and connections to a TLS port that never carried TLS.
fn reportable(c: &Connection, tls_ports: &[u16]) -> bool {
    c.facts.saw_tls || c.server.is_some_and(|s| tls_ports.contains(&s.port))
}

/// A ServerHello in the first payload of a flow whose roles were guessed from ports.
fn hello_from_server(seg: &Segment<'_>) -> bool {
    tls::record::starts_hello(seg.payload, true)
}

fn tcp_control(
    state: &mut State,
    side: Side,
    seg: &Segment<'_>,
    frame: u64,
    ts: crate::capture::Timestamp,
) {
    let conn = &mut state.conn;
    if seg.flags.syn {
        conn.syn(side, frame, ts, seg.flags.ack);
        state.streams.get_mut(side).set_initial_seq(seg.seq);
    }
    if seg.flags.rst {
        conn.rst(side, frame, ts, seg.ttl);
    }
}

/// A connection's record as its first packet opens it. The layers around a tunneled segment
/// are read again from the packet here, once per connection; set on the boxed record, not
/// through a struct update, which copied the whole record once more (0.5% more instructions
/// on the handshake-dense capture).
/// A reassembled datagram brings its layers (`reassembled`).
fn new_connection(
    packet: &Packet<'_>,
    seg: &Segment<'_>,
    reassembled: Option<&[net::Layer]>,
) -> Box<Connection> {
    let mut conn = Box::new(Connection::new(0, packet.frame, packet.ts));
    if seg.depth > 0 {
        conn.encapsulation = match reassembled {
            Some(layers) => layers.to_vec(),
            None => net::encapsulation(packet),
        };
    }
    conn
}

/// The conversation of a segment that `FlowTable::ongoing` did not find, through `lookup`: a
/// new one is opened and counted, and the connections the segment ends (retired, replaced or
/// evicted) are judged into `done`. `None` for a straggler of a retired conversation. A free
/// function, not a method: the flow it returns borrows the table while the caller goes on
/// using the analyzer's other fields.
#[allow(clippy::too_many_arguments)]
fn open<'t>(
    table: &'t mut FlowTable<State>,
    packet: &Packet<'_>,
    seg: &Segment<'_>,
    reassembled: Option<&[net::Layer]>,
    clock: Timestamp,
    options: &Options,
    counters: &mut PacketCounters,
    kept: &mut usize,
    done: &mut Vec<Finished>,
    created: &mut Option<Creations>,
) -> Option<&'t mut Flow<State>> {
    let (reassembly, tls_limits) = (options.reassembly, options.tls);
    let linger = options.linger;
    let lookup = table.lookup(
        seg,
        clock,
        |s| due(s, linger),
        || State {
            // Its tcp.stream is known once the table has taken it (below).
            conn: new_connection(packet, seg, reassembled),
            streams: PerSide {
                client: Reassembler::new(reassembly),
                server: Reassembler::new(reassembly),
            },
            decoders: PerSide {
                client: Decoder::new(false, tls_limits),
                server: Decoder::new(true, tls_limits),
            },
            settled: false,
            reported: false,
            ring: VecDeque::new(),
            ring_bytes: 0,
            last_clock: clock,
            scheduled: false,
        },
    );
    let diagnose = &options.diagnose;
    if lookup.evicted.is_some() {
        counters.evicted_connections += 1;
    }
    // Rarely any: the common case is kept free of the array's moves and drops.
    if lookup.retired.is_some() || lookup.replaced.is_some() || lookup.evicted.is_some() {
        let now = Moment::at(clock, packet.frame);
        let ended = [
            lookup.retired.map(|(old, at)| (old, Moment::at(at, 0))),
            lookup.replaced.map(|old| (old, now)),
            lookup.evicted.map(|old| (old, now)),
        ];
        for (old, when) in ended.into_iter().flatten() {
            done.extend(finish(old.state, when, diagnose, counters, kept));
        }
    }
    let flow = lookup.flow?;
    if lookup.is_new {
        counters.tcp_conversations += 1;
        if let Some(c) = created {
            c.created.push(packet.frame);
        }
        flow.state.conn.tcp_stream = flow.tcp_stream;
        if flow.roles == RoleEvidence::Port && hello_from_server(seg) {
            flow.swap_roles(RoleEvidence::ClientHello);
        }
        if flow.roles == RoleEvidence::Port && tls::record::starts_hello(seg.payload, false) {
            flow.roles = RoleEvidence::ClientHello;
        }
        flow.state
            .conn
            .set_roles(flow.client, flow.server, flow.roles);
        // No SYN: the capture joined the connection late, so records may be cut.
        if !seg.flags.syn && !tls::record::starts_hello(seg.payload, false) {
            flow.state.decoders.client.joined_mid_stream();
            flow.state.decoders.server.joined_mid_stream();
        }
    }
    Some(flow)
}

/// Records a FIN, after the segment's own bytes.
fn fin_control(
    state: &mut State,
    side: Side,
    seg: &Segment<'_>,
    frame: u64,
    ts: crate::capture::Timestamp,
) {
    let conn = &mut state.conn;
    if seg.flags.fin {
        conn.fin(side, frame, ts);
        let fin_seq = seg
            .data_seq()
            .wrapping_add(seg.payload.len() as u32 + seg.missing);
        state.streams.get_mut(side).fin(fin_seq);
    }
}

fn count_placement(
    conn: &mut Connection,
    side: Side,
    frame: u64,
    ts: crate::capture::Timestamp,
    placement: Placement,
) {
    use Placement as P;
    match placement {
        P::Retransmission => {
            *conn.tcp.retransmissions.get_mut(side) += 1;
            *conn.facts.last_retransmission.get_mut(side) = Some((frame, ts));
        }
        P::OutOfOrder => conn.tcp.out_of_order += 1,
        P::Dropped => conn.tcp.dropped_segments += 1,
        P::InOrder | P::Overlap => {}
    }
}

/// Runs the decoder of `side` over its newly reassembled bytes and records the events.
fn decode_side(state: &mut State, side: Side, events: &mut Vec<Located>) {
    let stream = state.streams.get_mut(side);
    if stream.data().is_empty() {
        return;
    }
    events.clear();
    let used = state
        .decoders
        .get_mut(side)
        .feed(stream.data(), |at| stream.origin_of(at), events);
    stream.consume(used);
    for located in events.drain(..) {
        state.conn.tls_event(side, located);
    }
    if state.conn.speaks_tls13() {
        state.decoders.get_mut(side.peer()).set_tls13();
    }
}

/// The client sends its SYN again on a connection reset before any data (a retry with the
/// same sequence number, as after a challenge ACK): what follows is judged as this attempt,
/// the reset one kept in its record.
fn restart(state: &mut State, options: &Options, frame: u64) {
    state.conn.new_attempt(frame);
    state.streams = PerSide {
        client: Reassembler::new(options.reassembly),
        server: Reassembler::new(options.reassembly),
    };
    state.decoders = PerSide {
        client: Decoder::new(false, options.tls),
        server: Decoder::new(true, options.tls),
    };
    state.settled = false;
    state.scheduled = false;
}

/// The bytes of `side` not yet decoded end where the snaplen cut the segment.
fn cut_side(state: &mut State, side: Side, events: &mut Vec<Located>) {
    let stream = state.streams.get_mut(side);
    events.clear();
    let decoder = state.decoders.get_mut(side);
    decoder.cut(stream.data(), |at| stream.origin_of(at), events);
    for located in events.drain(..) {
        state.conn.tls_event(side, located);
    }
}

/// Whether a closed connection can be reported before it retires: not when it was reset before
/// any data, since its client may send the same SYN again (`restart`).
fn over(conn: &Connection) -> bool {
    closed(conn) && !conn.reset_before_data()
}

/// Whether the TCP connection is over: reset, or closed both ways.
fn closed(conn: &Connection) -> bool {
    let f = &conn.facts;
    f.rst.client.is_some()
        || f.rst.server.is_some()
        || (f.fin.client.is_some() && f.fin.server.is_some())
}

/// Adds a packet to the connection's recent packets, when they are kept and it is not yet
/// reported, within its bounds and the budget of all.
fn keep(
    state: &mut State,
    packet: &Packet<'_>,
    options: &Options,
    kept_bytes: &mut usize,
    counters: &mut PacketCounters,
) {
    let Some(limits) = &options.keep_packets else {
        return;
    };
    if state.reported {
        return;
    }
    let len = packet.data.len();
    if *kept_bytes + len > limits.total_bytes || len > limits.bytes_per_connection {
        counters.packets_not_kept += 1;
        return;
    }
    while state.ring.len() >= limits.packets_per_connection
        || state.ring_bytes + len > limits.bytes_per_connection
    {
        let Some(old) = state.ring.pop_front() else {
            break;
        };
        state.ring_bytes -= old.data.len();
        *kept_bytes -= old.data.len();
    }
    state.ring.push_back(SavedPacket {
        frame: packet.frame,
        ts: packet.ts,
        data: packet.data.to_vec(),
        orig_len: packet.orig_len,
    });
    state.ring_bytes += len;
    *kept_bytes += len;
}

/// Judges a connection that stays in the table (live input), and hands over its kept
/// packets when it failed.
fn report_now(
    state: &mut State,
    at: Moment,
    diagnose_options: &DiagnoseOptions,
    counters: &mut PacketCounters,
    kept_bytes: &mut usize,
) -> Finished {
    judge_state(state, diagnose_options, counters);
    state.reported = true;
    let packets = take_ring(state, kept_bytes);
    // What stays is only what tells when the connection is over: the reported record goes
    // out whole, and the table keeps a few hundred bytes per connection.
    let f = &state.conn.facts;
    let facts = Facts {
        start_ts: f.start_ts,
        last_ts: f.last_ts,
        fin: f.fin.clone(),
        rst: f.rst.clone(),
        ..Facts::default()
    };
    let slim = Connection {
        tcp_stream: state.conn.tcp_stream,
        facts,
        ..Connection::default()
    };
    let conn = std::mem::replace(&mut state.conn, Box::new(slim));
    state.settled = true;
    state.streams = PerSide::default();
    state.streams.client.stop();
    state.streams.server.stop();
    let order = ReportOrder {
        at,
        first_frame: conn.first_frame,
    };
    Finished {
        conn,
        packets,
        order,
    }
}

/// The kept packets of a failed connection; those of any other are dropped.
fn take_ring(state: &mut State, kept_bytes: &mut usize) -> Vec<SavedPacket> {
    *kept_bytes -= state.ring_bytes;
    state.ring_bytes = 0;
    let ring = std::mem::take(&mut state.ring);
    if state.conn.verdict.outcome == Outcome::Failed {
        ring.into()
    } else {
        Vec::new()
    }
}

/// Judges a connection leaving the table, taking its state; nothing when it was reported
/// already.
fn finish(
    mut state: State,
    at: Moment,
    diagnose_options: &DiagnoseOptions,
    counters: &mut PacketCounters,
    kept_bytes: &mut usize,
) -> Option<Finished> {
    if state.reported {
        return None;
    }
    judge_state(&mut state, diagnose_options, counters);
    let packets = take_ring(&mut state, kept_bytes);
    let first_frame = state.conn.first_frame;
    Some(Finished {
        conn: state.conn,
        packets,
        order: ReportOrder { at, first_frame },
    })
}

/// Flushes what the capture left behind and judges the connection; adds what its limits
/// cost to the run's counters.
fn judge_state(
    state: &mut State,
    diagnose_options: &DiagnoseOptions,
    counters: &mut PacketCounters,
) {
    if !state.settled {
        for side in [Side::Client, Side::Server] {
            let (frame, ts) = (state.conn.last_frame, state.conn.facts.last_ts);
            if let Some(gap) = state.streams.get_mut(side).flush(frame, ts) {
                state.conn.gap(side, &gap);
                state.decoders.get_mut(side).lose_sync();
            }
            let mut events = Vec::new();
            decode_side(state, side, &mut events);
        }
    }
    for side in [Side::Client, Side::Server] {
        let stream = &state.streams.get_mut(side).counters;
        if let Some((frame, bound)) = stream.first_drop {
            let limit = Limit::Reassembly(bound);
            state.conn.limit_reached(LimitHit { frame, side, limit });
        }
        counters.segments_over_buffer_limit += stream.over_buffer;
        counters.segments_over_out_of_order_limit += stream.over_out_of_order;
        let tls = &state.decoders.get_mut(side).counters;
        counters.handshake_messages_over_limit += tls.messages_over_limit;
        counters.certificates_over_limit += tls.certificates_over_limit;
    }
    state.conn.facts.client_unacked = state.streams.client.unacked();
    state.conn.close_duration();
    state.conn.close_tls13_pending();
    let judgement = diagnose::judge(&state.conn, diagnose_options);
    state.conn.verdict = judgement.verdict;
    state.conn.diagnosis = judgement.diagnosis;
    state.conn.warnings = judgement.warnings;
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
