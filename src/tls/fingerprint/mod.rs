//! JA3, JA3S, JA4, JA4S and JA4X: what a client's and a server's hellos and the server's
//! certificates look like, as short strings an operator can match across captures and tools.
//!
//! JA3 and JA3S are computed as Wireshark computes them (tshark's `tls.handshake.ja3` and
//! `ja3s`, GREASE left out); JA4 (the TCP form), JA4S and JA4X as FoxIO's JA4+ specification
//! defines them (technical_details/JA4.md, JA4S.md, JA4X.md), each with its raw `_r` form.
//! Pure functions of decoded values: the record asks once per connection, when it is judged,
//! and never per packet. Those of the hellos are remembered by the values they were computed
//! from (`client`, `server`): a capture holds thousands of handshakes of a few client and
//! server stacks, and hashing their lists again for each cost more than all the rest of a
//! connection's analysis.

use super::names::is_grease;
use md5::Md5;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

/// Extension types JA4 reads by number (IANA's TLS ExtensionType Values).
const SERVER_NAME: u16 = 0x0000;
const ALPN: u16 = 0x0010;
const SUPPORTED_VERSIONS: u16 = 0x002b;

/// A truncated hash of an empty list: JA4+ writes zeros rather than the hash of nothing, so
/// that an empty field is plain to see.
const EMPTY_HASH: &str = "000000000000";

/// What JA3 and JA4 read of a ClientHello, as sent (GREASE included: it is left out here).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ClientValues<'a> {
    pub(crate) legacy_version: u16,
    /// supported_versions as offered: JA4 reads it only when the extension was sent.
    pub(crate) supported_versions: &'a [u16],
    pub(crate) cipher_suites: &'a [u16],
    /// Extension types in the order sent.
    pub(crate) extensions: &'a [u16],
    /// supported_groups (JA3's "elliptic curves").
    pub(crate) groups: &'a [u16],
    pub(crate) ec_point_formats: &'a [u8],
    pub(crate) signature_algorithms: &'a [u16],
    /// The first ALPN name offered.
    pub(crate) first_alpn: Option<&'a [u8]>,
}

/// What JA3S and JA4S read of a ServerHello.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ServerValues<'a> {
    pub(crate) legacy_version: u16,
    /// The version selected through supported_versions, else the legacy version.
    pub(crate) version: u16,
    pub(crate) cipher: u16,
    pub(crate) extensions: &'a [u16],
    pub(crate) alpn: Option<&'a [u8]>,
}

/// A ClientHello's fingerprints: JA3 (the MD5 of `ja3_full`) and JA4 with its raw form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientFingerprints {
    pub ja3: String,
    pub ja3_full: String,
    pub ja4: String,
    pub ja4_r: String,
}

/// A ServerHello's fingerprints: JA3S (the MD5 of `ja3s_full`) and JA4S with its raw form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerFingerprints {
    pub ja3s: String,
    pub ja3s_full: String,
    pub ja4s: String,
    pub ja4s_r: String,
}

/// A certificate's JA4X and its raw form: the OIDs of its issuer's and subject's attributes
/// and of its extensions, in the order the certificate holds them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Ja4x {
    pub ja4x: String,
    pub ja4x_r: String,
}

/// Fingerprints computed on this thread, by the exact values they were computed from (a
/// hit is the same hello, value for value). Emptied when it holds `MEMO_ENTRIES` hellos or
/// `MEMO_VALUES` values, so that memory stays bounded however many distinct hellos, and
/// however long ones (a hostile peer's), a capture holds.
struct Memo<T> {
    computed: HashMap<Box<[u16]>, Arc<T>, foldhash::fast::RandomState>,
    /// The values of all the keys held: the fingerprints' strings are about ten bytes per
    /// value, so this bounds them too.
    values: usize,
    /// The key being looked up, kept to spare an allocation per lookup.
    key: Vec<u16>,
}

const MEMO_ENTRIES: usize = 1024;
const MEMO_VALUES: usize = 1 << 18;

impl<T> Default for Memo<T> {
    fn default() -> Self {
        Memo {
            computed: HashMap::default(),
            values: 0,
            key: Vec::new(),
        }
    }
}

impl<T> Memo<T> {
    /// The fingerprints of the values `write_key` writes, computed by `compute` the first
    /// time. A key that could be ambiguous (a list of 65,535 values or more, which no hello
    /// can hold) is not remembered.
    fn get(
        &mut self,
        write_key: impl FnOnce(&mut Vec<u16>) -> Option<()>,
        compute: impl FnOnce() -> T,
    ) -> Arc<T> {
        self.key.clear();
        if write_key(&mut self.key).is_none() {
            return Arc::new(compute());
        }
        if let Some(hit) = self.computed.get(self.key.as_slice()) {
            return Arc::clone(hit);
        }
        let computed = Arc::new(compute());
        if self.computed.len() >= MEMO_ENTRIES || self.values + self.key.len() > MEMO_VALUES {
            self.computed.clear();
            self.values = 0;
        }
        if self.key.len() <= MEMO_VALUES {
            self.values += self.key.len();
            let key = self.key.as_slice().into();
            self.computed.insert(key, Arc::clone(&computed));
        }
        computed
    }
}

thread_local! {
    static CLIENTS: RefCell<Memo<ClientFingerprints>> = RefCell::new(Memo::default());
    static SERVERS: RefCell<Memo<ServerFingerprints>> = RefCell::new(Memo::default());
}

/// A list in a memo key: its length first, so that no two sequences of lists write the same
/// key.
fn push_list(key: &mut Vec<u16>, values: &[u16]) -> Option<()> {
    key.push(u16::try_from(values.len()).ok().filter(|&n| n < u16::MAX)?);
    key.extend_from_slice(values);
    Some(())
}

/// A byte string in a memo key, `u16::MAX` for none: a point format list or an ALPN name,
/// each at most 255 bytes long.
fn push_bytes(key: &mut Vec<u16>, bytes: Option<&[u8]>) -> Option<()> {
    let Some(bytes) = bytes else {
        key.push(u16::MAX);
        return Some(());
    };
    key.push(u16::try_from(bytes.len()).ok().filter(|&n| n < u16::MAX)?);
    key.extend(bytes.iter().map(|&b| u16::from(b)));
    Some(())
}

/// A ClientHello's fingerprints, shared with every identical ClientHello seen before on this
/// thread.
pub(crate) fn client(v: &ClientValues<'_>) -> Arc<ClientFingerprints> {
    let write_key = |key: &mut Vec<u16>| {
        key.push(v.legacy_version);
        for list in [
            v.supported_versions,
            v.cipher_suites,
            v.extensions,
            v.groups,
            v.signature_algorithms,
        ] {
            push_list(key, list)?;
        }
        push_bytes(key, Some(v.ec_point_formats))?;
        push_bytes(key, v.first_alpn)
    };
    CLIENTS.with_borrow_mut(|memo| memo.get(write_key, || compute_client(v)))
}

/// A ServerHello's fingerprints, shared with every identical ServerHello seen before on this
/// thread.
pub(crate) fn server(v: &ServerValues<'_>) -> Arc<ServerFingerprints> {
    let write_key = |key: &mut Vec<u16>| {
        key.extend([v.legacy_version, v.version, v.cipher]);
        push_list(key, v.extensions)?;
        push_bytes(key, v.alpn)
    };
    SERVERS.with_borrow_mut(|memo| memo.get(write_key, || compute_server(v)))
}

fn compute_client(v: &ClientValues<'_>) -> ClientFingerprints {
    let ja3_full = ja3_full(v);
    let (ja4, ja4_r) = ja4(v);
    ClientFingerprints {
        ja3: md5_hex(&ja3_full),
        ja3_full,
        ja4,
        ja4_r,
    }
}

fn compute_server(v: &ServerValues<'_>) -> ServerFingerprints {
    let mut ja3s_full = String::with_capacity(16 + 6 * v.extensions.len());
    push_decimal(&mut ja3s_full, v.legacy_version);
    ja3s_full.push(',');
    push_decimal(&mut ja3s_full, v.cipher);
    ja3s_full.push(',');
    push_dashed(&mut ja3s_full, real(v.extensions));

    let mut head = String::with_capacity(16);
    head.push('t');
    head.push_str(version_code(v.version));
    push_count(&mut head, v.extensions.len());
    push_alpn_code(&mut head, v.alpn);
    head.push('_');
    push_hex4(&mut head, v.cipher);
    head.push('_');
    // The server's extensions are hashed in the order sent: a server does not shuffle them.
    let extensions = hex_list(v.extensions.iter().copied());
    let ja4s = hashed(&head, &[&extensions]);
    head.push_str(&extensions);
    ServerFingerprints {
        ja3s: md5_hex(&ja3s_full),
        ja3s_full,
        ja4s,
        ja4s_r: head,
    }
}

/// JA4X of a certificate, from the DER contents of each OID (what x509-parser's `as_bytes`
/// gives): the issuer's attribute types, the subject's, and the extensions'.
pub(crate) fn ja4x<'a>(
    issuer: impl Iterator<Item = &'a [u8]>,
    subject: impl Iterator<Item = &'a [u8]>,
    extensions: impl Iterator<Item = &'a [u8]>,
) -> Ja4x {
    let parts = [oid_list(issuer), oid_list(subject), oid_list(extensions)];
    let mut ja4x = String::with_capacity(38);
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            ja4x.push('_');
        }
        push_hash12(&mut ja4x, part);
    }
    Ja4x {
        ja4x,
        ja4x_r: parts.join("_"),
    }
}

/// Wireshark's JA3 string: the legacy version, then the cipher suites, extension types,
/// supported groups and point formats, each list dash-separated, GREASE left out.
fn ja3_full(v: &ClientValues<'_>) -> String {
    let values = v.cipher_suites.len() + v.extensions.len() + v.groups.len();
    let mut s = String::with_capacity(8 + 6 * values + 2 * v.ec_point_formats.len());
    push_decimal(&mut s, v.legacy_version);
    s.push(',');
    push_dashed(&mut s, real(v.cipher_suites));
    s.push(',');
    push_dashed(&mut s, real(v.extensions));
    s.push(',');
    push_dashed(&mut s, real(v.groups));
    s.push(',');
    push_dashed(&mut s, v.ec_point_formats.iter().map(|&f| u16::from(f)));
    s
}

/// JA4 and JA4_r: `t`, the version, SNI or not, the counts of cipher suites and extensions
/// and the ALPN's ends; then the sorted cipher suites; then the sorted extension types
/// without SNI and ALPN, and the signature algorithms in the order sent.
fn ja4(v: &ClientValues<'_>) -> (String, String) {
    let mut ciphers: Vec<u16> = real(v.cipher_suites).collect();
    let extensions = real(v.extensions).count();
    let mut head = String::with_capacity(12);
    head.push('t');
    head.push_str(version_code(ja4_version(v)));
    head.push(if v.extensions.contains(&SERVER_NAME) {
        'd'
    } else {
        'i'
    });
    push_count(&mut head, ciphers.len());
    push_count(&mut head, extensions);
    push_alpn_code(&mut head, v.first_alpn);
    head.push('_');

    ciphers.sort_unstable();
    let ciphers = hex_list(ciphers.into_iter());
    let mut sorted: Vec<u16> = real(v.extensions)
        .filter(|&e| e != SERVER_NAME && e != ALPN)
        .collect();
    sorted.sort_unstable();
    let mut extensions = hex_list(sorted.into_iter());
    let mut signatures = real(v.signature_algorithms).peekable();
    if signatures.peek().is_some() {
        extensions.push('_');
        extensions.push_str(&hex_list(signatures));
    }
    let ja4 = hashed(&head, &[&ciphers, &extensions]);
    let mut ja4_r = head;
    ja4_r.push_str(&ciphers);
    ja4_r.push('_');
    ja4_r.push_str(&extensions);
    (ja4, ja4_r)
}

/// The highest version supported_versions offers, when the extension was sent; else the
/// legacy version.
fn ja4_version(v: &ClientValues<'_>) -> u16 {
    let offered = v
        .extensions
        .contains(&SUPPORTED_VERSIONS)
        .then(|| real(v.supported_versions).max());
    offered.flatten().unwrap_or(v.legacy_version)
}

/// JA4's two characters for a version; `00` for one the specification does not name (a
/// TLS 1.3 draft among them).
fn version_code(v: u16) -> &'static str {
    match v {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

/// The first and last characters of an ALPN name, `00` when there is none or it is empty. A
/// name that begins or ends with a byte that is not an ASCII letter or digit is written by
/// the first and last characters of its hex form instead (JA4.md, "ALPN Extension Value").
fn push_alpn_code(out: &mut String, alpn: Option<&[u8]>) {
    let value = alpn.unwrap_or_default();
    let (Some(&first), Some(&last)) = (value.first(), value.last()) else {
        out.push_str("00");
        return;
    };
    if first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric() {
        out.push(char::from(first));
        out.push(char::from(last));
    } else {
        out.push(hex_digit(first >> 4));
        out.push(hex_digit(last & 0xf));
    }
}

/// `head`, then each part's truncated hash, underscore-separated (`head` ends with one).
fn hashed(head: &str, parts: &[&str]) -> String {
    let mut out = String::with_capacity(head.len() + 13 * parts.len());
    out.push_str(head);
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push('_');
        }
        push_hash12(&mut out, part);
    }
    out
}

/// The first 12 hex digits of the SHA-256 of `part`, or zeros for an empty part.
fn push_hash12(out: &mut String, part: &str) {
    if part.is_empty() {
        out.push_str(EMPTY_HASH);
        return;
    }
    let digest = Sha256::digest(part.as_bytes());
    push_hex_bytes(out, digest.get(..6).unwrap_or_default());
}

fn md5_hex(text: &str) -> String {
    let mut out = String::with_capacity(32);
    push_hex_bytes(&mut out, &Md5::digest(text.as_bytes()));
    out
}

/// The values that are not GREASE (RFC 8701).
fn real(values: &[u16]) -> impl Iterator<Item = u16> + '_ {
    values.iter().copied().filter(|&v| !is_grease(v))
}

/// A count in two digits, 99 at most.
fn push_count(out: &mut String, n: usize) {
    let n = n.min(99) as u8;
    out.push(char::from(b'0' + n / 10));
    out.push(char::from(b'0' + n % 10));
}

/// Four lowercase hex digits per value, comma-separated.
fn hex_list(values: impl Iterator<Item = u16>) -> String {
    let mut out = String::with_capacity(5 * values.size_hint().0);
    for (i, v) in values.enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_hex4(&mut out, v);
    }
    out
}

/// Each OID's DER contents in lowercase hex, comma-separated.
fn oid_list<'a>(oids: impl Iterator<Item = &'a [u8]>) -> String {
    let mut out = String::new();
    for (i, oid) in oids.enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_hex_bytes(&mut out, oid);
    }
    out
}

/// Decimal values, dash-separated.
fn push_dashed(out: &mut String, values: impl Iterator<Item = u16>) {
    for (i, v) in values.enumerate() {
        if i > 0 {
            out.push('-');
        }
        push_decimal(out, v);
    }
}

/// Written by hand: `write!` through the formatting machinery cost several times as much,
/// for the hundred-odd numbers of a JA3 string.
fn push_decimal(out: &mut String, v: u16) {
    let mut digits = [0u8; 5];
    let mut n = v;
    let mut start = digits.len();
    loop {
        start -= 1;
        if let Some(d) = digits.get_mut(start) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || start == 0 {
            break;
        }
    }
    for &d in digits.get(start..).unwrap_or_default() {
        out.push(char::from(d));
    }
}

fn push_hex4(out: &mut String, v: u16) {
    push_hex_bytes(out, &v.to_be_bytes());
}

fn push_hex_bytes(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        out.push(hex_digit(b >> 4));
        out.push(hex_digit(b & 0xf));
    }
}

fn hex_digit(nibble: u8) -> char {
    char::from_digit(u32::from(nibble & 0xf), 16).unwrap_or('0')
}

#[cfg(test)]
mod tests;
