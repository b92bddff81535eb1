//! The HTML report: one self-contained page (styles, script and pictures inline, a
//! Content-Security-Policy that forbids every fetch) to attach to an incident.
//!
//! Written in one pass like the JSON: the head and the table's opening first, a `tbody` per
//! connection as it is judged, and the summary last (CSS puts it at the top). Markup is built
//! with maud, whose `(value)` escapes, so no value from the wire reaches the page as markup.

mod chart;
mod connection;
mod ladder;
mod overview;

use super::Summary;
use crate::capture::Timestamp;
use crate::connection::{Connection, Outcome};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use std::io::{self, Write};

/// The outcomes in the order the page lists them; a connection's outcome is an index here.
const OUTCOMES: [&str; 4] = ["established", "failed", "incomplete", "not_tls"];
const ICONS: [&str; 4] = ["✓", "✗", "◐", "⊘"];

fn icon(outcome: usize) -> &'static str {
    ICONS.get(outcome).copied().unwrap_or("?")
}

/// Established connections drawn in full (details, ladder, chain); the rest are rows.
const ESTABLISHED_IN_FULL: u64 = 100;

const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");
/// Runs first: records script errors on the root element, where a test (or a person with
/// the inspector) reads them, and any fetch the policy blocked.
const ERRORS: &str = "window.onerror = function (m, s, l) { var d = document.documentElement; \
    d.dataset.errors = (d.dataset.errors || '') + m + ' (line ' + l + ')\\n'; }; \
    document.addEventListener('securitypolicyviolation', function (e) { \
    var d = document.documentElement; \
    d.dataset.blocked = (d.dataset.blocked || '') + e.blockedURI + ' (' + e.violatedDirective + ')\\n'; });";
/// Nothing may be fetched: no source for anything but the page's own inline style and
/// script, and pictures only as data: URLs.
const POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; \
    script-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

/// The page's options.
#[derive(Clone, Debug)]
pub struct HtmlOptions {
    /// The page's title: the files read, or the interface.
    pub title: String,
    /// Past this many bytes of connections, failures are left out; established ones past a
    /// quarter of it. What is left out is counted on the page.
    pub max_bytes: u64,
}

/// The first and last moments of the connections seen.
#[derive(Clone, Copy, Debug)]
struct Span {
    first: Timestamp,
    last: Timestamp,
}

/// What the size bound left out.
#[derive(Clone, Debug, Default)]
struct LeftOut {
    /// Established connections written as a row only.
    rows_only: u64,
    established: u64,
    failures: u64,
}

/// The page being written: what the summary at its end needs besides the `Summary`.
#[derive(Debug)]
pub struct HtmlDocument {
    options: HtmlOptions,
    /// Bytes of connections written so far, and of established ones among them.
    written: u64,
    written_established: u64,
    established_in_full: u64,
    left_out: LeftOut,
    chart: chart::Histogram,
    span: Option<Span>,
}

impl HtmlDocument {
    pub fn new(options: HtmlOptions) -> Self {
        HtmlDocument {
            options,
            written: 0,
            written_established: 0,
            established_in_full: 0,
            left_out: LeftOut::default(),
            chart: chart::Histogram::default(),
            span: None,
        }
    }

    /// The head, the page's heading, the filters and the table's head.
    pub fn begin(&self, out: &mut impl Write) -> io::Result<()> {
        out.write_all(head(&self.options.title).into_string().as_bytes())
    }

    /// Counts one connection for the summary's chart and time span: every connection, shown
    /// or filtered out, as the summary's counts are.
    pub fn count(&mut self, c: &Connection) {
        self.chart
            .add(c.start, chart::outcome_index(c.verdict.outcome));
        let end = c.start.after(c.duration_ms / 1000.0);
        self.span = Some(match self.span {
            None => Span {
                first: c.start,
                last: end,
            },
            Some(s) => Span {
                first: s.first.min(c.start),
                last: s.last.max(end),
            },
        });
    }

    /// Writes one shown connection: in full, as a row, or not at all, by the size bound.
    pub fn connection(&mut self, out: &mut impl Write, c: &Connection) -> io::Result<()> {
        let max = self.options.max_bytes;
        let failure = c.verdict.outcome != Outcome::Established;
        // Failures may fill the whole bound; established connections take a quarter of it at
        // most, so that three quarters stay for the failures, wherever they come.
        let (row, detail) = if failure {
            (self.written < max, self.written < max)
        } else {
            let row = self.written < max && self.written_established < max / 4;
            let detail = row && self.established_in_full < ESTABLISHED_IN_FULL;
            (row, detail)
        };
        if !row {
            match failure {
                true => self.left_out.failures += 1,
                false => self.left_out.established += 1,
            }
            return Ok(());
        }
        if !failure {
            match detail {
                true => self.established_in_full += 1,
                false => self.left_out.rows_only += 1,
            }
        }
        let markup = connection::connection(c, detail).into_string();
        self.written += markup.len() as u64;
        if !failure {
            self.written_established += markup.len() as u64;
        }
        out.write_all(markup.as_bytes())
    }

    /// Closes the table, then writes the summary and the script.
    pub fn end(&self, out: &mut impl Write, summary: &Summary) -> io::Result<()> {
        let gathered = overview::Gathered {
            chart: &self.chart,
            span: self.span,
            left_out: &self.left_out,
            max_bytes: self.options.max_bytes,
        };
        let tail = html! {
            (PreEscaped("</table></section>"))
            (overview::overview(summary, &gathered))
            (PreEscaped("</main>"))
            script { (PreEscaped(SCRIPT)) }
            (PreEscaped("</body></html>\n"))
        };
        out.write_all(tail.into_string().as_bytes())?;
        out.flush()
    }
}

/// Everything before the first connection. The table is left open: connections follow.
fn head(title: &str) -> Markup {
    let columns = [
        ("stream", "Stream", true),
        ("client", "Client", false),
        ("server", "Server", false),
        ("sni", "SNI", false),
        ("version", "Version", false),
        ("rank", "Outcome", false),
        ("code", "Code", false),
        ("duration", "Duration", true),
    ];
    html! {
        (DOCTYPE)
        (PreEscaped("<html lang=\"en\">"))
        head {
            meta charset="utf-8";
            meta http-equiv="Content-Security-Policy" content=(POLICY);
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="referrer" content="no-referrer";
            title { "tlsdiag: " (title) }
            script { (PreEscaped(ERRORS)) }
            style { (PreEscaped(STYLE)) }
        }
        (PreEscaped("<body>"))
        (ladder::markers())
        header {
            h1 { "TLS handshakes in " (title) }
            p.note { "Written by tlsdiag " (env!("CARGO_PKG_VERSION")) ". Open a connection for its ladder, evidence, cause and fix." }
        }
        (PreEscaped("<main>"))
        (PreEscaped("<section id=\"connections\">"))
        h2 { "Connections" }
        div #controls {
            label { "Search" input #q type="search" placeholder="address, name, code, words…"; }
            @for (key, word) in [("outcome", "Outcome"), ("code", "Code"), ("server", "Server"), ("sni", "SNI")] {
                label { (word) select id={ "f-" (key) } { option value="" { "all" } } }
            }
            span #shown.note aria-live="polite" {}
        }
        (PreEscaped("<table id=\"conns\">"))
        thead {
            tr {
                @for (key, word, num) in columns {
                    th data-sort=(key) class=[num.then_some("num")] scope="col" { (word) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
