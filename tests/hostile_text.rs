//! Text a peer chose never drives the reader's terminal, and JSON keeps it exactly: on
//! hostile-text.pcap (generate.sh's hostile_text: escapes and a newline in the SNI, ALPN names
//! that are not UTF-8, escapes and a bidi override in a certificate subject, a banner with
//! escapes). The bytes each peer sent are read from tshark's raw fields.

mod common;

use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Command;

const CAPTURE: &str = "captures/hostile-text.pcap";

fn tlsdiag(args: &[&str]) -> Vec<u8> {
    common::run_tlsdiag(args)
}

/// What a terminal could act on or hide: controls (C0, DEL, C1), bidi controls, and the
/// zero-width and other format characters.
fn is_hostile(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{206f}')
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
}

#[test]
fn the_text_report_shows_escapes_and_holds_no_control_character() {
    let plain = String::from_utf8(tlsdiag(&["analyze", "--color", "never", CAPTURE]))
        .expect("the report is UTF-8");
    for line in plain.lines() {
        assert!(!line.chars().any(is_hostile), "raw control in: {line:?}");
    }
    for shown in [
        r#"SNI \x1b]0;PWNED\x07\x1b[2J\x1b[31mevil\x0a{"injected":1}.test"#,
        r"ALPN h2, \xff\xfe\x1b[31m",
        r"CN=bidi\u{202e}gpj.test\x1b[2J",
        r"plaintext (\x1b]0;PWNED\x07\x1b[2J\x1b[31m220 evil \xe2\x80\xaeknab",
    ] {
        assert!(plain.contains(shown), "{shown} not in the report:\n{plain}");
    }
    // The server's lane starts at one column, whatever a ClientHello's SNI held.
    let columns: Vec<usize> = plain
        .lines()
        .filter_map(|l| l.find('◀').map(|at| l[..at].chars().count()))
        .filter(|&col| col < 80)
        .collect();
    assert!(columns.len() > 5);
    assert!(columns.windows(2).all(|w| w[0] == w[1]), "{columns:?}");

    // With colour, the only escape sequences are the report's own SGR colours.
    let colored = String::from_utf8(tlsdiag(&["analyze", "--color", "always", CAPTURE]))
        .expect("the report is UTF-8");
    let mut rest = colored.as_str();
    let mut colours = 0;
    while let Some(at) = rest.find('\x1b') {
        let sequence = &rest[at + 1..];
        let end = sequence.find('m').expect("an SGR sequence ends with m");
        let params = &sequence[..end];
        assert!(
            params.starts_with('[') && params[1..].chars().all(|c| c.is_ascii_digit() || c == ';'),
            "a foreign escape sequence: {params:?}"
        );
        colours += 1;
        rest = &sequence[end..];
    }
    assert!(colours > 0);
    let without_colours = colored.replace('\x1b', "");
    assert!(!without_colours.chars().any(|c| is_hostile(c) && c != '\n'));
}

/// The raw bytes of the named fields in tshark's `-T json -x` output, per tcp.stream.
fn tshark_raw(fields: &[&str]) -> BTreeMap<u64, BTreeMap<String, Vec<Vec<u8>>>> {
    let out = Command::new("tshark")
        .args([
            "-r",
            CAPTURE,
            "-n",
            "-T",
            "json",
            "-x",
            "--no-duplicate-keys",
        ])
        .args(["-Y", "tls.handshake"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("tshark runs");
    let packets: Vec<Value> = serde_json::from_slice(&out.stdout).expect("tshark's JSON");
    let mut found: BTreeMap<u64, BTreeMap<String, Vec<Vec<u8>>>> = BTreeMap::new();
    for packet in &packets {
        let mut values = BTreeMap::new();
        collect(&packet["_source"]["layers"], fields, &mut values);
        let stream = values
            .remove("tcp.stream")
            .and_then(|v| v.into_iter().next());
        let stream: u64 = String::from_utf8(stream.expect("tcp.stream"))
            .ok()
            .and_then(|s| s.parse().ok())
            .expect("a stream number");
        let entry = found.entry(stream).or_default();
        for (field, v) in values {
            entry.entry(field).or_insert(v);
        }
    }
    found
}

fn collect(node: &Value, fields: &[&str], out: &mut BTreeMap<String, Vec<Vec<u8>>>) {
    match node {
        Value::Object(map) => {
            for (key, value) in map {
                if key == "tcp.stream" {
                    let text = value.as_str().unwrap_or_default().as_bytes().to_vec();
                    out.entry(key.clone()).or_default().push(text);
                } else if let Some(field) = key.strip_suffix("_raw")
                    && fields.contains(&field)
                {
                    // One occurrence is [hex, offset, length, mask, type]; several in one
                    // tree (--no-duplicate-keys) are a list of those.
                    let occurrences = match value.get(0) {
                        Some(Value::Array(_)) => value.as_array().cloned().unwrap_or_default(),
                        _ => vec![value.clone()],
                    };
                    let list = out.entry(field.to_string()).or_default();
                    for o in occurrences {
                        list.extend(o.get(0).and_then(Value::as_str).map(unhex));
                    }
                } else {
                    collect(value, fields, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect(v, fields, out)),
        _ => {}
    }
}

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

/// A JSON text field's bytes: its `_hex` twin when present, else the string's own.
fn bytes_of(conn: &Value, field: &str) -> Option<Vec<u8>> {
    if let Some(hex) = conn[format!("{field}_hex")].as_str() {
        return Some(unhex(hex));
    }
    conn[field].as_str().map(|s| s.as_bytes().to_vec())
}

#[test]
fn json_keeps_the_bytes_each_peer_sent() {
    if !common::tshark_available() {
        return;
    }
    let doc: Value = serde_json::from_slice(&tlsdiag(&["analyze", "--format", "json", CAPTURE]))
        .expect("valid JSON");
    let conns = doc["connections"].as_array().expect("connections");
    let fields = [
        "tls.handshake.extensions_server_name",
        "tls.handshake.extensions_alpn_str",
        "x509sat.uTF8String",
    ];
    let wire = tshark_raw(&fields);
    assert_eq!(conns.len(), wire.len());
    let mut non_utf8_alpn = 0;
    for conn in conns {
        let stream = conn["tcp_stream"].as_u64().expect("tcp_stream");
        let sent = &wire[&stream];
        assert_eq!(
            bytes_of(conn, "sni"),
            sent.get(fields[0]).map(|v| v[0].clone()),
            "SNI of stream {stream}"
        );
        let alpn_sent = sent.get(fields[1]).cloned().unwrap_or_default();
        // The client's list comes first; the server's choice, if any, after it.
        let offered: Vec<Vec<u8>> = match conn["alpn_offered_hex"].as_array() {
            Some(hexes) => {
                non_utf8_alpn += 1;
                hexes
                    .iter()
                    .map(|h| unhex(h.as_str().unwrap_or("")))
                    .collect()
            }
            None => conn["alpn_offered"]
                .as_array()
                .expect("alpn_offered")
                .iter()
                .map(|s| s.as_str().unwrap_or("").as_bytes().to_vec())
                .collect(),
        };
        assert_eq!(
            offered,
            alpn_sent[..offered.len()],
            "ALPN of stream {stream}"
        );
        // Every attribute of the subject is in our subject, control characters and all.
        if let Some(cert) = conn["certificates"].get(0) {
            let subject = cert["subject"].as_str().expect("subject");
            for value in sent.get(fields[2]).expect("tshark read the subject") {
                let value = String::from_utf8(value.clone()).expect("a UTF8String");
                assert!(subject.contains(&value), "{value:?} not in {subject:?}");
            }
        }
    }
    assert_eq!(
        non_utf8_alpn, 1,
        "one client offered ALPN names that are not UTF-8"
    );
}

#[test]
fn ndjson_stays_one_line_per_connection() {
    let out =
        String::from_utf8(tlsdiag(&["analyze", "--format", "ndjson", CAPTURE])).expect("UTF-8");
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    let connections = lines.last().expect("a summary line")["summary"]["connections"]
        .as_u64()
        .expect("a count");
    assert_eq!(lines.len() as u64, connections + 1);
    assert!(
        lines[0]["sni"]
            .as_str()
            .is_some_and(|s| s.contains("\n{\"injected\":1}")),
        "the newline is kept, inside the string"
    );
}
