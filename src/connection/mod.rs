//! The record of one connection: what the wire showed, in order, as facts a person or a
//! script can read (serialised with serde; the field names are a documented contract).
//!
//! Facts are added as events arrive from the TCP and TLS stages; the judgement of what they
//! mean (outcome, stage, who ended it, why) is `diagnose`'s, and is stored here once made.

mod facts;
mod fingerprints;
mod tcp;
mod timeline;
mod tls;
mod tls13;
mod verdict;

pub use facts::*;
pub use fingerprints::{ClientPrints, ServerPrints};
pub use timeline::*;
pub use tls::printable;
pub use verdict::*;

use crate::capture::Timestamp;
use crate::flow::{Endpoint, PerSide, RoleEvidence, Side};
use crate::tls::certificate::CertificateInfo;
use crate::tls::handshake::version;
pub use crate::tls::session::Decryption;
use crate::tls::values::AlertLevel;
use crate::wire_text::WireText;
use serde::Serialize;
use std::sync::Arc;

/// Reading again the records a session held for its keys (`Connection::replay`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Replay {
    #[default]
    Off,
    /// Reading again; the record being read told nothing, or its line was not found.
    On,
    /// The lines of the record being read go at `at`, its size-only line's place; they are
    /// added at the end of the ladder from `from` on.
    Into { at: usize, from: usize },
}

/// The most events a timeline keeps; later ones are counted in `timeline_dropped`.
pub(crate) const MAX_TIMELINE: usize = 256;

/// Application-data records from one side after which a connection the capture joined past
/// its handshake is settled though the other side sent none: a TLS 1.3 server's encrypted
/// flight is a handful of records before the client's Finished.
pub const JOINED_RECORDS: u32 = 16;

/// A retry that offered less than the attempt before it: an older highest version or fewer
/// cipher suites (a client working around a server, or a middlebox, that failed it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fallback {
    pub highest_version_before: &'static str,
    pub highest_version: &'static str,
    pub cipher_suites_before: usize,
    pub cipher_suites: usize,
}

/// One connection, as reported.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Connection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Live capture with --save-failures: the pcap file holding this failure's packets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saved_packets: Option<String>,
    pub tcp_stream: u64,
    pub client: Option<Endpoint>,
    pub server: Option<Endpoint>,
    pub(crate) roles_from: Option<RoleEvidence>,
    /// The layers outside the IP packet of the connection's first segment, outermost first
    /// (VLAN tags, MPLS, PPPoE, outer IP, GRE, ERSPAN, VXLAN, Geneve); omitted when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub encapsulation: Vec<crate::net::Layer>,
    pub(crate) first_frame: u64,
    pub(crate) last_frame: u64,
    /// Written as RFC 3339 when reported; kept as a time until then (most connections of a
    /// busy capture are never printed one by one).
    #[serde(serialize_with = "crate::capture::serialize_rfc3339")]
    pub start: Timestamp,
    pub(crate) duration_ms: f64,

    pub sni: Option<WireText>,
    /// The SNI's bytes in hex, present only when they were not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni_hex: Option<String>,
    pub client_versions: Names,
    pub(crate) cipher_suites: Names,
    pub alpn_offered: Vec<WireText>,
    /// Every offered ALPN name's bytes in hex, present only when one was not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) alpn_offered_hex: Option<Vec<String>>,
    pub(crate) groups: Names,
    pub(crate) key_share_groups: Names,
    pub(crate) signature_algorithms: Names,
    pub(crate) client_extensions: Names,
    pub resumption_offered: ResumptionOffer,
    pub(crate) client_hello_size: Option<usize>,
    /// `ja3`, `ja3_full`, `ja4`, `ja4_r`: set when the connection is judged.
    #[serde(flatten)]
    pub client_fingerprints: ClientPrints,

    pub version: Option<&'static str>,
    pub cipher: Option<&'static str>,
    pub alpn: Option<WireText>,
    /// The chosen ALPN name's bytes in hex, present only when they were not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) alpn_hex: Option<String>,
    pub(crate) group: Option<&'static str>,
    pub resumed: Option<bool>,
    pub(crate) server_extensions: Names,
    pub hello_retry: Option<HelloRetry>,
    /// `ja3s`, `ja3s_full`, `ja4s`, `ja4s_r`: set when the connection is judged.
    #[serde(flatten)]
    pub server_fingerprints: ServerPrints,

    pub certificates: Vec<Arc<CertificateInfo>>,
    pub(crate) client_certificates: Vec<Arc<CertificateInfo>>,
    pub(crate) certificates_undecoded: usize,
    pub(crate) certificate_requested: bool,

    pub alerts: Vec<Alert>,
    /// With a key log: whether this connection's records were decrypted.
    pub decryption: Decryption,
    pub encrypted_records: PerSide<RecordStats>,
    /// The first bytes of each side's non-TLS data, printable (STARTTLS, HTTP, banners).
    pub plaintext: PerSide<Option<String>>,
    pub gaps: Vec<GapInfo>,
    pub(crate) malformed: Vec<String>,
    pub tcp: TcpFacts,
    pub timeline: Vec<TimelineEvent>,
    pub(crate) timeline_dropped: u64,
    /// Whether records held for a followed key log's keys are being read again.
    #[serde(skip)]
    pub(crate) replaying: Replay,

    #[serde(flatten)]
    pub verdict: Verdict,
    /// Why it failed: present when the outcome is not `established`.
    pub diagnosis: Option<Diagnosis>,
    /// Weaknesses of an established connection.
    pub warnings: Vec<Warning>,
    /// The `tcp_stream` of the attempt this connection retried: the same client address to
    /// the same server (and SNI, where the attempt sent one), started within the retry
    /// window after that attempt failed or was left incomplete.
    pub retry_of: Option<u64>,
    /// The `tcp_stream` of the connection that retried this one.
    pub retried_by: Option<u64>,
    /// Set on a retry that offered less than the attempt it retried.
    pub fallback: Option<Fallback>,

    #[serde(skip)]
    pub facts: Facts,
}

impl Connection {
    pub fn new(tcp_stream: u64, first_frame: u64, ts: Timestamp) -> Self {
        Connection {
            tcp_stream,
            first_frame,
            last_frame: first_frame,
            start: ts,
            facts: Facts {
                start_ts: ts,
                last_ts: ts,
                ..Default::default()
            },
            ..Default::default()
        }
    }

    pub(crate) fn set_roles(&mut self, client: Endpoint, server: Endpoint, evidence: RoleEvidence) {
        self.client = Some(client);
        self.server = Some(server);
        self.roles_from = Some(evidence);
    }

    fn time_of(&self, ts: Timestamp) -> f64 {
        (ts.seconds_since(self.facts.start_ts) * 1e6).round() / 1e6
    }

    /// Sets `duration_ms` from the first and last packets: once, when the connection is
    /// judged, rather than for each of its packets.
    pub(crate) fn close_duration(&mut self) {
        let seconds = self.facts.last_ts.seconds_since(self.facts.start_ts);
        self.duration_ms = (seconds * 1e6).round() / 1e3;
    }

    pub(crate) fn note(
        &mut self,
        side: Side,
        frame: u64,
        ts: Timestamp,
        event: EventKind,
        detail: Option<Detail>,
    ) {
        // The stage advances even when the timeline is full.
        if let Some(stage) = Stage::reached_by(event, side, self.speaks_tls13()) {
            self.advance(stage);
        }
        if self.timeline.len() >= MAX_TIMELINE {
            self.timeline_dropped += 1;
            return;
        }
        if event == EventKind::ClientHello {
            // A handshake's timeline has a dozen or so events: room for them at once, rather
            // than growing twice (and not before, so that a flood of SYNs stays small).
            self.timeline
                .reserve(16usize.saturating_sub(self.timeline.len()));
        }
        let time = self.time_of(ts);
        self.timeline.push(TimelineEvent {
            frame,
            time,
            from: side,
            event,
            detail,
        });
    }

    fn advance(&mut self, stage: Stage) {
        if stage > self.facts.stage {
            self.facts.stage = stage;
        }
    }

    /// TLS 1.3 was negotiated, in its RFC form or one of its drafts.
    pub(crate) fn is_tls13(&self) -> bool {
        self.facts
            .server_hello
            .as_ref()
            .is_some_and(|h| !h.message.hello_retry && version::is_tls13(h.message.version()))
    }

    /// TLS 1.3 was negotiated or asked for (a HelloRetryRequest is TLS 1.3 only): a
    /// ChangeCipherSpec is then a compatibility no-op, not the start of encryption.
    pub(crate) fn speaks_tls13(&self) -> bool {
        self.is_tls13() || self.hello_retry.is_some()
    }

    /// Whether the handshake's fate is known, so that payload need no longer be buffered.
    pub(crate) fn settled(&self) -> bool {
        let f = &self.facts;
        f.established_at.is_some()
            || self
                .alerts
                .iter()
                .any(|a| a.level != Some(AlertLevel::WARNING))
            || f.rst.client.is_some()
            || f.rst.server.is_some()
            || self.joined_after_handshake()
    }

    /// The handshake completed, its start is in the capture and no Finished failed to verify:
    /// the verdict will be `established` (as `diagnose::judge` decides) whatever follows, since
    /// nothing after a settled handshake is decoded.
    pub(crate) fn established_for_good(&self) -> bool {
        let f = &self.facts;
        f.established_at.is_some() && !self.start_unseen() && f.finished_mismatch.is_none()
    }

    /// Neither a SYN nor a ClientHello of this connection has been seen (the capture may have
    /// joined it late).
    pub(crate) fn start_unseen(&self) -> bool {
        let f = &self.facts;
        f.client_hello.is_none() && f.syn.is_none() && f.syn_ack.is_none()
    }

    /// The capture joined this connection after its handshake, and nothing that follows can
    /// change its verdict (`capture_started_late` at the stage reached): no SYN and no hello,
    /// and application data from both sides, since a side sends no ChangeCipherSpec or
    /// Finished after its own, or `JOINED_RECORDS` records of it from one side (a download,
    /// whose client sends nothing), which bounds the wait for a TLS 1.3 client's Finished, so
    /// that a long connection the capture joined is not framed record by record to its end.
    fn joined_after_handshake(&self) -> bool {
        let f = &self.facts;
        let records = &f.application_records;
        self.start_unseen()
            && f.server_hello.is_none()
            && ((records.client > 0 && records.server > 0)
                || records.client.max(records.server) >= JOINED_RECORDS)
    }

    /// Keeps the first limit reached.
    pub(crate) fn limit_reached(&mut self, hit: LimitHit) {
        self.facts.limit.get_or_insert(hit);
    }
}
