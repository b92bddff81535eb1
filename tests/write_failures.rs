//! `analyze --write-failures`: the pcapng of the connections that did not establish, read back
//! with tshark and compared with the original captures and the JSON report. Every bundled
//! capture at once: the packets of each file's failed and incomplete connections, in frame
//! order, file after file (all of them, but for a connection the capture joined after its
//! start, whose comments say how many), the decisive one of each with the verdict as its
//! comments.
//!
//! Skipped, saying so, where tshark is not installed; CI sets TLSDIAG_REQUIRE_TSHARK=1 so that
//! there it must run.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Each bundled capture, named as the command line names it (relative to the crate).
fn capture_args() -> Vec<String> {
    common::all_captures()
        .iter()
        .map(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).expect("a name");
            format!("captures/{name}")
        })
        .collect()
}

/// Runs `analyze --format json ARGS --write-failures OUT`: the JSON report.
fn write_failures(args: &[String], out: &Path, extra: &[&str]) -> serde_json::Value {
    let mut all: Vec<&str> = vec!["analyze", "--format", "json"];
    all.extend(extra);
    all.extend(args.iter().map(String::as_str));
    let out = out.to_str().expect("a UTF-8 path");
    all.extend(["--write-failures", out]);
    serde_json::from_slice(&common::run_tlsdiag(&all)).expect("the JSON report")
}

/// The connections that did not establish, by file: (tcp.stream, verdict frame, code).
fn failures(report: &serde_json::Value) -> BTreeMap<String, Vec<(u64, u64, String)>> {
    let mut by_file: BTreeMap<String, Vec<(u64, u64, String)>> = BTreeMap::new();
    let conns = report["connections"].as_array().expect("connections");
    for c in conns {
        if c["outcome"] != "failed" && c["outcome"] != "incomplete" {
            continue;
        }
        let file = c["file"].as_str().expect("a file with several").to_string();
        let stream = c["tcp_stream"].as_u64().expect("tcp_stream");
        let frame = c["frame"].as_u64().expect("the decisive frame");
        let code = c["diagnosis"]["code"].as_str().expect("a code").to_string();
        by_file.entry(file).or_default().push((stream, frame, code));
    }
    by_file
}

/// tshark's rows of a file: `fields`, tab-separated, for the frames `filter` keeps.
fn rows(path: &Path, filter: Option<&str>, fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(path).args(["-n", "-T", "fields"]);
    if let Some(filter) = filter {
        cmd.args(["-Y", filter]);
    }
    // Several comments on one packet are joined with this: a character no comment holds.
    cmd.args(["-E", "aggregator=\u{1f}", "-E", "separator=\t"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let o = cmd.output().expect("tshark runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// Which file an interface of the output is, from its description: `captures/x.pcap (LINK)`.
fn file_of(description: &str) -> String {
    description
        .rsplit_once(" (")
        .map_or(description, |(file, _)| file)
        .to_string()
}

/// A packet of the output: its input file, time, length and comments.
type Written = (String, String, String, String);

/// Every packet of the output, in order.
fn written(out: &Path) -> Vec<Written> {
    let fields = [
        "frame.interface_description",
        "frame.time_epoch",
        "frame.len",
        "frame.comment",
    ];
    rows(out, None, &fields)
        .into_iter()
        .map(|r| {
            let field = |i: usize| r.get(i).cloned().unwrap_or_default();
            (file_of(&field(0)), field(1), field(2), field(3))
        })
        .collect()
}

#[test]
fn failures_of_every_bundled_capture_read_back_with_tshark() {
    if !common::tshark_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let captures = capture_args();
    let out = dir.path().join("failed.pcapng");
    let report = write_failures(&captures, &out, &["-j", "1"]);
    let failures = failures(&report);
    let written = written(&out);
    let (mut packets, mut partial) = (0, 0);
    for (file, conns) in &failures {
        let ours: Vec<_> = written.iter().filter(|w| &w.0 == file).collect();
        partial += check_file(file, conns, &ours);
        packets += ours.len();
    }
    // joined-download, joined-request and started-late: joined after their start.
    assert_eq!(
        report["summary"]["written_failures"]["connections_cut"],
        partial
    );
    assert!(partial >= 3, "{partial}");
    assert_eq!(packets, written.len(), "packets of no failure were written");
    let total: usize = failures.values().map(Vec::len).sum();
    assert!(total >= 40, "too few failures compared: {total}");
    assert_eq!(report["summary"]["written_failures"]["connections"], total);
    assert_eq!(report["summary"]["written_failures"]["packets"], packets);

    // Any number of threads writes the same bytes.
    let out2 = dir.path().join("failed-j2.pcapng");
    write_failures(&captures, &out2, &["-j", "2"]);
    let (one, two) = (read(&out), read(&out2));
    assert!(one == two, "-j 1 and -j 2 wrote different files");
}

/// One input file's part of the output against tshark's reading of the original: the packets
/// of the connections' tcp.streams, in their order, all of them but where a connection's
/// comments say how many of its packets the file holds (and tshark agrees on how many it had);
/// one commented packet per connection, at its decisive frame, with its code and words.
/// Returns how many connections the file holds in part.
fn check_file(file: &str, conns: &[(u64, u64, String)], ours: &[&Written]) -> usize {
    let streams: Vec<String> = conns.iter().map(|c| c.0.to_string()).collect();
    let filter = format!("tcp.stream in {{{}}}", streams.join(","));
    let fields = [
        "frame.number",
        "tcp.stream",
        "frame.time_epoch",
        "frame.len",
    ];
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let original = rows(&path, Some(&filter), &fields);
    // Walk the original, taking our packets as they match (time and length): ours must be
    // the original's packets in its order, with none of any other stream.
    let mut next = ours.iter().peekable();
    let mut counts: BTreeMap<u64, (usize, usize)> = BTreeMap::new();
    let mut commented: Vec<(u64, u64, &String)> = Vec::new();
    for row in &original {
        let frame: u64 = row[0].parse().expect("a frame number");
        let stream: u64 = row[1].parse().expect("a tcp.stream");
        let count = counts.entry(stream).or_default();
        count.1 += 1;
        if let Some(w) = next.next_if(|w| (&*w.1, &*w.2) == (&*row[2], &*row[3])) {
            count.0 += 1;
            if !w.3.is_empty() {
                commented.push((stream, frame, &w.3));
            }
        }
    }
    assert!(
        next.next().is_none(),
        "{file}: packets not of {streams:?}, or not in order"
    );
    assert_eq!(commented.len(), conns.len(), "{file}: {commented:?}");
    let mut partial = 0;
    for (stream, frame, code) in conns {
        let Some(&(_, at, comment)) = commented.iter().find(|c| c.0 == *stream) else {
            panic!("{file}: tcp.stream {stream}: no comment")
        };
        assert_eq!(
            at, *frame,
            "{file}: tcp.stream {stream}: the decisive frame"
        );
        let head = format!("tlsdiag: tcp.stream {stream} of {file}: ");
        assert!(comment.starts_with(&head), "{file}: {comment}");
        assert!(comment.contains(&format!(" {code}  stage ")), "{comment}");
        assert!(comment.contains("\u{1f}cause: ") && comment.contains("\u{1f}fix: "));
        let (kept, all) = counts.get(stream).copied().unwrap_or_default();
        let says = format!("{kept} of the connection's {all} TCP packets are in this file");
        assert_eq!(kept < all, comment.contains(&says), "{file}: {comment}");
        assert_eq!(kept < all, comment.contains("TCP packets are in this file"));
        partial += usize::from(kept < all);
    }
    partial
}

fn read(path: &PathBuf) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The filters choose the connections written as they choose those reported.
#[test]
fn only_the_failures_the_filters_keep_are_written() {
    if !common::tshark_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = dir.path().join("failed.pcapng");
    let captures = capture_args();
    let report = write_failures(&captures, &out, &["--sni", "server.test", "--failed"]);
    let kept: usize = failures(&report).values().map(Vec::len).sum();
    let commented = written(&out).iter().filter(|w| !w.3.is_empty()).count();
    assert_eq!(commented, kept);
    let every = report["summary"]["codes"].as_object().expect("codes");
    let all: u64 = every.values().filter_map(serde_json::Value::as_u64).sum();
    assert!(kept > 10 && (kept as u64) < all, "{kept} of {all}");
    // The HTML page's summary says what was written, as the JSON's does.
    let page = dir.path().join("again.pcapng");
    let mut args = vec![
        "analyze",
        "--format",
        "html",
        "--sni",
        "server.test",
        "--failed",
    ];
    args.extend(captures.iter().map(String::as_str));
    args.extend(["--write-failures", page.to_str().expect("a UTF-8 path")]);
    let html = String::from_utf8(common::run_tlsdiag(&args)).expect("UTF-8");
    let w = &report["summary"]["written_failures"];
    let said = format!(
        "Written: {} packets of {} connections that did not establish to ",
        w["packets"], w["connections"]
    );
    assert!(html.contains(&said), "{said}");
}

/// Text from outside reaches the comments escaped, as it reaches the terminal: a file name
/// holding an escape sequence and a bidi override, on a real capture with a failure.
#[test]
fn comments_hold_no_control_characters() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let hostile = dir.path().join("evil\u{1b}]0;PWNED\u{7}\u{202e}.pcap");
    let original = common::captures_dir().join("hostile-text.pcap");
    std::fs::copy(&original, &hostile).expect("a copy of the capture");
    let out = dir.path().join("hostile.pcapng");
    let name = hostile.to_str().expect("a UTF-8 path").to_string();
    let report = write_failures(&[name], &out, &[]);
    assert!(report["summary"]["written_failures"]["connections"].as_u64() > Some(0));
    let bytes = read(&out);
    let (_, capture) = pcap_parser::parse_pcapng(&bytes).expect("a pcapng file");
    let mut comments = Vec::new();
    for block in capture.sections.iter().flat_map(|s| &s.blocks) {
        let options = match block {
            pcap_parser::Block::SectionHeader(b) => &b.options,
            pcap_parser::Block::EnhancedPacket(b) => &b.options,
            _ => continue,
        };
        let texts = options
            .iter()
            .filter(|o| o.code == pcap_parser::OptionCode::Comment);
        for o in texts {
            let value = o
                .value
                .get(..usize::from(o.len))
                .expect("the declared length");
            comments.push(String::from_utf8(value.to_vec()).expect("UTF-8"));
        }
    }
    assert!(comments.iter().any(|c| c.contains("\\x1b")), "{comments:?}");
    for c in &comments {
        assert!(!c.chars().any(char::is_control), "{c:?}");
        assert!(!c.contains('\u{202e}'), "{c:?}");
    }
}

/// A reader that goes away (`tlsdiag ... | head`) ends the report, not the failures' file: it
/// is written whole, the same bytes as when the report is read to its end.
#[test]
fn a_closed_report_pipe_still_writes_the_whole_failures_file() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (whole, cut) = (
        dir.path().join("whole.pcapng"),
        dir.path().join("cut.pcapng"),
    );
    let with = |out: &Path| {
        let mut all = vec!["analyze".to_string(), "-j".into(), "1".into()];
        all.extend(capture_args());
        all.extend(["--write-failures".into(), out.display().to_string()]);
        all
    };
    let args = with(&whole);
    common::run_tlsdiag(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tlsdiag"))
        .args(with(&cut))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("tlsdiag runs");
    // The reader reads nothing and goes away: the first write fails.
    drop(child.stdout.take());
    let status = child.wait().expect("tlsdiag ends");
    assert!(status.success(), "a closed pipe is the reader's choice");
    let (whole, cut) = (read(&whole), read(&cut));
    assert!(
        whole.len() > 10_000,
        "failures written: {} bytes",
        whole.len()
    );
    assert!(cut == whole, "{} bytes against {}", cut.len(), whole.len());
}
