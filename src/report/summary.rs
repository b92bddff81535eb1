//! The summary of a run: connections by outcome, and every packet accounted for.

use super::groups::{Groups, Tallies};
use super::json_word;
use crate::analyze::PacketCounters;
use crate::capture::{CaptureFormat, FileStats};
use crate::connection::{Code, Connection, Decryption, Outcome};
use crate::link::RetryCounts;
use crate::tls::keylog::{KeyLog, LineAt, Source};
use crate::wire_text::WireText;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, Serialize)]
pub struct FileSummary {
    pub path: String,
    pub format: Option<CaptureFormat>,
    pub packets: u64,
    /// Set when the file could not be read to its end: what went wrong and where.
    pub error: Option<String>,
    /// pcapng packets naming an interface never described (or beyond the first
    /// `MAX_INTERFACES` of a section): counted, not analysed; omitted when 0.
    #[serde(skip_serializing_if = "crate::analyze::is_zero")]
    pub orphan_packets: u64,
    /// Set when the file held packets but not one TCP segment was read from them, or more
    /// than 1% of them could not be read (malformed, unsupported link type or tunnel
    /// payload, fragments): how many, and the commonest reasons with their counts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// Reasons named in a file's warning, most packets first.
const WARNING_REASONS: usize = 3;

/// A file's warning (`FileSummary::warning`), if it needs one.
fn coverage_warning(a: &PacketCounters) -> Option<String> {
    let packets = a.packets;
    let unread = a.unread();
    let (what, only_unread) = if packets > 0 && a.tcp_packets == 0 {
        (
            format!("{packets} packets but not one TCP segment read"),
            false,
        )
    } else if unread.saturating_mul(100) > packets {
        let share = unread as f64 * 100.0 / packets as f64;
        (
            format!("{unread} of {packets} packets ({share:.1}%) could not be read"),
            true,
        )
    } else {
        return None;
    };
    let mut reasons: Vec<(u64, String)> = a
        .unknown_link_types
        .iter()
        .map(|(link, &n)| (n, format!("unsupported link type {link}")))
        .chain(
            a.skip_reasons
                .iter()
                .filter(|(r, _)| !only_unread || r.is_unread())
                .map(|(r, &n)| (n, r.to_string())),
        )
        .collect();
    reasons.sort_by(|x, y| y.0.cmp(&x.0).then_with(|| x.1.cmp(&y.1)));
    let named: Vec<String> = reasons
        .iter()
        .take(WARNING_REASONS)
        .map(|(n, r)| format!("{n} {r}"))
        .collect();
    if named.is_empty() {
        return Some(what);
    }
    Some(format!("{what}: {}", named.join(", ")))
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    pub files: Vec<FileSummary>,
    /// TLS connections (and connections on TLS ports) found.
    pub(crate) connections: u64,
    /// Connections shown after --failed, --sni and --host.
    pub shown: u64,
    pub(crate) outcomes: BTreeMap<String, u64>,
    /// Failed and incomplete connections by diagnosis code.
    pub(crate) codes: BTreeMap<String, u64>,
    /// The servers (address and SNI) with the most failed connections, most first (the first
    /// ten, after `finish`).
    pub(crate) failing_servers: Vec<ServerFailures>,
    /// Connections grouped by server, SNI, client and fingerprint, and each failing server's
    /// fingerprints (after `finish`).
    pub groups: Groups,
    /// Retries linked to the attempts they retried, and the failures they recovered from.
    pub retries: RetryCounts,
    #[serde(flatten)]
    pub(crate) packets: PacketCounters,
    /// Live capture only: what libpcap counted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture: Option<CaptureStats>,
    /// With a key log only: what it held, and what it decrypted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keylog: Option<KeyLogSummary>,
    /// With --write-failures only: what went into the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub written_failures: Option<super::FailuresWritten>,
    /// What `count` gathers, cheap to update; `finish` turns it into `codes` and
    /// `failing_servers`.
    #[serde(skip)]
    code_counts: BTreeMap<Code, u64>,
    #[serde(skip)]
    tallies: Tallies,
}

/// The key logs given: their secrets, the lines that were not key log lines (by number: a
/// key log is secret, so no line is ever shown), and the connections by decryption result.
#[derive(Clone, Debug, Default, Serialize)]
pub struct KeyLogSummary {
    /// Client randoms with secrets.
    pub(crate) client_randoms: usize,
    pub(crate) malformed_lines: u64,
    /// Where the first malformed lines are: "line 3", "secrets block 1 line 2".
    pub(crate) malformed_at: Vec<String>,
    pub(crate) decrypted: u64,
    pub(crate) no_keys: u64,
    pub(crate) failed: u64,
}

impl KeyLogSummary {
    pub fn of(keylog: &KeyLog) -> KeyLogSummary {
        let mut summary = KeyLogSummary::default();
        summary.read(keylog);
        summary
    }

    /// What the key log holds now (a followed one grows), with the connections counted so
    /// far.
    pub fn read(&mut self, keylog: &KeyLog) {
        let stats = keylog.stats();
        let at = |l: &LineAt| match l.source {
            Source::File(n) if stats.files > 1 => format!("key log {n} line {}", l.line),
            Source::File(_) => format!("line {}", l.line),
            Source::DecryptionSecretsBlock(n) => format!("secrets block {n} line {}", l.line),
        };
        self.client_randoms = keylog.len();
        self.malformed_lines = stats.malformed;
        self.malformed_at = stats.malformed_lines.iter().map(at).collect();
    }

    /// What the key logs held and decrypted, in a line.
    pub(crate) fn counts_line(&self) -> String {
        format!(
            "{} client randoms: {} connections decrypted, {} without keys, {} failed",
            self.client_randoms, self.decrypted, self.no_keys, self.failed
        )
    }

    /// What an operator should look at: lines not understood, a key log that opened nothing.
    pub(crate) fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.malformed_lines > 0 {
            out.push(format!(
                "{} key log lines not understood (not shown: they hold secrets): {}",
                self.malformed_lines,
                self.malformed_at.join(", ")
            ));
        }
        // Said once connections without keys were seen: live, the first ones may still come.
        if self.decrypted == 0 && self.failed == 0 && self.no_keys > 0 {
            out.push(
                "the key log matches no connection of the capture (a key log of another run?)"
                    .to_string(),
            );
        }
        if self.failed > 0 {
            out.push(format!(
                "{} connections had keys that did not open their records: a key log of another run of the same client?",
                self.failed
            ));
        }
        out
    }

    fn count(&mut self, decryption: Decryption) {
        match decryption {
            Decryption::Ok => self.decrypted += 1,
            Decryption::NoKeys => self.no_keys += 1,
            Decryption::Failed => self.failed += 1,
            Decryption::None => {}
        }
    }
}

/// What the capture library counted during a live capture.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct CaptureStats {
    /// Packets that passed the filter.
    pub received: u64,
    /// Dropped by the kernel: its buffer was full, tlsdiag did not read fast enough.
    pub dropped_by_kernel: u64,
    /// Dropped by the interface or its driver.
    pub dropped_by_interface: u64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct ServerFailures {
    pub(crate) server: String,
    pub(crate) sni: Option<WireText>,
    pub(crate) failures: u64,
}

impl Summary {
    /// Adds one file's counters (its connections are counted one by one with `count`).
    pub fn add_counters(
        &mut self,
        path: &str,
        stats: &FileStats,
        error: Option<String>,
        a: &PacketCounters,
    ) {
        self.files.push(FileSummary {
            path: path.to_string(),
            format: stats.format,
            packets: stats.packets,
            error,
            orphan_packets: stats.orphan_packets,
            warning: coverage_warning(a),
        });
        // Through the sum `-j` uses for its workers, which names every counter.
        self.packets.add(a);
    }

    /// Counts one connection by outcome, diagnosis and failing server.
    pub fn count(&mut self, conn: &Connection) {
        self.connections += 1;
        if let Some(keylog) = &mut self.keylog {
            keylog.count(conn.decryption);
        }
        let outcome = outcome_name(conn.verdict.outcome);
        match self.outcomes.get_mut(outcome) {
            Some(n) => *n += 1,
            None => {
                self.outcomes.insert(outcome.to_string(), 1);
            }
        }
        self.tallies.count(conn);
        if let Some(diagnosis) = &conn.diagnosis {
            *self.code_counts.entry(diagnosis.code).or_default() += 1;
        }
    }

    /// Names the codes, orders the failing servers, most failures first, keeping the first
    /// ten, and makes the groups, keeping the largest `top` of each view.
    pub fn finish(&mut self, top: usize) {
        self.codes = self
            .code_counts
            .iter()
            .map(|(code, &n)| (json_word(code), n))
            .collect();
        self.groups = self.tallies.groups(top);
        let mut servers: Vec<ServerFailures> = self
            .tallies
            .servers()
            .filter(|(_, counts)| counts.failed > 0)
            .map(|(server, counts)| ServerFailures {
                server: server.server.map(|ip| ip.to_string()).unwrap_or_default(),
                sni: server.sni,
                failures: counts.failed,
            })
            .collect();
        servers.sort_by(|a, b| {
            b.failures
                .cmp(&a.failures)
                .then_with(|| (&a.server, &a.sni).cmp(&(&b.server, &b.sni)))
        });
        servers.truncate(10);
        self.failing_servers = servers;
    }

    pub fn outcome(&self, outcome: Outcome) -> u64 {
        self.outcomes
            .get(outcome_name(outcome))
            .copied()
            .unwrap_or(0)
    }
}

pub(crate) fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Established => "established",
        Outcome::Failed => "failed",
        Outcome::Incomplete => "incomplete",
        Outcome::NotTls => "not_tls",
    }
}
