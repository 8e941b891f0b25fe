//! `RESTOCK_SESSION_CHECK`: when the session probe is due. An interval
//! (`3h`, at least `1s`), a cron expression, or `off`.
//!
//! Cron expressions are read in local time. Six fields with seconds first
//! (`0 0 9,21 * * *` = 09:00 and 21:00) or the common five without seconds
//! (`0 9,21 * * *`, taken as second 0). The scheduler that runs them
//! (`probe::schedule`) parses them here too, with its own parser, so a
//! schedule that loads is one it can run.

use std::time::Duration;

use tokio_cron_scheduler::Job;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    Off,
    Every(Duration),
    /// A six-field cron expression (seconds first).
    Cron(String),
}

const EXPECTED: &str = "an interval like `3h` (at least 1s), a cron expression with seconds like `0 0 9,21 * * *` (or five fields like `0 9,21 * * *`), or `off`";

impl Schedule {
    pub fn parse(text: &str) -> Result<Schedule, String> {
        let text = text.trim();
        if text.is_empty() || text.eq_ignore_ascii_case("off") {
            return Ok(Schedule::Off);
        }
        let fields: Vec<&str> = text.split_whitespace().collect();
        if fields.len() >= 5 {
            let expr = if fields.len() == 5 {
                format!("0 {}", fields.join(" "))
            } else {
                fields.join(" ")
            };
            // The scheduler's own parser decides; building a job parses it.
            let job = Job::new_async_tz(expr.as_str(), chrono::Local, |_id, _sched| {
                Box::pin(async {})
            });
            return match job {
                Ok(_) => Ok(Schedule::Cron(expr)),
                Err(_) => Err(format!("not a valid cron expression; expected {EXPECTED}")),
            };
        }
        let every = super::formats::human_duration::parse(text)
            .map_err(|_| format!("expected {EXPECTED}"))?;
        if every < Duration::from_secs(1) {
            return Err(format!("shorter than 1s; expected {EXPECTED}"));
        }
        Ok(Schedule::Every(every))
    }

    pub fn is_off(&self) -> bool {
        *self == Schedule::Off
    }

    /// Is a probe that last ran at `last` (ms) owed now, at start-up?
    /// Never having run is always owed; an interval is owed once it has
    /// passed; a cron schedule waits for its next time.
    pub fn owed_at_start(&self, last: Option<i64>, now: i64) -> bool {
        match (self, last) {
            (Schedule::Off, _) => false,
            (_, None) => true,
            (Schedule::Every(d), Some(t)) => now - t >= d.as_millis() as i64,
            (Schedule::Cron(_), Some(_)) => false,
        }
    }
}

impl std::str::FromStr for Schedule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Schedule::parse(s)
    }
}

/// Written back as the owner would write it (the config's own round trip).
impl serde::Serialize for Schedule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Schedule::Off => s.serialize_str("off"),
            Schedule::Every(d) => s.serialize_str(&humantime::format_duration(*d).to_string()),
            Schedule::Cron(e) => s.serialize_str(e),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Schedule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Schedule::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Schedule::Off => f.write_str("off"),
            Schedule::Every(d) => write!(f, "every {}", humantime::format_duration(*d)),
            Schedule::Cron(e) => write!(f, "cron `{e}`"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_intervals_cron_and_off() {
        assert_eq!(Schedule::parse("off").unwrap(), Schedule::Off);
        assert_eq!(Schedule::parse(" OFF ").unwrap(), Schedule::Off);
        assert_eq!(
            Schedule::parse("3h").unwrap(),
            Schedule::Every(Duration::from_secs(3 * 3600))
        );
        assert_eq!(
            Schedule::parse("0 0 9,21 * * *").unwrap(),
            Schedule::Cron("0 0 9,21 * * *".into())
        );
        assert_eq!(
            Schedule::parse("30 9 * * 1-5").unwrap(),
            Schedule::Cron("0 30 9 * * 1-5".into())
        );
    }

    #[test]
    fn bad_values_say_what_is_expected() {
        for bad in ["soon", "0 0 99 * * *", "500ms", "* * * * * * * *"] {
            let e = Schedule::parse(bad).unwrap_err();
            assert!(e.contains("`3h`") && e.contains("off"), "{bad}: {e}");
        }
    }

    #[test]
    fn owed_at_start() {
        let every = Schedule::Every(Duration::from_secs(10));
        assert!(every.owed_at_start(None, 0));
        assert!(!every.owed_at_start(Some(5_000), 10_000));
        assert!(every.owed_at_start(Some(0), 10_000));
        let cron = Schedule::Cron("0 0 9 * * *".into());
        assert!(cron.owed_at_start(None, 0));
        assert!(!cron.owed_at_start(Some(0), i64::MAX));
        assert!(!Schedule::Off.owed_at_start(None, 0));
    }
}
