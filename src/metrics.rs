//! `GET /metrics`: the server's state in the Prometheus text format
//! (version 0.0.4), through `prometheus-client`. Behind the intake token
//! like every route but `/health` (Prometheus: `authorization:
//! {credentials: <RESTOCK_INTAKE_TOKEN>}` in the scrape config).
//!
//! | metric | type | labels | source |
//! |---|---|---|---|
//! | `restock_orders_total` | counter | `status` | orders settled since start (engine `Settled` events) |
//! | `restock_orders` | gauge | `status` | orders in the database per status, read at scrape |
//! | `restock_buy_duration_seconds` | histogram | `store`, `outcome` | claim to settle; `outcome` is the terminal status, or `retrying` / `released` |
//! | `restock_queue_depth` | gauge | | pending orders, read at scrape |
//! | `restock_paused` | gauge | | 1 while paused for a human (`restock resume` clears it) |
//! | `restock_heartbeat_sends_total` | counter | `monitor` | pings sent since start (the order check too), redacted label |
//! | `restock_heartbeat_failures_total` | counter | `monitor` | pings that failed since start |
//! | `restock_session_state` | gauge | `store`, `state` | 1 for each store's last known session state, 0 for the others |
//! | `restock_session_expires_in_seconds` | gauge | `store` | until the store's session cookies expire (negative once past), for stores whose expiry is known |
//! | `restock_loop_turn_age_seconds` | gauge | | since the loop last turned or a buy made progress (since start before the first turn) |
//!
//! Counting is done by a task subscribed to the engine's events: it only
//! counts (and reads an order's store for the histogram), so it can never
//! hold the loop up; if it falls behind the broadcast buffer it loses counts
//! and says so in the log. Everything else is read when scraped, under one
//! lock so two scrapes do not interleave. Counters start at zero with the
//! process, as Prometheus expects.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;

use prometheus_client::encoding::{prometheus_text, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::db::Db;
use crate::engine::{Event, Handle};
use crate::heartbeat::Switch;
use crate::model::SessionState;
use crate::model::Status;

/// The `Content-Type` of what [`Metrics::render`] returns.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// Buy durations in seconds: a dry run takes seconds, a slow store minutes,
/// and `RESTOCK_BUY_TIMEOUT` defaults to 5 minutes.
const BUY_BUCKETS: [f64; 11] = [
    1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 180.0, 300.0, 600.0,
];

const SESSION_STATES: [SessionState; 3] = [
    SessionState::SignedIn,
    SessionState::SignedOut,
    SessionState::Unknown,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuyLabels {
    store: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MonitorLabel {
    monitor: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SessionLabels {
    store: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StoreLabel {
    store: String,
}

type HistogramFamily = Family<BuyLabels, Histogram, fn() -> Histogram>;

fn buy_histogram() -> Histogram {
    Histogram::new(BUY_BUCKETS)
}

fn status_label(s: Status) -> StatusLabel {
    StatusLabel {
        status: s.as_str().to_string(),
    }
}

/// The registry and where its values come from. Shared by the intake (to
/// render) and the event follower (to count).
pub struct Metrics {
    registry: Registry,
    db: Db,
    handle: Arc<Handle>,
    heartbeat: Option<Switch>,
    started: Instant,
    scrape: tokio::sync::Mutex<()>,
    orders_total: Family<StatusLabel, Counter>,
    orders: Family<StatusLabel, Gauge>,
    buy_duration: HistogramFamily,
    queue_depth: Gauge,
    paused: Gauge,
    heartbeat_sends: Family<MonitorLabel, Counter>,
    heartbeat_failures: Family<MonitorLabel, Counter>,
    session_state: Family<SessionLabels, Gauge>,
    session_expires_in: Family<StoreLabel, Gauge>,
    loop_turn_age: Gauge<f64, AtomicU64>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Metrics for one server: `queue` and `heartbeat` are read at scrape.
    /// Call [`Metrics::follow`] before the engine runs so no event is missed.
    pub fn new(db: Db, handle: Arc<Handle>, heartbeat: Option<Switch>) -> Arc<Metrics> {
        let mut registry = Registry::default();
        let orders_total = Family::<StatusLabel, Counter>::default();
        let orders = Family::<StatusLabel, Gauge>::default();
        let buy_duration: HistogramFamily = Family::new_with_constructor(buy_histogram);
        let queue_depth = Gauge::default();
        let paused = Gauge::default();
        let heartbeat_sends = Family::<MonitorLabel, Counter>::default();
        let heartbeat_failures = Family::<MonitorLabel, Counter>::default();
        let session_state = Family::<SessionLabels, Gauge>::default();
        let session_expires_in = Family::<StoreLabel, Gauge>::default();
        let loop_turn_age = Gauge::<f64, AtomicU64>::default();
        // Every terminal status is shown from the start, at 0, so a rate()
        // over the first order is right and dashboards see every series.
        for s in Status::all().filter(|s| s.is_terminal()) {
            drop(orders_total.get_or_create(&status_label(s)));
        }
        registry.register(
            "restock_orders",
            "Orders settled since start, by terminal status",
            orders_total.clone(),
        );
        registry.register(
            "restock_orders",
            "Orders in the database, by status",
            orders.clone(),
        );
        registry.register(
            "restock_buy_duration_seconds",
            "Time from claim to settle, by store and outcome",
            buy_duration.clone(),
        );
        registry.register("restock_queue_depth", "Pending orders", queue_depth.clone());
        registry.register(
            "restock_paused",
            "1 while the engine is paused for a human",
            paused.clone(),
        );
        registry.register(
            "restock_heartbeat_sends",
            "Heartbeat pings sent since start, by monitor (redacted)",
            heartbeat_sends.clone(),
        );
        registry.register(
            "restock_heartbeat_failures",
            "Heartbeat pings that failed since start, by monitor (redacted)",
            heartbeat_failures.clone(),
        );
        registry.register(
            "restock_session_state",
            "1 for each store's last known session state",
            session_state.clone(),
        );
        registry.register(
            "restock_session_expires_in_seconds",
            "Seconds until each store's session cookies expire, where known",
            session_expires_in.clone(),
        );
        registry.register(
            "restock_loop_turn_age_seconds",
            "Seconds since the engine loop last turned or a buy made progress",
            loop_turn_age.clone(),
        );
        Arc::new(Metrics {
            registry,
            db,
            handle,
            heartbeat,
            started: Instant::now(),
            scrape: tokio::sync::Mutex::new(()),
            orders_total,
            orders,
            buy_duration,
            queue_depth,
            paused,
            heartbeat_sends,
            heartbeat_failures,
            session_state,
            session_expires_in,
            loop_turn_age,
        })
    }

    /// Starts the task that counts the engine's events; it ends when the
    /// engine stops.
    pub fn follow(self: &Arc<Self>, events: broadcast::Receiver<Event>) -> JoinHandle<()> {
        tokio::spawn(Arc::clone(self).count(events))
    }

    async fn count(self: Arc<Self>, mut events: broadcast::Receiver<Event>) {
        let mut claimed: HashMap<i64, Instant> = HashMap::new();
        loop {
            let event = match events.recv().await {
                Ok(e) => e,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(
                        missed = n,
                        "metrics fell behind the engine's events; some orders are not counted"
                    );
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => break,
            };
            match event {
                Event::Claimed { id } => {
                    claimed.insert(id, Instant::now());
                }
                Event::Settled { id, status } => {
                    self.orders_total.get_or_create(&status_label(status)).inc();
                    self.observe(claimed.remove(&id), id, status.as_str()).await;
                }
                Event::Retrying { id, .. } => {
                    self.observe(claimed.remove(&id), id, "retrying").await
                }
                Event::Released { id } => self.observe(claimed.remove(&id), id, "released").await,
                Event::Stopped => break,
                _ => {}
            }
        }
    }

    /// One buy's duration; the store is read from the order's row. A buy
    /// whose claim was not seen (the follower lagged) has no duration.
    async fn observe(&self, claimed: Option<Instant>, id: i64, outcome: &str) {
        let Some(started) = claimed else { return };
        let seconds = started.elapsed().as_secs_f64();
        let store = match self.db.get(id).await {
            Ok(Some(order)) => order.store.unwrap_or_else(|| "none".into()),
            Ok(None) => "none".into(),
            Err(e) => {
                tracing::debug!(order = id, error = %e, "metrics: cannot read the order's store");
                "unknown".into()
            }
        };
        self.buy_duration
            .get_or_create(&BuyLabels {
                store,
                outcome: outcome.to_string(),
            })
            .observe(seconds);
    }

    /// Everything, in the Prometheus text format.
    pub async fn render(&self) -> String {
        let _one_at_a_time = self.scrape.lock().await;
        self.refresh().await;
        let mut out = String::new();
        if let Err(e) = prometheus_text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "cannot encode the metrics");
        }
        out
    }

    /// Reads the values that live elsewhere. A database error keeps the
    /// last values (and is logged); the scrape still answers.
    async fn refresh(&self) {
        match self.db.counts().await {
            Ok(counts) => {
                let count = |s: Status| {
                    counts
                        .iter()
                        .find(|(c, _)| *c == s)
                        .map_or(0, |(_, n)| *n as i64)
                };
                for s in Status::all() {
                    self.orders.get_or_create(&status_label(s)).set(count(s));
                }
                self.queue_depth.set(count(Status::Pending));
            }
            Err(e) => tracing::warn!(error = %e, "metrics: cannot count the orders"),
        }
        match self.db.paused().await {
            Ok(p) => {
                self.paused.set(i64::from(p.is_some()));
            }
            Err(e) => tracing::warn!(error = %e, "metrics: cannot read the pause"),
        }
        match self.db.sessions().await {
            Ok(rows) => {
                self.session_state.clear();
                self.session_expires_in.clear();
                let now = crate::model::now_ms();
                for row in rows {
                    if let Some(at) = row
                        .expires_at
                        .filter(|_| row.state == crate::model::SessionState::SignedIn)
                    {
                        self.session_expires_in
                            .get_or_create(&StoreLabel {
                                store: row.store.clone(),
                            })
                            .set((at - now) / 1000);
                    }
                    for state in SESSION_STATES {
                        self.session_state
                            .get_or_create(&SessionLabels {
                                store: row.store.clone(),
                                state: state.as_str().to_string(),
                            })
                            .set(i64::from(row.state == state));
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "metrics: cannot read the store sessions"),
        }
        if let Some(switch) = &self.heartbeat {
            for c in switch.counters() {
                let label = MonitorLabel { monitor: c.label };
                // The switch owns the counts; scrapes are serialized, so
                // topping up by the difference keeps these equal to them.
                let sends = self.heartbeat_sends.get_or_create(&label);
                sends.inc_by(c.sent.saturating_sub(sends.get()));
                let failures = self.heartbeat_failures.get_or_create(&label);
                failures.inc_by(c.failed.saturating_sub(failures.get()));
            }
        }
        let age = match self.handle.silent_for_ms() {
            Some(ms) => ms.max(0) as f64 / 1000.0,
            None => self.started.elapsed().as_secs_f64(),
        };
        self.loop_turn_age.set(age);
    }
}
