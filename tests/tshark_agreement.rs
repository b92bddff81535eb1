//! tlsdiag and tshark read the same bundled captures and must agree on what both can see:
//! tcp.stream numbers, the ClientHello's SNI and versions, the ServerHello's version and
//! cipher, SSLv2's SERVER-HELLO (version, certificate) and CLIENT-MASTER-KEY (cipher), every
//! cleartext alert with its frame, and the JA3 and JA3S fingerprints.
//!
//! Skipped, saying so, where tshark is not installed; CI sets TLSDIAG_REQUIRE_TSHARK=1 so that
//! there it must run.

mod common;

use common::tshark;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use tlsdiag::tls::names;

fn hex_u16(s: &str) -> u16 {
    u16::from_str_radix(s.trim_start_matches("0x"), 16)
        .unwrap_or_else(|_| panic!("hex value {s:?}"))
}

#[test]
fn tlsdiag_agrees_with_tshark_on_every_bundled_capture() {
    if !common::tshark_available() {
        return;
    }
    let mut checked = 0;
    for path in common::all_captures() {
        checked += compare(&path);
    }
    eprintln!("compared {checked} facts with tshark");
    assert!(checked > 20, "too few facts compared: {checked}");
}

fn compare(path: &Path) -> usize {
    let name = path.display().to_string();
    let (analysis, _) = common::analyze_path(path);
    // Ports where TLS starts after a plaintext exchange (STARTTLS) are left to tshark's own
    // dissectors, which hand over to TLS themselves.
    let ports: BTreeSet<u16> = analysis
        .connections
        .iter()
        .filter(|c| c.plaintext.client.is_none() && c.plaintext.server.is_none())
        .filter_map(|c| c.server.map(|s| s.port))
        .filter(|&p| p != 443)
        .collect();
    let mut checked = 0;

    // Every TCP conversation has a tcp.stream number: the counts agree.
    let streams: BTreeSet<String> = tshark(path, &ports, "tcp", &["tcp.stream"])
        .into_iter()
        .filter_map(|r| r.into_iter().next())
        .collect();
    assert_eq!(
        streams.len() as u64,
        analysis.counters.tcp_conversations,
        "{name}: TCP conversations"
    );

    // ClientHello: stream, SNI, offered versions.
    let hellos = tshark(
        path,
        &ports,
        "tls.handshake.type == 1",
        &[
            "frame.number",
            "tcp.stream",
            "tls.handshake.extensions_server_name",
            "tls.handshake.extensions.supported_version",
            "tls.handshake.version",
        ],
    );
    let mut first_hello: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for row in hellos {
        let stream: u64 = row[1].parse().expect("stream");
        first_hello.entry(stream).or_insert(row);
    }
    for (stream, row) in &first_hello {
        let conn = common::stream(&analysis, *stream);
        let frame = conn
            .facts
            .client_hello
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: stream {stream} has no ClientHello"))
            .frame;
        assert_eq!(
            frame.to_string(),
            row[0],
            "{name}: ClientHello frame of stream {stream}"
        );
        let sni = (!row[2].is_empty()).then(|| row[2].as_str());
        let ours = conn.sni.as_ref().map(|s| tshark_escaped(s.as_str()));
        assert_eq!(ours.as_deref(), sni, "{name}: SNI of stream {stream}");
        let versions: Vec<&str> = if row[3].is_empty() {
            vec![names::version_name(hex_u16(&row[4]))]
        } else {
            row[3]
                .split(',')
                .map(|v| names::version_name(hex_u16(v)))
                .collect()
        };
        assert_eq!(
            conn.client_versions.iter().collect::<Vec<_>>(),
            versions,
            "{name}: offered versions of stream {stream}"
        );
        checked += 4;
    }
    // Every connection tlsdiag saw a ClientHello in, tshark saw too.
    for conn in &analysis.connections {
        if conn.facts.client_hello.is_some() {
            assert!(
                first_hello.contains_key(&conn.tcp_stream),
                "{name}: tshark sees no ClientHello in stream {}",
                conn.tcp_stream
            );
        }
    }

    checked += compare_sslv2(path, &name, &analysis);

    // The last ServerHello of each stream (after any HelloRetryRequest): version and cipher.
    let server_hellos = tshark(
        path,
        &ports,
        // In SSLv2, type 2 is CLIENT-MASTER-KEY: compared in compare_sslv2.
        "tls.handshake.type == 2 && !(tls.record.version == 0x0002)",
        &[
            "frame.number",
            "tcp.stream",
            "tls.handshake.ciphersuite",
            "tls.handshake.extensions.supported_version",
            "tls.handshake.version",
        ],
    );
    // A HelloRetryRequest is a ServerHello on the wire: tlsdiag keeps it apart.
    let mut last_sh: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for row in server_hellos {
        let stream: u64 = row[1].parse().expect("stream");
        let conn = common::stream(&analysis, stream);
        match &conn.hello_retry {
            Some(hrr) if hrr.frame.to_string() == row[0] => {
                assert_eq!(
                    hrr.cipher,
                    names::cipher_suite_name(hex_u16(&row[2])),
                    "{name}: HelloRetryRequest cipher"
                );
                checked += 1;
            }
            _ => {
                last_sh.insert(stream, row);
            }
        }
    }
    for (stream, row) in &last_sh {
        let conn = common::stream(&analysis, *stream);
        let version = if row[3].is_empty() { &row[4] } else { &row[3] };
        assert_eq!(
            conn.version,
            Some(names::version_name(hex_u16(version))),
            "{name}: version of stream {stream}"
        );
        assert_eq!(
            conn.cipher,
            Some(names::cipher_suite_name(hex_u16(&row[2]))),
            "{name}: cipher of stream {stream}"
        );
        checked += 2;
    }

    // Every cleartext alert, with its frame and code, both ways.
    let mut theirs: BTreeSet<(u64, u64, u8)> = BTreeSet::new();
    for row in tshark(
        path,
        &ports,
        "tls.alert_message.desc",
        &["frame.number", "tcp.stream", "tls.alert_message.desc"],
    ) {
        for desc in row[2].split(',') {
            theirs.insert((
                row[0].parse().expect("frame"),
                row[1].parse().expect("stream"),
                desc.parse().expect("code"),
            ));
        }
    }
    let ours: BTreeSet<(u64, u64, u8)> = analysis
        .connections
        .iter()
        .flat_map(|c| {
            c.alerts
                .iter()
                .filter_map(move |a| a.description.map(|d| (a.frame, c.tcp_stream, d.0)))
        })
        .collect();
    assert_eq!(
        ours, theirs,
        "{name}: cleartext alerts (frame, stream, code)"
    );
    checked += theirs.len();
    // No connection that tshark sees end in a fatal cleartext alert is called established.
    for row in tshark(
        path,
        &ports,
        "tls.alert_message.level == 2",
        &["tcp.stream"],
    ) {
        let stream: u64 = row[0].parse().expect("stream");
        let conn = common::stream(&analysis, stream);
        assert_ne!(
            conn.verdict.outcome,
            tlsdiag::connection::Outcome::Established,
            "{name}: stream {stream} has a fatal alert"
        );
        checked += 1;
    }
    eprintln!(
        "{name}: {} ClientHellos, {} ServerHellos, {} alerts agree",
        first_hello.len(),
        last_sh.len(),
        theirs.len()
    );
    checked
}

/// SSLv2's SERVER-HELLO (type 4) and CLIENT-MASTER-KEY (type 2) in SSLv2 records: the
/// version, the certificate's serial number and the chosen cipher. tshark prints cipher kinds
/// as numbers in `-T fields`; a custom column gives its names for them.
///
/// Only where a client sent an SSLv2-format hello, which a server must see before it can answer
/// in SSLv2 (the ClientHello comparison above already checks those hellos with tshark): a
/// second tshark run on every capture doubled this test's time.
fn compare_sslv2(path: &Path, name: &str, analysis: &tlsdiag::analyze::Analysis) -> usize {
    let sslv2_hello = analysis.connections.iter().any(|c| {
        c.facts
            .client_hello
            .as_ref()
            .is_some_and(|h| h.message.sslv2_format)
    });
    if !sslv2_hello {
        return 0;
    }
    let out = std::process::Command::new("tshark")
        .arg("-r")
        .arg(path)
        .args([
            "-n",
            "-o",
            r#"gui.column.format:"K","%Cus:tls.handshake.cipherspec","V","%Cus:tls.handshake.version""#,
            "-Y",
            "tls.record.version == 0x0002 && (tls.handshake.type == 2 || tls.handshake.type == 4)",
            "-T",
            "fields",
            "-E",
            "separator=\t",
        ])
        .args(["-e", "tcp.stream", "-e", "tls.handshake.type", "-e", "_ws.col.K"])
        .args(["-e", "_ws.col.V", "-e", "x509af.serialNumber"])
        .output()
        .expect("tshark runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "tshark failed on {name}: {err}");
    let mut checked = 0;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let row: Vec<&str> = line.split('\t').collect();
        let [stream, kind, cipher, version, serial] = row[..] else {
            panic!("{name}: tshark row {line:?}");
        };
        let conn = common::stream(analysis, stream.parse().expect("stream"));
        if kind == "4" {
            assert_eq!(version, "SSL 2.0", "{name}: tshark's SSLv2 version");
            assert_eq!(
                conn.version,
                Some("SSLv2"),
                "{name}: version of stream {stream}"
            );
            let ours: Vec<String> = conn
                .certificates
                .iter()
                .map(|c| c.serial.replace(':', "").to_lowercase())
                .collect();
            assert_eq!(
                ours,
                [serial],
                "{name}: SSLv2 certificate of stream {stream}"
            );
        } else {
            assert_eq!(
                conn.cipher,
                Some(cipher),
                "{name}: SSLv2 cipher of stream {stream}"
            );
        }
        checked += 2;
    }
    checked
}

/// A string as tshark's `-T fields` writes it: backslash, newline, carriage return and tab
/// escaped, so that a row stays one line.
fn tshark_escaped(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
        .replace('\t', "\\t")
}

/// JA3 and JA3S against tshark's `tls.handshake.ja3_full`, `ja3`, `ja3s_full` and `ja3s`,
/// stream by stream, on the key log captures too (real browsers and runtimes, GREASE and all):
/// the first ClientHello of each `tcp.stream`, and its ServerHello (not a HelloRetryRequest,
/// which tlsdiag does not take for the ServerHello).
#[test]
fn ja3_and_ja3s_agree_with_tshark_on_every_bundled_capture() {
    if !common::tshark_available() {
        return;
    }
    let mut checked = 0;
    for path in common::captures_with_keylog() {
        checked += compare_ja3(&path);
    }
    eprintln!("compared {checked} JA3 and JA3S fingerprints with tshark");
    assert!(checked > 100, "too few fingerprints compared: {checked}");
}

fn compare_ja3(path: &Path) -> usize {
    let name = path.display().to_string();
    let (analysis, _) = common::analyze_path(path);
    let rows = tshark(
        path,
        &common::tls_ports(&analysis),
        "tls.handshake.type == 1 || tls.handshake.type == 2",
        &[
            "frame.number",
            "tcp.stream",
            "tls.handshake.ja3_full",
            "tls.handshake.ja3",
            "tls.handshake.ja3s_full",
            "tls.handshake.ja3s",
        ],
    );
    // Per stream: the first JA3 and the first JA3S that is not a HelloRetryRequest's.
    let mut ja3: BTreeMap<u64, (String, String)> = BTreeMap::new();
    let mut ja3s: BTreeMap<u64, (String, String)> = BTreeMap::new();
    for row in &rows {
        let stream: u64 = row[1].parse().expect("stream");
        if !row[3].is_empty() {
            ja3.entry(stream)
                .or_insert_with(|| (row[2].clone(), row[3].clone()));
        }
        let retry = analysis
            .connections
            .iter()
            .find(|c| c.tcp_stream == stream)
            .and_then(|c| c.hello_retry.as_ref())
            .is_some_and(|h| h.frame.to_string() == row[0]);
        if !row[5].is_empty() && !retry {
            ja3s.entry(stream)
                .or_insert_with(|| (row[4].clone(), row[5].clone()));
        }
    }
    let mut checked = 0;
    for conn in &analysis.connections {
        let stream = conn.tcp_stream;
        let ours = conn
            .client_fingerprints
            .get()
            .map(|f| (f.ja3_full.clone(), f.ja3.clone()));
        assert_eq!(
            ours.as_ref(),
            ja3.get(&stream),
            "{name}: JA3 of stream {stream}"
        );
        let ours = conn
            .server_fingerprints
            .get()
            .map(|f| (f.ja3s_full.clone(), f.ja3s.clone()));
        assert_eq!(
            ours.as_ref(),
            ja3s.get(&stream),
            "{name}: JA3S of stream {stream}"
        );
        checked += usize::from(ja3.contains_key(&stream)) + usize::from(ja3s.contains_key(&stream));
    }
    // Every stream tshark fingerprinted is one of tlsdiag's connections.
    for stream in ja3.keys().chain(ja3s.keys()) {
        common::stream(&analysis, *stream);
    }
    checked
}
