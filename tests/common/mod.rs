//! Shared by the integration tests: the bundled captures and running the analysis on them.
#![allow(dead_code)]

pub mod derive;

use std::path::{Path, PathBuf};
use tlsdiag::analyze::{Analysis, analyze_capture};
use tlsdiag::connection::Connection;
use tlsdiag::{Options, capture::FileStats};

pub fn captures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("captures")
}

/// Every capture file committed under captures/ (pcap and pcapng), sorted by name.
pub fn all_captures() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(captures_dir())
        .expect("captures/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng")
            )
        })
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no captures in {}",
        captures_dir().display()
    );
    files
}

pub fn analyze_path(path: &Path) -> (Analysis, FileStats) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (analysis, stats, result) = analyze_capture(file, &Options::default());
    if let Err(e) = result {
        panic!("{}: {e}", path.display());
    }
    (analysis, stats)
}

pub fn analyze_named(name: &str) -> Analysis {
    analyze_path(&captures_dir().join(name)).0
}

/// The connection with this tcp.stream number.
pub fn stream(analysis: &Analysis, tcp_stream: u64) -> &Connection {
    analysis
        .connections
        .iter()
        .find(|c| c.tcp_stream == tcp_stream)
        .unwrap_or_else(|| panic!("no connection with tcp.stream {tcp_stream}"))
}

/// Whether tshark is installed; says so when it is not, and fails when CI requires it
/// (TLSDIAG_REQUIRE_TSHARK=1).
pub fn tshark_available() -> bool {
    let found = std::process::Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("TLSDIAG_REQUIRE_TSHARK").is_none(),
            "TLSDIAG_REQUIRE_TSHARK is set but tshark is not installed"
        );
        eprintln!("SKIPPED: tshark is not installed; the tshark comparison did not run");
    }
    found
}

/// Runs tshark with a display filter and returns one row of fields per matching frame.
pub fn tshark(
    path: &Path,
    decode_ports: &std::collections::BTreeSet<u16>,
    filter: &str,
    fields: &[&str],
) -> Vec<Vec<String>> {
    let mut cmd = std::process::Command::new("tshark");
    cmd.arg("-r")
        .arg(path)
        .args(["-n", "-Y", filter, "-T", "fields", "-E", "separator=\t"]);
    // What a Wireshark user does for TLS on a port it does not know: Decode As.
    for port in decode_ports {
        cmd.args(["-d", &format!("tcp.port=={port},tls")]);
    }
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("tshark runs");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// The top-level captures and the key log ones (real browsers and language runtimes, sent
/// GREASE and all), read without their keys.
pub fn captures_with_keylog() -> Vec<PathBuf> {
    let mut files = all_captures();
    let keylog = captures_dir().join("keylog");
    let mut more: Vec<PathBuf> = std::fs::read_dir(&keylog)
        .expect("captures/keylog exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .collect();
    more.sort();
    files.extend(more);
    files
}

/// Ports other than 443 where TLS starts at once, which tshark must be told to decode as
/// TLS (STARTTLS ports are left to tshark's own dissectors, which hand over by themselves).
pub fn tls_ports(analysis: &tlsdiag::analyze::Analysis) -> std::collections::BTreeSet<u16> {
    analysis
        .connections
        .iter()
        .filter(|c| c.plaintext.client.is_none() && c.plaintext.server.is_none())
        .filter_map(|c| c.server.map(|s| s.port))
        .filter(|&p| p != 443)
        .collect()
}

/// Runs the tlsdiag binary from the repository's root, as a user there would, and returns
/// what it wrote to standard output; fails the test, with its standard error, when it does
/// not exit with 0.
pub fn run_tlsdiag(args: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tlsdiag"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("tlsdiag runs");
    assert!(
        out.status.success(),
        "tlsdiag {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
