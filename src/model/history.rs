//! A store's order history as restock reads it, and how an order that
//! reached Place Order without a confirmation is found in it.
//!
//! The purchaser reads the rows of the store's order-history page (see a
//! store definition's `[orders]`) and parses what it can: each row's total
//! as money and its date as the span of time the order was placed in, as
//! precise as the store prints it (a minute for `2 Dec 2026, 11:42`, a
//! whole day for `2 Dec 2026`). [`candidates`] then picks the rows that can
//! be the unconfirmed order; the engine checks their order ids against the
//! ones other orders already hold.
//!
//! A row is a candidate when all of these hold:
//! - its total is the order's total, to the cent;
//! - it was placed at or after the order's submit time, less a few minutes
//!   of clock skew between this host and the store ([`SKEW`]); a row that
//!   only shows a day counts when that day (in the store's time zone) is
//!   the submit day or later;
//! - its item text, when the store shows one, names the item (its catalog
//!   name or id, case and spacing ignored);
//! - it has an order id.
//!
//! Several candidates: the earliest is taken (the store's first order after
//! the submit is the one restock's click made).

use std::time::Duration;

use chrono::{DateTime, FixedOffset, Local, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde::Serialize;

use super::names::named_enum;
use super::Money;

/// How far this host's clock and the store's may disagree.
pub const SKEW: Duration = Duration::from_secs(5 * 60);

/// When an order was placed: some time in `[from, to)`, ms since the
/// epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Placed {
    pub from: i64,
    pub to: i64,
}

/// One row of the order history: the texts as shown, and what was read
/// from them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryRow {
    pub order_id: Option<String>,
    pub date_text: Option<String>,
    pub total_text: Option<String>,
    pub items_text: Option<String>,
    /// `date_text` read with the store's date format and time zone.
    pub placed: Option<Placed>,
    /// `total_text` read as money.
    pub total: Option<Money>,
}

/// What reading a store's order history gave.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "result", content = "rows", rename_all = "snake_case")]
pub enum OrderHistory {
    /// The store definition has no `[orders]`: it cannot be verified.
    Unsupported,
    /// The rows shown (none: the store shows no orders).
    Read(Vec<HistoryRow>),
    /// The page could not be read this time (timeout, signed out, a
    /// challenge): the next check tries again.
    Failed(String),
}

/// What the unconfirmed order is known by.
#[derive(Debug, Clone, PartialEq)]
pub struct Wanted {
    /// The total approved at review, before Place Order.
    pub total: Money,
    /// When `submitted` was written, ms since the epoch.
    pub submitted_at: i64,
    /// Texts that name the item (catalog name and id); any one found in a
    /// row's item text is enough.
    pub names: Vec<String>,
}

/// The rows that can be the wanted order, earliest first (see the module
/// docs).
pub fn candidates<'a>(rows: &'a [HistoryRow], wanted: &Wanted) -> Vec<&'a HistoryRow> {
    let mut found: Vec<&HistoryRow> = rows.iter().filter(|r| is_candidate(r, wanted)).collect();
    found.sort_by_key(|r| r.placed.map_or(i64::MAX, |p| p.from));
    found
}

fn is_candidate(row: &HistoryRow, wanted: &Wanted) -> bool {
    let has_id = row
        .order_id
        .as_deref()
        .is_some_and(|id| !id.trim().is_empty());
    let total = row.total == Some(wanted.total);
    let earliest = wanted.submitted_at - SKEW.as_millis() as i64;
    let late_enough = row.placed.is_some_and(|p| p.to > earliest);
    has_id && total && late_enough && names_item(row.items_text.as_deref(), &wanted.names)
}

/// True when `items` is unreadable (absent or blank) or contains one of
/// `names`, case and runs of white space ignored.
fn names_item(items: Option<&str>, names: &[String]) -> bool {
    let Some(items) = items.map(fold).filter(|t| !t.is_empty()) else {
        return true;
    };
    names
        .iter()
        .map(|n| fold(n))
        .any(|n| !n.is_empty() && items.contains(&n))
}

fn fold(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The time zone a store prints its order dates in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StoreZone {
    Utc,
    /// This host's local time.
    #[default]
    Local,
    /// A fixed offset from UTC, in seconds east.
    Offset(i32),
}

impl std::str::FromStr for StoreZone {
    type Err = String;

    /// `UTC`, `local`, or an offset like `+01:00` / `-0530`.
    fn from_str(s: &str) -> Result<StoreZone, String> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("utc") || t == "Z" {
            return Ok(StoreZone::Utc);
        }
        if t.eq_ignore_ascii_case("local") {
            return Ok(StoreZone::Local);
        }
        let bad =
            || format!("`{s}` is not a time zone; write `UTC`, `local` or an offset like `+01:00`");
        let (sign, rest) = match t.chars().next() {
            Some('+') => (1, &t[1..]),
            Some('-') => (-1, &t[1..]),
            _ => return Err(bad()),
        };
        let digits: String = rest.chars().filter(|c| *c != ':').collect();
        if digits.len() != 4 || !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        let hours: i32 = digits[..2].parse().map_err(|_| bad())?;
        let minutes: i32 = digits[2..].parse().map_err(|_| bad())?;
        if hours > 14 || minutes > 59 {
            return Err(bad());
        }
        Ok(StoreZone::Offset(sign * (hours * 3600 + minutes * 60)))
    }
}

impl StoreZone {
    fn at(self, t: &NaiveDateTime) -> Option<i64> {
        match self {
            StoreZone::Utc => Some(t.and_utc().timestamp_millis()),
            StoreZone::Local => Local
                .from_local_datetime(t)
                .earliest()
                .map(|d| d.timestamp_millis()),
            StoreZone::Offset(secs) => FixedOffset::east_opt(secs)?
                .from_local_datetime(t)
                .single()
                .map(|d| d.timestamp_millis()),
        }
    }
}

/// Date-and-time formats tried when a store definition names none.
const DATE_TIMES: [&str; 10] = [
    "%d %b %Y, %H:%M",
    "%d %b %Y %H:%M",
    "%d %B %Y, %H:%M",
    "%d %B %Y %H:%M",
    "%b %d, %Y, %H:%M",
    "%B %d, %Y %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y, %H:%M",
];

/// Date-only formats tried when a store definition names none.
const DATES: [&str; 7] = [
    "%d %b %Y",
    "%d %B %Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%Y-%m-%d",
    "%d.%m.%Y",
    "%d %b, %Y",
];

/// When an order was placed, read from the text its row shows.
///
/// RFC 3339 (`2026-12-02T11:42:00Z`, as in a `<time datetime>` attribute)
/// is always understood. Otherwise `format` (chrono's `strftime` syntax)
/// is used when given, else a list of common formats; a text with a time
/// places the order within that minute (second, when the format has
/// seconds), a date alone within that day, both in `zone`.
pub fn parse_placed(text: &str, format: Option<&str>, zone: StoreZone) -> Option<Placed> {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Ok(t) = DateTime::parse_from_rfc3339(&text) {
        let ms = t.with_timezone(&Utc).timestamp_millis();
        return Some(Placed {
            from: ms,
            to: ms + 1000,
        });
    }
    let (times, dates): (Vec<&str>, Vec<&str>) = match format {
        Some(f) => (vec![f], vec![f]),
        None => (DATE_TIMES.to_vec(), DATES.to_vec()),
    };
    for f in times {
        if let Ok(t) = NaiveDateTime::parse_from_str(&text, f) {
            let width = if f.contains("%S") || f.contains("%T") {
                1000
            } else {
                60_000
            };
            let from = zone.at(&t)?;
            return Some(Placed {
                from,
                to: from + width,
            });
        }
    }
    for f in dates {
        if let Ok(d) = NaiveDate::parse_from_str(&text, f) {
            let from = zone.at(&d.and_hms_opt(0, 0, 0)?)?;
            let to = zone.at(&d.succ_opt()?.and_hms_opt(0, 0, 0)?)?;
            return Some(Placed { from, to });
        }
    }
    None
}

named_enum! {
    "verdict", "snake_case",
    /// What a verification concluded.
    pub enum Verdict {
        /// Found in the order history: the order is `placed`.
        Placed,
        /// Not in the order history after every check of the window: it stays
        /// `needs_review`.
        NotFound,
        /// The store cannot be verified (no `[orders]`, or the order's total is
        /// unknown): it stays `needs_review`, as before verification existed.
        Unsupported,
    }
}

/// When the checks of a verification that started at `started` fall: at
/// 1/15, 1/3 and all of `window` (1, 5 and 15 minutes for the default
/// 15-minute window).
pub fn check_times(started: i64, window: Duration) -> [i64; 3] {
    let w = window.as_millis() as i64;
    [started + w / 15, started + w / 3, started + w]
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn at(text: &str) -> i64 {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp_millis()
    }

    fn row(id: &str, date: &str, total: i64, items: Option<&str>) -> HistoryRow {
        HistoryRow {
            order_id: Some(id.into()),
            date_text: Some(date.into()),
            total_text: None,
            items_text: items.map(str::to_string),
            placed: parse_placed(date, None, StoreZone::Utc),
            total: Some(Money(total)),
        }
    }

    #[test]
    fn dates_are_read_to_the_precision_shown() {
        let p = parse_placed("2 Dec 2026, 11:42", None, StoreZone::Utc).unwrap();
        assert_eq!(p.from, at("2026-12-02T11:42:00Z"));
        assert_eq!(p.to - p.from, MIN);
        let p = parse_placed(" 2 Dec 2026 ", None, StoreZone::Utc).unwrap();
        assert_eq!(
            (p.from, p.to),
            (at("2026-12-02T00:00:00Z"), at("2026-12-03T00:00:00Z"))
        );
        let p = parse_placed("2026-12-02T11:42:05+01:00", None, StoreZone::Utc).unwrap();
        assert_eq!(p.from, at("2026-12-02T10:42:05Z"));
        let p = parse_placed(
            "02/12/2026 11:42",
            Some("%d/%m/%Y %H:%M"),
            "+01:00".parse().unwrap(),
        )
        .unwrap();
        assert_eq!(p.from, at("2026-12-02T10:42:00Z"));
        assert_eq!(parse_placed("yesterday", None, StoreZone::Utc), None);
        assert!("Mars/Olympus".parse::<StoreZone>().is_err());
        assert_eq!("-05:30".parse::<StoreZone>(), Ok(StoreZone::Offset(-19800)));
    }

    #[test]
    fn only_a_row_with_the_total_after_the_submit_is_a_candidate() {
        let wanted = Wanted {
            total: Money(1298),
            submitted_at: at("2026-12-02T11:42:30Z"),
            names: vec!["Dish soap".into(), "soap".into()],
        };
        let rows = vec![
            row("D-3", "2 Dec 2026, 11:43", 1299, Some("Dish soap × 1")),
            row("D-2", "2 Dec 2026, 11:42", 1298, Some("Dish  SOAP × 1")),
            row("D-1", "2 Dec 2026, 11:30", 1298, Some("Dish soap × 1")),
            row("D-0", "2 Dec 2026, 11:44", 1298, Some("Coffee beans × 1")),
        ];
        let found: Vec<_> = candidates(&rows, &wanted)
            .iter()
            .map(|r| r.order_id.clone().unwrap())
            .collect();
        assert_eq!(found, ["D-2"], "total, time and item must all fit");
        // A few minutes of skew are allowed; a day-only date counts that day.
        let skewed = vec![row("D-5", "2 Dec 2026, 11:39", 1298, None)];
        assert_eq!(candidates(&skewed, &wanted).len(), 1);
        let day = vec![
            row("D-6", "2 Dec 2026", 1298, None),
            row("D-7", "1 Dec 2026", 1298, None),
        ];
        let found = candidates(&day, &wanted);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].order_id.as_deref(), Some("D-6"));
        // Earliest first.
        let two = vec![
            row("D-9", "2 Dec 2026, 11:50", 1298, None),
            row("D-8", "2 Dec 2026, 11:43", 1298, None),
        ];
        assert_eq!(
            candidates(&two, &wanted)[0].order_id.as_deref(),
            Some("D-8")
        );
    }

    #[test]
    fn checks_fall_at_a_fifteenth_a_third_and_the_end_of_the_window() {
        assert_eq!(
            check_times(0, Duration::from_secs(900)),
            [60_000, 300_000, 900_000]
        );
    }
}
