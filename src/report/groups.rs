//! The summary's groups: connections by server, by SNI, by client address and by client
//! fingerprint (JA4), and for each server with failures its fingerprints, the view that says
//! which kind of client fails against it and which does not.
//!
//! The state grows with distinct keys, never with connections: each tally holds at most
//! `MAX_KEYS` keys, and a connection whose key would be one more is counted as ungrouped.

use crate::connection::{Connection, Outcome};
use crate::wire_text::WireText;
use serde::Serialize;
use std::borrow::Borrow;
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

/// Counts by key, bounded to `MAX_KEYS` keys. foldhash: these keys come from the wire, and
/// it is seeded per run.
#[derive(Clone, Debug)]
struct Tally<K> {
    counts: HashMap<K, Counts, foldhash::fast::RandomState>,
    ungrouped: u64,
}

impl<K> Default for Tally<K> {
    fn default() -> Self {
        Tally {
            counts: HashMap::default(),
            ungrouped: 0,
        }
    }
}

impl<K: Hash + Eq + Clone + Ord> Tally<K> {
    /// Counts one connection under `key`, made into a key of its own only when it is new.
    fn add<Q>(&mut self, key: &Q, outcome: Outcome)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if let Some(c) = self.counts.get_mut(key) {
            c.add(outcome);
        } else if self.counts.len() >= MAX_KEYS {
            self.ungrouped += 1;
        } else {
            self.counts.entry(key.to_owned()).or_default().add(outcome);
        }
    }

    /// The largest `top` groups, in order, the rest counted.
    fn view<R>(&self, top: usize, row: impl Fn(&K, Counts) -> R) -> View<R> {
        view_of(self.counts.iter(), self.ungrouped, top, row)
    }
}

/// The largest `top` of `groups` (most connections that did not establish first, then most
/// connections, then by key), the rest counted.
fn view_of<'a, K: Ord + 'a, R>(
    groups: impl Iterator<Item = (&'a K, &'a Counts)>,
    ungrouped: u64,
    top: usize,
    row: impl Fn(&K, Counts) -> R,
) -> View<R> {
    let mut all: Vec<(&K, &Counts)> = groups.collect();
    all.sort_by(|a, b| {
        (b.1.not_established(), b.1.connections)
            .cmp(&(a.1.not_established(), a.1.connections))
            .then_with(|| a.0.cmp(b.0))
    });
    let mut view = View {
        ungrouped,
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

type Fast = foldhash::fast::RandomState;

/// Each server's counts with its fingerprints' counts, by address, then SNI, then JA4: a
/// connection is counted without a key made for it unless its server or fingerprint is new.
/// At most `MAX_KEYS` servers, and `MAX_KEYS` server and fingerprint pairs in all.
#[derive(Clone, Debug, Default)]
struct ServerTallies {
    by_address: HashMap<Option<IpAddr>, HashMap<Option<WireText>, PerServer, Fast>, Fast>,
    servers: usize,
    pairs: usize,
    /// Connections whose server would have been one too many.
    ungrouped: u64,
    /// Connections whose server and fingerprint pair would have been one too many.
    ungrouped_pairs: u64,
}

#[derive(Clone, Debug, Default)]
struct PerServer {
    counts: Counts,
    fingerprints: HashMap<String, Counts, Fast>,
}

impl ServerTallies {
    fn add(&mut self, conn: &Connection, ja4: &str, outcome: Outcome) {
        let address = conn.server.map(|e| e.ip);
        let full = self.servers >= MAX_KEYS;
        if full && !self.by_address.contains_key(&address) {
            self.ungrouped += 1;
            return;
        }
        let by_sni = self.by_address.entry(address).or_default();
        let server = match by_sni.get_mut(&conn.sni) {
            Some(server) => server,
            None if full => {
                self.ungrouped += 1;
                return;
            }
            None => {
                self.servers += 1;
                by_sni.entry(conn.sni.clone()).or_default()
            }
        };
        server.counts.add(outcome);
        match server.fingerprints.get_mut(ja4) {
            Some(c) => c.add(outcome),
            None if self.pairs >= MAX_KEYS => self.ungrouped_pairs += 1,
            None => {
                self.pairs += 1;
                let counts = server.fingerprints.entry(ja4.to_string()).or_default();
                counts.add(outcome);
            }
        }
    }

    /// Every server with its counts and fingerprints, in no order.
    fn each(&self) -> impl Iterator<Item = (Server, &PerServer)> {
        self.by_address.iter().flat_map(|(&address, by_sni)| {
            by_sni.iter().map(move |(sni, per)| {
                let server = Server {
                    server: address,
                    sni: sni.clone(),
                };
                (server, per)
            })
        })
    }
}

/// What `Groups` is made from, updated once per connection. A connection without a
/// ClientHello is counted under the fingerprint "".
#[derive(Clone, Debug, Default)]
pub(crate) struct Tallies {
    servers: ServerTallies,
    snis: Tally<Option<WireText>>,
    clients: Tally<Option<IpAddr>>,
    fingerprints: Tally<String>,
    /// What each fingerprint's first ClientHello offered: one entry per fingerprint key.
    offers: HashMap<String, (Vec<&'static str>, Vec<WireText>), Fast>,
}

impl Tallies {
    pub(crate) fn count(&mut self, conn: &Connection) {
        let outcome = conn.verdict.outcome;
        let ja4 = conn
            .client_fingerprints
            .get()
            .map_or("", |f| f.ja4.as_str());
        self.snis.add(&conn.sni, outcome);
        self.clients.add(&conn.client.map(|e| e.ip), outcome);
        if !self.offers.contains_key(ja4) && self.offers.len() < MAX_KEYS {
            let versions = conn.client_versions.without_grease().collect();
            let offer = (versions, conn.alpn_offered.clone());
            self.offers.insert(ja4.to_string(), offer);
        }
        self.fingerprints.add(ja4, outcome);
        self.servers.add(conn, ja4, outcome);
    }

    /// Every server and its counts, in no order.
    pub(crate) fn servers(&self) -> impl Iterator<Item = (Server, Counts)> {
        self.servers
            .each()
            .map(|(server, per)| (server, per.counts))
    }

    pub(crate) fn groups(&self, top: usize) -> Groups {
        let fingerprint = |ja4: &String| {
            let (versions, alpn) = self.offers.get(ja4).cloned().unwrap_or_default();
            Fingerprint {
                ja4: (!ja4.is_empty()).then(|| ja4.clone()),
                versions_offered: versions,
                alpn_offered: alpn,
            }
        };
        Groups {
            servers: self.server_view(top),
            snis: self.snis.view(top, |sni, counts| Row {
                key: Sni { sni: sni.clone() },
                counts,
            }),
            clients: self.clients.view(top, |&client, counts| Row {
                key: Client { client },
                counts,
            }),
            fingerprints: self.fingerprints.view(top, |k, counts| Row {
                key: fingerprint(k),
                counts,
            }),
            servers_by_fingerprint: self.servers_by_fingerprint(top, &fingerprint),
        }
    }

    fn server_view(&self, top: usize) -> View<Row<Server>> {
        let all: Vec<(Server, Counts)> = self.servers().collect();
        let groups = all.iter().map(|(server, counts)| (server, counts));
        view_of(groups, self.servers.ungrouped, top, Row::of)
    }

    /// The servers with failures, most first, each with its fingerprints.
    fn servers_by_fingerprint(
        &self,
        top: usize,
        fingerprint: &impl Fn(&String) -> Fingerprint,
    ) -> View<ServerClients> {
        let failing: Vec<(Server, &PerServer)> = self
            .servers
            .each()
            .filter(|(_, per)| per.counts.not_established() > 0)
            .collect();
        let groups = failing.iter().map(|(server, per)| (server, &per.counts));
        let prints_of: HashMap<&Server, &HashMap<String, Counts, Fast>> = failing
            .iter()
            .map(|(server, per)| (server, &per.fingerprints))
            .collect();
        let mut view = view_of(groups, self.servers.ungrouped, top, |server, counts| {
            let prints = prints_of.get(server);
            ServerClients {
                server: server.clone(),
                counts,
                fingerprints: prints
                    .map(|p| {
                        view_of(p.iter(), 0, top, |k, c| Row {
                            key: fingerprint(k),
                            counts: c,
                        })
                    })
                    .unwrap_or_default(),
            }
        });
        view.ungrouped += self.servers.ungrouped_pairs;
        view
    }
}

#[cfg(test)]
mod tests;
