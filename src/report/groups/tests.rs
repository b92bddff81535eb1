use super::*;
use crate::capture::Timestamp;
use crate::flow::Endpoint;

/// A judged connection from `client` to 10.0.0.2:443 asking for `sni`.
fn conn(client: &str, sni: &str, outcome: Outcome) -> Connection {
    let mut c = Connection::new(0, 1, Timestamp::new(0, 0));
    c.client = Some(Endpoint::new(client.parse().unwrap(), 50_000));
    c.server = Some(Endpoint::new("10.0.0.2".parse().unwrap(), 443));
    c.sni = Some(WireText::from_bytes(sni.as_bytes()));
    c.verdict.outcome = outcome;
    c
}

#[test]
fn views_put_the_most_failures_first_and_count_the_rest() {
    let mut t = Tallies::default();
    for _ in 0..3 {
        t.count(&conn("10.0.0.1", "a.test", Outcome::Established));
    }
    t.count(&conn("10.0.0.1", "b.test", Outcome::Failed));
    t.count(&conn("10.0.0.3", "c.test", Outcome::Incomplete));
    let g = t.groups(2);
    let snis: Vec<(&str, u64)> = g
        .snis
        .top
        .iter()
        .map(|r| (r.key.sni.as_ref().unwrap().as_str(), r.counts.connections))
        .collect();
    assert_eq!(snis, [("b.test", 1), ("c.test", 1)]);
    assert_eq!((g.snis.other_groups, g.snis.other_connections), (1, 3));
    let clients = &g.clients.top;
    assert_eq!(clients[0].counts.not_established(), 1);
    assert_eq!(
        clients[0].counts.connections, 4,
        "10.0.0.1: 3 established, 1 failed"
    );
}

#[test]
fn the_cross_view_lists_only_servers_with_failures() {
    let mut t = Tallies::default();
    t.count(&conn("10.0.0.1", "ok.test", Outcome::Established));
    t.count(&conn("10.0.0.1", "bad.test", Outcome::Failed));
    t.count(&conn("10.0.0.1", "bad.test", Outcome::Established));
    let g = t.groups(10);
    let servers = &g.servers_by_fingerprint.top;
    assert_eq!(servers.len(), 1);
    assert_eq!(servers[0].server.sni.as_ref().unwrap().as_str(), "bad.test");
    assert_eq!(servers[0].counts.connections, 2);
    // No ClientHello was decoded here: every connection falls under "no fingerprint".
    assert_eq!(servers[0].fingerprints.top.len(), 1);
    assert_eq!(servers[0].fingerprints.top[0].key.ja4, None);
}

#[test]
fn a_tally_holds_at_most_max_keys_and_counts_the_rest() {
    let mut tally = Tally::<u32>::default();
    for key in 0..MAX_KEYS as u32 + 5 {
        tally.add(&key, Outcome::Failed);
    }
    tally.add(&0, Outcome::Failed);
    assert_eq!(tally.counts.len(), MAX_KEYS);
    assert_eq!(tally.ungrouped, 5);
    assert_eq!(
        tally.counts[&0].failed, 2,
        "a key already held is still counted"
    );
    let view = tally.view(3, |k, c| (*k, c));
    assert_eq!(view.top.len(), 3);
    assert_eq!(view.other_groups, MAX_KEYS as u64 - 3);
    assert_eq!(view.ungrouped, 5);
}

#[test]
fn servers_past_max_keys_are_counted_not_grouped() {
    let mut t = ServerTallies::default();
    let mut c = conn("10.0.0.1", "a.test", Outcome::Failed);
    for i in 0..MAX_KEYS + 3 {
        c.sni = Some(WireText::from_bytes(format!("s{i}.test").as_bytes()));
        t.add(&c, "t13d_x", Outcome::Failed);
    }
    c.sni = Some(WireText::from_bytes(b"s0.test"));
    t.add(&c, "t13d_y", Outcome::Failed);
    assert_eq!((t.servers, t.ungrouped), (MAX_KEYS, 3));
    assert_eq!(
        t.pairs, MAX_KEYS,
        "s0.test's second fingerprint is one pair too many"
    );
    assert_eq!(t.ungrouped_pairs, 1);
    assert_eq!(
        t.each().map(|(_, p)| p.counts.connections).sum::<u64>(),
        MAX_KEYS as u64 + 1
    );
}
