//! Live input reports a connection when it establishes or closes, or after it has been idle,
//! instead of at the end of a file. Replayed through that mode, every bundled capture must
//! give the verdicts the file analysis gives, and the kept packets of each connection that did
//! not establish (failed or incomplete) must hold its decisive frame.

mod common;

use common::derive::{analyze_packets, read_packets};
use std::collections::BTreeMap;
use tlsdiag::analyze::{Analyzer, Finished, PacketRingLimits};
use tlsdiag::connection::{Connection, Outcome};
use tlsdiag::{
    Options,
    capture::{Packet, Timestamp},
};

/// What live and file analysis must agree on. `ended_by` of an established connection is
/// who closed it, unknown when it is reported on establishing.
fn verdict(c: &Connection) -> String {
    let ended_by = if c.verdict.outcome == Outcome::Established {
        None
    } else {
        Some(c.verdict.ended_by)
    };
    format!(
        "{:?} {:?} {:?} {:?} {} {:?} {:?} {:?} {:?}",
        c.verdict.outcome,
        c.diagnosis.as_ref().map(|d| d.code),
        c.verdict.stage,
        ended_by,
        c.verdict.frame,
        c.sni,
        c.version,
        c.cipher,
        c.diagnosis.as_ref().map(|d| d.confidence),
    )
}

fn replay(path: &std::path::Path) -> (Vec<Finished>, Vec<u64>) {
    let options = Options {
        report_early: true,
        linger: 5.0,
        keep_packets: Some(PacketRingLimits::default()),
        ..Options::default()
    };
    let mut analyzer = Analyzer::new(options);
    let mut out = Vec::new();
    let mut early = Vec::new();
    for (i, p) in read_packets(path).iter().enumerate() {
        let packet = Packet {
            frame: i as u64 + 1,
            ts: p.ts,
            link: p.link,
            data: &p.data,
            orig_len: p.data.len() as u32,
        };
        analyzer.packet(&packet);
        // As the live loop does between packets: idle for 30 s, closed ones forgotten after 5.
        analyzer.expire_idle(p.ts, 30.0);
        for f in analyzer.take_finished_with_packets() {
            early.push(f.conn.tcp_stream);
            out.push(f);
        }
    }
    analyzer.finish_each_with_packets(|f| out.push(f));
    (out, early)
}

#[test]
fn reported_early_the_verdicts_are_those_of_the_file() {
    let mut early_total = 0;
    let mut saved_failures = 0;
    for path in common::all_captures() {
        let name = path.display().to_string();
        let file = analyze_packets(&read_packets(&path), &Options::default());
        let (live, early) = replay(&path);
        early_total += early.len();
        let file: BTreeMap<u64, String> = file
            .connections
            .iter()
            .map(|c| (c.tcp_stream, verdict(c)))
            .collect();
        let live_verdicts: BTreeMap<u64, String> = live
            .iter()
            .map(|f| (f.conn.tcp_stream, verdict(&f.conn)))
            .collect();
        assert_eq!(file, live_verdicts, "{name}");
        for f in &live {
            if matches!(
                f.conn.verdict.outcome,
                Outcome::Failed | Outcome::Incomplete
            ) {
                let frames: Vec<u64> = f.packets.iter().map(|p| p.frame).collect();
                assert!(
                    frames.contains(&f.conn.verdict.frame),
                    "{name} stream {}: decisive frame {} not among the kept {frames:?}",
                    f.conn.tcp_stream,
                    f.conn.verdict.frame
                );
                saved_failures += 1;
            } else {
                assert!(
                    f.packets.is_empty(),
                    "{name}: packets kept for a connection that established"
                );
            }
        }
    }
    assert!(
        early_total >= 40,
        "only {early_total} reported before the end"
    );
    assert!(saved_failures >= 30, "{saved_failures}");
}

/// An unanswered SYN is reported once the idle timeout passes, not when the program ends.
#[test]
fn an_unanswered_syn_is_reported_after_the_idle_timeout() {
    let packets = read_packets(&common::captures_dir().join("tcp-no-response.pcap"));
    let mut analyzer = Analyzer::new(Options {
        report_early: true,
        linger: 5.0,
        ..Options::default()
    });
    for (i, p) in packets.iter().enumerate() {
        analyzer.packet(&common::derive::packet(p, i));
    }
    let last = packets.last().unwrap().ts;
    analyzer.expire_idle(Timestamp::new(last.secs + 29, last.nanos), 30.0);
    assert!(
        analyzer.take_finished().is_empty(),
        "not before the timeout"
    );
    analyzer.expire_idle(Timestamp::new(last.secs + 30, last.nanos), 30.0);
    let reported = analyzer.take_finished();
    assert_eq!(reported.len(), 1);
    assert_eq!(
        reported[0].diagnosis.as_ref().map(|d| d.code),
        Some(tlsdiag::connection::Code::TcpNoResponse)
    );
    assert_eq!(analyzer.open_connections(), 0);
}
