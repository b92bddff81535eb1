//! Retries linked and failures grouped, on real captures (captures/generate.sh `retries`):
//! curl retrying after a refusal, headless Chromium retrying after a reset, openssl falling back
//! to TLS 1.2 after protocol_version, and a TLS 1.0-only client failing against a TLS 1.2+
//! server that curl and gnutls-cli reach.
//! The wire facts a link rests on (who connected when, what each ClientHello offered) are read
//! with tshark where it is installed.

mod common;

use common::{captures_dir, tshark, tshark_available};
use serde_json::Value;
use std::collections::BTreeSet;

fn tlsdiag(args: &[&str]) -> String {
    String::from_utf8(common::run_tlsdiag(args)).expect("UTF-8 report")
}

fn capture(name: &str) -> String {
    captures_dir().join(name).to_string_lossy().into_owned()
}

fn report(name: &str, extra: &[&str]) -> Value {
    let path = capture(name);
    let mut args = vec!["analyze", "--format", "json", path.as_str()];
    args.extend_from_slice(extra);
    serde_json::from_str(&tlsdiag(&args)).expect("one JSON document")
}

fn stream(report: &Value, n: u64) -> &Value {
    report["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["tcp_stream"] == n)
        .unwrap_or_else(|| panic!("no tcp.stream {n}"))
}

/// tshark's first and last frame times of each TCP stream, in seconds.
fn stream_times(name: &str) -> Vec<(f64, f64)> {
    let rows = tshark(
        &captures_dir().join(name),
        &BTreeSet::new(),
        "tcp",
        &["tcp.stream", "frame.time_epoch"],
    );
    let mut times: Vec<(f64, f64)> = Vec::new();
    for row in rows {
        let (n, t): (usize, f64) = (row[0].parse().unwrap(), row[1].parse().unwrap());
        if times.len() <= n {
            times.resize(n + 1, (t, t));
        }
        times[n].1 = t;
    }
    times
}

#[test]
fn a_retry_after_a_refusal_is_linked_both_ways_within_the_window() {
    let r = report("retry-refused.pcap", &[]);
    assert_eq!(stream(&r, 0)["diagnosis"]["code"], "tcp_refused");
    assert_eq!(stream(&r, 0)["retried_by"], 1);
    assert_eq!(stream(&r, 1)["retry_of"], 0);
    assert_eq!(stream(&r, 1)["outcome"], "established");
    assert_eq!(stream(&r, 1)["fallback"], Value::Null);
    let retries = &r["summary"]["retries"];
    assert_eq!(
        (&retries["retries"], &retries["recovered"]),
        (&1.into(), &1.into())
    );
    assert_eq!(retries["not_recovered"], 0);
    if !tshark_available() {
        return;
    }
    // curl waited about a second: a window shorter than the gap links nothing.
    let times = stream_times("retry-refused.pcap");
    let gap = times[1].0 - times[0].1;
    assert!(
        gap > 0.5 && gap < 30.0,
        "curl retried {gap} s after the refusal"
    );
    let window = format!("{}", gap / 2.0);
    let r = report("retry-refused.pcap", &["--retry-window", &window]);
    assert_eq!(stream(&r, 0)["retried_by"], Value::Null);
    assert_eq!(stream(&r, 1)["retry_of"], Value::Null);
    assert_eq!(r["summary"]["retries"]["not_recovered"], 1);
}

#[test]
fn a_browser_retrying_after_a_reset_is_linked() {
    let name = "chromium-retry.pcap";
    let r = report(name, &[]);
    assert_eq!(stream(&r, 0)["diagnosis"]["code"], "server_reset");
    assert_eq!(stream(&r, 0)["retried_by"], 1);
    assert_eq!(
        (&stream(&r, 1)["retry_of"], &stream(&r, 1)["outcome"]),
        (&0.into(), &"established".into())
    );
    assert_eq!(r["summary"]["retries"]["recovered"], 1);
    if !tshark_available() {
        return;
    }
    // The server's RST ends stream 0 before stream 1's SYN, from the same client address, with
    // a ClientHello for the same name.
    let rows = tshark(
        &captures_dir().join(name),
        &BTreeSet::new(),
        "tcp.stream <= 1 && (tcp.flags.reset == 1 || tcp.flags.syn == 1 && tcp.flags.ack == 0 || tls.handshake.type == 1)",
        &[
            "tcp.stream",
            "frame.time_epoch",
            "ip.src",
            "tcp.srcport",
            "tcp.flags.reset",
            "tls.handshake.extensions_server_name",
        ],
    );
    let reset = rows
        .iter()
        .find(|r| r[0] == "0" && r[4] == "1")
        .expect("stream 0's RST");
    assert_eq!(reset[3], "443", "the server reset it");
    let syn = rows.iter().find(|r| r[0] == "1").expect("stream 1's SYN");
    assert!(syn[1].parse::<f64>().unwrap() >= reset[1].parse::<f64>().unwrap());
    let hellos: Vec<&Vec<String>> = rows.iter().filter(|r| !r[5].is_empty()).collect();
    assert_eq!(hellos.len(), 2);
    assert!(
        hellos
            .iter()
            .all(|h| h[5] == "server.test" && h[2] == hellos[0][2])
    );
}

#[test]
fn a_retry_offering_an_older_version_is_a_fallback() {
    let r = report("fallback-protocol-version.pcap", &[]);
    let retry = stream(&r, 1);
    assert_eq!(stream(&r, 0)["diagnosis"]["code"], "protocol_version");
    assert_eq!(retry["retry_of"], 0);
    let fallback = &retry["fallback"];
    assert_eq!(fallback["highest_version_before"], "TLSv1.3");
    assert_eq!(fallback["highest_version"], "TLSv1.2");
    assert_eq!(r["summary"]["retries"]["fallbacks"], 1);
    if !tshark_available() {
        return;
    }
    // What each ClientHello offered, as tshark reads it: the first lists TLS 1.3 alone in
    // supported_versions, the second has no such extension and carries TLS_FALLBACK_SCSV.
    let hellos = tshark(
        &captures_dir().join("fallback-protocol-version.pcap"),
        &BTreeSet::new(),
        "tls.handshake.type == 1",
        &[
            "tcp.stream",
            "tls.handshake.extensions.supported_version",
            "tls.handshake.cipher_suites_length",
            "tls.handshake.ciphersuite",
        ],
    );
    assert_eq!(hellos.len(), 2);
    assert_eq!(
        (hellos[0][0].as_str(), hellos[0][1].as_str()),
        ("0", "0x0304")
    );
    assert_eq!((hellos[1][0].as_str(), hellos[1][1].as_str()), ("1", ""));
    assert!(
        hellos[1][3].split(',').any(|c| c == "0x5600"),
        "TLS_FALLBACK_SCSV"
    );
    for (row, key) in hellos.iter().zip(["cipher_suites_before", "cipher_suites"]) {
        let suites: u64 = row[2].parse::<u64>().unwrap() / 2;
        assert_eq!(fallback[key], suites, "{key}");
    }
}

#[test]
fn the_cross_view_names_the_fingerprint_that_fails() {
    let name = "two-client-stacks.pcap";
    let r = report(name, &[]);
    let old_ja4 = stream(&r, 0)["ja4"].clone();
    for n in 0..3 {
        assert_eq!(stream(&r, n)["diagnosis"]["code"], "protocol_version");
        assert_eq!(stream(&r, n)["ja4"], old_ja4);
    }
    let groups = &r["summary"]["groups"];
    let server = &groups["servers_by_fingerprint"]["top"][0];
    assert_eq!(
        (&server["sni"], &server["failed"]),
        (&"server.test".into(), &3.into())
    );
    let prints = server["fingerprints"]["top"].as_array().unwrap();
    assert_eq!(
        prints[0]["ja4"], old_ja4,
        "the failing fingerprint comes first"
    );
    assert_eq!(
        (&prints[0]["failed"], &prints[0]["established"]),
        (&3.into(), &0.into())
    );
    assert_eq!(
        prints[0]["versions_offered"],
        serde_json::json!(["TLSv1.0"])
    );
    let others: Vec<&Value> = prints.iter().skip(1).collect();
    assert_eq!(others.len(), 2, "curl's and gnutls-cli's");
    assert!(
        others
            .iter()
            .all(|p| p["failed"] == 0 && p["established"] == 2)
    );
    assert_eq!(groups["clients"]["top"][0]["client"], "198.18.0.3");
    assert_eq!(groups["clients"]["top"][0]["failed"], 3);

    let text = tlsdiag(&["analyze", "-q", &capture(name)]);
    let ja4 = old_ja4.as_str().unwrap();
    let line = format!(
        "3 failed, all from ja4 {ja4} (offers TLSv1.0); 4 established from 2 other fingerprints"
    );
    assert!(text.contains(&line), "{text}");
    let by_client = tlsdiag(&["analyze", "-q", "--group-by", "client", &capture(name)]);
    assert!(
        by_client.contains("198.18.0.3: 3 connections, 3 failed"),
        "{by_client}"
    );
    let top_one = report(name, &["--top", "1"]);
    let prints = &top_one["summary"]["groups"]["fingerprints"];
    assert_eq!(prints["top"].as_array().unwrap().len(), 1);
    assert_eq!(
        (&prints["other_groups"], &prints["other_connections"]),
        (&2.into(), &4.into())
    );

    if !tshark_available() {
        return;
    }
    // The failing client is the one tshark sees offering TLS 1.0 alone, from 198.18.0.3.
    let hellos = tshark(
        &captures_dir().join(name),
        &BTreeSet::new(),
        "tls.handshake.type == 1 && tls.handshake.version == 0x0301",
        &["tcp.stream", "ip.src"],
    );
    let streams: Vec<&str> = hellos.iter().map(|h| h[0].as_str()).collect();
    assert_eq!(streams, ["0", "1", "2"]);
    assert!(hellos.iter().all(|h| h[1] == "198.18.0.3"));
}

/// A held failure comes out where the linking puts it, the same for any number of workers.
#[test]
fn held_connections_come_out_the_same_for_any_jobs() {
    let files: Vec<String> = [
        "two-client-stacks.pcap",
        "retry-refused.pcap",
        "port-reuse.pcap",
    ]
    .iter()
    .map(|n| capture(n))
    .collect();
    let run = |jobs: &str| {
        let mut args = vec!["analyze", "--format", "ndjson", "-j", jobs];
        args.extend(files.iter().map(String::as_str));
        tlsdiag(&args)
    };
    let one = run("1");
    assert_eq!(one, run("2"));
    // Stream 2 of the old client waited for a retry that never came: it is reported last.
    let first_file: Vec<Value> = one
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .take_while(|c: &Value| {
            c["file"]
                .as_str()
                .is_some_and(|f| f.ends_with("two-client-stacks.pcap"))
        })
        .collect();
    assert_eq!(first_file.len(), 7);
    assert_eq!(first_file[6]["tcp_stream"], 2);
    assert_eq!(first_file[6]["retry_of"], 1);
}
