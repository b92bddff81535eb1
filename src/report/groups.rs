//! The summary's groups: connections by server, by SNI, by client address and by client
//! fingerprint (JA4), and for each server with failures its fingerprints, the view that says
//! which kind of client fails against it and which does not.
//!
//! The state grows with distinct keys, never with connections: each tally holds at most
//! `MAX_KEYS` keys, and a connection whose key would be one more is counted as ungrouped.

use crate::connection::{Connection, Outcome};
use crate::wire_text::WireText;
use serde::Serialize;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;

/// Distinct keys one tally holds; later keys are counted in `View::ungrouped`.
pub(crate) const MAX_KEYS: usize = 50_000;

/// Groups shown per view (and fingerprints per server in the cross view) unless asked.
pub const DEFAULT_TOP: usize = 10;

/// A group's connections by outcome (`not_tls` ones count in `connections` only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub connections: u64,
    pub established: u64,
    pub failed: u64,
    pub incomplete: u64,
}

impl Counts {
    fn add(&mut self, outcome: Outcome) {
        self.connections += 1;
        match outcome {
            Outcome::Established => self.established += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Incomplete => self.incomplete += 1,
            Outcome::NotTls => {}
        }
    }

    fn sum(&mut self, other: &Counts) {
        self.connections += other.connections;
        self.established += other.established;
        self.failed += other.failed;
        self.incomplete += other.incomplete;
    }

    /// Failed and incomplete: the connections that did not establish.
    pub fn not_established(&self) -> u64 {
        self.failed + self.incomplete
    }
}

/// A server as the groups know it: its address and the name clients asked it for.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Server {
    pub server: Option<IpAddr>,
    pub sni: Option<WireText>,
}

/// A client fingerprint with what the first ClientHello that had it offered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fingerprint {
    /// Absent for connections with no ClientHello (refused, timed out, not TLS).
    pub ja4: Option<String>,
    pub versions_offered: Vec<&'static str>,
    pub alpn_offered: Vec<WireText>,
}

/// The largest groups of one view, and how many were left out.
#[derive(Clone, Debug, Serialize)]
pub struct View<R> {
    pub top: Vec<R>,
    /// Groups beyond the top ones, and their connections.
    pub other_groups: u64,
    pub other_connections: u64,
    /// Connections not grouped: the view held `MAX_KEYS` keys when their key came.
    #[serde(skip_serializing_if = "crate::analyze::is_zero")]
    pub ungrouped: u64,
}

impl<R> Default for View<R> {
    fn default() -> Self {
        View {
            top: Vec::new(),
            other_groups: 0,
            other_connections: 0,
            ungrouped: 0,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Row<K> {
    #[serde(flatten)]
    pub key: K,
    #[serde(flatten)]
    pub counts: Counts,
}

impl<K: Clone> Row<K> {
    fn of(key: &K, counts: Counts) -> Row<K> {
        Row {
            key: key.clone(),
            counts,
        }
    }
}

/// One server with failures and the fingerprints of the clients that reached it.
#[derive(Clone, Debug, Serialize)]
pub struct ServerClients {
    #[serde(flatten)]
    pub server: Server,
    #[serde(flatten)]
    pub counts: Counts,
    pub fingerprints: View<Row<Fingerprint>>,
}

/// Every view, each bounded to its largest groups (most connections that did not establish
/// first, then most connections).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Groups {
    pub servers: View<Row<Server>>,
    pub snis: View<Row<Sni>>,
    pub clients: View<Row<Client>>,
    pub fingerprints: View<Row<Fingerprint>>,
    /// The servers with failures, and for each the fingerprints that failed against it and
    /// those that established.
    pub servers_by_fingerprint: View<ServerClients>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Sni {
    pub sni: Option<WireText>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Client {
    pub client: Option<IpAddr>,
}

/// Counts by key, bounded to `MAX_KEYS` keys.
#[derive(Clone, Debug)]
struct Tally<K> {
    counts: HashMap<K, Counts>,
    ungrouped: u64,
}

impl<K> Default for Tally<K> {
    fn default() -> Self {
        Tally {
            counts: HashMap::new(),
            ungrouped: 0,
        }
    }
}

impl<K: Hash + Eq + Clone + Ord> Tally<K> {
    fn add(&mut self, key: K, outcome: Outcome) {
        let full = self.counts.len() >= MAX_KEYS;
        match self.counts.get_mut(&key) {
            Some(c) => c.add(outcome),
            None if full => self.ungrouped += 1,
            None => self.counts.entry(key).or_default().add(outcome),
        }
    }

    /// The largest `top` groups, in order, the rest counted.
    fn view<R>(&self, top: usize, row: impl Fn(&K, Counts) -> R) -> View<R> {
        let mut all: Vec<(&K, &Counts)> = self.counts.iter().collect();
        all.sort_by(|a, b| {
            (b.1.not_established(), b.1.connections)
                .cmp(&(a.1.not_established(), a.1.connections))
                .then_with(|| a.0.cmp(b.0))
        });
        let mut view = View {
            ungrouped: self.ungrouped,
            ..View::default()
        };
        for (i, (key, counts)) in all.into_iter().enumerate() {
            if i < top {
                view.top.push(row(key, *counts));
            } else {
                view.other_groups += 1;
                view.other_connections += counts.connections;
            }
        }
        view
    }
}

/// What `Groups` is made from, updated once per connection.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tallies {
    servers: Tally<Server>,
    snis: Tally<Sni>,
    clients: Tally<Client>,
    fingerprints: Tally<Option<String>>,
    /// What each fingerprint's first ClientHello offered: one entry per fingerprint key.
    offers: HashMap<Option<String>, (Vec<&'static str>, Vec<WireText>)>,
    server_fingerprints: Tally<(Server, Option<String>)>,
}

impl Tallies {
    pub(crate) fn count(&mut self, conn: &Connection) {
        let outcome = conn.verdict.outcome;
        let server = Server {
            server: conn.server.map(|e| e.ip),
            sni: conn.sni.clone(),
        };
        let ja4 = conn.client_fingerprints.get().map(|f| f.ja4.clone());
        self.servers.add(server.clone(), outcome);
        self.snis.add(
            Sni {
                sni: conn.sni.clone(),
            },
            outcome,
        );
        self.clients.add(
            Client {
                client: conn.client.map(|e| e.ip),
            },
            outcome,
        );
        if self.fingerprints.counts.contains_key(&ja4) || self.offers.len() < MAX_KEYS {
            self.offers.entry(ja4.clone()).or_insert_with(|| {
                let versions = conn.client_versions.without_grease().collect();
                (versions, conn.alpn_offered.clone())
            });
        }
        self.fingerprints.add(ja4.clone(), outcome);
        self.server_fingerprints.add((server, ja4), outcome);
    }

    /// Every server and its counts, in no order.
    pub(crate) fn servers(&self) -> impl Iterator<Item = (&Server, &Counts)> {
        self.servers.counts.iter()
    }

    pub(crate) fn groups(&self, top: usize) -> Groups {
        let fingerprint = |ja4: &Option<String>| {
            let (versions, alpn) = self.offers.get(ja4).cloned().unwrap_or_default();
            Fingerprint {
                ja4: ja4.clone(),
                versions_offered: versions,
                alpn_offered: alpn,
            }
        };
        Groups {
            servers: self.servers.view(top, Row::of),
            snis: self.snis.view(top, Row::of),
            clients: self.clients.view(top, Row::of),
            fingerprints: self.fingerprints.view(top, |k, counts| Row {
                key: fingerprint(k),
                counts,
            }),
            servers_by_fingerprint: self.servers_by_fingerprint(top, &fingerprint),
        }
    }

    /// The servers with failures, most first, each with its fingerprints.
    fn servers_by_fingerprint(
        &self,
        top: usize,
        fingerprint: &impl Fn(&Option<String>) -> Fingerprint,
    ) -> View<ServerClients> {
        let mut by_server: HashMap<&Server, Tally<Option<String>>> = HashMap::new();
        for ((server, ja4), counts) in &self.server_fingerprints.counts {
            let failing = self
                .servers
                .counts
                .get(server)
                .is_some_and(|c| c.not_established() > 0);
            if failing {
                let tally = by_server.entry(server).or_default();
                tally.counts.insert(ja4.clone(), *counts);
            }
        }
        let mut servers = Tally::<Server>::default();
        for (server, tally) in &by_server {
            let total = servers.counts.entry((*server).clone()).or_default();
            tally.counts.values().for_each(|c| total.sum(c));
        }
        let mut view = servers.view(top, |server, counts| ServerClients {
            server: server.clone(),
            counts,
            fingerprints: by_server
                .get(server)
                .map(|t| {
                    t.view(top, |k, c| Row {
                        key: fingerprint(k),
                        counts: c,
                    })
                })
                .unwrap_or_default(),
        });
        view.ungrouped = self.server_fingerprints.ungrouped;
        view
    }
}

#[cfg(test)]
mod tests;
