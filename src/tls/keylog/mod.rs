//! NSS key log files (SSLKEYLOGFILE) and pcapng Decryption Secrets Blocks: the secrets of
//! each TLS session, found by the session's ClientHello.random.
//!
//! A line is `LABEL <client_random hex> <secret hex>`; labels are those of
//! <https://firefox-source-docs.mozilla.org/security/nss/legacy/key_log_format/>: CLIENT_RANDOM
//! (the TLS 1.2 and earlier master secret), the TLS 1.3 traffic secrets and EXPORTER_SECRET.
//! Comments (`#`) and blank lines are skipped; a line of another label (the old `RSA` form,
//! one not known yet) is counted, not kept.
//!
//! Key logs are secrets: nothing here keeps or shows a line's text. A malformed line is counted
//! and remembered by its number only, `Secret` prints as its length, and nothing derives
//! `Serialize`. Memory is bounded: lines over `MAX_LINE` bytes are malformed without being held,
//! and at most `max_entries` client randoms are kept; what the limit refuses is counted.
//!
//! Use: `KeyLog::add_text` takes bytes as they come (a whole file, or what a followed file
//! grew by) and holds a partial last line until its newline arrives; `KeyLog::finish` reads
//! that last line at the end of a file that lacks a final newline. A Decryption Secrets Block
//! goes to `KeyLog::add_decryption_secrets`, which reads its text as whole lines. Then
//! `KeyLog::secrets(&client_random)`. The analysis holds it as a `SharedKeyLog`: complete
//! (files), or following a file that a live run reads more of as it grows.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

/// Longest line read: a label, a 32-byte random and a 64-byte secret in hex take under 200.
pub const MAX_LINE: usize = 512;
/// Default bound on the client randoms kept: a few hundred bytes each, so some 50 MB at most.
pub const DEFAULT_MAX_ENTRIES: usize = 1 << 17;
/// Malformed lines remembered by number; the rest are only counted.
pub const MALFORMED_LINES_KEPT: usize = 8;
/// pcapng Decryption Secrets Block type for a TLS key log ("TLSK").
pub const SECRETS_TYPE_TLS_KEY_LOG: u32 = 0x544c_534b;

/// Longest secret kept: a SHA-384 TLS 1.3 secret or a TLS 1.2 master secret are 48 bytes.
const MAX_SECRET: usize = 48;

/// One secret from the key log. Its bytes are reachable only through `as_bytes`; `Debug`
/// shows its length, never its value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    bytes: [u8; MAX_SECRET],
    len: u8,
}

impl Secret {
    fn new(bytes: &[u8]) -> Option<Secret> {
        let mut secret = Secret {
            bytes: [0; MAX_SECRET],
            len: u8::try_from(bytes.len()).ok()?,
        };
        secret.bytes.get_mut(..bytes.len())?.copy_from_slice(bytes);
        Some(secret)
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }

    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({} bytes)", self.len)
    }
}

/// What the key log holds for one client random, one field per label.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Secrets {
    /// CLIENT_RANDOM: the TLS 1.2 (1.0, 1.1) master secret, 48 bytes.
    pub master_secret: Option<Secret>,
    pub client_early_traffic_secret: Option<Secret>,
    pub client_handshake_traffic_secret: Option<Secret>,
    pub server_handshake_traffic_secret: Option<Secret>,
    pub client_traffic_secret_0: Option<Secret>,
    pub server_traffic_secret_0: Option<Secret>,
    pub exporter_secret: Option<Secret>,
}

/// Where a line came from, so that its number means something to the person who gave it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The nth key log file (from 1): the text given to `add_text`, or to `add_text_from`
    /// with `Lines::for_file(n)`.
    File(u32),
    /// The nth Decryption Secrets Block (from 1) given to `add_decryption_secrets`.
    DecryptionSecretsBlock(u32),
}

/// A line, by its place only: key log text is never kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineAt {
    pub source: Source,
    /// From 1, within its source.
    pub line: u64,
}

/// What reading the key log met.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyLogStats {
    /// Lines read, comments and blank lines included.
    pub lines: u64,
    /// Secrets kept (a later line for the same client random and label replaces the earlier).
    pub secrets: u64,
    /// Lines that are not `LABEL <64 hex digits> <hex secret>` with a secret of the label's
    /// length, or longer than `MAX_LINE`.
    pub malformed: u64,
    /// The first `MALFORMED_LINES_KEPT` of them.
    pub malformed_lines: Vec<LineAt>,
    /// Lines of three fields whose label is not one we use (the old `RSA` form, newer
    /// labels).
    pub unknown_labels: u64,
    /// Secrets dropped because `max_entries` client randoms were already kept.
    pub over_limit: u64,
    /// Followed: client randoms forgotten, the oldest first, to make room for new ones.
    pub evicted: u64,
    /// Decryption Secrets Blocks of another type (WireGuard), not read.
    pub other_secrets_blocks: u64,
    /// The highest key log file number read (`Source::File`).
    pub files: u32,
}

/// Text cut into lines as it comes: the bytes after the last newline are held (at most
/// `MAX_LINE`) until their newline arrives. One per source of text, so that two files
/// followed at once never join halves of their lines.
pub struct Lines {
    /// The text after the last newline, until its newline comes.
    pending: Vec<u8>,
    /// The pending line is over `MAX_LINE`: the rest of it is skipped, not held.
    too_long: bool,
    /// Which key log file this is (from 1), and the lines read of it so far.
    file: u32,
    line: u64,
}

impl Default for Lines {
    fn default() -> Self {
        Lines::for_file(1)
    }
}

/// By its state only: the pending line is part of a secret.
impl fmt::Debug for Lines {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Lines({} bytes pending)", self.pending.len())
    }
}

impl Lines {
    /// The lines of the nth key log file given (from 1), numbered from its start.
    pub fn for_file(file: u32) -> Lines {
        Lines {
            pending: Vec::new(),
            too_long: false,
            file,
            line: 0,
        }
    }

    /// The next line's place.
    fn next(&mut self) -> LineAt {
        self.line += 1;
        LineAt {
            source: Source::File(self.file),
            line: self.line,
        }
    }

    /// Appends to the held line, or only marks it too long once it passes `MAX_LINE`.
    fn hold(&mut self, piece: &[u8]) {
        if self.too_long {
            return;
        }
        if self.pending.len() + piece.len() > MAX_LINE {
            self.too_long = true;
            self.pending = Vec::new();
        } else {
            self.pending.extend_from_slice(piece);
        }
    }
}

/// The secrets of a key log, by client random.
pub struct KeyLog {
    entries: HashMap<[u8; 32], Secrets>,
    /// Followed (live): the client randoms in the order they came, so that the oldest gives
    /// way when `max_entries` are kept; its connection is long over.
    oldest_first: Option<VecDeque<[u8; 32]>>,
    max_entries: usize,
    /// The lines of the text given to `add_text`.
    lines: Lines,
    blocks: u32,
    stats: KeyLogStats,
}

impl Default for KeyLog {
    fn default() -> Self {
        KeyLog::with_max_entries(DEFAULT_MAX_ENTRIES)
    }
}

/// By its counts only: the pending line is part of a secret.
impl fmt::Debug for KeyLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyLog")
            .field("entries", &self.entries.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// The error of `add_decryption_secrets`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretsBlockError {
    /// A Decryption Secrets Block that is not a TLS key log (WireGuard's, say).
    NotTlsKeyLog { secrets_type: u32 },
}

impl fmt::Display for SecretsBlockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretsBlockError::NotTlsKeyLog { secrets_type } => {
                write!(
                    f,
                    "decryption secrets of type {secrets_type:#010x}, not a TLS key log"
                )
            }
        }
    }
}

impl std::error::Error for SecretsBlockError {}

impl KeyLog {
    /// An empty key log that keeps at most `max_entries` client randoms.
    pub fn with_max_entries(max_entries: usize) -> KeyLog {
        KeyLog {
            entries: HashMap::new(),
            oldest_first: None,
            max_entries,
            lines: Lines::default(),
            blocks: 0,
            stats: KeyLogStats::default(),
        }
    }

    /// Reads key log text as it comes: every line completed by `text` is read, and a last
    /// line without its newline is held (at most `MAX_LINE` bytes) until a later call
    /// completes it, or `finish` reads it. Feeding a file in pieces of any size gives what
    /// feeding it whole gives.
    pub fn add_text(&mut self, text: &[u8]) {
        let mut lines = std::mem::take(&mut self.lines);
        self.add_text_from(&mut lines, text);
        self.lines = lines;
    }

    /// Reads the held last line, for text that ended without a newline.
    pub fn finish(&mut self) {
        let mut lines = std::mem::take(&mut self.lines);
        self.finish_from(&mut lines);
    }

    /// `add_text` for text of another source, whose partial last line `lines` holds.
    pub fn add_text_from(&mut self, lines: &mut Lines, text: &[u8]) {
        let mut rest = text;
        while let Some(end) = memchr::memchr(b'\n', rest) {
            let (piece, after) = rest.split_at(end);
            rest = after.get(1..).unwrap_or_default();
            let at = lines.next();
            if lines.pending.is_empty() && !lines.too_long {
                self.text_line(piece, false, at);
            } else {
                lines.hold(piece);
                let line = std::mem::take(&mut lines.pending);
                let too_long = std::mem::take(&mut lines.too_long);
                self.text_line(&line, too_long, at);
            }
        }
        lines.hold(rest);
    }

    /// `finish` for the text of `lines`.
    pub fn finish_from(&mut self, lines: &mut Lines) {
        if !lines.pending.is_empty() || lines.too_long {
            let at = lines.next();
            let line = std::mem::take(&mut lines.pending);
            let too_long = std::mem::take(&mut lines.too_long);
            self.text_line(&line, too_long, at);
        }
    }

    /// Reads a pcapng Decryption Secrets Block: `secrets_type` and the first `secrets_len`
    /// bytes of `data` as the block gives them (pcap-parser's `data` includes the padding to
    /// 32 bits). Its text is whole lines, the last one with or without a newline; it does not
    /// join text given to `add_text`.
    pub fn add_decryption_secrets(
        &mut self,
        secrets_type: u32,
        secrets_len: u32,
        data: &[u8],
    ) -> Result<(), SecretsBlockError> {
        if secrets_type != SECRETS_TYPE_TLS_KEY_LOG {
            self.stats.other_secrets_blocks += 1;
            return Err(SecretsBlockError::NotTlsKeyLog { secrets_type });
        }
        self.blocks = self.blocks.saturating_add(1);
        let source = Source::DecryptionSecretsBlock(self.blocks);
        let len = usize::try_from(secrets_len).unwrap_or(usize::MAX);
        let mut text = data.get(..len).unwrap_or(data);
        // Key log text holds no NUL: trailing ones are padding, whatever the length said.
        while let Some(rest) = text.strip_suffix(b"\0") {
            text = rest;
        }
        let text = text.strip_suffix(b"\n").unwrap_or(text);
        if text.is_empty() {
            return Ok(());
        }
        for (line, number) in text.split(|&b| b == b'\n').zip(1..) {
            self.line(
                line,
                LineAt {
                    source,
                    line: number,
                },
            );
        }
        Ok(())
    }

    /// The secrets logged for the session whose ClientHello.random is `client_random`.
    pub fn secrets(&self, client_random: &[u8; 32]) -> Option<&Secrets> {
        self.entries.get(client_random)
    }

    /// Client randoms with at least one secret.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn stats(&self) -> &KeyLogStats {
        &self.stats
    }

    fn text_line(&mut self, line: &[u8], too_long: bool, at: LineAt) {
        if let Source::File(n) = at.source {
            self.stats.files = self.stats.files.max(n);
        }
        if too_long {
            self.stats.lines += 1;
            self.malformed(at);
        } else {
            self.line(line, at);
        }
    }

    fn line(&mut self, line: &[u8], at: LineAt) {
        self.stats.lines += 1;
        if line.len() > MAX_LINE {
            self.malformed(at);
            return;
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line = line.trim_ascii();
        if line.is_empty() || line.starts_with(b"#") {
            return;
        }
        match parse_line(line) {
            Parsed::Secret(label, random, secret) => self.keep(label, random, secret),
            Parsed::UnknownLabel => self.stats.unknown_labels += 1,
            Parsed::Malformed => self.malformed(at),
        }
    }

    fn keep(&mut self, label: Label, random: [u8; 32], secret: Secret) {
        let full = self.entries.len() >= self.max_entries;
        if full
            && !self.entries.contains_key(&random)
            && let Some(order) = self.oldest_first.as_mut()
            && let Some(oldest) = order.pop_front()
        {
            self.entries.remove(&oldest);
            self.stats.evicted += 1;
        }
        let full = self.entries.len() >= self.max_entries;
        let secrets = match self.entries.entry(random) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(_) if full => {
                self.stats.over_limit += 1;
                return;
            }
            Entry::Vacant(entry) => {
                if let Some(order) = self.oldest_first.as_mut() {
                    order.push_back(random);
                }
                entry.insert(Secrets::default())
            }
        };
        *label.field(secrets) = Some(secret);
        self.stats.secrets += 1;
    }

    fn malformed(&mut self, at: LineAt) {
        self.stats.malformed += 1;
        if self.stats.malformed_lines.len() < MALFORMED_LINES_KEPT {
            self.stats.malformed_lines.push(at);
        }
    }
}

/// A key log shared by the analysis and, in a live run, by the reader that follows its
/// file as the client appends to it. Sessions copy out the secrets they find; `generation`
/// tells them, without the lock, whether anything was added since they last looked.
#[derive(Clone)]
pub struct SharedKeyLog {
    inner: Arc<Shared>,
}

struct Shared {
    log: RwLock<KeyLog>,
    /// Secrets kept so far: grows with every line added.
    generation: AtomicU64,
    following: bool,
    /// Bytes the connections waiting for their keys hold, all together.
    held: AtomicUsize,
}

/// What all the connections waiting for their keys may hold together.
pub const MAX_HELD_TOTAL: usize = 64 << 20;

/// By its counts only, as `KeyLog`.
impl fmt::Debug for SharedKeyLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.read(|log| log.fmt(f))
    }
}

impl SharedKeyLog {
    /// A key log read whole before the analysis (files): what it lacks stays lacking.
    pub fn complete(log: KeyLog) -> SharedKeyLog {
        SharedKeyLog::new(log, false)
    }

    /// A key log whose file grows while the analysis runs (live): a connection whose keys
    /// are not there yet waits for them a while (`tls::session`), and past `max_entries`
    /// the oldest client randoms give way to new ones.
    pub fn following(mut log: KeyLog) -> SharedKeyLog {
        log.oldest_first = Some(log.entries.keys().copied().collect());
        SharedKeyLog::new(log, true)
    }

    fn new(log: KeyLog, following: bool) -> SharedKeyLog {
        let generation = AtomicU64::new(log.stats.secrets);
        SharedKeyLog {
            inner: Arc::new(Shared {
                log: RwLock::new(log),
                generation,
                following,
                held: AtomicUsize::new(0),
            }),
        }
    }

    pub fn is_following(&self) -> bool {
        self.inner.following
    }

    /// Changes whenever secrets are added.
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Acquire)
    }

    /// A copy of the secrets logged for `client_random`.
    pub fn secrets(&self, client_random: &[u8; 32]) -> Option<Secrets> {
        self.read(|log| log.secrets(client_random).cloned())
    }

    pub fn read<R>(&self, f: impl FnOnce(&KeyLog) -> R) -> R {
        // A writer that panicked left whole entries: each is inserted in one step.
        let log = self
            .inner
            .log
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        f(&log)
    }

    /// Takes `bytes` from what waiting connections may hold together; false when that
    /// would pass `MAX_HELD_TOTAL`.
    pub(crate) fn reserve(&self, bytes: usize) -> bool {
        let held = &self.inner.held;
        held.fetch_update(Ordering::AcqRel, Ordering::Acquire, |now| {
            now.checked_add(bytes).filter(|&n| n <= MAX_HELD_TOTAL)
        })
        .is_ok()
    }

    /// Gives back what `reserve` took.
    pub(crate) fn release(&self, bytes: usize) {
        let held = &self.inner.held;
        let _ = held.fetch_update(Ordering::AcqRel, Ordering::Acquire, |now| {
            Some(now.saturating_sub(bytes))
        });
    }

    /// Adds to the key log (a followed file's new lines); whether secrets were added.
    pub fn update(&self, f: impl FnOnce(&mut KeyLog)) -> bool {
        let mut log = self
            .inner
            .log
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let before = log.stats.secrets;
        f(&mut log);
        let added = log.stats.secrets != before;
        if added {
            self.inner
                .generation
                .store(log.stats.secrets, Ordering::Release);
        }
        added
    }
}

/// The labels we keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Label {
    ClientRandom,
    ClientEarlyTrafficSecret,
    ClientHandshakeTrafficSecret,
    ServerHandshakeTrafficSecret,
    ClientTrafficSecret0,
    ServerTrafficSecret0,
    ExporterSecret,
}

impl Label {
    fn from_name(name: &[u8]) -> Option<Label> {
        Some(match name {
            b"CLIENT_RANDOM" => Label::ClientRandom,
            b"CLIENT_EARLY_TRAFFIC_SECRET" => Label::ClientEarlyTrafficSecret,
            b"CLIENT_HANDSHAKE_TRAFFIC_SECRET" => Label::ClientHandshakeTrafficSecret,
            b"SERVER_HANDSHAKE_TRAFFIC_SECRET" => Label::ServerHandshakeTrafficSecret,
            b"CLIENT_TRAFFIC_SECRET_0" => Label::ClientTrafficSecret0,
            b"SERVER_TRAFFIC_SECRET_0" => Label::ServerTrafficSecret0,
            b"EXPORTER_SECRET" => Label::ExporterSecret,
            _ => return None,
        })
    }

    /// A master secret is 48 bytes (RFC 5246 8.1); a TLS 1.3 secret is as long as the
    /// suite's hash, SHA-256 or SHA-384.
    fn fits(self, len: usize) -> bool {
        match self {
            Label::ClientRandom => len == 48,
            _ => len == 32 || len == 48,
        }
    }

    fn field(self, secrets: &mut Secrets) -> &mut Option<Secret> {
        match self {
            Label::ClientRandom => &mut secrets.master_secret,
            Label::ClientEarlyTrafficSecret => &mut secrets.client_early_traffic_secret,
            Label::ClientHandshakeTrafficSecret => &mut secrets.client_handshake_traffic_secret,
            Label::ServerHandshakeTrafficSecret => &mut secrets.server_handshake_traffic_secret,
            Label::ClientTrafficSecret0 => &mut secrets.client_traffic_secret_0,
            Label::ServerTrafficSecret0 => &mut secrets.server_traffic_secret_0,
            Label::ExporterSecret => &mut secrets.exporter_secret,
        }
    }
}

enum Parsed {
    Secret(Label, [u8; 32], Secret),
    UnknownLabel,
    Malformed,
}

/// One non-blank, non-comment line: three fields separated by spaces or tabs.
fn parse_line(line: &[u8]) -> Parsed {
    let mut fields = line
        .split(|b| b.is_ascii_whitespace())
        .filter(|f| !f.is_empty());
    let (Some(name), Some(random), Some(secret), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Parsed::Malformed;
    };
    let Some(label) = Label::from_name(name) else {
        return Parsed::UnknownLabel;
    };
    let mut buf = [0u8; MAX_SECRET];
    let (Some(random), Some(secret_len)) = (hex_array::<32>(random), hex_into(secret, &mut buf))
    else {
        return Parsed::Malformed;
    };
    let secret = buf.get(..secret_len).and_then(Secret::new);
    match secret {
        Some(secret) if label.fits(secret_len) => Parsed::Secret(label, random, secret),
        _ => Parsed::Malformed,
    }
}

fn hex_array<const N: usize>(hex: &[u8]) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    (hex_into(hex, &mut out)? == N).then_some(out)
}

/// Decodes `hex` into the start of `out`, giving the length; `None` if it is not whole
/// bytes of hex digits or does not fit.
fn hex_into(hex: &[u8], out: &mut [u8]) -> Option<usize> {
    if !hex.len().is_multiple_of(2) || hex.len() / 2 > out.len() {
        return None;
    }
    // Any digit's value has its high bit clear, a non-digit's set: one test per byte pair.
    let mut bad = 0;
    let value = |c: u8| HEX.get(usize::from(c)).copied().unwrap_or(0x80);
    for (pair, byte) in hex.chunks_exact(2).zip(out.iter_mut()) {
        let &[hi, lo] = pair else {
            return None;
        };
        let (hi, lo) = (value(hi), value(lo));
        bad |= hi | lo;
        *byte = (hi << 4) | (lo & 0x0f);
    }
    (bad & 0x80 == 0).then_some(hex.len() / 2)
}

/// Each byte's value as a hex digit, or 0x80 for a byte that is not one.
#[allow(clippy::indexing_slicing)] // c < 256, the table's length
const HEX: [u8; 256] = {
    let mut table = [0x80; 256];
    let mut c = 0;
    while c < 256 {
        table[c] = match c as u8 {
            b'0'..=b'9' => c as u8 - b'0',
            b'a'..=b'f' => c as u8 - b'a' + 10,
            b'A'..=b'F' => c as u8 - b'A' + 10,
            _ => 0x80,
        };
        c += 1;
    }
    table
};

#[cfg(test)]
mod tests;
