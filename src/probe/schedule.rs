//! When the probe is due: `RESTOCK_SESSION_CHECK` is an interval (`3h`,
//! at least `1s`), a cron expression, or `off`.
//!
//! Cron expressions are read in local time by tokio-cron-scheduler (its
//! offset is taken when the server starts, so a DST change shifts them by an
//! hour until the next restart). Six fields with seconds first
//! (`0 0 9,21 * * *` = 09:00 and 21:00) or the common five without seconds
//! (`0 9,21 * * *`, taken as second 0).
//!
//! The scheduler never runs the probe itself: its job only calls `on_due`
//! (the probe marks itself due and wakes the engine loop, which runs it
//! between claims). tokio-cron-scheduler checks its jobs every 500 ms, so a
//! mark lands within about half a second of its time.

use std::sync::Arc;
use std::time::Duration;

use tokio_cron_scheduler::{Job, JobScheduler};

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
            return match cron_job(&expr, Arc::new(|| {})) {
                Ok(_) => Ok(Schedule::Cron(expr)),
                Err(_) => Err(format!("not a valid cron expression; expected {EXPECTED}")),
            };
        }
        let every = crate::config::human_duration::parse(text)
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

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Schedule::Off => f.write_str("off"),
            Schedule::Every(d) => write!(f, "every {}", humantime::format_duration(*d)),
            Schedule::Cron(e) => write!(f, "cron `{e}`"),
        }
    }
}

fn cron_job(
    expr: &str,
    on_due: Arc<dyn Fn() + Send + Sync>,
) -> Result<Job, tokio_cron_scheduler::JobSchedulerError> {
    Job::new_async_tz(expr, chrono::Local, move |_id, _sched| {
        let on_due = on_due.clone();
        Box::pin(async move { on_due() })
    })
}

/// A running schedule; [`Scheduled::shutdown`] stops it.
pub struct Scheduled {
    scheduler: JobScheduler,
}

impl Scheduled {
    pub async fn shutdown(mut self) {
        if let Err(e) = self.scheduler.shutdown().await {
            tracing::warn!(error = %e, "the probe scheduler did not shut down cleanly");
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot start the session-check scheduler: {0}")]
pub struct ScheduleError(String);

/// Starts the schedule; `Ok(None)` when it is off.
pub async fn start(
    schedule: &Schedule,
    on_due: Arc<dyn Fn() + Send + Sync>,
) -> Result<Option<Scheduled>, ScheduleError> {
    let err = |e: tokio_cron_scheduler::JobSchedulerError| ScheduleError(e.to_string());
    let job = match schedule {
        Schedule::Off => return Ok(None),
        Schedule::Every(every) => Job::new_repeated_async(*every, move |_id, _sched| {
            let on_due = on_due.clone();
            Box::pin(async move { on_due() })
        })
        .map_err(err)?,
        Schedule::Cron(expr) => cron_job(expr, on_due).map_err(err)?,
    };
    let scheduler = JobScheduler::new().await.map_err(err)?;
    scheduler.add(job).await.map_err(err)?;
    scheduler.start().await.map_err(err)?;
    tracing::info!(%schedule, "session checks scheduled");
    Ok(Some(Scheduled { scheduler }))
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
