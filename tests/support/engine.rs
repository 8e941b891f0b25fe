//! In-process engine rigs: engine settings for tests, a catalog in memory,
//! a purchaser factory around the scripted one that can hold or hang its
//! session checks and counts browsers, and an engine loop run on a task.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use restock::catalog::{Catalog, Item, SharedCatalog, Source};
use restock::db::Db;
use restock::engine::{Engine, Event, Handle, Probe, Settings};
use restock::model::{Outcome, SessionCheck, Status};
use restock::purchase::scripted::{Script, ScriptedFactory};
use restock::purchase::{BuyProgress, BuyRequest, PurchaseError, Purchaser, PurchaserFactory};
use restock::server::{self, Parts, Running};
use tokio::sync::{broadcast, watch, Notify};
use tokio_util::sync::CancellationToken;
use url::Url;

use super::env::Env;
use super::wait::{until, within};

/// Engine settings for a test: a dry run, slow polls (tests wake the
/// loop), no cooldown, screenshots under `dir`.
pub fn settings(dir: &Path) -> Settings {
    Settings {
        poll_interval: Duration::from_secs(30),
        buy_timeout: Duration::from_secs(30),
        shutdown_grace: Duration::from_secs(1),
        dry_run: true,
        cooldown: Duration::ZERO,
        daily_cap: None,
        max_orders_per_day: 100,
        auto_retry: false,
        auto_retry_max: 0,
        auto_retry_backoff: Duration::from_secs(1),
        screenshots_dir: dir.join("screenshots"),
        screenshot_max_age: Duration::from_secs(86400),
        screenshot_max_count: 100,
    }
}

/// A catalog of one item, bought from `sources` (store, product URL) in
/// order.
pub fn one_item_catalog(id: &str, name: &str, sources: &[(&str, Url)]) -> SharedCatalog {
    let item = Item {
        id: id.into(),
        name: name.into(),
        quantity: 1,
        cooldown: None,
        max_price: None,
        sources: sources
            .iter()
            .map(|(store, url)| Source {
                store: store.to_string(),
                url: url.clone(),
                max_price: None,
                choose: Default::default(),
            })
            .collect(),
    };
    Arc::new(RwLock::new(Arc::new(Catalog { items: vec![item] })))
}

/// A catalog: `towels` bought at the given stores, in order.
pub fn catalog(stores: &[&str]) -> SharedCatalog {
    let sources: Vec<(&str, Url)> = stores
        .iter()
        .map(|s| {
            (
                *s,
                format!("http://127.0.0.1:1/{s}/towels").parse().unwrap(),
            )
        })
        .collect();
    one_item_catalog("towels", "Paper towels", &sources)
}

/// An engine on a fresh database in `dir`, buying `towels` at `stores`.
pub fn engine_on(dir: &Path, factory: Arc<dyn PurchaserFactory>, stores: &[&str]) -> (Engine, Db) {
    let db = Db::open(&dir.join("restock.db")).unwrap();
    let engine = Engine::new(db.clone(), catalog(stores), factory, settings(dir));
    (engine, db)
}

/// An engine's loop running on a task, its events subscribed to before it
/// started.
pub struct Looping {
    pub handle: Arc<Handle>,
    pub events: broadcast::Receiver<Event>,
    pub shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Looping {
    pub fn start(engine: Engine) -> Looping {
        let handle = engine.handle();
        let events = handle.subscribe();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(engine.run(shutdown.clone()));
        Looping {
            handle,
            events,
            shutdown,
            task,
        }
    }

    /// Queues `item` straight in `db` (as `restock enqueue` does without a
    /// server), wakes the loop, and waits for an order to settle: how it
    /// settled, and every event on the way.
    pub async fn order(&mut self, db: &Db, item: &str) -> (Status, Vec<Event>) {
        db.enqueue(item, None, Duration::ZERO).await.unwrap();
        self.handle.wake();
        let seen = until(&mut self.events, "an order to settle", |e| {
            matches!(e, Event::Settled { .. })
        })
        .await;
        match seen.last() {
            Some(Event::Settled { status, .. }) => (*status, seen),
            _ => unreachable!(),
        }
    }

    /// Cancels the loop, wakes it to see that, and waits for it to end.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.handle.wake();
        self.task.await.unwrap();
    }
}

/// A factory around [`ScriptedFactory`] whose session checks can be held
/// or hang, and which counts purchasers made and dropped (browsers launched
/// and closed).
pub struct TestFactory {
    pub scripted: Arc<ScriptedFactory>,
    pub made: AtomicUsize,
    pub dropped: Arc<AtomicUsize>,
    pub hang: AtomicBool,
    pub hold: Mutex<Option<Arc<Notify>>>,
    /// How many session checks began.
    pub checks: Arc<watch::Sender<usize>>,
}

impl TestFactory {
    pub fn new(script: Script) -> Arc<TestFactory> {
        Arc::new(TestFactory {
            scripted: ScriptedFactory::new(script),
            made: AtomicUsize::new(0),
            dropped: Arc::new(AtomicUsize::new(0)),
            hang: AtomicBool::new(false),
            hold: Mutex::new(None),
            checks: Arc::new(watch::channel(0).0),
        })
    }

    /// Waits until `n` session checks have begun.
    pub async fn wait_checks(&self, n: usize) {
        let mut rx = self.checks.subscribe();
        within("session checks", rx.wait_for(|c| *c >= n))
            .await
            .unwrap();
    }

    pub fn made(&self) -> usize {
        self.made.load(Ordering::SeqCst)
    }

    pub fn dropped(&self) -> usize {
        self.dropped.load(Ordering::SeqCst)
    }
}

impl PurchaserFactory for TestFactory {
    fn purchaser(&self, store: &str) -> Result<Box<dyn Purchaser>, PurchaseError> {
        self.made.fetch_add(1, Ordering::SeqCst);
        Ok(Box::new(TestPurchaser {
            inner: self.scripted.purchaser(store)?,
            dropped: self.dropped.clone(),
            hang: self.hang.load(Ordering::SeqCst),
            hold: self.hold.lock().unwrap().clone(),
            started: self.checks.clone(),
        }))
    }
}

struct TestPurchaser {
    inner: Box<dyn Purchaser>,
    dropped: Arc<AtomicUsize>,
    hang: bool,
    hold: Option<Arc<Notify>>,
    started: Arc<watch::Sender<usize>>,
}

impl Drop for TestPurchaser {
    fn drop(&mut self) {
        self.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl Purchaser for TestPurchaser {
    async fn buy(&mut self, req: &BuyRequest, progress: &dyn BuyProgress) -> Outcome {
        self.inner.buy(req, progress).await
    }

    async fn check_session(&mut self) -> SessionCheck {
        self.started.send_modify(|n| *n += 1);
        if self.hang {
            std::future::pending::<()>().await;
        }
        if let Some(n) = &self.hold {
            n.notified().await;
        }
        self.inner.check_session().await
    }
}

/// A session probe hook that blocks the engine's loop while `blocked` is
/// set: the loop enters it, says so on `entered`, and waits there for
/// `release`. For the tests of what a stalled loop looks like from outside
/// (`/health`, `restock status`), where the loop must stop turning while
/// the intake keeps answering.
pub struct BlockingProbe {
    pub blocked: AtomicBool,
    pub entered: Notify,
    pub release: Notify,
}

impl BlockingProbe {
    pub fn new(blocked: bool) -> Arc<BlockingProbe> {
        Arc::new(BlockingProbe {
            blocked: AtomicBool::new(blocked),
            entered: Notify::new(),
            release: Notify::new(),
        })
    }

    /// Lets the loop go on: no longer blocked, and the one waiting in it
    /// released.
    pub fn unblock(&self) {
        self.blocked.store(false, Ordering::SeqCst);
        self.release.notify_one();
    }
}

#[async_trait]
impl Probe for BlockingProbe {
    async fn run_if_due(&self, _: &CancellationToken) {
        if self.blocked.load(Ordering::SeqCst) {
            self.entered.notify_one();
            self.release.notified().await;
        }
    }
}

impl Env {
    /// An in-process server on this env whose purchaser does nothing and
    /// whose session probe hook is `probe`.
    pub async fn start_with_probe(&self, probe: Arc<dyn Probe>) -> Running {
        let mut parts = Parts::new(Arc::new(ScriptedFactory::noop()));
        parts.probe = probe;
        server::start(&self.config, parts).await.unwrap()
    }
}
