//! One side spoke something other than TLS.

use super::first_close;
use super::words::Why;
use crate::connection::SideAt;
use crate::connection::{Close, Code, Connection, Diagnosis, Stage};
use crate::flow::Side;

/// Names the protocol behind a plaintext greeting, as far as its first bytes tell.
fn protocol_of(first: &str) -> &'static str {
    let starts = |p: &str| first.starts_with(p);
    if starts("HTTP/") {
        "an HTTP response"
    } else if [
        "GET ", "POST ", "HEAD ", "PUT ", "OPTIONS ", "CONNECT ", "DELETE ",
    ]
    .iter()
    .any(|m| starts(m))
    {
        "an HTTP request"
    } else if starts("SSH-") {
        "an SSH banner"
    } else if starts("220") {
        "an SMTP or FTP greeting"
    } else if starts("+OK") {
        "a POP3 greeting"
    } else if starts("* OK") {
        "an IMAP greeting"
    } else if starts("\\x00\\x00\\x00\\x08\\x04\\xd2\\x16/") {
        "a PostgreSQL SSLRequest"
    } else {
        "bytes of an unknown protocol"
    }
}

fn shown(text: &str) -> String {
    text.chars().take(60).collect()
}

/// The client's first bytes are not TLS and TLS never started.
pub(crate) fn client_not_tls(conn: &Connection) -> Option<Diagnosis> {
    let SideAt {
        frame,
        side: Side::Client,
    } = conn.facts.plaintext_first?
    else {
        return None;
    };
    if conn.facts.saw_tls {
        return None;
    }
    let first = conn.plaintext.client.as_deref().unwrap_or("");
    let port = conn.server.map_or(0, |s| s.port);
    let what = protocol_of(first);
    let mut d = Diagnosis::new(
        Code::NotTlsClient,
        Stage::TcpConnect,
        Side::Client.into(),
        frame,
    )
    .summary(format!("the client sent {what}, not TLS, to port {port}"))
    .evidence(frame, format!("client's first bytes: \"{}\"", shown(first)));
    if let Some(answer) = conn.plaintext.server.as_deref() {
        d = d.evidence(
            None,
            format!("the server answered in plaintext: \"{}\"", shown(answer)),
        );
    }
    Some(d.words(Why::NotTlsClient))
}

/// A ClientHello answered with bytes that are not TLS (an HTTP error page, a banner).
pub(crate) fn server_not_tls(conn: &Connection) -> Option<Diagnosis> {
    let SideAt {
        frame,
        side: Side::Server,
    } = conn.facts.plaintext_first?
    else {
        return None;
    };
    conn.facts.client_hello.as_ref()?;
    if conn.facts.server_hello.is_some() || !conn.alerts.is_empty() {
        return None;
    }
    let first = conn.plaintext.server.as_deref().unwrap_or("");
    let what = protocol_of(first);
    let mut d = Diagnosis::new(
        Code::NotTlsServer,
        Stage::ClientHello,
        Side::Server.into(),
        frame,
    )
    .summary(format!(
        "the server answered the ClientHello with {what}, not TLS"
    ))
    .with_client_hello(conn)
    .evidence(frame, format!("server's answer: \"{}\"", shown(first)));
    if let Some(Close { side, frame, kind }) = first_close(conn) {
        d = d.evidence(
            frame,
            format!("then the {} sent {kind}", super::side_word(side)),
        );
    }
    Some(d.words(Why::NotTlsServer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::tests_support::{connection, decides};

    #[test]
    fn http_from_the_client_is_not_tls() {
        let d = client_not_tls(&connection("http-on-443.pcap", 0)).expect("plaintext");
        assert_eq!((d.code, d.frame), (Code::NotTlsClient, 4));
        assert!(
            d.summary.starts_with("the client sent an HTTP request"),
            "{}",
            d.summary
        );
        assert_eq!(d.browser_error, None);
        assert!(client_not_tls(&connection("http-on-443.pcap", 1)).is_none());
    }

    #[test]
    fn an_ssh_banner_answering_a_client_hello_is_not_tls() {
        let d = decides(
            server_not_tls,
            "ssh-on-443.pcap",
            (Code::NotTlsServer, 6),
            "http-on-443.pcap",
        );
        assert!(d.summary.contains("an SSH banner"), "{}", d.summary);
        assert_eq!(d.browser_error, Some("ERR_SSL_PROTOCOL_ERROR"));
    }
}
