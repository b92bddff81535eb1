//! What the user can tune about a run: the TLS ports, the limits, live reporting.

use crate::diagnose::DiagnoseOptions;
use crate::flow::Limits;
use crate::net::DefragLimits;
use crate::tls::keylog::SharedKeyLog;
use crate::tls::{self};

/// TLS's registered ports (IANA) and the usual alternatives, on which connections that never
/// carried TLS are reported too.
pub const DEFAULT_TLS_PORTS: &[u16] = &[
    443, 465, 563, 636, 853, 989, 990, 991, 992, 993, 994, 995, 5061, 6443, 8443,
];

/// Connections tracked at once by default: a few hundred megabytes at the very most.
pub const DEFAULT_MAX_CONNECTIONS: usize = 100_000;

/// Long enough for the last ACK and a retransmitted FIN or two after a close.
pub(crate) const DEFAULT_LINGER: f64 = 2.0;

#[derive(Clone, Debug)]
pub struct Options {
    /// Ports on which non-TLS connections (refused, timed out, plain HTTP) are reported.
    pub tls_ports: Vec<u16>,
    /// Bytes and out-of-order segments held per direction before the handshake settles.
    pub reassembly: Limits,
    /// Handshake message size, certificates per chain, bytes per certificate.
    pub tls: tls::Limits,
    /// Connections tracked at once; beyond it the least recently seen is judged early and
    /// dropped (counted as `evicted_connections`).
    pub max_connections: usize,
    pub diagnose: DiagnoseOptions,
    /// Report a connection when it establishes or closes, not only at the end (live input).
    pub report_early: bool,
    /// Keep each open connection's recent packets, to hand over with a failed connection.
    pub keep_packets: Option<PacketRingLimits>,
    /// Seconds of capture time a closed connection stays quiet before it is judged and
    /// removed, so that memory follows the connections open, not all those of the capture.
    pub linger: f64,
    /// Datagrams pending reassembly from IP fragments, their bytes, and their timeout.
    pub defrag: DefragLimits,
    /// Secrets to decrypt with (`--keylog`, and a pcapng's Decryption Secrets Blocks).
    pub keylog: Option<SharedKeyLog>,
}

/// How many of an open connection's recent packets are kept, and the budget of them all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketRingLimits {
    pub(crate) packets_per_connection: usize,
    pub(crate) bytes_per_connection: usize,
    /// For all connections together: beyond it packets are not kept (and counted).
    pub(crate) total_bytes: usize,
}

impl Default for PacketRingLimits {
    fn default() -> Self {
        PacketRingLimits {
            packets_per_connection: 64,
            bytes_per_connection: 256 << 10,
            total_bytes: 64 << 20,
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            tls_ports: DEFAULT_TLS_PORTS.to_vec(),
            reassembly: Limits::default(),
            tls: tls::Limits::default(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            diagnose: DiagnoseOptions::default(),
            report_early: false,
            keep_packets: None,
            linger: DEFAULT_LINGER,
            defrag: DefragLimits::default(),
            keylog: None,
        }
    }
}
