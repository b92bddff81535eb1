//! The HTML report, read as a person's browser reads it: Debian's chromium, headless, loads
//! the page from a file, runs its scripts, and the test reads the DOM it leaves. The counts
//! match the JSON report's, each failure's ladder marks its decisive frame, the filters narrow
//! the table, no script fails, nothing is fetched, and markup from the wire stays text.
//!
//! The browser tests skip, saying so, where chromium is not installed; CI sets
//! TLSDIAG_REQUIRE_CHROMIUM=1 so that there they must run.

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

const MARKUP: &str = "captures/hostile-markup.pcap";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn tlsdiag(args: &[&str]) -> String {
    String::from_utf8(common::run_tlsdiag(args)).expect("UTF-8")
}

/// Every bundled capture (not the damaged ones, nor the key log ones), in name order.
fn all_captures() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("captures"))
        .expect("captures/")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".pcap") || n.ends_with(".pcapng"))
        .map(|n| format!("captures/{n}"))
        .collect();
    names.sort();
    names
}

/// The HTML page of `captures`, written to a file for the browser.
fn page(name: &str, captures: &[String]) -> PathBuf {
    let mut args = vec!["analyze", "--format", "html"];
    args.extend(captures.iter().map(String::as_str));
    let html = tlsdiag(&args);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("html");
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let path = dir.join(format!("{name}.html"));
    std::fs::write(&path, html).expect("the page is written");
    path
}

/// The JSON report's summary of the same captures.
fn json_summary(captures: &[String]) -> Value {
    let mut args = vec!["analyze", "--format", "json"];
    args.extend(captures.iter().map(String::as_str));
    let doc: Value = serde_json::from_str(&tlsdiag(&args)).expect("JSON");
    doc["summary"].clone()
}

fn chromium() -> Option<&'static str> {
    let found = ["chromium", "chromium-browser"].into_iter().find(|name| {
        Command::new(name)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("TLSDIAG_REQUIRE_CHROMIUM").is_none(),
            "TLSDIAG_REQUIRE_CHROMIUM is set but chromium is not installed"
        );
        eprintln!("SKIPPED: chromium is not installed; the browser tests did not run");
    }
    found
}

static RUNS: AtomicUsize = AtomicUsize::new(0);

/// Loads `page` (with `fragment` after a '#') in headless chromium and returns the DOM after
/// its scripts ran; with `netlog`, chromium records there every request it made. Chromium's
/// own background requests go to a closed port on loopback (the proxy), never out.
fn dump_dom(browser: &str, page: &Path, fragment: &str, netlog: Option<&Path>) -> String {
    let n = RUNS.fetch_add(1, Ordering::Relaxed);
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let profile = tmp.join(format!("chromium-profile-{}-{n}", std::process::id()));
    let mut cmd = Command::new(browser);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--proxy-server=http://127.0.0.1:9",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    if let Some(netlog) = netlog {
        cmd.arg(format!("--log-net-log={}", netlog.display()));
    }
    let url = format!("file://{}#{fragment}", page.display());
    let out = cmd
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("chromium runs");
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 DOM")
}

/// The value of the first `attribute="..."` after `from` in `text`.
fn attribute<'a>(text: &'a str, attribute: &str) -> Option<&'a str> {
    let key = format!(" {attribute}=\"");
    let at = text.find(&key)? + key.len();
    let rest = text.get(at..)?;
    rest.get(..rest.find('"')?)
}

/// Each connection's `tbody` start tag and its whole markup (up to the next connection's:
/// the evidence tables inside hold `tbody` elements of their own).
fn bodies(dom: &str) -> Vec<(&str, &str)> {
    let table = dom.get(..dom.find("<section id=\"summary\"").unwrap_or(dom.len()));
    table
        .unwrap_or_default()
        .split("<tbody class=\"conn ")
        .skip(1)
        .map(|part| (part.get(..part.find('>').unwrap_or(0)).unwrap_or(""), part))
        .collect()
}

/// The page ran its script to the end, with no error and no blocked fetch.
fn assert_clean(dom: &str) {
    assert_eq!(
        attribute(dom, "data-ready"),
        Some("yes"),
        "the script did not finish"
    );
    assert!(
        !dom.contains("data-errors="),
        "script errors: {:?}",
        attribute(dom, "data-errors")
    );
    assert!(
        !dom.contains("data-blocked="),
        "blocked: {:?}",
        attribute(dom, "data-blocked")
    );
}

#[test]
fn markup_from_the_wire_is_text() {
    let html = tlsdiag(&["analyze", "--format", "html", MARKUP]);
    for raw in [
        "<script>alert(",
        "<img src=x",
        "<svg onload",
        "<b>h2",
        "<html><script",
    ] {
        assert!(!html.contains(raw), "{raw} reached the page as markup");
    }
    for shown in [
        "&lt;script&gt;alert(&quot;sni&quot;)&lt;/script&gt;.test",
        "O=&lt;script&gt;alert(&quot;subject&quot;)&lt;/script&gt;, CN=&lt;img src=x onerror=alert(1)&gt;.test",
        "&quot;&gt;&lt;svg onload=alert(2)&gt;.test",
        "ALPN x&lt;b&gt;h2&lt;/b&gt;x",
    ] {
        assert!(html.contains(shown), "{shown} is not on the page");
    }
    // The page's own two scripts (the error recorder, the table's script), and no other.
    assert_eq!(html.matches("<script").count(), 2);
}

#[test]
fn terminal_escapes_stay_visible_and_harmless() {
    let html = tlsdiag(&["analyze", "--format", "html", "captures/hostile-text.pcap"]);
    assert!(!html.chars().any(|c| c.is_control() && c != '\n'));
    assert!(html.contains(r"\x1b]0;PWNED\x07\x1b[2J\x1b[31mevil\x0a{&quot;injected&quot;:1}.test"));
    assert!(html.contains(r"CN=bidi\u{202e}gpj.test\x1b[2J"));
}

#[test]
fn the_counts_and_the_ladders_in_a_browser() {
    let Some(browser) = chromium() else { return };
    let captures = all_captures();
    let path = page("all", &captures);
    let summary = json_summary(&captures);
    let dom = dump_dom(browser, &path, "", None);
    assert_clean(&dom);

    let connections = summary["connections"].as_u64().expect("connections");
    assert_eq!(
        attribute(&dom, "data-connections"),
        Some(connections.to_string().as_str())
    );
    let outcomes = summary["outcomes"].as_object().expect("outcomes");
    for name in ["established", "failed", "incomplete", "not_tls"] {
        let card = format!("data-outcome=\"{name}\" data-count=\"");
        let at = dom
            .find(&card)
            .unwrap_or_else(|| panic!("no card for {name}"));
        let shown = attribute(&dom[at - 1..], "data-count");
        let expected = outcomes.get(name).and_then(Value::as_u64).unwrap_or(0);
        assert_eq!(shown, Some(expected.to_string().as_str()), "{name}");
    }
    for (code, n) in summary["codes"].as_object().expect("codes") {
        let row = format!("<tr data-code=\"{code}\" data-count=\"{n}\">");
        assert!(dom.contains(&row), "{row} is not on the page");
    }

    let all = bodies(&dom);
    assert_eq!(all.len() as u64, connections);
    assert_eq!(
        attribute(&dom, "data-shown"),
        Some(connections.to_string().as_str())
    );
    // Failures first, as the script sorts them.
    let ranks: Vec<&str> = all
        .iter()
        .filter_map(|(tag, _)| attribute(tag, "data-rank"))
        .collect();
    assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{ranks:?}");
    let mut failures = 0;
    for (tag, body) in all
        .iter()
        .filter(|(tag, _)| !tag.starts_with("c-established"))
    {
        let frame = attribute(tag, "data-frame").expect("a decisive frame");
        let stream = attribute(tag, "data-stream").expect("a stream");
        assert!(
            body.contains("<svg class=\"ladder\""),
            "tcp.stream {stream}: no ladder"
        );
        let marked = format!("class=\"event decisive\" data-frame=\"{frame}\"");
        assert!(
            body.contains(&marked),
            "tcp.stream {stream}: frame {frame} not marked"
        );
        assert!(body.contains(&format!("data-copy=\"tcp.stream eq {stream}\"")));
        failures += 1;
    }
    assert!(failures >= 40, "{failures}");
}

#[test]
fn the_filters_narrow_the_table_in_a_browser() {
    let Some(browser) = chromium() else { return };
    let captures = all_captures();
    let path = page("filters", &captures);
    let summary = json_summary(&captures);
    let count = |fragment: &str| -> u64 {
        let dom = dump_dom(browser, &path, fragment, None);
        assert_clean(&dom);
        let shown: u64 = attribute(&dom, "data-shown")
            .and_then(|n| n.parse().ok())
            .expect("the script counts the rows shown");
        let visible = bodies(&dom)
            .iter()
            .filter(|(tag, _)| !tag.contains(" hidden=\""))
            .count() as u64;
        assert_eq!(shown, visible, "{fragment}");
        shown
    };
    let failed = summary["outcomes"]["failed"].as_u64().expect("failures");
    assert_eq!(count("outcome=failed"), failed);
    let rejected = summary["codes"]["certificate_rejected"]
        .as_u64()
        .expect("a code");
    assert_eq!(count("code=certificate_rejected"), rejected);
    let total = summary["connections"].as_u64().expect("connections");
    let named = count("q=server.test");
    assert!(named > 0 && named < total, "{named} of {total}");
    assert_eq!(count("outcome=failed&q=no+such+words+anywhere"), 0);
    // #open=N opens tcp.stream N's details, as the README's screenshot shows.
    let dom = dump_dom(browser, &path, "open=0", None);
    assert_eq!(dom.matches("<details open=\"\"").count(), 1);
}

/// With several files read, `#open=N&file=F` opens tcp.stream N of file F (what a link to a
/// retry asks for), not the first stream N; without `file`, the first.
#[test]
fn open_names_the_file_of_its_stream() {
    let Some(browser) = chromium() else { return };
    let files = [
        "captures/cert-expired.pcap".to_string(),
        "captures/cert-name-mismatch.pcap".to_string(),
    ];
    let path = page("two-files", &files);
    let opened = |fragment: &str| -> Vec<String> {
        let dom = dump_dom(browser, &path, fragment, None);
        assert_clean(&dom);
        bodies(&dom)
            .iter()
            .filter(|(_, body)| body.contains("<details open=\"\""))
            .map(|(tag, _)| {
                let stream = attribute(tag, "data-stream").unwrap_or("?");
                let file = attribute(tag, "data-file").unwrap_or("?");
                format!("{file} {stream}")
            })
            .collect()
    };
    let second = "open=0&file=captures%2Fcert-name-mismatch.pcap";
    assert_eq!(opened(second), ["captures/cert-name-mismatch.pcap 0"]);
    assert_eq!(opened("open=0"), ["captures/cert-expired.pcap 0"]);
}

/// The requests chromium made for the page itself: those whose initiator is the page's
/// (opaque, `null`) file origin, as opposed to the browser's own.
fn page_requests(netlog: &Path) -> Vec<String> {
    let log: Value =
        serde_json::from_slice(&std::fs::read(netlog).expect("a net log")).expect("JSON");
    let events = log["events"].as_array().cloned().unwrap_or_default();
    events
        .iter()
        .filter(|e| e["params"]["initiator"] == "null")
        .filter_map(|e| e["params"]["url"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn the_page_requests_nothing_and_runs_no_wire_markup() {
    let Some(browser) = chromium() else { return };
    let path = page("markup", &[MARKUP.to_string()]);
    let html = std::fs::read_to_string(&path).expect("the page");
    assert!(html.contains("http-equiv=\"Content-Security-Policy\" content=\"default-src 'none';"));
    for url in ["http:", "https:", "src=\"//", "href=\"//"] {
        assert!(!html.contains(url), "{url} on the page");
    }
    let netlog = Path::new(env!("CARGO_TARGET_TMPDIR")).join("html/markup-netlog.json");
    let dom = dump_dom(browser, &path, "", Some(&netlog));
    assert_clean(&dom);
    assert_eq!(page_requests(&netlog), Vec::<String>::new());
    // What the wire held is text in the DOM: no element, attribute or script from it.
    assert_eq!(dom.matches("<script").count(), 2);
    assert!(!dom.contains("<img") && !dom.contains("<b>h2"));
    assert!(dom.contains("<title>tlsdiag: captures/hostile-markup.pcap</title>"));

    // The check sees a request when a page makes one (to a closed port on loopback).
    let control = Path::new(env!("CARGO_TARGET_TMPDIR")).join("html/control.html");
    std::fs::write(&control, "<img src=\"http://127.0.0.1:9/x.png\">").expect("written");
    let control_log = Path::new(env!("CARGO_TARGET_TMPDIR")).join("html/control-netlog.json");
    dump_dom(browser, &control, "", Some(&control_log));
    assert!(!page_requests(&control_log).is_empty());
}
