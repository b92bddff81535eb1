//! Text that a peer sent (SNI, ALPN names, certificate names), and the one way any string
//! is made safe for a terminal.
//!
//! A `WireText` keeps what was sent: its `as_str` is the exact text when the bytes were UTF-8,
//! and `hex` gives the bytes when they were not. It can only be displayed escaped and cut, so
//! a value interpolated into a report line or a rule's words can never carry an escape
//! sequence, a bidi override or a newline to the reader's terminal.

use serde::Serialize;
use std::fmt::{self, Write};

/// Characters of a peer's value shown before it is cut (the full length is said after).
pub(crate) const MAX_SHOWN: usize = 256;

#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WireText {
    /// The value as text; bytes that are not UTF-8 written as `\xNN`.
    text: Box<str>,
    /// The bytes as sent, kept only when they were not UTF-8 (`text` is then not exact).
    raw: Option<Box<[u8]>>,
}

impl WireText {
    pub fn from_bytes(bytes: &[u8]) -> Self {
        match std::str::from_utf8(bytes) {
            Ok(text) => WireText {
                text: text.into(),
                raw: None,
            },
            Err(_) => WireText {
                text: hex_escaped(bytes).into(),
                raw: Some(bytes.into()),
            },
        }
    }

    /// Text already decoded from another encoding (a certificate's BMPString, say).
    pub(crate) fn from_text(text: String) -> Self {
        WireText {
            text: text.into(),
            raw: None,
        }
    }

    /// The value as text: exact when it was UTF-8, else with `\xNN` for the bytes that were
    /// not. For matching and comparing; never for printing (use `Display`).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The bytes as sent.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.raw.as_deref().unwrap_or(self.text.as_bytes())
    }

    /// The bytes as lowercase hex, when they were not UTF-8: the lossless form for JSON.
    pub fn hex(&self) -> Option<String> {
        self.raw.is_some().then(|| self.to_hex())
    }

    /// The bytes as sent, as lowercase hex.
    pub(crate) fn to_hex(&self) -> String {
        let bytes = self.as_bytes();
        bytes
            .iter()
            .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
                let _ = write!(s, "{b:02x}");
                s
            })
    }
}

/// Values shown (escaped and cut), joined by `separator`.
pub(crate) fn join(values: &[WireText], separator: &str) -> String {
    let mut out = String::new();
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push_str(separator);
        }
        let _ = write!(out, "{value}");
    }
    out
}

impl From<&str> for WireText {
    fn from(text: &str) -> Self {
        WireText::from_text(text.to_string())
    }
}

impl PartialEq<str> for WireText {
    fn eq(&self, other: &str) -> bool {
        *self.text == *other
    }
}

impl PartialEq<&str> for WireText {
    fn eq(&self, other: &&str) -> bool {
        *self.text == **other
    }
}

/// Bytes decoded as UTF-8 where they are, each byte that is not as `\xNN`.
fn hex_escaped(mut bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    loop {
        match std::str::from_utf8(bytes) {
            Ok(text) => {
                out.push_str(text);
                return out;
            }
            Err(e) => {
                let (good, rest) = bytes.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(good).unwrap_or_default());
                let bad = e.error_len().unwrap_or(rest.len());
                for b in rest.iter().take(bad) {
                    let _ = write!(out, "\\x{b:02x}");
                }
                bytes = rest.get(bad..).unwrap_or_default();
            }
        }
    }
}

/// Escaped, and cut at `MAX_SHOWN` characters with the full length said.
impl fmt::Display for WireText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Most names are short printable ASCII, written as they are.
        let plain = |b: &u8| (0x20..0x7f).contains(b);
        if self.text.len() <= MAX_SHOWN && self.text.as_bytes().iter().all(plain) {
            return f.write_str(&self.text);
        }
        let chars = self.text.chars().count();
        if chars <= MAX_SHOWN {
            return Escaped(&self.text).fmt(f);
        }
        let end = self
            .text
            .char_indices()
            .nth(MAX_SHOWN)
            .map_or(self.text.len(), |(i, _)| i);
        let head = self.text.get(..end).unwrap_or_default();
        write!(f, "{}… ({chars} characters)", Escaped(head))
    }
}

/// As the text (`as_str`); JSON escapes what needs escaping, so nothing is lost.
impl Serialize for WireText {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

/// Any string shown as a terminal can take it: printable characters as they are; ASCII
/// controls and DEL as `\xNN`; C1 controls, bidi and other invisible format characters,
/// line separators and lone combining marks as `\u{NNNN}`.
pub(crate) struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(needs_escape) {
            let (clean, tail) = rest.split_at(at);
            f.write_str(clean)?;
            let mut chars = tail.chars();
            if let Some(c) = chars.next() {
                write_escape(f, c)?;
            }
            rest = chars.as_str();
        }
        f.write_str(rest)
    }
}

/// std's Debug escaping knows which characters are not printable (Unicode's control, format,
/// separator, private-use and unassigned categories, and combining marks): what a terminal
/// could act on or hide. Quotes and the backslash, which it also escapes, are shown as is.
fn needs_escape(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_control();
    }
    let mut escaped = c.escape_debug();
    escaped.next() != Some(c) || escaped.next().is_some()
}

fn write_escape(f: &mut fmt::Formatter<'_>, c: char) -> fmt::Result {
    if c.is_ascii() {
        write!(f, "\\x{:02x}", u32::from(c))
    } else {
        write!(f, "\\u{{{:x}}}", u32::from(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_a_terminal_acts_on() {
        let shown = |s: &str| Escaped(s).to_string();
        assert_eq!(
            shown("\x1b]0;PWNED\x07\x1b[2Jevil.test"),
            "\\x1b]0;PWNED\\x07\\x1b[2Jevil.test"
        );
        assert_eq!(shown("a\nb\tc\x7f"), "a\\x0ab\\x09c\\x7f");
        assert_eq!(shown("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(shown("abc\u{202e}gpj.exe"), "abc\\u{202e}gpj.exe");
        assert_eq!(
            shown("x\u{2066}y\u{200b}z\u{feff}"),
            "x\\u{2066}y\\u{200b}z\\u{feff}"
        );
        assert_eq!(shown("line\u{2028}sep"), "line\\u{2028}sep");
        // Letters of any script, quotes and backslashes stay.
        assert_eq!(shown("Zürich \"東京\" a\\b"), "Zürich \"東京\" a\\b");
    }

    #[test]
    fn keeps_the_bytes_that_are_not_utf8() {
        let alpn = WireText::from_bytes(b"h2\xff\xfe\x1b");
        assert_eq!(alpn.as_str(), "h2\\xff\\xfe\x1b");
        assert_eq!(alpn.hex().as_deref(), Some("6832fffe1b"));
        assert_eq!(alpn.to_string(), "h2\\xff\\xfe\\x1b");
        let utf8 = WireText::from_bytes("ü\x1b".as_bytes());
        assert_eq!(utf8.as_str(), "ü\x1b");
        assert_eq!(utf8.hex(), None);
        // A truncated character at the end, and one in the middle.
        assert_eq!(WireText::from_bytes(b"a\xc3").as_str(), "a\\xc3");
        assert_eq!(WireText::from_bytes(b"a\xe2\x82b").as_str(), "a\\xe2\\x82b");
    }

    #[test]
    fn a_long_value_is_cut_with_its_length() {
        let long = WireText::from_text("é".repeat(1000));
        let shown = long.to_string();
        assert_eq!(
            shown,
            format!("{}… (1000 characters)", "é".repeat(MAX_SHOWN))
        );
        let exact = WireText::from_text("a".repeat(MAX_SHOWN));
        assert_eq!(exact.to_string(), "a".repeat(MAX_SHOWN));
    }

    #[test]
    fn json_is_lossless_and_one_line() {
        let sni = WireText::from_bytes(b"evil\n{\"x\":1}\x1b");
        let json = serde_json::to_string(&sni).unwrap_or_default();
        assert!(!json.contains('\n') && !json.contains('\x1b'));
        let back: String = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(back.as_bytes(), b"evil\n{\"x\":1}\x1b");
    }
}
