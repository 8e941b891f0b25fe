//! The dead-man's switch's settings, taken from the config (which has
//! already read every URL), and advice about settings that work against
//! each other.

use std::time::Duration;

use crate::config::{Config, PausedPing};
use crate::urls::MonitorUrl;

/// The heartbeat's settings, parsed from [`Config`].
#[derive(Debug, Clone)]
pub struct Settings {
    pub monitors: Vec<MonitorUrl>,
    pub order_check: Option<MonitorUrl>,
    pub interval: Duration,
    pub timeout: Duration,
    /// `RESTOCK_HEARTBEAT_PAUSED=fail`: a paused engine says "down".
    pub paused_fails: bool,
    pub stall_after: Duration,
}

impl Settings {
    /// Monitors keep the config's order; two URLs that would show the same
    /// label are told apart (`#2`), and an order check sharing a heartbeat
    /// URL's label is marked `(orders)`.
    pub fn from_config(c: &Config) -> Settings {
        let mut monitors: Vec<MonitorUrl> = Vec::new();
        for url in &c.heartbeat_url {
            let mut t = url.clone();
            let base = t.label.clone();
            let mut n = 1;
            while monitors.iter().any(|m| m.label == t.label) {
                n += 1;
                t.label = format!("{base} #{n}");
            }
            monitors.push(t);
        }
        let order_check = c.order_check_url.clone().map(|mut t| {
            if monitors.iter().any(|m| m.label == t.label) {
                t.label = format!("{} (orders)", t.label);
            }
            t
        });
        Settings {
            monitors,
            order_check,
            interval: c.heartbeat_interval,
            timeout: c.heartbeat_timeout,
            paused_fails: c.heartbeat_paused == PausedPing::Fail,
            stall_after: c.stall_after(),
        }
    }
}

/// Advice about settings that work against each other, for the log at
/// start-up.
pub fn timing_warnings(c: &Config, watchdog: Option<Duration>) -> Vec<String> {
    let mut out = Vec::new();
    let fmt = |d: Duration| humantime::format_duration(d).to_string();
    if !c.heartbeat_url.is_empty() && c.poll_interval > c.heartbeat_interval {
        out.push(format!(
            "RESTOCK_POLL_INTERVAL ({}) is longer than RESTOCK_HEARTBEAT_INTERVAL ({}): an idle engine pings only every {}",
            fmt(c.poll_interval),
            fmt(c.heartbeat_interval),
            fmt(c.poll_interval)
        ));
    }
    if c.poll_interval > c.stall_after() {
        out.push(format!(
            "RESTOCK_POLL_INTERVAL ({}) is longer than RESTOCK_STALL_AFTER ({}): an idle engine will look stalled",
            fmt(c.poll_interval),
            fmt(c.stall_after())
        ));
    }
    if let Some(wd) = watchdog.filter(|wd| c.poll_interval > *wd / 2) {
        out.push(format!(
            "systemd WatchdogSec ({}) is less than twice RESTOCK_POLL_INTERVAL ({}): systemd may kill an idle engine; raise WatchdogSec or lower the poll interval",
            fmt(wd),
            fmt(c.poll_interval)
        ));
    }
    out
}

#[cfg(test)]
#[allow(clippy::field_reassign_with_default)] // configs built up field by field
mod tests {
    use super::*;

    #[test]
    fn duplicate_labels_are_told_apart() {
        let mut c = Config::default();
        c.heartbeat_url = vec![
            "https://a.org/ping/aaaaaaaa-1111".parse().unwrap(),
            "https://a.org/ping/bbbbbbbb-1111".parse().unwrap(),
        ];
        let s = Settings::from_config(&c);
        assert_eq!(s.monitors[0].label, "a.org/…/1111");
        assert_eq!(s.monitors[1].label, "a.org/…/1111 #2");
    }

    #[test]
    fn timing_advice() {
        let mut c = Config::default();
        c.heartbeat_url = vec!["https://hc-ping.com/5b3c9a1e-2f4d-4c6b-9e8a-7d1f0c2ba1b2"
            .parse()
            .unwrap()];
        c.poll_interval = Duration::from_secs(5);
        assert!(timing_warnings(&c, Some(Duration::from_secs(30))).is_empty());
        let w = timing_warnings(&c, Some(Duration::from_secs(8)));
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("WatchdogSec"));
        c.poll_interval = Duration::from_secs(90);
        assert_eq!(timing_warnings(&c, None).len(), 1);
    }
}
