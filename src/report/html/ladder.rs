//! A connection's ladder as SVG: the text report's ladder (same labels, same decisive event)
//! drawn with a lane per side, an arrow per event, frame numbers and milliseconds.

use crate::connection::{Connection, EventKind, Outcome};
use crate::flow::Side;
use crate::report::text::{decisive_event, label};
use maud::{Markup, html};

const WIDTH: f64 = 860.0;
const ROW: f64 = 24.0;
const TOP: f64 = 34.0;
const CLIENT_X: f64 = 150.0;
const SERVER_X: f64 = 720.0;
/// Characters of a label drawn; the whole label is in the arrow's tooltip.
const LABEL_CHARS: usize = 72;
/// A pause between two events at least this long (seconds) is drawn as a break.
const PAUSE: f64 = 1.0;

pub(super) fn ladder(c: &Connection) -> Markup {
    if c.timeline.is_empty() {
        return html! { p.note { "No event of this connection was captured." } };
    }
    let decisive = decisive_event(c);
    // A decisive frame that is no event of the ladder (a retransmitted ClientHello, say) is
    // drawn as a marked line in its place, so every failure's ladder shows where it ended.
    let marker = (decisive.is_none() && c.verdict.outcome != Outcome::Established).then(|| {
        let at = c.timeline.iter().position(|e| e.frame > c.verdict.frame);
        at.unwrap_or(c.timeline.len())
    });
    let rows = c.timeline.len() + usize::from(marker.is_some());
    let height = TOP + ROW * rows as f64 + 12.0;
    html! {
        svg.ladder role="img" aria-label={ "ladder of tcp.stream " (c.tcp_stream) }
            data-decisive-frame=[(c.verdict.outcome != Outcome::Established).then_some(c.verdict.frame)]
            viewBox={ "0 0 " (WIDTH) " " (height) } width=(WIDTH) height=(format!("{height:.0}")) {
            text x="8" y="16" class="muted" { "frame" }
            text.muted.r x="120" y="16" { "ms" }
            text.lane-label x=(CLIENT_X) y="16" text-anchor="middle" { "client" }
            text.lane-label x=(SERVER_X) y="16" text-anchor="middle" { "server" }
            line.lane x1=(CLIENT_X) x2=(CLIENT_X) y1="22" y2=(height - 4.0) {}
            line.lane x1=(SERVER_X) x2=(SERVER_X) y1="22" y2=(height - 4.0) {}
            @for (i, e) in c.timeline.iter().enumerate() {
                @let row = i + usize::from(marker.is_some_and(|m| m <= i));
                @let y = TOP + ROW * row as f64 + 10.0;
                @let pause = i.checked_sub(1).and_then(|p| c.timeline.get(p)).map(|p| e.time - p.time);
                @if let Some(pause) = pause.filter(|&p| p >= PAUSE) {
                    (pause_mark(y - ROW / 2.0, pause))
                }
                (arrow(y, e, Some(i) == decisive))
            }
            @if let Some(m) = marker {
                (decisive_frame(TOP + ROW * m as f64 + 10.0, c.verdict.frame))
            }
        }
        @if c.timeline_dropped > 0 {
            p.note { (c.timeline_dropped) " more events not drawn." }
        }
        (retransmissions(c))
    }
}

/// The decisive frame when it is no event of the ladder: a marked line across the lanes.
fn decisive_frame(y: f64, frame: u64) -> Markup {
    html! {
        g.event.decisive data-frame=(frame) {
            title { "frame " (frame) ": the decisive frame (not an event drawn above)" }
            text x="8" y=(y + 4.0) { (frame) }
            line.mark x1=(CLIENT_X) x2=(SERVER_X) y1=(y) y2=(y) {}
            text x=((CLIENT_X + SERVER_X) / 2.0) y=(y - 4.0) text-anchor="middle" { "frame " (frame) " (see the evidence)" }
            text x=(SERVER_X + 10.0) y=(y + 4.0) { "◀ decisive" }
        }
    }
}

/// One event: its frame and time, an arrow from its sender's lane, its label.
fn arrow(y: f64, e: &crate::connection::TimelineEvent, decisive: bool) -> Markup {
    let text = label(e);
    let cut = text.chars().count() > LABEL_CHARS;
    let shown: String = if cut {
        text.chars().take(LABEL_CHARS - 1).chain(['…']).collect()
    } else {
        text.clone()
    };
    // The arrowhead is the page's one marker (CSS `marker-end`), the end anchor a class:
    // a failure's ladder is most of its markup, and a big capture has many.
    let (from, to, end, text_x) = match e.from {
        Side::Client => (CLIENT_X, SERVER_X, false, CLIENT_X + 8.0),
        Side::Server => (SERVER_X, CLIENT_X, true, SERVER_X - 8.0),
    };
    let gap = e.event == EventKind::Gap;
    html! {
        g.event.decisive[decisive] data-frame=(e.frame) {
            @if cut { title { (text) } }
            text x="8" y=(y + 4.0) { (e.frame) }
            text.r x="120" y=(y + 4.0) { (format!("{:.3}", e.time * 1000.0)) }
            text.r[end] x=(text_x) y=(y - 4.0) { (shown) }
            line.arrow.gap[gap] x1=(from) x2=(to) y1=(y) y2=(y) {}
            @if decisive {
                text x=(SERVER_X + 10.0) y=(y + 4.0) { "◀ decisive" }
            }
        }
    }
}

/// The arrowheads every ladder's `marker-end` names, written once per page.
pub(super) fn markers() -> Markup {
    html! {
        svg.defs width="0" height="0" aria-hidden="true" {
            defs {
                marker #arrowhead viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse"
                    markerWidth="9" markerHeight="9" orient="auto" {
                    path d="M0,1 L10,5 L0,9 z" fill="#424a53" {}
                }
                marker #arrowhead-decisive viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse"
                    markerWidth="11" markerHeight="11" orient="auto" {
                    path d="M0,1 L10,5 L0,9 z" fill="#c62828" {}
                }
            }
        }
    }
}

/// A break between two events far apart in time, with the pause written on it.
fn pause_mark(y: f64, seconds: f64) -> Markup {
    html! {
        line.pause x1=(CLIENT_X) x2=(SERVER_X) y1=(y) y2=(y) {}
        text x=((CLIENT_X + SERVER_X) / 2.0) y=(y - 2.0) text-anchor="middle" class="muted" {
            "⋯ " (format!("{seconds:.3}")) " s later ⋯"
        }
    }
}

/// Retransmitted segments per side (counted until the handshake settled), when any.
fn retransmissions(c: &Connection) -> Markup {
    let r = &c.tcp.retransmissions;
    html! {
        @if r.client + r.server > 0 {
            p.note { "Retransmissions: " (r.client) " from the client, " (r.server) " from the server." }
        }
    }
}
