//! Handshake messages decoded with tls-parser into our own facts.
//!
//! This is the one place where tls-parser's types are mapped into the model: the rest of the
//! crate sees `ClientHello`, `ServerHello` and `Message`, never a parser type.

use super::Limits;
use super::certificate::{CertificateInfo, decode_certificate_cached};
use crate::bytes::be_u16;
use crate::wire_text::WireText;
use std::sync::Arc;
use tls_parser::nom::{self, IResult};
use tls_parser::{
    TlsExtension, TlsExtensionType, TlsMessage, TlsMessageHandshake,
    parse_tls_client_hello_extension, parse_tls_message_handshake,
    parse_tls_server_hello_extension,
};

/// The handshake types, as RFC 8446 4 numbers them.
pub mod kind {
    pub const CLIENT_HELLO: u8 = 1;
    pub const SERVER_HELLO: u8 = 2;
    pub const NEW_SESSION_TICKET: u8 = 4;
    pub const CERTIFICATE: u8 = 11;
    pub const SERVER_KEY_EXCHANGE: u8 = 12;
    pub const CERTIFICATE_REQUEST: u8 = 13;
    pub const SERVER_HELLO_DONE: u8 = 14;
    pub const CERTIFICATE_VERIFY: u8 = 15;
    pub const CLIENT_KEY_EXCHANGE: u8 = 16;
    pub const FINISHED: u8 = 20;
}

/// RFC 8446 4.1.3: a ServerHello with this random is a HelloRetryRequest.
const HELLO_RETRY_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientHello {
    pub legacy_version: u16,
    /// supported_versions when present (GREASE included, as sent).
    pub supported_versions: Vec<u16>,
    pub cipher_suites: Vec<u16>,
    pub sni: Option<WireText>,
    pub alpn: Vec<WireText>,
    pub groups: Vec<u16>,
    pub key_share_groups: Vec<u16>,
    pub signature_algorithms: Vec<u16>,
    pub session_id: Vec<u8>,
    /// A non-empty session_ticket extension: the client asks to resume with a ticket.
    pub session_ticket: bool,
    pub psk: bool,
    pub early_data: bool,
    /// Extension types in the order sent.
    pub extensions: Vec<u16>,
    /// Sent in the SSLv2-compatible format.
    pub sslv2_format: bool,
    /// The message's length in bytes, header included.
    pub length: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerHello {
    pub legacy_version: u16,
    /// The version selected through supported_versions, when the extension is present.
    pub selected_version: Option<u16>,
    pub cipher: u16,
    pub session_id: Vec<u8>,
    pub alpn: Option<WireText>,
    /// key_share: the group of the server's share, or in a HelloRetryRequest the group asked for.
    pub group: Option<u16>,
    /// The server accepted a pre-shared key (TLS 1.3 resumption).
    pub psk_selected: bool,
    pub extensions: Vec<u16>,
    pub hello_retry: bool,
}

impl ServerHello {
    /// The negotiated version: supported_versions wins over the legacy field.
    pub fn version(&self) -> u16 {
        self.selected_version.unwrap_or(self.legacy_version)
    }
}

/// One cleartext handshake message, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    ClientHello(Box<ClientHello>),
    ServerHello(Box<ServerHello>),
    Certificate {
        chain: Vec<Arc<CertificateInfo>>,
        /// Certificates present but not decoded: undecodable, or over a limit.
        undecoded: usize,
        /// Of `undecoded`, those beyond `Limits::max_chain` or over `max_certificate`.
        over_limit: usize,
    },
    /// Any other type: the decoder knows it by its number.
    Other {
        kind: u8,
    },
}

/// Decodes one whole handshake message (4-byte header included).
pub fn decode(msg: &[u8], limits: &Limits) -> Result<Message, String> {
    let kind = *msg.first().ok_or("empty handshake message")?;
    match kind {
        kind::CLIENT_HELLO => decode_client_hello(msg).map(|ch| Message::ClientHello(Box::new(ch))),
        kind::SERVER_HELLO => decode_server_hello(msg).map(|sh| Message::ServerHello(Box::new(sh))),
        kind::CERTIFICATE => decode_certificate_chain(msg, limits),
        other => Ok(Message::Other { kind: other }),
    }
}

fn parse(msg: &[u8]) -> Result<TlsMessageHandshake<'_>, String> {
    match parse_tls_message_handshake(msg) {
        Ok((_, TlsMessage::Handshake(m))) => Ok(m),
        Ok(_) => Err("not a handshake message".into()),
        Err(e) => Err(format!("undecodable handshake message: {e:?}")),
    }
}

fn decode_client_hello(msg: &[u8]) -> Result<ClientHello, String> {
    let TlsMessageHandshake::ClientHello(ch) = parse(msg)? else {
        return Err("ClientHello did not decode".into());
    };
    let mut out = ClientHello {
        legacy_version: ch.version.0,
        cipher_suites: ch.ciphers.into_iter().map(|c| c.0).collect(),
        session_id: ch.session_id.unwrap_or_default().to_vec(),
        length: msg.len(),
        ..Default::default()
    };
    if let Some(ext) = ch.ext {
        out.extensions.reserve_exact(16);
        each_extension(ext, parse_tls_client_hello_extension, |e| {
            apply_client_extension(&mut out, e)
        })
        .map_err(|e| format!("ClientHello extensions did not decode: {e:?}"))?;
    }
    Ok(out)
}

/// Hands each extension of the list `raw` to `apply`, in order, as tls-parser's list parsers
/// (`many0(complete(one))`) read them: to the first that does not decode, an error only if
/// it is a failure. Without collecting them into a Vec first: a ClientHello has a dozen, and
/// collecting and dropping them was a twentieth of the time on a handshake-dense capture.
fn each_extension<'a>(
    mut raw: &'a [u8],
    one: fn(&'a [u8]) -> IResult<&'a [u8], TlsExtension<'a>>,
    mut apply: impl FnMut(TlsExtension<'a>),
) -> Result<(), nom::Err<nom::error::Error<&'a [u8]>>> {
    loop {
        match one(raw) {
            Ok((rest, e)) if rest.len() < raw.len() => {
                apply(e);
                raw = rest;
            }
            // What many0 makes of a parser that reads nothing (one never does: a type and a
            // length come first).
            Ok(_) => {
                let kind = nom::error::ErrorKind::Many0;
                return Err(nom::Err::Error(nom::error::Error::new(raw, kind)));
            }
            Err(nom::Err::Error(_) | nom::Err::Incomplete(_)) => return Ok(()),
            Err(failure) => return Err(failure),
        }
    }
}

fn extension_type(e: &TlsExtension<'_>) -> u16 {
    match e {
        TlsExtension::Grease(t, _) => *t,
        other => TlsExtensionType::from(other).0,
    }
}

fn apply_client_extension(out: &mut ClientHello, e: TlsExtension<'_>) {
    out.extensions.push(extension_type(&e));
    // tls-parser's lists are taken over, not copied: a `map` to the same size collects in
    // place, so its allocation becomes ours.
    match e {
        TlsExtension::SNI(names) => {
            // host_name is type 0 (RFC 6066 3); any bytes are kept, UTF-8 or not.
            out.sni = names
                .iter()
                .find(|(t, _)| t.0 == 0)
                .map(|(_, n)| WireText::from_bytes(n));
        }
        TlsExtension::ALPN(protos) => {
            out.alpn = protos.iter().map(|p| WireText::from_bytes(p)).collect();
        }
        TlsExtension::EllipticCurves(groups) => {
            out.groups = groups.into_iter().map(|g| g.0).collect()
        }
        TlsExtension::SignatureAlgorithms(algs) => out.signature_algorithms = algs,
        TlsExtension::SupportedVersions(v) => {
            out.supported_versions = v.into_iter().map(|v| v.0).collect()
        }
        TlsExtension::KeyShare(raw) => out.key_share_groups = client_key_share_groups(raw),
        TlsExtension::SessionTicket(ticket) => out.session_ticket = !ticket.is_empty(),
        TlsExtension::PreSharedKey(_) => out.psk = true,
        TlsExtension::EarlyData(_) => out.early_data = true,
        _ => {}
    }
}

/// RFC 8446 4.2.8: KeyShareClientHello is a u16-length list of (group u16, key u16-length).
/// tls-parser leaves the content raw, so the groups are read here.
fn client_key_share_groups(raw: &[u8]) -> Vec<u16> {
    let mut groups = Vec::new();
    let mut rest = raw.get(2..).unwrap_or_default();
    while let (Some(group), Some(key_len)) = (be_u16(rest, 0), be_u16(rest, 2)) {
        groups.push(group);
        match rest.get(4 + usize::from(key_len)..) {
            Some(r) => rest = r,
            None => break,
        }
    }
    groups
}

fn decode_server_hello(msg: &[u8]) -> Result<ServerHello, String> {
    let (version, random, session_id, cipher, ext) = match parse(msg)? {
        TlsMessageHandshake::ServerHello(sh) => {
            (sh.version.0, sh.random, sh.session_id, sh.cipher.0, sh.ext)
        }
        TlsMessageHandshake::ServerHelloV13Draft18(sh) => {
            (sh.version.0, sh.random, None, sh.cipher.0, sh.ext)
        }
        _ => return Err("ServerHello did not decode".into()),
    };
    let mut out = ServerHello {
        legacy_version: version,
        cipher,
        session_id: session_id.unwrap_or_default().to_vec(),
        hello_retry: random == HELLO_RETRY_RANDOM,
        ..Default::default()
    };
    if let Some(ext) = ext {
        each_extension(ext, parse_tls_server_hello_extension, |e| {
            out.extensions.push(extension_type(&e));
            match e {
                TlsExtension::SupportedVersions(v) => out.selected_version = v.first().map(|v| v.0),
                TlsExtension::ALPN(p) => out.alpn = p.first().map(|p| WireText::from_bytes(p)),
                // Both a ServerHello's KeyShareEntry and a HelloRetryRequest's selected_group
                // start with the group.
                TlsExtension::KeyShare(raw) => out.group = be_u16(raw, 0),
                TlsExtension::PreSharedKey(_) => out.psk_selected = true,
                _ => {}
            }
        })
        .map_err(|e| format!("ServerHello extensions did not decode: {e:?}"))?;
    }
    Ok(out)
}

fn decode_certificate_chain(msg: &[u8], limits: &Limits) -> Result<Message, String> {
    let TlsMessageHandshake::Certificate(contents) = parse(msg)? else {
        return Err("Certificate did not decode".into());
    };
    let mut chain = Vec::new();
    let mut over_limit = contents.cert_chain.len().saturating_sub(limits.max_chain);
    let mut undecoded = over_limit;
    for raw in contents.cert_chain.iter().take(limits.max_chain) {
        if raw.data.len() > limits.max_certificate {
            over_limit += 1;
            undecoded += 1;
            continue;
        }
        match decode_certificate_cached(raw.data) {
            Ok(c) => chain.push(c),
            Err(_) => undecoded += 1,
        }
    }
    Ok(Message::Certificate {
        chain,
        undecoded,
        over_limit,
    })
}

/// Decodes an SSLv2-format CLIENT-HELLO body (after the 2-byte record header): version,
/// cipher specs (3 bytes each; those with a zero first byte are TLS suites), session id.
/// tls-parser does not read this format.
pub fn decode_sslv2_client_hello(body: &[u8]) -> Result<ClientHello, String> {
    let field = |at: usize| be_u16(body, at).ok_or("SSLv2 ClientHello too short");
    let version = field(1)?;
    let (spec_len, sid_len) = (usize::from(field(3)?), usize::from(field(5)?));
    let specs = body
        .get(9..9 + spec_len)
        .ok_or("SSLv2 cipher specs cut short")?;
    let session_id = body
        .get(9 + spec_len..9 + spec_len + sid_len)
        .ok_or("SSLv2 session id cut short")?;
    let cipher_suites = specs
        .chunks_exact(3)
        .filter(|s| s.first() == Some(&0))
        .filter_map(|s| be_u16(s, 1))
        .collect();
    Ok(ClientHello {
        legacy_version: version,
        cipher_suites,
        session_id: session_id.to_vec(),
        sslv2_format: true,
        length: body.len() + 2,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type One = for<'a> fn(&'a [u8]) -> IResult<&'a [u8], TlsExtension<'a>>;
    type List = for<'a> fn(&'a [u8]) -> IResult<&'a [u8], Vec<TlsExtension<'a>>>;

    /// `each_extension` with `one` reads what tls-parser's list parser `list` reads.
    fn same_as_list(raw: &[u8], one: One, list: List) -> Result<(), TestCaseError> {
        let mut seen = Vec::new();
        let ours = each_extension(raw, one, |e| seen.push(e));
        match (ours, list(raw)) {
            (Ok(()), Ok((_, theirs))) => prop_assert_eq!(seen, theirs),
            (Err(a), Err(b)) => prop_assert_eq!(format!("{a:?}"), format!("{b:?}")),
            (a, b) => prop_assert!(false, "ours {:?}, tls-parser's {:?}", a, b.map(|(_, v)| v)),
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        /// Lists of extensions of the types a hello carries (and any other), with contents
        /// that may or may not decode, cut anywhere or followed by junk.
        #[test]
        fn extensions_read_as_tls_parser_reads_them(
            list in prop::collection::vec(
                (prop::sample::select(vec![0u16, 5, 10, 11, 13, 16, 21, 23, 35, 41, 42, 43,
                    45, 51, 0x0a0a, 0xff01, 0x1234]), prop::collection::vec(any::<u8>(), 0..24)),
                0..12),
            cut in any::<prop::sample::Index>(),
            junk in prop::collection::vec(any::<u8>(), 0..6),
        ) {
            let mut raw = Vec::new();
            for (kind, data) in &list {
                raw.extend_from_slice(&kind.to_be_bytes());
                raw.extend_from_slice(&(data.len() as u16).to_be_bytes());
                raw.extend_from_slice(data);
            }
            raw.extend_from_slice(&junk);
            let cut = cut.index(raw.len() + 1);
            let raw = raw.get(..cut).unwrap_or_default();
            same_as_list(raw, parse_tls_client_hello_extension,
                tls_parser::parse_tls_client_hello_extensions)?;
            same_as_list(raw, parse_tls_server_hello_extension,
                tls_parser::parse_tls_server_hello_extensions)?;
        }
    }

    #[test]
    fn garbage_never_panics() {
        for len in 0..64 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            for first in [1u8, 2, 11] {
                let mut m = junk.clone();
                if let Some(b) = m.first_mut() {
                    *b = first;
                }
                let _ = decode(&m, &Limits::default());
            }
            let _ = decode_sslv2_client_hello(&junk);
            let _ = client_key_share_groups(&junk);
        }
    }
}
