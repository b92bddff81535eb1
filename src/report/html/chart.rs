//! Connections over time: start times counted by outcome in a fixed number of buckets whose
//! width doubles whenever a start falls outside them, so that the chart is built in one pass,
//! in fixed memory, whatever the capture's length and the order connections are judged in.

use super::{OUTCOMES, icon};
use crate::capture::Timestamp;
use crate::report::summary::outcome_name;
use maud::{Markup, html};

/// Buckets kept; the drawn chart trims the empty ones at either end.
const BUCKETS: usize = 128;
/// The first width: about a millisecond, a power of two so that widths stay whole.
const FIRST_WIDTH_MICROS: i64 = 1 << 10;

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 150.0;
const AXIS: f64 = 22.0;
const MAX_BAR: f64 = 24.0;

#[derive(Debug)]
pub(super) struct Histogram {
    /// Microseconds per bucket.
    width: i64,
    /// The index, in widths since the epoch, of the first bucket; None before any start.
    first: Option<i64>,
    counts: Vec<[u64; 4]>,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            width: FIRST_WIDTH_MICROS,
            first: None,
            counts: vec![[0; 4]; BUCKETS],
        }
    }
}

impl Histogram {
    /// Counts one connection that started at `start`, with outcome number `outcome` (its
    /// place in `OUTCOMES`).
    pub(super) fn add(&mut self, start: Timestamp, outcome: usize) {
        let micros = start
            .secs
            .saturating_mul(1_000_000)
            .saturating_add(i64::from(start.nanos / 1_000));
        let first = *self.first.get_or_insert(micros.div_euclid(self.width));
        let mut index = micros.div_euclid(self.width) - first;
        while !(0..BUCKETS as i64).contains(&index) && self.width < i64::MAX / 4 {
            // An earlier start moves the buckets along when the later end has room for them
            // (connections are judged as they end, so a long one's start comes late);
            // otherwise, and for a later start, the buckets widen.
            if index < 0 && self.shift_later(-index) {
                index = 0;
            } else {
                self.widen();
                let first = self.first.unwrap_or_default();
                index = micros.div_euclid(self.width) - first;
            }
        }
        let index = index.clamp(0, BUCKETS as i64 - 1) as usize;
        if let Some(slot) = self.counts.get_mut(index).and_then(|b| b.get_mut(outcome)) {
            *slot += 1;
        }
    }

    /// Moves every count `by` buckets later, so the first bucket starts `by` widths earlier;
    /// false (and nothing moved) when the last counts would fall off the end.
    fn shift_later(&mut self, by: i64) -> bool {
        let last = self.counts.iter().rposition(|b| b.iter().any(|&n| n > 0));
        let room = BUCKETS as i64 - 1 - last.map_or(0, |l| l as i64);
        if by > room {
            return false;
        }
        self.counts.rotate_right(by as usize);
        self.first = self.first.map(|f| f - by);
        true
    }

    /// Doubles the width, merging buckets two by two on the new, coarser grid.
    fn widen(&mut self) {
        let old_first = self.first.unwrap_or_default();
        let new_first = old_first.div_euclid(2);
        let mut merged = vec![[0u64; 4]; BUCKETS];
        for (i, counts) in self.counts.iter().enumerate() {
            let at = (old_first + i as i64).div_euclid(2) - new_first;
            if let Some(target) = merged.get_mut(at as usize) {
                for (t, n) in target.iter_mut().zip(counts) {
                    *t += n;
                }
            }
        }
        self.counts = merged;
        self.width *= 2;
        self.first = Some(new_first);
    }

    /// The buckets from the first to the last that holds a start: (start, counts).
    fn used(&self) -> Vec<(Timestamp, [u64; 4])> {
        let Some(first) = self.first else {
            return Vec::new();
        };
        let busy = |b: &&[u64; 4]| b.iter().any(|&n| n > 0);
        let lo = self.counts.iter().position(|b| busy(&b)).unwrap_or(0);
        let hi = self.counts.iter().rposition(|b| busy(&b)).unwrap_or(0);
        (lo..=hi)
            .filter_map(|i| {
                let micros = (first + i as i64).saturating_mul(self.width);
                let at = Timestamp::new(
                    micros.div_euclid(1_000_000),
                    (micros.rem_euclid(1_000_000) * 1_000) as u32,
                );
                self.counts.get(i).map(|c| (at, *c))
            })
            .collect()
    }

    /// The chart as SVG: stacked bars by outcome (failures hatched as well as red, so colour
    /// is not the only carrier), each with its counts as a tooltip, and a legend in words.
    pub(super) fn svg(&self) -> Markup {
        let used = self.used();
        if used.is_empty() {
            return html! { p.note { "No connection to chart." } };
        }
        let tallest = used
            .iter()
            .map(|(_, c)| c.iter().sum::<u64>())
            .max()
            .unwrap_or(1)
            .max(1);
        // Few buckets are drawn as narrow bars, not as blocks across the whole chart.
        let step = (WIDTH / used.len() as f64).min(MAX_BAR);
        let scale = (HEIGHT - AXIS - 4.0) / tallest as f64;
        let seconds = self.width as f64 / 1e6;
        let last = used.last().map(|(t, _)| t.after(seconds));
        html! {
            div.legend {
                @for (i, name) in OUTCOMES.iter().enumerate() {
                    span { span class={ "swatch " (name) } {} (icon(i)) " " (name.replace('_', " ")) }
                }
                span.note { "each bar: " (bucket_words(seconds)) "; tallest: " (tallest) }
            }
            svg.chart role="img" aria-label="connections over time, by outcome"
                viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } width=(WIDTH) height=(HEIGHT) {
                defs {
                    pattern #hatch-failed patternUnits="userSpaceOnUse" width="6" height="6"
                        patternTransform="rotate(45)" {
                        rect width="6" height="6" fill="#c62828" {}
                        rect width="2" height="6" fill="#ffffff" {}
                    }
                }
                @for (i, (at, counts)) in used.iter().enumerate() {
                    (bar(i as f64 * step, step, scale, *at, counts))
                }
                line x1="0" x2=(WIDTH) y1=(HEIGHT - AXIS) y2=(HEIGHT - AXIS) class="lane" {}
                text x="0" y=(HEIGHT - 6.0) { (used.first().map(|(t, _)| t.rfc3339()).unwrap_or_default()) }
                text x=(WIDTH) y=(HEIGHT - 6.0) text-anchor="end" { (last.map(Timestamp::rfc3339).unwrap_or_default()) }
            }
        }
    }
}

/// One bucket's stacked bar, failures at the bottom where they are easiest to see.
fn bar(x: f64, step: f64, scale: f64, at: Timestamp, counts: &[u64; 4]) -> Markup {
    let order = [1usize, 2, 3, 0];
    let mut y = HEIGHT - AXIS;
    let mut rects = Vec::new();
    for i in order {
        let n = counts.get(i).copied().unwrap_or(0);
        if n == 0 {
            continue;
        }
        let h = n as f64 * scale;
        y -= h;
        rects.push((i, y, h));
    }
    let words: Vec<String> = order
        .iter()
        .filter_map(|&i| {
            let n = counts.get(i).copied().unwrap_or(0);
            (n > 0).then(|| format!("{n} {}", OUTCOMES.get(i).copied().unwrap_or("")))
        })
        .collect();
    let w = (step - 1.0).max(1.0);
    html! {
        g {
            title { (at.rfc3339()) ": " (words.join(", ")) }
            @for (i, y, h) in rects {
                rect class={ "bar-" (OUTCOMES.get(i).copied().unwrap_or("")) }
                    x=(format!("{x:.1}")) y=(format!("{y:.1}")) width=(format!("{w:.1}")) height=(format!("{h:.1}")) {}
            }
        }
    }
}

/// A bucket's width in words: "1.024 ms", "2.1 s", "17 min".
fn bucket_words(seconds: f64) -> String {
    if seconds < 1.0 {
        format!("{:.3} ms", seconds * 1e3)
    } else if seconds < 120.0 {
        format!("{seconds:.1} s")
    } else if seconds < 7200.0 {
        format!("{:.0} min", seconds / 60.0)
    } else {
        format!("{:.1} h", seconds / 3600.0)
    }
}

/// The outcome's name, by its place in `OUTCOMES`.
pub(super) fn outcome_index(outcome: crate::connection::Outcome) -> usize {
    let name = outcome_name(outcome);
    OUTCOMES.iter().position(|&o| o == name).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_widen_to_hold_every_start_in_any_order() {
        let mut h = Histogram::default();
        let base = 1_764_000_000;
        h.add(Timestamp::new(base + 100, 0), 0);
        h.add(Timestamp::new(base, 0), 1);
        h.add(Timestamp::new(base + 3600, 500), 2);
        h.add(Timestamp::new(base + 100, 1), 0);
        let total: u64 = h.counts.iter().flatten().sum();
        assert_eq!(total, 4);
        let used = h.used();
        let first = used.first().map(|(t, _)| t.secs).unwrap_or_default();
        assert!(first <= base);
        // Wide enough for the hour, and not past twice what it needs.
        let span = h.width as f64 / 1e6 * BUCKETS as f64;
        assert!((3600.0..=4.0 * 3600.0).contains(&span), "{span}");
        assert_eq!(used.first().map(|(_, c)| c[1]), Some(1));
        assert_eq!(used.last().map(|(_, c)| c[2]), Some(1));
    }

    /// Three captures read in turn, each judged at its end: the chart spans their 21 minutes
    /// in bars of seconds, not hours.
    #[test]
    fn an_earlier_start_moves_the_buckets_rather_than_widening_them() {
        let mut h = Histogram::default();
        let base = 1_764_000_000;
        for at in [1284, 1283, 0, 600, 1] {
            h.add(Timestamp::new(base + at, 0), 0);
        }
        let seconds = h.width as f64 / 1e6;
        assert!(seconds * BUCKETS as f64 >= 1284.0);
        assert!(seconds < 2.0 * 1284.0 / BUCKETS as f64 * 2.0, "{seconds}");
    }

    #[test]
    fn one_start_is_one_bar() {
        let mut h = Histogram::default();
        h.add(Timestamp::new(1_764_000_000, 123_456_789), 3);
        assert_eq!(h.used().len(), 1);
        let svg = h.svg().into_string();
        assert!(svg.contains("1 not_tls"), "{svg}");
    }
}
