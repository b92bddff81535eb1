//! The command line: parse the flags, run the library over each input, hand the results to
//! the report, set the exit status.
#![forbid(unsafe_code)]

use clap::{Parser, Subcommand, ValueEnum};
use std::io::{self, IsTerminal, Read, Write};
use std::net::IpAddr;
use std::process::ExitCode;
use tlsdiag::Options;
use tlsdiag::analyze::{DEFAULT_TLS_PORTS, analyze_capture};
use tlsdiag::connection::{Connection, Outcome};
use tlsdiag::diagnose::DiagnoseOptions;
use tlsdiag::report::{self, Style, Summary};

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
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
    Ndjson,
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
    /// Warn about established handshakes slower than this: the server's ClientHello-to-
    /// ServerHello time, or the whole handshake.
    #[arg(long, value_name = "MS", default_value_t = 1000.0)]
    slow_ms: f64,
    /// Connections tracked at once; beyond it the least recently seen one is judged as it
    /// stands and dropped (counted in the summary).
    #[arg(long, value_name = "N", default_value_t = tlsdiag::analyze::DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// Print the summary only.
    #[arg(long, short)]
    quiet: bool,
    /// Colour the text report.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Analyze(args) => analyze(&args),
    }
}

/// Which connections the user asked to see.
struct Filter<'a> {
    failed: bool,
    sni: Option<&'a str>,
    host: Option<IpAddr>,
}

impl Filter<'_> {
    fn keeps(&self, c: &Connection) -> bool {
        if self.failed && c.verdict.outcome == Outcome::Established {
            return false;
        }
        if let Some(pattern) = self.sni
            && !c.sni.as_deref().is_some_and(|s| glob_match(pattern, s))
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

fn analyze(args: &AnalyzeArgs) -> ExitCode {
    let options = Options {
        tls_ports: if args.ports.is_empty() {
            DEFAULT_TLS_PORTS.to_vec()
        } else {
            args.ports.clone()
        },
        diagnose: DiagnoseOptions {
            slow_handshake_ms: args.slow_ms,
        },
        max_connections: args.max_connections,
        ..Options::default()
    };
    let filter = Filter {
        failed: args.failed,
        sni: args.sni.as_deref(),
        host: args.host,
    };
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let style = Style {
        color: match args.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        },
    };
    let mut summary = Summary::default();
    let mut kept: Vec<Connection> = Vec::new();
    let mut damaged = false;
    let several = args.files.len() > 1;
    for path in &args.files {
        let input: Box<dyn Read + Send> = if path == "-" {
            Box::new(io::stdin())
        } else {
            match std::fs::File::open(path) {
                Ok(f) => Box::new(f),
                Err(e) => {
                    eprintln!("tlsdiag: {path}: {e}");
                    damaged = true;
                    summary.files.push(report::FileSummary {
                        path: path.clone(),
                        error: Some(e.to_string()),
                        ..Default::default()
                    });
                    continue;
                }
            }
        };
        let (analysis, stats, result) = analyze_capture(input, &options);
        let error = result.err().map(|e| {
            eprintln!("tlsdiag: {path}: {e}");
            damaged = true;
            e.to_string()
        });
        summary.add_file(path, &stats, error, &analysis);
        for mut conn in analysis.connections {
            if !filter.keeps(&conn) {
                continue;
            }
            summary.shown += 1;
            if several {
                conn.file = Some(path.clone());
            }
            let written = match args.format {
                _ if args.quiet => Ok(()),
                Format::Text => report::write_text_connection(&mut out, &conn, style),
                Format::Ndjson => report::write_ndjson_connection(&mut out, &conn),
                Format::Json => {
                    kept.push(conn);
                    Ok(())
                }
            };
            if let Err(e) = written {
                return output_error(&e);
            }
        }
    }
    summary.finish();
    let written = match args.format {
        Format::Text => report::write_text_summary(&mut out, &summary, style),
        Format::Ndjson => report::write_ndjson_summary(&mut out, &summary),
        Format::Json => {
            let refs: Vec<&Connection> = kept.iter().collect();
            report::write_json(&mut out, &refs, &summary)
        }
    };
    if let Err(e) = written.and_then(|()| out.flush()) {
        return output_error(&e);
    }
    if damaged {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
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
    use super::glob_match;

    #[test]
    fn globs() {
        assert!(glob_match("*.example.com", "www.Example.com"));
        assert!(glob_match("server.test", "SERVER.test"));
        assert!(glob_match("s?rver*", "server.test"));
        assert!(!glob_match("*.example.com", "example.com"));
        assert!(!glob_match("server", "server.test"));
    }
}
