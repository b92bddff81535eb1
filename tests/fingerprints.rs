//! Fingerprints on every bundled capture (captures/ and captures/keylog/), against two
//! references that share no code with tlsdiag:
//!
//! - JA3 and JA3S against tshark's: in tests/tshark_agreement.rs, with the other facts tshark
//!   reads.
//! - JA4, JA4S and JA4X (fingerprints and raw forms) against ja4plus, a Python implementation
//!   of FoxIO's JA4+ on scapy and `cryptography` (PyPI `ja4plus`, 1.4.0 in CI), run by
//!   tests/ja4plus_frames.py, frame by frame: the fingerprints it computes at the frame of
//!   each ClientHello, ServerHello and server Certificate tlsdiag decoded.
//!
//! Each comparison is skipped, saying so, where its tool is not installed; CI sets
//! TLSDIAG_REQUIRE_TSHARK=1 and TLSDIAG_REQUIRE_JA4PLUS=1 so that there both must run.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use tlsdiag::connection::{Connection, EventKind};
use tlsdiag::flow::Side;

/// Whether ja4plus can be run; says so when it cannot, and fails when CI requires it
/// (TLSDIAG_REQUIRE_JA4PLUS=1).
fn ja4plus_available() -> bool {
    let found = std::process::Command::new("python3")
        .args(["-c", "import ja4plus"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("TLSDIAG_REQUIRE_JA4PLUS").is_none(),
            "TLSDIAG_REQUIRE_JA4PLUS is set but ja4plus is not installed (pip install ja4plus)"
        );
        eprintln!(
            "SKIPPED: the Python package ja4plus is not installed (pip install ja4plus); \
             the JA4 comparison did not run"
        );
    }
    found
}

/// Captures whose handshakes ja4plus cannot read, and why: their JA3 and JA3S are compared
/// with tshark's all the same.
const UNREADABLE_TO_JA4PLUS: &[(&str, &str)] = &[
    (
        "vxlan-fragmented.pcap",
        "the outer IP packets are fragmented, and ja4plus reassembles no IP fragments",
    ),
    (
        "wrapped-mpls.pcap",
        "scapy, which ja4plus reads packets with, decodes no MPLS label stack by default",
    ),
];

/// One fingerprint ja4plus computed: its method (`ja4`, `ja4s`, `ja4x`), the fingerprint and
/// the raw form.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Theirs {
    method: String,
    fingerprint: String,
    raw: String,
}

/// Per capture, per frame, what ja4plus computed at that frame, in its order.
type Ja4plusOutput = BTreeMap<PathBuf, BTreeMap<u64, Vec<Theirs>>>;

fn run_ja4plus(paths: &[PathBuf]) -> Ja4plusOutput {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ja4plus_frames.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .args(paths)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "ja4plus_frames.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut all = Ja4plusOutput::new();
    let mut current = None;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            ["#", path] => {
                current = Some(PathBuf::from(path));
                all.entry(PathBuf::from(path)).or_default();
            }
            [frame, method, fingerprint, raw] => {
                let path = current.clone().expect("a capture's header comes first");
                all.entry(path)
                    .or_default()
                    .entry(frame.parse().expect("frame"))
                    .or_default()
                    .push(Theirs {
                        method: method.to_string(),
                        fingerprint: fingerprint.to_string(),
                        raw: raw.to_string(),
                    });
            }
            other => panic!("unexpected line from ja4plus_frames.py: {other:?}"),
        }
    }
    all
}

#[test]
fn ja4_ja4s_and_ja4x_agree_with_ja4plus_on_every_bundled_capture() {
    if !ja4plus_available() {
        return;
    }
    let paths: Vec<PathBuf> = common::captures_with_keylog()
        .into_iter()
        .filter(|p| {
            !UNREADABLE_TO_JA4PLUS
                .iter()
                .any(|(name, _)| p.ends_with(name))
        })
        .collect();
    let theirs = run_ja4plus(&paths);
    let mut checked = 0;
    for path in &paths {
        let frames = theirs.get(path).expect("ja4plus read every capture");
        checked += compare_ja4(path, frames);
    }
    eprintln!("compared {checked} JA4, JA4S and JA4X fingerprints with ja4plus");
    assert!(checked > 150, "too few fingerprints compared: {checked}");
}

/// What ja4plus computed by `method` at `frame`.
fn at<'a>(frames: &'a BTreeMap<u64, Vec<Theirs>>, frame: u64, method: &str) -> Vec<&'a Theirs> {
    frames
        .get(&frame)
        .map(|all| all.iter().filter(|t| t.method == method).collect())
        .unwrap_or_default()
}

/// A ServerHello of a TLS 1.3 draft before 22, which has no session id: ja4plus reads it as
/// a TLS 1.2 one, and takes two bytes of the random for the cipher suite (tshark reads it
/// right, and the JA3S comparison checks tlsdiag's reading of it).
fn early_draft(conn: &Connection) -> bool {
    conn.version
        .and_then(|v| v.strip_prefix("TLSv1.3-draft"))
        .and_then(|n| n.parse::<u8>().ok())
        .is_some_and(|n| n < 22)
}

/// The frame of the first event of `kind` the server sent.
fn server_frame(conn: &Connection, kind: EventKind) -> Option<u64> {
    conn.timeline
        .iter()
        .find(|e| e.event == kind && e.from == Side::Server)
        .map(|e| e.frame)
}

fn compare_ja4(path: &Path, frames: &BTreeMap<u64, Vec<Theirs>>) -> usize {
    let name = path.display().to_string();
    let (analysis, _) = common::analyze_path(path);
    let mut checked = 0;
    let mut ours: BTreeSet<(&str, String)> = BTreeSet::new();
    // ServerHello frames whose JA4S ja4plus computes from another message than the one sent.
    let mut unread = BTreeSet::new();
    for conn in &analysis.connections {
        let stream = conn.tcp_stream;
        if let Some(f) = conn.client_fingerprints.get() {
            let frame = conn
                .facts
                .client_hello
                .as_ref()
                .expect("a ClientHello")
                .frame;
            // ja4plus names a ClientHello again at later packets of its stream: the first
            // at the hello's own frame is the one.
            let theirs = at(frames, frame, "ja4");
            let first = theirs.first().unwrap_or_else(|| {
                panic!("{name}: ja4plus has no JA4 at frame {frame} (stream {stream})")
            });
            assert_eq!(
                (f.ja4.as_str(), f.ja4_r.as_str()),
                (first.fingerprint.as_str(), first.raw.as_str()),
                "{name}: JA4 of stream {stream}"
            );
            ours.insert(("ja4", f.ja4.clone()));
            checked += 1;
        }
        let server = conn.server_fingerprints.get();
        let frame = server_frame(conn, EventKind::ServerHello);
        if let (Some(frame), true) = (frame, early_draft(conn)) {
            unread.insert(frame);
        } else if let (Some(f), Some(frame)) = (server, frame) {
            let theirs = at(frames, frame, "ja4s");
            let first = theirs.first().unwrap_or_else(|| {
                panic!("{name}: ja4plus has no JA4S at frame {frame} (stream {stream})")
            });
            assert_eq!(
                (f.ja4s.as_str(), f.ja4s_r.as_str()),
                (first.fingerprint.as_str(), first.raw.as_str()),
                "{name}: JA4S of stream {stream}"
            );
            ours.insert(("ja4s", f.ja4s.clone()));
            checked += 1;
        }
        if let Some(hrr) = &conn.hello_retry {
            unread.insert(hrr.frame);
        }
        checked += compare_ja4x(&name, conn, frames, &mut ours);
    }
    // And the other way: every fingerprint ja4plus computed is one of tlsdiag's, but for a
    // HelloRetryRequest's JA4S (tlsdiag fingerprints the ServerHello that follows it) and an
    // early draft's.
    for (frame, all) in frames {
        for t in all {
            if t.method == "ja4s" && unread.contains(frame) {
                continue;
            }
            let fingerprint = t.fingerprint.replace("e3b0c44298fc", "000000000000");
            assert!(
                ours.contains(&(t.method.as_str(), fingerprint)),
                "{name}: ja4plus computed {} {} at frame {frame}; tlsdiag did not",
                t.method,
                t.fingerprint
            );
        }
    }
    checked
}

/// Each side's chain, certificate by certificate, at the frame of its Certificate message
/// (the client's read from the JSON record, where its certificates are written). ja4plus
/// computes each distinct certificate of a stream once, a stream being its address and port
/// pair: a certificate it computed before on the same pair (port-reuse.pcap) is not computed
/// again. It hashes a certificate's empty list of extensions (X.509 v1) where FoxIO's own
/// implementation (rust/ja4x) and tlsdiag write zeros: that one difference is allowed.
fn compare_ja4x(
    name: &str,
    conn: &Connection,
    frames: &BTreeMap<u64, Vec<Theirs>>,
    ours: &mut BTreeSet<(&str, String)>,
) -> usize {
    // ja4plus reads no SSLv2, whose SERVER-HELLO carries the server's certificate.
    if conn.version == Some("SSLv2") {
        return 0;
    }
    let record = serde_json::to_value(conn).expect("the record serialises");
    let mut checked = 0;
    for (side, field) in [
        (Side::Server, "certificates"),
        (Side::Client, "client_certificates"),
    ] {
        let chain: Vec<(String, String)> = record[field]
            .as_array()
            .expect("a list of certificates")
            .iter()
            .map(|c| {
                let text = |key: &str| c[key].as_str().expect("a string").to_string();
                (text("ja4x"), text("ja4x_r"))
            })
            .collect();
        let frame = conn
            .timeline
            .iter()
            .find(|e| e.event == EventKind::Certificate && e.from == side)
            .map(|e| e.frame);
        let (Some(frame), false) = (frame, chain.is_empty()) else {
            continue;
        };
        let mut distinct: Vec<&(String, String)> = Vec::new();
        for cert in &chain {
            if !distinct.contains(&cert) {
                distinct.push(cert);
            }
        }
        let zeros = |t: &Theirs| {
            let fingerprint = t.fingerprint.replace("e3b0c44298fc", "000000000000");
            (fingerprint, t.raw.clone())
        };
        let mut theirs = at(frames, frame, "ja4x").into_iter().map(zeros).peekable();
        let before: BTreeSet<(String, String)> = frames
            .range(..frame)
            .flat_map(|(_, all)| all.iter().filter(|t| t.method == "ja4x").map(zeros))
            .collect();
        for cert in &distinct {
            if theirs.peek() == Some(cert) {
                theirs.next();
                ours.insert(("ja4x", cert.0.clone()));
            } else {
                assert!(
                    before.contains(*cert),
                    "{name}: ja4plus has no JA4X {cert:?} of the {side:?}'s chain at frame {frame}"
                );
            }
        }
        let left: Vec<_> = theirs.collect();
        assert!(
            left.is_empty(),
            "{name}: ja4plus's JA4X at frame {frame} not in tlsdiag's chain: {left:?}"
        );
        checked += distinct.len();
    }
    checked
}
