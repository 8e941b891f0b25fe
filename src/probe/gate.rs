//! The activity gate: a due probe runs only inside an allowed local-time
//! window (`RESTOCK_SESSION_CHECK_WINDOW`, e.g. `08:00-22:00`, may wrap
//! midnight like `22:00-06:00`; empty means any time) and, when
//! `RESTOCK_SESSION_CHECK_IDLE_CMD` is set, only when that command says the
//! desktop has been idle for at least `RESTOCK_SESSION_CHECK_IDLE_MIN`.
//!
//! The idle command runs through `sh -c`, bounded by 5 seconds, and must
//! print idle milliseconds on stdout (like `xprintidle`). A command that
//! fails, times out or prints something else counts as "not idle" and is
//! logged (once per distinct failure, so a waiting probe does not flood the
//! log).
//!
//! The clock is injectable so tests can open and close the window without
//! waiting for real time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{NaiveTime, Timelike};

/// The local time of day now.
pub type Clock = Arc<dyn Fn() -> NaiveTime + Send + Sync>;

pub fn local_clock() -> Clock {
    Arc::new(|| chrono::Local::now().time())
}

const IDLE_CMD_TIMEOUT: Duration = Duration::from_secs(5);

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

/// May the probe run now?
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Open,
    /// Why not, in words for logs and events.
    Closed(String),
}

pub struct Gate {
    window: Option<Window>,
    idle_cmd: Option<String>,
    idle_min: Duration,
    clock: Clock,
    last_failure: Mutex<Option<String>>,
}

impl Gate {
    pub fn new(window: Option<Window>, idle_cmd: Option<String>, idle_min: Duration) -> Gate {
        Gate {
            window,
            idle_cmd: idle_cmd.filter(|c| !c.trim().is_empty()),
            idle_min,
            clock: local_clock(),
            last_failure: Mutex::new(None),
        }
    }

    /// Always open.
    pub fn open() -> Gate {
        Gate::new(None, None, Duration::ZERO)
    }

    pub fn from_config(c: &crate::config::Config) -> Result<Gate, String> {
        Ok(Gate::new(
            Window::parse(&c.session_check_window)?,
            c.session_check_idle_cmd.clone(),
            c.session_check_idle_min,
        ))
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: Clock) -> Gate {
        self.clock = clock;
        self
    }

    pub async fn check(&self) -> Decision {
        if let Some(w) = &self.window {
            let now = (self.clock)();
            if !w.contains(now) {
                return Decision::Closed(format!(
                    "outside the window {w} (local time {})",
                    now.format("%H:%M")
                ));
            }
        }
        let Some(cmd) = &self.idle_cmd else {
            return Decision::Open;
        };
        match idle_ms(cmd).await {
            Ok(ms) if Duration::from_millis(ms) >= self.idle_min => {
                *self.last_failure.lock().unwrap_or_else(|e| e.into_inner()) = None;
                Decision::Open
            }
            Ok(ms) => {
                *self.last_failure.lock().unwrap_or_else(|e| e.into_inner()) = None;
                Decision::Closed(format!(
                    "the desktop is in use (idle {}, needs {})",
                    humantime::format_duration(Duration::from_secs(ms / 1000)),
                    humantime::format_duration(self.idle_min)
                ))
            }
            Err(why) => {
                let mut last = self.last_failure.lock().unwrap_or_else(|e| e.into_inner());
                if last.as_deref() != Some(why.as_str()) {
                    tracing::warn!(command = %cmd, error = %why, "RESTOCK_SESSION_CHECK_IDLE_CMD failed; counting the desktop as in use");
                    *last = Some(why.clone());
                }
                Decision::Closed(format!(
                    "the idle command failed ({why}); counted as not idle"
                ))
            }
        }
    }
}

/// Runs the idle command; its stdout is idle milliseconds.
async fn idle_ms(cmd: &str) -> Result<u64, String> {
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(IDLE_CMD_TIMEOUT, child)
        .await
        .map_err(|_| format!("no answer within {}s", IDLE_CMD_TIMEOUT.as_secs()))?
        .map_err(|e| format!("cannot run it: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let err = err.trim();
        return Err(format!(
            "exited with {}{}",
            out.status,
            if err.is_empty() {
                String::new()
            } else {
                format!(": {}", err.chars().take(200).collect::<String>())
            }
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let text = text.trim();
    text.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(|v| v as u64)
        .ok_or_else(|| {
            format!(
                "printed `{}`, not idle milliseconds",
                text.chars().take(40).collect::<String>()
            )
        })
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

    #[tokio::test]
    async fn idle_command_open_closed_and_failing() {
        let gate = Gate::new(None, Some("echo 600000".into()), Duration::from_secs(300));
        assert_eq!(gate.check().await, Decision::Open);
        let gate = Gate::new(None, Some("echo 1000".into()), Duration::from_secs(300));
        assert!(matches!(gate.check().await, Decision::Closed(w) if w.contains("in use")));
        let gate = Gate::new(None, Some("exit 3".into()), Duration::from_secs(1));
        assert!(matches!(gate.check().await, Decision::Closed(w) if w.contains("failed")));
        let gate = Gate::new(None, Some("echo soon".into()), Duration::from_secs(1));
        assert!(
            matches!(gate.check().await, Decision::Closed(w) if w.contains("not idle milliseconds"))
        );
    }

    #[tokio::test]
    async fn the_clock_decides_the_window() {
        let now = Arc::new(Mutex::new(t(7, 0)));
        let n = now.clone();
        let gate = Gate::new(Window::parse("08:00-22:00").unwrap(), None, Duration::ZERO)
            .with_clock(Arc::new(move || *n.lock().unwrap()));
        assert!(matches!(gate.check().await, Decision::Closed(w) if w.contains("outside")));
        *now.lock().unwrap() = t(8, 0);
        assert_eq!(gate.check().await, Decision::Open);
    }
}
