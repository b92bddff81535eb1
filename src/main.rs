//! The command line: parse the flags, run the library over each input, hand the results to
//! the report, set the exit status.
#![forbid(unsafe_code)]

use clap::{Parser, Subcommand, ValueEnum};
use std::io::{self, IsTerminal, Read, Write};
use std::net::IpAddr;
use std::process::ExitCode;
use tlsdiag::Options;
use tlsdiag::analyze::{DEFAULT_TLS_PORTS, Finished, PacketRingLimits};
use tlsdiag::connection::{Connection, Outcome};
use tlsdiag::diagnose::DiagnoseOptions;
use tlsdiag::link::{Linker, Linking, Pass};
use tlsdiag::report::{self, GroupBy, Style, Summary};
use tlsdiag::shard;
use tlsdiag::tls::keylog::{KeyLog, Lines, SharedKeyLog};

/// Every connection's record is a few dozen allocations, made and freed as the capture goes
/// by, with `-j` often freed by another thread than the one that made them: mimalloc serves
/// that pattern best. Without transparent huge pages (`no_thp`), which grew peak memory.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "tlsdiag",
    version,
    about = "Where and why TLS handshakes fail, from packet captures"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Analyse capture files (pcap or pcapng; '-' reads standard input).
    Analyze(AnalyzeArgs),
    /// Capture on an interface and report each TLS connection as its handshake settles
    /// (needs the `live` build feature, and root or CAP_NET_RAW + CAP_NET_ADMIN).
    Live(cli::live::LiveArgs),
    /// List the interfaces live capture can use.
    Interfaces,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
    Ndjson,
    /// One self-contained page (no fetch): summary, chart, table, ladders.
    Html,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum GroupByArg {
    Server,
    Client,
    Ja4,
    Sni,
    Code,
}

impl From<GroupByArg> for GroupBy {
    fn from(g: GroupByArg) -> GroupBy {
        match g {
            GroupByArg::Server => GroupBy::Server,
            GroupByArg::Client => GroupBy::Client,
            GroupByArg::Ja4 => GroupBy::Ja4,
            GroupByArg::Sni => GroupBy::Sni,
            GroupByArg::Code => GroupBy::Code,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(clap::Args)]
struct AnalyzeArgs {
    /// Capture files to read, in order; '-' is standard input.
    #[arg(required = true)]
    files: Vec<String>,
    /// Worker threads: each file's connections are shared out between them. The report is
    /// the same for any number. [default: the number of cores]
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    jobs: Option<std::num::NonZeroUsize>,
    /// Write the packets of the connections that did not establish (of those the filters
    /// keep) to FILE as pcapng, in capture order; each one's decisive packet carries its
    /// verdict, cause and fix as a comment (Wireshark's frame.comment).
    #[arg(long, value_name = "FILE")]
    write_failures: Option<std::path::PathBuf>,
    #[command(flatten)]
    report: ReportArgs,
}

/// What to report and how: shared by file and live analysis.
#[derive(clap::Args)]
struct ReportArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// A TLS port (repeatable): connections to it are reported even when they never carried
    /// TLS (refused, timed out, plain HTTP). TLS itself is recognised on any port.
    /// [default: 443 465 563 636 853 989-995 5061 6443 8443]
    #[arg(long = "port", value_name = "N")]
    ports: Vec<u16>,
    /// Report only the connections that did not establish.
    #[arg(long)]
    failed: bool,
    /// Report only connections whose SNI matches PATTERN ('*' and '?' wildcards, any case).
    #[arg(long, value_name = "PATTERN")]
    sni: Option<String>,
    /// Report only connections to or from this IP address.
    #[arg(long, value_name = "IP")]
    host: Option<IpAddr>,
    /// Link a connection to the attempt it retried: the same client address to the same
    /// server, starting within this many seconds after an attempt that did not establish
    /// (0 links nothing). A file's report holds such an attempt back until its retry comes or
    /// the window has passed, so that it can name its retry.
    #[arg(long, value_name = "SECS", default_value_t = tlsdiag::link::DEFAULT_RETRY_WINDOW_SECS)]
    retry_window: f64,
    /// The summary's grouped view in the text report: each server with failures and the
    /// client fingerprints that failed or established against it, or connections by client
    /// address, JA4 fingerprint, SNI or failure class. JSON carries every view.
    #[arg(long, value_enum, default_value_t = GroupByArg::Server)]
    group_by: GroupByArg,
    /// Groups kept per view of the summary (the rest are counted).
    #[arg(long, value_name = "N", default_value_t = tlsdiag::report::DEFAULT_TOP)]
    top: usize,
    /// Warn about established handshakes slower than this: the server's ClientHello-to-
    /// ServerHello time, or the whole handshake.
    #[arg(long, value_name = "MS", default_value_t = 1000.0)]
    slow_ms: f64,
    #[command(flatten)]
    limits: LimitArgs,
    /// Print the summary only.
    #[arg(long, short)]
    quiet: bool,
    /// Colour the text report.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    /// A key log to decrypt with (repeatable): the NSS format that SSLKEYLOGFILE,
    /// openssl -keylogfile and browsers write. A pcapng's own secrets are read without it.
    /// Live, the file is followed as clients append to it, and may not exist yet.
    #[arg(long = "keylog", value_name = "FILE")]
    keylogs: Vec<std::path::PathBuf>,
    /// With --format html: the page's size bound; established connections take a quarter of
    /// it at most, failures the rest. The page counts what it left out.
    #[arg(long, value_name = "SIZE", default_value = "8M", value_parser = parse_size)]
    html_max_bytes: usize,
}

/// The bounds on memory; each one that bites is counted in the summary. Sizes take a K, M or G
/// suffix (powers of 1024).
#[derive(clap::Args)]
#[command(next_help_heading = "Limits")]
struct LimitArgs {
    /// Connections tracked at once; beyond it the least recently seen one is judged as it
    /// stands and dropped.
    #[arg(long, value_name = "N", default_value_t = tlsdiag::analyze::DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// Bytes buffered per direction before the handshake settles.
    #[arg(long, value_name = "SIZE", default_value = "4M", value_parser = parse_size)]
    max_buffered: usize,
    /// Out-of-order segments held per direction.
    #[arg(long, value_name = "N", default_value_t = 512)]
    max_out_of_order: usize,
    /// Largest handshake message awaited; a larger declared length is refused, unallocated.
    #[arg(long, value_name = "SIZE", default_value = "1M", value_parser = parse_size)]
    max_handshake_message: usize,
    /// Certificates decoded per chain.
    #[arg(long, value_name = "N", default_value_t = 16)]
    max_chain: usize,
    /// Largest certificate decoded.
    #[arg(long, value_name = "SIZE", default_value = "256K", value_parser = parse_size)]
    max_certificate: usize,
}

impl LimitArgs {
    fn apply(&self, options: &mut Options) {
        options.max_connections = self.max_connections;
        options.reassembly = tlsdiag::flow::Limits {
            max_buffered: self.max_buffered,
            max_pending_segments: self.max_out_of_order,
        };
        options.tls = tlsdiag::tls::Limits {
            max_handshake_message: self.max_handshake_message,
            max_chain: self.max_chain,
            max_certificate: self.max_certificate,
        };
    }
}

/// A byte count: digits, then an optional K, M or G (powers of 1024).
fn parse_size(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let (digits, shift) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (t.get(..i), 10),
        Some((i, 'm' | 'M')) => (t.get(..i), 20),
        Some((i, 'g' | 'G')) => (t.get(..i), 30),
        _ => (Some(t), 0),
    };
    let n: usize = digits
        .unwrap_or_default()
        .parse()
        .map_err(|_| format!("'{text}' is not a size (digits, then K, M or G)"))?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("'{text}' is too large"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Analyze(args) => analyze(&args),
        Command::Live(args) => cli::live::run(&args),
        Command::Interfaces => cli::live::interfaces(),
    }
}

/// The binary's own modules: the live loop, the progress bar.
mod cli {
    pub mod live;
    // Built without the feature too, so that `cargo test` runs its tests.
    #[cfg_attr(not(feature = "live"), allow(dead_code))]
    pub mod live_keylog;
    #[cfg(feature = "live")]
    pub mod live_page;
    pub mod progress;
}

/// Which connections the user asked to see.
struct Filter<'a> {
    failed: bool,
    sni: Option<&'a str>,
    host: Option<IpAddr>,
}

impl Filter<'_> {
    /// Inlined into `Sink::write` whatever its other callers (`--write-failures`).
    #[inline(always)]
    fn keeps(&self, c: &Connection) -> bool {
        if self.failed && c.verdict.outcome == Outcome::Established {
            return false;
        }
        if let Some(pattern) = self.sni
            && !c
                .sni
                .as_ref()
                .is_some_and(|s| glob_match(pattern, s.as_str()))
        {
            return false;
        }
        if let Some(host) = self.host {
            let ends = [c.client, c.server];
            if !ends.iter().flatten().any(|e| e.ip == host) {
                return false;
            }
        }
        true
    }
}

/// Case-insensitive glob with '*' (any run) and '?' (one character).
fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    // Classic two-pointer match with backtracking to the last '*'.
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some(pi);
                mark = ti;
                pi += 1;
            }
            Some(&c) if c == '?' || t.get(ti) == Some(&c) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some(s) => {
                    pi = s + 1;
                    mark += 1;
                    ti = mark;
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|&c| c == '*'))
}

impl ReportArgs {
    fn options(&self) -> Options {
        let mut options = Options {
            tls_ports: if self.ports.is_empty() {
                DEFAULT_TLS_PORTS.to_vec()
            } else {
                self.ports.clone()
            },
            diagnose: DiagnoseOptions {
                slow_handshake_ms: self.slow_ms,
            },
            ..Options::default()
        };
        self.limits.apply(&mut options);
        options
    }

    /// The secrets of every `--keylog` file and of the captures' Decryption Secrets Blocks;
    /// none when there are none. A file that cannot be read is an error; its lines are never
    /// shown, since they are secrets.
    fn keylog(&self, captures: &[String]) -> Result<Option<KeyLog>, String> {
        let mut keylog = KeyLog::default();
        for (path, n) in self.keylogs.iter().zip(1..) {
            let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let mut lines = Lines::for_file(n);
            keylog.add_text_from(&mut lines, &text);
            keylog.finish_from(&mut lines);
        }
        for path in captures.iter().filter(|p| *p != "-") {
            let Ok(file) = std::fs::File::open(path) else {
                continue;
            };
            for (kind, len, data) in tlsdiag::capture::decryption_secrets(file) {
                let _ = keylog.add_decryption_secrets(kind, len, &data);
            }
        }
        let given = !self.keylogs.is_empty() || !keylog.is_empty();
        Ok(given.then_some(keylog))
    }

    /// `title` names the input on an HTML page: the files, or the interface.
    fn sink(&self, linking: Linking, title: &str) -> Sink<'_> {
        Sink {
            format: self.format,
            quiet: self.quiet,
            style: Style {
                color: match self.color {
                    ColorChoice::Always => true,
                    ColorChoice::Never => false,
                    ColorChoice::Auto => {
                        io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
                    }
                },
            },
            filter: Filter {
                failed: self.failed,
                sni: self.sni.as_deref(),
                host: self.host,
            },
            file: None,
            group_by: self.group_by.into(),
            top: self.top,
            linker: Linker::new(linking, self.retry_window),
            failures: None,
            summary: Summary::default(),
            json: None,
            html: (self.format == Format::Html).then(|| {
                report::HtmlDocument::new(report::HtmlOptions {
                    title: title.to_string(),
                    max_bytes: self.html_max_bytes as u64,
                })
            }),
        }
    }
}

fn analyze(args: &AnalyzeArgs) -> ExitCode {
    let mut options = args.report.options();
    let title = match args.files.as_slice() {
        [one] => one.clone(),
        many => format!("{} capture files", many.len()),
    };
    let mut sink = args.report.sink(Linking::Hold, &title);
    match args.report.keylog(&args.files) {
        Ok(keylog) => {
            sink.summary.keylog = keylog.as_ref().map(report::KeyLogSummary::of);
            options.keylog = keylog.map(SharedKeyLog::complete);
        }
        Err(e) => {
            eprintln!("tlsdiag: {e}");
            return ExitCode::from(2);
        }
    }
    if let Some(path) = &args.write_failures {
        match report::FailureWriter::create(path, &args.files) {
            Ok(w) => sink.failures = Some(w),
            Err(e) => {
                eprintln!("tlsdiag: {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        }
        options.keep_packets = Some(PacketRingLimits::default());
    }
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut damaged = false;
    let several = args.files.len() > 1;
    let jobs = args.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |n| n.get(),
    );
    // The report's reader went away (`| head`): what is left goes only to --write-failures,
    // whose file is then still written whole.
    let mut broken: Option<io::Error> = None;
    let run = (|| -> io::Result<()> {
        sink.begin(&mut out)?;
        for path in &args.files {
            if broken.is_some() && sink.failures.is_none() {
                break;
            }
            let input: Box<dyn Read + Send> = if path == "-" {
                Box::new(io::stdin())
            } else {
                match std::fs::File::open(path) {
                    Ok(f) => {
                        let len = f.metadata().ok().map(|m| m.len());
                        Box::new(cli::progress::Progress::new(f, len))
                    }
                    Err(e) => {
                        eprintln!("tlsdiag: {path}: {e}");
                        damaged = true;
                        sink.summary.files.push(report::FileSummary {
                            path: path.clone(),
                            error: Some(e.to_string()),
                            ..Default::default()
                        });
                        continue;
                    }
                }
            };
            sink.file = several.then(|| path.clone());
            if let Some(w) = &mut sink.failures {
                w.begin_file(path);
            }
            // Connections go out as they are judged, so memory follows the connections open,
            // not every connection of the file.
            let mut failures_written = Ok(());
            let shard::FileResult {
                stats,
                result,
                counters,
            } = shard::analyze(input, &options, jobs, |finished| {
                if broken.is_none() {
                    if let Err(e) = sink.emit_finished(&mut out, finished) {
                        broken = Some(e);
                    }
                } else if failures_written.is_ok() {
                    failures_written = sink.write_failure(finished);
                }
            });
            failures_written?;
            // tcp.stream numbers start again in each file: a retry is linked within its file.
            if broken.is_none()
                && let Err(e) = sink.file_end(&mut out)
            {
                broken = Some(e);
            }
            let error = result.err().map(|e| {
                eprintln!("tlsdiag: {path}: {e}");
                damaged = true;
                e.to_string()
            });
            sink.summary.add_counters(path, &stats, error, &counters);
            if let Some(warning) = sink.summary.files.last().and_then(|f| f.warning.as_ref()) {
                eprintln!("tlsdiag: {path}: {warning}");
            }
        }
        if let Some(e) = broken.take() {
            if let Some(w) = sink.failures.take() {
                w.finish()?;
            }
            return Err(e);
        }
        sink.end(&mut out)
    })();
    if let Err(e) = run {
        return output_error(&e);
    }
    if damaged {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Where each judged connection goes: counted in the summary, filtered, then written.
struct Sink<'a> {
    format: Format,
    quiet: bool,
    style: Style,
    filter: Filter<'a>,
    /// The file name to put on each connection, when several files are read.
    file: Option<String>,
    group_by: GroupBy,
    /// Groups kept per view of the summary.
    top: usize,
    linker: Linker,
    /// With --write-failures: where the failures' packets go.
    failures: Option<report::FailureWriter>,
    summary: Summary,
    json: Option<report::JsonDocument>,
    html: Option<report::HtmlDocument>,
}

impl Sink<'_> {
    fn begin(&mut self, out: &mut impl Write) -> io::Result<()> {
        if self.format == Format::Json {
            self.json = Some(report::JsonDocument::begin(out)?);
        }
        if let Some(html) = &self.html {
            html.begin(out)?;
        }
        Ok(())
    }

    /// Writes what the linker still holds, the failures' file, then the summary (and closes the
    /// JSON document).
    fn end(&mut self, out: &mut impl Write) -> io::Result<()> {
        self.file_end(out)?;
        if let Some(w) = self.failures.take() {
            self.summary.written_failures = Some(w.finish()?);
        }
        self.summary.retries = self.linker.counts();
        self.summary.finish(self.top);
        match (self.format, self.json.take()) {
            (Format::Text, _) => {
                report::write_text_summary(out, &self.summary, self.group_by, self.style)?
            }
            (Format::Ndjson, _) => report::write_ndjson_summary(out, &self.summary)?,
            (Format::Json, doc) => {
                let doc = match doc {
                    Some(doc) => doc,
                    None => report::JsonDocument::begin(out)?,
                };
                doc.end(out, &self.summary)?
            }
            (Format::Html, _) => {
                if let Some(html) = &self.html {
                    html.end(out, &self.summary)?;
                }
            }
        }
        out.flush()
    }

    /// `emit`, with the connection's kept packets going to the failures' file when it is one
    /// the filters keep.
    fn emit_finished(&mut self, out: &mut impl Write, f: &mut Finished) -> io::Result<()> {
        if self.failures.is_some() {
            self.write_failure(f)?;
        }
        self.emit(out, &mut f.conn)
    }

    /// Out of line, so that without --write-failures every connection's path is one test
    /// longer than before, not a function larger (callgrind).
    #[inline(never)]
    fn write_failure(&mut self, f: &Finished) -> io::Result<()> {
        match &mut self.failures {
            Some(w) if self.filter.keeps(&f.conn) => w.add(&f.conn, &f.packets),
            _ => Ok(()),
        }
    }

    /// Takes a judged connection: through the linker, which may hold it back a while.
    fn emit(&mut self, out: &mut impl Write, conn: &mut Connection) -> io::Result<()> {
        conn.file.clone_from(&self.file);
        let pass = self.linker.push(conn);
        self.drain(out)?;
        match pass {
            Pass::Now => self.write(out, conn),
            Pass::Held => Ok(()),
        }
    }

    /// Hands on what the linker holds: the end of a file, or of the capture.
    fn file_end(&mut self, out: &mut impl Write) -> io::Result<()> {
        self.linker.finish();
        self.drain(out)
    }

    /// Moves the linker's clock on: a live capture, while no connection is judged.
    #[cfg_attr(not(feature = "live"), allow(dead_code))]
    fn advance(
        &mut self,
        out: &mut impl Write,
        now: tlsdiag::capture::Timestamp,
    ) -> io::Result<()> {
        self.linker.advance(now);
        self.drain(out)
    }

    fn drain(&mut self, out: &mut impl Write) -> io::Result<()> {
        while let Some(conn) = self.linker.ready() {
            self.write(out, &conn)?;
        }
        Ok(())
    }

    fn write(&mut self, out: &mut impl Write, conn: &Connection) -> io::Result<()> {
        self.summary.count(conn);
        if let Some(html) = &mut self.html {
            html.count(conn);
        }
        if !self.filter.keeps(conn) {
            return Ok(());
        }
        self.summary.shown += 1;
        if self.quiet {
            return Ok(());
        }
        match (self.format, &mut self.json) {
            (Format::Text, _) => report::write_text_connection(out, conn, self.style),
            (Format::Ndjson, _) => report::write_ndjson_connection(out, conn),
            (Format::Json, Some(doc)) => doc.connection(out, conn),
            (Format::Json, None) => Ok(()),
            (Format::Html, _) => match &mut self.html {
                Some(html) => html.connection(out, conn),
                None => Ok(()),
            },
        }
    }
}

fn output_error(e: &io::Error) -> ExitCode {
    // A closed pipe (`| head`) is the reader's choice, not a failure.
    if e.kind() == io::ErrorKind::BrokenPipe {
        return ExitCode::SUCCESS;
    }
    eprintln!("tlsdiag: cannot write the report: {e}");
    ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    use super::{Cli, Command, Options, Parser, glob_match, parse_size};

    #[test]
    fn limit_flags_default_to_the_library_defaults() {
        let Command::Analyze(args) = Cli::parse_from(["tlsdiag", "analyze", "x.pcap"]).command
        else {
            unreachable!("parsed as analyze")
        };
        let mut options = Options {
            max_connections: 1,
            ..Options::default()
        };
        args.report.limits.apply(&mut options);
        let defaults = Options::default();
        assert_eq!(options.max_connections, defaults.max_connections);
        assert_eq!(options.reassembly, defaults.reassembly);
        assert_eq!(options.tls, defaults.tls);
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4M"), Ok(4 << 20));
        assert_eq!(parse_size("256k"), Ok(256 << 10));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("M").is_err());
        assert!(parse_size("-1").is_err());
        assert!(parse_size("99999999999999999999G").is_err());
    }

    #[test]
    fn globs() {
        assert!(glob_match("*.example.com", "www.Example.com"));
        assert!(glob_match("server.test", "SERVER.test"));
        assert!(glob_match("s?rver*", "server.test"));
        assert!(!glob_match("*.example.com", "example.com"));
        assert!(!glob_match("server", "server.test"));
    }

    /// Any client chooses its SNI: a pattern with many stars against the longest name a
    /// ClientHello can carry must not backtrack exponentially (it returns at once).
    #[test]
    fn glob_does_not_blow_up() {
        let name = "a".repeat(65_535);
        assert!(!glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*b", &name));
        assert!(glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*", &name));
        assert!(!glob_match(&format!("{}b", "*a".repeat(200)), &name));
    }
}
