//! The text summary's grouped view (`--group-by`): by default each server with failures and
//! the client fingerprints that failed against it or established.

use super::groups::{Counts, Fingerprint, Groups, Row, ServerClients, View};
use super::summary::Summary;
use crate::wire_text::{WireText, join};
use std::io::{self, Write};

/// The view the text summary shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GroupBy {
    /// Each server with failures and the fingerprints that failed or established against it.
    #[default]
    Server,
    Client,
    Ja4,
    Sni,
    /// The failure classes.
    Code,
}

pub(super) fn write_groups(out: &mut impl Write, s: &Summary, by: GroupBy) -> io::Result<()> {
    let g: &Groups = &s.groups;
    match by {
        GroupBy::Server => write_servers(out, &g.servers_by_fingerprint),
        GroupBy::Client => write_view(out, "client", &g.clients, |r| {
            r.key.client.map_or("?".to_string(), |ip| ip.to_string())
        }),
        GroupBy::Sni => write_view(out, "sni", &g.snis, |r| sni_text(r.key.sni.as_ref())),
        GroupBy::Ja4 => write_view(out, "client", &g.fingerprints, |r| fingerprint(&r.key)),
        GroupBy::Code => {
            let mut codes: Vec<(&String, &u64)> = s.codes.iter().collect();
            codes.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
            for (code, n) in codes {
                writeln!(out, "  code         {code}: {n}")?;
            }
            Ok(())
        }
    }
}

fn write_view<R>(
    out: &mut impl Write,
    what: &str,
    view: &View<Row<R>>,
    name: impl Fn(&Row<R>) -> String,
) -> io::Result<()> {
    for row in &view.top {
        writeln!(out, "  {what:<12} {}: {}", name(row), counts(&row.counts))?;
    }
    write_rest(out, view)
}

fn write_rest<R>(out: &mut impl Write, view: &View<R>) -> io::Result<()> {
    if view.other_groups > 0 {
        writeln!(
            out,
            "  {:<12} {} more with {} connections",
            "", view.other_groups, view.other_connections
        )?;
    }
    if view.ungrouped > 0 {
        writeln!(
            out,
            "  {:<12} {} connections not grouped: the view held its most keys",
            "", view.ungrouped
        )?;
    }
    Ok(())
}

/// Each server with failures, in a sentence that names the fingerprints that failed, then one
/// line per fingerprint.
fn write_servers(out: &mut impl Write, view: &View<ServerClients>) -> io::Result<()> {
    for s in &view.top {
        let name = match &s.server.server {
            Some(ip) => format!("{ip} ({})", sni_text(s.server.sni.as_ref())),
            None => sni_text(s.server.sni.as_ref()),
        };
        writeln!(out, "  server       {name}: {}", server_sentence(s))?;
        for row in &s.fingerprints.top {
            writeln!(
                out,
                "    {}: {}",
                fingerprint(&row.key),
                counts(&row.counts)
            )?;
        }
        if s.fingerprints.other_groups > 0 {
            writeln!(
                out,
                "    and {} more fingerprints with {} connections",
                s.fingerprints.other_groups, s.fingerprints.other_connections
            )?;
        }
    }
    write_rest(out, view)
}

/// "412 failed, all from ja4 X; 9870 established from 14 other fingerprints".
fn server_sentence(s: &ServerClients) -> String {
    let rows = &s.fingerprints.top;
    let failing: Vec<&Row<Fingerprint>> = rows
        .iter()
        .filter(|r| r.counts.not_established() > 0)
        .collect();
    let mut text = not_established(&s.counts);
    match failing.as_slice() {
        [only] if s.fingerprints.other_groups == 0 => {
            text += &format!(", all from {}", fingerprint(&only.key));
        }
        [first, ..] => {
            text += &format!(
                ", most from {} ({})",
                fingerprint_short(&first.key),
                first.counts.not_established()
            );
        }
        [] => {}
    }
    let others: Vec<&Row<Fingerprint>> = rows
        .iter()
        .filter(|r| r.counts.not_established() == 0)
        .collect();
    let others_established: u64 = others.iter().map(|r| r.counts.established).sum();
    let other_prints = others.len() as u64 + s.fingerprints.other_groups;
    if others_established > 0 || s.fingerprints.other_groups > 0 {
        let beyond_top =
            s.counts.established - rows.iter().map(|r| r.counts.established).sum::<u64>();
        text += &format!(
            "; {} established from {other_prints} other {}",
            others_established + beyond_top,
            plural(other_prints, "fingerprint", "fingerprints")
        );
    }
    let failing_established: u64 = failing.iter().map(|r| r.counts.established).sum();
    if failing_established > 0 {
        text += &format!("; {failing_established} established with the failing fingerprints");
    }
    text
}

pub(super) fn plural(n: u64, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

fn not_established(c: &Counts) -> String {
    match (c.failed, c.incomplete) {
        (f, 0) => format!("{f} failed"),
        (0, i) => format!("{i} incomplete"),
        (f, i) => format!("{f} failed, {i} incomplete"),
    }
}

fn counts(c: &Counts) -> String {
    let n = c.connections;
    let mut parts = vec![format!("{n} {}", plural(n, "connection", "connections"))];
    for (n, word) in [
        (c.established, "established"),
        (c.failed, "failed"),
        (c.incomplete, "incomplete"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {word}"));
        }
    }
    parts.join(", ")
}

fn sni_text(sni: Option<&WireText>) -> String {
    sni.map_or("no SNI".to_string(), ToString::to_string)
}

/// "ja4 t13d1516h2_8daaf6152771_b186095e22b6 (offers TLSv1.3, TLSv1.2; ALPN h2, http/1.1)".
fn fingerprint(f: &Fingerprint) -> String {
    let mut text = fingerprint_short(f);
    if !f.versions_offered.is_empty() {
        text += &format!(" (offers {}", f.versions_offered.join(", "));
        if !f.alpn_offered.is_empty() {
            text += &format!("; ALPN {}", join(&f.alpn_offered, ", "));
        }
        text += ")";
    }
    text
}

fn fingerprint_short(f: &Fingerprint) -> String {
    match &f.ja4 {
        Some(ja4) => format!("ja4 {ja4}"),
        None => "no ClientHello".to_string(),
    }
}
