//! The scanning states: the start of a direction, the resync after joining a stream
//! mid-way, and the plaintext before STARTTLS. Each looks for where records begin.

use super::{Decoder, State, push};
use crate::capture::Timestamp;
use crate::tls::record::{self, Framing};
use crate::tls::{Event, Located};

/// Plaintext scanned for the start of TLS (STARTTLS) before a direction is declared not TLS.
const MAX_PLAINTEXT_PREFIX: usize = 64 << 10;
/// Bytes kept of a plaintext prefix, to show the user.
const SHOWN_PREFIX: usize = 64;

impl Decoder {
    /// Finds where whole records start again: a record header whose record ends exactly where
    /// the data ends or where another record header begins. Bounded like the plaintext scan.
    pub(super) fn resync(&mut self, rest: &[u8], scanned: usize) -> Option<usize> {
        let chained = |i: usize| match rest.get(i..).map(record::frame) {
            Some(Framing::Record { total, .. }) => match rest.get(i + total..) {
                Some([]) => true,
                Some(after) => matches!(
                    record::frame(after),
                    Framing::Record { .. } | Framing::Incomplete
                ),
                None => false,
            },
            _ => false,
        };
        match (0..rest.len()).find(|&i| chained(i)) {
            Some(i) => {
                self.state = State::Records;
                Some(i)
            }
            None => {
                // Keep from the first record that may complete with more data, or a header's
                // worth: a boundary may straddle two deliveries.
                let pending = (0..rest.len()).find(|&i| {
                    matches!(rest.get(i..).map(record::frame), Some(Framing::Incomplete))
                });
                let skip = pending.unwrap_or(rest.len().saturating_sub(5));
                self.scan_further(scanned, rest.len(), skip, |scanned| State::Resync {
                    scanned,
                })
            }
        }
    }

    /// A scan found nothing in `rest_len` bytes: past the bound the direction is given up,
    /// else `skip` bytes are passed over and the scan waits for more.
    fn scan_further(
        &mut self,
        scanned: usize,
        rest_len: usize,
        skip: usize,
        next: impl FnOnce(usize) -> State,
    ) -> Option<usize> {
        if scanned + rest_len > MAX_PLAINTEXT_PREFIX {
            self.state = State::Lost;
            return Some(rest_len);
        }
        self.state = next(scanned + skip);
        if skip == 0 { None } else { Some(skip) }
    }

    pub(super) fn start(
        &mut self,
        rest: &[u8],
        at: usize,
        origin: &impl Fn(usize) -> Option<(u64, Timestamp)>,
        out: &mut Vec<Located>,
    ) -> Option<usize> {
        match record::frame(rest) {
            Framing::Incomplete => None,
            Framing::NotTls => {
                let shown = rest.get(..SHOWN_PREFIX.min(rest.len())).unwrap_or_default();
                push(
                    out,
                    origin,
                    at,
                    Event::Plaintext {
                        first_bytes: shown.to_vec(),
                    },
                );
                self.state = State::Plaintext { scanned: 0 };
                Some(0)
            }
            Framing::Record { .. } | Framing::Sslv2ClientHello { .. } => {
                self.state = State::Records;
                Some(0)
            }
            Framing::Sslv2ServerHello { .. } => {
                self.state = State::Sslv2;
                Some(0)
            }
        }
    }

    /// Looks for the hello that starts TLS after a plaintext exchange. Each byte is a possible
    /// start; the plaintext prefix is bounded so a long non-TLS stream costs nothing more.
    pub(super) fn scan_plaintext(
        &mut self,
        rest: &[u8],
        at: usize,
        scanned: usize,
        origin: &impl Fn(usize) -> Option<(u64, Timestamp)>,
        out: &mut Vec<Located>,
    ) -> Option<usize> {
        // Keep the last few bytes: a hello header may straddle two deliveries.
        const HEADER: usize = 6;
        match (0..rest.len())
            .find(|&i| record::starts_hello(rest.get(i..).unwrap_or_default(), self.server))
        {
            Some(i) => {
                push(
                    out,
                    origin,
                    at + i,
                    Event::TlsAfterPlaintext {
                        prefix_len: (scanned + i) as u64,
                    },
                );
                self.state = State::Records;
                Some(i)
            }
            None => {
                let skip = rest.len().saturating_sub(HEADER);
                self.scan_further(scanned, rest.len(), skip, |scanned| State::Plaintext {
                    scanned,
                })
            }
        }
    }
}
