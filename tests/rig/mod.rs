//! Probe and notification test rig: HTTP receivers on 127.0.0.1 that record every
//! request, an engine rig with a scripted purchaser, and event waits.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::to_bytes;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use restock::catalog::{Catalog, Item, SharedCatalog, Source};
use restock::db::Db;
use restock::engine::{Engine, Event, Settings};
use restock::model::{Outcome, SessionCheck};
use restock::purchase::scripted::{Script, ScriptedFactory};
use restock::purchase::{BuyProgress, BuyRequest, PurchaseError, Purchaser, PurchaserFactory};
use tokio::sync::{broadcast, watch, Notify};

pub const WAIT: Duration = Duration::from_secs(15);

/// One request a receiver saw.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{} {}: body is not JSON ({e})", self.method, self.path))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    }
}

/// How a receiver answers.
#[derive(Clone)]
pub enum Reply {
    Status(u16),
    /// Hold the request until the notify fires, then answer 200.
    Hold(Arc<Notify>),
}

/// An axum server on 127.0.0.1 recording every request.
pub struct Receiver {
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<Recorded>>>,
    arrived: watch::Receiver<usize>,
    answered: Arc<AtomicUsize>,
    replies: Arc<Mutex<VecDeque<Reply>>>,
    default: Arc<Mutex<Reply>>,
}

impl Receiver {
    pub async fn spawn() -> Receiver {
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, arrived) = watch::channel(0usize);
        let tx = Arc::new(tx);
        let answered = Arc::new(AtomicUsize::new(0));
        let replies: Arc<Mutex<VecDeque<Reply>>> = Arc::default();
        let default = Arc::new(Mutex::new(Reply::Status(200)));
        let app = {
            let (log, replies, default, answered) = (
                log.clone(),
                replies.clone(),
                default.clone(),
                answered.clone(),
            );
            axum::Router::new().fallback(move |req: Request| {
                let (log, replies, default, answered, tx) = (
                    log.clone(),
                    replies.clone(),
                    default.clone(),
                    answered.clone(),
                    tx.clone(),
                );
                async move {
                    let (parts, body) = req.into_parts();
                    let body = to_bytes(body, 64 << 20).await.unwrap_or_default().to_vec();
                    log.lock().unwrap().push(Recorded {
                        method: parts.method.to_string(),
                        path: parts.uri.path().to_string(),
                        query: parts.uri.query().unwrap_or("").to_string(),
                        headers: parts.headers,
                        body,
                    });
                    let reply = replies
                        .lock()
                        .unwrap()
                        .pop_front()
                        .unwrap_or_else(|| default.lock().unwrap().clone());
                    tx.send_modify(|n| *n += 1);
                    let code = match reply {
                        Reply::Status(code) => code,
                        Reply::Hold(n) => {
                            n.notified().await;
                            200
                        }
                    };
                    answered.fetch_add(1, Ordering::SeqCst);
                    (
                        StatusCode::from_u16(code).unwrap(),
                        axum::Json(serde_json::json!({"ok": code < 300})),
                    )
                        .into_response()
                }
            })
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver {
            addr,
            log,
            arrived,
            answered,
            replies,
            default,
        }
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set_default(&self, reply: Reply) {
        *self.default.lock().unwrap() = reply;
    }

    /// Answers for the next requests, in order, before the default.
    pub fn push(&self, reply: Reply) {
        self.replies.lock().unwrap().push_back(reply);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.log.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    pub fn answered(&self) -> usize {
        self.answered.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` requests arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Recorded> {
        let mut rx = self.arrived.clone();
        tokio::time::timeout(WAIT, rx.wait_for(|c| *c >= n))
            .await
            .unwrap_or_else(|_| panic!("expected {n} requests, saw {}", self.count()))
            .unwrap();
        self.requests()
    }
}

/// Waits for the first event matching `pred`; returns every event seen on
/// the way (the matching one last).
pub async fn until(
    rx: &mut broadcast::Receiver<Event>,
    what: &str,
    pred: impl Fn(&Event) -> bool,
) -> Vec<Event> {
    let mut seen = Vec::new();
    let result = tokio::time::timeout(WAIT, async {
        loop {
            match rx.recv().await {
                Ok(e) => {
                    let done = pred(&e);
                    seen.push(e);
                    if done {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("event channel: {e}"),
            }
        }
    })
    .await;
    if result.is_err() {
        panic!("timed out waiting for {what}; saw {seen:?}");
    }
    seen
}

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

/// A catalog: `towels` bought at the given stores, in order.
pub fn catalog(stores: &[&str]) -> SharedCatalog {
    let item = Item {
        id: "towels".into(),
        name: "Paper towels".into(),
        quantity: 1,
        cooldown: None,
        max_price: None,
        sources: stores
            .iter()
            .map(|s| Source {
                store: s.to_string(),
                url: format!("http://127.0.0.1:1/{s}/towels").parse().unwrap(),
                max_price: None,
                choose: Default::default(),
            })
            .collect(),
    };
    Arc::new(std::sync::RwLock::new(Arc::new(Catalog {
        items: vec![item],
    })))
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
        tokio::time::timeout(WAIT, rx.wait_for(|c| *c >= n))
            .await
            .expect("session checks")
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

/// An engine on a fresh database in `dir`.
pub fn engine(dir: &Path, factory: Arc<dyn PurchaserFactory>, stores: &[&str]) -> (Engine, Db) {
    let db = Db::open(&dir.join("restock.db")).unwrap();
    let engine = Engine::new(db.clone(), catalog(stores), factory, settings(dir));
    (engine, db)
}
