//! Each open connection's recent packets, kept to save a failure's for Wireshark: live
//! input's `--save-failures`, and `analyze --write-failures`.

use super::{Options, PacketCounters, State};
use crate::capture::{LinkType, Packet, Timestamp};
use crate::connection::Outcome;
use std::collections::VecDeque;

/// One packet kept for saving, with the frame number and link type it had.
#[derive(Clone, Debug)]
pub struct SavedPacket {
    pub frame: u64,
    pub(crate) ts: Timestamp,
    pub(crate) link: LinkType,
    pub(crate) data: Vec<u8>,
    pub(crate) orig_len: u32,
}

impl SavedPacket {
    pub fn packet(&self) -> Packet<'_> {
        Packet {
            frame: self.frame,
            ts: self.ts,
            link: self.link,
            data: &self.data,
            orig_len: self.orig_len,
        }
    }
}

/// Adds a packet to the connection's recent packets, when they are kept and it is not yet
/// reported, within its bounds and the budget of all.
pub(super) fn keep(
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
    if state.conn.established_for_good() {
        // Its packets will never be saved: the budget goes to those that may be.
        release(state, kept_bytes);
        return;
    }
    if state.settled && state.conn.start_unseen() {
        // Joined after its start and judged already as far as it can be (capture_started_late):
        // the packets that showed it are kept, not the data that follows (every long connection
        // open when the capture began would fill its ring and the budget with it).
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
        link: packet.link,
        data: packet.data.to_vec(),
        orig_len: packet.orig_len,
    });
    state.ring_bytes += len;
    *kept_bytes += len;
}

/// The kept packets of a connection that did not establish (failed or incomplete); those of
/// any other are dropped.
pub(super) fn take_ring(state: &mut State, kept_bytes: &mut usize) -> Vec<SavedPacket> {
    // Nothing kept (packets are kept only when asked for): the common case, at once.
    if state.ring.is_empty() {
        return Vec::new();
    }
    let ring = release(state, kept_bytes);
    match state.conn.verdict.outcome {
        Outcome::Failed | Outcome::Incomplete => ring.into(),
        Outcome::Established | Outcome::NotTls => Vec::new(),
    }
}

/// Takes the connection's kept packets out of the budget.
fn release(state: &mut State, kept_bytes: &mut usize) -> VecDeque<SavedPacket> {
    *kept_bytes -= state.ring_bytes;
    state.ring_bytes = 0;
    std::mem::take(&mut state.ring)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::{Analyzer, Finished, PacketRingLimits};
    use crate::capture::read_capture;

    fn run(file: &[u8], limits: PacketRingLimits) -> (Vec<Finished>, PacketCounters) {
        let options = Options {
            keep_packets: Some(limits),
            ..Options::default()
        };
        let mut analyzer = Analyzer::new(options);
        let (_, result) = read_capture(file, |p| analyzer.packet(p));
        assert!(result.is_ok());
        let mut all = Vec::new();
        let counters = analyzer.finish_each_with_packets(|f| all.push(f));
        (all, counters)
    }

    #[test]
    fn a_failures_packets_stay_within_the_budget_and_the_rest_are_counted() {
        let file: &[u8] = include_bytes!("../../captures/cert-expired.pcap");
        let (all, counters) = run(file, PacketRingLimits::default());
        assert_eq!((all.len(), all[0].packets.len()), (1, 11));
        assert_eq!(counters.packets_not_kept, 0);

        let budget = PacketRingLimits {
            total_bytes: 1000,
            ..PacketRingLimits::default()
        };
        let (cut, counters) = run(file, budget);
        let kept = &cut[0].packets;
        assert!(kept.iter().map(|p| p.data.len()).sum::<usize>() <= 1000);
        assert!(counters.packets_not_kept > 0);
        assert_eq!(kept.len() as u64 + counters.packets_not_kept, 11);
    }

    /// A download's data never takes from the budget: its packets are let go as soon as it
    /// has established (only the handshake's were held).
    #[test]
    fn an_established_connection_lets_its_packets_go() {
        let file: &[u8] = include_bytes!("../../captures/download.pcap");
        let budget = PacketRingLimits {
            packets_per_connection: 1000,
            bytes_per_connection: 1 << 20,
            total_bytes: 16 << 10,
        };
        let (all, counters) = run(file, budget);
        assert_eq!(all[0].conn.verdict.outcome, Outcome::Established);
        assert!(all.iter().all(|f| f.packets.is_empty()));
        assert_eq!(counters.packets_not_kept, 0);
    }

    /// A connection the capture joined after its start keeps the packets that showed it, not
    /// the data after them: every long connection open when a capture began would otherwise
    /// fill its ring, and the budget, with it.
    #[test]
    fn a_connection_joined_late_keeps_the_packets_until_that_is_known() {
        let file: &[u8] = include_bytes!("../../captures/joined-download.pcap");
        let (all, _) = run(file, PacketRingLimits::default());
        let conn = &all[0].conn;
        assert_eq!(conn.verdict.outcome, Outcome::Incomplete);
        let frames: Vec<u64> = all[0].packets.iter().map(|p| p.frame).collect();
        let total = conn.tcp.packets.client + conn.tcp.packets.server;
        assert!((frames.len() as u64) < total, "{frames:?} of {total}");
        assert_eq!(frames.first(), Some(&conn.verdict.frame));
    }
}
