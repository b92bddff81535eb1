//! `live --keylog FILE`: the key log files followed while the capture runs, as `tail -F`
//! would: the lines a client appends are read (whole lines only, each file its own), a file
//! that does not exist yet is opened once it does, and a file truncated or replaced is read
//! again from its start.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tlsdiag::tls::keylog::{KeyLog, Lines, SharedKeyLog};

/// How often the files are looked at: a key log line is written once per handshake, and a
/// connection waiting for its keys waits seconds.
const EVERY: Duration = Duration::from_millis(100);
/// Read at most this much per look, so that a huge file does not stall the capture.
const READ_AT_MOST: u64 = 4 << 20;

pub(crate) struct Follower {
    files: Vec<Followed>,
    keylog: SharedKeyLog,
    looked_at: Option<Instant>,
}

struct Followed {
    path: PathBuf,
    /// The file open, and its inode: another one at the path is a new file.
    open: Option<(File, u64)>,
    lines: Lines,
    /// The file's absence has been said.
    said_missing: bool,
}

impl Follower {
    /// Follows `paths` into a new key log. Errors other than a missing file end the run.
    pub(crate) fn new(paths: &[PathBuf]) -> io::Result<Follower> {
        let files = paths
            .iter()
            .map(|path| Followed {
                path: path.clone(),
                open: None,
                lines: Lines::default(),
                said_missing: false,
            })
            .collect();
        let mut follower = Follower {
            files,
            keylog: SharedKeyLog::following(KeyLog::default()),
            looked_at: None,
        };
        follower.read()?;
        Ok(follower)
    }

    pub(crate) fn keylog(&self) -> &SharedKeyLog {
        &self.keylog
    }

    /// Reads what the files gained, at most every `EVERY`; whether secrets were added. A
    /// file that cannot be read now is said once on stderr and tried again later.
    pub(crate) fn poll(&mut self) -> bool {
        if self.looked_at.is_some_and(|at| at.elapsed() < EVERY) {
            return false;
        }
        match self.read() {
            Ok(added) => added,
            Err(e) => {
                eprintln!("tlsdiag: reading the key log: {e}");
                false
            }
        }
    }

    /// Reads what the files gained now, whenever it last looked.
    pub(crate) fn read(&mut self) -> io::Result<bool> {
        self.looked_at = Some(Instant::now());
        let mut added = false;
        for file in &mut self.files {
            let text = file.read_new()?;
            if !text.is_empty() {
                let lines = &mut file.lines;
                added |= self.keylog.update(|log| log.add_text_from(lines, &text));
            }
        }
        Ok(added)
    }
}

impl Followed {
    /// The bytes added since the last read: all of a file newly opened.
    fn read_new(&mut self) -> io::Result<Vec<u8>> {
        let at_path = match std::fs::metadata(&self.path) {
            Ok(meta) => Some(meta),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if !self.said_missing && self.open.is_none() {
                    eprintln!(
                        "tlsdiag: key log {} does not exist yet: it is read once it does",
                        self.path.display()
                    );
                    self.said_missing = true;
                }
                None
            }
            Err(e) => return Err(io::Error::new(e.kind(), self.named(e))),
        };
        let replaced = match (&self.open, &at_path) {
            (Some((_, inode)), Some(meta)) => meta.ino() != *inode,
            (None, Some(_)) => true,
            _ => false,
        };
        if replaced && let Some(meta) = &at_path {
            let file = File::open(&self.path).map_err(|e| self.named(e))?;
            self.open = Some((file, meta.ino()));
            self.lines = Lines::default();
        }
        let Some((file, _)) = self.open.as_mut() else {
            return Ok(Vec::new());
        };
        let position = file.stream_position()?;
        if file.metadata()?.len() < position {
            // Truncated: written again from its start.
            file.seek(SeekFrom::Start(0))?;
            self.lines = Lines::default();
        }
        let mut text = Vec::new();
        file.by_ref().take(READ_AT_MOST).read_to_end(&mut text)?;
        Ok(text)
    }

    fn named(&self, e: io::Error) -> io::Error {
        io::Error::new(e.kind(), format!("{}: {e}", self.path.display()))
    }
}
