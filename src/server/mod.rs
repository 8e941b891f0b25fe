//! `restock serve`: wires config, catalog, queue, engine and intake into one
//! long-lived process, and takes them down in order on a signal. This is
//! where the parts meet, so policy that joins two of them lives here too:
//! [`pauses`] tells the owner of every pause for a human (the engine's
//! events, the database's pause, the notifier), [`verified`] what looking
//! for an unconfirmed order in the store's order history concluded, and
//! [`liveness`] tells another process whether a server runs for a state
//! directory (its lock, its `/health`, its loop's record). The HTTP server
//! is the intake's API, the home page ([`crate::web`]) and the sign-in
//! routes on one listener.
//!
//! Start-up order is chosen so a bad setting changes nothing: the catalog is
//! parsed and the listen address bound before the database is opened.

mod follow;
pub mod liveness;
pub mod pauses;
pub mod verified;

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::catalog::{Catalog, CatalogError, SharedCatalog};
use crate::config::Config;
use crate::db::checkpoint::{self, Checkpoint, Checkpointer};
use crate::db::{Db, DbError};
use crate::engine::{
    recovery, Engine, EngineThread, Event, Handle, Heartbeat, NoHeartbeat, NoProbe, Probe, Settings,
};
use crate::heartbeat::{self, HeartbeatError, Switch, Systemd};
use crate::intake::{self, Intake};
use crate::purchase::PurchaserFactory;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("RESTOCK_LISTEN = `{addr}`: cannot listen there ({source}); pick a free address, e.g. 127.0.0.1:8724")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("state dir {0}: another `restock serve` is already running on it; stop it first (one server per database)")]
    Locked(String),
    #[error("state dir {path}: {source}")]
    StateDir {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Heartbeat(#[from] HeartbeatError),
    #[error(transparent)]
    Notify(#[from] crate::notify::NotifyError),
    #[error(transparent)]
    Schedule(#[from] crate::probe::schedule::ScheduleError),
    #[error("cannot start the engine thread: {0}")]
    EngineThread(std::io::Error),
    /// A listen address other machines reach, without a token.
    #[error("{0}")]
    Exposed(String),
}

impl ServeError {
    /// Configuration problems exit 2; the rest 1.
    pub fn is_config(&self) -> bool {
        matches!(
            self,
            ServeError::Catalog(_)
                | ServeError::Listen { .. }
                | ServeError::Heartbeat(_)
                | ServeError::Exposed(_)
        )
    }
}

/// What `start` needs besides the config: the parts tests swap out.
pub struct Parts {
    pub factory: Arc<dyn PurchaserFactory>,
    pub heartbeat: Arc<dyn Heartbeat>,
    pub probe: Arc<dyn Probe>,
    /// Store names the catalog may use; `None` skips the check.
    pub known_stores: Option<Vec<String>>,
    /// Where stored timestamps come from (tests move it).
    pub clock: crate::model::Clock,
    /// Run the session probe from the config (`RESTOCK_SESSION_CHECK`,
    /// schedule, gate) through `factory`, replacing `probe`. `serve` sets it.
    pub session_probe: bool,
    /// The real browser, for the live sign-in page (`src/signin`); `None`
    /// (a scripted purchaser) refuses sign-in links.
    pub browser: Option<Arc<crate::purchase::BrowserSettings>>,
}

impl Parts {
    pub fn new(factory: Arc<dyn PurchaserFactory>) -> Parts {
        Parts {
            factory,
            heartbeat: Arc::new(NoHeartbeat),
            probe: Arc::new(NoProbe),
            known_stores: None,
            clock: crate::model::Clock::system(),
            session_probe: false,
            browser: None,
        }
    }
}

/// A server that is up: the intake listens and the engine runs.
pub struct Running {
    pub addr: SocketAddr,
    pub handle: Arc<Handle>,
    pub db: Db,
    pub catalog: SharedCatalog,
    known_stores: Option<Arc<Vec<String>>>,
    shutdown: CancellationToken,
    schedule: Option<crate::probe::Scheduled>,
    engine: EngineThread,
    intake: JoinHandle<std::io::Result<()>>,
    /// The dead-man's switch, when monitors or systemd are configured.
    pub heartbeat: Option<Switch>,
    /// The order check's event follower, given time to send the last end.
    order_check: Option<JoinHandle<()>>,
    order_check_grace: Duration,
    checkpointer: Checkpointer,
    /// Who uses which store profile (sign-in sessions, buys, the probe).
    pub holds: Arc<crate::purchase::ProfileHolds>,
    /// The sign-in page's service (links, the live session).
    pub signin: Arc<crate::signin::SignIn>,
    _lock: std::fs::File,
}

pub async fn start(config: &Config, parts: Parts) -> Result<Running, ServeError> {
    // No token on an address other machines reach: refuse (src/signin/auth.rs).
    let open = crate::intake::auth::check_exposure(
        config.listen,
        config.intake_token.as_deref(),
        config.intake_open,
    )
    .map_err(ServeError::Exposed)?;
    if let Some(warning) = open {
        tracing::warn!("{warning}");
    }
    let catalog = Catalog::load(&config.catalog)?;
    if let Some(known) = &parts.known_stores {
        catalog.check_stores(known, &config.catalog)?;
    }
    let listener = intake::bind(config.listen)
        .await
        .map_err(|source| ServeError::Listen {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServeError::Listen {
        addr: config.listen,
        source,
    })?;
    let lock = liveness::lock_state_dir(
        &config.state_dir,
        &liveness::LockInfo {
            pid: Some(std::process::id()),
            listen: Some(addr),
        },
    )?;
    let db = Db::open(&config.db_path())?.with_clock(parts.clock.clone());
    recovery::recover(&db, config.max_recoveries).await?;
    crate::screenshots::prune_in_background(
        config.screenshots_dir(),
        config.screenshot_max_age,
        config.screenshot_max_count as usize,
    )
    .await;

    let systemd = Systemd::from_env();
    for warning in heartbeat::timing_warnings(config, systemd.as_ref().and_then(Systemd::watchdog))
    {
        tracing::warn!("{warning}");
    }
    let switch = Switch::from_config(config, db.clone(), systemd).await?;
    let beats: Arc<dyn Heartbeat> = match &switch {
        Some(s) => Arc::new(heartbeat::Chain(vec![parts.heartbeat, Arc::new(s.clone())])),
        None => parts.heartbeat,
    };

    let catalog: SharedCatalog = Arc::new(RwLock::new(Arc::new(catalog)));
    let known_stores = parts.known_stores.map(Arc::new);
    let notifier = crate::notify::Notifier::from_config(config)?;
    let holds = crate::purchase::ProfileHolds::new();
    let engine = Engine::new(
        db.clone(),
        catalog.clone(),
        parts.factory.clone(),
        Settings::from_config(config),
    )
    .with_heartbeat(beats)
    .with_holds(holds.clone())
    .with_verify(crate::engine::VerifySettings::from_config(config));
    let handle = engine.handle();
    let browser_runs = parts.browser.is_some();
    let signin = Arc::new(
        crate::signin::SignIn::new(config, addr, parts.browser, holds.clone(), notifier.clone())
            .with_queue(db.clone())
            .with_engine(handle.clone()),
    );
    notifier.set_decorator(crate::signin::notify::decorator(Arc::downgrade(&signin)));
    let (probe, schedule) = if parts.session_probe {
        session_probe(config, &db, parts.factory, &notifier, &handle, &holds).await?
    } else {
        (parts.probe, None)
    };
    let engine = engine.with_probe(probe);
    let order_check = switch
        .as_ref()
        .and_then(|s| s.watch_orders(handle.subscribe()));
    let metrics = crate::metrics::Metrics::new(db.clone(), handle.clone(), switch.clone());
    metrics.follow(handle.subscribe());
    if let Some(sd) = switch.as_ref().and_then(|s| s.systemd()).cloned() {
        tokio::spawn(ready_after_first_turn(
            sd,
            handle.clone(),
            handle.subscribe(),
        ));
    }
    let shutdown = CancellationToken::new();
    pauses::watch_pauses(
        handle.clone(),
        db.clone(),
        notifier.clone(),
        shutdown.clone(),
    );
    verified::watch_verdicts(
        handle.clone(),
        db.clone(),
        notifier,
        config.verify_window,
        shutdown.clone(),
    );
    let intake = Intake {
        db: db.clone(),
        catalog: catalog.clone(),
        catalog_path: config.catalog.clone(),
        handle: handle.clone(),
        token: config.intake_token.as_deref().map(Arc::from),
        debounce: config.debounce,
        cooldown: config.cooldown,
        stall_after: config.stall_after(),
        known_stores: known_stores.clone(),
        health_extra: Some(health_extra(
            switch.as_ref().map(Switch::health_extra),
            db.clone(),
        )),
        metrics: Some(metrics),
        items_cache: Default::default(),
    };
    let checkpointer = Checkpointer::start(&db, checkpoint::EVERY, shutdown.clone()).await?;
    let verify = home_verify(engine.verifier(), holds.clone(), handle.clone());
    let engine = engine
        .spawn_thread(shutdown.clone())
        .map_err(ServeError::EngineThread)?;
    let mut web = crate::web::Web::new(config, addr, intake.clone(), shutdown.clone());
    web.signin = Some(signin.clone()).filter(|_| browser_runs);
    web.monitors = switch.clone();
    web.verify = Some(verify);
    let stop = shutdown.clone();
    let app = intake::router(intake)
        .merge(crate::web::router(Arc::new(web)))
        .merge(crate::signin::routes::public(signin.clone()))
        .merge(crate::signin::routes::api(signin.clone()))
        .into_make_service_with_connect_info::<SocketAddr>();
    let intake = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await
    });
    tracing::info!(%addr, dry_run = config.dry_run, "restock is serving");
    Ok(Running {
        addr,
        handle,
        db,
        catalog,
        known_stores,
        shutdown,
        schedule,
        engine,
        intake,
        heartbeat: switch,
        order_check,
        order_check_grace: config.heartbeat_timeout + Duration::from_secs(1),
        checkpointer,
        holds,
        signin,
        _lock: lock,
    })
}

/// systemd's `READY=1`: the intake already listens (it was bound before the
/// engine started), so it is sent once the loop has turned.
async fn ready_after_first_turn(
    sd: Systemd,
    handle: Arc<Handle>,
    mut events: tokio::sync::broadcast::Receiver<Event>,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match events.recv().await {
            Ok(Event::Turn(_)) | Err(RecvError::Lagged(_)) => break,
            Ok(_) => {}
            Err(RecvError::Closed) => return,
        }
    }
    sd.ready(&heartbeat::state_line(&handle.activity()));
    tracing::info!("told systemd we are ready");
}

/// The session probe, its schedule (marks it due, wakes the loop) and the
/// start-up catch-up.
async fn session_probe(
    config: &Config,
    db: &Db,
    factory: Arc<dyn PurchaserFactory>,
    notifier: &crate::notify::Notifier,
    handle: &Arc<Handle>,
    holds: &Arc<crate::purchase::ProfileHolds>,
) -> Result<(Arc<dyn Probe>, Option<crate::probe::Scheduled>), ServeError> {
    use crate::probe::SessionProbe;
    let schedule = &config.session_check;
    let probe = SessionProbe::from_config(config, db.clone(), factory, notifier.clone())
        .with_handle(handle.clone())
        .with_holds(holds.clone());
    let probe = Arc::new(probe);
    probe.catch_up(schedule).await;
    let scheduled = probe.schedule(schedule).await?;
    Ok((probe, scheduled))
}

type HealthExtra =
    Arc<dyn Fn() -> futures::future::BoxFuture<'static, serde_json::Value> + Send + Sync>;

/// `/health`'s extra parts: the heartbeat's object (when configured) and
/// the probe's `sessions`, merged into one object.
fn health_extra(heartbeat: Option<HealthExtra>, db: Db) -> HealthExtra {
    Arc::new(move || {
        let heartbeat = heartbeat.clone();
        let db = db.clone();
        Box::pin(async move {
            let mut out = match heartbeat {
                Some(f) => f().await,
                None => serde_json::Value::Object(Default::default()),
            };
            if let (serde_json::Value::Object(map), serde_json::Value::Object(more)) =
                (&mut out, crate::probe::health_json(db).await)
            {
                map.extend(more);
            }
            out
        })
    })
}

impl Running {
    /// What the WAL checkpointer did last (see [`checkpoint`]).
    pub fn checkpoints(&self) -> tokio::sync::watch::Receiver<Checkpoint> {
        self.checkpointer.last.clone()
    }

    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops claiming, settles the buy in flight, closes the intake.
    pub async fn stop(self) {
        if let Some(sd) = self.heartbeat.as_ref().and_then(Switch::systemd) {
            sd.stopping("stopping: no new claims; settling the buy in flight")
                .await;
        }
        self.shutdown.cancel();
        self.handle.wake();
        self.wait().await;
    }

    /// Waits until something cancelled the shutdown token and everything
    /// wound down. The intake gets a few seconds for open connections.
    pub async fn wait(self) {
        if let Err(e) = self.engine.join().await {
            tracing::error!(error = %e, "the engine loop ended abnormally");
        }
        // A live sign-in page ends; its browser closes.
        self.signin.shutdown().await;
        if let Some(schedule) = self.schedule {
            schedule.shutdown().await;
        }
        self.checkpointer.stop().await;
        if let Some(order_check) = self.order_check {
            // The last buy's end ping; bounded by its own timeout.
            let _ = tokio::time::timeout(self.order_check_grace, order_check).await;
        }
        match tokio::time::timeout(Duration::from_secs(5), self.intake).await {
            Ok(Ok(Err(e))) => tracing::error!(error = %e, "intake stopped with an error"),
            Err(_) => tracing::warn!("intake did not close within 5s"),
            _ => {}
        }
        tracing::info!("restock stopped");
    }
}

/// Runs until SIGTERM or SIGINT; SIGHUP reloads the catalog.
pub async fn run_until_signal(running: Running, config: &Config) -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => {
                let known = running.known_stores.as_deref().map(Vec::as_slice);
                if let Err(e) = crate::catalog::reload(&running.catalog, &config.catalog, known) {
                    tracing::error!(error = %e, "catalog reload failed; keeping the previous catalog");
                }
            }
        }
    }
    tracing::info!("shutdown signal: no new claims; settling the buy in flight");
    running.stop().await;
    Ok(())
}

/// The home page's Verify button: `restock verify ID`'s check through the
/// engine's own verifier, under a hold of the store's profile so it never
/// opens a browser beside a buy, a probe or a live sign-in (it is refused
/// at once instead: "a buy (order 7) is using the store's profile"). Only
/// a found order is a success; "not in the order history" is said as a
/// refusal, so the page does not show it as done.
fn home_verify(
    verifier: Arc<crate::engine::Verifier>,
    holds: Arc<crate::purchase::ProfileHolds>,
    handle: Arc<crate::engine::Handle>,
) -> crate::web::Verify {
    Arc::new(move |id| {
        let verifier = verifier.clone();
        let holds = holds.clone();
        let handle = handle.clone();
        Box::pin(async move {
            let checked = verifier.verify_held(&holds, id).await;
            // A verdict reached here is the engine's as much as its own
            // checks': its event tells the owner (server::verified) and
            // wakes the page's other viewers, as the loop's would.
            if let Some(verdict) = checked.as_ref().ok().and_then(|r| r.verdict()) {
                handle.emit(crate::engine::Event::Verified { id, verdict });
            }
            match checked {
                Ok(found @ crate::engine::CheckResult::Found { .. }) => Ok(found.describe(id)),
                Ok(other) => Err(other.describe(id)),
                Err(e) => Err(e.to_string()),
            }
        })
    })
}
