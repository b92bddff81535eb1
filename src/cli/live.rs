//! `tlsdiag live` and `tlsdiag interfaces`: packets from libpcap through the same analyser as
//! a file's, each connection reported as it establishes, closes or goes idle, and the packets
//! of each failure saved for Wireshark. Without the `live` build feature, both commands say how
//! to get it.

use crate::ReportArgs;
use std::path::PathBuf;
#[cfg(not(feature = "live"))]
use std::process::ExitCode;
use std::time::Duration;

#[derive(clap::Args)]
#[cfg_attr(not(feature = "live"), allow(dead_code))]
pub struct LiveArgs {
    /// Interface to capture on ('any' for all of them; see `tlsdiag interfaces`).
    #[arg(short = 'i', long, value_name = "NAME")]
    interface: String,
    /// BPF capture filter, replacing the default (TCP, and ICMP for unreachable errors).
    #[arg(short = 'f', long, value_name = "BPF")]
    filter: Option<String>,
    /// Report a connection silent this long as it stands (e.g. 30s, 2m, 500ms).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    idle_timeout: Duration,
    /// Write the recent packets of each failed connection to DIR/<time>-<server>-<code>.pcap.
    #[arg(long, value_name = "DIR")]
    save_failures: Option<PathBuf>,
    /// Stop after this long (e.g. 30s, 10m).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Stop after this many packets.
    #[arg(short = 'c', long, value_name = "N")]
    count: Option<u64>,
    /// The kernel's capture ring (e.g. 32M, 256M): room for bursts.
    #[arg(short = 'B', long, value_name = "SIZE", default_value = "32M", value_parser = crate::parse_size)]
    buffer_size: usize,
    /// Also write the HTML report to FILE: rewritten every --html-every while the capture
    /// runs, and when it stops.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// How often --html rewrites its file (e.g. 10s, 1m).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    html_every: Duration,
    #[command(flatten)]
    report: ReportArgs,
}

/// "30s", "5m", "1h", "250ms", or plain seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration (30s, 5m, 1h, 250ms)"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("'{text}': the unit is ms, s, m or h")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("'{text}': {e}"))
}

#[cfg(not(feature = "live"))]
const NOT_BUILT: &str = "this tlsdiag was built without live capture. Build it with:\n  \
    cargo build --release --features live\n\
    which needs libpcap's headers (Debian/Ubuntu: apt-get install libpcap-dev).";

#[cfg(not(feature = "live"))]
pub fn run(_: &LiveArgs) -> ExitCode {
    eprintln!("tlsdiag: {NOT_BUILT}");
    ExitCode::from(2)
}

#[cfg(not(feature = "live"))]
pub fn interfaces() -> ExitCode {
    eprintln!("tlsdiag: {NOT_BUILT}");
    ExitCode::from(2)
}

#[cfg(feature = "live")]
pub use with_pcap::{interfaces, run};

#[cfg(feature = "live")]
mod with_pcap {
    use super::LiveArgs;
    use crate::cli::live_keylog::Follower;
    use crate::cli::live_page::LivePage;
    use crate::{Format, Sink, output_error};
    use signal_hook::consts::{SIGINT, SIGTERM, SIGUSR1};
    use std::io::{self, IsTerminal, Write};
    use std::path::PathBuf;
    use std::process::ExitCode;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
    use tlsdiag::analyze::{Analyzer, Finished, Options, PacketRingLimits};
    use tlsdiag::capture::live::{self, LiveCapture, LiveStats};
    use tlsdiag::capture::{FileStats, LinkType, PcapWriter, Timestamp};
    use tlsdiag::connection::{Code, Connection, Outcome};
    use tlsdiag::report::{CaptureStats, KeyLogSummary};

    /// A connection reported and closed is forgotten after this many quiet seconds (its last
    /// ACKs must not start a new record).
    const LINGER_SECS: f64 = 5.0;
    /// How often idle connections are looked for.
    const SWEEP: Duration = Duration::from_secs(1);
    /// How often the status line is written on a terminal.
    const STATUS_EVERY: Duration = Duration::from_secs(5);

    pub fn interfaces() -> ExitCode {
        match live::interfaces() {
            Ok(list) => {
                for i in list {
                    let state = if i.up { "up" } else { "down" };
                    let running = if i.running { ", running" } else { "" };
                    let lo = if i.loopback { ", loopback" } else { "" };
                    let addrs: Vec<String> = i.addresses.iter().map(|a| a.to_string()).collect();
                    let desc = i
                        .description
                        .map(|d| format!("  ({d})"))
                        .unwrap_or_default();
                    println!(
                        "{:<16} {state}{running}{lo}  {}{desc}",
                        i.name,
                        addrs.join(" ")
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("tlsdiag: {e}");
                ExitCode::FAILURE
            }
        }
    }

    fn now() -> Timestamp {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp::new(
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            d.subsec_nanos(),
        )
    }

    /// Where the packets of failures go.
    struct Saver {
        dir: PathBuf,
        link: LinkType,
        saved: u64,
    }

    impl Saver {
        fn save(
            &mut self,
            conn: &Connection,
            packets: &[tlsdiag::analyze::SavedPacket],
        ) -> Option<String> {
            match self.write(conn, packets) {
                Ok(path) => {
                    self.saved += 1;
                    Some(path.display().to_string())
                }
                Err(e) => {
                    eprintln!(
                        "tlsdiag: cannot save the packets of tcp.stream {}: {e}",
                        conn.tcp_stream
                    );
                    None
                }
            }
        }

        fn write(
            &self,
            conn: &Connection,
            packets: &[tlsdiag::analyze::SavedPacket],
        ) -> io::Result<PathBuf> {
            let path = self.unused_path(&file_name(conn));
            let file = std::fs::File::create_new(&path)?;
            let mut w = PcapWriter::new(io::BufWriter::new(file), self.link, live::SNAPLEN as u32)?;
            for p in packets {
                w.write(&p.packet())?;
            }
            w.into_inner().flush()?;
            Ok(path)
        }

        fn unused_path(&self, name: &str) -> PathBuf {
            let mut path = self.dir.join(format!("{name}.pcap"));
            let mut n = 1;
            while path.exists() {
                n += 1;
                path = self.dir.join(format!("{name}-{n}.pcap"));
            }
            path
        }
    }

    /// `<time>-<server>-<code>`: the connection's start in UTC, its SNI (or address and port),
    /// its diagnosis; only characters safe in any file system.
    fn file_name(conn: &Connection) -> String {
        let time: String = conn
            .start
            .to_string()
            .chars()
            .filter(|c| !matches!(c, '-' | ':'))
            .collect();
        let server = match (&conn.sni, conn.server) {
            (Some(sni), _) => sni.as_str().to_string(),
            (None, Some(s)) => format!("{}_{}", s.ip, s.port),
            (None, None) => "unknown".to_string(),
        };
        let code = conn
            .diagnosis
            .as_ref()
            .and_then(|d| serde_json::to_value(d.code).ok())
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "failed".to_string());
        format!("{time}-{server}-{code}")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    }

    /// Packets per second since the last status line.
    struct Rate(f64);

    impl Rate {
        fn since((at, packets_then): (Instant, u64), packets: u64) -> Rate {
            let secs = at.elapsed().as_secs_f64().max(1e-3);
            Rate(packets.saturating_sub(packets_then) as f64 / secs)
        }
    }

    fn status_line(
        sink: &Sink<'_>,
        analyzer: &Analyzer,
        stats: Option<LiveStats>,
        rate: Rate,
    ) -> String {
        let s = &sink.summary;
        let dropped = stats.map_or("unknown".to_string(), |s| {
            let lost = s.dropped + s.if_dropped;
            let seen = s.received.max(1) as f64;
            format!("{lost} ({:.2}%)", lost as f64 * 100.0 / seen)
        });
        format!(
            "tlsdiag: {} packets, {:.0}/s · {} connections open · {} established, {} failed, {} incomplete, {} not_tls · dropped {dropped}",
            analyzer.counters().packets,
            rate.0,
            analyzer.open_connections(),
            s.outcome(Outcome::Established),
            s.outcome(Outcome::Failed),
            s.outcome(Outcome::Incomplete),
            s.outcome(Outcome::NotTls),
        )
    }

    pub fn run(args: &LiveArgs) -> ExitCode {
        let Some((options, capture, keys)) = open(args) else {
            return ExitCode::FAILURE;
        };
        let signals = Signals::register();
        eprintln!(
            "tlsdiag: capturing on {} ({}), filter '{}'",
            args.interface,
            capture.link().name(),
            args.filter.as_deref().unwrap_or(live::DEFAULT_FILTER)
        );
        let saver = args.save_failures.as_ref().map(|dir| Saver {
            dir: dir.clone(),
            link: capture.link(),
            saved: 0,
        });
        let stdout = io::stdout();
        let mut sink = args.report.sink(
            tlsdiag::link::Linking::Print,
            &format!("a live capture on {}", args.interface),
        );
        sink.summary.keylog = options.keylog.as_ref().map(|k| k.read(KeyLogSummary::of));
        let page = args.html.as_ref().map(|path| {
            let options = tlsdiag::report::HtmlOptions {
                title: format!("a live capture on {}", args.interface),
                max_bytes: args.report.html_max_bytes as u64,
            };
            LivePage::new(path.clone(), args.html_every, options)
        });
        let mut session = Session {
            capture,
            analyzer: Analyzer::new(options),
            sink,
            out: io::BufWriter::new(stdout.lock()),
            saver,
            drops: DropLog::default(),
            page,
            keys,
        };
        let run = (|| -> io::Result<bool> {
            session.sink.begin(&mut session.out)?;
            // Written at once, so that a path that cannot be written stops the run now.
            session.write_page(args)?;
            let failed = session.read(args, &signals)?;
            session.end(args)?;
            Ok(failed)
        })();
        match run {
            Err(e) => output_error(&e),
            Ok(true) => ExitCode::FAILURE,
            Ok(false) => ExitCode::SUCCESS,
        }
    }

    /// The analysis options of a live run, and the capture opened; `None` (said on stderr)
    /// when either cannot be had.
    fn open(args: &LiveArgs) -> Option<(Options, LiveCapture, Option<Follower>)> {
        let mut options = args.report.options();
        let keys = if args.report.keylogs.is_empty() {
            None
        } else {
            match Follower::new(&args.report.keylogs) {
                Ok(follower) => Some(follower),
                Err(e) => {
                    eprintln!("tlsdiag: {e}");
                    return None;
                }
            }
        };
        options.keylog = keys.as_ref().map(|k| k.keylog().clone());
        options.report_early = true;
        options.linger = LINGER_SECS;
        if let Some(dir) = &args.save_failures {
            if let Err(e) = std::fs::create_dir_all(dir) {
                eprintln!("tlsdiag: {}: {e}", dir.display());
                return None;
            }
            options.keep_packets = Some(PacketRingLimits::default());
        }
        let filter = args.filter.as_deref();
        match LiveCapture::open(&args.interface, filter, args.buffer_size) {
            Ok(capture) => Some((options, capture, keys)),
            Err(e) => {
                eprintln!("tlsdiag: {e}");
                None
            }
        }
    }

    /// What the signals asked for: stop (SIGINT, SIGTERM), or a status line (SIGUSR1).
    struct Signals {
        stop: Arc<AtomicBool>,
        status: Arc<AtomicBool>,
    }

    impl Signals {
        fn register() -> Signals {
            let stop = Arc::new(AtomicBool::new(false));
            let status = Arc::new(AtomicBool::new(false));
            for (signal, flag) in [(SIGINT, &stop), (SIGTERM, &stop), (SIGUSR1, &status)] {
                if let Err(e) = signal_hook::flag::register(signal, Arc::clone(flag)) {
                    eprintln!("tlsdiag: cannot handle signal {signal}: {e}");
                }
            }
            Signals { stop, status }
        }
    }

    /// A live run: the capture, the analysis, and where its reports go.
    struct Session<'a, W: Write> {
        capture: LiveCapture,
        analyzer: Analyzer,
        sink: Sink<'a>,
        out: W,
        saver: Option<Saver>,
        drops: DropLog,
        page: Option<LivePage>,
        /// The --keylog files, followed.
        keys: Option<Follower>,
    }

    impl<W: Write> Session<'_, W> {
        /// Rewrites the --html page with the summary so far.
        fn write_page(&mut self, args: &LiveArgs) -> io::Result<()> {
            let Some(page) = &mut self.page else {
                return Ok(());
            };
            if let (Some(keys), Some(summary)) = (&self.keys, &mut self.sink.summary.keylog) {
                // The followed key log as it is now.
                keys.keylog().read(|log| summary.read(log));
            }
            let source = format!("live:{}", args.interface);
            page.write_running(
                &self.sink.summary,
                self.sink.top,
                &source,
                self.analyzer.counters(),
            )
        }

        /// Reads until a signal, `--duration` or `--count` stops it, reporting connections as
        /// they are judged. Whether the capture failed.
        fn read(&mut self, args: &LiveArgs, signals: &Signals) -> io::Result<bool> {
            let idle = args.idle_timeout.as_secs_f64();
            let show_status = args.report.format == Format::Text && io::stderr().is_terminal();
            let started = Instant::now();
            let (mut last_sweep, mut last_status) = (Instant::now(), Instant::now());
            let mut packets = 0u64;
            let mut status_from = (Instant::now(), 0u64);
            loop {
                let done = signals.stop.load(Ordering::Relaxed)
                    || args.duration.is_some_and(|d| started.elapsed() >= d)
                    || args.count.is_some_and(|c| packets >= c);
                if done {
                    return Ok(false);
                }
                if let Some(keys) = &mut self.keys
                    && keys.poll()
                {
                    self.analyzer.sweep_keys(now());
                }
                let analyzer = &mut self.analyzer;
                match self.capture.next(|p| analyzer.packet(p)) {
                    Ok(got) => packets += got as u64,
                    Err(e) => {
                        eprintln!("tlsdiag: {e}");
                        return Ok(true);
                    }
                }
                if last_sweep.elapsed() >= SWEEP {
                    let at = now();
                    self.drops.sample(at, self.capture.stats());
                    self.analyzer.expire_idle(at, idle);
                    self.sink.advance(&mut self.out, at)?;
                    last_sweep = Instant::now();
                }
                for f in self.analyzer.take_finished_with_packets() {
                    let to = To {
                        sink: &mut self.sink,
                        saver: self.saver.as_mut(),
                        page: self.page.as_mut(),
                    };
                    deliver(to, &mut self.out, &self.drops, f)?;
                }
                if self.page.as_ref().is_some_and(LivePage::due) {
                    self.write_page(args)?;
                }
                if signals.status.swap(false, Ordering::Relaxed)
                    || (show_status && last_status.elapsed() >= STATUS_EVERY)
                {
                    let rate = Rate::since(status_from, packets);
                    let stats = self.capture.stats();
                    eprintln!("{}", status_line(&self.sink, &self.analyzer, stats, rate));
                    status_from = (Instant::now(), packets);
                    last_status = Instant::now();
                }
            }
        }

        /// The connections still open judged as they stand, then the summary with libpcap's
        /// counts.
        fn end(self, args: &LiveArgs) -> io::Result<()> {
            let Session {
                mut capture,
                analyzer,
                mut sink,
                mut out,
                mut saver,
                mut drops,
                mut page,
                mut keys,
            } = self;
            if let Some(keys) = &mut keys {
                // The last lines, for the connections judged now.
                if let Err(e) = keys.read() {
                    eprintln!("tlsdiag: reading the key log: {e}");
                }
                if let Some(summary) = &mut sink.summary.keylog {
                    keys.keylog().read(|log| summary.read(log));
                }
            }
            let stats = capture.stats();
            drops.sample(now(), stats);
            let mut written = Ok(());
            let counters = analyzer.finish_each_with_packets(|f| {
                if written.is_ok() {
                    let to = To {
                        sink: &mut sink,
                        saver: saver.as_mut(),
                        page: page.as_mut(),
                    };
                    written = deliver(to, &mut out, &drops, f);
                }
            });
            written?;
            let file_stats = FileStats {
                packets: counters.packets,
                bytes: counters.bytes,
                ..FileStats::default()
            };
            let source = format!("live:{}", args.interface);
            sink.summary
                .add_counters(&source, &file_stats, None, &counters);
            sink.summary.capture = stats.map(|s| CaptureStats {
                received: s.received,
                dropped_by_kernel: s.dropped,
                dropped_by_interface: s.if_dropped,
            });
            if let Some(saver) = &saver {
                eprintln!(
                    "tlsdiag: saved the packets of {} failed connections in {}",
                    saver.saved,
                    saver.dir.display()
                );
            }
            sink.end(&mut out)?;
            match &mut page {
                Some(page) => page.write(&sink.summary),
                None => Ok(()),
            }
        }
    }

    /// The kernel's drop count as it changed: a sample at each change (at most `MAX_CHANGES`,
    /// the oldest forgotten), so that a verdict can say how many packets were dropped while its
    /// connection was open. Constant in size while nothing is dropped.
    #[derive(Default)]
    pub(super) struct DropLog {
        pub(super) changes: std::collections::VecDeque<(Timestamp, u64)>,
    }

    const MAX_CHANGES: usize = 4096;

    impl DropLog {
        pub(super) fn sample(&mut self, at: Timestamp, stats: Option<LiveStats>) {
            let Some(stats) = stats else { return };
            let dropped = stats.dropped + stats.if_dropped;
            if self.changes.back().is_none_or(|&(_, last)| last != dropped) {
                if self.changes.len() == MAX_CHANGES {
                    self.changes.pop_front();
                }
                self.changes.push_back((at, dropped));
            }
        }

        /// Drops from `from` to `to`, widened by the sampling: the count is read once per
        /// `SWEEP`, so drops seen up to one sweep after `to` may have happened before it.
        pub(super) fn between(&self, from: Timestamp, to: Timestamp) -> u64 {
            let at_or_before = |t: Timestamp| {
                self.changes
                    .iter()
                    .rev()
                    .find(|(at, _)| *at <= t)
                    .map_or(0, |&(_, n)| n)
            };
            let to = to.after(SWEEP.as_secs_f64());
            at_or_before(to).saturating_sub(at_or_before(from))
        }

        /// A verdict drawn from packets that are not there (a gap, a late start, an answer
        /// never seen) may come from packets the kernel dropped while the connection was
        /// open: its evidence says so.
        fn annotate(&self, conn: &mut Connection) {
            let Some(diagnosis) = conn.diagnosis.as_mut() else {
                return;
            };
            let from_absence = matches!(
                diagnosis.code,
                Code::TcpNoResponse | Code::NoServerHello | Code::ClientHelloLost
            );
            if conn.verdict.outcome != Outcome::Incomplete && !from_absence {
                return;
            }
            let n = self.between(conn.facts.start_ts, conn.facts.last_ts);
            if n > 0 {
                diagnosis.evidence.push(tlsdiag::connection::Evidence {
                    frame: None,
                    fact: format!(
                        "the kernel dropped {n} packets while this connection was open (tlsdiag did not read fast enough): the missing ones may be among them"
                    ),
                });
            }
        }
    }

    /// Where a judged connection goes: the report, the failures' packets, the --html page.
    struct To<'s, 'a> {
        sink: &'s mut Sink<'a>,
        saver: Option<&'s mut Saver>,
        page: Option<&'s mut LivePage>,
    }

    /// Saves a failure's packets when asked, keeps it for the page, then writes the
    /// connection and flushes, so that a reader downstream sees it at once.
    fn deliver(
        to: To<'_, '_>,
        out: &mut impl Write,
        drops: &DropLog,
        mut finished: Finished,
    ) -> io::Result<()> {
        drops.annotate(&mut finished.conn);
        if let Some(saver) = to.saver
            && finished.conn.verdict.outcome == Outcome::Failed
            && !finished.packets.is_empty()
        {
            finished.conn.saved_packets = saver.save(&finished.conn, &finished.packets);
        }
        if let Some(page) = to.page {
            page.add(&finished.conn, to.sink.filter.keeps(&finished.conn))?;
        }
        to.sink.emit(out, &mut finished.conn)?;
        out.flush()
    }
}

#[cfg(all(test, feature = "live"))]
mod tests {
    use super::with_pcap::DropLog;
    use tlsdiag::capture::Timestamp;
    use tlsdiag::capture::live::LiveStats;

    fn at(secs: i64) -> Timestamp {
        Timestamp::new(secs, 0)
    }

    fn stats(dropped: u64) -> Option<LiveStats> {
        Some(LiveStats {
            received: 1000,
            dropped,
            if_dropped: 0,
        })
    }

    #[test]
    fn drops_are_counted_in_a_connections_window() {
        let mut log = DropLog::default();
        for (secs, dropped) in [(10, 0), (11, 0), (12, 40), (13, 40), (14, 100), (15, 100)] {
            log.sample(at(secs), stats(dropped));
        }
        // Only the changes are kept.
        assert_eq!(log.changes.len(), 3);
        assert_eq!(log.between(at(10), at(10)), 0);
        // Widened by a sampling interval: the drops first seen at 12 may have come before 11.
        assert_eq!(log.between(at(10), at(11)), 40);
        assert_eq!(log.between(at(12), at(13)), 60);
        assert_eq!(log.between(at(10), at(20)), 100);
        assert_eq!(log.between(at(15), at(20)), 0);
    }
}
