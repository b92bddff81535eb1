use super::*;
use crate::wire_text::WireText;

fn failed(stream: u64, sni: &str) -> Connection {
    let mut c = Connection::new(stream, 1, Timestamp::new(1_764_000_000, 0));
    c.sni = Some(WireText::from_bytes(sni.as_bytes()));
    c.verdict.outcome = Outcome::Failed;
    c.verdict.reason = format!("the server {sni} said no");
    c
}

fn page(connections: &[Connection], max_bytes: u64) -> String {
    let mut doc = HtmlDocument::new(HtmlOptions {
        title: "<b>x.pcap</b>".into(),
        max_bytes,
    });
    let mut out = Vec::new();
    let mut summary = Summary::default();
    doc.begin(&mut out).expect("writes");
    for c in connections {
        summary.count(c);
        doc.count(c);
        doc.connection(&mut out, c).expect("writes");
    }
    summary.finish(crate::report::DEFAULT_TOP);
    doc.end(&mut out, &summary).expect("writes");
    String::from_utf8(out).expect("UTF-8")
}

#[test]
fn wire_text_is_escaped_everywhere() {
    let html = page(&[failed(0, "<script>alert(1)</script>\"'.test")], 1 << 20);
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(!html.contains("<b>x.pcap"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    // In attributes too (data-sni), where a quote would end the value.
    assert!(html.contains("data-sni=\"&lt;script&gt;alert(1)&lt;/script&gt;&quot;'.test\""));
    // The page's own two scripts, and no other.
    assert_eq!(html.matches("<script").count(), 2);
}

#[test]
fn the_page_fetches_nothing() {
    let html = page(&[failed(3, "a.test")], 1 << 20);
    assert!(html.contains("content=\"default-src 'none';"));
    assert!(!html.contains("http://") && !html.contains("https://"));
    assert!(html.contains("tcp.stream eq 3"));
}

#[test]
fn the_size_bound_leaves_out_established_rows_first_and_counts_them() {
    let mut all: Vec<Connection> = (0..400)
        .map(|i| {
            let mut c = failed(i, "ok.test");
            c.verdict.outcome = Outcome::Established;
            c
        })
        .collect();
    all.push(failed(400, "late.test"));
    let html = page(&all, 40_000);
    assert!(
        html.contains("data-stream=\"400\""),
        "the late failure is written"
    );
    let rows = html.matches("<tbody").count();
    assert!(rows < 400, "{rows}");
    assert!(html.contains("Left out of this page"));
    let left = 401 - rows as u64;
    assert!(html.contains(&format!("data-established=\"{left}\"")));
}
