//! The verdict on a connection: did its handshake establish, and if not, where it stopped,
//! who gave up, at which frame, and a one-line reason.
//!
//! Rules are tried in the order of the connection's life (TCP, then TLS), each a function that
//! states its decision; the first that applies wins. Inference is only drawn from facts the
//! record holds, so the same record always gets the same verdict.

use crate::connection::{Connection, EndedBy, Outcome, Stage, Verdict};
use crate::flow::Side;

/// Judges one connection whose capture has ended (or whose handshake has settled).
pub fn verdict(conn: &Connection) -> Verdict {
    let rules: [fn(&Connection) -> Option<Verdict>; 8] = [
        established,
        tcp_refused,
        tcp_unanswered,
        not_tls,
        server_not_tls,
        alert_received,
        closed_during_handshake,
        gap_in_handshake,
    ];
    let mut verdict = rules
        .iter()
        .find_map(|rule| rule(conn))
        .unwrap_or_else(|| unfinished(conn));
    if let Some(missing) = silent_side(conn) {
        verdict.reason.push_str(&format!(
            " (the capture holds no packet from the {}: asymmetric routing, or a filter)",
            side_word(missing)
        ));
    }
    verdict
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

fn verdict_of(
    outcome: Outcome,
    stage: Stage,
    ended_by: EndedBy,
    frame: u64,
    reason: String,
) -> Option<Verdict> {
    Some(Verdict {
        outcome,
        stage,
        ended_by,
        frame,
        reason,
    })
}

/// The side that closed first (FIN or RST), with the frame.
fn first_close(conn: &Connection) -> Option<(Side, u64, &'static str)> {
    let f = &conn.facts;
    [
        f.rst.client.map(|(fr, _)| (Side::Client, fr, "RST")),
        f.rst.server.map(|(fr, _)| (Side::Server, fr, "RST")),
        f.fin.client.map(|fr| (Side::Client, fr, "FIN")),
        f.fin.server.map(|fr| (Side::Server, fr, "FIN")),
    ]
    .into_iter()
    .flatten()
    .min_by_key(|&(_, frame, _)| frame)
}

fn established(conn: &Connection) -> Option<Verdict> {
    let frame = conn.facts.established_at?;
    let ended_by = first_close(conn).map_or(EndedBy::Unknown, |(side, _, _)| side.into());
    let version = conn.version.as_deref().unwrap_or("TLS");
    let cipher = conn.cipher.as_deref().unwrap_or("unknown cipher");
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
    verdict_of(
        Outcome::Established,
        Stage::Established,
        ended_by,
        frame,
        format!("handshake completed: {version} {cipher}{how}{inferred}"),
    )
}

/// A SYN answered by RST: nothing listens on the port.
fn tcp_refused(conn: &Connection) -> Option<Verdict> {
    let f = &conn.facts;
    let syn = f.syn?;
    let (rst, _) = f.rst.server?;
    if f.syn_ack.is_some() || f.saw_tls || rst < syn {
        return None;
    }
    verdict_of(
        Outcome::Failed,
        Stage::TcpConnect,
        EndedBy::Server,
        rst,
        "connection refused: the server answered the SYN with RST".into(),
    )
}

/// SYNs that nothing answered before the capture ended.
fn tcp_unanswered(conn: &Connection) -> Option<Verdict> {
    let f = &conn.facts;
    f.syn?;
    if f.syn_ack.is_some() || f.saw_tls || conn.tcp.packets.server > 0 {
        return None;
    }
    let tries = conn.tcp.syn_count;
    verdict_of(
        Outcome::Failed,
        Stage::TcpConnect,
        EndedBy::Network,
        conn.last_frame,
        format!(
            "no answer to the SYN ({tries} sent over {:.1} s): host down, or a firewall dropping it",
            conn.duration_ms / 1000.0
        ),
    )
}

fn not_tls(conn: &Connection) -> Option<Verdict> {
    let (frame, side) = conn.facts.plaintext_first?;
    if conn.facts.saw_tls {
        return None;
    }
    let first = conn.plaintext.get(side).as_deref().unwrap_or("");
    let shown: String = first.chars().take(40).collect();
    let who = match side {
        Side::Client => "the client",
        Side::Server => "the server",
    };
    verdict_of(
        Outcome::NotTls,
        conn.facts.stage,
        side.into(),
        frame,
        format!("{who} sent bytes that are not TLS: \"{shown}\""),
    )
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

fn side_word(side: Side) -> &'static str {
    match side {
        Side::Client => "client",
        Side::Server => "server",
    }
}

/// A ClientHello answered with bytes that are not TLS (an HTTP error page, a banner).
fn server_not_tls(conn: &Connection) -> Option<Verdict> {
    let (frame, Side::Server) = conn.facts.plaintext_first? else {
        return None;
    };
    conn.facts.client_hello.as_ref()?;
    if conn.facts.server_hello.is_some() || !conn.alerts.is_empty() {
        return None;
    }
    let shown: String = conn
        .plaintext
        .server
        .as_deref()
        .unwrap_or("")
        .chars()
        .take(40)
        .collect();
    verdict_of(
        Outcome::Failed,
        Stage::ClientHello,
        EndedBy::Server,
        frame,
        format!("the server answered the ClientHello with bytes that are not TLS: \"{shown}\""),
    )
}

/// The first fatal (or undecodable, encrypted) alert before the handshake completed.
fn alert_received(conn: &Connection) -> Option<Verdict> {
    let alert = conn
        .alerts
        .iter()
        .find(|a| a.encrypted || a.level.as_deref() == Some("fatal") || a.code == Some(0))?;
    let stage = stage_at(conn, alert.frame);
    let who = side_word(alert.from);
    let reason = match (&alert.description, alert.code) {
        (Some(desc), Some(code)) => {
            let level = alert.level.as_deref().unwrap_or("");
            format!(
                "{who} sent {level} alert {desc} ({code}) {}",
                stage_words(stage)
            )
        }
        _ => format!(
            "{who} sent an encrypted alert {} (its description cannot be read; inferred from the record type and size)",
            stage_words(stage)
        ),
    };
    verdict_of(
        Outcome::Failed,
        stage,
        alert.from.into(),
        alert.frame,
        reason,
    )
}

/// The stage reached by the time of `frame`: the furthest stage of the timeline events before.
fn stage_at(conn: &Connection, frame: u64) -> Stage {
    use crate::connection::EventKind as E;
    let tls13 = conn.speaks_tls13();
    conn.timeline
        .iter()
        .filter(|e| e.frame <= frame)
        .filter_map(|e| match (e.event, e.from) {
            (E::ClientHello, _) => Some(Stage::ClientHello),
            (E::ServerHello, _) if tls13 => Some(Stage::EncryptedHandshake),
            (E::ServerHello | E::HelloRetryRequest, _) => Some(Stage::ServerHello),
            (E::Certificate, Side::Server) => Some(Stage::ServerCertificate),
            (E::Certificate, Side::Client) => Some(Stage::ClientCertificate),
            (E::ServerKeyExchange | E::CertificateRequest | E::ServerHelloDone, _) => {
                Some(Stage::ServerKeyExchange)
            }
            (E::ClientKeyExchange, _) => Some(Stage::ClientKeyExchange),
            (E::ChangeCipherSpec, _) if !tls13 => Some(Stage::Finished),
            _ => None,
        })
        .max()
        .unwrap_or(Stage::TcpConnect)
}

/// RST or FIN before the handshake completed, with no alert to say why.
fn closed_during_handshake(conn: &Connection) -> Option<Verdict> {
    let (side, frame, how) = first_close(conn)?;
    let stage = stage_at(conn, frame);
    let who = side_word(side);
    let what = if how == "RST" {
        "reset the connection"
    } else {
        "closed the connection (FIN)"
    };
    let reason = if stage == Stage::TcpConnect && !conn.facts.saw_tls {
        format!("{who} {what} before any TLS was sent")
    } else {
        format!("{who} {what} {} without an alert", stage_words(stage))
    };
    verdict_of(Outcome::Failed, stage, side.into(), frame, reason)
}

fn gap_in_handshake(conn: &Connection) -> Option<Verdict> {
    let (frame, side) = conn.facts.first_gap?;
    verdict_of(
        Outcome::Incomplete,
        conn.facts.stage,
        EndedBy::Unknown,
        frame,
        format!(
            "the capture is missing {} bytes of the {}'s stream, so the handshake cannot be followed past frame {frame}",
            conn.gaps.iter().map(|g| g.bytes).sum::<u64>(),
            side_word(side)
        ),
    )
}

/// The capture ended (or started) in the middle of things.
fn unfinished(conn: &Connection) -> Verdict {
    let stage = conn.facts.stage;
    let reason = if conn.facts.saw_tls && conn.facts.client_hello.is_none() {
        "the capture started after the ClientHello: the handshake's start is not in the file"
            .to_string()
    } else if !conn.facts.saw_tls
        && conn.tcp.payload_bytes.client + conn.tcp.payload_bytes.server == 0
    {
        "no data was sent before the capture ended".to_string()
    } else {
        let waiting = match stage {
            Stage::ClientHello => match conn.facts.client_hello {
                Some((frame, _)) => {
                    format!(", with the client waiting for a ServerHello since frame {frame}")
                }
                None => String::new(),
            },
            _ => String::new(),
        };
        format!("the capture ended {}{waiting}", stage_words(stage))
    };
    Verdict {
        outcome: Outcome::Incomplete,
        stage,
        ended_by: EndedBy::Unknown,
        frame: conn.last_frame,
        reason,
    }
}
