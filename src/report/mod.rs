//! Every byte of output: the text report (with the ladder), JSON and NDJSON.
//!
//! The analysis returns data and never prints; these functions write it to any `Write`, so the
//! same code serves the terminal, a pipe and the tests.

mod json;
mod summary;
mod text;

pub use json::{JsonDocument, write_ndjson_connection, write_ndjson_summary};
pub use summary::{CaptureStats, FileSummary, Summary};
pub use text::{Style, write_text_connection, write_text_summary};
