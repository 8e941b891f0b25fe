//! The engine loop: one loop, one order at a time.
//!
//! ```text
//! loop:
//!     heartbeat.tick()            # before ANY pause or idle branch
//!     probe.run_if_due()          # between claims, never during a buy
//!     verify due orders           # read-only looks at order histories
//!     if paused: wait(wake or poll); continue
//!     row = queue.claim_next()
//!     if none:   wait(wake or poll); continue
//!     process(row)                # the buy, bounded by a hard timeout
//! ```
//!
//! The heartbeat is ticked from this loop (and from buy progress) and from
//! nowhere else: a wedged loop must fall silent so the outside monitor
//! raises the alarm. The buy itself is in [`buy`]; boot recovery in
//! [`recovery`]; looking for unconfirmed orders in the store's order
//! history in [`verify`].
//!
//! The loop also keeps a liveness record in the database
//! (`engine.turned_at`, see `Db::set_turned_at`) for processes that cannot
//! ask it (`restock status` with no server answering): written from a
//! spawned task, at most every [`TURN_RECORD_EVERY`], so a turn costs one
//! atomic compare for it.

mod buy;
mod held;
pub mod hooks;
pub mod recovery;
mod thread;
pub mod verify;

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
pub use verify::{CheckResult, Verifier, VerifyError, VerifySettings};

/// The loop writes its liveness record at most this often.
pub const TURN_RECORD_EVERY: Duration = Duration::from_secs(5);

/// What the engine tells observers (tests, the intake's `/health`, logs).
/// Tests await these instead of sleeping.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A loop turn began (after the heartbeat tick).
    Turn(u64),
    /// An order was queued through the intake (`POST /reorder`, the home
    /// page). Orders the CLI writes straight into the database are first
    /// seen when claimed.
    Queued {
        id: i64,
        item: String,
    },
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
    /// An unconfirmed order was looked for in the store's order history
    /// and not found yet; `checks` so far.
    VerifyChecked {
        id: i64,
        checks: u32,
    },
    /// A due check of an unconfirmed order waits: its store's profile is
    /// in use (a live sign-in session). Not counted as a check.
    VerifyHeld {
        id: i64,
    },
    /// Verifying an unconfirmed order ended (`placed`: found and settled).
    Verified {
        id: i64,
        verdict: crate::model::Verdict,
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
    /// When the liveness record was last written (or is being written: a
    /// negative value), ms since the epoch.
    last_record: AtomicI64,
    activity: Mutex<Activity>,
}

impl Handle {
    pub fn new() -> Arc<Handle> {
        Arc::new(Handle {
            wake: Notify::new(),
            events: broadcast::channel(4096).0,
            turns: AtomicU64::new(0),
            last_alive: AtomicI64::new(0),
            last_record: AtomicI64::new(0),
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

    /// Tells observers an order was queued (the intake calls it).
    pub(crate) fn queued(&self, id: i64, item: &str) {
        self.emit(Event::Queued {
            id,
            item: item.to_string(),
        });
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
    verifier: Arc<Verifier>,
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
        let verifier = Arc::new(Verifier::new(
            db.clone(),
            factory.clone(),
            catalog.clone(),
            VerifySettings::default(),
        ));
        Engine {
            db,
            catalog,
            factory,
            heartbeat: Arc::new(NoHeartbeat),
            probe: Arc::new(NoProbe),
            verifier,
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

    /// How unconfirmed orders are verified (default: a 15-minute window).
    pub fn with_verify(mut self, settings: VerifySettings) -> Engine {
        self.verifier = Arc::new(Verifier::new(
            self.db.clone(),
            self.factory.clone(),
            self.catalog.clone(),
            settings,
        ));
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
        self.verifier.resume().await;
        while !shutdown.is_cancelled() {
            self.turn().await;
            self.probe.run_if_due(&shutdown).await;
            if self.verifier.is_due(self.db.clock().now_ms()) {
                self.run_verifications(&shutdown).await;
            }
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
        self.record_turn();
        self.handle.emit(Event::Turn(n));
    }

    /// Writes the liveness record when the last one is older than
    /// [`TURN_RECORD_EVERY`] and none is being written, from a task of its
    /// own: a slow disk never holds the loop up.
    fn record_turn(&self) {
        let now = self.db.clock().now_ms();
        let last = self.handle.last_record.load(Ordering::SeqCst);
        let every = TURN_RECORD_EVERY.as_millis() as i64;
        if last < 0 || now - last < every {
            return;
        }
        if self
            .handle
            .last_record
            .compare_exchange(last, -1, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return;
        }
        let (db, handle) = (self.db.clone(), self.handle.clone());
        tokio::spawn(async move {
            if let Err(e) = db.set_turned_at(now).await {
                tracing::debug!(error = %e, "could not record the loop's turn");
            }
            handle.last_record.store(now, Ordering::SeqCst);
        });
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

    /// Sleeps until woken, the poll interval passes, a verification check
    /// is due, or shutdown.
    async fn wait(&self, shutdown: &CancellationToken) {
        let mut nap = self.settings.poll_interval;
        if let Some(due) = self.verifier.due_in(self.db.clock().now_ms()) {
            nap = nap.min(due + Duration::from_millis(1));
        }
        tokio::select! {
            _ = self.handle.wake.notified() => {}
            _ = tokio::time::sleep(nap) => {}
            _ = shutdown.cancelled() => {}
        }
    }

    /// Runs unconfirmed-order checks ([`Verifier`]) for `restock verify`
    /// and tests, with this engine's database, factory and catalog.
    pub fn verifier(&self) -> Arc<Verifier> {
        Arc::clone(&self.verifier)
    }
}
