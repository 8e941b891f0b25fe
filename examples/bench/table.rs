//! The results table and the small statistics the benchmarks share.
//!
//! Kept free of the rest of the bench (no tokio, no restock) so
//! `tests/bench_smoke.rs` can include it with `#[path]` and check that the
//! writer keeps every row and never hides a missed target.

use std::fmt::Write as _;
use std::time::Duration;

/// One line of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub benchmark: String,
    pub figure: String,
    /// The raw reference measured in the same run.
    pub reference: String,
    pub ratio: String,
    pub target: String,
    /// `None` when the row has no target or was not measured.
    pub met: Option<bool>,
}

impl Row {
    pub fn new(benchmark: impl Into<String>) -> Row {
        Row {
            benchmark: benchmark.into(),
            figure: String::new(),
            reference: String::new(),
            ratio: String::new(),
            target: String::new(),
            met: None,
        }
    }

    /// A row for a benchmark that could not run, saying why.
    pub fn skipped(benchmark: impl Into<String>, target: impl Into<String>, why: &str) -> Row {
        Row {
            figure: format!("not measured: {why}"),
            reference: "-".into(),
            ratio: "-".into(),
            target: target.into(),
            ..Row::new(benchmark)
        }
    }
}

/// The Markdown table: a header, one line per row, in the given order.
pub fn markdown(rows: &[Row]) -> String {
    let mut out = String::new();
    out.push_str("| benchmark | figure | raw reference (same run) | ratio | target | met? |\n");
    out.push_str("|---|---|---|---|---|---|\n");
    for r in rows {
        let met = match r.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "-",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            cell(&r.benchmark),
            cell(&r.figure),
            cell(&r.reference),
            cell(&r.ratio),
            cell(&r.target),
            met
        );
    }
    out
}

/// A table cell: pipes escaped, newlines flattened.
fn cell(s: &str) -> String {
    let s = if s.is_empty() { "-" } else { s };
    s.replace('|', "\\|").replace('\n', " ")
}

/// Latency samples, sorted once, read by nearest rank.
pub struct Samples(Vec<Duration>);

impl Samples {
    pub fn new(mut v: Vec<Duration>) -> Samples {
        v.sort_unstable();
        Samples(v)
    }

    pub fn into_inner(self) -> Vec<Duration> {
        self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Nearest-rank percentile, `p` in 0..=100; zero when empty.
    pub fn pct(&self, p: f64) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * self.0.len() as f64).ceil() as usize;
        self.0[rank.clamp(1, self.0.len()) - 1]
    }

    pub fn median(&self) -> Duration {
        self.pct(50.0)
    }
}

/// `1.23 ms`, `456 µs`, `2.1 s`: three significant digits.
pub fn dur(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 1.0 {
        format!("{} s", sig3(s))
    } else if s >= 1e-3 {
        format!("{} ms", sig3(s * 1e3))
    } else {
        format!("{} µs", sig3(s * 1e6))
    }
}

/// A rate with thousands separators, no decimals: `12,345`.
pub fn rate(per_s: f64) -> String {
    let n = per_s.round() as u64;
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Three significant digits, no exponent.
pub fn sig3(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let decimals = (2 - x.abs().log10().floor() as i32).max(0) as usize;
    format!("{x:.decimals$}")
}

/// `0.42x`.
pub fn ratio(a: f64, b: f64) -> String {
    if b == 0.0 || !a.is_finite() || !b.is_finite() {
        return "n/a".into();
    }
    format!("{}x", sig3(a / b))
}
