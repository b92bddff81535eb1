//! Capture files (pcap in either byte order and timestamp precision, and pcapng), read as a
//! stream with pcap-parser.
//!
//! Legacy pcap is read in 1 MiB chunks (more only for a larger record, up to `MAX_BLOCK`),
//! pcapng through pcap-parser's reader with one buffer that grows only as far as the largest
//! block needs: memory does not grow with the file. Damage stops the read with an error
//! naming the byte offset; everything read before it has already been handed on.

use super::{LinkType, Packet, Shared, Timestamp};
use pcap_parser::pcapng::Block;
use pcap_parser::traits::{PcapNGPacketBlock, PcapReaderIterator};
use pcap_parser::{
    PcapBlockOwned, PcapError, PcapHeader, create_reader, parse_pcap_frame, parse_pcap_frame_be,
    parse_pcap_header,
};
use std::collections::VecDeque;
use std::fmt;
use std::io::Read;
use std::ops::Range;
use std::sync::Arc;

/// The first buffer size: large reads are what make a file stream at disk speed.
const INITIAL_BUFFER: usize = 1 << 20;
/// The largest block we agree to buffer; real packets are at most 256 KiB.
const MAX_BLOCK: usize = 16 << 20;
/// Interfaces kept per pcapng section: more than any capture host has (a node with thousands
/// of container interfaces included). A section may describe any number, each in a few dozen
/// bytes of file; those beyond are skipped, so that memory stays bounded on a hostile file,
/// and packets naming them are counted as orphans.
pub const MAX_INTERFACES: usize = 1 << 16;
/// Legacy pcap is read in chunks of this size, handed on whole: small enough that a chunk is
/// still in the cache when its records are walked.
const CHUNK: usize = 1 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CaptureFormat {
    Pcap,
    Pcapng,
}

/// What reading one file gave, besides its packets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileStats {
    pub format: Option<CaptureFormat>,
    pub packets: u64,
    /// Bytes captured (the packets' captured lengths).
    pub bytes: u64,
    /// pcapng blocks that carry no packets and that we do not use (statistics, names ...).
    pub skipped_blocks: u64,
    /// Packet blocks naming an interface that was never described, or one beyond the first
    /// `MAX_INTERFACES` of its section.
    pub orphan_packets: u64,
}

#[derive(Debug)]
pub enum CaptureError {
    Io(std::io::Error),
    /// Neither a pcap nor a pcapng header at the start.
    NotACapture,
    Empty,
    /// The file ends inside a record or block.
    Truncated {
        offset: u64,
    },
    /// A block or record that pcap-parser rejects.
    Malformed {
        offset: u64,
        detail: String,
    },
    /// A block claims a size beyond `MAX_BLOCK`.
    BlockTooLarge {
        offset: u64,
    },
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureError::Io(e) => write!(f, "read error: {e}"),
            CaptureError::NotACapture => f.write_str("not a pcap or pcapng file"),
            CaptureError::Empty => f.write_str("the file is empty"),
            CaptureError::Truncated { offset } => {
                write!(
                    f,
                    "the file ends inside the record at byte offset {offset} (cut short, or garbage after the last packet)"
                )
            }
            CaptureError::Malformed { offset, detail } => {
                write!(f, "damaged record at byte offset {offset}: {detail}")
            }
            CaptureError::BlockTooLarge { offset } => write!(
                f,
                "damaged record at byte offset {offset}: it claims more than {} MiB",
                MAX_BLOCK >> 20
            ),
        }
    }
}

impl std::error::Error for CaptureError {}

/// A pcapng interface: what its packets' link type and clock are.
#[derive(Clone, Copy, Debug)]
struct Interface {
    link: LinkType,
    /// Timestamp units per second.
    resolution: u64,
    offset_secs: i64,
}

/// Reads every packet of `input` and hands each to `on_packet`, in file order.
///
/// On damage the packets before it have been delivered; the error says where.
pub fn read_capture<R, F>(input: R, mut on_packet: F) -> (FileStats, Result<(), CaptureError>)
where
    R: Read + Send,
    F: FnMut(&Packet<'_>),
{
    read_capture_shared(input, |packet, _| on_packet(packet))
}

/// `read_capture`, telling for each packet the shared chunk of the file its bytes lie in, when
/// they lie in one (legacy pcap): a consumer on another thread can then hold the chunk
/// instead of copying the packet.
pub fn read_capture_shared<R, F>(
    input: R,
    mut on_packet: F,
) -> (FileStats, Result<(), CaptureError>)
where
    R: Read + Send,
    F: FnMut(&Packet<'_>, Option<Shared<'_>>),
{
    let mut stats = FileStats::default();
    // The magic number tells a capture cut inside its header from a file that is no capture.
    // pcap-parser judges the header from its first read, so that read must hold all of it.
    let mut input = input;
    let mut head = vec![0u8; HEAD_LEN];
    let got = match read_up_to(&mut input, &mut head) {
        Ok(n) => n,
        Err(e) => return (stats, Err(CaptureError::Io(e))),
    };
    head.truncate(got);
    let known_magic = head
        .get(..4)
        .is_some_and(|m| CAPTURE_MAGICS.iter().any(|k| k.as_slice() == m));
    if let Ok((_, header)) = parse_pcap_header(&head)
        && !header.is_modified_format()
    {
        let result = read_legacy(head, &header, input, &mut stats, &mut on_packet);
        return (stats, result);
    }
    let input = std::io::Cursor::new(head).chain(input);
    let mut reader = match create_reader(INITIAL_BUFFER, input) {
        Ok(r) => r,
        Err(PcapError::Eof) => return (stats, Err(CaptureError::Empty)),
        Err(PcapError::ReadError) => {
            return (
                stats,
                Err(CaptureError::Io(std::io::Error::other("read failed"))),
            );
        }
        Err(PcapError::Incomplete(_)) => {
            return (stats, Err(CaptureError::Truncated { offset: 0 }));
        }
        Err(_) if known_magic => return (stats, Err(CaptureError::Truncated { offset: 0 })),
        Err(_) => return (stats, Err(CaptureError::NotACapture)),
    };
    let mut state = ReaderState::default();
    let result = loop {
        let offset = reader.consumed() as u64;
        match reader.next() {
            Ok((len, block)) => {
                state.handle_block(block, &mut stats, &mut |p| on_packet(p, None));
                reader.consume_noshift(len);
            }
            Err(PcapError::Eof) => break Ok(()),
            Err(PcapError::Incomplete(_)) | Err(PcapError::BufferTooSmall) => {
                if let Err(e) = refill_or_grow(reader.as_mut(), offset) {
                    break Err(e);
                }
            }
            Err(PcapError::UnexpectedEof) => break Err(CaptureError::Truncated { offset }),
            Err(PcapError::ReadError) => {
                break Err(CaptureError::Io(std::io::Error::other("read failed")));
            }
            Err(e) => {
                break Err(CaptureError::Malformed {
                    offset,
                    detail: describe(&e),
                });
            }
        }
    };
    (stats, result)
}

/// The Decryption Secrets Blocks a pcapng file holds before its first packet (where editcap
/// --inject-secrets and Wireshark put them), as (secrets type, length, data): read ahead of the
/// analysis, so that the keys are there when the handshakes come. A file that is not pcapng,
/// or does not read, gives none; its errors are the analysis's to report.
pub fn decryption_secrets(input: impl Read + Send) -> Vec<(u32, u32, Vec<u8>)> {
    use pcap_parser::Block;
    /// Blocks looked at before the first packet, at most.
    const MAX_BLOCKS: usize = 256;
    /// A pcapng Section Header Block's type; a legacy pcap is read no further.
    const PCAPNG: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
    let mut found = Vec::new();
    let mut input = input;
    // pcap-parser judges the format from its first read, which must hold the whole header.
    let mut head = vec![0u8; HEAD_LEN];
    let got = read_up_to(&mut input, &mut head).unwrap_or(0);
    head.truncate(got);
    if head.get(..4) != Some(&PCAPNG[..]) {
        return found;
    }
    let input = std::io::Cursor::new(head).chain(input);
    let Ok(mut reader) = create_reader(HEAD_LEN, input) else {
        return found;
    };
    for _ in 0..MAX_BLOCKS {
        let offset = reader.consumed() as u64;
        match reader.next() {
            Ok((len, block)) => {
                match block {
                    PcapBlockOwned::NG(Block::DecryptionSecrets(dsb)) => {
                        found.push((dsb.secrets_type.0, dsb.secrets_len, dsb.data.to_vec()));
                    }
                    PcapBlockOwned::NG(
                        Block::SectionHeader(_)
                        | Block::InterfaceDescription(_)
                        | Block::NameResolution(_)
                        | Block::InterfaceStatistics(_),
                    ) => {}
                    _ => break,
                }
                reader.consume_noshift(len);
            }
            Err(PcapError::Incomplete(_) | PcapError::BufferTooSmall) => {
                if refill_or_grow(reader.as_mut(), offset).is_err() {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    found
}

/// Legacy pcap, read in large chunks that are handed on whole (`Shared`): a packet's bytes
/// are never copied, and another thread may hold a chunk while the next one is read. The
/// records are parsed by pcap-parser; only the buffering is ours.
fn read_legacy<R, F>(
    head: Vec<u8>,
    header: &PcapHeader,
    mut input: R,
    stats: &mut FileStats,
    on_packet: &mut F,
) -> Result<(), CaptureError>
where
    R: Read,
    F: FnMut(&Packet<'_>, Option<Shared<'_>>),
{
    let parse = if header.is_bigendian() {
        parse_pcap_frame_be
    } else {
        parse_pcap_frame
    };
    let mut state = ReaderState::default();
    state.handle_block(
        PcapBlockOwned::LegacyHeader(header.clone()),
        stats,
        &mut |_| {},
    );
    // Chunks stay at their full length, so that reading into them never clears them first:
    // `filled` tells how much of one holds the file.
    let mut capacity = CHUNK;
    let mut chunk = vec![0u8; capacity.max(head.len())];
    if let Some(start) = chunk.get_mut(..head.len()) {
        start.copy_from_slice(&head);
    }
    let (mut filled, mut pos, mut base) = (head.len(), header.size(), 0u64);
    let mut pool = ChunkPool::default();
    loop {
        if chunk.len() < capacity {
            chunk.resize(capacity, 0);
        }
        let room = chunk.get_mut(filled..).unwrap_or_default();
        let want = room.len();
        let got = read_up_to(&mut input, room).map_err(CaptureError::Io)?;
        let exhausted = got < want;
        filled += got;
        let shared = Arc::new(chunk);
        let data = shared.get(..filled).unwrap_or_default();
        while let Some(rest) = data.get(pos..) {
            let (rem, block) = match parse(rest) {
                Ok(parsed) => parsed,
                Err(pcap_parser::nom::Err::Incomplete(_)) => break,
                Err(pcap_parser::nom::Err::Error(e) | pcap_parser::nom::Err::Failure(e)) => {
                    let offset = base + pos as u64;
                    let detail = describe(&e);
                    return Err(CaptureError::Malformed { offset, detail });
                }
            };
            let end = data.len() - rem.len();
            let start = end - block.data.len();
            let on_shared = &mut |p: &Packet<'_>| {
                on_packet(
                    p,
                    Some(Shared {
                        chunk: &shared,
                        start,
                    }),
                )
            };
            state.handle_block(PcapBlockOwned::Legacy(block), stats, on_shared);
            pos = end;
        }
        if exhausted {
            let offset = base + pos as u64;
            return (pos == data.len())
                .then_some(())
                .ok_or(CaptureError::Truncated { offset });
        }
        if pos == 0 && filled >= capacity {
            capacity = larger(capacity, base)?;
        }
        base += pos as u64;
        let tail = pos..data.len();
        filled = tail.len();
        chunk = pool.next(shared, tail, capacity);
        pos = 0;
    }
}

/// One record fills a whole chunk of `capacity` bytes: a larger chunk, up to the bound.
fn larger(capacity: usize, offset: u64) -> Result<usize, CaptureError> {
    if capacity >= MAX_BLOCK {
        return Err(CaptureError::BlockTooLarge { offset });
    }
    Ok(capacity * 2)
}

/// Chunks handed on with the packets they hold, kept to be reused once nobody holds them: a
/// bounded pool, whose chunks still held elsewhere when it is full are left to their holders.
#[derive(Default)]
struct ChunkPool {
    used: VecDeque<Arc<Vec<u8>>>,
}

impl ChunkPool {
    const MAX: usize = 16;

    /// The next chunk, of `capacity` bytes at least, starting with `done`'s bytes in `tail` (a
    /// record the chunk's end cut); `done` joins the pool.
    fn next(&mut self, done: Arc<Vec<u8>>, tail: Range<usize>, capacity: usize) -> Vec<u8> {
        let reusable = self
            .used
            .front_mut()
            .and_then(Arc::get_mut)
            .map(std::mem::take);
        let mut next = match reusable {
            Some(free) => {
                self.used.pop_front();
                free
            }
            None => vec![0u8; capacity],
        };
        let tail = done.get(tail).unwrap_or_default();
        if next.len() < tail.len() {
            next.resize(capacity, 0);
        }
        if let Some(start) = next.get_mut(..tail.len()) {
            start.copy_from_slice(tail);
        }
        self.used.push_back(done);
        if self.used.len() > Self::MAX {
            self.used.pop_front();
        }
        next
    }
}

/// Bytes read before pcap-parser takes over: more than any file header.
const HEAD_LEN: usize = 64 << 10;

/// pcapng's section header, and pcap's in both byte orders, micro- and nanosecond.
const CAPTURE_MAGICS: [[u8; 4]; 5] = [
    [0x0a, 0x0d, 0x0d, 0x0a],
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
];

/// Reads until `buf` is full or the input ends.
fn read_up_to(input: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..) {
        if rest.is_empty() {
            break;
        }
        match input.read(rest) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn describe<I>(e: &PcapError<I>) -> String {
    match e {
        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
            format!("invalid block ({kind:?})")
        }
        PcapError::HeaderNotRecognized => "unrecognised header".to_string(),
        _ => "invalid block".to_string(),
    }
}

/// Reads more input; when the buffer is full and still holds no whole block, doubles it.
fn refill_or_grow(
    reader: &mut (dyn PcapReaderIterator + Send),
    offset: u64,
) -> Result<(), CaptureError> {
    let before = reader.data().len();
    reader
        .refill()
        .map_err(|_| CaptureError::Io(std::io::Error::other("read failed")))?;
    if reader.data().len() > before {
        return Ok(());
    }
    if reader.reader_exhausted() {
        // Nothing left at all is a clean end (a file with a header and no packets).
        return if before == 0 {
            Ok(())
        } else {
            Err(CaptureError::Truncated { offset })
        };
    }
    // No room left: the block is larger than the buffer.
    let capacity = before.max(INITIAL_BUFFER);
    if capacity >= MAX_BLOCK || !reader.grow(capacity * 2) {
        return Err(CaptureError::BlockTooLarge { offset });
    }
    Ok(())
}

#[derive(Default)]
struct ReaderState {
    frame: u64,
    /// pcap: the file's link type and whether timestamps are in nanoseconds.
    legacy: Option<(LinkType, bool)>,
    /// pcapng: the interfaces of the current section.
    interfaces: Vec<Interface>,
}

impl ReaderState {
    fn handle_block<F>(
        &mut self,
        block: PcapBlockOwned<'_>,
        stats: &mut FileStats,
        on_packet: &mut F,
    ) where
        F: FnMut(&Packet<'_>),
    {
        match block {
            PcapBlockOwned::LegacyHeader(h) => {
                stats.format = Some(CaptureFormat::Pcap);
                let link = LinkType(h.network.0 as u32);
                self.legacy = Some((link, h.is_nanosecond_precision()));
            }
            PcapBlockOwned::Legacy(b) => {
                let Some((link, nanos)) = self.legacy else {
                    stats.orphan_packets += 1;
                    return;
                };
                let frac = if nanos {
                    b.ts_usec
                } else {
                    b.ts_usec.saturating_mul(1000)
                };
                let data = b.data.get(..b.caplen as usize).unwrap_or(b.data);
                let ts = Timestamp::new(i64::from(b.ts_sec), frac);
                self.deliver(link, ts, data, b.origlen, stats, on_packet);
            }
            PcapBlockOwned::NG(Block::SectionHeader(_)) => {
                stats.format = Some(CaptureFormat::Pcapng);
                self.interfaces.clear();
            }
            PcapBlockOwned::NG(Block::InterfaceDescription(_))
                if self.interfaces.len() >= MAX_INTERFACES =>
            {
                stats.skipped_blocks += 1;
            }
            PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                self.interfaces.push(Interface {
                    link: LinkType(idb.linktype.0 as u32),
                    // An invalid resolution is treated as the default, microseconds.
                    resolution: idb.ts_resolution().unwrap_or(1_000_000).max(1),
                    offset_secs: idb.ts_offset(),
                });
            }
            PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                let Some(iface) = self.interfaces.get(epb.if_id as usize).copied() else {
                    self.frame += 1;
                    stats.orphan_packets += 1;
                    return;
                };
                let raw = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                let ts = pcapng_timestamp(raw, iface);
                self.deliver(
                    iface.link,
                    ts,
                    epb.packet_data(),
                    epb.origlen,
                    stats,
                    on_packet,
                );
            }
            PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                let Some(iface) = self.interfaces.first().copied() else {
                    self.frame += 1;
                    stats.orphan_packets += 1;
                    return;
                };
                // A simple packet block has no timestamp.
                self.deliver(
                    iface.link,
                    Timestamp::default(),
                    spb.packet_data(),
                    spb.origlen,
                    stats,
                    on_packet,
                );
            }
            PcapBlockOwned::NG(_) => stats.skipped_blocks += 1,
        }
    }

    fn deliver<F>(
        &mut self,
        link: LinkType,
        ts: Timestamp,
        data: &[u8],
        orig_len: u32,
        stats: &mut FileStats,
        on_packet: &mut F,
    ) where
        F: FnMut(&Packet<'_>),
    {
        self.frame += 1;
        stats.packets += 1;
        stats.bytes += data.len() as u64;
        on_packet(&Packet {
            frame: self.frame,
            ts,
            link,
            data,
            orig_len,
        });
    }
}

/// Converts a pcapng timestamp in the interface's units, with checked arithmetic throughout:
/// the resolution and offset come from the file.
fn pcapng_timestamp(raw: u64, iface: Interface) -> Timestamp {
    let secs = raw / iface.resolution;
    let frac = raw % iface.resolution;
    let nanos = (u128::from(frac) * 1_000_000_000 / u128::from(iface.resolution)) as u32;
    let secs = i64::try_from(secs)
        .unwrap_or(i64::MAX)
        .saturating_add(iface.offset_secs);
    Timestamp::new(secs, nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iface(resolution: u64, offset_secs: i64) -> Interface {
        Interface {
            link: LinkType::ETHERNET,
            resolution,
            offset_secs,
        }
    }

    #[test]
    fn pcapng_timestamps_in_micro_and_nanoseconds() {
        let t = pcapng_timestamp(1_700_000_000_123_456, iface(1_000_000, 0));
        assert_eq!((t.secs, t.nanos), (1_700_000_000, 123_456_000));
        let t = pcapng_timestamp(1_700_000_000_123_456_789, iface(1_000_000_000, 0));
        assert_eq!((t.secs, t.nanos), (1_700_000_000, 123_456_789));
        let t = pcapng_timestamp(u64::MAX, iface(1, i64::MAX));
        assert_eq!(t.secs, i64::MAX);
    }

    /// A real capture's records repeated past several chunks, with the record offsets.
    fn long_capture() -> (Vec<u8>, Vec<usize>) {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/interleaved.pcap");
        let one = std::fs::read(path).unwrap();
        let (records, _) = one.split_at(24).1.split_at(one.len() - 24);
        let mut file = one[..24].to_vec();
        while file.len() < 2 * CHUNK + CHUNK / 2 {
            file.extend_from_slice(records);
        }
        // The oracle: pcap-parser's frame parser over the whole file at once.
        let mut offsets = Vec::new();
        let mut at = 24;
        while at < file.len() {
            offsets.push(at);
            let (rest, _) = parse_pcap_frame(&file[at..]).unwrap();
            at = file.len() - rest.len();
        }
        (file, offsets)
    }

    #[test]
    fn records_across_chunk_boundaries_are_read_whole_and_in_order() {
        let (file, offsets) = long_capture();
        let mut seen = Vec::new();
        let (stats, result) = read_capture_shared(&file[..], |p, shared| {
            let shared = shared.expect("legacy pcap is read in shared chunks");
            assert_eq!(
                &shared.chunk[shared.start..shared.start + p.data.len()],
                p.data
            );
            seen.push((p.frame, p.ts, p.data.to_vec()));
        });
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(stats.packets as usize, offsets.len());
        for (i, (&at, (frame, ts, data))) in offsets.iter().zip(&seen).enumerate() {
            let (_, b) = parse_pcap_frame(&file[at..]).unwrap();
            assert_eq!(*frame, i as u64 + 1);
            assert_eq!(*ts, Timestamp::new(i64::from(b.ts_sec), b.ts_usec * 1000));
            assert_eq!(data.as_slice(), &b.data[..b.caplen as usize]);
        }
    }

    #[test]
    fn a_cut_past_the_first_chunk_names_the_record_it_cut() {
        let (file, offsets) = long_capture();
        for &record in offsets.iter().filter(|&&o| o > CHUNK).step_by(97).take(20) {
            let cut = &file[..record + 7];
            let mut packets = 0;
            let (_, result) = read_capture(cut, |_| packets += 1);
            assert!(
                matches!(result, Err(CaptureError::Truncated { offset }) if offset == record as u64),
                "{result:?}"
            );
            assert_eq!(packets, offsets.iter().filter(|&&o| o < record).count());
        }
    }

    #[test]
    fn empty_and_garbage_inputs_are_errors() {
        let (_, r) = read_capture(&b""[..], |_| {});
        assert!(matches!(r, Err(CaptureError::Empty)));
        let (_, r) = read_capture(&b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..], |_| {});
        assert!(matches!(r, Err(CaptureError::NotACapture)));
    }
}
