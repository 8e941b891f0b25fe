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
//! - Each check also records when the session's cookies expire (see
//!   `purchase::session`). The owner is told `RESTOCK_SESSION_WARN` before
//!   an expiry, once per expiry ([`crate::db::Db::mark_expiry_warned`]),
//!   and the probe runs again just after the expiry time
//!   ([`EXPIRY_GRACE`]), so a session that ran out is found signed out
//!   before a buy hits the wall. Both ride on the loop: a timer wakes it at
//!   the next such moment and [`SessionProbe::run_if_due`] acts (one atomic
//!   read per turn otherwise).
//!
//! At start-up the probe is due at once if it never ran, or (for an
//! interval) if the interval passed while the server was down.

pub mod gate;
pub mod schedule;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
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

/// How long after a session's expiry the probe looks again.
pub const EXPIRY_GRACE: Duration = Duration::from_secs(2);

/// Default for `RESTOCK_SESSION_WARN`.
pub const DEFAULT_WARN: Duration = Duration::from_secs(24 * 3600);

/// Nothing planned.
const NEVER: i64 = i64::MAX;

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
    /// Store profiles in use (a live sign-in session is never probed).
    holds: Option<Arc<crate::purchase::ProfileHolds>>,
    /// `RESTOCK_SESSION_WARN`.
    warn: Duration,
    /// The next expiry warning or post-expiry look, ms since the epoch.
    expiry_event: AtomicI64,
    /// The timer that wakes the loop for it.
    expiry_timer: Mutex<Option<JoinHandle<()>>>,
    /// The expiry each store was last marked due for (at most once per
    /// expiry, also while the gate holds the probe back).
    expiry_looked: Mutex<std::collections::HashMap<String, i64>>,
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
            holds: None,
            warn: DEFAULT_WARN,
            expiry_event: AtomicI64::new(NEVER),
            expiry_timer: Mutex::new(None),
            expiry_looked: Mutex::default(),
        }
    }

    /// Shares the profile holds with the engine and the sign-in service: a
    /// store a live sign-in session holds is skipped, and says so.
    pub fn with_holds(mut self, holds: Arc<crate::purchase::ProfileHolds>) -> SessionProbe {
        self.holds = Some(holds);
        self
    }

    /// Warn this long before a session expires (`0s`: never).
    pub fn with_expiry_warning(mut self, warn: Duration) -> SessionProbe {
        self.warn = warn;
        self
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
        .with_expiry_warning(config.session_warn)
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
        self.plan_expiry().await;
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
        let _hold = match &self.holds {
            Some(holds) => match holds.try_hold(store, crate::purchase::Holder::Probe) {
                Ok(hold) => Some(hold),
                Err(holder) => return self.skipped(store, holder).await,
            },
            None => None,
        };
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
            self.tell(transition_message(t, row));
        }
        if let Some(row) = &session {
            self.warn_if_due(row, now_ms()).await;
        }
        self.plan_expiry().await;
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

    /// A store whose profile is in use is not checked now (nothing is
    /// recorded; the next probe checks it).
    async fn skipped(&self, store: &str, holder: crate::purchase::Holder) -> StoreResult {
        let detail = format!("not checked: {holder} is using the profile");
        tracing::info!(store, "session probe skipped: {detail}");
        StoreResult {
            store: store.to_string(),
            check: SessionCheck::unknown(detail),
            session: self.db.session(store).await.ok().flatten(),
            told: None,
        }
    }

    fn tell(&self, msg: Message) {
        let handle = self.notifier.send(msg);
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

    /// Tells the owner that `row`'s session expires soon, when due and not
    /// yet told for this expiry.
    async fn warn_if_due(&self, row: &StoreSession, now: i64) {
        let Some(expires) = row.expires_at else {
            return;
        };
        if !row.expiry_warning_due(now, self.warn) {
            return;
        }
        match self.db.mark_expiry_warned(&row.store, expires).await {
            Ok(true) => {
                tracing::info!(store = %row.store, expires = %crate::text::at(expires), "session expires soon; telling the owner");
                self.tell(expiry_message(&row.store, expires));
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(store = %row.store, error = %e, "cannot record the expiry warning")
            }
        }
    }

    /// Works out the next expiry warning or post-expiry look over every
    /// store, and arms a timer that wakes the loop then.
    async fn plan_expiry(&self) {
        let rows = match self.db.sessions().await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the sessions to plan expiry checks");
                return;
            }
        };
        let now = now_ms();
        let looked = self
            .expiry_looked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let next = rows
            .iter()
            .filter_map(|r| {
                let marked = looked.get(&r.store) == r.expires_at.as_ref();
                next_expiry_event(r, self.warn, now, marked)
            })
            .min()
            .unwrap_or(NEVER);
        self.expiry_event.store(next, Ordering::SeqCst);
        let mut timer = self.expiry_timer.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = timer.take() {
            old.abort();
        }
        let Some(handle) = self.handle.clone() else {
            return;
        };
        if next == NEVER {
            return;
        }
        let wait = Duration::from_millis((next - now_ms()).max(0) as u64);
        *timer = Some(tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            handle.wake();
        }));
    }

    /// The moment planned by [`Self::plan_expiry`] came: warn where due,
    /// mark the probe due for a session past its expiry, plan the next.
    async fn expiry_tick(&self, now: i64) {
        let rows = self.db.sessions().await.unwrap_or_default();
        for row in &rows {
            self.warn_if_due(row, now).await;
            if expired_unchecked(row, now) {
                let mut looked = self.expiry_looked.lock().unwrap_or_else(|e| e.into_inner());
                if looked.get(&row.store) != row.expires_at.as_ref() {
                    looked.insert(row.store.clone(), row.expires_at.unwrap_or(0));
                    drop(looked);
                    tracing::info!(store = %row.store, "the session's expiry passed; checking it again");
                    self.mark_due();
                }
            }
        }
        self.plan_expiry().await;
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
        let now = now_ms();
        if self.expiry_event.load(Ordering::SeqCst) <= now {
            self.expiry_tick(now).await;
        }
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

/// The next moment `row` needs the probe: its warning time (not yet told,
/// not yet expired), or just after its expiry (not checked since, and not
/// already marked due for it: `looked`).
fn next_expiry_event(row: &StoreSession, warn: Duration, now: i64, looked: bool) -> Option<i64> {
    let expires = row
        .expires_at
        .filter(|_| row.state == SessionState::SignedIn)?;
    let warn_at = (!warn.is_zero() && row.warned_expiry != Some(expires) && now < expires)
        .then(|| expires - warn.as_millis() as i64);
    let look_at = (!looked && row.checked_at.unwrap_or(0) < expires)
        .then(|| expires + EXPIRY_GRACE.as_millis() as i64);
    warn_at.into_iter().chain(look_at).min()
}

/// Signed in, past its expiry, and not checked since.
fn expired_unchecked(row: &StoreSession, now: i64) -> bool {
    row.state == SessionState::SignedIn
        && row.expires_at.is_some_and(|e| {
            now >= e + EXPIRY_GRACE.as_millis() as i64 && row.checked_at.unwrap_or(0) < e
        })
}

/// The warning before a session expires.
pub fn expiry_message(store: &str, expires_at: i64) -> Message {
    let left = crate::text::span_words(expires_at - now_ms());
    Message::new(
        "expiring",
        format!("restock: {store}'s sign-in expires in {left}"),
        format!(
            "{store}'s sign-in expires in {left} ({}): run `restock login {store}` before then, \
             so orders for {store} keep going through.",
            crate::text::at(expires_at)
        ),
    )
    .data("store", store.to_string())
    .data("expires_at", expires_at)
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

/// `signed in, expires in 6 d (checked 2h ago)`, for `restock status`,
/// `GET /stores` and the doctor (see [`crate::text::session`]).
pub fn describe(row: &StoreSession) -> String {
    crate::text::session(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1000;

    fn signed_in(expires: i64, checked: i64) -> StoreSession {
        StoreSession {
            expires_at: Some(expires),
            checked_at: Some(checked),
            ..StoreSession::new("demo", SessionState::SignedIn, 0)
        }
    }

    #[test]
    fn the_warning_comes_first_then_a_look_just_after_the_expiry() {
        let warn = Duration::from_secs(10);
        let row = signed_in(100 * S, 5 * S);
        assert_eq!(next_expiry_event(&row, warn, 6 * S, false), Some(90 * S));
        let warned = StoreSession {
            warned_expiry: Some(100 * S),
            ..row.clone()
        };
        let look = 100 * S + EXPIRY_GRACE.as_millis() as i64;
        assert_eq!(next_expiry_event(&warned, warn, 91 * S, false), Some(look));
        // Past its expiry, unwarned (the server was down): only the look.
        assert_eq!(next_expiry_event(&row, warn, 101 * S, false), Some(look));
        // Marked due for it already, or checked since: nothing.
        assert_eq!(next_expiry_event(&warned, warn, 101 * S, true), None);
        let checked = signed_in(100 * S, 103 * S);
        assert_eq!(
            next_expiry_event(&checked, Duration::ZERO, 104 * S, false),
            None
        );
        assert!(expired_unchecked(&row, look));
        assert!(!expired_unchecked(&checked, look));
        let out = StoreSession {
            state: SessionState::SignedOut,
            ..row
        };
        assert_eq!(next_expiry_event(&out, warn, 6 * S, false), None);
    }
}
