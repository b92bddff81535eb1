//! Every byte of output: the text report (with the ladder), JSON, NDJSON and HTML, and the
//! failures' packets as pcapng for Wireshark.
//!
//! The analysis returns data and never prints; these functions write it to any `Write`, so the
//! same code serves the terminal, a pipe and the tests.

mod failures;
mod groups;
mod html;
mod json;
mod summary;
mod text;
mod text_groups;

pub use failures::{FailureWriter, FailuresWritten};
pub use groups::DEFAULT_TOP;
pub use html::{HtmlDocument, HtmlOptions};
pub use json::{JsonDocument, write_ndjson_connection, write_ndjson_summary};
pub use summary::{CaptureStats, FileSummary, KeyLogSummary, Summary};
pub use text::{Style, write_text_connection, write_text_summary};
pub use text_groups::GroupBy;

/// The serde name of a unit enum value, so that the text and the summary use the JSON's words.
fn json_word<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
