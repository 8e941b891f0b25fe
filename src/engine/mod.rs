//! The engine loop: one loop, one order at a time.
//!
//! ```text
//! loop:
//!     heartbeat.tick()            # before ANY pause or idle branch
//!     probe.run_if_due()          # between claims, never during a buy
//!     if paused: wait(wake or poll); continue
//!     row = queue.claim_next()
//!     if none:   wait(wake or poll); continue
//!     process(row)                # the buy, bounded by a hard timeout
//! ```
//!
//! The heartbeat is ticked from this loop (and from buy progress) and from
//! nowhere else: a wedged loop must fall silent so the outside monitor
//! raises the alarm. The buy itself is in [`buy`]; boot recovery in
//! [`recovery`].

mod buy;
mod held;
pub mod hooks;
pub mod recovery;
mod thread;

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{broadcast, Notify};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::db::{Db, Pause};
use crate::model::{now_ms, ActivityState, Money, Phase, Status};
use crate::purchase::PurchaserFactory;

pub use hooks::{Heartbeat, Liveness, NoHeartbeat, NoProbe, Probe};
pub use thread::EngineThread;

/// What the engine tells observers (tests, the intake's `/health`, logs).
/// Tests await these instead of sleeping.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A loop turn began (after the heartbeat tick).
    Turn(u64),
    Claimed {
        id: i64,
    },
    Phase {
        id: i64,
        phase: Phase,
    },
    Settled {
        id: i64,
        status: Status,
    },
    /// A claim was given back to the queue (shutdown before `submitted`).
    Released {
        id: i64,
    },
    /// A retryable failure was queued again, not before `at`.
    Retrying {
        id: i64,
        at: i64,
    },
    /// The database cannot take writes; the engine holds still.
    StorageFailing {
        reason: String,
    },
    Idle,
    Paused {
        reason: String,
    },
    /// The session probe checked a store (after recording the result).
    Probed {
        store: String,
        state: crate::model::SessionState,
    },
    /// The session probe is due but waits for its activity gate.
    ProbeDeferred {
        reason: String,
    },
    Stopped,
}

/// The settings the loop needs, taken from [`Config`].
#[derive(Debug, Clone)]
pub struct Settings {
    pub poll_interval: Duration,
    pub buy_timeout: Duration,
    pub shutdown_grace: Duration,
    pub dry_run: bool,
    pub cooldown: Duration,
    pub daily_cap: Option<Money>,
    pub max_orders_per_day: u32,
    pub auto_retry: bool,
    pub auto_retry_max: u32,
    pub auto_retry_backoff: Duration,
    pub screenshots_dir: std::path::PathBuf,
    pub screenshot_max_age: Duration,
    pub screenshot_max_count: u32,
}

impl Settings {
    pub fn from_config(c: &Config) -> Settings {
        Settings {
            poll_interval: c.poll_interval,
            buy_timeout: c.buy_timeout,
            shutdown_grace: c.shutdown_grace,
            dry_run: c.dry_run,
            cooldown: c.cooldown,
            daily_cap: c.daily_cap,
            max_orders_per_day: c.max_orders_per_day,
            auto_retry: c.auto_retry,
            auto_retry_max: c.auto_retry_max,
            auto_retry_backoff: c.auto_retry_backoff,
            screenshots_dir: c.screenshots_dir(),
            screenshot_max_age: c.screenshot_max_age,
            screenshot_max_count: c.screenshot_max_count,
        }
    }
}

pub use crate::catalog::SharedCatalog;

/// What the loop is doing right now, for `/health` and the heartbeat body.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Activity {
    pub state: ActivityState,
    pub order_id: Option<i64>,
    pub phase: Option<Phase>,
    pub pause: Option<Pause>,
}

/// The part of the engine shared with the intake, the CLI server hooks and
/// tests: wake-ups, events and liveness.
pub struct Handle {
    wake: Notify,
    events: broadcast::Sender<Event>,
    turns: AtomicU64,
    /// Last loop turn or buy progress, ms since the epoch.
    last_alive: AtomicI64,
    activity: Mutex<Activity>,
}

impl Handle {
    pub fn new() -> Arc<Handle> {
        Arc::new(Handle {
            wake: Notify::new(),
            events: broadcast::channel(4096).0,
            turns: AtomicU64::new(0),
            last_alive: AtomicI64::new(0),
            activity: Mutex::new(Activity {
                state: ActivityState::Starting,
                order_id: None,
                phase: None,
                pause: None,
            }),
        })
    }

    /// Wakes the loop now (new order, resume, due probe, shutdown). A wake
    /// while the loop is busy is kept and consumed by its next wait.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    pub fn turns(&self) -> u64 {
        self.turns.load(Ordering::SeqCst)
    }

    /// Milliseconds since the loop last turned or a buy last made progress;
    /// `None` before the first turn.
    pub fn silent_for_ms(&self) -> Option<i64> {
        let last = self.last_alive.load(Ordering::SeqCst);
        (last > 0).then(|| now_ms().saturating_sub(last))
    }

    pub fn activity(&self) -> Activity {
        self.activity
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn emit(&self, event: Event) {
        let _ = self.events.send(event);
    }

    fn alive(&self) {
        self.last_alive.store(now_ms(), Ordering::SeqCst);
    }

    fn set_activity(&self, f: impl FnOnce(&mut Activity)) {
        f(&mut self.activity.lock().unwrap_or_else(|e| e.into_inner()));
    }
}

#[derive(Clone)]
pub struct Engine {
    db: Db,
    catalog: SharedCatalog,
    factory: Arc<dyn PurchaserFactory>,
    heartbeat: Arc<dyn Heartbeat>,
    probe: Arc<dyn Probe>,
    settings: Arc<Settings>,
    handle: Arc<Handle>,
    /// Who uses which store profile (live sign-in sessions; see `held`).
    holds: Arc<crate::purchase::ProfileHolds>,
}

impl Engine {
    pub fn new(
        db: Db,
        catalog: SharedCatalog,
        factory: Arc<dyn PurchaserFactory>,
        settings: Settings,
    ) -> Engine {
        Engine {
            db,
            catalog,
            factory,
            heartbeat: Arc::new(NoHeartbeat),
            probe: Arc::new(NoProbe),
            settings: Arc::new(settings),
            handle: Handle::new(),
            holds: crate::purchase::ProfileHolds::new(),
        }
    }

    /// Shares the profile holds with the sign-in service and the probe.
    pub fn with_holds(mut self, holds: Arc<crate::purchase::ProfileHolds>) -> Engine {
        self.holds = holds;
        self
    }

    pub fn with_heartbeat(mut self, heartbeat: Arc<dyn Heartbeat>) -> Engine {
        self.heartbeat = heartbeat;
        self
    }

    pub fn with_probe(mut self, probe: Arc<dyn Probe>) -> Engine {
        self.probe = probe;
        self
    }

    pub fn handle(&self) -> Arc<Handle> {
        Arc::clone(&self.handle)
    }

    /// Runs until `shutdown` is cancelled; a buy in flight is settled as
    /// the shutdown rules in [`buy`] say.
    pub async fn run(self, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            self.turn().await;
            self.probe.run_if_due(&shutdown).await;
            if shutdown.is_cancelled() {
                break;
            }
            if let Some(pause) = self.read_pause().await {
                self.handle.emit(Event::Paused {
                    reason: pause.reason,
                });
                self.wait(&shutdown).await;
                continue;
            }
            match self.db.claim_next().await {
                Ok(Some(order)) => self.process(order, &shutdown).await,
                Ok(None) => {
                    self.handle.set_activity(|a| a.state = ActivityState::Idle);
                    self.handle.emit(Event::Idle);
                    self.wait(&shutdown).await;
                }
                Err(e) => {
                    tracing::error!(error = %e, "could not claim the next order; will try again");
                    if e.is_unwritable() {
                        self.storage_failing(&e);
                    }
                    self.wait(&shutdown).await;
                }
            }
        }
        self.handle
            .set_activity(|a| a.state = ActivityState::Stopped);
        self.handle.emit(Event::Stopped);
    }

    /// The top of every loop turn: liveness first, before any branch.
    async fn turn(&self) {
        let n = self.handle.turns.fetch_add(1, Ordering::SeqCst) + 1;
        self.handle.alive();
        self.heartbeat.tick(Liveness::Turn, &self.handle.activity());
        self.handle.emit(Event::Turn(n));
    }

    async fn read_pause(&self) -> Option<Pause> {
        let pause = match self.db.paused().await {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "could not read the pause state");
                None
            }
        };
        self.handle.set_activity(|a| {
            a.state = if pause.is_some() {
                ActivityState::Paused
            } else {
                ActivityState::Running
            };
            a.pause = pause.clone();
        });
        pause
    }

    /// The database cannot take writes: hold still and say so. Not a pause
    /// for a human (nothing is written, and it lifts by itself when the
    /// disk recovers), but shown like one in `/health` and the heartbeat.
    fn storage_failing(&self, e: &crate::db::DbError) {
        let reason = format!("the database cannot take writes: {e}");
        self.handle.set_activity(|a| {
            a.state = ActivityState::Paused;
            a.pause = Some(Pause {
                reason: reason.clone(),
                order_id: None,
                status: None,
                since: now_ms(),
            });
        });
        self.handle.emit(Event::StorageFailing { reason });
    }

    /// Sleeps until woken, the poll interval passes, or shutdown.
    async fn wait(&self, shutdown: &CancellationToken) {
        tokio::select! {
            _ = self.handle.wake.notified() => {}
            _ = tokio::time::sleep(self.settings.poll_interval) => {}
            _ = shutdown.cancelled() => {}
        }
    }
}
