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
    use crate::{Format, Sink, output_error};
    use signal_hook::consts::{SIGINT, SIGTERM, SIGUSR1};
    use std::io::{self, IsTerminal, Write};
    use std::path::PathBuf;
    use std::process::ExitCode;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
    use tlsdiag::analyze::{Analyzer, Finished, PacketRingLimits};
    use tlsdiag::capture::live::{self, LiveCapture, LiveStats};
    use tlsdiag::capture::{FileStats, LinkType, PcapWriter, Timestamp};
    use tlsdiag::connection::{Connection, Outcome};
    use tlsdiag::report::CaptureStats;

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
                w.write(&p.packet(self.link))?;
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

    fn status_line(sink: &Sink<'_>, analyzer: &Analyzer, stats: Option<LiveStats>) -> String {
        let s = &sink.summary;
        let dropped = stats.map_or("unknown".to_string(), |s| {
            (s.dropped + s.if_dropped).to_string()
        });
        format!(
            "tlsdiag: {} packets · {} connections open · {} established, {} failed, {} incomplete, {} not_tls · dropped {dropped}",
            analyzer.counters().packets,
            analyzer.open_connections(),
            s.outcome(Outcome::Established),
            s.outcome(Outcome::Failed),
            s.outcome(Outcome::Incomplete),
            s.outcome(Outcome::NotTls),
        )
    }

    pub fn run(args: &LiveArgs) -> ExitCode {
        let mut options = args.report.options();
        options.report_early = true;
        options.linger = LINGER_SECS;
        if let Some(dir) = &args.save_failures {
            if let Err(e) = std::fs::create_dir_all(dir) {
                eprintln!("tlsdiag: {}: {e}", dir.display());
                return ExitCode::FAILURE;
            }
            options.keep_packets = Some(PacketRingLimits::default());
        }
        let mut capture = match LiveCapture::open(&args.interface, args.filter.as_deref()) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("tlsdiag: {e}");
                return ExitCode::FAILURE;
            }
        };
        let stop = Arc::new(AtomicBool::new(false));
        let status = Arc::new(AtomicBool::new(false));
        for (signal, flag) in [(SIGINT, &stop), (SIGTERM, &stop), (SIGUSR1, &status)] {
            if let Err(e) = signal_hook::flag::register(signal, Arc::clone(flag)) {
                eprintln!("tlsdiag: cannot handle signal {signal}: {e}");
            }
        }
        eprintln!(
            "tlsdiag: capturing on {} ({}), filter '{}'",
            args.interface,
            capture.link().name(),
            args.filter.as_deref().unwrap_or(live::DEFAULT_FILTER)
        );
        let mut saver = args.save_failures.as_ref().map(|dir| Saver {
            dir: dir.clone(),
            link: capture.link(),
            saved: 0,
        });
        let stdout = io::stdout();
        let mut out = io::BufWriter::new(stdout.lock());
        let mut sink = args.report.sink();
        let mut analyzer = Analyzer::new(options);
        let idle = args.idle_timeout.as_secs_f64();
        let show_status = args.report.format == Format::Text && io::stderr().is_terminal();
        let mut failed = false;
        let run = (|| -> io::Result<()> {
            sink.begin(&mut out)?;
            let started = Instant::now();
            let (mut last_sweep, mut last_status) = (Instant::now(), Instant::now());
            let mut packets = 0u64;
            loop {
                let done = stop.load(Ordering::Relaxed)
                    || args.duration.is_some_and(|d| started.elapsed() >= d)
                    || args.count.is_some_and(|c| packets >= c);
                if done {
                    break;
                }
                match capture.next(|p| analyzer.packet(p)) {
                    Ok(got) => packets += u64::from(got),
                    Err(e) => {
                        eprintln!("tlsdiag: {e}");
                        failed = true;
                        break;
                    }
                }
                if last_sweep.elapsed() >= SWEEP {
                    analyzer.expire_idle(now(), idle);
                    last_sweep = Instant::now();
                }
                for f in analyzer.take_finished_with_packets() {
                    deliver(&mut sink, &mut out, saver.as_mut(), f)?;
                }
                if status.swap(false, Ordering::Relaxed)
                    || (show_status && last_status.elapsed() >= STATUS_EVERY)
                {
                    eprintln!("{}", status_line(&sink, &analyzer, capture.stats()));
                    last_status = Instant::now();
                }
            }
            let stats = capture.stats();
            let mut written = Ok(());
            let counters = analyzer.finish_each_with_packets(|f| {
                if written.is_ok() {
                    written = deliver(&mut sink, &mut out, saver.as_mut(), f);
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
            sink.end(&mut out)
        })();
        if let Err(e) = run {
            return output_error(&e);
        }
        if failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }
    }

    /// Saves a failure's packets when asked, then writes the connection and flushes, so that a
    /// reader downstream sees it at once.
    fn deliver(
        sink: &mut Sink<'_>,
        out: &mut impl Write,
        saver: Option<&mut Saver>,
        mut finished: Finished,
    ) -> io::Result<()> {
        if let Some(saver) = saver
            && finished.conn.verdict.outcome == Outcome::Failed
            && !finished.packets.is_empty()
        {
            finished.conn.saved_packets = saver.save(&finished.conn, &finished.packets);
        }
        sink.emit(out, &mut finished.conn)?;
        out.flush()
    }
}
