//! Forecasting session expiry with real headless Chromium against the demo
//! store, whose sign-ins last a few seconds here (`session_ttl`): the probe
//! reads the session cookie's expiry from the profile, the owner is warned
//! `RESTOCK_SESSION_WARN` before it (once), and the probe runs again just
//! after it and finds the store signed out (one notice). A definition that
//! names no session cookie learns it: present when signed in, gone when
//! signed out. Every test ends by checking no Chromium is left.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use restock::catalog::{Catalog, SharedCatalog};
use restock::db::Db;
use restock::demo::{DemoStore, StoreOptions};
use restock::engine::{Engine, Event};
use restock::model::{now_ms, SessionState};
use restock::notify::{Notifier, RetryPolicy};
use restock::probe::{Gate, ProbeSettings, SessionProbe, Stores};
use restock::purchase::{BrowserFactory, BrowserSettings, StoreRegistry};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use url::Url;

const DEMO_DEFINITION: &str = include_str!("../src/purchase/store/demo.toml");

struct World {
    demo: DemoStore,
    dir: tempfile::TempDir,
    settings: BrowserSettings,
    db: Db,
    receiver: support::receivers::Receiver,
}

impl World {
    /// A demo store whose sign-ins last `ttl`; besides `demo`, a store
    /// `learn`: the demo definition without `session.cookies`.
    async fn new(ttl: Duration) -> World {
        let options = StoreOptions {
            session_ttl: ttl,
            ..StoreOptions::default()
        };
        let demo = DemoStore::spawn_with("127.0.0.1:0".parse().unwrap(), options)
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let stores_dir = dir.path().join("stores");
        std::fs::create_dir_all(&stores_dir).unwrap();
        let learn = DEMO_DEFINITION
            .replacen("name = \"demo\"", "name = \"learn\"", 1)
            .replacen("cookies = [\"demo_session\"]\n", "", 1);
        assert!(!learn.contains("cookies ="));
        std::fs::write(stores_dir.join("learn.toml"), learn).unwrap();
        let base = Url::parse(&demo.base_url()).unwrap();
        let overrides: BTreeMap<String, Url> = [("demo", &base), ("learn", &base)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let stores = StoreRegistry::load(Some(&stores_dir), &overrides).unwrap();
        let mut settings = BrowserSettings::new(
            dir.path().join("profiles"),
            dir.path().join("shots"),
            Arc::new(stores),
        );
        settings.step_timeout = Duration::from_secs(20);
        let db = Db::open(&dir.path().join("restock.db")).unwrap();
        let receiver = support::receivers::Receiver::spawn().await;
        World {
            demo,
            dir,
            settings,
            db,
            receiver,
        }
    }

    fn probe(&self, stores: &[&str], warn: Duration) -> SessionProbe {
        let notifier = Notifier::parse(&[self.receiver.hook()])
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
            Arc::new(BrowserFactory::new(Arc::new(self.settings.clone()))),
            notifier,
            Stores::Fixed(stores.iter().map(|s| s.to_string()).collect()),
            Gate::open(),
            ProbeSettings {
                timeout: Duration::from_secs(60),
                remind: Duration::from_secs(24 * 3600),
                recheck: Duration::from_millis(100),
            },
        )
        .with_expiry_warning(warn)
    }

    async fn sign_in(&self, store: &str) {
        support::demo::sign_in(&self.settings, store).await;
    }

    async fn end(self) {
        support::chromium::assert_no_chromium(self.dir.path()).await;
        self.demo.shutdown().await;
    }
}

/// Waits (up to `limit`) for the probe's result for `store` in `state`.
async fn probed(
    events: &mut broadcast::Receiver<Event>,
    store: &str,
    state: SessionState,
    limit: Duration,
) {
    let found = tokio::time::timeout(limit, async {
        loop {
            match events.recv().await {
                Ok(Event::Probed {
                    store: s,
                    state: st,
                }) if s == store && st == state => return,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("events: {e}"),
            }
        }
    })
    .await;
    assert!(
        found.is_ok(),
        "no probe of {store} saying {state} within {limit:?}"
    );
}

fn no_items() -> SharedCatalog {
    Arc::new(std::sync::RwLock::new(Arc::new(Catalog { items: vec![] })))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_is_warned_before_the_session_expires_and_told_once_it_has() {
    let ttl = Duration::from_secs(24);
    let w = World::new(ttl).await;
    let signed_in_at = now_ms();
    w.sign_in("demo").await;
    let engine = Engine::new(
        w.db.clone(),
        no_items(),
        Arc::new(BrowserFactory::new(Arc::new(w.settings.clone()))),
        support::engine::settings(w.dir.path()),
    );
    let handle = engine.handle();
    let probe = Arc::new(
        w.probe(&["demo"], Duration::from_secs(16))
            .with_handle(handle.clone()),
    );
    let mut events = handle.subscribe();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(engine.with_probe(probe.clone()).run(shutdown.clone()));
    probe.mark_due();
    probed(
        &mut events,
        "demo",
        SessionState::SignedIn,
        Duration::from_secs(30),
    )
    .await;

    // The cookie's expiry is the session's: about the TTL after sign-in.
    let row = w.db.session("demo").await.unwrap().unwrap();
    let expires = row.expires_at.expect("the expiry was read");
    let ttl_ms = ttl.as_millis() as i64;
    assert!(
        (expires - (signed_in_at + ttl_ms)).abs() < 5_000,
        "{expires} vs sign-in {signed_in_at} + {ttl_ms}"
    );
    let said = restock::text::session(&row);
    assert!(said.starts_with("signed in, expires in "), "{said}");
    assert!(
        w.receiver.events().is_empty(),
        "nothing to tell yet: {:?}",
        w.receiver.events()
    );

    // Warned 16 s before it (no probe needed), then probed just after it.
    let warned = w.receiver.wait_for(1).await;
    assert!(now_ms() < expires, "warned before the expiry");
    let warning = warned[0].json();
    assert_eq!(warning["event"], "expiring");
    assert!(
        warning["message"]
            .as_str()
            .unwrap()
            .contains("demo's sign-in expires in"),
        "{warning}"
    );
    probed(
        &mut events,
        "demo",
        SessionState::SignedOut,
        Duration::from_secs(40),
    )
    .await;
    assert!(now_ms() >= expires, "probed after the expiry");
    probe.flush().await;
    assert_eq!(w.receiver.events(), ["expiring", "signed_out"]);

    // One notice each: another look changes nothing.
    probe.mark_due();
    probed(
        &mut events,
        "demo",
        SessionState::SignedOut,
        Duration::from_secs(30),
    )
    .await;
    probe.flush().await;
    assert_eq!(w.receiver.events(), ["expiring", "signed_out"]);
    let row = w.db.session("demo").await.unwrap().unwrap();
    assert_eq!((row.state, row.expires_at), (SessionState::SignedOut, None));

    shutdown.cancel();
    handle.wake();
    task.await.unwrap();
    w.end().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unnamed_session_cookies_are_learned_from_a_sign_out() {
    let w = World::new(Duration::from_secs(5)).await;
    w.sign_in("learn").await;
    let probe = w.probe(&["learn"], Duration::ZERO);
    let none = CancellationToken::new();
    let r = probe.probe_all(&none).await;
    assert_eq!(r[0].check.state, SessionState::SignedIn, "{:?}", r[0].check);
    let row = r[0].session.clone().unwrap();
    assert_eq!(row.expires_at, None, "nothing learned yet");
    assert!(
        row.seen_cookies
            .as_ref()
            .is_some_and(|c| c.contains(&"demo_session".to_string())),
        "{row:?}"
    );

    // The sign-in runs out: the cookie is gone, and so known the session's.
    // (The store may end the session a moment before the browser drops the
    // cookie: a signed-out look that still sees it learns nothing, the
    // next one does.)
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    let row = loop {
        let r = probe.probe_all(&none).await;
        let row = r[0].session.clone().unwrap();
        if r[0].check.state == SessionState::SignedOut && row.session_cookies.is_some() {
            break row;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never learned: {row:?}"
        );
    };
    assert_eq!(row.session_cookies, Some(vec!["demo_session".to_string()]));

    // Signed in again: its expiry is known.
    w.sign_in("learn").await;
    let r = probe.probe_all(&none).await;
    let row = r[0].session.clone().unwrap();
    let left = row.expires_at.expect("the learned cookie's expiry") - now_ms();
    assert!((0..=6_000).contains(&left), "{left} ms left");
    probe.flush().await;
    w.end().await;
}
