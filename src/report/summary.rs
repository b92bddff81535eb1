//! The summary of a run: connections by outcome, and every packet accounted for.

use crate::analyze::{Analysis, PacketCounters};
use crate::capture::{CaptureFormat, FileStats};
use crate::connection::{Connection, Outcome};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, Serialize)]
pub struct FileSummary {
    pub path: String,
    pub format: Option<CaptureFormat>,
    pub packets: u64,
    /// Set when the file could not be read to its end: what went wrong and where.
    pub error: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    pub files: Vec<FileSummary>,
    /// TLS connections (and connections on TLS ports) found.
    pub connections: u64,
    /// Connections shown after --failed, --sni and --host.
    pub shown: u64,
    pub outcomes: BTreeMap<String, u64>,
    #[serde(flatten)]
    pub packets: PacketCounters,
}

impl Summary {
    /// Adds one file's analysis.
    pub fn add_file(
        &mut self,
        path: &str,
        stats: &FileStats,
        error: Option<String>,
        analysis: &Analysis,
    ) {
        self.files.push(FileSummary {
            path: path.to_string(),
            format: stats.format,
            packets: stats.packets,
            error,
        });
        for conn in &analysis.connections {
            self.count(conn);
        }
        let (p, a) = (&mut self.packets, &analysis.counters);
        p.packets += a.packets;
        p.bytes += a.bytes;
        p.tcp_packets += a.tcp_packets;
        p.tcp_conversations += a.tcp_conversations;
        p.skipped += a.skipped;
        p.malformed += a.malformed;
        p.ip_fragments += a.ip_fragments;
        p.truncated += a.truncated;
        for (name, n) in &a.unknown_link_types {
            *p.unknown_link_types.entry(name.clone()).or_default() += n;
        }
    }

    fn count(&mut self, conn: &Connection) {
        self.connections += 1;
        *self
            .outcomes
            .entry(outcome_name(conn.verdict.outcome).to_string())
            .or_default() += 1;
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
