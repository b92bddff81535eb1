//! The verdict on a connection: did its handshake establish, and if not, which failure class,
//! where, who gave up, at which frame, on what evidence, the likely cause, the fix, and what a
//! browser would have shown. Established connections get warnings instead.
//!
//! Rules are tried in the order of a connection's life: TCP (`tcp`), bytes that are not TLS
//! (`plaintext`), alerts (`alerts`), silent closes and stalls (`closes`), then what the capture
//! itself lacks (`capture`). The first rule that applies wins; each is a function named for its
//! decision. Inference only draws on facts the record holds, and says so (`Likely`).

mod alerts;
mod capture;
mod certificates;
mod closes;
mod plaintext;
mod tcp;
mod warnings;
mod words;

use crate::connection::{
    Close, CloseKind, Code, Confidence, Connection, Diagnosis, EndedBy, Evidence, Outcome, Stage,
    Verdict, Warning,
};
use crate::flow::Side;
use crate::wire_text;

/// What the user can tune about judgement.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DiagnoseOptions {
    /// Server think time (ClientHello to ServerHello), and whole-handshake time, above which an
    /// established connection is warned about, in milliseconds.
    pub slow_handshake_ms: f64,
}

impl Default for DiagnoseOptions {
    fn default() -> Self {
        DiagnoseOptions {
            slow_handshake_ms: 1000.0,
        }
    }
}

/// The judgement of one connection.
pub(crate) struct Judgement {
    pub(crate) verdict: Verdict,
    pub(crate) diagnosis: Option<Diagnosis>,
    pub(crate) warnings: Vec<Warning>,
}

type Rule = fn(&Connection) -> Option<Diagnosis>;

/// In the order of a connection's life; the first that applies decides.
const RULES: &[Rule] = &[
    tcp::icmp_unreachable,
    tcp::refused,
    tcp::no_response,
    capture::started_late,
    capture::limit_reached,
    capture::truncated_packets,
    capture::gap_before_the_end,
    plaintext::client_not_tls,
    plaintext::server_not_tls,
    alerts::finished_mismatch,
    alerts::hello_retry_failed,
    alerts::alert_received,
    closes::certificate_rejected_tls13,
    closes::server_rejected_client_certificate_tls13,
    closes::client_hello_lost,
    closes::no_server_hello,
    closes::closed_during_handshake,
];

pub(crate) fn judge(conn: &Connection, options: &DiagnoseOptions) -> Judgement {
    // Without its start, even a completed handshake cannot be vouched for.
    let started_late = capture::started_late(conn);
    let altered = conn.facts.finished_mismatch.is_some();
    if let (Some(frame), None, false) = (conn.facts.established_at, &started_late, altered) {
        return Judgement {
            verdict: established(conn, frame),
            diagnosis: None,
            warnings: warnings::of(conn, options),
        };
    }
    let mut diagnosis = started_late
        .or_else(|| capture::one_direction(conn))
        .or_else(|| RULES.iter().find_map(|rule| rule(conn)))
        .unwrap_or_else(|| capture::ended(conn));
    if let Some(missing) = silent_side(conn)
        && diagnosis.code != Code::CaptureOneDirection
    {
        diagnosis.evidence.push(Evidence {
            frame: None,
            fact: format!(
                "the capture holds no packet from the {}: asymmetric routing, or a capture filter",
                side_word(missing)
            ),
        });
    }
    if !matches!(
        diagnosis.code,
        Code::TruncatedPackets | Code::StreamGap | Code::LimitReached
    ) && let Some(hole) = capture::holes(conn)
    {
        diagnosis.evidence.push(hole);
    }
    if let Some(earlier) = conn.facts.earlier_attempt {
        diagnosis.evidence.push(Evidence {
            frame: Some(earlier.reset),
            fact: format!(
                "an earlier attempt (SYN at frame {}) was reset by the {} before any data; this \
                verdict is on the retry from frame {}",
                earlier.syn,
                side_word(earlier.by),
                earlier.retry
            ),
        });
    }
    order_evidence(&mut diagnosis.evidence);
    let outcome = match diagnosis.code {
        Code::NotTlsClient => Outcome::NotTls,
        Code::CaptureStartedLate
        | Code::CaptureOneDirection
        | Code::CaptureEnded
        | Code::TruncatedPackets
        | Code::StreamGap
        | Code::LimitReached => Outcome::Incomplete,
        _ => Outcome::Failed,
    };
    Judgement {
        verdict: Verdict {
            outcome,
            stage: diagnosis.stage,
            ended_by: diagnosis.ended_by,
            frame: diagnosis.frame,
            reason: diagnosis.summary.clone(),
        },
        diagnosis: Some(diagnosis),
        warnings: Vec::new(),
    }
}

/// Puts the evidence in frame order; a fact without a frame stays after the one before it.
fn order_evidence(evidence: &mut Vec<Evidence>) {
    let mut key = 0;
    let mut keyed: Vec<(u64, Evidence)> = evidence
        .drain(..)
        .map(|e| {
            key = e.frame.unwrap_or(key);
            (key, e)
        })
        .collect();
    keyed.sort_by_key(|(k, _)| *k);
    evidence.extend(keyed.into_iter().map(|(_, e)| e));
}

fn established(conn: &Connection, frame: u64) -> Verdict {
    let ended_by = first_close(conn).map_or(EndedBy::Unknown, |c| c.side.into());
    let version = conn.version.unwrap_or("TLS");
    let cipher = conn.cipher.unwrap_or("unknown cipher");
    let how = if conn.resumed == Some(true) {
        ", resumed"
    } else {
        ""
    };
    let inferred = if conn.is_tls13() {
        " (inferred: the client's encrypted Finished was not answered by an alert)"
    } else {
        ""
    };
    // Pieces pushed, not formatted: every established connection has this line.
    let mut reason = String::with_capacity(128);
    for piece in ["handshake completed: ", version, " ", cipher, how, inferred] {
        reason.push_str(piece);
    }
    if let Some(missing) = silent_side(conn) {
        reason.push_str(" (the capture holds no packet from the ");
        reason.push_str(side_word(missing));
        reason.push(')');
    }
    Verdict {
        outcome: Outcome::Established,
        stage: Stage::Established,
        ended_by,
        frame,
        reason,
    }
}

impl Diagnosis {
    fn new(code: Code, stage: Stage, ended_by: EndedBy, frame: u64) -> Self {
        Diagnosis {
            code,
            stage,
            ended_by,
            frame,
            confidence: Confidence::Certain,
            summary: String::new(),
            evidence: Vec::new(),
            cause: String::new(),
            fix: String::new(),
            browser_error: None,
        }
    }

    fn likely(mut self) -> Self {
        self.confidence = Confidence::Likely;
        self
    }

    fn summary(mut self, text: impl Into<String>) -> Self {
        self.summary = text.into();
        self
    }

    fn evidence(mut self, frame: impl Into<Option<u64>>, fact: impl Into<String>) -> Self {
        self.evidence.push(Evidence {
            frame: frame.into(),
            fact: fact.into(),
        });
        self
    }

    /// The cause, fix and browser error the table holds for `why`.
    fn words(mut self, why: words::Why) -> Self {
        let words = words::words(why);
        self.cause = words.cause;
        self.fix = words.fix;
        self.browser_error = words.browser;
        self
    }

    /// The ClientHello, as the first piece of evidence of any TLS-stage failure.
    fn with_client_hello(self, conn: &Connection) -> Self {
        match &conn.facts.client_hello {
            Some(hello) => self.evidence(hello.frame, client_hello_words(conn)),
            None => self,
        }
    }
}

/// "ClientHello for server.test offering TLSv1.3, TLSv1.2; 31 cipher suites; ALPN h2".
fn client_hello_words(conn: &Connection) -> String {
    let sni = conn
        .sni
        .as_ref()
        .map_or("without SNI".to_string(), |s| format!("for {s}"));
    let versions: Vec<&str> = conn.client_versions.without_grease().collect();
    let mut words = format!(
        "ClientHello {sni} offering {}; {} cipher suites",
        versions.join(", "),
        conn.cipher_suites.without_grease().count()
    );
    if !conn.alpn_offered.is_empty() {
        words.push_str(&format!(
            "; ALPN {}",
            wire_text::join(&conn.alpn_offered, ", ")
        ));
    }
    words
}

/// The side that closed first (FIN or RST), with the frame.
fn first_close(conn: &Connection) -> Option<Close> {
    let f = &conn.facts;
    let close = |side, frame, kind| Close { side, frame, kind };
    [
        f.rst
            .client
            .map(|r| close(Side::Client, r.frame, CloseKind::Rst)),
        f.rst
            .server
            .map(|r| close(Side::Server, r.frame, CloseKind::Rst)),
        f.fin
            .client
            .map(|fr| close(Side::Client, fr, CloseKind::Fin)),
        f.fin
            .server
            .map(|fr| close(Side::Server, fr, CloseKind::Fin)),
    ]
    .into_iter()
    .flatten()
    .min_by_key(|c| c.frame)
}

/// The side the capture never saw a packet from, when the other side talked (a refused or
/// unanswered SYN is not such a case: there the silence is the finding).
fn silent_side(conn: &Connection) -> Option<Side> {
    let p = &conn.tcp.packets;
    match (p.client, p.server) {
        (0, s) if s > 0 => Some(Side::Client),
        (c, 0) if c > 0 && conn.tcp.payload_bytes.client > 0 => Some(Side::Server),
        _ => None,
    }
}

fn side_word(side: Side) -> &'static str {
    match side {
        Side::Client => "client",
        Side::Server => "server",
    }
}

fn stage_words(stage: Stage) -> &'static str {
    match stage {
        Stage::TcpConnect => "before any ClientHello",
        Stage::ClientHello => "after the ClientHello",
        Stage::ServerHello => "after the ServerHello",
        Stage::ServerCertificate => "after the server's Certificate",
        Stage::ServerKeyExchange => "after the server's key exchange",
        Stage::ClientCertificate => "after the client's Certificate",
        Stage::ClientKeyExchange => "after the client's key exchange",
        Stage::Finished => "at the Finished messages",
        Stage::EncryptedHandshake => "in the encrypted part of the TLS 1.3 handshake",
        Stage::Established => "after the handshake",
    }
}

/// The stage reached by the time of `frame`: the furthest stage of the timeline events up to it.
fn stage_at(conn: &Connection, frame: u64) -> Stage {
    let tls13 = conn.speaks_tls13();
    conn.timeline
        .iter()
        .filter(|e| e.frame <= frame)
        .filter_map(|e| Stage::reached_by(e.event, e.from, tls13))
        .max()
        .unwrap_or(Stage::TcpConnect)
}

/// Milliseconds between two frames' times, when both are known.
fn ms_between(a: crate::capture::Timestamp, b: crate::capture::Timestamp) -> f64 {
    (b.seconds_since(a) * 1e6).round() / 1e3
}

/// The absolute time of an event `offset` seconds into the connection (timeline times are
/// relative to the connection's first packet).
fn timestamp_at(conn: &Connection, offset: f64) -> crate::capture::Timestamp {
    let micros = (offset * 1e6).round() as i64;
    let start = conn.facts.start_ts;
    crate::capture::Timestamp::new(
        start.secs.saturating_add(micros.div_euclid(1_000_000)),
        start.nanos + (micros.rem_euclid(1_000_000) as u32) * 1000,
    )
}

/// Connections read from the bundled captures, for the rules' unit tests.
#[cfg(test)]
mod tests_support {
    use crate::Options;
    use crate::analyze::analyze_capture;
    use crate::connection::{Code, Connection, Diagnosis};

    /// The connection with this tcp.stream in `captures/{file}`, read with `options`.
    pub(super) fn connection_with(file: &str, stream: u64, options: &Options) -> Connection {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("captures")
            .join(file);
        let input = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
        let (analysis, _, result) = analyze_capture(input, options);
        result.unwrap_or_else(|e| panic!("{file}: {e}"));
        analysis
            .connections
            .into_iter()
            .find(|c| c.tcp_stream == stream)
            .unwrap_or_else(|| panic!("{file}: no tcp.stream {stream}"))
    }

    /// The connection with this tcp.stream in `captures/{file}`, read with the defaults.
    pub(super) fn connection(file: &str, stream: u64) -> Connection {
        connection_with(file, stream, &Options::default())
    }

    /// What `rule` decides on the first connection of `file`, checked to be `(code, frame)`,
    /// after checking that it passes on the first connection of `passes_on`.
    pub(super) fn decides(
        rule: super::Rule,
        file: &str,
        expected: (Code, u64),
        passes_on: &str,
    ) -> Diagnosis {
        assert!(
            rule(&connection(passes_on, 0)).is_none(),
            "decided {passes_on}"
        );
        let d = rule(&connection(file, 0)).unwrap_or_else(|| panic!("passed on {file}"));
        assert_eq!((d.code, d.frame), expected, "{file}");
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(frame: u64) -> Evidence {
        Evidence {
            frame: Some(frame),
            fact: format!("frame {frame}"),
        }
    }

    #[test]
    fn evidence_goes_in_frame_order_and_a_fact_without_a_frame_keeps_its_place() {
        let loose = Evidence {
            frame: None,
            fact: "loose".into(),
        };
        let mut evidence = vec![at(9), loose.clone(), at(4), at(6)];
        order_evidence(&mut evidence);
        assert_eq!(evidence, [at(4), at(6), at(9), loose]);
    }

    #[test]
    fn an_established_connection_is_judged_without_a_diagnosis() {
        let conn = tests_support::connection("tls13-sni-alpn.pcap", 0);
        let judgement = judge(&conn, &DiagnoseOptions::default());
        assert!(judgement.diagnosis.is_none());
        assert_eq!(judgement.verdict.outcome, Outcome::Established);
        assert_eq!(judgement.verdict.frame, 8);
        let failed = tests_support::connection("refused.pcap", 0);
        let judgement = judge(&failed, &DiagnoseOptions::default());
        assert_eq!(judgement.verdict.outcome, Outcome::Failed);
        assert_eq!(judgement.diagnosis.map(|d| d.code), Some(Code::TcpRefused));
    }
}
