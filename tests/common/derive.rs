//! Packets derived from the real captures: read them, change a header field or the payload,
//! write them back. Only what a test names is changed; link and IP headers are the captured
//! ones. Checksums are not recomputed: tlsdiag does not verify them (loopback captures carry
//! none), and tshark does not by default.
#![allow(dead_code)]

use std::path::Path;
use tlsdiag::analyze::{Analysis, Analyzer};
use tlsdiag::capture::{LinkType, Packet, PcapWriter, Timestamp, read_capture};
use tlsdiag::{Options, connection::Connection};

#[derive(Clone, Debug)]
pub struct Owned {
    pub ts: Timestamp,
    pub link: LinkType,
    pub data: Vec<u8>,
}

pub fn read_packets(path: &Path) -> Vec<Owned> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut packets = Vec::new();
    let (_, result) = read_capture(&bytes[..], |p| {
        packets.push(Owned {
            ts: p.ts,
            link: p.link,
            data: p.data.to_vec(),
        });
    });
    assert!(result.is_ok(), "{}", path.display());
    packets
}

/// Where the TCP header and the TCP payload of an Ethernet/IPv4 packet start.
pub fn tcp_offsets(data: &[u8]) -> Option<(usize, usize)> {
    let eth = 14;
    if data.get(12..14)? != [0x08, 0x00] {
        return None;
    }
    let ihl = usize::from(data.get(eth)? & 0x0f) * 4;
    if *data.get(eth + 9)? != 6 {
        return None;
    }
    let tcp = eth + ihl;
    let doff = usize::from(data.get(tcp + 12)? >> 4) * 4;
    Some((tcp, tcp + doff))
}

/// An Ethernet/IPv4/TCP packet's fields, read and written in place.
pub struct Tcp<'a> {
    data: &'a mut Vec<u8>,
    tcp: usize,
    payload: usize,
}

impl<'a> Tcp<'a> {
    pub fn of(p: &'a mut Owned) -> Option<Self> {
        let (tcp, payload) = tcp_offsets(&p.data)?;
        Some(Tcp {
            data: &mut p.data,
            tcp,
            payload,
        })
    }

    fn u32_at(&self, at: usize) -> u32 {
        u32::from_be_bytes(self.data[at..at + 4].try_into().unwrap())
    }

    pub fn seq(&self) -> u32 {
        self.u32_at(self.tcp + 4)
    }
    pub fn ack(&self) -> u32 {
        self.u32_at(self.tcp + 8)
    }
    pub fn flags(&self) -> u8 {
        self.data[self.tcp + 13]
    }
    pub fn src_port(&self) -> u16 {
        u16::from_be_bytes([self.data[self.tcp], self.data[self.tcp + 1]])
    }
    pub fn payload(&self) -> &[u8] {
        let ip_len = usize::from(u16::from_be_bytes([self.data[16], self.data[17]]));
        &self.data[self.payload..(14 + ip_len).min(self.data.len())]
    }
    pub fn set_seq(&mut self, v: u32) {
        self.data[self.tcp + 4..self.tcp + 8].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_ack(&mut self, v: u32) {
        self.data[self.tcp + 8..self.tcp + 12].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_src(&mut self, ip: [u8; 4], port: u16) {
        self.data[26..30].copy_from_slice(&ip);
        self.data[self.tcp..self.tcp + 2].copy_from_slice(&port.to_be_bytes());
    }
    /// Replaces the payload, adjusting the IP length.
    pub fn set_payload(&mut self, payload: &[u8]) {
        self.data.truncate(self.payload);
        self.data.extend_from_slice(payload);
        let ip_len = (self.data.len() - 14) as u16;
        self.data[16..18].copy_from_slice(&ip_len.to_be_bytes());
    }
}

/// The packets moved in time so that the first falls at `to`, keeping their spacing (a packet
/// stamped before the first moves to `to` too).
pub fn shifted(packets: &[Owned], to: Timestamp) -> Vec<Owned> {
    let Some(first) = packets.first().map(|p| p.ts) else {
        return Vec::new();
    };
    packets
        .iter()
        .map(|p| Owned {
            ts: to.after(p.ts.seconds_since(first)),
            ..p.clone()
        })
        .collect()
}

/// The packets as a pcap file.
pub fn write_pcap<'a>(packets: impl IntoIterator<Item = &'a Owned>) -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), LinkType::ETHERNET, 262_144).unwrap();
    for (i, p) in packets.into_iter().enumerate() {
        w.write(&packet(p, i)).unwrap();
    }
    w.into_inner()
}

pub fn packet(p: &Owned, i: usize) -> Packet<'_> {
    Packet {
        frame: i as u64 + 1,
        ts: p.ts,
        link: p.link,
        data: &p.data,
        orig_len: p.data.len() as u32,
    }
}

pub fn analyze_packets(packets: &[Owned], options: &Options) -> Analysis {
    let mut analyzer = Analyzer::new(options.clone());
    for (i, p) in packets.iter().enumerate() {
        analyzer.packet(&packet(p, i));
    }
    analyzer.finish()
}

/// What must not change when only the packets' cutting, order or times change: the wire facts
/// and the judgement, without frame numbers.
pub fn facts(c: &Connection) -> String {
    let d = c.diagnosis.as_ref();
    format!(
        "{:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} | {:?} {:?} {:?} {:?} | {:?}",
        c.sni,
        c.client_versions,
        c.version,
        c.cipher,
        c.alpn_offered,
        subjects(c),
        c.alerts
            .iter()
            .map(|a| (&a.description, a.from, a.encrypted))
            .collect::<Vec<_>>(),
        c.verdict.outcome,
        d.map(|d| d.code),
        c.verdict.stage,
        c.verdict.ended_by,
        d.map(|d| d.confidence),
        c.warnings.iter().map(|w| w.code).collect::<Vec<_>>(),
    )
}

/// What the bytes said, with the frames that said it: unchanged when only times change.
pub fn wire_facts(c: &Connection) -> String {
    let alerts: Vec<_> = c.alerts.iter().map(|a| (a.frame, &a.description)).collect();
    let (sni, version, cipher) = (&c.sni, &c.version, &c.cipher);
    format!(
        "{sni:?} {version:?} {cipher:?} {:?} {alerts:?} {}",
        subjects(c),
        c.gaps.len()
    )
}

fn subjects(c: &Connection) -> Vec<&str> {
    c.certificates.iter().map(|x| x.subject.as_str()).collect()
}

/// A small deterministic generator (xorshift), so that derived captures reproduce.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// `syn` sent `n` times, 10 µs apart, each from a random spoofed source address and port.
pub fn syn_flood(syn: &Owned, n: usize, mut out: impl FnMut(Owned)) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..n {
        let mut p = syn.clone();
        let r = rng.next();
        Tcp::of(&mut p).expect("an Ethernet/IPv4 SYN").set_src(
            [10, (r >> 8) as u8, (r >> 16) as u8, (r >> 24) as u8],
            r as u16 | 1024,
        );
        p.ts = Timestamp::new(
            syn.ts.secs + (i / 100_000) as i64,
            syn.ts.nanos + (i % 100_000) as u32 * 10_000,
        );
        out(p);
    }
}

/// A connection's packets with `bytes` of random garbage sent by the client between the
/// handshake's ACK and its ClientHello, in 1,448-byte segments (the client's later sequence
/// numbers and the server's acknowledgments moved by as much).
pub fn garbage_before_hello(packets: &[Owned], bytes: usize, mut out: impl FnMut(Owned)) {
    let hello_at = packets
        .iter()
        .position(|p| tcp_offsets(&p.data).and_then(|(_, at)| p.data.get(at)) == Some(&0x16))
        .expect("a ClientHello");
    let mut template = packets[hello_at].clone();
    let mut t = Tcp::of(&mut template).expect("Ethernet/IPv4/TCP");
    let (client_port, first_seq) = (t.src_port(), t.seq());
    t.set_payload(&[]);
    let mut rng = Rng(7);
    packets[..hello_at].iter().cloned().for_each(&mut out);
    let mut sent = 0;
    let mut chunk = Vec::with_capacity(1448);
    while sent < bytes {
        chunk.clear();
        chunk.extend((0..1448.min(bytes - sent)).map(|_| rng.next() as u8));
        let mut p = template.clone();
        let mut t = Tcp::of(&mut p).expect("Ethernet/IPv4/TCP");
        t.set_seq(first_seq.wrapping_add(sent as u32));
        t.set_payload(&chunk);
        out(p);
        sent += chunk.len();
    }
    for mut p in packets[hello_at..].iter().cloned() {
        if let Some(mut t) = Tcp::of(&mut p) {
            if t.src_port() == client_port {
                let seq = t.seq().wrapping_add(bytes as u32);
                t.set_seq(seq);
            } else if t.flags() & 0x10 != 0 {
                let ack = t.ack().wrapping_add(bytes as u32);
                t.set_ack(ack);
            }
        }
        out(p);
    }
}

/// The packet's TCP payload cut into `size`-byte pieces, each its own packet (the link and
/// IP headers copied, IP length and sequence number adjusted), each piece but the first
/// starting `overlap` bytes early so that it repeats the end of the one before. SYN and FIN
/// packets, and packets with no payload, stay whole.
pub fn resegment(p: &Owned, size: usize, overlap: usize) -> Vec<Owned> {
    let mut q = p.clone();
    let Some(t) = Tcp::of(&mut q) else {
        return vec![p.clone()];
    };
    let (payload, seq, flags) = (t.payload().to_vec(), t.seq(), t.flags());
    if payload.len() <= size || flags & 0x03 != 0 {
        return vec![p.clone()];
    }
    let mut out = Vec::new();
    let mut at = 0;
    while at < payload.len() {
        let start = at.saturating_sub(if at == 0 { 0 } else { overlap });
        let end = (at + size).min(payload.len());
        let mut piece = p.clone();
        let mut t = Tcp::of(&mut piece).expect("Ethernet/IPv4/TCP");
        t.set_seq(seq.wrapping_add(start as u32));
        t.set_payload(&payload[start..end]);
        out.push(piece);
        at = end;
    }
    out
}
