//! `analyze --write-failures FILE`: the packets of every connection that did not establish,
//! in capture order, as one pcapng whose decisive packet of each connection carries its
//! verdict, cause and fix as packet comments (Wireshark's `frame.comment`).
//!
//! Connections come in the report's order, not in frame order, and one judged late may hold
//! packets from before all of another's. So each connection's packets are set aside as they
//! come, as finished pcapng blocks in a temporary file beside the output, with an index entry
//! of a few words each, and the file is written at the end, input file by input file in frame
//! order. Memory holds the index, never the packets.

use super::text::{Style, verdict_line};
use crate::analyze::SavedPacket;
use crate::capture::{LinkType, PcapNgWriter, packet_block};
use crate::connection::{Connection, Outcome};
use crate::wire_text::Escaped;
use serde::Serialize;
use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// What went into the file, for the summary.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FailuresWritten {
    pub(crate) path: String,
    /// Connections that did not establish (failed or incomplete) and that the filters kept.
    pub(crate) connections: u64,
    /// Their packets written.
    pub(crate) packets: u64,
    /// Of those connections, the ones with packets not in the file: more than a
    /// connection's bound (its first ones), the data of one the capture joined after its start,
    /// or past the budget of all (`packets_not_kept`).
    pub(crate) connections_cut: u64,
}

impl FailuresWritten {
    /// What was written where, in a line; then, when some connections are there in part, why.
    pub(crate) fn lines(&self) -> (String, Option<String>) {
        use super::text_groups::plural;
        let written = format!(
            "{} {} of {} {} that did not establish to {}",
            self.packets,
            plural(self.packets, "packet", "packets"),
            self.connections,
            plural(self.connections, "connection", "connections"),
            self.path
        );
        let cut = (self.connections_cut > 0).then(|| {
            format!(
                "{} of them in part: a connection's last 64 packets and 256 KiB are kept (of one the capture joined late, those until that was known), within the budget of all",
                self.connections_cut
            )
        });
        (written, cut)
    }
}

/// Where a block set aside lies, and where it goes.
struct Spilled {
    file: u32,
    frame: u64,
    offset: u64,
    len: u32,
}

/// Collects the failures' packets as they are reported, and writes the file at the end.
pub struct FailureWriter {
    out: File,
    spill: BufWriter<File>,
    spilled: u64,
    index: Vec<Spilled>,
    /// The input files, as named on the command line.
    files: Vec<String>,
    /// The pcapng interfaces: one per input file and link type, numbered as they first come.
    interfaces: Vec<(u32, LinkType)>,
    written: FailuresWritten,
}

impl FailureWriter {
    /// Creates the file now, so that a path that cannot be written fails before the analysis,
    /// and the temporary file for the blocks beside it (removed whatever happens). A path that
    /// is one of the `inputs` is refused: creating it would empty a capture before it is read.
    pub fn create(path: &Path, inputs: &[String]) -> io::Result<Self> {
        if let Ok(existing) = path.canonicalize()
            && inputs
                .iter()
                .any(|i| Path::new(i).canonicalize().is_ok_and(|p| p == existing))
        {
            let e = "is one of the captures to read: it would be overwritten";
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, e));
        }
        let out = File::create(path)?;
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let spill = BufWriter::new(tempfile::tempfile_in(dir)?);
        Ok(FailureWriter {
            out,
            spill,
            spilled: 0,
            index: Vec::new(),
            files: Vec::new(),
            interfaces: Vec::new(),
            written: FailuresWritten {
                path: path.display().to_string(),
                ..FailuresWritten::default()
            },
        })
    }

    /// The connections added from now on come from this input file.
    pub fn begin_file(&mut self, name: &str) {
        self.files.push(name.to_string());
    }

    /// Sets aside the packets of a connection that did not establish (failed or incomplete;
    /// any other is left out), the decisive one with the connection's verdict as comments.
    pub fn add(&mut self, conn: &Connection, packets: &[SavedPacket]) -> io::Result<()> {
        if !matches!(conn.verdict.outcome, Outcome::Failed | Outcome::Incomplete) {
            return Ok(());
        }
        self.set_aside(conn, packets)
            .map_err(|e| naming(&self.written.path, e))
    }

    fn set_aside(&mut self, conn: &Connection, packets: &[SavedPacket]) -> io::Result<()> {
        self.written.connections += 1;
        if cut(conn, packets) {
            self.written.connections_cut += 1;
        }
        let file = u32::try_from(self.files.len().saturating_sub(1)).unwrap_or(u32::MAX);
        let decisive = decisive_packet(conn, packets);
        for (i, saved) in packets.iter().enumerate() {
            let interface = self.interface(file, saved.link);
            let comments = if Some(i) == decisive {
                let name = self.files.last().map_or("", String::as_str);
                comments(conn, name, saved.frame, packets)
            } else {
                Vec::new()
            };
            let block = packet_block(interface, &saved.packet(), &comments)?;
            let len = u32::try_from(block.len())
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "block over 4 GiB"))?;
            self.spill.write_all(&block)?;
            self.index.push(Spilled {
                file,
                frame: saved.frame,
                offset: self.spilled,
                len,
            });
            self.spilled += u64::from(len);
        }
        self.written.packets += packets.len() as u64;
        Ok(())
    }

    /// The interface of `link` in `file`, described on first use.
    fn interface(&mut self, file: u32, link: LinkType) -> u32 {
        let found = self.interfaces.iter().position(|&i| i == (file, link));
        let at = found.unwrap_or_else(|| {
            self.interfaces.push((file, link));
            self.interfaces.len() - 1
        });
        u32::try_from(at).unwrap_or(u32::MAX)
    }

    /// Writes the file: the section header naming the inputs, the interfaces, then every
    /// packet set aside, by input file and frame.
    pub fn finish(self) -> io::Result<FailuresWritten> {
        let path = self.written.path.clone();
        self.write().map_err(|e| naming(&path, e))
    }

    fn write(mut self) -> io::Result<FailuresWritten> {
        let mut spill = self
            .spill
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?;
        self.index.sort_unstable_by_key(|s| (s.file, s.frame));
        let application = format!("tlsdiag {}", env!("CARGO_PKG_VERSION"));
        let out = BufWriter::new(self.out);
        let mut w = PcapNgWriter::new(out, &section_comments(&self.files), &application)?;
        for &(file, link) in &self.interfaces {
            let name = self.files.get(file as usize).map_or("", String::as_str);
            w.interface(link, &format!("{} ({})", Escaped(name), link.name()))?;
        }
        let mut block = Vec::new();
        for s in &self.index {
            block.resize(s.len as usize, 0);
            spill.seek(SeekFrom::Start(s.offset))?;
            spill.read_exact(&mut block)?;
            w.block(&block)?;
        }
        w.into_inner()
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?;
        Ok(self.written)
    }
}

/// An error that says which file it is about (the report's own errors go to standard output).
fn naming(path: &str, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", Escaped(path)))
}

/// The packet to carry the verdict: the decisive frame's; when the connection's bound left
/// it out, the last one before it, else the first one kept.
fn decisive_packet(conn: &Connection, packets: &[SavedPacket]) -> Option<usize> {
    let frame = conn.verdict.frame;
    let before = packets.iter().rposition(|p| p.frame <= frame);
    before.or((!packets.is_empty()).then_some(0))
}

/// The verdict line, the one-line summary, the cause and the fix, as the text report words
/// them, each its own comment (a comment holds no newline); `at` is the frame that carries
/// them.
fn comments(conn: &Connection, file: &str, at: u64, packets: &[SavedPacket]) -> Vec<String> {
    let v = &conn.verdict;
    let mut first = format!(
        "tlsdiag: tcp.stream {} of {}: {}",
        conn.tcp_stream,
        Escaped(file),
        verdict_line(conn, Style::default())
    );
    if at != v.frame {
        first.push_str(&format!(" (frame {} is not in this file)", v.frame));
    }
    let mut lines = vec![first, Escaped(&v.reason).to_string()];
    if let Some(d) = &conn.diagnosis {
        lines.push(format!("cause: {}", Escaped(&d.cause)));
        lines.push(format!("fix: {}", Escaped(&d.fix)));
    }
    if cut(conn, packets) {
        let why = if conn.start_unseen() {
            "the capture joined it after its start, and tlsdiag keeps such a connection's \
            packets until it knows that, not the data after them"
        } else {
            "tlsdiag keeps a connection's last packets, within a budget for all \
            (packets_not_kept)"
        };
        lines.push(format!(
            "{} of the connection's {} TCP packets are in this file, from frame {}: {why}",
            packets.len(),
            tcp_packets(conn),
            packets.first().map_or(at, |p| p.frame)
        ));
    }
    lines
}

/// Whether some of the connection's packets were not kept: its first ones (beyond a
/// connection's bound), the data of one the capture joined late, or any (the budget of all). An ICMP error kept with them may hide a
/// missing one; fragments of a reassembled segment are never kept.
fn cut(conn: &Connection, packets: &[SavedPacket]) -> bool {
    let first_missing = packets.first().is_none_or(|p| p.frame > conn.first_frame);
    first_missing || (packets.len() as u64) < tcp_packets(conn)
}

fn tcp_packets(conn: &Connection) -> u64 {
    conn.tcp.packets.client + conn.tcp.packets.server
}

/// What the file is, and the input files, one comment each.
fn section_comments(files: &[String]) -> Vec<String> {
    let mut comments = vec![
        "tlsdiag analyze --write-failures: the packets of the TLS connections that did not \
        establish (failed or incomplete), in capture order; the decisive packet of each carries \
        its verdict, cause and fix as packet comments"
            .to_string(),
    ];
    comments.extend(files.iter().map(|f| format!("from {}", Escaped(f))));
    comments
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(frames: &[u64]) -> Vec<SavedPacket> {
        frames
            .iter()
            .map(|&frame| SavedPacket {
                frame,
                ts: crate::capture::Timestamp::default(),
                link: LinkType::ETHERNET,
                data: Vec::new(),
                orig_len: 0,
            })
            .collect()
    }

    #[test]
    fn the_verdict_goes_on_the_decisive_frame_or_the_last_before_it() {
        let mut conn = Connection::default();
        conn.verdict.frame = 8;
        assert_eq!(decisive_packet(&conn, &kept(&[1, 2, 8, 9])), Some(2));
        assert_eq!(decisive_packet(&conn, &kept(&[1, 2, 9])), Some(1));
        assert_eq!(decisive_packet(&conn, &kept(&[9, 10])), Some(0));
        assert_eq!(decisive_packet(&conn, &kept(&[])), None);
    }

    #[test]
    fn a_connection_is_cut_when_its_first_or_any_packet_is_missing() {
        let mut conn = Connection {
            first_frame: 1,
            ..Connection::default()
        };
        conn.tcp.packets.client = 2;
        conn.tcp.packets.server = 2;
        assert!(!cut(&conn, &kept(&[1, 2, 3, 4])));
        assert!(cut(&conn, &kept(&[2, 3, 4])));
        assert!(cut(&conn, &kept(&[1, 2, 4])));
        assert!(cut(&conn, &kept(&[])));
    }
}
