//! Writing packets back out as a classic pcap file (nanosecond timestamps), for the packets of
//! failed connections saved in live mode and for captures derived in tests. pcap-parser's
//! serializer lays out the bytes.

use super::{LinkType, Packet};
use pcap_parser::{LegacyPcapBlock, Linktype, PcapHeader, ToVec};
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
}
