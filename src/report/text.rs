//! The human report: per connection the verdict first, the facts, then the timeline as a
//! ladder (client on the left, server on the right) with the decisive frame marked.

use super::json_word;
use super::summary::outcome_name;
use super::text_groups::{GroupBy, plural};
use super::{CaptureStats, FailuresWritten, KeyLogSummary, Summary};
use crate::analyze::PacketCounters;
use crate::connection::{Connection, EventKind, Outcome, TimelineEvent};
use crate::flow::Side;
use crate::link::RetryCounts;
use crate::tls::values::AlertText;
use crate::wire_text::{self, Escaped};
use std::io::{self, Write};

/// Whether to colour the output (a terminal without NO_COLOR set).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn outcome(self, outcome: Outcome) -> String {
        let (code, word) = match outcome {
            Outcome::Established => ("1;32", "ESTABLISHED"),
            Outcome::Failed => ("1;31", "FAILED"),
            Outcome::Incomplete => ("1;33", "INCOMPLETE"),
            Outcome::NotTls => ("1;35", "NOT TLS"),
        };
        self.paint(code, word)
    }
}

/// An endpoint as Wireshark writes it (IPv6 in brackets), or `?` when unknown.
pub(super) fn endpoint(e: Option<crate::flow::Endpoint>) -> String {
    match e {
        Some(e) if e.ip.is_ipv6() => format!("[{}]:{}", e.ip, e.port),
        Some(e) => format!("{}:{}", e.ip, e.port),
        None => "?".to_string(),
    }
}

/// Width of the client's column in the ladder.
const LANE: usize = 44;

pub fn write_text_connection(out: &mut impl Write, c: &Connection, style: Style) -> io::Result<()> {
    let sni = c
        .sni
        .as_ref()
        .map(|s| format!("  SNI {s}"))
        .unwrap_or_default();
    let file = c
        .file
        .as_deref()
        .map(|f| format!("  [{}]", Escaped(f)))
        .unwrap_or_default();
    let via = match c.encapsulation.as_slice() {
        [] => String::new(),
        layers => {
            let names: Vec<String> = layers.iter().map(ToString::to_string).collect();
            format!("  via {}", names.join(" / "))
        }
    };
    writeln!(
        out,
        "{}  {} → {}{sni}{via}{file}",
        style.paint("1", &format!("tcp.stream {}", c.tcp_stream)),
        endpoint(c.client),
        endpoint(c.server),
    )?;
    let v = &c.verdict;
    writeln!(out, "  {}", verdict_line(c, style))?;
    writeln!(out, "  {}", Escaped(&v.reason))?;
    if let Some(browser) = c.diagnosis.as_ref().and_then(|d| d.browser_error) {
        writeln!(out, "  browser  {browser}")?;
    }
    write_links(out, c)?;
    write_facts(out, c)?;
    write_ladder(out, c, style)?;
    write_diagnosis(out, c, style)?;
    writeln!(out)
}

/// The verdict: outcome, code, stage, who ended it, the decisive frame, and whether it is
/// inferred (`FAILED certificate_rejected  stage server_certificate · ended by client · frame
/// 8`). Also the first words of a failure's packet comment (`--write-failures`).
pub(super) fn verdict_line(c: &Connection, style: Style) -> String {
    let v = &c.verdict;
    let code = c
        .diagnosis
        .as_ref()
        .map(|d| format!(" {}", style.paint("1", &json_word(&d.code))))
        .unwrap_or_default();
    let confidence = c
        .diagnosis
        .as_ref()
        .filter(|d| d.confidence == crate::connection::Confidence::Likely)
        .map(|_| " · likely (inferred)")
        .unwrap_or_default();
    format!(
        "{}{code}  stage {} · ended by {} · frame {}{confidence}",
        style.outcome(v.outcome),
        json_word(&v.stage),
        json_word(&v.ended_by),
        v.frame
    )
}

/// The attempt this connection retried, and the one that retried it.
fn write_links(out: &mut impl Write, c: &Connection) -> io::Result<()> {
    if let Some(earlier) = c.retry_of {
        let fallback = c
            .fallback
            .as_ref()
            .map(|f| {
                format!(
                    ", a fallback: offers up to {} with {} cipher suites, after {} with {}",
                    f.highest_version,
                    f.cipher_suites,
                    f.highest_version_before,
                    f.cipher_suites_before
                )
            })
            .unwrap_or_default();
        writeln!(out, "  retry of tcp.stream {earlier}{fallback}")?;
    }
    if let Some(later) = c.retried_by {
        writeln!(out, "  retried by tcp.stream {later}")?;
    }
    Ok(())
}

fn write_diagnosis(out: &mut impl Write, c: &Connection, style: Style) -> io::Result<()> {
    if let Some(d) = &c.diagnosis {
        writeln!(out, "  {}", style.paint("1", "evidence"))?;
        for e in &d.evidence {
            match e.frame {
                Some(frame) => writeln!(out, "    frame {frame:<6} {}", Escaped(&e.fact))?,
                None => writeln!(out, "    {:<12} {}", "", Escaped(&e.fact))?,
            }
        }
        writeln!(
            out,
            "  {}    {}",
            style.paint("1", "cause"),
            Escaped(&d.cause)
        )?;
        writeln!(
            out,
            "  {}      {}",
            style.paint("1", "fix"),
            Escaped(&d.fix)
        )?;
    }
    for w in &c.warnings {
        writeln!(
            out,
            "  {} {}: {}",
            style.paint("1;33", "warning"),
            json_word(&w.code),
            Escaped(&w.summary)
        )?;
    }
    Ok(())
}

/// What the client offered, in one line: versions, suites, ALPN, key shares.
pub(super) fn client_offer(c: &Connection) -> Option<String> {
    if c.cipher_suites.is_empty() {
        return None;
    }
    let mut parts = vec![format!("offers {}", c.client_versions.join(", "))];
    parts.push(format!("{} cipher suites", c.cipher_suites.len()));
    if !c.alpn_offered.is_empty() {
        parts.push(format!("ALPN {}", wire_text::join(&c.alpn_offered, ", ")));
    }
    if !c.key_share_groups.is_empty() {
        parts.push(format!("key shares {}", c.key_share_groups.join(", ")));
    }
    Some(parts.join(" · "))
}

/// What the server chose, in one line: version, suite, group, ALPN, resumption.
pub(super) fn server_choice(c: &Connection) -> Option<String> {
    let version = c.version?;
    let mut parts = vec![version.to_string()];
    parts.extend(c.cipher.map(str::to_string));
    parts.extend(c.group.map(str::to_string));
    parts.extend(c.alpn.as_ref().map(|a| format!("ALPN {a}")));
    if c.resumed == Some(true) {
        parts.push("resumed".into());
    }
    Some(parts.join(" · "))
}

fn write_facts(out: &mut impl Write, c: &Connection) -> io::Result<()> {
    if let Some(offer) = client_offer(c) {
        writeln!(out, "  client   {offer}")?;
    }
    if let Some(choice) = server_choice(c) {
        writeln!(out, "  server   {choice}")?;
    }
    if let Some(prints) = fingerprints(c) {
        writeln!(out, "  prints   {prints}")?;
    }
    if let Some(hrr) = &c.hello_retry {
        let group = hrr.group.unwrap_or("?");
        writeln!(
            out,
            "  retry    HelloRetryRequest at frame {} asks for {group}",
            hrr.frame
        )?;
    }
    for (i, cert) in c.certificates.iter().enumerate() {
        let label = if i == 0 { "cert" } else { "" };
        let key = match cert.key_bits {
            Some(bits) => format!("{} {bits}", Escaped(&cert.key_type)),
            None => Escaped(&cert.key_type).to_string(),
        };
        writeln!(
            out,
            "  {label:<8} {} (issuer {}) valid {} → {} · {key}",
            cert.subject, cert.issuer, cert.not_before, cert.not_after
        )?;
    }
    for alert in &c.alerts {
        writeln!(out, "  alert    {}", alert_line(alert))?;
    }
    for gap in &c.gaps {
        writeln!(
            out,
            "  gap      frame {}: {} bytes of the {}'s stream missing",
            gap.frame,
            gap.bytes,
            json_word(&gap.from)
        )?;
    }
    writeln!(
        out,
        "  start    {} · {:.3} ms · frames {}–{}",
        c.start, c.duration_ms, c.first_frame, c.last_frame
    )
}

/// The client's JA4 and JA3, or the server's JA4S and JA3S when the capture holds no
/// ClientHello (the JSON carries all of them, with their raw forms).
/// "frame 8 from client: fatal certificate_expired (45)", or "encrypted".
pub(super) fn alert_line(alert: &crate::connection::Alert) -> String {
    let what = match (alert.level, alert.description) {
        (Some(l), Some(d)) => AlertText(l, d).to_string(),
        _ => "encrypted".to_string(),
    };
    format!(
        "frame {} from {}: {what}",
        alert.frame,
        json_word(&alert.from)
    )
}

pub(super) fn fingerprints(c: &Connection) -> Option<String> {
    match (c.client_fingerprints.get(), c.server_fingerprints.get()) {
        (Some(f), _) => Some(format!("ja4 {} · ja3 {}", f.ja4, f.ja3)),
        (None, Some(f)) => Some(format!("ja4s {} · ja3s {}", f.ja4s, f.ja3s)),
        (None, None) => None,
    }
}

/// An event as the ladder names it; shared by the text and HTML ladders.
pub(super) fn label(e: &TimelineEvent) -> String {
    let name = match e.event {
        EventKind::IcmpUnreachable => "ICMP unreachable",
        EventKind::Syn => "SYN",
        EventKind::SynAck => "SYN-ACK",
        EventKind::Fin => "FIN",
        EventKind::Rst => "RST",
        EventKind::ClientHello => "ClientHello",
        EventKind::ServerHello => "ServerHello",
        EventKind::HelloRetryRequest => "HelloRetryRequest",
        EventKind::Certificate => "Certificate",
        EventKind::ServerKeyExchange => "ServerKeyExchange",
        EventKind::CertificateRequest => "CertificateRequest",
        EventKind::ServerHelloDone => "ServerHelloDone",
        EventKind::ClientKeyExchange => "ClientKeyExchange",
        EventKind::ClientMasterKey => "CLIENT-MASTER-KEY",
        EventKind::Sslv2Error => "SSLv2 ERROR",
        EventKind::CertificateVerify => "CertificateVerify",
        EventKind::NewSessionTicket => "NewSessionTicket",
        EventKind::Finished => "Finished",
        EventKind::HandshakeMessage => "handshake",
        EventKind::ChangeCipherSpec => "ChangeCipherSpec",
        EventKind::Alert => "Alert",
        EventKind::EncryptedHandshake => "encrypted handshake",
        EventKind::EncryptedAlert => "encrypted alert",
        EventKind::ApplicationData => "application data",
        EventKind::Heartbeat => "Heartbeat",
        EventKind::Plaintext => "plaintext",
        EventKind::TlsStart => "TLS starts",
        EventKind::Malformed => "malformed",
        EventKind::Gap => "GAP",
    };
    // A detail holds peers' text: escaped here whatever its kind, so no detail can move the
    // ladder's columns or reach the terminal raw.
    match &e.detail {
        Some(d) => format!("{name} ({})", Escaped(&d.to_string())),
        None => name.to_string(),
    }
}

/// The one event to mark: at the decisive frame, the one that ended things (an alert, a
/// reset, a close, an ICMP error, foreign bytes), else the last event of that frame.
pub(super) fn decisive_event(c: &Connection) -> Option<usize> {
    if c.verdict.outcome == Outcome::Established {
        return None;
    }
    let at_frame: Vec<usize> = (0..c.timeline.len())
        .filter(|&i| {
            c.timeline
                .get(i)
                .is_some_and(|e| e.frame == c.verdict.frame)
        })
        .collect();
    let ending = |i: &&usize| {
        c.timeline.get(**i).is_some_and(|e| {
            matches!(
                e.event,
                EventKind::Alert
                    | EventKind::EncryptedAlert
                    | EventKind::Rst
                    | EventKind::IcmpUnreachable
                    | EventKind::Plaintext
                    | EventKind::Gap
            )
        })
    };
    at_frame.iter().find(ending).or(at_frame.last()).copied()
}

fn write_ladder(out: &mut impl Write, c: &Connection, style: Style) -> io::Result<()> {
    if c.timeline.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "  {:>7} {:>10}  {:<LANE$}server",
        "frame", "ms", "client"
    )?;
    let decisive_event = decisive_event(c);
    for (i, e) in c.timeline.iter().enumerate() {
        let text = label(e);
        let arrow = match e.from {
            Side::Client => format!("{text} ─▶"),
            Side::Server => format!("{:LANE$}◀─ {text}", ""),
        };
        let decisive = Some(i) == decisive_event;
        let mark = if decisive {
            style.paint("1;31", "   ◀ decisive")
        } else {
            String::new()
        };
        writeln!(
            out,
            "  {:>7} {:>10.3}  {arrow}{mark}",
            e.frame,
            e.time * 1000.0
        )?;
    }
    if c.timeline_dropped > 0 {
        writeln!(out, "  ... {} more events not shown", c.timeline_dropped)?;
    }
    Ok(())
}

pub fn write_text_summary(
    out: &mut impl Write,
    s: &Summary,
    group_by: GroupBy,
    style: Style,
) -> io::Result<()> {
    writeln!(out, "{}", style.paint("1", "Summary"))?;
    write_connection_counts(out, s)?;
    write_retry_counts(out, &s.retries)?;
    super::text_groups::write_groups(out, s, group_by)?;
    write_packet_counts(out, &s.packets)?;
    write_limits(out, &s.packets)?;
    if let Some(c) = &s.capture {
        write_capture_counts(out, c, style)?;
    }
    if let Some(k) = &s.keylog {
        write_keylog_counts(out, k, style)?;
    }
    write_notes(out, s, style)
}

/// What the key logs held and decrypted; a key log that opened nothing says so.
fn write_keylog_counts(out: &mut impl Write, k: &KeyLogSummary, style: Style) -> io::Result<()> {
    writeln!(out, "  key log      {}", k.counts_line())?;
    for warning in k.warnings() {
        writeln!(out, "  {}      {warning}", style.paint("33", "warning"))?;
    }
    Ok(())
}

/// Connections by outcome and by diagnosis, and the servers with the most failures.
fn write_connection_counts(out: &mut impl Write, s: &Summary) -> io::Result<()> {
    let outcomes: Vec<String> = [
        Outcome::Established,
        Outcome::Failed,
        Outcome::Incomplete,
        Outcome::NotTls,
    ]
    .into_iter()
    .map(|o| format!("{} {}", s.outcome(o), outcome_name(o)))
    .collect();
    writeln!(
        out,
        "  connections  {} ({})",
        s.connections,
        outcomes.join(", ")
    )?;
    if !s.codes.is_empty() {
        let codes: Vec<String> = s
            .codes
            .iter()
            .map(|(code, n)| format!("{n} {code}"))
            .collect();
        writeln!(out, "  diagnoses    {}", codes.join(", "))?;
    }
    if s.shown != s.connections {
        writeln!(out, "  shown        {}", s.shown)?;
    }
    Ok(())
}

/// Retries, and the failures they recovered from.
fn write_retry_counts(out: &mut impl Write, r: &RetryCounts) -> io::Result<()> {
    if r.retries == 0 && r.not_recovered == 0 {
        return Ok(());
    }
    let fallbacks = plural(r.fallbacks, "fallback", "fallbacks");
    let failures = plural(r.recovered, "failure", "failures");
    writeln!(
        out,
        "  retries      {} ({} {fallbacks}): {} {failures} recovered by a retry, {} not recovered",
        r.retries, r.fallbacks, r.recovered, r.not_recovered
    )?;
    if r.window_cut > 0 {
        writeln!(
            out,
            "  limit        {} attempts handed on before their retry window passed: too many were waiting",
            r.window_cut
        )?;
    }
    Ok(())
}

/// Packets read, and those skipped, reassembled or cut, by reason.
fn write_packet_counts(out: &mut impl Write, p: &PacketCounters) -> io::Result<()> {
    writeln!(
        out,
        "  packets      {} ({} bytes), {} TCP in {} conversations",
        p.packets, p.bytes, p.tcp_packets, p.tcp_conversations
    )?;
    let anomalies = [("not IP or not TCP", p.skipped), ("malformed", p.malformed)];
    for (what, n) in anomalies.iter().filter(|(_, n)| *n > 0) {
        writeln!(out, "  skipped      {n} {what}")?;
    }
    for (reason, n) in &p.skip_reasons {
        writeln!(out, "    {n:>10}  {reason}")?;
    }
    if p.ip_fragments > 0 {
        writeln!(
            out,
            "  fragments    {} IP fragments, {} datagrams reassembled",
            p.ip_fragments, p.ip_datagrams_reassembled
        )?;
    }
    let dropped = [
        (
            "over the limit of datagrams or bytes pending",
            p.ip_fragments_over_limit,
        ),
        ("timed out", p.ip_fragments_timed_out),
        (
            "inconsistent (overlaps, lengths, cut)",
            p.ip_fragments_inconsistent,
        ),
    ];
    for (what, n) in dropped.iter().filter(|(_, n)| *n > 0) {
        writeln!(out, "  fragments    {n} dropped: {what}")?;
    }
    let anomalies = [("cut by the snaplen", p.truncated)];
    for (what, n) in anomalies.iter().filter(|(_, n)| *n > 0) {
        writeln!(out, "  skipped      {n} {what}")?;
    }
    Ok(())
}

/// What tlsdiag's own bounds left out.
fn write_limits(out: &mut impl Write, p: &PacketCounters) -> io::Result<()> {
    let limits = [
        (
            "connections judged early: the table was full (--max-connections)",
            p.evicted_connections,
        ),
        (
            "segments dropped: a direction's buffer was full (--max-buffered)",
            p.segments_over_buffer_limit,
        ),
        (
            "segments dropped: too many held out of order (--max-out-of-order)",
            p.segments_over_out_of_order_limit,
        ),
        (
            "handshake messages refused: too large (--max-handshake-message)",
            p.handshake_messages_over_limit,
        ),
        (
            "certificates not decoded: beyond --max-chain or --max-certificate",
            p.certificates_over_limit,
        ),
    ];
    for (what, n) in limits.iter().filter(|(_, n)| *n > 0) {
        writeln!(out, "  limit        {n} {what}")?;
    }
    Ok(())
}

/// What `--write-failures` put in its file, and how many connections it holds only in part.
fn write_failures_written(out: &mut impl Write, w: &FailuresWritten) -> io::Result<()> {
    let (written, cut) = w.lines();
    writeln!(out, "  written      {}", Escaped(&written))?;
    if let Some(cut) = cut {
        writeln!(out, "  limit        {cut}")?;
    }
    Ok(())
}

/// libpcap's counts of a live capture, and the drops in the warning colour.
fn write_capture_counts(out: &mut impl Write, c: &CaptureStats, style: Style) -> io::Result<()> {
    writeln!(
        out,
        "  capture      {} received, {} dropped by the kernel, {} dropped by the interface",
        c.received, c.dropped_by_kernel, c.dropped_by_interface
    )?;
    let lost = c.dropped_by_kernel + c.dropped_by_interface;
    if lost > 0 {
        let share = lost as f64 * 100.0 / (c.received.max(1) as f64);
        let count = format!("{lost} packets ({share:.2}% of those received)");
        writeln!(
            out,
            "  {}     {} were lost before tlsdiag saw them: connections reported incomplete (stream_gap, capture_ended) or with a lost ClientHello may come from those drops",
            style.paint("1;33", "dropped"),
            style.paint("1;33", &count)
        )?;
    }
    Ok(())
}

/// Late packets, unknown link types, and each file's own notes.
fn write_notes(out: &mut impl Write, s: &Summary, style: Style) -> io::Result<()> {
    let p = &s.packets;
    if p.packets_not_kept > 0 {
        writeln!(
            out,
            "  limit        {} packets not kept for --save-failures or --write-failures: all kept packets reached their budget",
            p.packets_not_kept
        )?;
    }
    if let Some(w) = &s.written_failures {
        write_failures_written(out, w)?;
    }
    if p.key_waits_unmet > 0 {
        writeln!(
            out,
            "  key log      {} connections waited for keys the key log did not get in time (2 s after their report was due, or past what they may hold): judged without them",
            p.key_waits_unmet
        )?;
    }
    if p.packets_after_close > 0 {
        writeln!(
            out,
            "  late         {} packets came after their connection closed and was judged",
            p.packets_after_close
        )?;
    }
    for (link, n) in &p.unknown_link_types {
        writeln!(out, "  skipped      {n} on unsupported link type {link}")?;
    }
    for f in &s.files {
        if f.orphan_packets > 0 {
            writeln!(
                out,
                "  skipped      {} packets of {} name a pcapng interface never described, or beyond the first {}",
                f.orphan_packets,
                Escaped(&f.path),
                crate::capture::MAX_INTERFACES
            )?;
        }
        if let Some(warning) = &f.warning {
            writeln!(
                out,
                "  {}  {}: {}",
                style.paint("1;33", "warning"),
                Escaped(&f.path),
                Escaped(warning)
            )?;
        }
        if let Some(err) = &f.error {
            writeln!(
                out,
                "  {}  {}: {}",
                style.paint("1;31", "damaged"),
                Escaped(&f.path),
                Escaped(err)
            )?;
        }
    }
    Ok(())
}
