//! The session probe with real headless Chromium against the demo store
//! (issue 6, items 1, 2, 5 and 6), notifications to a real HTTP receiver on
//! 127.0.0.1. Every test ends by checking that no Chromium is left.
//!
//! The demo store's `hang` fault covers the checkout steps, not the account
//! page the session check loads, so the hanging probe (item 5) points a
//! second store definition at a listener that accepts connections and never
//! answers — the same hang as far as the browser can tell.

mod rig;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use restock::catalog::{Catalog, Item, SharedCatalog, Source};
use restock::db::Db;
use restock::demo::{DemoStore, DEMO_EMAIL, DEMO_PASSWORD};
use restock::engine::{Engine, Event};
use restock::model::SessionState;
use restock::model::Status;
use restock::notify::{Notifier, RetryPolicy};
use restock::probe::{Gate, ProbeSettings, SessionProbe, Stores};
use restock::purchase::{
    sign_in_with_form, BrowserFactory, BrowserSettings, PurchaseError, Purchaser, PurchaserFactory,
    StoreRegistry,
};
use rig::{until, Receiver};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use url::Url;

const DEMO_DEFINITION: &str = include_str!("../src/purchase/store/demo.toml");

/// The real browser factory, counting purchasers made (each is a Chromium
/// launch when used).
struct Counting {
    inner: BrowserFactory,
    made: AtomicUsize,
}

impl PurchaserFactory for Counting {
    fn purchaser(&self, store: &str) -> Result<Box<dyn Purchaser>, PurchaseError> {
        self.made.fetch_add(1, Ordering::SeqCst);
        self.inner.purchaser(store)
    }
}

struct World {
    demo: DemoStore,
    dir: tempfile::TempDir,
    settings: BrowserSettings,
    factory: Arc<Counting>,
    db: Db,
    receiver: Receiver,
    _silent: Option<tokio::task::JoinHandle<()>>,
}

impl World {
    /// A demo store, a state dir, the real factory; with `silent`, a second
    /// store `silent` whose server never answers.
    async fn new(silent: bool) -> World {
        let demo = DemoStore::spawn("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let stores_dir = dir.path().join("stores");
        std::fs::create_dir_all(&stores_dir).unwrap();
        let mut overrides = BTreeMap::new();
        overrides.insert("demo".to_string(), Url::parse(&demo.base_url()).unwrap());
        let mut held = None;
        if silent {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
            held = Some(tokio::spawn(async move {
                let mut open = Vec::new();
                while let Ok((conn, _)) = listener.accept().await {
                    open.push(conn);
                }
            }));
            let def = DEMO_DEFINITION.replacen("name = \"demo\"", "name = \"silent\"", 1);
            std::fs::write(stores_dir.join("silent.toml"), def).unwrap();
            overrides.insert("silent".to_string(), url);
        }
        let stores = StoreRegistry::load(Some(&stores_dir), &overrides).unwrap();
        let mut settings = BrowserSettings::new(
            dir.path().join("profiles"),
            dir.path().join("shots"),
            Arc::new(stores),
        );
        settings.step_timeout = Duration::from_secs(20);
        settings.checkout = [
            ("name", "Ada Lovelace"),
            ("address", "1 Analytical Way"),
            ("postal_code", "1234 AB"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let factory = Arc::new(Counting {
            inner: BrowserFactory::new(Arc::new(settings.clone())),
            made: AtomicUsize::new(0),
        });
        let db = Db::open(&dir.path().join("restock.db")).unwrap();
        let receiver = Receiver::spawn().await;
        World {
            demo,
            dir,
            settings,
            factory,
            db,
            receiver,
            _silent: held,
        }
    }

    fn probe(&self, timeout: Duration) -> SessionProbe {
        let notifier = Notifier::parse(&[format!("generic+http://{}/hook", self.receiver.addr)])
            .unwrap()
            .with_retry(RetryPolicy {
                attempts: 2,
                backoff: Duration::from_millis(10),
                max_backoff: Duration::from_millis(50),
                timeout: Duration::from_secs(5),
            })
            .unwrap();
        SessionProbe::new(
            self.db.clone(),
            self.factory.clone(),
            notifier,
            Stores::Profiles(self.settings.profiles_dir.clone()),
            Gate::open(),
            ProbeSettings {
                timeout,
                remind: Duration::from_secs(24 * 3600),
                recheck: Duration::from_millis(100),
            },
        )
    }

    async fn sign_in(&self) {
        let state = sign_in_with_form(&self.settings, "demo", DEMO_EMAIL, DEMO_PASSWORD)
            .await
            .unwrap();
        assert_eq!(state, SessionState::SignedIn);
    }

    async fn admin(&self, path: &str, body: serde_json::Value) {
        let resp = reqwest::Client::new()
            .post(format!("{}/admin/{path}", self.demo.base_url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            resp.status().is_success(),
            "admin {path}: {}",
            resp.status()
        );
    }

    fn catalog(&self, stores: &[&str]) -> SharedCatalog {
        let item = Item {
            id: "soap".into(),
            name: "Dish soap".into(),
            quantity: 1,
            cooldown: None,
            max_price: None,
            sources: stores
                .iter()
                .map(|s| Source {
                    store: s.to_string(),
                    url: Url::parse(&self.demo.product_url("dish-soap")).unwrap(),
                    max_price: None,
                    choose: Default::default(),
                })
                .collect(),
        };
        Arc::new(RwLock::new(Arc::new(Catalog { items: vec![item] })))
    }

    fn engine(&self, stores: &[&str], buy_timeout: Duration) -> Engine {
        let mut settings = rig::settings(self.dir.path());
        settings.buy_timeout = buy_timeout;
        Engine::new(
            self.db.clone(),
            self.catalog(stores),
            self.factory.clone(),
            settings,
        )
    }

    fn notified(&self) -> Vec<String> {
        self.receiver
            .requests()
            .iter()
            .map(|q| q.json()["event"].as_str().unwrap_or("").to_string())
            .collect()
    }

    fn chromium_processes(&self) -> Vec<String> {
        let needle = self.dir.path().to_string_lossy().to_string();
        let mut found = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
                continue;
            };
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(&needle) && !cmdline.contains("probe_browser") {
                found.push(cmdline.chars().take(120).collect());
            }
        }
        found
    }

    /// Bounded wait for this test's Chromium processes to be gone.
    async fn assert_no_chromium(&self) {
        for _ in 0..100 {
            if self.chromium_processes().is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("Chromium left behind: {:#?}", self.chromium_processes());
    }

    async fn end(self) {
        self.assert_no_chromium().await;
        self.demo.shutdown().await;
    }
}

/// Item 1: signed in -> signs everyone out -> one notification; further
/// probes in the remind period: none; after it: one reminder; signing
/// back in: one "back".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_profile_out_remind_back() {
    let w = World::new(false).await;
    w.sign_in().await;
    let probe = w.probe(Duration::from_secs(60));
    let none = CancellationToken::new();

    let r = probe.probe_all(&none).await;
    assert_eq!(r.len(), 1, "the one profile: demo");
    assert_eq!(r[0].check.state, SessionState::SignedIn, "{:?}", r[0].check);
    probe.flush().await;
    assert!(w.notified().is_empty());

    w.admin("signout-all", json!({})).await;
    let r = probe.probe_all(&none).await;
    assert_eq!(
        r[0].check.state,
        SessionState::SignedOut,
        "{:?}",
        r[0].check
    );
    probe.probe_all(&none).await;
    probe.flush().await;
    assert_eq!(
        w.notified(),
        ["signed_out"],
        "one notification, none within the remind period"
    );
    let told = w.receiver.requests()[0].json();
    assert!(
        told["message"]
            .as_str()
            .unwrap()
            .starts_with("demo needs you to sign in: run `restock login demo`"),
        "{told}"
    );

    let day = 24 * 3600 * 1000i64;
    w.db.with_conn(move |c| {
        c.execute(
            "UPDATE store_sessions SET notified_at = notified_at - ?1",
            [day],
        )?;
        Ok(())
    })
    .await
    .unwrap();
    probe.probe_all(&none).await;
    probe.flush().await;
    assert_eq!(w.notified(), ["signed_out", "reminder"]);

    w.sign_in().await;
    let r = probe.probe_all(&none).await;
    assert_eq!(r[0].check.state, SessionState::SignedIn);
    probe.flush().await;
    assert_eq!(w.notified(), ["signed_out", "reminder", "signed_in"]);
    w.end().await;
}

/// Item 2 with a real browser: the probe comes due while a buy hangs in
/// Chromium on the same profile; the buy ends (its timeout) before the
/// probe launches its own browser on that profile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_probe_waits_for_the_buy_on_the_same_profile() {
    let w = World::new(false).await;
    w.sign_in().await;
    w.admin("faults", json!({"hang": "product"})).await;
    let engine = w.engine(&["demo"], Duration::from_secs(6));
    let handle = engine.handle();
    let probe = Arc::new(w.probe(Duration::from_secs(60)).with_handle(handle.clone()));
    let mut events = handle.subscribe();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(engine.with_probe(probe.clone()).run(shutdown.clone()));
    w.db.enqueue("soap", None, Duration::ZERO).await.unwrap();
    handle.wake();
    until(&mut events, "browsing", |e| {
        matches!(
            e,
            Event::Phase {
                phase: restock::model::Phase::Browsing,
                ..
            }
        )
    })
    .await;
    probe.mark_due();
    let seen = until(&mut events, "the probe", |e| {
        matches!(e, Event::Probed { .. })
    })
    .await;
    let settled = seen
        .iter()
        .position(|e| matches!(e, Event::Settled { .. }))
        .unwrap_or_else(|| panic!("the buy settled first: {seen:?}"));
    assert!(settled < seen.len() - 1);
    assert_eq!(
        seen.last(),
        Some(&Event::Probed {
            store: "demo".into(),
            state: SessionState::SignedIn
        }),
        "the profile was free for the probe"
    );
    shutdown.cancel();
    handle.wake();
    task.await.unwrap();
    w.end().await;
}

/// Item 5: a probe that hangs is `unknown` after its timeout, its
/// timestamp advances, its browser is closed, and the engine carries on
/// (a real buy on the demo store right after).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_hanging_probe_is_unknown_and_closed() {
    let w = World::new(true).await;
    w.sign_in().await;
    std::fs::create_dir_all(w.settings.profiles_dir.join("silent")).unwrap();
    let engine = w.engine(&["demo"], Duration::from_secs(60));
    let handle = engine.handle();
    let probe = Arc::new(w.probe(Duration::from_secs(4)).with_handle(handle.clone()));
    let mut events = handle.subscribe();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(engine.with_probe(probe.clone()).run(shutdown.clone()));
    let before = restock::model::now_ms();
    let started = Instant::now();
    probe.mark_due();
    let seen = until(
        &mut events,
        "the silent store's result",
        |e| matches!(e, Event::Probed { store, .. } if store == "silent"),
    )
    .await;
    assert!(seen.contains(&Event::Probed {
        store: "demo".into(),
        state: SessionState::SignedIn
    }));
    assert_eq!(
        seen.last(),
        Some(&Event::Probed {
            store: "silent".into(),
            state: SessionState::Unknown
        })
    );
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "{:?}",
        started.elapsed()
    );
    let row = w.db.session("silent").await.unwrap().unwrap();
    assert!(row.checked_at.unwrap() >= before);
    assert!(row
        .last_error
        .unwrap()
        .contains("RESTOCK_SESSION_CHECK_TIMEOUT"));
    // The run's timestamp is written once every store is done, after the
    // last `Probed` event. The loop goes on to its pause check and claim
    // only once the probe returned, so its next step (`Idle` here: the
    // queue is empty) proves the timestamp is written.
    until(&mut events, "the loop's step after the probe", |e| {
        matches!(
            e,
            Event::Idle | Event::Paused { .. } | Event::Claimed { .. }
        )
    })
    .await;
    assert!(w.db.probe_last_run().await.unwrap().unwrap() >= before);
    w.assert_no_chromium().await;

    w.db.enqueue("soap", None, Duration::ZERO).await.unwrap();
    handle.wake();
    let seen = until(&mut events, "the buy", |e| {
        matches!(e, Event::Settled { .. })
    })
    .await;
    assert!(
        matches!(
            seen.last(),
            Some(Event::Settled {
                status: Status::DryRun,
                ..
            })
        ),
        "{seen:?}"
    );
    shutdown.cancel();
    handle.wake();
    task.await.unwrap();
    w.end().await;
}

/// Item 6: after the probe found the store signed out, a buy for it does
/// not launch Chromium.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_buy_for_a_signed_out_store_launches_no_browser() {
    let w = World::new(false).await;
    w.sign_in().await;
    w.admin("signout-all", json!({})).await;
    let probe = w.probe(Duration::from_secs(60));
    let r = probe.probe_all(&CancellationToken::new()).await;
    assert_eq!(r[0].check.state, SessionState::SignedOut);
    probe.flush().await;
    w.assert_no_chromium().await;
    let launches = w.factory.made.load(Ordering::SeqCst);

    let engine = w.engine(&["demo"], Duration::from_secs(60));
    let handle = engine.handle();
    let mut events = handle.subscribe();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(engine.run(shutdown.clone()));
    w.db.enqueue("soap", None, Duration::ZERO).await.unwrap();
    handle.wake();
    let seen = until(&mut events, "settled", |e| {
        matches!(e, Event::Settled { .. })
    })
    .await;
    assert!(
        matches!(
            seen.last(),
            Some(Event::Settled {
                status: Status::SigninRequired,
                ..
            })
        ),
        "{seen:?}"
    );
    assert_eq!(
        w.factory.made.load(Ordering::SeqCst),
        launches,
        "no purchaser, no browser"
    );
    assert!(w.chromium_processes().is_empty());
    assert!(w.demo.ledger().is_empty());
    shutdown.cancel();
    handle.wake();
    task.await.unwrap();
    w.end().await;
}
