//! Decryption with a key log, on the captures of captures/keylog/ (real clients, each with the
//! key log it wrote; see captures/README.md): every alert and certificate tlsdiag decrypts is
//! compared with what tshark decrypts from the same key log (`-o tls.keylog_file:`), and the
//! verdicts that only decryption makes certain are checked.

mod common;

use std::path::{Path, PathBuf};
use tlsdiag::Options;
use tlsdiag::analyze::{Analysis, Analyzer, analyze_capture};
use tlsdiag::capture::read_capture;
use tlsdiag::connection::{Code, Connection, Decryption, Outcome};
use tlsdiag::flow::Side;
use tlsdiag::tls::keylog::{KeyLog, SharedKeyLog};

fn dir() -> PathBuf {
    common::captures_dir().join("keylog")
}

fn keylog(keys: &Path) -> SharedKeyLog {
    let mut keylog = KeyLog::default();
    keylog.add_text(&std::fs::read(keys).unwrap());
    keylog.finish();
    SharedKeyLog::complete(keylog)
}

fn analyze(capture: &Path, keys: Option<&Path>) -> Analysis {
    let options = Options {
        keylog: keys.map(keylog),
        ..Options::default()
    };
    let file = std::fs::File::open(capture).unwrap();
    let (analysis, _, result) = analyze_capture(file, &options);
    result.unwrap();
    analysis
}

/// Every capture of captures/keylog/ with a key log of its own.
fn pairs() -> Vec<(PathBuf, PathBuf)> {
    let mut pairs: Vec<(PathBuf, PathBuf)> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .filter_map(|p| {
            let keys = p.with_extension("keys");
            keys.exists().then_some((p, keys))
        })
        .collect();
    pairs.sort();
    assert!(
        pairs.len() >= 30,
        "key log captures missing: {}",
        pairs.len()
    );
    pairs
}

/// (frame, description code) of every alert tshark decrypts with the key log.
fn tshark_alerts(capture: &Path, keys: &Path) -> Vec<(u64, u8)> {
    let out = std::process::Command::new("tshark")
        .arg("-r")
        .arg(capture)
        .args(["-n", "-o", &format!("tls.keylog_file:{}", keys.display())])
        .args(["-Y", "tls.alert_message.desc", "-T", "fields"])
        .args(["-e", "frame.number", "-e", "tls.alert_message.desc"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut alerts = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let (frame, descs) = line.split_once('\t').unwrap();
        for d in descs.split(',') {
            alerts.push((frame.parse().unwrap(), d.parse().unwrap()));
        }
    }
    alerts
}

/// Certificates in each Certificate message tshark decrypts, by (frame, count).
fn tshark_chains(capture: &Path, keys: &Path) -> Vec<(u64, usize)> {
    let out = std::process::Command::new("tshark")
        .arg("-r")
        .arg(capture)
        .args(["-n", "-o", &format!("tls.keylog_file:{}", keys.display())])
        .args(["-Y", "tls.handshake.type == 11", "-T", "fields"])
        .args([
            "-e",
            "frame.number",
            "-e",
            "tls.handshake.certificate_length",
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (frame, lengths) = l.split_once('\t')?;
            let count = lengths.split(',').filter(|s| !s.is_empty()).count();
            Some((frame.parse().ok()?, count))
        })
        .collect()
}

fn only(analysis: &Analysis) -> &Connection {
    analysis.connections.first().expect("a connection")
}

#[test]
fn every_key_log_capture_decrypts_and_its_alerts_and_certificates_agree_with_tshark() {
    if !common::tshark_available() {
        return;
    }
    let mut alerts_checked = 0;
    let mut chains_checked = 0;
    for (capture, keys) in pairs() {
        let name = capture.file_name().unwrap().to_string_lossy().to_string();
        let analysis = analyze(&capture, Some(&keys));
        let all: Vec<_> = analysis
            .connections
            .iter()
            .flat_map(|c| &c.alerts)
            .collect();
        for c in &analysis.connections {
            assert_eq!(
                c.decryption,
                Decryption::Ok,
                "{name}: stream {}",
                c.tcp_stream
            );
        }
        // Every alert tlsdiag read, in clear or decrypted, is the one tshark decrypts; every
        // fatal one tshark decrypts is read (close_notify after an established handshake is
        // not: its payload is no longer followed).
        let theirs = tshark_alerts(&capture, &keys);
        for a in &all {
            let description = a
                .description
                .unwrap_or_else(|| panic!("{name}: alert at frame {} left undecrypted", a.frame));
            assert!(
                theirs.contains(&(a.frame, description.0)),
                "{name}: alert {} at frame {} is not tshark's {theirs:?}",
                description.0,
                a.frame
            );
            alerts_checked += 1;
        }
        // A renegotiation comes after the handshake settled, where tlsdiag stops reading.
        let fatal = theirs.iter().filter(|(_, d)| *d != 0);
        for &(frame, desc) in fatal.filter(|_| !name.contains("reneg")) {
            assert!(
                all.iter()
                    .any(|a| a.frame == frame && a.description.map(|d| d.0) == Some(desc)),
                "{name}: tshark's alert {desc} at frame {frame} is missing"
            );
        }
        // The server's chain, decrypted in TLS 1.3, as tshark counts it.
        for (frame, count) in tshark_chains(&capture, &keys) {
            let conn = only(&analysis);
            let server_frame = conn.timeline.iter().any(|e| {
                e.frame == frame
                    && e.from == Side::Server
                    && format!("{:?}", e.event) == "Certificate"
            });
            if server_frame {
                assert_eq!(conn.certificates.len(), count, "{name}: frame {frame}");
                chains_checked += 1;
            }
        }
    }
    assert!(alerts_checked >= 15, "{alerts_checked} alerts checked");
    assert!(chains_checked >= 15, "{chains_checked} chains checked");
}

#[test]
fn successes_verify_both_finished_and_stay_established() {
    for (capture, keys) in pairs() {
        let name = capture.file_name().unwrap().to_string_lossy().to_string();
        if !name.contains("success") && !name.contains("-aes") && !name.contains("-chacha") {
            continue;
        }
        if name.contains("altered") {
            continue;
        }
        let analysis = analyze(&capture, Some(&keys));
        for c in &analysis.connections {
            assert_eq!(c.verdict.outcome, Outcome::Established, "{name}");
        }
    }
}

#[test]
fn an_altered_handshake_is_a_certain_crypto_failure() {
    let capture = dir().join("tls12-ecdhe-rsa-aes128gcm-altered.pcap");
    let keys = dir().join("tls12-ecdhe-rsa-aes128gcm-altered.keys");
    let with = analyze(&capture, Some(&keys));
    let d = only(&with).diagnosis.as_ref().expect("a diagnosis");
    assert_eq!(d.code, Code::CryptoFailure);
    assert!(
        d.evidence
            .iter()
            .any(|e| e.fact.contains("decrypted with the key log"))
    );
    // Without the key log nothing shows it: the handshake completed.
    let without = analyze(&capture, None);
    assert_eq!(only(&without).verdict.outcome, Outcome::Established);
    assert_eq!(only(&without).decryption, Decryption::None);
}

#[test]
fn secrets_of_another_run_fail_and_a_key_log_without_the_connection_has_no_keys() {
    let capture = dir().join("tls13-aes128gcm.pcap");
    // The other run's key log holds other client randoms: nothing for this connection.
    let other_run = dir().join("tls13-aes128gcm.wrong.keys");
    assert_eq!(
        only(&analyze(&capture, Some(&other_run))).decryption,
        Decryption::NoKeys
    );
    // Its secrets under this connection's client random (made here from the two real key
    // logs) are keys that do not open its records.
    let right = std::fs::read_to_string(dir().join("tls13-aes128gcm.keys")).unwrap();
    let first = right.lines().find(|l| !l.starts_with('#')).unwrap();
    let random = first.split_whitespace().nth(1).unwrap().to_string();
    let swapped: String = std::fs::read_to_string(&other_run)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            Some(format!("{} {random} {}\n", f.next()?, f.nth(1)?))
        })
        .collect();
    let mut keylog = KeyLog::default();
    keylog.add_text(swapped.as_bytes());
    let options = Options {
        keylog: Some(SharedKeyLog::complete(keylog)),
        ..Options::default()
    };
    let (wrong, _, _) = analyze_capture(std::fs::File::open(&capture).unwrap(), &options);
    assert_eq!(only(&wrong).decryption, Decryption::Failed);
}

#[test]
fn decrypted_tls13_failures_name_their_alert_with_certainty() {
    for (file, code) in [
        (
            "tls13-client-cert-required",
            Code::ClientCertificateRequired,
        ),
        (
            "tls13-client-cert-rejected",
            Code::ClientCertificateRejected,
        ),
        (
            "curl-tls13-client-cert-required",
            Code::ClientCertificateRequired,
        ),
        ("gnutls-tls13-cert-expired", Code::CertificateRejected),
        ("chromium-tls13-unknown-ca", Code::CertificateRejected),
    ] {
        let capture = dir().join(format!("{file}.pcap"));
        let analysis = analyze(&capture, Some(&dir().join(format!("{file}.keys"))));
        let d = only(&analysis).diagnosis.as_ref().expect("a diagnosis");
        assert_eq!(d.code, code, "{file}");
        assert_eq!(format!("{:?}", d.confidence), "Certain", "{file}");
    }
}

#[test]
fn a_pcapng_with_its_secrets_inside_decrypts_without_a_key_log() {
    let path = dir().join("tls13-client-cert-required-dsb.pcapng");
    let mut keylog = KeyLog::default();
    for (kind, len, data) in
        tlsdiag::capture::decryption_secrets(std::fs::File::open(&path).unwrap())
    {
        keylog.add_decryption_secrets(kind, len, &data).unwrap();
    }
    assert!(!keylog.is_empty(), "no Decryption Secrets Block read");
    let options = Options {
        keylog: Some(SharedKeyLog::complete(keylog)),
        ..Options::default()
    };
    let (analysis, _, result) = analyze_capture(std::fs::File::open(&path).unwrap(), &options);
    result.unwrap();
    let conn = only(&analysis);
    assert_eq!(conn.decryption, Decryption::Ok);
    let d = conn.diagnosis.as_ref().expect("a diagnosis");
    assert_eq!(d.code, Code::ClientCertificateRequired);
    assert!(
        conn.alerts
            .iter()
            .any(|a| a.encrypted && a.description.is_some_and(|d| d.0 == 116))
    );
}

/// Without the key log, each client stack's verdict is the decrypted one, or a less specific
/// one that says `likely`; the outcome never differs (but for the altered capture, whose
/// alteration only the keys show).
#[test]
fn keyless_verdicts_agree_with_the_decrypted_ones_or_say_likely() {
    for (capture, keys) in pairs() {
        let name = capture.file_name().unwrap().to_string_lossy().to_string();
        if name.contains("altered") {
            continue;
        }
        let (with, without) = (analyze(&capture, Some(&keys)), analyze(&capture, None));
        for (w, wo) in with.connections.iter().zip(&without.connections) {
            assert_eq!(w.verdict.outcome, wo.verdict.outcome, "{name}");
            let (Some(dw), Some(dwo)) = (&w.diagnosis, &wo.diagnosis) else {
                continue;
            };
            if dw.code != dwo.code {
                assert_eq!(format!("{:?}", dwo.confidence), "Likely", "{name}");
            }
        }
    }
}

/// JSSE pads every TLS 1.3 record by 16 bytes: its alert is no 19-byte record, but it is
/// still too small for a Finished. Java writes no key log; EXPECTED.tsv says what it did.
#[test]
fn a_java_client_rejecting_the_certificate_is_not_taken_as_established() {
    let rejected = analyze(&dir().join("java-tls13-unknown-ca.pcap"), None);
    let d = only(&rejected).diagnosis.as_ref().expect("a diagnosis");
    assert_eq!(d.code, Code::CertificateRejectedTls13);
    assert_eq!(d.frame, 9);
    let success = analyze(&dir().join("java-tls13-success.pcap"), None);
    assert_eq!(only(&success).verdict.outcome, Outcome::Established);
}

/// TLS 1.3 sends the chosen ALPN in EncryptedExtensions: read only with the keys, and then as
/// tshark reads it.
#[test]
fn the_alpn_a_tls13_server_chose_is_read_from_its_encrypted_extensions() {
    let capture = dir().join("tls13-alpn.pcap");
    let keys = dir().join("tls13-alpn.keys");
    let with = analyze(&capture, Some(&keys));
    let alpn = only(&with).alpn.as_ref().map(|a| a.as_str().to_string());
    assert_eq!(alpn.as_deref(), Some("h2"));
    assert!(only(&analyze(&capture, None)).alpn.is_none());
    if common::tshark_available() {
        let out = std::process::Command::new("tshark")
            .arg("-r")
            .arg(&capture)
            .args(["-o", &format!("tls.keylog_file:{}", keys.display())])
            .args(["-Y", "tls.handshake.type == 8", "-T", "fields"])
            .args(["-e", "tls.handshake.extensions_alpn_str"])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "h2");
    }
}

/// A live run's analyser, and the empty key log it follows.
fn live_following() -> (SharedKeyLog, Analyzer) {
    let keylog = SharedKeyLog::following(KeyLog::default());
    let options = Options {
        keylog: Some(keylog.clone()),
        report_early: true,
        ..Options::default()
    };
    (keylog, Analyzer::new(options))
}

/// A live run's analyser over `capture` with its key log followed: each of `writes` (the
/// text, and after how many packets) is written to the key log while the capture runs, as a
/// client writes it; with `sweep`, the key log's growth is looked for after every packet,
/// as the live loop does. The connections reported, in tcp.stream order, as JSON.
fn follow(capture: &Path, writes: &[(&[u8], usize)], sweep: bool) -> Vec<serde_json::Value> {
    let (keylog, mut analyzer) = live_following();
    let mut read = 0;
    let write = |at: usize| {
        for &(text, after) in writes {
            if after == at {
                keylog.update(|log| log.add_text(text));
            }
        }
    };
    let file = std::fs::File::open(capture).unwrap();
    let mut connections = Vec::new();
    let (_, result) = read_capture(file, |packet| {
        write(read);
        analyzer.packet(packet);
        if sweep {
            analyzer.sweep_keys(packet.ts);
        }
        connections.extend(analyzer.take_finished());
        read += 1;
    });
    result.unwrap();
    write(read);
    connections.extend(analyzer.take_finished());
    connections.extend(analyzer.finish().connections);
    connections.sort_by_key(|c| c.tcp_stream);
    connections
        .iter()
        .map(|c| serde_json::to_value(c).unwrap())
        .collect()
}

/// `same_decryption` for each connection of two runs over one capture.
fn all_same_decryption(late: &[serde_json::Value], early: &[serde_json::Value], what: &str) {
    assert_eq!(late.len(), early.len(), "{what}");
    for (late, early) in late.iter().zip(early) {
        same_decryption(late, early, what);
    }
}

/// What decryption decides is the same in `late`, whose report waited for its keys (so
/// that it may hold later packets: the client's FIN, say), and in `early`.
fn same_decryption(late: &serde_json::Value, early: &serde_json::Value, what: &str) {
    let fields = [
        "decryption",
        "alerts",
        "certificates",
        "client_certificates",
        "alpn",
        "version",
        "cipher",
        "outcome",
        "stage",
    ];
    for field in fields {
        assert_eq!(late[field], early[field], "{what}: {field}");
    }
    assert_eq!(
        late["diagnosis"]["code"], early["diagnosis"]["code"],
        "{what}"
    );
    // The ladder up to the early report's last frame, every decrypted line in its place.
    let last = early["last_frame"].as_u64().unwrap();
    let upto = |c: &serde_json::Value| -> Vec<serde_json::Value> {
        let timeline = c["timeline"].as_array().unwrap();
        timeline
            .iter()
            .filter(|e| e["frame"].as_u64().unwrap() <= last)
            .cloned()
            .collect()
    };
    let (late_ladder, early_ladder) = (upto(late), upto(early));
    if late_ladder != early_ladder {
        let show = |l: &[serde_json::Value]| -> Vec<String> {
            l.iter()
                .map(|e| format!("{} {} {}", e["frame"], e["from"], e["event"]))
                .collect()
        };
        panic!(
            "{what}: timeline\n late: {:?}\nearly: {:?}",
            show(&late_ladder),
            show(&early_ladder)
        );
    }
}

fn packets_in(capture: &Path) -> usize {
    let mut n = 0;
    let (_, result) = read_capture(std::fs::File::open(capture).unwrap(), |_| n += 1);
    result.unwrap();
    n
}

/// Live, the client writes its secrets as it reads the server's flight, after the capture
/// holds it: however late in the connection the key log gets its lines, what is reported
/// is what a key log complete from the start gives (the records held meanwhile are read in
/// order, their events told at their frames), and what file analysis decrypts.
#[test]
fn a_followed_key_log_decrypts_whenever_its_lines_come() {
    for (capture, keys) in pairs() {
        let name = capture.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read(&keys).unwrap();
        let from_start = follow(&capture, &[(&text, 0)], false);
        let file = analyze(&capture, Some(&keys));
        assert_eq!(from_start.len(), file.connections.len(), "{name}");
        for (live, file) in from_start.iter().zip(&file.connections) {
            assert_eq!(live["decryption"], "ok", "{name}");
            let file = serde_json::to_value(file).unwrap();
            for field in ["alerts", "certificates", "alpn", "outcome", "diagnosis"] {
                assert_eq!(live[field], file[field], "{name}: {field}");
            }
        }
        for after in 1..=packets_in(&capture) {
            let late = follow(&capture, &[(&text, after)], false);
            let what = format!("{name}: key log written after {after} packets");
            all_same_decryption(&late, &from_start, &what);
        }
    }
}

/// Clients write a connection's lines one at a time, the server's handshake secret first
/// (OpenSSL) or the client's (Chromium, GnuTLS), the application secrets after the server's
/// flight, and some never write the client's (a client that rejects the certificate). The
/// key log's lines in their order, the first few written after one packet and the rest
/// after the next (or at the end), give what the whole key log from the start gives.
#[test]
fn a_followed_key_log_written_line_by_line_decrypts_as_a_whole_one() {
    for (capture, keys) in pairs() {
        let name = capture.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read(&keys).unwrap();
        let from_start = follow(&capture, &[(&text, 0)], false);
        let lines: Vec<&[u8]> = text.split_inclusive(|&b| b == b'\n').collect();
        let packets = packets_in(&capture);
        for n in 1..lines.len() {
            let (first, rest) = (lines[..n].concat(), lines[n..].concat());
            for after in 0..packets {
                for then in [after + 1, packets] {
                    let writes = [(&first[..], after), (&rest[..], then)];
                    let late = follow(&capture, &writes, true);
                    let what =
                        format!("{name}: {n} lines after {after} packets, the rest after {then}");
                    all_same_decryption(&late, &from_start, &what);
                }
            }
        }
    }
}

/// The application secrets after the handshake's, however late: a direction waiting for its
/// own does not lose the other's switch to its application keys (the server's alert
/// rejecting a client certificate comes under them).
#[test]
fn a_followed_key_log_gets_the_application_secrets_late() {
    for (capture, keys) in pairs() {
        let name = capture.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read(&keys).unwrap();
        let from_start = follow(&capture, &[(&text, 0)], false);
        let (mut handshake, mut application) = (Vec::new(), Vec::new());
        for line in text.split_inclusive(|&b| b == b'\n') {
            let late = line.starts_with(b"CLIENT_TRAFFIC_SECRET_0")
                || line.starts_with(b"SERVER_TRAFFIC_SECRET_0");
            let to = if late {
                &mut application
            } else {
                &mut handshake
            };
            to.extend_from_slice(line);
        }
        for after in 1..=packets_in(&capture) {
            let writes = [(&handshake[..], 0), (&application[..], after)];
            let late = follow(&capture, &writes, true);
            let what = format!("{name}: application secrets after {after} packets");
            all_same_decryption(&late, &from_start, &what);
        }
    }
}

/// A key log that never gets a connection's lines leaves it judged as without one, its
/// decryption `no_keys`; a report waiting for keys goes out once `KEY_WAIT` has passed.
#[test]
fn a_followed_key_log_without_the_lines_judges_as_without_keys() {
    for (capture, _) in pairs() {
        let name = capture.file_name().unwrap().to_string_lossy().to_string();
        let never = follow(&capture, &[], false);
        let options = Options {
            report_early: true,
            ..Options::default()
        };
        let mut analyzer = Analyzer::new(options);
        let (_, result) = read_capture(std::fs::File::open(&capture).unwrap(), |p| {
            analyzer.packet(p)
        });
        result.unwrap();
        let mut keyless = analyzer.take_finished();
        keyless.extend(analyzer.finish().connections);
        keyless.sort_by_key(|c| c.tcp_stream);
        assert_eq!(never.len(), keyless.len(), "{name}");
        for (never, keyless) in never.iter().zip(&keyless) {
            assert_eq!(never["decryption"], "no_keys", "{name}");
            let mut keyless = serde_json::to_value(keyless).unwrap();
            keyless["decryption"] = never["decryption"].clone();
            same_decryption(never, &keyless, &format!("{name}: no key log lines"));
        }
    }
    // The wait is bounded: a sweep past it reports the connection without its keys.
    let capture = dir().join("tls13-aes128gcm.pcap");
    let (_, mut analyzer) = live_following();
    let mut last = None;
    let (_, result) = read_capture(std::fs::File::open(&capture).unwrap(), |p| {
        last = Some(p.ts);
        analyzer.packet(p)
    });
    result.unwrap();
    let last = last.unwrap();
    assert!(
        analyzer.take_finished().is_empty(),
        "reported before its keys"
    );
    analyzer.sweep_keys(last.after(1.0));
    assert!(
        analyzer.take_finished().is_empty(),
        "reported within the wait"
    );
    analyzer.sweep_keys(last.after(3.0));
    let reported = analyzer.take_finished();
    assert_eq!(reported.len(), 1);
    assert_eq!(reported[0].decryption, Decryption::NoKeys);
    // Counted: a wait that ended without its keys.
    assert_eq!(analyzer.counters().key_waits_unmet, 1);
}
