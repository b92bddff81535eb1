use super::*;
use crate::connection::Names;
use crate::wire_text::WireText;

const CLIENT: &str = "10.0.0.1";
const SERVER: &str = "10.0.0.2";

/// A judged connection from CLIENT to SERVER:443 that lived from `start` to `end` seconds.
fn conn(stream: u64, start: i64, end: i64, outcome: Outcome) -> Connection {
    let mut c = Connection::new(stream, stream + 1, Timestamp::new(start, 0));
    c.facts.last_ts = Timestamp::new(end, 0);
    c.client = Some(Endpoint::new(
        CLIENT.parse().unwrap(),
        40_000 + stream as u16,
    ));
    c.server = Some(Endpoint::new(SERVER.parse().unwrap(), 443));
    c.verdict.outcome = outcome;
    c
}

fn offering(mut c: Connection, versions: &[u16], ciphers: usize) -> Connection {
    c.client_versions = Names::new(versions.to_vec(), names::version_name);
    c.cipher_suites = Names::new(vec![0x1301; ciphers], names::cipher_suite_name);
    c
}

/// Everything `push` and then `finish` hand on, as (stream, retry_of, retried_by).
fn run(linker: &mut Linker, conns: Vec<Connection>) -> Vec<(u64, Option<u64>, Option<u64>)> {
    let mut out = Vec::new();
    for c in conns {
        linker.push(c);
        while let Some(c) = linker.ready() {
            out.push((c.tcp_stream, c.retry_of, c.retried_by));
        }
    }
    linker.finish();
    while let Some(c) = linker.ready() {
        out.push((c.tcp_stream, c.retry_of, c.retried_by));
    }
    out
}

#[test]
fn a_held_failure_names_its_retry_and_comes_out_first() {
    let mut l = Linker::new(Linking::Hold, 30.0);
    let out = run(
        &mut l,
        vec![
            conn(0, 0, 1, Outcome::Failed),
            conn(1, 5, 6, Outcome::Established),
        ],
    );
    assert_eq!(out, [(0, None, Some(1)), (1, Some(0), None)]);
    let c = l.counts();
    assert_eq!((c.retries, c.recovered, c.not_recovered), (1, 1, 0));
}

#[test]
fn a_connection_after_the_window_is_no_retry() {
    let mut l = Linker::new(Linking::Hold, 30.0);
    let out = run(
        &mut l,
        vec![
            conn(0, 0, 1, Outcome::Failed),
            conn(1, 32, 33, Outcome::Established),
        ],
    );
    assert_eq!(out, [(0, None, None), (1, None, None)]);
    let c = l.counts();
    assert_eq!((c.retries, c.recovered, c.not_recovered), (0, 0, 1));
}

#[test]
fn another_server_or_sni_is_no_retry() {
    let mut l = Linker::new(Linking::Hold, 30.0);
    let mut other_server = conn(1, 2, 3, Outcome::Established);
    other_server.server = Some(Endpoint::new(SERVER.parse().unwrap(), 8443));
    let mut a = conn(2, 4, 5, Outcome::Failed);
    a.sni = Some(WireText::from_bytes(b"a.example"));
    let mut b = conn(3, 6, 7, Outcome::Established);
    b.sni = Some(WireText::from_bytes(b"b.example"));
    let out = run(&mut l, vec![other_server, a, b]);
    assert_eq!(out, [(1, None, None), (3, None, None), (2, None, None)]);
}

#[test]
fn an_attempt_without_sni_is_retried_by_one_with_it() {
    // A refused connection never sent a ClientHello.
    let mut l = Linker::new(Linking::Hold, 30.0);
    let mut b = conn(1, 2, 3, Outcome::Established);
    b.sni = Some(WireText::from_bytes(b"a.example"));
    let out = run(&mut l, vec![conn(0, 0, 0, Outcome::Failed), b]);
    assert_eq!(out, [(0, None, Some(1)), (1, Some(0), None)]);
}

#[test]
fn unrelated_connections_pass_a_held_failure() {
    let mut l = Linker::new(Linking::Hold, 30.0);
    let mut other = conn(1, 2, 3, Outcome::Established);
    other.client = Some(Endpoint::new("10.0.0.9".parse().unwrap(), 5000));
    let out = run(&mut l, vec![conn(0, 0, 1, Outcome::Failed), other]);
    assert_eq!(out, [(1, None, None), (0, None, None)]);
}

#[test]
fn the_window_passing_releases_a_failure_without_a_retry() {
    let mut l = Linker::new(Linking::Hold, 30.0);
    l.push(conn(0, 0, 1, Outcome::Failed));
    assert!(l.ready().is_none());
    l.advance(Timestamp::new(31, 0));
    assert!(l.ready().is_none(), "30 s after its end is still inside");
    l.advance(Timestamp::new(32, 0));
    assert_eq!(l.ready().map(|c| c.tcp_stream), Some(0));
}

#[test]
fn a_chain_of_failures_recovered_counts_each() {
    let mut l = Linker::new(Linking::Hold, 30.0);
    let out = run(
        &mut l,
        vec![
            conn(0, 0, 1, Outcome::Failed),
            conn(1, 2, 3, Outcome::Incomplete),
            conn(2, 4, 5, Outcome::Established),
        ],
    );
    assert_eq!(
        out,
        [
            (0, None, Some(1)),
            (1, Some(0), Some(2)),
            (2, Some(1), None)
        ]
    );
    let c = l.counts();
    assert_eq!((c.retries, c.recovered, c.not_recovered), (2, 2, 0));
}

#[test]
fn a_retry_offering_less_is_a_fallback() {
    let mut l = Linker::new(Linking::Hold, 30.0);
    let a = offering(
        conn(0, 0, 1, Outcome::Failed),
        &[0x0a0a, 0x0304, 0x0303],
        17,
    );
    let b = offering(conn(1, 2, 3, Outcome::Established), &[0x0302], 17);
    let c = offering(conn(2, 4, 5, Outcome::Failed), &[0x0303], 10);
    let d = offering(conn(3, 6, 7, Outcome::Established), &[0x0303], 10);
    l.push(a);
    l.push(b);
    l.push(c);
    l.push(d);
    l.finish();
    let out: Vec<Connection> = std::iter::from_fn(|| l.ready()).collect();
    let fallback = out[1]
        .fallback
        .as_ref()
        .expect("TLS 1.3 to TLS 1.1 falls back");
    assert_eq!(
        (fallback.highest_version_before, fallback.highest_version),
        ("TLSv1.3", "TLSv1.1")
    );
    assert_eq!(out[3].retry_of, Some(2));
    assert_eq!(
        out[3].fallback, None,
        "the same offer again is a plain retry"
    );
    assert_eq!(l.counts().fallbacks, 1);
}

#[test]
fn printing_at_once_names_only_the_earlier_attempt() {
    let mut l = Linker::new(Linking::Print, 30.0);
    let out = run(
        &mut l,
        vec![
            conn(0, 0, 1, Outcome::Failed),
            conn(1, 2, 3, Outcome::Established),
        ],
    );
    assert_eq!(out, [(0, None, None), (1, Some(0), None)]);
    assert_eq!(l.counts().recovered, 1);
}

#[test]
fn a_zero_window_links_nothing() {
    let mut l = Linker::new(Linking::Hold, 0.0);
    let out = run(
        &mut l,
        vec![
            conn(0, 0, 1, Outcome::Failed),
            conn(1, 1, 2, Outcome::Established),
        ],
    );
    assert_eq!(out, [(0, None, None), (1, None, None)]);
}

#[test]
fn too_many_awaiting_hands_the_oldest_on() {
    let mut l = Linker::new(Linking::Hold, 30.0);
    l.max_awaiting = 2;
    for stream in 0..3 {
        let mut c = conn(stream, 0, 1, Outcome::Failed);
        c.client = Some(Endpoint::new(
            format!("10.1.0.{stream}").parse().unwrap(),
            1,
        ));
        l.push(c);
    }
    assert_eq!(l.ready().map(|c| c.tcp_stream), Some(0));
    assert!(l.ready().is_none());
    assert_eq!(l.counts().window_cut, 1);
}
