//! Handshake messages decoded with tls-parser into our own facts.
//!
//! This is the one place where tls-parser's types are mapped into the model: the rest of the
//! crate sees `ClientHello`, `ServerHello` and `Message`, never a parser type.

use super::Limits;
use super::certificate::{CertificateInfo, decode_certificate_cached};
use super::malformed::{Declared, Hello, Malformed, Sslv2Field, Sslv2Message};
use crate::bytes::{be_u16, be_u24};
use crate::wire_text::WireText;
use std::sync::Arc;
use tls_parser::nom::{self, IResult};
use tls_parser::{
    TlsCipherSuiteID, TlsExtension, TlsExtensionType, TlsMessage, TlsMessageHandshake,
    TlsServerHelloV13Draft18Contents, TlsVersion, parse_tls_client_hello_extension,
    parse_tls_message_handshake, parse_tls_server_hello_extension,
};

/// The handshake types, as RFC 8446 4 numbers them.
pub mod kind {
    pub(crate) const CLIENT_HELLO: u8 = 1;
    pub(crate) const SERVER_HELLO: u8 = 2;
    pub(crate) const NEW_SESSION_TICKET: u8 = 4;
    pub(crate) const ENCRYPTED_EXTENSIONS: u8 = 8;
    pub(crate) const CERTIFICATE: u8 = 11;
    pub(crate) const SERVER_KEY_EXCHANGE: u8 = 12;
    pub(crate) const CERTIFICATE_REQUEST: u8 = 13;
    pub(crate) const SERVER_HELLO_DONE: u8 = 14;
    pub(crate) const CERTIFICATE_VERIFY: u8 = 15;
    pub(crate) const CLIENT_KEY_EXCHANGE: u8 = 16;
    pub(crate) const FINISHED: u8 = 20;
    pub(crate) const KEY_UPDATE: u8 = 24;
}

/// Protocol versions as the hellos carry them.
pub mod version {
    pub(crate) const SSLV2: u16 = 0x0002;
    pub(crate) const TLS12: u16 = 0x0303;
    pub(crate) const TLS13: u16 = 0x0304;

    /// TLS 1.3 or one of its pre-RFC forms, which differ in framing details but not in what
    /// matters here: the handshake is encrypted after the ServerHello. Drafts are 0x7fXX
    /// (draft-ietf-tls-tls13-XX); 0x7e01 to 0x7e03 are BoringSSL's Google experiments,
    /// 0xfb17 and 0xfb1a Facebook's drafts 23 and 26 (Fizz).
    pub(crate) fn is_tls13(v: u16) -> bool {
        // Asked of every encrypted record: the two usual versions answer at the first test.
        v == TLS13
            || (v > 0x7e00 && (v >> 8 == 0x7f || matches!(v, 0x7e01..=0x7e03 | 0xfb17 | 0xfb1a)))
    }

    /// Drafts before 22 put the version in the ServerHello's own version field, with no
    /// session id echo, compression method or supported_versions.
    pub(crate) fn is_early_tls13_draft(v: u16) -> bool {
        (0x7f00..0x7f16).contains(&v)
    }
}

/// An SSLv2 cipher kind: three bytes, as CLIENT-HELLO, SERVER-HELLO and CLIENT-MASTER-KEY
/// carry them (the Netscape SSL 2.0 specification, appendix A).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Sslv2Cipher(pub u32);

impl Sslv2Cipher {
    pub(crate) const RC4_128_WITH_MD5: Self = Self(0x01_0080);
    pub(crate) const RC4_128_EXPORT40_WITH_MD5: Self = Self(0x02_0080);
    pub(crate) const RC2_128_CBC_WITH_MD5: Self = Self(0x03_0080);
    pub(crate) const RC2_128_CBC_EXPORT40_WITH_MD5: Self = Self(0x04_0080);
    pub(crate) const IDEA_128_CBC_WITH_MD5: Self = Self(0x05_0080);
    pub(crate) const DES_64_CBC_WITH_MD5: Self = Self(0x06_0040);
    pub(crate) const DES_192_EDE3_CBC_WITH_MD5: Self = Self(0x07_00c0);
    pub(crate) const RC4_64_WITH_MD5: Self = Self(0x08_0080);

    fn read(bytes: &[u8]) -> Option<Self> {
        match bytes {
            &[a, b, c] => Some(Self(u32::from(a) << 16 | u32::from(b) << 8 | u32::from(c))),
            _ => None,
        }
    }
}

/// An SSLv2 SERVER-HELLO: the server's certificate and the cipher kinds it shares with the
/// client; the client picks one in its CLIENT-MASTER-KEY.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sslv2ServerHello {
    pub(crate) version: u16,
    /// The server knows the client's session id: no certificate or cipher list follows.
    pub(crate) session_id_hit: bool,
    pub(crate) cipher_specs: Vec<Sslv2Cipher>,
    pub(crate) certificate: Option<Arc<CertificateInfo>>,
    /// A certificate was sent but not decoded (undecodable, or over `max_certificate`).
    pub(crate) certificate_undecoded: bool,
    pub(crate) certificate_over_limit: bool,
}

/// RFC 8446 4.1.3: a ServerHello with this random is a HelloRetryRequest.
const HELLO_RETRY_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientHello {
    pub(crate) legacy_version: u16,
    /// The key log's index: a connection's secrets are found by its client random.
    pub(crate) random: [u8; 32],
    /// supported_versions when present (GREASE included, as sent).
    pub(crate) supported_versions: Vec<u16>,
    pub(crate) cipher_suites: Vec<u16>,
    pub(crate) sni: Option<WireText>,
    pub(crate) alpn: Vec<WireText>,
    pub(crate) groups: Vec<u16>,
    pub(crate) key_share_groups: Vec<u16>,
    pub(crate) signature_algorithms: Vec<u16>,
    /// ec_point_formats, which only JA3 reads.
    pub(crate) ec_point_formats: PointFormats,
    pub(crate) session_id: Vec<u8>,
    /// A non-empty session_ticket extension: the client asks to resume with a ticket.
    pub(crate) session_ticket: bool,
    pub(crate) psk: bool,
    pub(crate) early_data: bool,
    /// Extension types in the order sent.
    pub(crate) extensions: Vec<u16>,
    /// Sent in the SSLv2-compatible format.
    pub sslv2_format: bool,
    /// The message's length in bytes, header included.
    pub(crate) length: usize,
}

/// The ec_point_formats list (RFC 8422 5.1.2). Clients send one to three formats, so that
/// many are held in place: keeping the list for JA3 costs no allocation per ClientHello. A
/// longer list, which any peer may send, is boxed whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PointFormats {
    Inline {
        len: u8,
        formats: [u8; Self::INLINE],
    },
    Boxed(Box<[u8]>),
}

impl PointFormats {
    const INLINE: usize = 6;

    fn new(formats: &[u8]) -> Self {
        let mut inline = [0; Self::INLINE];
        match (inline.get_mut(..formats.len()), u8::try_from(formats.len())) {
            (Some(place), Ok(len)) => {
                place.copy_from_slice(formats);
                PointFormats::Inline {
                    len,
                    formats: inline,
                }
            }
            _ => PointFormats::Boxed(formats.into()),
        }
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            PointFormats::Inline { len, formats } => {
                formats.get(..usize::from(*len)).unwrap_or_default()
            }
            PointFormats::Boxed(formats) => formats,
        }
    }
}

impl Default for PointFormats {
    fn default() -> Self {
        PointFormats::Inline {
            len: 0,
            formats: [0; Self::INLINE],
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerHello {
    pub(crate) legacy_version: u16,
    /// With the client's, what TLS 1.2 derives its keys from.
    pub(crate) random: [u8; 32],
    /// The version selected through supported_versions, when the extension is present.
    pub(crate) selected_version: Option<u16>,
    pub(crate) cipher: u16,
    pub(crate) session_id: Vec<u8>,
    pub(crate) alpn: Option<WireText>,
    /// key_share: the group of the server's share, or in a HelloRetryRequest the group asked for.
    pub(crate) group: Option<u16>,
    /// The server accepted a pre-shared key (TLS 1.3 resumption).
    pub(crate) psk_selected: bool,
    pub(crate) extensions: Vec<u16>,
    pub(crate) hello_retry: bool,
}

impl ServerHello {
    /// The negotiated version: supported_versions wins over the legacy field.
    pub(crate) fn version(&self) -> u16 {
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
    /// TLS 1.3's EncryptedExtensions (read only when decrypted): the ALPN chosen.
    EncryptedExtensions {
        alpn: Option<WireText>,
    },
    /// Any other type: the decoder knows it by its number.
    Other {
        kind: u8,
    },
    Sslv2ServerHello(Box<Sslv2ServerHello>),
    /// The client's choice of cipher; every record after it, both ways, is encrypted.
    Sslv2ClientMasterKey {
        cipher: Sslv2Cipher,
    },
}

/// Decodes one whole handshake message (4-byte header included).
pub fn decode(msg: &[u8], limits: &Limits) -> Result<Message, Malformed> {
    let kind = *msg.first().ok_or(Malformed::EmptyHandshake)?;
    match kind {
        kind::CLIENT_HELLO => decode_client_hello(msg).map(|ch| Message::ClientHello(Box::new(ch))),
        kind::SERVER_HELLO => decode_server_hello(msg).map(|sh| Message::ServerHello(Box::new(sh))),
        kind::CERTIFICATE => decode_certificate_chain(msg, limits),
        other => Ok(Message::Other { kind: other }),
    }
}

fn parse(msg: &[u8]) -> Result<TlsMessageHandshake<'_>, Malformed> {
    match parse_tls_message_handshake(msg) {
        Ok((_, TlsMessage::Handshake(m))) => Ok(m),
        Ok(_) => Err(Malformed::NotAHandshake),
        Err(e) => Err(Malformed::Undecodable(format!("{e:?}"))),
    }
}

// Out of line, so that tls-parser's extension parser inlines here: inlined into the decoder's
// loop, it was not, and a dense capture cost 1.7% more instructions.
#[inline(never)]
fn decode_client_hello(msg: &[u8]) -> Result<ClientHello, Malformed> {
    let TlsMessageHandshake::ClientHello(ch) = parse(msg)? else {
        return Err(Malformed::NotTheDeclaredType(Declared::ClientHello));
    };
    let mut out = ClientHello {
        legacy_version: ch.version.0,
        random: ch.random.try_into().unwrap_or_default(),
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
        .map_err(|e| Malformed::Extensions {
            hello: Hello::Client,
            parser: format!("{e:?}"),
        })?;
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
        TlsExtension::EcPointFormats(formats) => out.ec_point_formats = PointFormats::new(formats),
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

fn decode_server_hello(msg: &[u8]) -> Result<ServerHello, Malformed> {
    let legacy_version = be_u16(msg, 4).unwrap_or_default();
    let parsed = if legacy_version != 0x7f12 && version::is_early_tls13_draft(legacy_version) {
        early_draft_server_hello(msg).ok_or(Malformed::EarlyDraftServerHello)?
    } else {
        parse(msg)?
    };
    let (version, random, session_id, cipher, ext) = match parsed {
        TlsMessageHandshake::ServerHello(sh) => {
            (sh.version.0, sh.random, sh.session_id, sh.cipher.0, sh.ext)
        }
        TlsMessageHandshake::ServerHelloV13Draft18(sh) => {
            (sh.version.0, sh.random, None, sh.cipher.0, sh.ext)
        }
        _ => return Err(Malformed::NotTheDeclaredType(Declared::ServerHello)),
    };
    let mut out = ServerHello {
        legacy_version: version,
        random: random.try_into().unwrap_or_default(),
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
        .map_err(|e| Malformed::Extensions {
            hello: Hello::Server,
            parser: format!("{e:?}"),
        })?;
    }
    Ok(out)
}

/// tls-parser reads the early draft form (version, random, cipher_suite, extensions) for
/// draft 18 only; the other drafts before 22 have the same form and are read here into the
/// same type.
fn early_draft_server_hello(msg: &[u8]) -> Option<TlsMessageHandshake<'_>> {
    let body = msg.get(4..)?;
    let random = body.get(2..34)?;
    let cipher = be_u16(body, 34)?;
    let ext = match be_u16(body, 36) {
        Some(len) => Some(body.get(38..38 + usize::from(len))?),
        None => None,
    };
    Some(TlsMessageHandshake::ServerHelloV13Draft18(
        TlsServerHelloV13Draft18Contents {
            version: TlsVersion(be_u16(body, 0)?),
            random,
            cipher: TlsCipherSuiteID(cipher),
            ext,
        },
    ))
}

fn decode_certificate_chain(msg: &[u8], limits: &Limits) -> Result<Message, Malformed> {
    let TlsMessageHandshake::Certificate(contents) = parse(msg)? else {
        return Err(Malformed::NotTheDeclaredType(Declared::Certificate));
    };
    let raws: Vec<&[u8]> = contents.cert_chain.iter().map(|c| c.data).collect();
    Ok(chain_of(&raws, limits))
}

/// A decrypted handshake message: a certificate chain, TLS 1.3's EncryptedExtensions, or any
/// other by its type (the hellos of a renegotiation included: only the ladder shows them). Apart
/// from `decode`, so that the cleartext path keeps its one call site.
pub(crate) fn decode_decrypted(
    msg: &[u8],
    limits: &Limits,
    tls13: bool,
) -> Result<Message, Malformed> {
    match msg.first() {
        Some(&kind::CERTIFICATE) if tls13 => decode_tls13_certificate(msg, limits),
        Some(&kind::CERTIFICATE) => decode_certificate_chain(msg, limits),
        Some(&kind::ENCRYPTED_EXTENSIONS) if tls13 => decode_encrypted_extensions(msg),
        Some(&kind) => Ok(Message::Other { kind }),
        None => Err(Malformed::EmptyHandshake),
    }
}

/// TLS 1.3's Certificate differs from TLS 1.2's: a request context first, and extensions
/// after each certificate (RFC 8446 4.4.2), a form tls-parser does not read.
fn decode_tls13_certificate(msg: &[u8], limits: &Limits) -> Result<Message, Malformed> {
    let cut = || Malformed::NotTheDeclaredType(Declared::Certificate);
    let body = msg.get(4..).ok_or_else(cut)?;
    let context = usize::from(*body.first().ok_or_else(cut)?);
    let list_len = be_u24(body, 1 + context).ok_or_else(cut)?;
    let mut list = body
        .get(4 + context..4 + context + list_len)
        .ok_or_else(cut)?;
    let mut raws = Vec::new();
    while !list.is_empty() {
        let len = be_u24(list, 0).ok_or_else(cut)?;
        raws.push(list.get(3..3 + len).ok_or_else(cut)?);
        let extensions = usize::from(be_u16(list, 3 + len).ok_or_else(cut)?);
        list = list.get(3 + len + 2 + extensions..).ok_or_else(cut)?;
    }
    Ok(chain_of(&raws, limits))
}

/// The ALPN a TLS 1.3 server chose, which it sends in EncryptedExtensions (RFC 8446 4.3.1).
fn decode_encrypted_extensions(msg: &[u8]) -> Result<Message, Malformed> {
    let len = usize::from(be_u16(msg, 4).ok_or(Malformed::EmptyHandshake)?);
    let list = msg.get(6..6 + len).ok_or(Malformed::EmptyHandshake)?;
    let mut alpn = None;
    each_extension(list, parse_tls_server_hello_extension, |e| {
        if let TlsExtension::ALPN(p) = e {
            alpn = p.first().map(|p| WireText::from_bytes(p));
        }
    })
    .map_err(|e| Malformed::Extensions {
        hello: Hello::Server,
        parser: format!("{e:?}"),
    })?;
    Ok(Message::EncryptedExtensions { alpn })
}

/// A Certificate message's chain, decoded within the limits.
fn chain_of(raws: &[&[u8]], limits: &Limits) -> Message {
    let mut chain = Vec::new();
    let mut over_limit = raws.len().saturating_sub(limits.max_chain);
    let mut undecoded = over_limit;
    for raw in raws.iter().take(limits.max_chain) {
        if raw.len() > limits.max_certificate {
            over_limit += 1;
            undecoded += 1;
            continue;
        }
        match decode_certificate_cached(raw) {
            Ok(c) => chain.push(c),
            Err(_) => undecoded += 1,
        }
    }
    Message::Certificate {
        chain,
        undecoded,
        over_limit,
    }
}

/// Decodes an SSLv2-format CLIENT-HELLO body (after the 2-byte record header): version,
/// cipher specs (3 bytes each; those with a zero first byte are TLS suites), session id.
/// tls-parser does not read this format.
pub(crate) fn decode_sslv2_client_hello(body: &[u8]) -> Result<ClientHello, Malformed> {
    const SHORT: Malformed = Malformed::Sslv2TooShort(Sslv2Message::ClientHello);
    let field = |at: usize| be_u16(body, at).ok_or(SHORT);
    let version = field(1)?;
    let (spec_len, sid_len) = (usize::from(field(3)?), usize::from(field(5)?));
    let specs = body
        .get(9..9 + spec_len)
        .ok_or(Malformed::Sslv2CutShort(Sslv2Field::CipherSpecs))?;
    let session_id = body
        .get(9 + spec_len..9 + spec_len + sid_len)
        .ok_or(Malformed::Sslv2CutShort(Sslv2Field::SessionId))?;
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

/// Decodes an SSLv2 SERVER-HELLO record's data: session-id-hit, certificate type, server
/// version, three lengths, then the certificate, the cipher specs and the connection id.
/// tls-parser does not read SSLv2.
pub(crate) fn decode_sslv2_server_hello(
    body: &[u8],
    limits: &Limits,
) -> Result<Sslv2ServerHello, Malformed> {
    const SHORT: Malformed = Malformed::Sslv2TooShort(Sslv2Message::ServerHello);
    let field = |at: usize| be_u16(body, at).ok_or(SHORT);
    let session_id_hit = body.get(1).ok_or(SHORT)? != &0;
    let version = field(3)?;
    let (cert_len, specs_len) = (usize::from(field(5)?), usize::from(field(7)?));
    let cert = body
        .get(11..11 + cert_len)
        .ok_or(Malformed::Sslv2CutShort(Sslv2Field::Certificate))?;
    let specs = body
        .get(11 + cert_len..11 + cert_len + specs_len)
        .ok_or(Malformed::Sslv2CutShort(Sslv2Field::CipherSpecs))?;
    let cipher_specs = specs
        .chunks_exact(3)
        .filter_map(Sslv2Cipher::read)
        .collect();
    let over_limit = cert.len() > limits.max_certificate;
    let certificate = match cert {
        [] => None,
        _ if over_limit => None,
        _ => decode_certificate_cached(cert).ok(),
    };
    Ok(Sslv2ServerHello {
        version,
        session_id_hit,
        cipher_specs,
        certificate_undecoded: !cert.is_empty() && certificate.is_none(),
        certificate_over_limit: over_limit,
        certificate,
    })
}

/// Decodes an SSLv2 CLIENT-MASTER-KEY record's data: its cipher kind, the client's choice.
pub(crate) fn decode_sslv2_client_master_key(body: &[u8]) -> Result<Message, Malformed> {
    let cipher = body
        .get(1..4)
        .and_then(Sslv2Cipher::read)
        .ok_or(Malformed::Sslv2TooShort(Sslv2Message::ClientMasterKey))?;
    Ok(Message::Sslv2ClientMasterKey { cipher })
}

#[cfg(test)]
mod tests;
