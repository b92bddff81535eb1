//! Writing packets back out: as a classic pcap file (nanosecond timestamps), for the packets
//! of failed connections saved in live mode and for captures derived in tests; and as pcapng
//! blocks, whose comments carry a verdict to Wireshark (`analyze --write-failures`).
//! pcap-parser's serializer lays out the bytes.

use super::{LinkType, Packet};
use pcap_parser::pcapng::{
    EnhancedPacketBlock, InterfaceDescriptionBlock, OptionCode, PcapNGOption, SectionHeaderBlock,
};
use pcap_parser::{LegacyPcapBlock, Linktype, PcapHeader, ToVec};
use std::borrow::Cow;
use std::io::{self, Write};

/// The magic number of a pcap file whose timestamps count nanoseconds.
const NANOSECOND_MAGIC: u32 = 0xa1b2_3c4d;

pub struct PcapWriter<W: Write> {
    out: W,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header. Every packet written must have `link` as its link type.
    pub fn new(mut out: W, link: LinkType, snaplen: u32) -> io::Result<Self> {
        let mut header = PcapHeader::new();
        header.magic_number = NANOSECOND_MAGIC;
        header.snaplen = snaplen;
        header.network = Linktype(link.0 as i32);
        out.write_all(&header.to_vec_raw().map_err(gen_error)?)?;
        Ok(PcapWriter { out })
    }

    pub fn write(&mut self, packet: &Packet<'_>) -> io::Result<()> {
        let caplen = u32::try_from(packet.data.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "packet over 4 GiB"))?;
        let block = LegacyPcapBlock {
            // pcap has 32-bit unsigned seconds: dates outside 1970–2106 are clamped.
            ts_sec: u32::try_from(packet.ts.secs.max(0)).unwrap_or(u32::MAX),
            ts_usec: packet.ts.nanos,
            caplen,
            origlen: packet.orig_len.max(caplen),
            data: packet.data,
        };
        self.out.write_all(&block.to_vec_raw().map_err(gen_error)?)
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

/// A pcapng file written block by block: its section header first, then interfaces and
/// packets in whatever order the caller chooses, each interface before the packets on it.
pub(crate) struct PcapNgWriter<W: Write> {
    out: W,
}

/// `if_tsresol` for nanoseconds (10^-9 s): every packet's timestamp is written exact.
const NANOSECOND_RESOLUTION: u8 = 9;

impl<W: Write> PcapNgWriter<W> {
    /// Writes the section header, with `comments` (opt_comment) and `application`
    /// (shb_userappl). The caller escapes anything that came from the wire.
    pub(crate) fn new(mut out: W, comments: &[String], application: &str) -> io::Result<Self> {
        let mut options = text_options(OptionCode::Comment, comments)?;
        options.extend(text_options(
            OptionCode::ShbUserAppl,
            &[application.to_string()],
        )?);
        let mut header = SectionHeaderBlock {
            block_type: 0,
            block_len1: 0,
            bom: 0,
            major_version: 1,
            minor_version: 0,
            // Unknown: the section is written as it goes.
            section_len: -1,
            options,
            block_len2: 0,
        };
        out.write_all(&header.to_vec().map_err(gen_error)?)?;
        Ok(PcapNgWriter { out })
    }

    /// Writes an Interface Description Block; interfaces are numbered from 0 in the order
    /// they are written. `description` becomes its if_description.
    pub(crate) fn interface(&mut self, link: LinkType, description: &str) -> io::Result<()> {
        let link = u16::try_from(link.0)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "link type over 65535"))?;
        let mut block = InterfaceDescriptionBlock {
            block_type: 0,
            block_len1: 0,
            linktype: Linktype(i32::from(link)),
            reserved: 0,
            // No limit was applied here: each packet says its own length.
            snaplen: 0,
            options: text_options(OptionCode::IfDescription, &[description.to_string()])?,
            block_len2: 0,
            if_tsresol: NANOSECOND_RESOLUTION,
            if_tsoffset: 0,
        };
        self.out.write_all(&block.to_vec().map_err(gen_error)?)
    }

    /// Writes a block made by `packet_block`.
    pub(crate) fn block(&mut self, block: &[u8]) -> io::Result<()> {
        self.out.write_all(block)
    }

    pub(crate) fn into_inner(self) -> W {
        self.out
    }
}

/// One packet as an Enhanced Packet Block on interface `interface`, with `comments` (one
/// opt_comment each: Wireshark shows each as a `frame.comment`). Made apart from the writer
/// so that blocks can be set aside and written later in another order.
pub(crate) fn packet_block(
    interface: u32,
    packet: &Packet<'_>,
    comments: &[String],
) -> io::Result<Vec<u8>> {
    let caplen = u32::try_from(packet.data.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "packet over 4 GiB"))?;
    // Nanoseconds since 1970 in 64 bits: dates before 1970 are clamped to it.
    let secs = u64::try_from(packet.ts.secs).unwrap_or(0);
    let units = secs
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(packet.ts.nanos));
    let mut block = EnhancedPacketBlock {
        block_type: 0,
        block_len1: 0,
        if_id: interface,
        ts_high: (units >> 32) as u32,
        ts_low: units as u32,
        caplen,
        origlen: packet.orig_len.max(caplen),
        data: packet.data,
        options: text_options(OptionCode::Comment, comments)?,
        block_len2: 0,
    };
    block.to_vec().map_err(gen_error)
}

/// One option per text, each UTF-8 and at most 65,535 bytes (an option's length is 16 bits).
fn text_options(code: OptionCode, texts: &[String]) -> io::Result<Vec<PcapNGOption<'static>>> {
    texts
        .iter()
        .map(|text| {
            let len = u16::try_from(text.len()).map_err(|_| {
                io::Error::new(io::ErrorKind::InvalidInput, "a pcapng option over 64 KiB")
            })?;
            Ok(PcapNGOption {
                code,
                len,
                value: Cow::Owned(text.as_bytes().to_vec()),
            })
        })
        .collect()
}

fn gen_error(e: impl std::fmt::Debug) -> io::Error {
    io::Error::other(format!("pcap serialisation: {e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{Timestamp, read_capture};

    #[test]
    fn written_packets_read_back_unchanged() {
        let data = [0x45u8, 0, 0, 20, 1, 2, 3, 4];
        let packet = Packet {
            frame: 1,
            ts: Timestamp::new(1_700_000_000, 123_456_789),
            link: LinkType::RAW,
            data: &data,
            orig_len: 60,
        };
        let mut w = PcapWriter::new(Vec::new(), LinkType::RAW, 65535).unwrap();
        w.write(&packet).unwrap();
        w.write(&packet).unwrap();
        let bytes = w.into_inner();
        let mut seen = Vec::new();
        let (stats, result) = read_capture(&bytes[..], |p| {
            seen.push((p.frame, p.ts, p.link, p.data.to_vec(), p.orig_len))
        });
        result.unwrap();
        assert_eq!(stats.packets, 2);
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[1], (2, packet.ts, LinkType::RAW, data.to_vec(), 60));
    }

    #[test]
    fn pcapng_blocks_read_back_with_their_comments() {
        let data = [0x45u8, 0, 0, 20, 1, 2, 3];
        let packet = Packet {
            frame: 9,
            ts: Timestamp::new(1_700_000_000, 123_456_789),
            link: LinkType::RAW,
            data: &data,
            orig_len: 60,
        };
        let section = ["from a.pcap".to_string()];
        let mut w = PcapNgWriter::new(Vec::new(), &section, "tlsdiag test").unwrap();
        w.interface(LinkType::RAW, "a.pcap").unwrap();
        let comments = ["FAILED".to_string(), "cause: odd length".to_string()];
        w.block(&packet_block(0, &packet, &comments).unwrap())
            .unwrap();
        w.block(&packet_block(0, &packet, &[]).unwrap()).unwrap();
        let bytes = w.into_inner();

        let mut seen = Vec::new();
        let (stats, result) = read_capture(&bytes[..], |p| {
            seen.push((p.ts, p.link, p.data.to_vec(), p.orig_len))
        });
        result.unwrap();
        assert_eq!(stats.packets, 2);
        assert_eq!(seen[0], (packet.ts, LinkType::RAW, data.to_vec(), 60));

        let (_, capture) = pcap_parser::parse_pcapng(&bytes).unwrap();
        let blocks = &capture.sections[0].blocks;
        let texts = |options: &[PcapNGOption<'_>]| -> Vec<String> {
            let comments = options.iter().filter(|o| o.code == OptionCode::Comment);
            comments
                .map(|o| String::from_utf8_lossy(&o.value[..usize::from(o.len)]).into_owned())
                .collect()
        };
        let pcap_parser::pcapng::Block::SectionHeader(shb) = &blocks[0] else {
            panic!("a section header first")
        };
        assert_eq!(texts(&shb.options), section);
        let pcap_parser::pcapng::Block::EnhancedPacket(epb) = &blocks[2] else {
            panic!("a packet third")
        };
        assert_eq!(texts(&epb.options), comments);
    }
}
