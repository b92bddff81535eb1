//! `-j`: any capture file, split across three workers, reports exactly what one thread
//! reports (connections, order, tcp.stream numbers, counters).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlsdiag::Options;
use tlsdiag::shard;

fn report(data: &[u8], jobs: usize) -> (Vec<String>, String) {
    let mut lines = Vec::new();
    let done = shard::analyze(data, &Options::default(), jobs, |c| {
        lines.push(serde_json::to_string(&c.conn).unwrap_or_default());
    });
    let end = format!("{:?} {:?} {:?}", done.counters, done.stats, done.result.err());
    (lines, end)
}

fuzz_target!(|data: &[u8]| {
    assert_eq!(report(data, 1), report(data, 3));
});
