//! The command line as a user runs it: formats, filters, standard input, exit status.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn tlsdiag(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tlsdiag"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("tlsdiag runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn json_is_one_document_with_connections_and_summary() {
    let o = tlsdiag(&["analyze", "--format", "json", "captures/interleaved.pcap"]);
    assert!(o.status.success());
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("valid JSON");
    let conns = doc["connections"].as_array().expect("connections");
    assert_eq!(conns.len(), 5);
    assert_eq!(doc["summary"]["connections"], 5);
    assert_eq!(doc["summary"]["outcomes"]["failed"], 1);
    assert_eq!(doc["summary"]["tcp_conversations"], 5);
    let failed = conns
        .iter()
        .find(|c| c["outcome"] == "failed")
        .expect("one failure");
    assert_eq!(failed["tcp_stream"], 4);
    assert_eq!(failed["alerts"][0]["description"], "protocol_version");
    assert_eq!(failed["alerts"][0]["from"], "server");
    assert_eq!(failed["stage"], "client_hello");
    assert_eq!(failed["ended_by"], "server");
    assert!(
        failed["start"]
            .as_str()
            .is_some_and(|s| s.ends_with('Z') && s.len() == 27),
        "{}",
        failed["start"]
    );
}

#[test]
fn ndjson_is_a_line_per_connection_then_the_summary() {
    let o = tlsdiag(&[
        "analyze",
        "--format",
        "ndjson",
        "captures/resumed-tls12.pcap",
        "captures/refused.pcap",
    ]);
    assert!(o.status.success());
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(
        lines[0]["file"], "captures/resumed-tls12.pcap",
        "several files: each connection names its file"
    );
    assert_eq!(lines[1]["resumed"], true);
    assert_eq!(lines[2]["outcome"], "failed");
    assert_eq!(lines[3]["summary"]["connections"], 3);
    assert_eq!(
        lines[3]["summary"]["files"].as_array().map(Vec::len),
        Some(2)
    );
}

#[test]
fn filters_narrow_what_is_shown() {
    let failed = tlsdiag(&[
        "analyze",
        "--format",
        "ndjson",
        "--failed",
        "captures/interleaved.pcap",
    ]);
    assert_eq!(
        stdout(&failed).lines().count(),
        2,
        "one failure and the summary"
    );
    let sni = tlsdiag(&[
        "analyze",
        "--format",
        "ndjson",
        "--sni",
        "www.*",
        "captures/interleaved.pcap",
    ]);
    let out = stdout(&sni);
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.contains("\"sni\":\"www.server.test\""));
    let host = tlsdiag(&[
        "analyze",
        "--format",
        "ndjson",
        "--host",
        "fd00:99::2",
        "captures/ipv6-veth.pcap",
        "captures/refused.pcap",
    ]);
    assert_eq!(stdout(&host).lines().count(), 2);
    let quiet = tlsdiag(&["analyze", "-q", "captures/interleaved.pcap"]);
    let text = stdout(&quiet);
    assert!(text.starts_with("Summary"), "{text}");
    assert!(
        text.contains("5 (4 established, 1 failed, 0 incomplete, 0 not_tls)"),
        "{text}"
    );
}

#[test]
fn standard_input_is_read_with_a_dash() {
    let bytes =
        std::fs::read(common::captures_dir().join("protocol-version.pcap")).expect("readable");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tlsdiag"))
        .args(["analyze", "--format", "ndjson", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&bytes)
        .expect("write");
    let o = child.wait_with_output().expect("wait");
    assert!(o.status.success());
    assert!(
        stdout(&o)
            .lines()
            .next()
            .is_some_and(|l| l.contains("\"protocol_version\""))
    );
}

#[test]
fn text_has_no_colour_when_piped_and_damage_sets_the_exit_status() {
    let o = tlsdiag(&["analyze", "captures/unknown-ca.pcap"]);
    assert!(!stdout(&o).contains('\x1b'), "no escape codes into a pipe");
    assert!(stdout(&o).contains("◀ decisive"));

    let missing = tlsdiag(&["analyze", "captures/no-such-file.pcap"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no-such-file.pcap"));

    let dir = std::env::temp_dir().join(format!("tlsdiag-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let cut = dir.join("cut.pcap");
    let bytes = std::fs::read(common::captures_dir().join("interleaved.pcap")).expect("readable");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
    let damaged = tlsdiag(&[
        "analyze",
        "--format",
        "json",
        cut.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(damaged.status.code(), Some(1));
    let err = String::from_utf8_lossy(&damaged.stderr).into_owned();
    assert!(
        err.contains("cut.pcap") && err.contains("byte offset"),
        "{err}"
    );
    let doc: serde_json::Value = serde_json::from_str(&stdout(&damaged)).expect("still a report");
    assert!(
        doc["connections"].as_array().is_some_and(|c| !c.is_empty()),
        "what came before the damage is reported"
    );
    assert!(doc["summary"]["files"][0]["error"].is_string());
    std::fs::remove_dir_all(dir).ok();

    let usage = tlsdiag(&["analyze"]);
    assert_eq!(usage.status.code(), Some(2));
}

#[cfg(not(feature = "live"))]
#[test]
fn live_without_the_feature_says_how_to_build_it() {
    for args in [&["live", "-i", "lo"][..], &["interfaces"][..]] {
        let o = tlsdiag(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("--features live"), "{err}");
        assert!(err.contains("libpcap-dev"), "{err}");
    }
}

/// Every counter reaches the summary, `packets_after_close` included: the capture is derived
/// here from a bundled one, its last ACK sent again thirty seconds later, long after the
/// connection was judged and removed.
#[test]
fn the_summary_counts_packets_after_close() {
    use common::derive::{read_packets, write_pcap};
    use tlsdiag::capture::Timestamp;
    let mut packets = read_packets(&common::captures_dir().join("tls13-sni-alpn.pcap"));
    let mut late = packets.last().expect("packets").clone();
    late.ts = Timestamp::new(late.ts.secs + 30, late.ts.nanos);
    packets.push(late);
    let path = std::env::temp_dir().join(format!("tlsdiag-late-{}.pcap", std::process::id()));
    std::fs::write(&path, write_pcap(&packets)).unwrap();
    let path_text = path.to_string_lossy().into_owned();
    let o = tlsdiag(&["analyze", "--format", "json", &path_text]);
    let text = tlsdiag(&["analyze", "-q", &path_text]);
    std::fs::remove_file(&path).unwrap();
    assert!(o.status.success());
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("valid JSON");
    assert_eq!(doc["summary"]["packets_after_close"], 1);
    assert_eq!(doc["summary"]["connections"], 1);
    assert!(
        stdout(&text).contains("late         1 packets came after their connection closed"),
        "{}",
        stdout(&text)
    );
}

/// A key log is secret: its lines are never shown, a malformed one only by its number, and a
/// key log that opens nothing says so.
#[test]
fn key_log_lines_are_never_printed_and_a_key_log_that_matches_nothing_says_so() {
    let dir = std::env::temp_dir().join(format!("tlsdiag-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let keylog = dir.join("bad.keys");
    let secret = "CLIENT_RANDOM 00112233 deadbeefdeadbeefdeadbeef";
    std::fs::write(&keylog, format!("{secret}\n")).unwrap();
    let capture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/captures/keylog/tls13-aes128gcm.pcap"
    );
    // The text summary and the HTML page's say the same.
    for format in ["text", "html"] {
        let keys = keylog.to_str().unwrap();
        let out = tlsdiag(&["analyze", "--format", format, "--keylog", keys, capture]);
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            !text.contains("deadbeef"),
            "a key log line was printed:\n{text}"
        );
        assert!(text.contains("key log lines not understood"), "{text}");
        assert!(text.contains("line 1"), "{text}");
        assert!(text.contains("the key log matches no connection"), "{text}");
        assert!(
            text.contains("0 connections decrypted, 1 without keys"),
            "{text}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// With several key logs, a line not understood is named by its file and its line there.
#[test]
fn a_line_not_understood_is_named_by_its_key_log_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (dir.path().join("a.keys"), dir.path().join("b.keys"));
    std::fs::write(&first, "# fine\n").unwrap();
    std::fs::write(&second, "# fine\nnot a key log line\n").unwrap();
    let capture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/captures/keylog/tls13-aes128gcm.pcap"
    );
    let (a, b) = (first.to_str().unwrap(), second.to_str().unwrap());
    let out = tlsdiag(&["analyze", "--keylog", a, "--keylog", b, capture]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("not understood (not shown: they hold secrets): key log 2 line 2"),
        "{text}"
    );
}
