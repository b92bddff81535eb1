//! JSON (one document) and NDJSON (one line per connection, then a summary line).

use super::Summary;
use crate::connection::Connection;
use serde::Serialize;
use std::io::{self, Write};

/// One connection on one line, flushed so that a reader downstream sees it at once.
pub fn write_ndjson_connection(out: &mut impl Write, connection: &Connection) -> io::Result<()> {
    serde_json::to_writer(&mut *out, connection)?;
    writeln!(out)?;
    out.flush()
}

pub fn write_ndjson_summary(out: &mut impl Write, summary: &Summary) -> io::Result<()> {
    #[derive(Serialize)]
    struct Line<'a> {
        summary: &'a Summary,
    }
    serde_json::to_writer(&mut *out, &Line { summary })?;
    writeln!(out)?;
    out.flush()
}

/// The JSON document written one connection at a time, so that a capture with millions of
/// connections never holds them all: `{"connections": [...], "summary": {...}}`.
pub struct JsonDocument {
    first: bool,
}

impl JsonDocument {
    pub fn begin(out: &mut impl Write) -> io::Result<Self> {
        write!(out, "{{\"connections\": [")?;
        Ok(JsonDocument { first: true })
    }

    pub fn connection(&mut self, out: &mut impl Write, connection: &Connection) -> io::Result<()> {
        if !self.first {
            write!(out, ",")?;
        }
        self.first = false;
        writeln!(out)?;
        serde_json::to_writer_pretty(&mut *out, connection)?;
        Ok(())
    }

    pub fn end(self, out: &mut impl Write, summary: &Summary) -> io::Result<()> {
        write!(out, "\n],\n\"summary\": ")?;
        serde_json::to_writer_pretty(&mut *out, summary)?;
        writeln!(out, "}}")
    }
}
