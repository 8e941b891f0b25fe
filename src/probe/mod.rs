//! The session-freshness probe: is each store's browser profile still
//! signed in? Told before a real order hits the sign-in wall.
//!
//! - [`schedule`] marks the probe due (tokio-cron-scheduler, from an
//!   interval or a cron expression, or `off`) and wakes the engine loop; the
//!   loop calls [`SessionProbe::run_if_due`] between claims, so a probe never
//!   overlaps a buy.
//! - A due probe waits for the [`gate`] (local-time window, optional idle
//!   command). While it waits it re-checks the gate every
//!   [`ProbeSettings::recheck`] (5 s) by waking the loop, so it runs within
//!   seconds of the gate opening.
//! - For each store that has a profile directory (`<state_dir>/profiles/<store>`)
//!   it builds a purchaser through the same factory buys use, asks it
//!   read-only ([`crate::purchase::Purchaser::check_session`]) and drops it
//!   (closing its browser). Each store is bounded by
//!   `RESTOCK_SESSION_CHECK_TIMEOUT`; a timeout is `unknown`.
//! - Results go to the `store_sessions` table ([`sessions`]); the probe's
//!   own timestamp (`probe.last_run`) advances even when checks error, so a
//!   broken store is not hammered.
//! - The owner is told when a store goes signed out, reminded at most every
//!   `RESTOCK_SESSION_REMIND` while it stays out, and told when it is back.
//!   An `unknown` result tells nothing and keeps the last known state.
//! - Buys skip a store known signed out (see `engine::buy`), and
//!   `restock login STORE` marks the store signed in (`Db::mark_signed_in`).
//!
//! At start-up the probe is due at once if it never ran, or (for an
//! interval) if the interval passed while the server was down.

pub mod gate;
pub mod schedule;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::db::Db;
use crate::engine::{Event, Handle, Probe};
use crate::model::now_ms;
use crate::model::{SessionCheck, SessionState};
use crate::notify::{Delivery, Message, Notifier, Priority};
use crate::purchase::PurchaserFactory;

pub use crate::config::Window;
pub use crate::model::{StoreSession, Transition};
pub use gate::{Clock, Decision, Gate};
pub use schedule::{Schedule, Scheduled};

/// Which stores the probe checks.
#[derive(Debug, Clone)]
pub enum Stores {
    /// Every subdirectory of this profiles directory (hidden ones skipped).
    Profiles(PathBuf),
    Fixed(Vec<String>),
}

impl Stores {
    pub async fn list(&self) -> Vec<String> {
        let dir = match self {
            Stores::Fixed(v) => return v.clone(),
            Stores::Profiles(dir) => dir,
        };
        let mut out = Vec::new();
        let mut entries = match tokio::fs::read_dir(dir).await {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return out,
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot list store profiles");
                return out;
            }
        };
        while let Ok(Some(entry)) = entries.next_entry().await {
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_dir = entry.file_type().await.is_ok_and(|t| t.is_dir());
            if is_dir && !name.starts_with('.') {
                out.push(name);
            }
        }
        out.sort();
        out
    }
}

#[derive(Debug, Clone, Copy)]
pub struct ProbeSettings {
    /// Bound on one store's check.
    pub timeout: Duration,
    /// At most one reminder per this while a store stays signed out.
    pub remind: Duration,
    /// How often a due probe waiting for the gate re-checks it.
    pub recheck: Duration,
}

impl ProbeSettings {
    pub fn from_config(c: &crate::config::Config) -> ProbeSettings {
        ProbeSettings {
            timeout: c.session_check_timeout,
            remind: c.session_remind,
            recheck: Duration::from_secs(5),
        }
    }
}

/// One store's check, as `restock probe` prints it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StoreResult {
    pub store: String,
    pub check: SessionCheck,
    pub session: Option<StoreSession>,
    pub told: Option<Transition>,
}

pub struct SessionProbe {
    db: Db,
    factory: Arc<dyn PurchaserFactory>,
    notifier: Notifier,
    stores: Stores,
    gate: Gate,
    settings: ProbeSettings,
    handle: Option<Arc<Handle>>,
    due: AtomicBool,
    recheck_armed: Arc<AtomicBool>,
    last_deferral: Mutex<Option<String>>,
    sends: Mutex<Vec<JoinHandle<Vec<Delivery>>>>,
}

impl SessionProbe {
    pub fn new(
        db: Db,
        factory: Arc<dyn PurchaserFactory>,
        notifier: Notifier,
        stores: Stores,
        gate: Gate,
        settings: ProbeSettings,
    ) -> SessionProbe {
        SessionProbe {
            db,
            factory,
            notifier,
            stores,
            gate,
            settings,
            handle: None,
            due: AtomicBool::new(false),
            recheck_armed: Arc::new(AtomicBool::new(false)),
            last_deferral: Mutex::new(None),
            sends: Mutex::new(Vec::new()),
        }
    }

    /// The probe `serve` runs: stores from the profiles directory, gate and
    /// timeouts from the config.
    pub fn from_config(
        config: &crate::config::Config,
        db: Db,
        factory: Arc<dyn PurchaserFactory>,
        notifier: Notifier,
    ) -> SessionProbe {
        SessionProbe::new(
            db,
            factory,
            notifier,
            Stores::Profiles(config.profiles_dir()),
            Gate::from_config(config),
            ProbeSettings::from_config(config),
        )
    }

    /// The engine this probe runs in: marks wake it, results are emitted
    /// as [`Event::Probed`].
    pub fn with_handle(mut self, handle: Arc<Handle>) -> SessionProbe {
        self.handle = Some(handle);
        self
    }

    /// The scheduler's job: due now; the loop runs it between claims.
    pub fn mark_due(&self) {
        self.due.store(true, Ordering::SeqCst);
        tracing::debug!("session probe due");
        if let Some(h) = &self.handle {
            h.wake();
        }
    }

    pub fn is_due(&self) -> bool {
        self.due.load(Ordering::SeqCst)
    }

    /// At start-up: due now if the schedule says a run is owed.
    pub async fn catch_up(&self, schedule: &Schedule) {
        let last = self.db.probe_last_run().await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot read when the probe last ran");
            None
        });
        if schedule.owed_at_start(last, now_ms()) {
            self.mark_due();
        }
    }

    /// Starts `schedule` with this probe as its target.
    pub async fn schedule(
        self: &Arc<Self>,
        schedule: &Schedule,
    ) -> Result<Option<Scheduled>, schedule::ScheduleError> {
        let me = Arc::downgrade(self);
        schedule::start(
            schedule,
            Arc::new(move || {
                if let Some(p) = me.upgrade() {
                    p.mark_due()
                }
            }),
        )
        .await
    }

    /// Checks every store now, gate or not (`restock probe`, and the loop
    /// once the gate is open). Stops early on shutdown.
    pub async fn probe_all(&self, shutdown: &CancellationToken) -> Vec<StoreResult> {
        let stores = self.stores.list().await;
        if stores.is_empty() {
            tracing::info!("session probe: no store profiles yet; `restock login STORE` makes one");
        }
        let mut out = Vec::new();
        for store in stores {
            if shutdown.is_cancelled() {
                break;
            }
            tokio::select! {
                r = self.probe_store(&store) => out.push(r),
                _ = shutdown.cancelled() => break,
            }
        }
        self.record_run().await;
        out
    }

    /// Advances the probe's timestamp (even when checks errored, so a
    /// broken store is not hammered). Logged, never raised.
    pub async fn record_run(&self) {
        if let Err(e) = self.db.set_probe_last_run(now_ms()).await {
            tracing::warn!(error = %e, "cannot record the probe's run");
        }
    }

    /// Checks one store: purchaser from the factory, bounded by the
    /// timeout, dropped (browser closed) before the result is recorded.
    pub async fn probe_store(&self, store: &str) -> StoreResult {
        let timeout = self.settings.timeout;
        let check = tokio::time::timeout(timeout, async {
            match self.factory.purchaser(store) {
                Ok(mut purchaser) => purchaser.check_session().await,
                Err(e) => SessionCheck::unknown(e.to_string()),
            }
        })
        .await
        .unwrap_or_else(|_| {
            SessionCheck::unknown(format!(
                "no answer within {} (RESTOCK_SESSION_CHECK_TIMEOUT)",
                humantime::format_duration(timeout)
            ))
        });
        tracing::info!(
            store,
            state = check.state.as_str(),
            detail = check.detail.as_deref().unwrap_or(""),
            "session checked"
        );
        let (session, told) = match self
            .db
            .record_session_check(store, check.clone(), self.settings.remind)
            .await
        {
            Ok((row, told)) => (Some(row), told),
            Err(e) => {
                tracing::error!(store, error = %e, "cannot record the session check");
                (None, None)
            }
        };
        if let (Some(t), Some(row)) = (told, &session) {
            self.tell(t, row);
        }
        if let Some(h) = &self.handle {
            h.emit(Event::Probed {
                store: store.to_string(),
                state: check.state,
            });
        }
        StoreResult {
            store: store.to_string(),
            check,
            session,
            told,
        }
    }

    fn tell(&self, t: Transition, row: &StoreSession) {
        let handle = self.notifier.send(transition_message(t, row));
        let mut sends = self.sends.lock().unwrap_or_else(|e| e.into_inner());
        sends.retain(|h| !h.is_finished());
        sends.push(handle);
    }

    /// Waits for the notifications this probe sent (a CLI before exiting).
    pub async fn flush(&self) -> Vec<Delivery> {
        let sends: Vec<_> =
            std::mem::take(&mut *self.sends.lock().unwrap_or_else(|e| e.into_inner()));
        let mut out = Vec::new();
        for h in sends {
            out.extend(h.await.unwrap_or_default());
        }
        out
    }

    /// While due but gated: wake the loop again after `recheck`, once.
    fn arm_recheck(&self) {
        let Some(handle) = self.handle.clone() else {
            return;
        };
        if self.recheck_armed.swap(true, Ordering::SeqCst) {
            return;
        }
        let armed = self.recheck_armed.clone();
        let after = self.settings.recheck;
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            armed.store(false, Ordering::SeqCst);
            handle.wake();
        });
    }
}

#[async_trait]
impl Probe for SessionProbe {
    async fn run_if_due(&self, shutdown: &CancellationToken) {
        if !self.is_due() {
            return;
        }
        if let Decision::Closed(reason) = self.gate.check().await {
            let mut last = self.last_deferral.lock().unwrap_or_else(|e| e.into_inner());
            if last.as_deref() != Some(reason.as_str()) {
                tracing::info!(%reason, "session probe due; waiting for the activity gate");
                *last = Some(reason.clone());
            }
            drop(last);
            if let Some(h) = &self.handle {
                h.emit(Event::ProbeDeferred { reason });
            }
            self.arm_recheck();
            return;
        }
        *self.last_deferral.lock().unwrap_or_else(|e| e.into_inner()) = None;
        // Cleared before running: a mark during the run means run again.
        self.due.store(false, Ordering::SeqCst);
        self.probe_all(shutdown).await;
    }
}

/// What the owner reads.
pub fn transition_message(t: Transition, row: &StoreSession) -> Message {
    let store = &row.store;
    let msg = match t {
        Transition::SignedOut => Message::new(
            "signed_out",
            format!("restock: {store} needs you to sign in"),
            format!(
                "{store} needs you to sign in: run `restock login {store}`. Orders for {store} skip it until then."
            ),
        )
        .priority(Priority::High),
        Transition::Reminder => Message::new(
            "reminder",
            format!("restock: {store} is still signed out"),
            format!(
                "{store} is still signed out (since {}): run `restock login {store}`.",
                crate::text::ago(row.since)
            ),
        )
        .priority(Priority::High),
        Transition::Back => Message::new(
            "signed_in",
            format!("restock: {store} is signed in again"),
            format!("{store} is signed in again; orders for it go through as usual."),
        ),
    };
    msg.data("store", store.clone())
}

/// The sessions part of `/health`: `{"sessions": {"demo": {...}}}`, to be
/// merged with the other parts' objects.
pub async fn health_json(db: Db) -> Value {
    match db.sessions().await {
        Ok(rows) => {
            let map: serde_json::Map<String, Value> = rows
                .into_iter()
                .map(|r| {
                    let name = r.store.clone();
                    (name, serde_json::to_value(r).unwrap_or(Value::Null))
                })
                .collect();
            json!({ "sessions": map })
        }
        Err(e) => json!({ "sessions": { "error": e.to_string() } }),
    }
}

/// `signed in (checked 2h ago)`, for `restock status`.
pub fn describe(row: &StoreSession) -> String {
    let state = match row.state {
        SessionState::SignedIn => "signed in".to_string(),
        SessionState::SignedOut => format!(
            "SIGNED OUT since {}: run `restock login {}`",
            crate::text::ago(row.since),
            row.store
        ),
        SessionState::Unknown => "unknown".to_string(),
    };
    let checked = match row.checked_at {
        Some(t) => format!("checked {}", crate::text::ago(t)),
        None => "never checked".to_string(),
    };
    let last = match (row.last_result, &row.last_error) {
        (Some(SessionState::Unknown), Some(e)) if row.state != SessionState::Unknown => {
            format!(": last check inconclusive, {e}")
        }
        (_, Some(e)) => format!(": {e}"),
        _ => String::new(),
    };
    format!("{state} ({checked}{last})")
}
