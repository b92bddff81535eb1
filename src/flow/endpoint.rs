//! Who is who in a conversation: its endpoints, the key that finds it from either end, and
//! the client and server sides.

use std::net::IpAddr;

/// One end of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
}

impl Endpoint {
    pub(crate) fn new(ip: IpAddr, port: u16) -> Self {
        Endpoint { ip, port }
    }
}

/// The unordered pair of endpoints, each as fixed-width integers (`net::endpoint_bits`, its
/// address in two halves, high first: the same order, without a `u128`'s 16-byte alignment,
/// which would make a key 64 bytes instead of 48); `lo` sorts first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct FlowKey {
    lo: (u64, u64, u16),
    hi: (u64, u64, u16),
}

impl FlowKey {
    fn compact(e: Endpoint) -> (u64, u64, u16) {
        let (ip, port) = crate::net::endpoint_bits(e.ip, e.port);
        ((ip >> 64) as u64, ip as u64, port)
    }

    /// The key of the pair, and whether `a` is its `hi` end.
    pub(super) fn of(a: Endpoint, b: Endpoint) -> (Self, bool) {
        let (a, b) = (Self::compact(a), Self::compact(b));
        if a <= b {
            (FlowKey { lo: a, hi: b }, false)
        } else {
            (FlowKey { lo: b, hi: a }, true)
        }
    }
}

/// Which way a segment travels relative to the connection's client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Client,
    Server,
}

impl Side {
    pub(crate) fn peer(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }
}

/// One value for each side of a connection.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PerSide<T> {
    pub client: T,
    pub server: T,
}

impl<T> PerSide<T> {
    pub(crate) fn get(&self, side: Side) -> &T {
        match side {
            Side::Client => &self.client,
            Side::Server => &self.server,
        }
    }

    pub(crate) fn get_mut(&mut self, side: Side) -> &mut T {
        match side {
            Side::Client => &mut self.client,
            Side::Server => &mut self.server,
        }
    }
}

/// How the client was told apart from the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RoleEvidence {
    /// The client sent the SYN (or received the SYN-ACK).
    Syn,
    /// The client sent the ClientHello.
    ClientHello,
    /// Neither was seen: the side on the well-known or lower port is taken as the server.
    Port,
}
