//! Where packets come from: one `Packet` per captured frame, whatever the source.
//!
//! File and live input hand the same `Packet` to the same pipeline, so a fix downstream
//! serves both. A packet borrows its bytes from the reader's buffer: nothing is copied.

mod file;
#[cfg(feature = "live")]
pub mod live;
mod write;

pub use file::{
    CaptureError, CaptureFormat, FileStats, MAX_INTERFACES, decryption_secrets, read_capture,
    read_capture_shared,
};
pub use write::PcapWriter;
pub(crate) use write::{PcapNgWriter, packet_block};

use std::fmt;
use std::sync::Arc;

/// Where a packet's bytes lie in a chunk of the file that the reader hands on whole: another
/// thread may keep the chunk instead of copying the packet.
#[derive(Clone, Copy, Debug)]
pub struct Shared<'a> {
    pub(crate) chunk: &'a Arc<Vec<u8>>,
    /// The packet's first byte in the chunk.
    pub(crate) start: usize,
}

/// A capture timestamp: seconds since the Unix epoch and nanoseconds within the second.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Timestamp {
    pub secs: i64,
    pub nanos: u32,
}

/// Ordered as (secs, nanos). Written out because the per-packet path compares timestamps a
/// few times a packet, and the derived `partial_cmp` builds an `Ordering` for each test.
impl Ord for Timestamp {
    #[inline]
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.secs
            .cmp(&other.secs)
            .then(self.nanos.cmp(&other.nanos))
    }
}

impl PartialOrd for Timestamp {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
    #[inline]
    fn lt(&self, other: &Self) -> bool {
        self.secs < other.secs || (self.secs == other.secs && self.nanos < other.nanos)
    }
    #[inline]
    fn le(&self, other: &Self) -> bool {
        self.secs < other.secs || (self.secs == other.secs && self.nanos <= other.nanos)
    }
    #[inline]
    fn gt(&self, other: &Self) -> bool {
        other.lt(self)
    }
    #[inline]
    fn ge(&self, other: &Self) -> bool {
        other.le(self)
    }
}

impl Timestamp {
    pub fn new(secs: i64, nanos: u32) -> Self {
        // Every timestamp of a pcap record and of the capture clock: no division per packet.
        if nanos < 1_000_000_000 {
            return Timestamp { secs, nanos };
        }
        // Normalise so that comparisons and differences stay meaningful on odd inputs.
        let extra = i64::from(nanos / 1_000_000_000);
        Timestamp {
            secs: secs.saturating_add(extra),
            nanos: nanos % 1_000_000_000,
        }
    }

    /// Seconds elapsed from `earlier` to `self` (negative when the clock went backwards).
    pub fn seconds_since(self, earlier: Timestamp) -> f64 {
        let secs = self.secs.saturating_sub(earlier.secs) as f64;
        secs + (f64::from(self.nanos) - f64::from(earlier.nanos)) / 1e9
    }

    /// The time `secs` seconds later; a negative or non-finite span counts as none.
    pub fn after(self, secs: f64) -> Timestamp {
        let secs = if secs.is_finite() && secs > 0.0 {
            secs
        } else {
            0.0
        };
        let whole = secs.trunc();
        let nanos = ((secs - whole) * 1e9) as u32;
        Timestamp::new(self.secs.saturating_add(whole as i64), self.nanos + nanos)
    }

    /// RFC 3339 in UTC with microseconds, as the JSON contract promises.
    pub(crate) fn rfc3339(self) -> String {
        let micros = self.nanos / 1_000;
        match time::OffsetDateTime::from_unix_timestamp(self.secs) {
            Ok(t) => format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
                micros
            ),
            Err(_) => format!("{}.{:06}", self.secs, micros),
        }
    }
}

/// The clock connections age by: capture time, except that a step forward counts for at
/// most a minute and a step back for nothing. Broken timestamps (a merge gone wrong, a
/// clock stepped during the capture) then cannot age every connection at once, and a
/// straggler after a quiet spell is still known as its connection's, as Wireshark knows it.
/// It is a function of the packets' timestamps in file order alone, so every thread of a
/// split analysis can be handed the same clock.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CaptureClock {
    /// The latest timestamp seen, and the clock's reading.
    latest: Option<Timestamp>,
    now: Timestamp,
}

impl CaptureClock {
    /// The largest step forward one packet moves the clock, in nanoseconds: a minute.
    pub(crate) const MAX_STEP_NANOS: i64 = 60_000_000_000;

    /// Moves the clock on to a packet stamped `ts` and returns it. (Plain 64-bit arithmetic:
    /// this runs for every packet.)
    pub(crate) fn tick(&mut self, ts: Timestamp) -> Timestamp {
        match self.latest {
            None => {
                self.latest = Some(ts);
                self.now = ts;
            }
            Some(latest) if ts > latest => {
                const NANOS: i64 = 1_000_000_000;
                let secs = ts.secs.saturating_sub(latest.secs);
                let step = if secs > Self::MAX_STEP_NANOS / NANOS {
                    Self::MAX_STEP_NANOS
                } else {
                    let frac = i64::from(ts.nanos) - i64::from(latest.nanos);
                    (secs * NANOS + frac).min(Self::MAX_STEP_NANOS)
                };
                if self.now == latest && step < Self::MAX_STEP_NANOS {
                    // The clock has followed time exactly so far: it moves to `ts` itself.
                    self.now = ts;
                } else {
                    let nanos = i64::from(self.now.nanos) + step % NANOS;
                    let secs = self.now.secs.saturating_add(step / NANOS);
                    self.now = Timestamp::new(secs, u32::try_from(nanos).unwrap_or(0));
                }
                self.latest = Some(ts);
            }
            Some(_) => {}
        }
        self.now
    }
}

#[cfg(test)]
mod clock_tests {
    use super::*;

    /// The hand-written order is the (secs, nanos) order a derive would give.
    #[test]
    fn timestamps_order_as_seconds_then_nanoseconds() {
        let values = [i64::MIN, -1, 0, 1, i64::MAX];
        let nanos = [0, 1, 999_999_999];
        let all: Vec<Timestamp> = values
            .iter()
            .flat_map(|&secs| nanos.iter().map(move |&nanos| Timestamp { secs, nanos }))
            .collect();
        for a in &all {
            for b in &all {
                let expected = (a.secs, a.nanos).cmp(&(b.secs, b.nanos));
                assert_eq!(a.cmp(b), expected);
                assert_eq!(a.partial_cmp(b), Some(expected));
                assert_eq!(a < b, expected.is_lt());
                assert_eq!(a <= b, expected.is_le());
                assert_eq!(a > b, expected.is_gt());
                assert_eq!(a >= b, expected.is_ge());
            }
        }
    }

    #[test]
    fn the_capture_clock_follows_time_but_not_its_jumps() {
        let mut c = CaptureClock::default();
        let t = |secs: i64, nanos| Timestamp::new(1_700_000_000 + secs, nanos);
        assert_eq!(c.tick(t(0, 500)), t(0, 500));
        assert_eq!(c.tick(t(1, 0)), t(1, 0));
        // Back an hour: no move; and the return is no step either.
        assert_eq!(c.tick(t(-3600, 0)), t(1, 0));
        assert_eq!(c.tick(t(1, 250)), t(1, 250));
        // Thirty years ahead counts for a minute; what follows moves from there.
        assert_eq!(c.tick(t(30 * 365 * 86_400, 0)), t(61, 250));
        assert_eq!(c.tick(t(30 * 365 * 86_400 + 2, 999_999_999)), t(64, 249));
        assert_eq!(c.tick(t(5, 0)), t(64, 249));
    }
}

/// For serde's `serialize_with`: a timestamp as its RFC 3339 text.
pub(crate) fn serialize_rfc3339<S: serde::Serializer>(
    ts: &Timestamp,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_str(ts)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

/// A link-layer type as the pcap LINKTYPE_ registry numbers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkType(pub u32);

impl LinkType {
    pub(crate) const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    pub(crate) const RAW: LinkType = LinkType(101);
    pub(crate) const LOOP: LinkType = LinkType(108);
    pub(crate) const LINUX_SLL: LinkType = LinkType(113);
    pub(crate) const IPV4: LinkType = LinkType(228);
    pub(crate) const IPV6: LinkType = LinkType(229);
    pub(crate) const LINUX_SLL2: LinkType = LinkType(276);
    /// OpenBSD's DLT_RAW number, which some files carry as their link type.
    pub(crate) const RAW_OPENBSD: LinkType = LinkType(14);

    pub fn name(self) -> String {
        let known = match self {
            LinkType::NULL => "NULL",
            LinkType::ETHERNET => "ETHERNET",
            LinkType::RAW | LinkType::RAW_OPENBSD => "RAW",
            LinkType::LOOP => "LOOP",
            LinkType::LINUX_SLL => "LINUX_SLL",
            LinkType::IPV4 => "IPV4",
            LinkType::IPV6 => "IPV6",
            LinkType::LINUX_SLL2 => "LINUX_SLL2",
            LinkType(105) => "IEEE802_11",
            LinkType(127) => "IEEE802_11_RADIOTAP",
            LinkType(n @ 147..=162) => return format!("USER{}", n - 147),
            LinkType(220) => "USB_LINUX_MMAPPED",
            _ => return format!("LINKTYPE_{}", self.0),
        };
        known.to_string()
    }
}

/// One captured frame.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    /// 1-based, counting every packet record of the file, as Wireshark numbers frames.
    pub frame: u64,
    pub ts: Timestamp,
    pub link: LinkType,
    /// The captured bytes (at most the snapshot length).
    pub data: &'a [u8],
    /// The length of the packet on the wire; larger than `data.len()` when the snaplen cut it.
    pub orig_len: u32,
}
