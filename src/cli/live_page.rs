//! `live --html FILE`: the HTML report of a live capture, rewritten every few seconds while
//! it runs and once more when it stops. The connections' markup is kept (within
//! --html-max-bytes) so that each rewrite is the head, the rows so far and a fresh summary;
//! the file is replaced by a rename, so a reader never sees half a page.

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tlsdiag::capture::FileStats;
use tlsdiag::connection::Connection;
use tlsdiag::report::{HtmlDocument, HtmlOptions, Summary};

pub(crate) struct LivePage {
    path: PathBuf,
    every: Duration,
    written_at: Instant,
    doc: HtmlDocument,
    /// The connections' markup so far, bounded by the document's size bound.
    rows: Vec<u8>,
}

impl LivePage {
    pub(crate) fn new(path: PathBuf, every: Duration, options: HtmlOptions) -> Self {
        LivePage {
            path,
            every,
            written_at: Instant::now(),
            doc: HtmlDocument::new(options),
            rows: Vec::new(),
        }
    }

    /// Counts a judged connection, and keeps its markup when the filters show it.
    pub(crate) fn add(&mut self, conn: &Connection, shown: bool) -> io::Result<()> {
        self.doc.count(conn);
        if shown {
            self.doc.connection(&mut self.rows, conn)?;
        }
        Ok(())
    }

    /// Whether the page is due for a rewrite.
    pub(crate) fn due(&self) -> bool {
        self.written_at.elapsed() >= self.every
    }

    /// Rewrites the page while the capture runs: the summary so far, with the packets the
    /// analyser has counted (the summary gets them only at the end).
    pub(crate) fn write_running(
        &mut self,
        summary: &Summary,
        top: usize,
        source: &str,
        counters: &tlsdiag::analyze::PacketCounters,
    ) -> io::Result<()> {
        let mut now = summary.clone();
        let stats = FileStats {
            packets: counters.packets,
            bytes: counters.bytes,
            ..FileStats::default()
        };
        now.add_counters(source, &stats, None, counters);
        now.finish(top);
        self.write(&now)
    }

    /// Writes the page beside its path, then renames it into place.
    pub(crate) fn write(&mut self, summary: &Summary) -> io::Result<()> {
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let mut out = io::BufWriter::new(std::fs::File::create(&tmp)?);
        self.doc.begin(&mut out)?;
        out.write_all(&self.rows)?;
        self.doc.end(&mut out, summary)?;
        out.into_inner().map_err(io::IntoInnerError::into_error)?;
        std::fs::rename(&tmp, &self.path)?;
        self.written_at = Instant::now();
        Ok(())
    }
}
