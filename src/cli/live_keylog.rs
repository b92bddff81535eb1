//! `live --keylog FILE`: the key log files followed while the capture runs, as `tail -F`
//! would: the lines a client appends are read (whole lines only, each file its own), a file
//! that does not exist yet is opened once it does, and a file truncated or replaced is read
//! again from its start. As with `tail -F`, truncation is seen by the file being shorter
//! than what was read: one rewritten to at least that length between two looks is not.

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
    /// Its place among the --keylog files, from 1: how its lines are named.
    number: u32,
    /// The file open, and its inode: another one at the path is a new file.
    open: Option<(File, u64)>,
    lines: Lines,
    /// The file's absence has been said.
    said_missing: bool,
    /// The last error said, until a read succeeds.
    said_error: Option<String>,
}

impl Follower {
    /// Follows `paths` into a new key log. Errors other than a missing file end the run.
    pub(crate) fn new(paths: &[PathBuf]) -> io::Result<Follower> {
        let files = paths
            .iter()
            .zip(1..)
            .map(|(path, n)| Followed {
                path: path.clone(),
                number: n,
                open: None,
                lines: Lines::for_file(n),
                said_missing: false,
                said_error: None,
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
    /// file that cannot be read now is said on stderr (once until it can be again) and tried
    /// again later; the others are read all the same.
    pub(crate) fn poll(&mut self) -> bool {
        if self.looked_at.is_some_and(|at| at.elapsed() < EVERY) {
            return false;
        }
        self.looked_at = Some(Instant::now());
        let mut added = false;
        for file in &mut self.files {
            match file.read_new(&self.keylog) {
                Ok(more) => {
                    file.said_error = None;
                    added |= more;
                }
                Err(e) => {
                    let said = e.to_string();
                    if file.said_error.as_ref() != Some(&said) {
                        eprintln!("tlsdiag: reading the key log: {said}");
                        file.said_error = Some(said);
                    }
                }
            }
        }
        added
    }

    /// Reads what the files gained now, whenever it last looked; the first error ends it.
    pub(crate) fn read(&mut self) -> io::Result<bool> {
        self.looked_at = Some(Instant::now());
        let mut added = false;
        for file in &mut self.files {
            added |= file.read_new(&self.keylog)?;
        }
        Ok(added)
    }
}

impl Followed {
    /// Adds `text` to the key log; whether secrets were added.
    fn add(&mut self, keylog: &SharedKeyLog, text: &[u8]) -> bool {
        let lines = &mut self.lines;
        !text.is_empty() && keylog.update(|log| log.add_text_from(lines, text))
    }

    /// Reads into the key log what the file gained since the last read (all of a file newly
    /// opened); whether secrets were added. Only a regular file is followed: a pipe or a
    /// device would block the capture while it waits for more.
    fn read_new(&mut self, keylog: &SharedKeyLog) -> io::Result<bool> {
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
            Err(e) => return Err(self.named(e)),
        };
        if at_path.as_ref().is_some_and(|meta| !meta.is_file()) {
            let e = "not a regular file: live --keylog follows a file as clients append to it";
            return Err(self.named(io::Error::new(io::ErrorKind::InvalidInput, e)));
        }
        let replaced = match (&self.open, &at_path) {
            (Some((_, inode)), Some(meta)) => meta.ino() != *inode,
            (None, Some(_)) => true,
            _ => false,
        };
        let mut added = false;
        if replaced {
            // What the file it replaces gained before it was, then that one's last line.
            if let Some((mut old, _)) = self.open.take() {
                let mut text = Vec::new();
                old.by_ref().take(READ_AT_MOST).read_to_end(&mut text)?;
                added |= self.add(keylog, &text);
                let lines = &mut self.lines;
                added |= keylog.update(|log| log.finish_from(lines));
            }
            let file = File::open(&self.path).map_err(|e| self.named(e))?;
            let inode = file.metadata()?.ino();
            self.open = Some((file, inode));
            self.lines = Lines::for_file(self.number);
        }
        let Some((file, _)) = self.open.as_mut() else {
            return Ok(added);
        };
        let position = file.stream_position()?;
        if file.metadata()?.len() < position {
            // Truncated: written again from its start.
            file.seek(SeekFrom::Start(0))?;
            self.lines = Lines::for_file(self.number);
        }
        let mut text = Vec::new();
        file.by_ref().take(READ_AT_MOST).read_to_end(&mut text)?;
        Ok(self.add(keylog, &text) || added)
    }

    fn named(&self, e: io::Error) -> io::Error {
        io::Error::new(e.kind(), format!("{}: {e}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RANDOM: &str = "77aa3086bf94e8a074faeacceded99914f966ca8822c1166f94fdd14ae715ad5";

    fn line(n: u8) -> String {
        let master = format!("{n:02x}").repeat(48);
        format!("CLIENT_RANDOM {RANDOM} {master}\n")
    }

    fn master(follower: &Follower) -> Option<Vec<u8>> {
        let random: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&RANDOM[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        let random: [u8; 32] = random.try_into().unwrap();
        let secrets = follower.keylog().secrets(&random)?;
        Some(secrets.master_secret?.as_bytes().to_vec())
    }

    #[test]
    fn follows_a_file_made_later_appended_truncated_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.log");
        let mut f = Follower::new(std::slice::from_ref(&path)).unwrap();
        assert!(!f.read().unwrap());
        // Made, with half a line: nothing until its newline.
        let first = line(1);
        let (head, tail) = first.split_at(30);
        std::fs::write(&path, head).unwrap();
        assert!(!f.read().unwrap());
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        std::io::Write::write_all(&mut file, tail.as_bytes()).unwrap();
        assert!(f.read().unwrap());
        assert_eq!(master(&f), Some(vec![1; 48]));
        // Truncated (seen as it is shorter than what was read), then written again.
        std::fs::write(&path, "").unwrap();
        assert!(!f.read().unwrap());
        std::fs::write(&path, line(2)).unwrap();
        assert!(f.read().unwrap());
        assert_eq!(master(&f), Some(vec![2; 48]));
        // Replaced by another file (a new inode), longer than what was read; what the old one
        // gained before is read first.
        let mut old = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        std::io::Write::write_all(&mut old, line(4).as_bytes()).unwrap();
        let other = dir.path().join("other.log");
        std::fs::write(&other, format!("# {}\n{}", "x".repeat(200), line(3))).unwrap();
        std::fs::rename(&other, &path).unwrap();
        let before = f.keylog().read(|log| log.stats().secrets);
        assert!(f.read().unwrap());
        assert_eq!(f.keylog().read(|log| log.stats().secrets), before + 2);
        assert_eq!(master(&f), Some(vec![3; 48]));
        assert_eq!(f.keylog().read(|log| log.stats().malformed), 0);
    }

    #[test]
    fn only_a_regular_file_is_followed() {
        let dir = tempfile::tempdir().unwrap();
        let error = Follower::new(&[dir.path().to_path_buf()]).err().unwrap();
        assert!(error.to_string().contains("not a regular file"), "{error}");
    }
}
