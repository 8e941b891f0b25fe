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

use chrono::NaiveTime;

use crate::config::Window;

/// The local time of day now.
pub type Clock = Arc<dyn Fn() -> NaiveTime + Send + Sync>;

pub fn local_clock() -> Clock {
    Arc::new(|| chrono::Local::now().time())
}

const IDLE_CMD_TIMEOUT: Duration = Duration::from_secs(5);

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

    pub fn from_config(c: &crate::config::Config) -> Gate {
        Gate::new(
            c.session_check_window,
            c.session_check_idle_cmd.clone(),
            c.session_check_idle_min,
        )
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
