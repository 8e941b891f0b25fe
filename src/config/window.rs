//! `RESTOCK_SESSION_CHECK_WINDOW`: the local-time window the session probe
//! may run in, `HH:MM-HH:MM` (may wrap midnight like `22:00-06:00`; empty
//! means any time).

use chrono::{NaiveTime, Timelike};

/// `HH:MM-HH:MM`, start inclusive, end exclusive, wrapping past midnight
/// when the end is earlier than the start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    start: u32,
    end: u32,
}

impl Window {
    /// `Ok(None)` for an empty value (any time).
    pub fn parse(text: &str) -> Result<Option<Window>, String> {
        const EXPECTED: &str =
            "a local-time window like `08:00-22:00` (may wrap midnight, e.g. `22:00-06:00`), or empty for any time";
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let (a, b) = text.split_once('-').ok_or(EXPECTED)?;
        let minute = |s: &str| -> Result<u32, String> {
            let (h, m) = s.trim().split_once(':').ok_or(EXPECTED)?;
            let (h, m) = (h.parse::<u32>(), m.parse::<u32>());
            match (h, m) {
                (Ok(h), Ok(m)) if h < 24 && m < 60 => Ok(h * 60 + m),
                (Ok(24), Ok(0)) => Ok(24 * 60),
                _ => Err(EXPECTED.to_string()),
            }
        };
        let (start, end) = (minute(a)?, minute(b)?);
        if start == end {
            return Err(format!(
                "{EXPECTED}; a window that starts where it ends is ambiguous (leave it empty for any time)"
            ));
        }
        Ok(Some(Window {
            start,
            end: end % (24 * 60),
        }))
    }

    pub fn contains(&self, t: NaiveTime) -> bool {
        let m = t.hour() * 60 + t.minute();
        if self.start < self.end {
            self.start <= m && m < self.end
        } else {
            m >= self.start || m < self.end
        }
    }
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:02}:{:02}-{:02}:{:02}",
            self.start / 60,
            self.start % 60,
            self.end / 60,
            self.end % 60
        )
    }
}

/// `RESTOCK_SESSION_CHECK_WINDOW` as read: `None` is any time. Serializes
/// back to the text (empty for any time).
pub mod setting {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Window;

    pub fn serialize<S: Serializer>(w: &Option<Window>, s: S) -> Result<S::Ok, S::Error> {
        match w {
            Some(w) => s.serialize_str(&w.to_string()),
            None => s.serialize_str(""),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Window>, D::Error> {
        let text = String::deserialize(d)?;
        Window::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn windows_and_midnight() {
        let w = Window::parse("08:00-22:00").unwrap().unwrap();
        assert!(!w.contains(t(7, 59)));
        assert!(w.contains(t(8, 0)));
        assert!(w.contains(t(21, 59)));
        assert!(!w.contains(t(22, 0)));
        let night = Window::parse(" 22:30 - 06:00 ").unwrap().unwrap();
        assert!(night.contains(t(23, 0)));
        assert!(night.contains(t(0, 10)));
        assert!(!night.contains(t(6, 0)));
        assert!(!night.contains(t(12, 0)));
        assert_eq!(night.to_string(), "22:30-06:00");
        let to_midnight = Window::parse("18:00-24:00").unwrap().unwrap();
        assert!(to_midnight.contains(t(23, 59)));
        assert!(!to_midnight.contains(t(0, 0)));
        assert_eq!(Window::parse("").unwrap(), None);
        let all_day = Window::parse("00:00-24:00").unwrap().unwrap();
        assert!(all_day.contains(t(0, 0)) && all_day.contains(t(23, 59)));
    }

    #[test]
    fn bad_windows_say_what_is_expected() {
        for bad in ["8-22", "08:00", "25:00-01:00", "08:00-08:00", "08:61-09:00"] {
            let e = Window::parse(bad).unwrap_err();
            assert!(e.contains("08:00-22:00"), "{bad}: {e}");
        }
    }
}
