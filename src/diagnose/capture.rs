//! When the capture, not the connection, is what is missing: it started late, holds one
//! direction, ended early, lost segments, or cut packets short. These are `incomplete`, never
//! failures.

use super::words::Why;
use super::{first_close, side_word, silent_side, stage_words};
use crate::connection::{
    Close, Code, Connection, Detail, Diagnosis, EndedBy, EventKind, Evidence, Stage,
};
use crate::flow::Side;
use crate::tls::values::AlertLevel;

/// TLS records but no ClientHello and no SYN: the capture began mid-connection.
pub(crate) fn started_late(conn: &Connection) -> Option<Diagnosis> {
    let f = &conn.facts;
    if !f.saw_tls || !conn.start_unseen() {
        return None;
    }
    let mut d = Diagnosis::new(
        Code::CaptureStartedLate,
        f.stage,
        EndedBy::Unknown,
        conn.first_frame,
    )
    .summary(
        "the capture started after this connection's handshake began: its start is not in the file",
    )
    .evidence(
        conn.first_frame,
        "the first packet of the connection is mid-stream (no SYN, no ClientHello)",
    );
    if let Some(frame) = f.established_at {
        d = d.evidence(
            frame,
            "the end of the handshake is there: both sides sent their Finished",
        );
    }
    Some(d.words(Why::CaptureStartedLate))
}

/// The capture holds one side's packets only (asymmetric routing, or a filter), so what the
/// other side sent is unknown: unless the side seen gave up in the clear (a fatal alert), a
/// close or a silence may answer anything. (A TLS 1.2 server's Finished alone proves the
/// handshake complete, and is judged before this.)
pub(crate) fn one_direction(conn: &Connection) -> Option<Diagnosis> {
    let missing = silent_side(conn)?;
    let seen = missing.peer();
    if conn
        .alerts
        .iter()
        .any(|a| a.from == seen && a.level == Some(AlertLevel::FATAL))
    {
        return None;
    }
    let (seen_word, missing_word) = (side_word(seen), side_word(missing));
    let mut d = Diagnosis::new(
        Code::CaptureOneDirection,
        conn.facts.stage,
        EndedBy::Unknown,
        conn.first_frame,
    )
    .summary(format!(
        "the capture holds only the {seen_word}'s packets, so how the handshake went is not in it"
    ))
    .evidence(
        conn.first_frame,
        format!(
            "the capture holds no packet from the {missing_word}, though the {seen_word}'s \
            show that it took part"
        ),
    );
    if let Some(Close { side, frame, kind }) = first_close(conn) {
        d = d.evidence(frame, format!("{kind} from the {}", side_word(side)));
    }
    Some(d.words(Why::CaptureOneDirection))
}

/// One of tlsdiag's own bounds stopped the reading before anything decided the handshake:
/// what follows is unread, so no verdict is drawn from it.
pub(crate) fn limit_reached(conn: &Connection) -> Option<Diagnosis> {
    let hit = conn.facts.limit?;
    if decided_before(conn, hit.frame, hit.side) {
        return None;
    }
    let words = hit.limit.words();
    Some(
        Diagnosis::new(
            Code::LimitReached,
            conn.facts.stage,
            EndedBy::Unknown,
            hit.frame,
        )
        .summary(format!(
            "tlsdiag stopped reading the {}'s stream at frame {}: {words}",
            side_word(hit.side),
            hit.frame
        ))
        .evidence(
            hit.frame,
            format!("the {}'s stream: {words}", side_word(hit.side)),
        )
        .words(Why::LimitReached),
    )
}

/// The snaplen cut payload that the handshake needed.
pub(crate) fn truncated_packets(conn: &Connection) -> Option<Diagnosis> {
    if conn.tcp.truncated_bytes == 0 {
        return None;
    }
    let gap = conn.gaps.first()?;
    if decided_before(conn, gap.frame, gap.from) {
        return None;
    }
    Some(
        Diagnosis::new(
            Code::TruncatedPackets,
            conn.facts.stage,
            EndedBy::Unknown,
            gap.frame,
        )
        .summary(format!(
            "the capture's snapshot length cut {} bytes of payload, so the handshake cannot be \
            read past frame {}",
            conn.tcp.truncated_bytes, gap.frame
        ))
        .evidence(
            gap.frame,
            format!(
                "a packet from the {} was cut short by the snaplen",
                side_word(gap.from)
            ),
        )
        .words(Why::TruncatedPackets),
    )
}

/// Whether a cleartext alert or a close decided the handshake despite the bytes `side`'s
/// stream lost at `frame`: an alert before the hole, a close by the peer before it, or a fatal
/// alert of the peer after it (read whole from a stream that lost nothing before it, it ends
/// the handshake whatever the hole held). That side's own close comes after all its bytes,
/// the lost ones too (which may have held its reason), so it decides nothing here.
fn decided_before(conn: &Connection, frame: u64, side: Side) -> bool {
    let alert = conn.alerts.iter().any(|a| {
        let read = a.description.is_some();
        read && (a.frame < frame || (a.from != side && a.level == Some(AlertLevel::FATAL)))
    });
    let close = super::first_close(conn).is_some_and(|c| c.frame < frame && c.side != side);
    alert || close
}

/// What the capture lacks of a connection judged by what it does hold: said beside the
/// verdict, at the frame of the first hole.
pub(crate) fn holes(conn: &Connection) -> Option<Evidence> {
    let gap = conn.gaps.first()?;
    let side = side_word(gap.from);
    let cut = conn.timeline.iter().find_map(|e| match e.detail {
        Some(Detail::Cut { captured, total }) if e.frame == gap.frame && e.from == gap.from => {
            Some((e.event, captured, total))
        }
        _ => None,
    });
    let fact = if let Some((event, captured, total)) = cut {
        let what = match event {
            EventKind::ClientHello => "ClientHello",
            EventKind::ServerHello => "ServerHello",
            _ => "handshake record",
        };
        format!(
            "the snaplen cut the {side}'s {what} after {captured} of its {total} bytes: what the \
            rest held is not in the capture"
        )
    } else if conn.tcp.truncated_bytes > 0 {
        format!(
            "the snaplen cut {} bytes of payload from here on: what they held is not in the \
            capture",
            conn.tcp.truncated_bytes
        )
    } else {
        let missing: u64 = conn.gaps.iter().map(|g| g.bytes).sum();
        format!("the capture is missing {missing} bytes of the {side}'s stream from here on")
    };
    Some(Evidence {
        frame: Some(gap.frame),
        fact,
    })
}

/// Segments the capture never saw, before anything decided the handshake: what came after
/// the hole cannot be read, so no verdict is drawn from it.
pub(crate) fn gap_before_the_end(conn: &Connection) -> Option<Diagnosis> {
    let gap = conn.gaps.first()?;
    if decided_before(conn, gap.frame, gap.from) {
        return None;
    }
    stream_gap(conn)
}

/// Segments the capture never saw (the receiver acknowledged them).
fn stream_gap(conn: &Connection) -> Option<Diagnosis> {
    let gap = conn.gaps.first()?;
    let missing: u64 = conn.gaps.iter().map(|g| g.bytes).sum();
    Some(
        Diagnosis::new(
            Code::StreamGap,
            conn.facts.stage,
            EndedBy::Unknown,
            gap.frame,
        )
        .summary(format!(
            "the capture is missing {missing} bytes of the {}'s stream, so the handshake \
            cannot be followed past frame {}",
            side_word(gap.from),
            gap.frame
        ))
        .evidence(
            gap.frame,
            format!(
                "{} bytes at stream offset {} were acknowledged but never captured",
                gap.bytes, gap.offset
            ),
        )
        .words(Why::StreamGap),
    )
}

/// Nothing failed: the capture ended with the handshake still under way.
pub(crate) fn ended(conn: &Connection) -> Diagnosis {
    let stage = conn.facts.stage;
    let summary = if !conn.facts.saw_tls
        && conn.tcp.payload_bytes.client + conn.tcp.payload_bytes.server == 0
    {
        "the capture ended before any data was sent".to_string()
    } else {
        format!(
            "the capture ended {} with the handshake still under way",
            stage_words(stage)
        )
    };
    let stage = if stage == Stage::Established {
        Stage::Finished
    } else {
        stage
    };
    Diagnosis::new(Code::CaptureEnded, stage, EndedBy::Unknown, conn.last_frame)
        .summary(summary)
        .evidence(
            conn.last_frame,
            "the last packet of the connection in the capture",
        )
        .words(Why::CaptureEnded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::tests_support::{connection, connection_with, decides};

    #[test]
    fn a_connection_without_its_start_started_late() {
        decides(
            started_late,
            "started-late.pcap",
            (Code::CaptureStartedLate, 1),
            "tls13-sni-alpn.pcap",
        );
    }

    #[test]
    fn one_direction_unless_the_side_seen_sent_a_fatal_alert() {
        let d = decides(
            one_direction,
            "one-direction-tls13-client.pcap",
            (Code::CaptureOneDirection, 1),
            "one-direction-client-alert.pcap",
        );
        assert!(
            d.summary.contains("only the client's packets"),
            "{}",
            d.summary
        );
    }

    #[test]
    fn a_handshake_message_over_the_limit_stops_the_reading() {
        let mut options = crate::Options::default();
        options.tls.max_handshake_message = 1000;
        let d =
            limit_reached(&connection_with("tls12-ecdhe-chain.pcap", 0, &options)).expect("limit");
        assert_eq!((d.code, d.frame), (Code::LimitReached, 6));
        assert!(limit_reached(&connection("tls12-ecdhe-chain.pcap", 0)).is_none());
    }

    #[test]
    fn a_snaplen_cut_is_truncated_unless_an_alert_came_first() {
        decides(
            truncated_packets,
            "snaplen-100.pcap",
            (Code::TruncatedPackets, 4),
            "snaplen-alert.pcap",
        );
    }

    #[test]
    fn a_lost_segment_is_a_gap_and_a_hole() {
        let conn = connection("lost-segment.pcap", 0);
        let d = gap_before_the_end(&conn).expect("gap");
        assert_eq!((d.code, d.frame), (Code::StreamGap, 6));
        let hole = holes(&conn).expect("hole");
        assert_eq!(hole.frame, Some(6));
        assert!(
            hole.fact.starts_with("the capture is missing"),
            "{}",
            hole.fact
        );
        let cut = holes(&connection("snaplen-100.pcap", 0)).expect("cut");
        assert!(cut.fact.starts_with("the snaplen cut"), "{}", cut.fact);
        let whole = connection("tls13-sni-alpn.pcap", 0);
        assert!(gap_before_the_end(&whole).is_none() && holes(&whole).is_none());
    }

    #[test]
    fn a_capture_that_ends_mid_handshake_ended() {
        let d = ended(&connection("ended-early.pcap", 0));
        assert_eq!((d.code, d.frame), (Code::CaptureEnded, 5));
        assert!(
            d.summary.ends_with("with the handshake still under way"),
            "{}",
            d.summary
        );
    }
}
