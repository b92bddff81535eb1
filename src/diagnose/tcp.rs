//! Failures before TLS: the TCP connection never came up.

use super::ms_between;
use super::words::Why;
use crate::connection::{Code, Connection, Diagnosis, EndedBy, Stage};
use crate::connection::{Reset, Seen};

/// An ICMP destination-unreachable that quoted the connection's packet, before any answer.
pub(crate) fn icmp_unreachable(conn: &Connection) -> Option<Diagnosis> {
    let icmp = conn.facts.icmp.as_ref()?;
    if conn.facts.syn_ack.is_some() && conn.facts.saw_tls {
        return None;
    }
    let why = match icmp.kind {
        "port unreachable" => Why::IcmpPortUnreachable,
        "administratively prohibited" => Why::IcmpProhibited,
        _ => Why::IcmpNoRoute,
    };
    let port = conn.server.map_or(0, |s| s.port);
    let mut d = Diagnosis::new(
        Code::IcmpUnreachable,
        Stage::TcpConnect,
        EndedBy::Network,
        icmp.frame,
    )
    .summary(format!(
        "ICMP {} from {} for port {port}",
        icmp.kind, icmp.reporter
    ))
    .words(why);
    if let Some(&Seen { frame, .. }) = conn.facts.syns.first() {
        d = d.evidence(frame, "the client sent a SYN");
    }
    Some(d.evidence(
        icmp.frame,
        format!(
            "ICMP {} from {}, quoting that SYN",
            icmp.kind, icmp.reporter
        ),
    ))
}

/// A SYN answered by RST: nothing listens on the port.
pub(crate) fn refused(conn: &Connection) -> Option<Diagnosis> {
    let f = &conn.facts;
    let syn = f.syn?;
    let Reset { frame: rst, ttl } = f.rst.server?;
    if f.syn_ack.is_some() || f.saw_tls || rst < syn {
        return None;
    }
    let port = conn.server.map_or(0, |s| s.port);
    Some(
        Diagnosis::new(Code::TcpRefused, Stage::TcpConnect, EndedBy::Server, rst)
            .summary(format!(
                "connection refused: the server answered the SYN to port {port} with RST"
            ))
            .evidence(syn, "the client sent a SYN")
            .evidence(
                rst,
                format!("the server's side answered with RST (TTL {ttl})"),
            )
            .words(Why::TcpRefused),
    )
}

/// SYNs that nothing answered: retransmitted, or abandoned by the client.
pub(crate) fn no_response(conn: &Connection) -> Option<Diagnosis> {
    let f = &conn.facts;
    let (
        &Seen {
            frame: first,
            ts: first_ts,
        },
        rest,
    ) = f.syns.split_first()?;
    if f.syn_ack.is_some() || f.saw_tls || conn.tcp.packets.server > 0 {
        return None;
    }
    // One SYN and the end of the capture is not yet a timeout.
    let gave_up = f.fin.client.or(f.rst.client.map(|r| r.frame));
    if rest.is_empty() && gave_up.is_none() {
        return None;
    }
    let times: Vec<String> = f
        .syns
        .iter()
        .map(|s| format!("{:.0} ms", ms_between(first_ts, s.ts)))
        .collect();
    let last = f.syns.last().map_or(first, |s| s.frame);
    let waited = conn.duration_ms / 1000.0;
    let mut d = Diagnosis::new(
        Code::TcpNoResponse,
        Stage::TcpConnect,
        EndedBy::Network,
        last,
    )
    .summary(format!(
        "no answer to {} SYNs over {waited:.1} s: the server or the path is silent",
        f.syns.len()
    ))
    .evidence(
        first,
        format!(
            "SYNs sent at {} (retransmissions back off)",
            times.join(", ")
        ),
    )
    .evidence(last, format!("the last SYN (try {})", f.syns.len()))
    .evidence(None, "no SYN-ACK, RST or ICMP error came back")
    .words(Why::TcpNoResponse);
    if let Some(frame) = gave_up {
        d = d.evidence(frame, "the client gave up");
    }
    Some(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::tests_support::decides;

    #[test]
    fn an_icmp_prohibited_names_the_firewall() {
        let d = decides(
            icmp_unreachable,
            "icmp-admin-prohibited.pcap",
            (Code::IcmpUnreachable, 2),
            "refused.pcap",
        );
        assert_eq!(d.ended_by, EndedBy::Network);
        assert_eq!(d.browser_error, Some("ERR_ADDRESS_UNREACHABLE"));
        assert_eq!(d.cause, "a firewall rejects the connection with ICMP");
    }

    #[test]
    fn a_syn_answered_by_rst_is_refused() {
        let d = decides(
            refused,
            "refused.pcap",
            (Code::TcpRefused, 2),
            "tcp-no-response.pcap",
        );
        assert_eq!(d.ended_by, EndedBy::Server);
        assert_eq!(d.browser_error, Some("ERR_CONNECTION_REFUSED"));
    }

    #[test]
    fn unanswered_syns_are_no_response() {
        let d = decides(
            no_response,
            "tcp-no-response.pcap",
            (Code::TcpNoResponse, 4),
            "refused.pcap",
        );
        assert_eq!(d.browser_error, Some("ERR_CONNECTION_TIMED_OUT"));
    }
}
