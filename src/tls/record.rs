//! TLS record framing over one direction's reassembled bytes.
//!
//! Only the 5-byte header is read here (with tls-parser); what a record holds is decided by
//! the decoder, which knows whether the direction is encrypted yet.

use tls_parser::parse_tls_record_header;

pub(crate) const CHANGE_CIPHER_SPEC: u8 = 20;
pub(crate) const ALERT: u8 = 21;
pub(crate) const HANDSHAKE: u8 = 22;
pub(crate) const APPLICATION_DATA: u8 = 23;
pub(crate) const HEARTBEAT: u8 = 24;

/// RFC 8446 5.2 allows 2^14 + 256 bytes of ciphertext; older stacks stay below 2^14 + 2048.
const MAX_RECORD_LEN: usize = (1 << 14) + 2048;
const HEADER_LEN: usize = 5;

/// What the bytes at the start of a buffer are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing<'a> {
    Record {
        content_type: u8,
        version: u16,
        payload: &'a [u8],
        /// Header plus payload: how many bytes the record occupies.
        total: usize,
    },
    /// An SSLv2-format ClientHello (RFC 5246 appendix E.2), `body` after the 2-byte header.
    Sslv2ClientHello {
        body: &'a [u8],
        total: usize,
    },
    /// An SSLv2 SERVER-HELLO: the server speaks SSLv2, and so does the rest of the stream.
    Sslv2ServerHello {
        body: &'a [u8],
        total: usize,
    },
    /// A plausible start whose end has not arrived yet.
    Incomplete,
    NotTls,
}

/// Frames the record at the start of `data`.
pub fn frame(data: &[u8]) -> Framing<'_> {
    // SSLv2's hellos start with the top bit set, which no TLS content type has: a TLS
    // record is not looked at twice.
    if data.first().is_some_and(|b| b & 0x80 != 0)
        && let Some(sslv2) =
            frame_sslv2_client_hello(data).or_else(|| frame_sslv2_server_hello(data))
    {
        return sslv2;
    }
    if data.len() < HEADER_LEN {
        return if data.is_empty() || plausible_prefix(data) {
            Framing::Incomplete
        } else {
            Framing::NotTls
        };
    }
    let Ok((_, header)) = parse_tls_record_header(data) else {
        return Framing::NotTls;
    };
    let len = usize::from(header.len);
    if !(CHANGE_CIPHER_SPEC..=HEARTBEAT).contains(&header.record_type.0)
        || header.version.0 >> 8 != 3
        || header.version.0 & 0xff > 4
        || len > MAX_RECORD_LEN
    {
        return Framing::NotTls;
    }
    match data.get(HEADER_LEN..HEADER_LEN + len) {
        Some(payload) => Framing::Record {
            content_type: header.record_type.0,
            version: header.version.0,
            payload,
            total: HEADER_LEN + len,
        },
        None => Framing::Incomplete,
    }
}

/// Whether a short prefix could still become a TLS record header.
fn plausible_prefix(data: &[u8]) -> bool {
    let type_ok = data
        .first()
        .is_some_and(|t| (CHANGE_CIPHER_SPEC..=HEARTBEAT).contains(t) || t & 0x80 != 0);
    let major_ok = data
        .get(1)
        .is_none_or(|&m| m == 3 || data.first().is_some_and(|t| t & 0x80 != 0));
    type_ok && major_ok
}

/// SSLv2 CLIENT-HELLO: a 2-byte length with the top bit set, message type 1, then a version
/// of SSLv2 (0x0002) or SSLv3 and later.
fn frame_sslv2_client_hello(data: &[u8]) -> Option<Framing<'_>> {
    let (&b0, &b1, &msg_type, &major) = (data.first()?, data.get(1)?, data.get(2)?, data.get(3)?);
    if b0 & 0x80 == 0 || msg_type != 1 || !(major == 0 || major == 3) {
        return None;
    }
    let len = usize::from(b0 & 0x7f) << 8 | usize::from(b1);
    if len < 9 {
        return None;
    }
    Some(match data.get(2..2 + len) {
        Some(body) => Framing::Sslv2ClientHello {
            body,
            total: 2 + len,
        },
        None => Framing::Incomplete,
    })
}

/// A handshake record whose end the capture lacks (the snaplen cut it): the handshake type, if
/// its byte was captured, and the record's declared length.
pub(crate) fn cut_handshake(data: &[u8]) -> Option<(Option<u8>, usize)> {
    let Ok((_, header)) = parse_tls_record_header(data) else {
        return None;
    };
    let len = usize::from(header.len);
    let whole = data.len() >= HEADER_LEN + len;
    let plausible = header.record_type.0 == HANDSHAKE
        && header.version.0 >> 8 == 3
        && header.version.0 & 0xff <= 4
        && len <= MAX_RECORD_LEN;
    (plausible && !whole).then(|| (data.get(HEADER_LEN).copied(), len))
}

/// SSLv2 SERVER-HELLO: a 2-byte header, message type 4, session-id-hit 0 or 1, certificate
/// type 1 (X.509) and server version 0x0002. So many fixed bytes make a TLS stream that
/// happens to start this way implausible.
fn frame_sslv2_server_hello(data: &[u8]) -> Option<Framing<'_>> {
    let header = data.get(..7)?;
    let &[b0, _, SSLV2_SERVER_HELLO, 0 | 1, 1, 0, 2] = header else {
        return None;
    };
    if b0 & 0x80 == 0 {
        return None;
    }
    Some(match frame_sslv2(data) {
        Sslv2Framing::Record { body, total, .. } => Framing::Sslv2ServerHello { body, total },
        Sslv2Framing::Incomplete => Framing::Incomplete,
    })
}

/// The SSLv2 message types (the Netscape SSL 2.0 specification, "Protocol Messages").
pub(crate) const SSLV2_ERROR: u8 = 0;
pub(crate) const SSLV2_CLIENT_HELLO: u8 = 1;
pub(crate) const SSLV2_CLIENT_MASTER_KEY: u8 = 2;
pub(crate) const SSLV2_SERVER_HELLO: u8 = 4;

/// An SSLv2 record at the start of a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sslv2Framing<'a> {
    Record {
        /// The record's data after its header, padding included (encrypted records only
        /// have padding).
        body: &'a [u8],
        /// Header plus data.
        total: usize,
    },
    Incomplete,
}

/// Frames an SSLv2 record: a 2-byte header (top bit set, 15-bit length) or a 3-byte one
/// (top bit clear, 14-bit length, a padding count). Every pair of bytes is a valid header,
/// so once a stream speaks SSLv2 nothing here can tell it is not.
pub(crate) fn frame_sslv2(data: &[u8]) -> Sslv2Framing<'_> {
    let (Some(&b0), Some(&b1)) = (data.first(), data.get(1)) else {
        return Sslv2Framing::Incomplete;
    };
    let (header, len) = if b0 & 0x80 != 0 {
        (2, usize::from(b0 & 0x7f) << 8 | usize::from(b1))
    } else {
        (3, usize::from(b0 & 0x3f) << 8 | usize::from(b1))
    };
    match data.get(header..header + len) {
        Some(body) => Sslv2Framing::Record {
            body,
            total: header + len,
        },
        None => Sslv2Framing::Incomplete,
    }
}

/// Whether `data` starts with a ClientHello (or ServerHello, with `server`) record: used to find
/// where TLS begins after a plaintext prefix (STARTTLS, PostgreSQL's SSLRequest).
pub(crate) fn starts_hello(data: &[u8], server: bool) -> bool {
    let want = if server { 2 } else { 1 };
    matches!(
        (data.first(), data.get(1), data.get(2), data.get(5)),
        (Some(&HANDSHAKE), Some(&3), Some(&(0..=4)), Some(&t)) if t == want
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SSLv2 records of a real handshake (scapy's): the hellos are told apart from TLS by
    /// their first bytes; CLIENT-MASTER-KEY only by SSLv2 framing.
    #[test]
    fn sslv2_records_frame_by_their_headers() {
        let file: &[u8] = include_bytes!("../../captures/sslv2.pcap");
        let client = crate::tls::side_bytes(file, false);
        let Framing::Sslv2ClientHello { total, .. } = frame(&client) else {
            panic!("{:?}", frame(&client));
        };
        let after = &client[total..];
        assert_eq!(frame(after), Framing::NotTls);
        let Sslv2Framing::Record { body, .. } = frame_sslv2(after) else {
            panic!("CLIENT-MASTER-KEY not framed");
        };
        assert_eq!(body.first(), Some(&SSLV2_CLIENT_MASTER_KEY));
        let server = crate::tls::side_bytes(file, true);
        assert!(matches!(frame(&server), Framing::Sslv2ServerHello { total, .. } if total > 800));
        for cut in 0..7 {
            assert_eq!(frame_sslv2(&server[..cut]), Sslv2Framing::Incomplete);
        }
    }

    #[test]
    fn frames_records_and_waits_for_the_rest() {
        let alert = [21, 3, 3, 0, 2, 2, 40];
        assert_eq!(
            frame(&alert),
            Framing::Record {
                content_type: 21,
                version: 0x0303,
                payload: &[2, 40],
                total: 7
            }
        );
        for cut in 1..alert.len() {
            assert_eq!(frame(&alert[..cut]), Framing::Incomplete, "cut at {cut}");
        }
        assert_eq!(frame(b"GET / HTTP/1.1\r\n"), Framing::NotTls);
        assert_eq!(frame(b"SSH-2.0-OpenSSH_9.2"), Framing::NotTls);
        assert_eq!(frame(&[22, 3, 1, 0xff, 0xff]), Framing::NotTls);
    }

    #[test]
    fn a_cut_handshake_record_shows_its_header() {
        // The first 12 bytes of snaplen-alert.pcap's ClientHello (tcpdump -s 100).
        let cut = [22, 3, 1, 0x01, 0x1c, 1, 0, 1, 0x18, 3, 3, 0x5c];
        assert_eq!(cut_handshake(&cut), Some((Some(1), 0x011c)));
        assert_eq!(cut_handshake(&cut[..5]), Some((None, 0x011c)));
        assert_eq!(cut_handshake(&cut[..4]), None);
        // A whole record, an alert, and bytes that are not TLS are not cut handshakes.
        assert_eq!(cut_handshake(&[22, 3, 3, 0, 1, 20]), None);
        assert_eq!(cut_handshake(&[21, 3, 3, 0, 2, 2]), None);
        assert_eq!(cut_handshake(b"GET / HTTP/1.1"), None);
    }
}
