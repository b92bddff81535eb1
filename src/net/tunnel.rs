//! The small fixed headers etherparse 0.21 does not parse: Linux cooked capture v1, MPLS,
//! PPPoE session, GRE, ERSPAN II and III, VXLAN and Geneve.
//!
//! Each is a view over the bytes, checked once by `new_checked` (smoltcp's way): after it the
//! accessors cannot fail, and `payload` is what follows the header. The headers whose length
//! the first bytes tell are one `View`, each with its own `Header` format; GRE, ERSPAN and
//! MPLS read more than a length before they know where the payload starts.

use super::{Carrier, Skip};
use crate::bytes::be_u16;
use std::marker::PhantomData;

/// A 16-bit value at `at`; only called on offsets `new_checked` has covered.
fn u16_at(b: &[u8], at: usize) -> u16 {
    be_u16(b, at).unwrap_or(0)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(&[x0, x1, x2, x3]) => u32::from_be_bytes([x0, x1, x2, x3]),
        _ => 0,
    }
}

/// A 24-bit value (VXLAN's and Geneve's VNI) at `at`.
fn u24_at(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 3) {
        Some(&[x0, x1, x2]) => u32::from_be_bytes([0, x0, x1, x2]),
        _ => 0,
    }
}

/// Splits `b` after a header of `len` bytes, or `None` when it is shorter.
fn checked(b: &[u8], len: usize) -> Option<(&[u8], &[u8])> {
    b.split_at_checked(len)
}

/// A header format that `View` splits from its payload.
pub(super) trait Header {
    /// The length of the fixed part.
    const LEN: usize;

    /// The whole header's length, from its fixed part (Geneve's options length).
    fn len(_fixed: &[u8]) -> usize {
        Self::LEN
    }
}

/// A header and its payload, split once: the fields lie inside the header, so their readers
/// cannot fail.
pub(super) struct View<'a, H> {
    header: &'a [u8],
    payload: &'a [u8],
    format: PhantomData<H>,
}

impl<'a, H: Header> View<'a, H> {
    pub(super) fn new_checked(b: &'a [u8]) -> Option<Self> {
        let fixed = b.get(..H::LEN)?;
        let (header, payload) = checked(b, H::len(fixed))?;
        Some(View {
            header,
            payload,
            format: PhantomData,
        })
    }
    pub(super) fn payload(&self) -> &'a [u8] {
        self.payload
    }
    fn u16(&self, at: usize) -> u16 {
        u16_at(self.header, at)
    }
    fn u24(&self, at: usize) -> u32 {
        u24_at(self.header, at)
    }
}

/// A fixed-length header format and its view's name: the boilerplate each one repeated.
macro_rules! fixed_header {
    ($(#[$doc:meta])* $view:ident, $format:ident, $len:expr) => {
        $(#[$doc])*
        pub(super) type $view<'a> = View<'a, $format>;
        pub(super) enum $format {}

        impl Header for $format {
            const LEN: usize = $len;
        }
    };
}

/// A Linux ARPHRD_ hardware type, as the SLL headers carry it (if_arp.h).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ArpHardware(pub u16);

impl ArpHardware {
    pub(crate) const FRAD: ArpHardware = ArpHardware(770);
    pub(crate) const IEEE80211_RADIOTAP: ArpHardware = ArpHardware(803);
    pub(crate) const NETLINK: ArpHardware = ArpHardware(824);
}

fixed_header! {
    /// LINKTYPE_LINUX_SLL (libpcap's sll.h): packet type, ARPHRD type, address length, 8 bytes
    /// of address, protocol. etherparse refuses ARPHRD types it does not list (loopback among
    /// them), so the header is read here whatever the hardware.
    Sll, SllFormat, 16
}

impl Cooked for SllFormat {
    const HARDWARE: usize = 2;
    const PROTOCOL: usize = 14;
}

fixed_header! {
    /// LINKTYPE_LINUX_SLL2: protocol first, then reserved, interface index, ARPHRD type, packet
    /// type, address length and 8 bytes of address.
    Sll2, Sll2Format, 20
}

impl Cooked for Sll2Format {
    const PROTOCOL: usize = 0;
    const HARDWARE: usize = 8;
}

/// The two Linux cooked capture headers: the same fields at different offsets.
pub(super) trait Cooked: Header {
    const HARDWARE: usize;
    const PROTOCOL: usize;
}

impl<H: Cooked> View<'_, H> {
    pub(super) fn hardware(&self) -> ArpHardware {
        ArpHardware(self.u16(H::HARDWARE))
    }
    pub(super) fn protocol(&self) -> u16 {
        self.u16(H::PROTOCOL)
    }
}

/// An MPLS label stack (RFC 3032): 4-byte entries down to the one with bottom-of-stack set.
pub(super) struct MplsStack<'a> {
    /// The top label, the one the capture point's router switched on.
    top: u32,
    payload: &'a [u8],
}

impl<'a> MplsStack<'a> {
    const ENTRY: usize = 4;
    const BOTTOM_OF_STACK: u32 = 0x100;
    /// Entries read before giving up: real stacks hold a handful.
    const MAX_ENTRIES: usize = 16;

    pub(super) fn new_checked(b: &'a [u8]) -> Option<Self> {
        let mut rest = b;
        let top = u32_at(b, 0) >> 12;
        for _ in 0..Self::MAX_ENTRIES {
            let (entry, after) = checked(rest, Self::ENTRY)?;
            rest = after;
            if u32_at(entry, 0) & Self::BOTTOM_OF_STACK != 0 {
                return Some(MplsStack { top, payload: rest });
            }
        }
        None
    }
    pub(super) fn top_label(&self) -> u32 {
        self.top
    }
    pub(super) fn payload(&self) -> &'a [u8] {
        self.payload
    }
}

fixed_header! {
    /// A PPPoE session frame (RFC 2516) and the PPP protocol field after it.
    PppoeSession, PppoeFormat, 8
}

impl PppoeSession<'_> {
    const SESSION_ID: usize = 2;
    const PPP_PROTOCOL: usize = 6;
    pub(super) const PPP_IPV4: u16 = 0x0021;
    pub(super) const PPP_IPV6: u16 = 0x0057;

    pub(super) fn session_id(&self) -> u16 {
        self.u16(Self::SESSION_ID)
    }
    pub(super) fn ppp_protocol(&self) -> u16 {
        self.u16(Self::PPP_PROTOCOL)
    }
}

/// A GRE header (RFC 2784, with RFC 2890's key and sequence number): the flags say which of
/// checksum, key and sequence number follow the fixed four bytes.
pub(super) struct Gre<'a> {
    protocol: u16,
    key: Option<u32>,
    sequence: bool,
    payload: &'a [u8],
}

impl<'a> Gre<'a> {
    const FLAGS: usize = 0;
    const PROTOCOL: usize = 2;
    const FIXED: usize = 4;
    const CHECKSUM_PRESENT: u16 = 0x8000;
    const KEY_PRESENT: u16 = 0x2000;
    const SEQUENCE_PRESENT: u16 = 0x1000;
    const VERSION: u16 = 0x0007;
    pub(super) const TRANSPARENT_ETHERNET: u16 = 0x6558;
    pub(super) const ERSPAN_II: u16 = 0x88be;
    pub(super) const ERSPAN_III: u16 = 0x22eb;

    /// Malformed when short; version 1 (PPTP's enhanced GRE, which carries PPP) is skipped
    /// by its protocol.
    pub(super) fn new_checked(b: &'a [u8]) -> Result<Self, Skip> {
        let flags = be_u16(b, Self::FLAGS).ok_or(Skip::Malformed)?;
        let protocol = be_u16(b, Self::PROTOCOL).ok_or(Skip::Malformed)?;
        if flags & Self::VERSION != 0 {
            return Err(Skip::NotIp(Carrier::GreProtocol(protocol)));
        }
        let optional = [
            Self::CHECKSUM_PRESENT,
            Self::KEY_PRESENT,
            Self::SEQUENCE_PRESENT,
        ]
        .iter()
        .filter(|&&f| flags & f != 0)
        .count();
        let (header, payload) = checked(b, Self::FIXED + 4 * optional).ok_or(Skip::Malformed)?;
        let key_at = Self::FIXED
            + if flags & Self::CHECKSUM_PRESENT != 0 {
                4
            } else {
                0
            };
        Ok(Gre {
            protocol,
            key: (flags & Self::KEY_PRESENT != 0).then(|| u32_at(header, key_at)),
            sequence: flags & Self::SEQUENCE_PRESENT != 0,
            payload,
        })
    }
    pub(super) fn has_sequence(&self) -> bool {
        self.sequence
    }
    pub(super) fn protocol(&self) -> u16 {
        self.protocol
    }
    pub(super) fn key(&self) -> Option<u32> {
        self.key
    }
    pub(super) fn payload(&self) -> &'a [u8] {
        self.payload
    }
}

/// An ERSPAN header after GRE: type II (8 bytes) or type III (12, and 8 more when its O flag
/// says a platform subheader follows); both end in the mirrored Ethernet frame.
pub(super) struct Erspan<'a> {
    session: u16,
    payload: &'a [u8],
}

impl<'a> Erspan<'a> {
    const SESSION: usize = 2;
    const SESSION_MASK: u16 = 0x03ff;
    const TYPE_II_LEN: usize = 8;
    const TYPE_III_LEN: usize = 12;
    const TYPE_III_FLAGS: usize = 11;
    const TYPE_III_OPTIONAL: u8 = 0x01;
    const SUBHEADER_LEN: usize = 8;

    pub(super) fn new_checked(b: &'a [u8], gre_protocol: u16) -> Option<Self> {
        let len = if gre_protocol == Gre::ERSPAN_III {
            let optional = b.get(Self::TYPE_III_FLAGS)? & Self::TYPE_III_OPTIONAL != 0;
            Self::TYPE_III_LEN + if optional { Self::SUBHEADER_LEN } else { 0 }
        } else {
            Self::TYPE_II_LEN
        };
        let (header, payload) = checked(b, len)?;
        Some(Erspan {
            session: u16_at(header, Self::SESSION) & Self::SESSION_MASK,
            payload,
        })
    }
    pub(super) fn session(&self) -> u16 {
        self.session
    }
    pub(super) fn payload(&self) -> &'a [u8] {
        self.payload
    }
}

fixed_header! {
    /// A VXLAN header (RFC 7348): flags, the 24-bit VNI; an Ethernet frame follows.
    Vxlan, VxlanFormat, 8
}

impl Vxlan<'_> {
    pub(super) const PORT: u16 = 4789;
    const VNI: usize = 4;

    pub(super) fn vni(&self) -> u32 {
        self.u24(Self::VNI)
    }
}

/// A Geneve header (RFC 8926): version and options length, protocol type, VNI, then the
/// options (length in 4-byte words) before the payload.
pub(super) type Geneve<'a> = View<'a, GeneveFormat>;
pub(super) enum GeneveFormat {}

impl GeneveFormat {
    const OPTIONS_LEN: usize = 0;
    const OPTIONS_LEN_MASK: u8 = 0x3f;
}

impl Header for GeneveFormat {
    const LEN: usize = 8;

    fn len(fixed: &[u8]) -> usize {
        let words = fixed
            .get(Self::OPTIONS_LEN)
            .map_or(0, |b| b & Self::OPTIONS_LEN_MASK);
        Self::LEN + 4 * usize::from(words)
    }
}

impl Geneve<'_> {
    pub(super) const PORT: u16 = 6081;
    const PROTOCOL: usize = 2;
    const VNI: usize = 4;

    pub(super) fn protocol(&self) -> u16 {
        self.u16(Self::PROTOCOL)
    }
    pub(super) fn vni(&self) -> u32 {
        self.u24(Self::VNI)
    }
}
