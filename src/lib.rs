//! tlsdiag: a packet-level TLS handshake analyzer.
//!
//! The modules follow the data: `capture` (where packets come from), `net` (link, IP and TCP
//! headers), `flow` (the connection table and reassembly), `tls` (records and handshake
//! messages), `connection` (the record of one connection), `diagnose` (the verdict), `link`
//! (retries linked to the attempts they retried), `report` (every byte of output); `shard` splits a file's connections across threads (`-j`) and
//! merges their reports back. Data flows one way; no module imports from a stage after it.
#![forbid(unsafe_code)]
#![warn(unreachable_pub)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

pub mod analyze;
pub(crate) mod bytes;
pub mod capture;
pub mod connection;
pub mod diagnose;
pub mod flow;
pub mod link;
pub mod net;
pub mod report;
pub mod shard;
pub mod tls;
pub mod wire_text;

pub use analyze::{Analysis, Analyzer, Options};
