//! Peers' text through the report writers: whatever an SNI, an ALPN name, a certificate
//! subject, a banner or a rule's words hold, the text report has no control or bidi character
//! but its newlines, and each NDJSON line parses and gives back the SNI's bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::Arc;
use tlsdiag::capture::Timestamp;
use tlsdiag::connection::{
    Code, Confidence, Connection, Detail, Diagnosis, EventKind, Evidence, Outcome, Stage,
    TimelineEvent,
};
use tlsdiag::flow::Side;
use tlsdiag::report::{Style, write_ndjson_connection, write_text_connection};
use tlsdiag::tls::certificate::CertificateInfo;
use tlsdiag::wire_text::WireText;

/// Cuts the input into length-prefixed pieces (a first byte, then that many bytes).
fn pieces(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while let Some((&len, rest)) = data.split_first() {
        let take = usize::from(len).min(rest.len());
        let (piece, tail) = rest.split_at(take);
        out.push(piece);
        data = tail;
    }
    out
}

fn event(event: EventKind, from: Side, detail: Detail) -> TimelineEvent {
    TimelineEvent {
        frame: 1,
        time: 0.0,
        from,
        event,
        detail: Some(detail),
    }
}

fuzz_target!(|data: &[u8]| {
    let p = pieces(data);
    let piece = |i: usize| p.get(i).copied().unwrap_or_default();
    let words = |i: usize| String::from_utf8_lossy(piece(i)).into_owned();
    let mut c = Connection::new(0, 1, Timestamp::default());
    let sni = WireText::from_bytes(piece(0));
    c.sni_hex = sni.hex();
    c.sni = Some(sni.clone());
    c.alpn_offered = vec![WireText::from_bytes(piece(1)), WireText::from_bytes(piece(2))];
    c.alpn = Some(WireText::from_bytes(piece(2)));
    c.file = Some(words(3));
    let cert = CertificateInfo {
        subject: WireText::from_bytes(piece(4)),
        issuer: WireText::from_bytes(piece(5)),
        key_type: words(5),
        ..Default::default()
    };
    c.certificates.push(Arc::new(cert.clone()));
    c.timeline = vec![
        event(EventKind::ClientHello, Side::Client, Detail::Sni(sni)),
        event(EventKind::Certificate, Side::Server, Detail::Wire(cert.subject)),
        event(EventKind::Plaintext, Side::Server, Detail::Text(words(6))),
    ];
    c.verdict.outcome = Outcome::Failed;
    c.verdict.frame = 1;
    c.verdict.reason = words(7);
    c.diagnosis = Some(Diagnosis {
        code: Code::NotTlsServer,
        stage: Stage::ClientHello,
        ended_by: Default::default(),
        frame: 1,
        confidence: Confidence::Likely,
        summary: words(7),
        evidence: vec![Evidence {
            frame: Some(1),
            fact: words(8),
        }],
        cause: words(9),
        fix: words(10),
        browser_error: None,
    });

    let mut text = Vec::new();
    write_text_connection(&mut text, &c, Style { color: false }).expect("writes to a Vec");
    let text = std::str::from_utf8(&text).expect("the text report is UTF-8");
    let hostile = |ch: char| {
        (ch.is_control() && ch != '\n')
            || matches!(ch, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    assert!(!text.chars().any(hostile), "{text:?}");

    let mut line = Vec::new();
    write_ndjson_connection(&mut line, &c).expect("writes to a Vec");
    assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
    let json: serde_json::Value = serde_json::from_slice(&line).expect("NDJSON parses");
    let sni_bytes = match json["sni_hex"].as_str() {
        Some(hex) => (0..hex.len() / 2)
            .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
            .collect(),
        None => json["sni"].as_str().expect("sni").as_bytes().to_vec(),
    };
    assert_eq!(sni_bytes, piece(0));
});
