//! The order of a report: by the moment each connection was judged, then its first frame,
//! which any split of the capture across threads reproduces.

use crate::capture::Timestamp;

/// When a connection was judged, in capture time: `End` for those the capture left open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum When {
    At(Timestamp),
    End,
}

/// A moment of the analysis: a capture time, then the frame of the packet that ended a
/// connection at that time (0 for a connection that ended by being due: no packet did it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Moment {
    pub(crate) when: When,
    pub(crate) cause: u64,
}

impl Moment {
    pub(crate) fn at(ts: Timestamp, cause: u64) -> Moment {
        Moment {
            when: When::At(ts),
            cause,
        }
    }

    pub(crate) const START: Moment = Moment {
        when: When::At(Timestamp {
            secs: i64::MIN,
            nanos: 0,
        }),
        cause: 0,
    };
    pub(crate) const END: Moment = Moment {
        when: When::End,
        cause: u64::MAX,
    };
}

/// A judged connection's place in a file's report: by the moment it was judged, then by its
/// first frame (which orders connections as their tcp.stream numbers do). All of it follows
/// from the capture alone, never from when the analyzer happened to look, so that any split
/// of the capture across threads reports in the same order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ReportOrder {
    pub(crate) at: Moment,
    pub(crate) first_frame: u64,
}
