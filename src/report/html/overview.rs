//! The top of the page: the captures, counts by outcome, the chart, failures by class, the
//! servers and client fingerprints with the most failures, and what the page left out.
//! Written last, when the counts are known; CSS shows it first.

use super::chart::Histogram;
use super::{LeftOut, OUTCOMES, Span, icon};
use crate::connection::Outcome;
use crate::report::Summary;
use crate::report::json_word;
use maud::{Markup, html};

/// What the overview draws from besides the summary.
pub(super) struct Gathered<'a> {
    pub(super) chart: &'a Histogram,
    pub(super) span: Option<Span>,
    pub(super) left_out: &'a LeftOut,
    pub(super) max_bytes: u64,
}

/// Files listed open; more are behind a summary line.
const FILES_OPEN: usize = 5;

pub(super) fn overview(s: &Summary, g: &Gathered) -> Markup {
    html! {
        section #summary aria-label="summary" {
            h2 { "Summary" }
            (captures(s, g.span))
            (counts(s))
            (retries(s))
            h3 { "Connections over time" }
            (g.chart.svg())
            div.grid {
                (codes(s))
                (servers(s))
                (prints(s))
            }
            (left_out(g.left_out, g.max_bytes, s))
            (asked_for(s))
        }
    }
}

/// What `--keylog` decrypted and `--write-failures` wrote, when they were asked for: the
/// text summary's words.
fn asked_for(s: &Summary) -> Markup {
    html! {
        @if let Some(k) = &s.keylog {
            p #keylog data-decrypted=(k.decrypted) data-no-keys=(k.no_keys) data-failed=(k.failed) {
                "Key log: " (k.counts_line()) "."
            }
            @for warning in k.warnings() { p.warn { "⚠ " (warning) } }
        }
        @if let Some(w) = &s.written_failures {
            @let (written, cut) = w.lines();
            p #written-failures { "Written: " (written) "." }
            @if let Some(cut) = cut { p.note { (cut) "." } }
        }
    }
}

fn captures(s: &Summary, span: Option<Span>) -> Markup {
    let p = &s.packets;
    html! {
        h3 { "Capture" }
        details.files open[s.files.len() <= FILES_OPEN] {
        summary { (s.files.len()) @if s.files.len() == 1 { " file" } @else { " files" } }
        table.files {
            tr { th { "file" } th { "format" } th.num { "packets" } th { "notes" } }
            @for f in &s.files {
                tr {
                    td.mono { (f.path) }
                    td { @if let Some(format) = f.format { (json_word(&format)) } }
                    td.num { (f.packets) }
                    td {
                        @if let Some(e) = &f.error { span.o.o-failed { "✗ damaged: " (e) } " " }
                        @if let Some(w) = &f.warning { span.warn { "⚠ " (w) } }
                    }
                }
            }
        }
        }
        p {
            (p.packets) " packets (" (p.bytes) " bytes), " (p.tcp_packets) " TCP in "
            (p.tcp_conversations) " conversations"
            @if let Some(span) = span {
                br;
                "from " (span.first) " to " (span.last) " ("
                (format!("{:.3}", span.last.seconds_since(span.first))) " s)"
            }
        }
    }
}

fn counts(s: &Summary) -> Markup {
    let outcomes = [
        Outcome::Established,
        Outcome::Failed,
        Outcome::Incomplete,
        Outcome::NotTls,
    ];
    html! {
        div.cards #counts data-connections=(s.connections) data-shown=(s.shown) {
            div.card { b { (s.connections) } "connections" }
            @for (i, o) in outcomes.iter().enumerate() {
                @let name = OUTCOMES.get(i).copied().unwrap_or("");
                div class={ "card o-" (name) } data-outcome=(name) data-count=(s.outcome(*o)) {
                    b { (s.outcome(*o)) } (icon(i)) " " (name.replace('_', " "))
                }
            }
            @if s.shown != s.connections {
                div.card { b { (s.shown) } "shown (after --failed, --sni, --host)" }
            }
        }
    }
}

fn codes(s: &Summary) -> Markup {
    let mut codes: Vec<(&String, &u64)> = s.codes.iter().collect();
    codes.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    html! {
        div {
            h3 { "Failures by class" }
            @if codes.is_empty() { p.note { "None: every connection established." } }
            @else {
                table #codes {
                    tr { th { "code" } th.num { "connections" } }
                    @for (code, n) in codes {
                        tr data-code=(code) data-count=(n) {
                            td.mono { a href={ "#code=" (code) } { (code) } }
                            td.num { (n) }
                        }
                    }
                }
            }
        }
    }
}

fn servers(s: &Summary) -> Markup {
    html! {
        div {
            h3 { "Servers with the most failures" }
            @if s.failing_servers.is_empty() { p.note { "None." } }
            @else {
                table {
                    tr { th { "server" } th { "SNI" } th.num { "failed" } }
                    @for f in &s.failing_servers {
                        tr {
                            td.mono { (f.server) }
                            td { @if let Some(sni) = &f.sni { (sni) } }
                            td.num { (f.failures) }
                        }
                    }
                }
            }
        }
    }
}

/// The client fingerprints of the summary's groups that did not establish somewhere.
fn prints(s: &Summary) -> Markup {
    let rows: Vec<_> = s
        .groups
        .fingerprints
        .top
        .iter()
        .filter(|r| r.counts.not_established() > 0)
        .collect();
    html! {
        div {
            h3 { "Client fingerprints with the most failures" }
            @if rows.is_empty() { p.note { "None." } }
            @else {
                table {
                    tr { th { "JA4 (versions offered)" } th.num { "failed" } th.num { "incomplete" } }
                    @for r in rows {
                        tr {
                            td {
                                span.mono { (r.key.ja4.as_deref().unwrap_or("(no ClientHello)")) }
                                @if !r.key.versions_offered.is_empty() {
                                    br; span.note { (r.key.versions_offered.join(", ")) }
                                }
                            }
                            td.num { (r.counts.failed) }
                            td.num { (r.counts.incomplete) }
                        }
                    }
                }
            }
        }
    }
}

/// Retries linked to the attempts they retried (`--retry-window`), when there were any.
fn retries(s: &Summary) -> Markup {
    let r = &s.retries;
    html! {
        @if r.retries > 0 {
            p #retries {
                "Retries of connections that did not establish: " (r.retries)
                " (fallbacks to an older version or fewer cipher suites: " (r.fallbacks)
                "). Attempts recovered by a retry: " (r.recovered) "; not recovered: "
                (r.not_recovered) "."
            }
        }
    }
}

/// What the page's size bound left out: counted, never silent.
fn left_out(l: &LeftOut, max_bytes: u64, s: &Summary) -> Markup {
    let filtered = s.connections.saturating_sub(s.shown);
    html! {
        div #left-out data-rows-only=(l.rows_only) data-established=(l.established)
            data-failures=(l.failures) {
            @if l.rows_only > 0 {
                p.note { (l.rows_only) " established connections are table rows only, without their details." }
            }
            @if l.established + l.failures > 0 {
                p.warn {
                    "⚠ Left out of this page by its size bound (--html-max-bytes " (max_bytes) "): "
                    (l.failures) " connections that did not establish and " (l.established)
                    " established ones; they are in the counts above, and in the JSON report."
                }
            }
            @if filtered > 0 {
                p.note { (filtered) " connections not shown: the filters (--failed, --sni, --host) left them out." }
            }
        }
    }
}
