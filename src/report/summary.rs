//! The summary of a run: connections by outcome, and every packet accounted for.

use super::json_word;
use crate::analyze::PacketCounters;
use crate::capture::{CaptureFormat, FileStats};
use crate::connection::{Code, Connection, Outcome};
use crate::wire_text::WireText;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

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
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    pub files: Vec<FileSummary>,
    /// TLS connections (and connections on TLS ports) found.
    pub connections: u64,
    /// Connections shown after --failed, --sni and --host.
    pub shown: u64,
    pub outcomes: BTreeMap<String, u64>,
    /// Failed and incomplete connections by diagnosis code.
    pub codes: BTreeMap<String, u64>,
    /// The servers (address and SNI) with the most connections that did not establish,
    /// most first (the first ten, after `finish`).
    pub failing_servers: Vec<ServerFailures>,
    #[serde(flatten)]
    pub packets: PacketCounters,
    /// Live capture only: what libpcap counted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture: Option<CaptureStats>,
    /// What `count` gathers, cheap to update; `finish` turns it into `codes` and
    /// `failing_servers`.
    #[serde(skip)]
    code_counts: BTreeMap<Code, u64>,
    #[serde(skip)]
    failures_by_server: HashMap<(String, Option<WireText>), u64>,
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
pub struct ServerFailures {
    pub server: String,
    pub sni: Option<WireText>,
    pub failures: u64,
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
        });
        // Through the sum `-j` uses for its workers, which names every counter.
        self.packets.add(a);
    }

    /// Counts one connection by outcome, diagnosis and failing server.
    pub fn count(&mut self, conn: &Connection) {
        self.connections += 1;
        let outcome = outcome_name(conn.verdict.outcome);
        match self.outcomes.get_mut(outcome) {
            Some(n) => *n += 1,
            None => {
                self.outcomes.insert(outcome.to_string(), 1);
            }
        }
        let Some(diagnosis) = &conn.diagnosis else {
            return;
        };
        *self.code_counts.entry(diagnosis.code).or_default() += 1;
        if conn.verdict.outcome != Outcome::Failed {
            return;
        }
        let server = conn.server.map(|s| s.ip.to_string()).unwrap_or_default();
        *self
            .failures_by_server
            .entry((server, conn.sni.clone()))
            .or_default() += 1;
    }

    /// Names the codes, and orders the failing servers, most failures first, keeping the
    /// first ten.
    pub fn finish(&mut self) {
        self.codes = self
            .code_counts
            .iter()
            .map(|(code, &n)| (json_word(code), n))
            .collect();
        let mut servers: Vec<ServerFailures> = self
            .failures_by_server
            .iter()
            .map(|((server, sni), &failures)| ServerFailures {
                server: server.clone(),
                sni: sni.clone(),
                failures,
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

pub fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Established => "established",
        Outcome::Failed => "failed",
        Outcome::Incomplete => "incomplete",
        Outcome::NotTls => "not_tls",
    }
}
