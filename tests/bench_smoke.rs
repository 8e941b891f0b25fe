//! The benchmark's table writer and statistics (examples/bench/table.rs),
//! without running any benchmark: no timings are asserted here.

#[allow(dead_code)]
#[path = "../examples/bench/table.rs"]
mod table;

use std::time::Duration;

use table::{markdown, Row, Samples};

#[test]
fn every_row_is_written_in_order_and_a_miss_says_no() {
    let rows = vec![
        Row {
            figure: "6,000 orders/s".into(),
            reference: "9,000 orders/s".into(),
            ratio: "67% of raw".into(),
            target: ">= 5,000 orders/s".into(),
            met: Some(true),
            ..Row::new("1. Engine")
        },
        Row {
            figure: "p99 40 ms".into(),
            met: Some(false),
            ..Row::new("2. Intake | GET")
        },
        Row::skipped("5. Browser", "<= 1.3x", "no Chromium\non this machine"),
    ];
    let md = markdown(&rows);
    let lines: Vec<&str> = md.lines().collect();
    assert_eq!(lines.len(), 2 + rows.len(), "{md}");
    assert!(lines[0].starts_with("| benchmark | figure | raw reference"));
    assert!(lines[2].starts_with("| 1. Engine |") && lines[2].ends_with("| yes |"));
    // A pipe in a cell is escaped, so the row keeps its six columns.
    assert!(
        lines[3].starts_with("| 2. Intake \\| GET |"),
        "{}",
        lines[3]
    );
    assert!(lines[3].ends_with("| **no** |"));
    // Empty cells show a dash; a skipped row says why, on one line.
    assert!(lines[3].contains("| - |"));
    assert!(lines[4].contains("not measured: no Chromium on this machine"));
    assert!(lines[4].ends_with("| - |"));
    for line in &lines {
        let cells = line.replace("\\|", "").matches('|').count();
        assert_eq!(cells, 7, "six columns in {line}");
    }
}

#[test]
fn percentiles_are_nearest_rank() {
    let ms = |n: u64| Duration::from_millis(n);
    let s = Samples::new((1..=100).rev().map(ms).collect());
    assert_eq!(s.median(), ms(50));
    assert_eq!(s.pct(99.0), ms(99));
    assert_eq!(s.pct(100.0), ms(100));
    assert_eq!(s.pct(0.0), ms(1));
    let five = Samples::new(vec![ms(5), ms(1), ms(4), ms(2), ms(3)]);
    assert_eq!(five.median(), ms(3));
    assert_eq!(Samples::new(Vec::new()).pct(99.0), Duration::ZERO);
}

#[test]
fn numbers_read_well() {
    assert_eq!(table::rate(12345.4), "12,345");
    assert_eq!(table::rate(999.0), "999");
    assert_eq!(table::dur(Duration::from_micros(1234)), "1.23 ms");
    assert_eq!(table::dur(Duration::from_micros(56)), "56.0 µs");
    assert_eq!(table::dur(Duration::from_millis(2100)), "2.10 s");
    assert_eq!(table::ratio(1.0, 0.0), "n/a");
    assert_eq!(table::ratio(3.0, 2.0), "1.50x");
}
