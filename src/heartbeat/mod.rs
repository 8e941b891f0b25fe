//! The dead-man's switch: the engine loop proves it is alive to outside
//! monitors (Healthchecks, Uptime Kuma push, any URL) and to systemd's
//! watchdog, so that a wedged loop falls silent and the monitor raises the
//! alarm.
//!
//! # Where pings come from
//!
//! Only from [`Heartbeat::tick`], which the engine calls at the top of every
//! loop turn (before any pause or idle branch) and on every phase and step
//! of a buy. There is no timer: if the loop stops turning and no buy makes
//! progress, nothing is sent. A buy that stalls therefore stops the beats
//! by itself; as a second guard a ping round that finds the engine silent
//! for longer than `RESTOCK_STALL_AFTER` (default 2.5 × interval) when it
//! is about to send does not send.
//!
//! # The interval clock
//!
//! Each monitor has its own clock. A tick pings a monitor when
//! `RESTOCK_HEARTBEAT_INTERVAL` has passed since its last *attempt*
//! (successful or not, so a dead monitor is not hammered), or at once when
//! what it would say changed (paused with `RESTOCK_HEARTBEAT_PAUSED=fail`,
//! or resumed), so the owner hears about a pause without waiting an
//! interval. At most one ping is in flight per monitor: a tick that finds
//! one running skips that monitor (it does not queue). Every ping is bounded
//! by `RESTOCK_HEARTBEAT_TIMEOUT`; its failure (timeout, refused, non-2xx,
//! Kuma's `{"ok":false}`) is logged with the URL redacted, counted, kept,
//! and never raised. `tick` itself only takes a few locks and spawns; the
//! network and the database are touched in the spawned task.
//!
//! Because the loop sleeps up to `RESTOCK_POLL_INTERVAL` when idle, pings
//! are at least that far apart; keep it below the heartbeat interval.
//!
//! # What a ping says
//!
//! Healthchecks gets a short plain-text body: the engine's state, the
//! queue depth and the last order's result. Kuma gets `msg=` with the state
//! and queue depth and `ping=` with the previous round trip. See
//! [`monitor`] for the request shapes.
//!
//! # The order check
//!
//! `RESTOCK_ORDER_CHECK_URL` is a second Healthchecks check that sees every
//! buy: `/start?rid=` when the engine claims an order, then `?rid=` (placed,
//! dry run, skipped for cooldown, cancelled, or abandoned at shutdown and
//! back in the queue) or `/fail?rid=` (everything else) with the outcome
//! when it ends. A task subscribed to the engine's events sends them in
//! order; it reacts to the engine, it is not a timer.
//!
//! # What is kept
//!
//! Per monitor: last sent, last acknowledged, last error, failures in a row,
//! last round trip ([`store`]), for `restock status` and `/health`. A URL is
//! only ever shown as its label, `host/…/a1b2` (the last 4 characters of its
//! secret).
//!
//! Besides the records, each monitor counts the pings sent and failed since
//! start ([`Switch::counters`], for `/metrics`), and [`test_ping`] sends
//! `restock doctor`'s one test ping.

pub mod monitor;
pub mod store;
pub mod systemd;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::db::Db;
use crate::engine::{Activity, Event, Heartbeat, Liveness};
use crate::model::{now_ms, Status};
use monitor::{describe_error, run_id, Kind, Ping, Say, Target};
use store::{MonitorState, QueueSummary, Role};
pub use systemd::Systemd;

/// A run of good pings is written to the database at most this often
/// (see `Monitor::save_due`).
pub const SAVE_AT_LEAST: Duration = Duration::from_secs(30);

/// A setting the heartbeat cannot use: the config key, the value as it may
/// be shown (URLs redacted) and what was expected.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigProblem {
    pub key: &'static str,
    pub value: String,
    pub expected: String,
}

impl std::fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} = `{}`: expected {}",
            crate::config::env_name(self.key),
            self.value,
            self.expected
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HeartbeatError {
    #[error("{0}")]
    Config(ConfigProblem),
    #[error("cannot build the HTTP client for heartbeat pings: {0}")]
    Client(String),
}

/// The heartbeat's settings, parsed from [`Config`].
#[derive(Debug, Clone)]
pub struct Settings {
    pub monitors: Vec<Target>,
    pub order_check: Option<Target>,
    pub interval: Duration,
    pub timeout: Duration,
    /// `RESTOCK_HEARTBEAT_PAUSED=fail`: a paused engine says "down".
    pub paused_fails: bool,
    pub stall_after: Duration,
}

impl Settings {
    pub fn from_config(c: &Config) -> Result<Settings, ConfigProblem> {
        let forced = Kind::parse_setting(&c.heartbeat_kind).map_err(|expected| ConfigProblem {
            key: "heartbeat_kind",
            value: c.heartbeat_kind.clone(),
            expected,
        })?;
        let paused_fails = match c.heartbeat_paused.trim() {
            "ok" => false,
            "fail" => true,
            other => {
                return Err(ConfigProblem {
                    key: "heartbeat_paused",
                    value: other.to_string(),
                    expected: "`ok` (a paused engine still pings success) or `fail` (it pings \
                               failure with the pause reason)"
                        .into(),
                })
            }
        };
        let bad = |key: &'static str| {
            move |b: monitor::BadUrl| ConfigProblem {
                key,
                value: b.shown,
                expected: b.expected,
            }
        };
        let mut monitors: Vec<Target> = Vec::new();
        for raw in c.heartbeat_url.iter().filter(|u| !u.trim().is_empty()) {
            let mut t = Target::parse(raw, forced).map_err(bad("heartbeat_url"))?;
            let base = t.label.clone();
            let mut n = 1;
            while monitors.iter().any(|m| m.label == t.label) {
                n += 1;
                t.label = format!("{base} #{n}");
            }
            monitors.push(t);
        }
        let order_check = c
            .order_check_url
            .as_deref()
            .filter(|u| !u.trim().is_empty())
            .map(|raw| Target::parse(raw, Some(Kind::Healthchecks)))
            .transpose()
            .map_err(bad("order_check_url"))?
            .map(|mut t| {
                if monitors.iter().any(|m| m.label == t.label) {
                    t.label = format!("{} (orders)", t.label);
                }
                t
            });
        Ok(Settings {
            monitors,
            order_check,
            interval: c.heartbeat_interval,
            timeout: c.heartbeat_timeout,
            paused_fails,
            stall_after: c.stall_after(),
        })
    }
}

/// Validates the heartbeat settings (for `Config::validate`).
pub fn check_config(c: &Config) -> Result<(), ConfigProblem> {
    Settings::from_config(c).map(|_| ())
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

/// The engine's state in one line: `idle`, `paused: <reason>`, `buying
/// order 12 (cart)`.
pub fn state_line(a: &Activity) -> String {
    match (a.state, &a.pause, a.order_id) {
        ("buying", _, Some(id)) => match a.phase {
            Some(p) => format!("buying order {id} ({p})"),
            None => format!("buying order {id}"),
        },
        ("buying", _, None) => "running".into(),
        ("paused", Some(p), _) => format!("paused: {}", flat(&p.reason, 300)),
        (state, _, _) => state.to_string(),
    }
}

fn flat(text: &str, max: usize) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.chars().count() <= max {
        return joined;
    }
    let mut cut: String = joined.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Ticks several heartbeats (the server's switch and one a test passed in).
pub struct Chain(pub Vec<Arc<dyn Heartbeat>>);

impl Heartbeat for Chain {
    fn tick(&self, why: Liveness, activity: &Activity) {
        for h in &self.0 {
            h.tick(why, activity);
        }
    }
}

/// One monitor: its URL, clock, in-flight flag and record.
struct Monitor {
    target: Target,
    in_flight: AtomicBool,
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
    fn new(target: Target, role: Role) -> Arc<Monitor> {
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
struct InFlight(Arc<Monitor>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.store(false, Ordering::SeqCst);
    }
}

/// The dead-man's switch: the engine's [`Heartbeat`]. Cheap to clone.
#[derive(Clone)]
pub struct Switch(Arc<Inner>);

struct Inner {
    interval: Duration,
    timeout: Duration,
    stall_after: Duration,
    paused_fails: bool,
    client: reqwest::Client,
    db: Option<Db>,
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
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("restock/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HeartbeatError::Client(describe_error(e, settings.timeout)))?;
        Ok(Switch(Arc::new(Inner {
            interval: settings.interval,
            timeout: settings.timeout,
            stall_after: settings.stall_after,
            paused_fails: settings.paused_fails,
            client,
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
        let settings = Settings::from_config(config).map_err(HeartbeatError::Config)?;
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
        match store::load(db).await {
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
        if let Err(e) = store::keep_only(db, labels).await {
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
        match tokio::time::timeout(bound, store::summary(db)).await {
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
    async fn send(&self, m: &Monitor, ping: &Ping) {
        let last_rtt = lock(&m.state).rtt_ms;
        let Some(req) = m.target.request(&self.client, ping, last_rtt) else {
            return;
        };
        let sent = now_ms();
        let started = Instant::now();
        let result = match tokio::time::timeout(self.timeout, exchange(req)).await {
            Err(_) => Err(format!(
                "timeout after {}",
                humantime::format_duration(self.timeout)
            )),
            Ok(Err(e)) => Err(describe_error(e, self.timeout)),
            Ok(Ok((status, body))) => m.target.judge(status, &body),
        };
        let rtt = started.elapsed().as_millis() as u64;
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
                Ok(()) => {
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
                    let e = m.target.scrub(e);
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
            if let Err(e) = store::save(db, snapshot).await {
                tracing::warn!(monitor = %label, error = %e, "cannot record the heartbeat ping");
            }
        }
    }

    /// The order check: follows the engine's events, one ping at a time so
    /// a run's start always precedes its end.
    async fn follow_orders(
        self: Arc<Self>,
        monitor: Arc<Monitor>,
        mut events: broadcast::Receiver<Event>,
    ) {
        let mut runs: HashMap<i64, String> = HashMap::new();
        loop {
            let event = match events.recv().await {
                Ok(e) => e,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "order check fell behind the engine's events");
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => break,
            };
            let (id, say, rid, note) = match event {
                Event::Claimed { id } => {
                    let rid = run_id(id, now_ms());
                    runs.insert(id, rid.clone());
                    (id, Say::Start, rid, None)
                }
                Event::Settled { id, status } => {
                    let rid = runs.remove(&id).unwrap_or_else(|| run_id(id, now_ms()));
                    let say = if ends_well(status) {
                        Say::Success
                    } else {
                        Say::Fail
                    };
                    (id, say, rid, None)
                }
                Event::Released { id } => {
                    let rid = runs.remove(&id).unwrap_or_else(|| run_id(id, now_ms()));
                    let note = "abandoned at shutdown before Place Order; back in the queue";
                    (id, Say::Success, rid, Some(note))
                }
                Event::Stopped => break,
                _ => continue,
            };
            let line = self.order_line(id).await;
            let body = match note {
                Some(note) => format!("order {id}: {note}\n{line}"),
                None => line,
            };
            let ping = Ping {
                say,
                msg: flat(body.lines().next().unwrap_or(""), 200),
                body,
                rid: Some(rid),
            };
            monitor.in_flight.store(true, Ordering::SeqCst);
            let guard = InFlight(Arc::clone(&monitor));
            self.send(&monitor, &ping).await;
            drop(guard);
        }
    }

    async fn order_line(&self, id: i64) -> String {
        let fallback = format!("order {id}");
        let Some(db) = &self.db else {
            return fallback;
        };
        let bound = self.timeout.min(Duration::from_secs(2));
        match tokio::time::timeout(bound, store::order_line(db, id)).await {
            Ok(Ok(Some(line))) => line,
            _ => fallback,
        }
    }
}

/// `restock doctor`'s one real ping to `target` ([`Say::Test`]: Healthchecks'
/// `/log`, which changes nothing; a normal ping where the protocol has no
/// test mode), bounded by `timeout`. Nothing is recorded. `Ok` is the round
/// trip; `Err` the one-line reason, redacted.
pub async fn test_ping(target: &Target, timeout: Duration, body: &str) -> Result<Duration, String> {
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("restock/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| describe_error(e, timeout))?;
    let ping = Ping {
        say: Say::Test,
        msg: flat(body, 200),
        body: body.to_string(),
        rid: None,
    };
    let req = target
        .request(&client, &ping, None)
        .ok_or_else(|| format!("a {} monitor cannot send a test ping", target.kind))?;
    let started = Instant::now();
    let result = match tokio::time::timeout(timeout, exchange(req)).await {
        Err(_) => Err(format!(
            "timeout after {}",
            humantime::format_duration(timeout)
        )),
        Ok(Err(e)) => Err(describe_error(e, timeout)),
        Ok(Ok((status, body))) => target.judge(status, &body),
    };
    result
        .map(|()| started.elapsed())
        .map_err(|e| target.scrub(&e))
}

/// Sends and reads at most 4 KiB of the answer.
async fn exchange(req: reqwest::RequestBuilder) -> Result<(u16, String), reqwest::Error> {
    let mut resp = req.send().await?;
    let status = resp.status().as_u16();
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        body.extend_from_slice(&chunk);
        if body.len() >= 4096 {
            break;
        }
    }
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// Outcomes the order check reports as success; everything else is `/fail`.
fn ends_well(status: Status) -> bool {
    matches!(
        status,
        Status::Placed | Status::DryRun | Status::SkippedCooldown | Status::Cancelled
    )
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
                body.push_str(&format!(" {}", crate::cli::ago(*t)));
            }
        }
    }
    Ping {
        say,
        msg: flat(&msg, 200),
        body,
        rid: None,
    }
}

#[cfg(test)]
#[allow(clippy::field_reassign_with_default)] // configs built up field by field
mod tests {
    use super::*;
    use crate::db::Pause;

    fn activity(state: &'static str) -> Activity {
        Activity {
            state,
            order_id: None,
            phase: None,
            pause: None,
        }
    }

    fn settings() -> Settings {
        let mut c = Config::default();
        c.heartbeat_url =
            vec!["http://127.0.0.1:9/ping/5b3c9a1e-2f4d-4c6b-9e8a-7d1f0c2ba1b2".into()];
        c.heartbeat_interval = Duration::from_secs(60);
        Settings::from_config(&c).unwrap()
    }

    #[test]
    fn state_lines() {
        assert_eq!(state_line(&activity("idle")), "idle");
        let mut a = activity("buying");
        assert_eq!(state_line(&a), "running");
        a.order_id = Some(7);
        a.phase = Some(crate::model::Phase::Cart);
        assert_eq!(state_line(&a), "buying order 7 (cart)");
        let mut p = activity("paused");
        p.pause = Some(Pause {
            reason: "order 3 needs\nreview".into(),
            order_id: Some(3),
            status: None,
            since: 0,
        });
        assert_eq!(state_line(&p), "paused: order 3 needs review");
    }

    #[test]
    fn settings_are_validated_with_the_url_redacted() {
        let mut c = Config::default();
        c.heartbeat_kind = "pagerduty".into();
        assert_eq!(check_config(&c).unwrap_err().key, "heartbeat_kind");
        c.heartbeat_kind = "uptime-kuma".into();
        c.heartbeat_paused = "maybe".into();
        assert_eq!(check_config(&c).unwrap_err().key, "heartbeat_paused");
        c.heartbeat_paused = "fail".into();
        c.heartbeat_url = vec!["hc-ping.com/5b3c9a1e-2f4d-4c6b-9e8a-7d1f0c2ba1b2".into()];
        let e = check_config(&c).unwrap_err();
        assert_eq!(e.key, "heartbeat_url");
        assert!(!e.to_string().contains("5b3c9a1e-2f4d"), "{e}");
        assert!(
            e.to_string().starts_with("RESTOCK_HEARTBEAT_URL = `…a1b2"),
            "{e}"
        );
        c.heartbeat_url = vec!["https://hc-ping.com/5b3c9a1e-2f4d-4c6b-9e8a-7d1f0c2ba1b2".into()];
        c.order_check_url = Some("not a url".into());
        assert_eq!(check_config(&c).unwrap_err().key, "order_check_url");
        c.order_check_url = Some("https://hc-ping.com/0000aaaa-2f4d-4c6b-9e8a-7d1f0c2bc3d4".into());
        let s = Settings::from_config(&c).unwrap();
        assert_eq!(s.monitors[0].kind, Kind::UptimeKuma);
        assert_eq!(s.order_check.unwrap().kind, Kind::Healthchecks);
    }

    #[test]
    fn config_errors_name_the_variable() {
        let env = vec![(
            "RESTOCK_HEARTBEAT_URL".to_string(),
            "ftp://hc.example.org/ping/5b3c9a1e-2f4d-4c6b-9e8a-7d1f0c2ba1b2".to_string(),
        )];
        let e = Config::load_from(None, &env).unwrap_err().to_string();
        assert!(e.starts_with("RESTOCK_HEARTBEAT_URL"), "{e}");
        assert!(e.contains("hc.example.org/…/a1b2"), "{e}");
        assert!(!e.contains("5b3c9a1e-2f4d"), "{e}");
        let env = vec![("RESTOCK_HEARTBEAT_PAUSED".to_string(), "nope".to_string())];
        let e = Config::load_from(None, &env).unwrap_err().to_string();
        assert!(
            e.contains("RESTOCK_HEARTBEAT_PAUSED") && e.contains("`nope`"),
            "{e}"
        );
    }

    #[test]
    fn duplicate_labels_are_told_apart() {
        let mut c = Config::default();
        c.heartbeat_url = vec![
            "https://a.org/ping/aaaaaaaa-1111".into(),
            "https://a.org/ping/bbbbbbbb-1111".into(),
        ];
        let s = Settings::from_config(&c).unwrap();
        assert_eq!(s.monitors[0].label, "a.org/…/1111");
        assert_eq!(s.monitors[1].label, "a.org/…/1111 #2");
    }

    #[test]
    fn the_clock_advances_on_attempts_and_skips_busy_monitors() {
        let m = Monitor::new(settings().monitors.remove(0), Role::Heartbeat);
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
    fn timing_advice() {
        let mut c = Config::default();
        c.heartbeat_url = vec!["https://hc-ping.com/5b3c9a1e-2f4d-4c6b-9e8a-7d1f0c2ba1b2".into()];
        c.poll_interval = Duration::from_secs(5);
        assert!(timing_warnings(&c, Some(Duration::from_secs(30))).is_empty());
        let w = timing_warnings(&c, Some(Duration::from_secs(8)));
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("WatchdogSec"));
        c.poll_interval = Duration::from_secs(90);
        assert_eq!(timing_warnings(&c, None).len(), 1);
    }

    #[test]
    fn ping_bodies() {
        let summary = QueueSummary {
            pending: 2,
            last: Some((41, "paper-towels".into(), "placed".into(), None)),
        };
        let p = beat_ping(Say::Up, &activity("idle"), Some(&summary));
        assert_eq!(p.msg, "idle, 2 pending");
        assert_eq!(
            p.body,
            "restock: idle\nqueue: 2 pending\nlast order: 41 paper-towels placed"
        );
        assert!(ends_well(Status::DryRun) && !ends_well(Status::Unavailable));
    }
}
