//! Live input's recent packets per connection, kept to save a failure's for Wireshark.

use super::{Options, PacketCounters, State};
use crate::capture::{LinkType, Packet, Timestamp};
use crate::connection::Outcome;

/// One packet kept for saving, with the frame number it had.
#[derive(Clone, Debug)]
pub struct SavedPacket {
    pub frame: u64,
    pub(crate) ts: Timestamp,
    pub(crate) data: Vec<u8>,
    pub(crate) orig_len: u32,
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

/// The kept packets of a failed connection; those of any other are dropped.
pub(super) fn take_ring(state: &mut State, kept_bytes: &mut usize) -> Vec<SavedPacket> {
    *kept_bytes -= state.ring_bytes;
    state.ring_bytes = 0;
    let ring = std::mem::take(&mut state.ring);
    if state.conn.verdict.outcome == Outcome::Failed {
        ring.into()
    } else {
        Vec::new()
    }
}
