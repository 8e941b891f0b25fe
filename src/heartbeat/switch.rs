//! The switch: one [`Monitor`] per configured URL, each with its own
//! clock, in-flight flag and record, ticked by the engine (see the module
//! docs of [`super`]).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use super::monitor::Ping;
use super::ping::Pinger;
use super::settings::Settings;
use super::{state_line, HeartbeatError, Systemd, SAVE_AT_LEAST};
use crate::config::Config;
use crate::db::{Db, MonitorState, QueueSummary, Role};
use crate::engine::{Activity, Event, Heartbeat, Liveness};
use crate::model::{now_ms, Say};
use crate::text::one_line;
use crate::urls::MonitorUrl;

/// One monitor: its URL, clock, in-flight flag and record.
pub(super) struct Monitor {
    pub(super) target: MonitorUrl,
    pub(super) in_flight: AtomicBool,
    clock: Mutex<Clock>,
    state: Mutex<MonitorState>,
    /// Pings sent (attempted) and failed since start.
    sent_total: AtomicU64,
    failed_total: AtomicU64,
    /// When the record was last written and what it said then.
    saved: Mutex<Option<(Instant, Say)>>,
}

/// One monitor's ping counts since start, under its redacted label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingCounts {
    pub label: String,
    pub role: Role,
    pub sent: u64,
    pub failed: u64,
}

#[derive(Default)]
struct Clock {
    last_attempt: Option<Instant>,
    last_say: Option<Say>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Monitor {
    fn new(target: MonitorUrl, role: Role) -> Arc<Monitor> {
        let state = MonitorState::new(target.label.clone(), target.kind, role);
        Arc::new(Monitor {
            target,
            in_flight: AtomicBool::new(false),
            clock: Mutex::new(Clock::default()),
            state: Mutex::new(state),
            sent_total: AtomicU64::new(0),
            failed_total: AtomicU64::new(0),
            saved: Mutex::new(None),
        })
    }

    /// Whether this ping's record goes to the database. A run of good pings
    /// saying the same thing is written at most every [`SAVE_AT_LEAST`]:
    /// with a 1 s interval, a write a second is flash wear on a Raspberry
    /// Pi and CPU for nothing (`restock status` shows "last ping 20 s ago"
    /// at worst). Failures and changes are always written at once.
    fn save_due(&self, ok: bool, say: Say) -> bool {
        let mut saved = lock(&self.saved);
        let due = !ok
            || !matches!(*saved, Some((at, said)) if said == say && at.elapsed() < SAVE_AT_LEAST);
        if due {
            *saved = Some((Instant::now(), say)).filter(|_| ok);
        }
        due
    }

    /// Takes this monitor for a ping when it is due and idle; advances its
    /// clock. A monitor with a ping in flight is skipped, not queued.
    fn claim(&self, now: Instant, interval: Duration, say: Say) -> bool {
        if !self.target.speaks(say) {
            return false;
        }
        let mut clock = lock(&self.clock);
        let due = match clock.last_attempt {
            None => true,
            Some(t) => now.duration_since(t) >= interval || clock.last_say != Some(say),
        };
        if !due || self.in_flight.swap(true, Ordering::SeqCst) {
            return false;
        }
        clock.last_attempt = Some(now);
        clock.last_say = Some(say);
        true
    }

    fn snapshot(&self) -> MonitorState {
        lock(&self.state).clone()
    }
}

/// Clears a monitor's in-flight flag when its ping is done, however it ends.
pub(super) struct InFlight(pub(super) Arc<Monitor>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.store(false, Ordering::SeqCst);
    }
}

/// The dead-man's switch: the engine's [`Heartbeat`]. Cheap to clone.
#[derive(Clone)]
pub struct Switch(Arc<Inner>);

pub(super) struct Inner {
    interval: Duration,
    pub(super) timeout: Duration,
    stall_after: Duration,
    paused_fails: bool,
    pinger: Pinger,
    pub(super) db: Option<Db>,
    monitors: Vec<Arc<Monitor>>,
    order_check: Option<Arc<Monitor>>,
    systemd: Option<Systemd>,
    last_alive: Mutex<Option<Instant>>,
}

impl Switch {
    /// A switch for `settings`; `queue` keeps the records, `systemd` gets
    /// the watchdog and status from the same tick.
    pub fn new(
        settings: Settings,
        db: Option<Db>,
        systemd: Option<Systemd>,
    ) -> Result<Switch, HeartbeatError> {
        let pinger = Pinger::new(settings.timeout)?;
        Ok(Switch(Arc::new(Inner {
            interval: settings.interval,
            timeout: settings.timeout,
            stall_after: settings.stall_after,
            paused_fails: settings.paused_fails,
            pinger,
            db,
            monitors: settings
                .monitors
                .into_iter()
                .map(|t| Monitor::new(t, Role::Heartbeat))
                .collect(),
            order_check: settings
                .order_check
                .map(|t| Monitor::new(t, Role::OrderCheck)),
            systemd,
            last_alive: Mutex::new(None),
        })))
    }

    /// The server's switch: `None` when there is nothing to tell (no
    /// monitor, no order check, not under systemd). Restores the records a
    /// previous run kept and forgets monitors no longer configured.
    pub async fn from_config(
        config: &Config,
        db: Db,
        systemd: Option<Systemd>,
    ) -> Result<Option<Switch>, HeartbeatError> {
        let settings = Settings::from_config(config);
        if settings.monitors.is_empty() && settings.order_check.is_none() && systemd.is_none() {
            return Ok(None);
        }
        let switch = Switch::new(settings, Some(db), systemd)?;
        switch.restore().await;
        for t in switch.0.all() {
            tracing::info!(monitor = %t.target.label, kind = %t.target.kind, role = lock(&t.state).role.as_str(), "heartbeat monitor");
        }
        Ok(Some(switch))
    }

    async fn restore(&self) {
        let Some(db) = &self.0.db else { return };
        match db.monitors().await {
            Ok(rows) => {
                for m in self.0.all() {
                    let mut state = lock(&m.state);
                    if let Some(row) = rows
                        .iter()
                        .find(|r| r.label == state.label && r.role == state.role)
                    {
                        *state = MonitorState {
                            kind: state.kind,
                            ..row.clone()
                        };
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the stored heartbeat records"),
        }
        let labels = self.0.all().map(|m| lock(&m.state).label.clone()).collect();
        if let Err(e) = db.keep_monitors(labels).await {
            tracing::warn!(error = %e, "cannot prune the stored heartbeat records");
        }
    }

    /// The systemd notifier this switch feeds, if any.
    pub fn systemd(&self) -> Option<&Systemd> {
        self.0.systemd.as_ref()
    }

    /// Every monitor's record (heartbeats, then the order check).
    pub fn states(&self) -> Vec<MonitorState> {
        self.0.all().map(|m| m.snapshot()).collect()
    }

    /// Pings sent and failed per monitor since start (heartbeats, then the
    /// order check), for `/metrics`.
    pub fn counters(&self) -> Vec<PingCounts> {
        self.0
            .all()
            .map(|m| PingCounts {
                label: m.target.label.clone(),
                role: lock(&m.state).role,
                sent: m.sent_total.load(Ordering::Relaxed),
                failed: m.failed_total.load(Ordering::Relaxed),
            })
            .collect()
    }

    /// What `/health` adds: `{"heartbeat": {...}}`, redacted.
    pub fn health(&self) -> Value {
        let i = &self.0;
        json!({
            "heartbeat": {
                "interval_ms": i.interval.as_millis() as u64,
                "timeout_ms": i.timeout.as_millis() as u64,
                "paused": if i.paused_fails { "fail" } else { "ok" },
                "monitors": i.monitors.iter().map(|m| m.snapshot()).collect::<Vec<_>>(),
                "order_check": i.order_check.as_ref().map(|m| m.snapshot()),
                "systemd": i.systemd.as_ref().map(|s| json!({
                    "watchdog_ms": s.watchdog().map(|w| w.as_millis() as u64),
                })),
            }
        })
    }

    /// The intake's `health_extra` hook.
    pub fn health_extra(
        &self,
    ) -> Arc<dyn Fn() -> futures::future::BoxFuture<'static, Value> + Send + Sync> {
        let this = self.clone();
        Arc::new(move || {
            let v = this.health();
            Box::pin(async move { v })
        })
    }

    /// The engine's state for systemd's `STATUS=`, with failing monitors.
    pub fn status_line(&self, activity: &Activity) -> String {
        let mut line = state_line(activity);
        let failing = self
            .0
            .monitors
            .iter()
            .filter(|m| lock(&m.state).failures > 0)
            .count();
        if failing > 0 {
            line.push_str(&format!(
                "; heartbeat: {failing} of {} monitors failing",
                self.0.monitors.len()
            ));
        }
        line
    }

    /// Starts the order check: a task that follows the engine's events and
    /// tells the order-check monitor when each buy starts and ends. `None`
    /// when no order check is configured. Subscribe before the engine runs.
    pub fn watch_orders(&self, events: broadcast::Receiver<Event>) -> Option<JoinHandle<()>> {
        let monitor = self.0.order_check.clone()?;
        let inner = Arc::clone(&self.0);
        Some(tokio::spawn(inner.follow_orders(monitor, events)))
    }
}

impl Heartbeat for Switch {
    fn tick(&self, _why: Liveness, activity: &Activity) {
        let inner = &self.0;
        let now = Instant::now();
        *lock(&inner.last_alive) = Some(now);
        let say = if inner.paused_fails && activity.pause.is_some() {
            Say::Down
        } else {
            Say::Up
        };
        let due: Vec<Arc<Monitor>> = inner
            .monitors
            .iter()
            .filter(|m| m.claim(now, inner.interval, say))
            .cloned()
            .collect();
        if let Some(sd) = &inner.systemd {
            sd.beat(&self.status_line(activity));
        }
        if due.is_empty() {
            return;
        }
        let guards: Vec<InFlight> = due.into_iter().map(InFlight).collect();
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(Arc::clone(inner).round(guards, say, activity.clone()));
            }
            Err(_) => tracing::debug!("heartbeat tick outside a runtime; no ping sent"),
        }
    }
}

impl Inner {
    fn all(&self) -> impl Iterator<Item = &Arc<Monitor>> {
        self.monitors.iter().chain(self.order_check.iter())
    }

    /// One tick's pings: the shared body, then every due monitor at once.
    async fn round(self: Arc<Self>, due: Vec<InFlight>, say: Say, activity: Activity) {
        let summary = self.summary().await;
        let silent = lock(&self.last_alive).map(|t| t.elapsed());
        if let Some(silent) = silent.filter(|s| *s > self.stall_after) {
            tracing::debug!(
                silent_ms = silent.as_millis() as u64,
                "engine went silent before the ping left; not vouching for it"
            );
            return;
        }
        let ping = beat_ping(say, &activity, summary.as_ref());
        let sends = due.into_iter().map(|guard| {
            let ping = ping.clone();
            let this = Arc::clone(&self);
            async move {
                this.send(&guard.0, &ping).await;
                drop(guard);
            }
        });
        futures::future::join_all(sends).await;
    }

    /// Db depth and the last result, bounded: a slow database costs the
    /// body its details, never the ping.
    async fn summary(&self) -> Option<QueueSummary> {
        let db = self.db.as_ref()?;
        let bound = self.timeout.min(Duration::from_secs(2));
        match tokio::time::timeout(bound, db.queue_summary()).await {
            Ok(Ok(s)) => Some(s),
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "heartbeat body: cannot read the queue");
                None
            }
            Err(_) => None,
        }
    }

    /// One ping to one monitor, bounded by the timeout; the outcome is
    /// logged, counted and kept, never raised.
    pub(super) async fn send(&self, m: &Monitor, ping: &Ping) {
        let last_rtt = lock(&m.state).rtt_ms;
        let sent = now_ms();
        let Some(result) = self.pinger.send(&m.target, ping, last_rtt).await else {
            return;
        };
        let rtt = match &result {
            Ok(rtt) => rtt.as_millis() as u64,
            Err(_) => 0,
        };
        m.sent_total.fetch_add(1, Ordering::Relaxed);
        if result.is_err() {
            m.failed_total.fetch_add(1, Ordering::Relaxed);
        }
        let label = m.target.label.as_str();
        let said = ping.say.as_str();
        let snapshot = {
            let mut s = lock(&m.state);
            s.last_sent = Some(sent);
            s.last_said = Some(ping.say);
            match &result {
                Ok(_) => {
                    if s.failures > 0 {
                        tracing::info!(
                            monitor = %label,
                            said,
                            after = s.failures,
                            "heartbeat monitor answering again"
                        );
                    } else {
                        tracing::debug!(monitor = %label, said, rtt_ms = rtt, "ping acknowledged");
                    }
                    s.last_ack = Some(now_ms());
                    s.rtt_ms = Some(rtt);
                    s.failures = 0;
                    s.last_error = None;
                }
                Err(e) => {
                    let e = e.clone();
                    s.failures += 1;
                    tracing::warn!(monitor = %label, said, failures = s.failures, error = %e, "heartbeat ping failed");
                    s.last_error = Some(e);
                }
            }
            s.clone()
        };
        if let Some(db) = self
            .db
            .as_ref()
            .filter(|_| m.save_due(result.is_ok(), ping.say))
        {
            if let Err(e) = db.save_monitor(snapshot).await {
                tracing::warn!(monitor = %label, error = %e, "cannot record the heartbeat ping");
            }
        }
    }
}
/// The liveness ping: state, queue depth, last result.
fn beat_ping(say: Say, activity: &Activity, summary: Option<&QueueSummary>) -> Ping {
    let state = state_line(activity);
    let mut msg = state.clone();
    let mut body = format!("restock: {state}");
    if let Some(s) = summary {
        msg.push_str(&format!(", {} pending", s.pending));
        body.push_str(&format!("\nqueue: {} pending", s.pending));
        if let Some((id, item, status, finished)) = &s.last {
            body.push_str(&format!("\nlast order: {id} {item} {status}"));
            if let Some(t) = finished {
                body.push_str(&format!(" {}", crate::text::ago(*t)));
            }
        }
    }
    Ping {
        say,
        msg: one_line(&msg, 200),
        body,
        rid: None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::activity;
    use super::*;
    use crate::model::Status;

    #[test]
    fn the_clock_advances_on_attempts_and_skips_busy_monitors() {
        let url = "http://127.0.0.1:9/ping/5b3c9a1e-2f4d-4c6b-9e8a-7d1f0c2ba1b2";
        let m = Monitor::new(url.parse().unwrap(), Role::Heartbeat);
        let t0 = Instant::now();
        let interval = Duration::from_secs(60);
        assert!(m.claim(t0, interval, Say::Up), "first tick pings");
        // In flight: skipped, even when the message changes.
        assert!(!m.claim(t0, interval, Say::Down));
        m.in_flight.store(false, Ordering::SeqCst);
        assert!(
            !m.claim(t0 + Duration::from_secs(1), interval, Say::Up),
            "not due"
        );
        assert!(
            m.claim(t0 + Duration::from_secs(2), interval, Say::Down),
            "a change is due at once"
        );
        m.in_flight.store(false, Ordering::SeqCst);
        assert!(
            !m.claim(t0 + Duration::from_secs(61), interval, Say::Down),
            "clock moved to the last attempt"
        );
        assert!(m.claim(t0 + Duration::from_secs(62), interval, Say::Down));
    }

    #[test]
    fn ping_bodies() {
        let summary = QueueSummary {
            pending: 2,
            last: Some((
                41,
                "paper-towels".into(),
                Status::Placed.as_str().into(),
                None,
            )),
        };
        let p = beat_ping(
            Say::Up,
            &activity(crate::model::ActivityState::Idle),
            Some(&summary),
        );
        assert_eq!(p.msg, "idle, 2 pending");
        assert_eq!(
            p.body,
            "restock: idle\nqueue: 2 pending\nlast order: 41 paper-towels placed"
        );
    }
}
