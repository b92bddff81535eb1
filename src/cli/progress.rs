//! A progress bar on stderr while a big file is read: shown once reading has taken a second,
//! and only when stderr is a terminal, so that pipes, logs and tests never see it.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{self, IsTerminal, Read};
use std::time::{Duration, Instant};

const SHOW_AFTER: Duration = Duration::from_secs(1);

/// Counts the bytes read from a file of `len` bytes.
pub struct Progress<R> {
    inner: R,
    bar: Option<ProgressBar>,
    start: Instant,
    shown: bool,
}

impl<R: Read> Progress<R> {
    pub fn new(inner: R, len: Option<u64>) -> Self {
        let bar = (io::stderr().is_terminal())
            .then_some(len)
            .flatten()
            .map(|len| {
                let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden());
                if let Ok(style) = ProgressStyle::with_template(
                    "{bar:40} {bytes}/{total_bytes} {bytes_per_sec}, {eta} left",
                ) {
                    bar.set_style(style);
                }
                bar
            });
        Progress {
            inner,
            bar,
            start: Instant::now(),
            shown: false,
        }
    }
}

impl<R: Read> Read for Progress<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(bar) = &self.bar {
            bar.inc(n as u64);
            if !self.shown && self.start.elapsed() >= SHOW_AFTER {
                bar.set_draw_target(ProgressDrawTarget::stderr());
                self.shown = true;
            }
        }
        Ok(n)
    }
}

impl<R> Drop for Progress<R> {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
