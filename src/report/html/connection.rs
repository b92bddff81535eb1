//! One connection on the page: its row in the table and, opened, its verdict, evidence,
//! cause, fix, ladder, certificate chain and warnings. Every value from the wire goes
//! through maud's `(value)`, which escapes it.

use super::ladder::ladder;
use super::{OUTCOMES, icon};
use crate::connection::{Confidence, Connection, Outcome};
use crate::report::json_word;
use crate::report::summary::outcome_name;
use crate::report::text::{alert_line, client_offer, endpoint, fingerprints, server_choice};
use crate::tls::certificate::CertificateInfo;
use maud::{Markup, html};

/// Failures sort first; then incomplete, not TLS, established.
fn rank(outcome: Outcome) -> u8 {
    match outcome {
        Outcome::Failed => 0,
        Outcome::Incomplete => 1,
        Outcome::NotTls => 2,
        Outcome::Established => 3,
    }
}

/// The connection's `tbody`: the row, and the details when `detail`.
pub(super) fn connection(c: &Connection, detail: bool) -> Markup {
    let outcome = outcome_name(c.verdict.outcome);
    let code = c.diagnosis.as_ref().map(|d| json_word(&d.code));
    let server = endpoint(c.server);
    let sni = c.sni.as_ref().map(ToString::to_string);
    let failure = c.verdict.outcome != Outcome::Established;
    html! {
        tbody class={ "conn c-" (outcome) @if failure { " failure" } }
            data-stream=(c.tcp_stream) data-rank=(rank(c.verdict.outcome)) data-outcome=(outcome)
            data-code=[code.as_deref()] data-server=(server) data-sni=[sni.as_deref()]
            data-duration=(c.duration_ms) data-frame=(c.verdict.frame) data-file=[c.file.as_deref()] {
            tr.row {
                td.num { (c.tcp_stream) }
                td.mono { (endpoint(c.client)) }
                td.mono { (server) }
                td { @if let Some(sni) = &sni { (sni) } }
                td { @if let Some(v) = c.version { (v) } }
                td { (outcome_badge(c.verdict.outcome)) }
                td.mono { @if let Some(code) = &code { (code) } }
                td.num { (format!("{:.3}", c.duration_ms)) " ms" }
            }
            @if detail {
                tr.more { td colspan="8" { (details(c)) } }
            }
        }
    }
}

/// The outcome as an icon and a word, coloured: the word carries it without the colour.
pub(super) fn outcome_badge(outcome: Outcome) -> Markup {
    let name = outcome_name(outcome);
    let i = OUTCOMES.iter().position(|&o| o == name).unwrap_or(0);
    html! { span class={ "o o-" (name) } { (icon(i)) " " (name.replace('_', " ")) } }
}

fn details(c: &Connection) -> Markup {
    let v = &c.verdict;
    let filter = format!("tcp.stream eq {}", c.tcp_stream);
    html! {
        details {
            summary { (outcome_badge(v.outcome)) " " (v.reason) }
            div.detail {
                dl {
                    dt { "verdict" }
                    dd { (verdict_line(c)) }
                    @if let Some(browser) = c.diagnosis.as_ref().and_then(|d| d.browser_error) {
                        dt { "browser" } dd.mono { (browser) }
                    }
                    (facts(c))
                    dt { "Wireshark" }
                    dd { code { (filter) } button.copy type="button" data-copy=(filter) { "copy" } }
                }
                (diagnosis(c))
                h3 { "Ladder" }
                (ladder(c))
                (chain(c))
            }
        }
    }
}

/// Outcome, code, stage, who ended it, the decisive frame, and the confidence.
fn verdict_line(c: &Connection) -> Markup {
    let v = &c.verdict;
    let likely = c
        .diagnosis
        .as_ref()
        .is_some_and(|d| d.confidence == Confidence::Likely);
    html! {
        @if let Some(d) = &c.diagnosis { code { (json_word(&d.code)) } " · " }
        "stage " (json_word(&v.stage)) " · ended by " (json_word(&v.ended_by))
        " · frame " (v.frame)
        @if likely { " · likely (inferred)" }
    }
}

/// The facts the text report lists, as definition rows.
fn facts(c: &Connection) -> Markup {
    let layers: Vec<String> = c.encapsulation.iter().map(ToString::to_string).collect();
    html! {
        @if let Some(offer) = client_offer(c) { dt { "client" } dd { (offer) } }
        @if let Some(choice) = server_choice(c) { dt { "server" } dd { (choice) } }
        @if let Some(prints) = fingerprints(c) { dt { "fingerprints" } dd.mono { (prints) } }
        @if let Some(hrr) = &c.hello_retry {
            dt { "retry" }
            dd { "HelloRetryRequest at frame " (hrr.frame) " asks for " (hrr.group.unwrap_or("?")) }
        }
        @for alert in &c.alerts { dt { "alert" } dd { (alert_line(alert)) } }
        @for gap in &c.gaps {
            dt { "gap" }
            dd { "frame " (gap.frame) ": " (gap.bytes) " bytes of the " (json_word(&gap.from)) "'s stream missing" }
        }
        @if let Some(n) = c.retry_of { dt { "retry of" } dd { a href={ "#open=" (n) } { "tcp.stream " (n) } } }
        @if let Some(n) = c.retried_by { dt { "retried by" } dd { a href={ "#open=" (n) } { "tcp.stream " (n) } } }
        @if let Some(f) = &c.fallback {
            dt { "fallback" }
            dd {
                "offers up to " (f.highest_version) " with " (f.cipher_suites) " cipher suites, where the attempt before offered "
                (f.highest_version_before) " with " (f.cipher_suites_before)
            }
        }
        @if !layers.is_empty() { dt { "via" } dd { (layers.join(" / ")) } }
        @if let Some(file) = &c.file { dt { "file" } dd.mono { (file) } }
        dt { "start" }
        dd { (c.start) " · " (format!("{:.3}", c.duration_ms)) " ms · frames " (c.first_frame) "–" (c.last_frame) }
    }
}

/// Evidence frame by frame, the cause and the fix (the diagnosis's own words), and warnings.
fn diagnosis(c: &Connection) -> Markup {
    html! {
        @if let Some(d) = &c.diagnosis {
            h3 { "Evidence" }
            table.evidence {
                @for e in &d.evidence {
                    tr {
                        td { @if let Some(frame) = e.frame { "frame " (frame) } }
                        td { (e.fact) }
                    }
                }
            }
            dl {
                dt { "cause" } dd { (d.cause) }
                dt { "fix" } dd { (d.fix) }
            }
        }
        @if !c.warnings.is_empty() {
            h3 { "Warnings" }
            ul {
                @for w in &c.warnings {
                    li.warn { "⚠ " code { (json_word(&w.code)) } ": " (w.summary) }
                }
            }
        }
    }
}

const BAR_WIDTH: f64 = 260.0;

/// The server's certificates, each validity period drawn against the connection's time.
fn chain(c: &Connection) -> Markup {
    if c.certificates.is_empty() {
        return html! {};
    }
    let at = c.start.secs;
    let lo = c
        .certificates
        .iter()
        .map(|x| x.not_before_unix)
        .fold(at, i64::min);
    let hi = c
        .certificates
        .iter()
        .map(|x| x.not_after_unix)
        .fold(at, i64::max);
    let pad = ((hi - lo) / 20).max(86_400);
    let scale = Scale {
        lo: lo - pad,
        hi: hi + pad,
    };
    html! {
        h3 { "Certificate chain" }
        table.chain {
            tr { th { "subject" } th { "issuer" } th { "valid" } th { "at the capture" } th { "validity against the capture's time" } }
            @for cert in &c.certificates {
                (certificate(cert, at, &scale))
            }
        }
    }
}

struct Scale {
    lo: i64,
    hi: i64,
}

impl Scale {
    fn x(&self, unix: i64) -> f64 {
        let span = (self.hi - self.lo).max(1) as f64;
        ((unix - self.lo) as f64 / span * BAR_WIDTH).clamp(0.0, BAR_WIDTH)
    }
}

fn certificate(cert: &CertificateInfo, at: i64, scale: &Scale) -> Markup {
    let valid = cert.valid_at(at);
    let status = validity_words(cert, at);
    let key = match cert.key_bits {
        Some(bits) => format!("{} {bits}", cert.key_type),
        None => cert.key_type.clone(),
    };
    let (x0, x1) = (scale.x(cert.not_before_unix), scale.x(cert.not_after_unix));
    let now = scale.x(at);
    html! {
        tr {
            td { (cert.subject) br; span.note { (key) } @if !cert.fingerprint.ja4x.is_empty() { br; span.note.mono { "ja4x " (cert.fingerprint.ja4x) } } }
            td { (cert.issuer) }
            td.mono { (cert.not_before) br; "→ " (cert.not_after) }
            td class=(if valid { "o o-established" } else { "o o-failed" }) { (if valid { "✓ " } else { "✗ " }) (status) }
            td {
                svg role="img" aria-label=(status) viewBox={ "0 0 " (BAR_WIDTH) " 22" } width=(BAR_WIDTH) height="22" {
                    rect class=(if valid { "valid" } else { "invalid" }) x=(format!("{x0:.1}")) y="5"
                        width=(format!("{:.1}", (x1 - x0).max(1.0))) height="12" {}
                    line.now x1=(format!("{now:.1}")) x2=(format!("{now:.1}")) y1="0" y2="22" {
                        title { "the capture" }
                    }
                }
            }
        }
    }
}

/// Valid at the capture's time, or how far outside its validity the capture was.
fn validity_words(cert: &CertificateInfo, at: i64) -> String {
    let days = |s: i64| (s as f64 / 86_400.0).ceil() as i64;
    if at < cert.not_before_unix {
        format!(
            "not yet valid: valid {} days after",
            days(cert.not_before_unix - at)
        )
    } else if at > cert.not_after_unix {
        format!("expired {} days before", days(at - cert.not_after_unix))
    } else {
        "valid".to_string()
    }
}
