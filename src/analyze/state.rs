//! One connection's state in the table, and the steps a packet takes through it: TCP
//! control, reassembly, TLS decoding, the record, and the judgement when it ends.

use super::{Finished, Moment, Options, PacketCounters, ReportOrder, Run, SavedPacket, take_ring};
use crate::capture::{Packet, Timestamp};
use crate::connection::{Connection, Facts, Limit, LimitHit};
use crate::connection::{Decryption, Seen};
use crate::diagnose::{self, DiagnoseOptions};
use crate::flow::{Endpoint, Flow, FlowTable, PerSide, Placement, Reassembler, RoleEvidence, Side};
use crate::net::{self, Segment};
use crate::tls::session::{Held, Session};
use crate::tls::{self, Decoder, Located};
use std::collections::VecDeque;

/// Per-connection state: the record, and the two directions' reassembly and decoding.
pub(super) struct State {
    /// Boxed: the record goes out whole when the connection is judged, so it moves as a
    /// pointer, not as a couple of kilobytes through every step to the report.
    pub(super) conn: Box<Connection>,
    pub(super) streams: PerSide<Reassembler>,
    pub(super) decoders: PerSide<Decoder>,
    pub(super) settled: bool,
    /// Already reported (live): later packets are followed but not reported again.
    pub(super) reported: bool,
    /// Recent packets, when kept.
    pub(super) ring: VecDeque<SavedPacket>,
    pub(super) ring_bytes: usize,
    /// The capture clock at the connection's last packet.
    pub(super) last_clock: Timestamp,
    /// Handed to the table's schedule of retirements (once closed).
    pub(super) scheduled: bool,
    /// With a key log: the connection's keys and transcript, which both decoders use.
    pub(super) session: Option<Box<Session>>,
}

/// A connection to put on the table's schedule of retirements: its endpoints, its stream, and
/// when it is due.
pub(super) type ScheduleRequest = (Endpoint, Endpoint, u64, Timestamp);

/// A connection that has just become due to retire (closed), to be scheduled once.
pub(super) fn schedule_request(flow: &mut Flow<State>, linger: f64) -> Option<ScheduleRequest> {
    if flow.state.scheduled {
        return None;
    }
    let at = due(&flow.state, linger)?;
    flow.state.scheduled = true;
    Some((flow.client, flow.server, flow.tcp_stream, at))
}

/// When a connection is due to leave the table: `linger` seconds of capture clock after its
/// last packet, once it is closed.
pub(super) fn due(state: &State, linger: f64) -> Option<Timestamp> {
    closed(&state.conn).then(|| state.last_clock.after(linger))
}

/// TLS connections, and connections to a TLS port that never carried TLS.
pub(super) fn reportable(c: &Connection, tls_ports: &[u16]) -> bool {
    c.facts.saw_tls || c.server.is_some_and(|s| tls_ports.contains(&s.port))
}

/// A ServerHello in the first payload of a flow whose roles were guessed from ports.
pub(super) fn hello_from_server(seg: &Segment<'_>) -> bool {
    tls::record::starts_hello(seg.payload, true)
}

pub(super) fn tcp_control(state: &mut State, side: Side, seg: &Segment<'_>, packet: &Packet<'_>) {
    let (conn, frame, ts) = (&mut state.conn, packet.frame, packet.ts);
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
/// through a struct update, which would copy the whole record once more.
/// A reassembled datagram brings its layers (`reassembled`).
pub(super) fn new_connection(
    packet: &Packet<'_>,
    seg: &Segment<'_>,
    reassembled: Option<&[net::Layer]>,
    options: &Options,
) -> Box<Connection> {
    let mut conn = Box::new(Connection::new(0, packet.frame, packet.ts));
    if options.keylog.is_some() {
        conn.decryption = Decryption::NoKeys;
    }
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
/// evicted) are judged into the run's `done`. `None` for a straggler of a retired
/// conversation. A free function, not a method: the flow it returns borrows the table while
/// the caller goes on using the analyzer's other fields.
pub(super) fn open<'t>(
    table: &'t mut FlowTable<State>,
    packet: &Packet<'_>,
    seg: &Segment<'_>,
    reassembled: Option<&[net::Layer]>,
    clock: Timestamp,
    options: &Options,
    run: &mut Run,
) -> Option<&'t mut Flow<State>> {
    let Run {
        counters,
        kept_bytes: kept,
        done,
        created,
        ..
    } = run;
    let linger = options.linger;
    let lookup = table.lookup(
        seg,
        clock,
        |s| due(s, linger),
        || State {
            // Its tcp.stream is known once the table has taken it (below).
            conn: new_connection(packet, seg, reassembled, options),
            streams: streams(options),
            decoders: decoders(options),
            settled: false,
            reported: false,
            ring: VecDeque::new(),
            ring_bytes: 0,
            last_clock: clock,
            scheduled: false,
            session: session(options),
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
pub(super) fn fin_control(state: &mut State, side: Side, seg: &Segment<'_>, packet: &Packet<'_>) {
    let (conn, frame, ts) = (&mut state.conn, packet.frame, packet.ts);
    if seg.flags.fin {
        conn.fin(side, frame, ts);
        let fin_seq = seg
            .data_seq()
            .wrapping_add(seg.payload.len() as u32 + seg.missing);
        state.streams.get_mut(side).fin(fin_seq);
    }
}

pub(super) fn count_placement(
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
            *conn.facts.last_retransmission.get_mut(side) = Some(Seen { frame, ts });
        }
        P::OutOfOrder => conn.tcp.out_of_order += 1,
        P::Dropped => conn.tcp.dropped_segments += 1,
        P::InOrder | P::Overlap => {}
    }
}

/// Runs the decoder of `side` over its newly reassembled bytes and records the events.
pub(super) fn decode_side(state: &mut State, side: Side, events: &mut Vec<Located>) {
    let stream = state.streams.get_mut(side);
    if stream.data().is_empty() {
        return;
    }
    events.clear();
    let decoder = state.decoders.get_mut(side);
    let origin = |at| stream.origin_of(at);
    let used = decoder.feed_decrypting(stream.data(), origin, events, &mut state.session);
    stream.consume(used);
    if let Some(session) = &state.session {
        state.conn.decryption = session.status();
    }
    for Located { event, frame, ts } in events.drain(..) {
        state.conn.tls_event(side, event, frame, ts);
    }
    if state.conn.speaks_tls13() {
        state.decoders.get_mut(side.peer()).set_tls13();
    }
}

/// Each direction's reassembly, empty: a new connection's, or a retried attempt's.
#[inline]
fn streams(options: &Options) -> PerSide<Reassembler> {
    PerSide {
        client: Reassembler::new(options.reassembly),
        server: Reassembler::new(options.reassembly),
    }
}

/// A connection's decryption, when a key log was given.
fn session(options: &Options) -> Option<Box<Session>> {
    let keylog = options.keylog.as_ref()?;
    Some(Box::new(Session::new(keylog.clone())))
}

/// Seconds a live report waits for keys a followed key log does not have yet: clients write
/// them as they read the server's flight, some (Chromium) from another thread, a little
/// after the records the capture already holds.
pub(super) const KEY_WAIT: f64 = 2.0;

/// Live: holds back a report due now while the connection waits for its keys (at most
/// `KEY_WAIT` from `clock`, the first time it fell due; `Analyzer::sweep_keys` ends the
/// wait); whether it did.
#[cold]
#[inline(never)]
pub(super) fn defer_report(state: &mut State, clock: Timestamp) -> bool {
    match state.session.as_mut() {
        Some(session) if session.awaiting() => {
            session.report_due(clock);
            true
        }
        _ => false,
    }
}

/// Whether the connection's session waits for keys a followed key log may still bring.
#[inline]
pub(super) fn awaiting_keys(state: &State) -> bool {
    state.session.as_ref().is_some_and(|s| s.awaiting())
}

/// A connection waiting for its keys looks in the key log again; once they are there, what
/// its session held is read now, in order, as it would have been when it came. With
/// `give_up`, this is its last look: what it held is read with the keys there are.
#[cold]
#[inline(never)]
pub(super) fn look_for_keys(state: &mut State, give_up: bool) {
    loop {
        let Some(session) = state.session.as_mut() else {
            return;
        };
        let held = match session.keys_came() {
            Some(held) => Some(held),
            None if give_up => session.give_up(),
            None => None,
        };
        match held {
            Some(held) => replay(state, held),
            None => break,
        }
        // A record read again may start a wait of its own (for application keys): given up
        // too, when this is the last look.
        if !give_up || !awaiting_keys(state) {
            break;
        }
    }
    if let Some(session) = state.session.as_ref() {
        state.conn.decryption = session.status();
    }
}

/// Reads again, in order, what a waiting session held: records through their side's
/// decoder, their content told in their places on the ladder.
fn replay(state: &mut State, held: Vec<Held>) {
    let mut events = Vec::new();
    state.conn.replay(true);
    for item in held {
        match item {
            Held::Record(record) => {
                let side = if record.server {
                    Side::Server
                } else {
                    Side::Client
                };
                let decoder = state.decoders.get_mut(side);
                decoder.replay_record(&record, &mut state.session, &mut events);
                let told = events.iter().any(|e| {
                    matches!(&e.event, tls::Event::Decrypted(d)
                        if !matches!(d, tls::Decrypted::Finished { .. }))
                });
                state
                    .conn
                    .replay_record(side, record.frame, record.body.len(), told);
                for Located { event, frame, ts } in events.drain(..) {
                    state.conn.tls_event(side, event, frame, ts);
                }
                state.conn.record_replayed();
            }
            other => {
                if let Some(session) = state.session.as_mut() {
                    session.replay(other);
                }
            }
        }
    }
    state.conn.replay(false);
}

/// Each direction's TLS decoder, at the start of its stream.
#[inline]
fn decoders(options: &Options) -> PerSide<Decoder> {
    PerSide {
        client: Decoder::new(false, options.tls),
        server: Decoder::new(true, options.tls),
    }
}

/// The client sends its SYN again on a connection reset before any data (a retry with the
/// same sequence number, as after a challenge ACK): what follows is judged as this attempt,
/// the reset one kept in its record.
pub(super) fn restart(state: &mut State, options: &Options, frame: u64) {
    state.conn.new_attempt(frame);
    state.streams = streams(options);
    state.decoders = decoders(options);
    state.session = session(options);
    state.settled = false;
    state.scheduled = false;
}

/// A segment's payload through reassembly and TLS decoding: the bytes the snaplen cut and
/// the bytes the peer acknowledged but the capture lacks become holes, and each side's bytes
/// in order are decoded.
#[inline]
pub(super) fn read_payload(
    state: &mut State,
    side: Side,
    seg: &Segment<'_>,
    frame: u64,
    ts: Timestamp,
    events: &mut Vec<Located>,
) {
    let placement = state
        .streams
        .get_mut(side)
        .segment(seg.data_seq(), seg.payload, frame, ts);
    count_placement(&mut state.conn, side, frame, ts, placement);
    if seg.missing > 0 && matches!(placement, Placement::InOrder | Placement::Overlap) {
        // The snaplen cut the rest of this segment: the records wholly captured are read,
        // a handshake record the cut ended is told, and the stream resumes after the hole.
        decode_side(state, side, events);
        cut_side(state, side, events);
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
        decode_side(state, s, events);
    }
}

/// Live input: the connection is judged now, by the packet `frame` at `clock`, and its verdict
/// queued for the report.
pub(super) fn report_early(
    state: &mut State,
    clock: Timestamp,
    frame: u64,
    options: &Options,
    run: &mut Run,
) {
    let (counters, kept) = (&mut run.counters, &mut run.kept_bytes);
    let now = Moment::at(clock, frame);
    let finished = report_now(state, now, &options.diagnose, counters, kept);
    run.done.push(finished);
}

/// Live input: the connection is judged now (`report_early`), unless its report waits for
/// its keys (`defer_report`; `Analyzer::sweep_keys` reports it then).
pub(super) fn report_unless_waiting(
    state: &mut State,
    clock: Timestamp,
    frame: u64,
    options: &Options,
    run: &mut Run,
) {
    if defer_report(state, clock) {
        run.reports_deferred = true;
    } else {
        report_early(state, clock, frame, options, run);
    }
}

/// The bytes of `side` not yet decoded end where the snaplen cut the segment.
pub(super) fn cut_side(state: &mut State, side: Side, events: &mut Vec<Located>) {
    let stream = state.streams.get_mut(side);
    events.clear();
    let decoder = state.decoders.get_mut(side);
    decoder.cut(stream.data(), |at| stream.origin_of(at), events);
    for Located { event, frame, ts } in events.drain(..) {
        state.conn.tls_event(side, event, frame, ts);
    }
}

/// Whether a closed connection can be reported before it retires: not when it was reset before
/// any data, since its client may send the same SYN again (`restart`).
pub(super) fn over(conn: &Connection) -> bool {
    closed(conn) && !conn.reset_before_data()
}

/// Whether the TCP connection is over: reset, or closed both ways.
pub(super) fn closed(conn: &Connection) -> bool {
    let f = &conn.facts;
    f.rst.client.is_some()
        || f.rst.server.is_some()
        || (f.fin.client.is_some() && f.fin.server.is_some())
}

/// Judges a connection that stays in the table (live input), and hands over its kept
/// packets when it failed.
pub(super) fn report_now(
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

/// Judges a connection leaving the table, taking its state; nothing when it was reported
/// already.
pub(super) fn finish(
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
pub(super) fn judge_state(
    state: &mut State,
    diagnose_options: &DiagnoseOptions,
    counters: &mut PacketCounters,
) {
    if awaiting_keys(state) {
        look_for_keys(state, true);
    }
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
        if awaiting_keys(state) {
            look_for_keys(state, true);
        }
    }
    if state.session.as_ref().is_some_and(|s| s.wait_unmet()) {
        counters.key_waits_unmet += 1;
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
    state.conn.fingerprint();
    let judgement = diagnose::judge(&state.conn, diagnose_options);
    state.conn.verdict = judgement.verdict;
    state.conn.diagnosis = judgement.diagnosis;
    state.conn.warnings = judgement.warnings;
}
