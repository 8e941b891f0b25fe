//! The session probe with real headless Chromium against the demo store,
//! notifications to a real HTTP receiver on 127.0.0.1. Every test ends by
//! checking that no Chromium is left.
//!
//! The demo store's `hang` fault covers the checkout steps, not the account
//! page the session check loads, so the hanging probe points a second store
//! definition at a listener that accepts connections and never answers —
//! the same hang as far as the browser can tell.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use restock::catalog::SharedCatalog;
use restock::db::Db;
use restock::demo::DemoStore;
use restock::engine::{Engine, Event};
use restock::model::SessionState;
use restock::model::Status;
use restock::probe::{Gate, ProbeSettings, SessionProbe, Stores};
use restock::purchase::{
    BrowserFactory, BrowserSettings, PurchaseError, Purchaser, PurchaserFactory,
};
use serde_json::json;
use support::chromium::{assert_no_chromium, processes_under};
use support::db::backdate_session_notices;
use support::demo::{self, admin, browser_settings, sign_in};
use support::engine::{one_item_catalog, settings, Looping};
use support::layout::Layout;
use support::receivers::{notifier, silent, Receiver};
use support::wait::until;
use tokio_util::sync::CancellationToken;
use url::Url;

// Each on both layouts: `classic::NAME` and `spa::NAME` run
// `NAME(Layout::Classic)` and `NAME(Layout::Spa)`.
crate::layout_tests!(
    real_profile_out_remind_back,
    real_probe_waits_for_the_buy_on_the_same_profile,
    real_hanging_probe_is_unknown_and_closed,
    real_buy_for_a_signed_out_store_launches_no_browser,
);

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
    layout: Layout,
    _silent: Option<tokio::task::JoinHandle<()>>,
}

impl World {
    /// A demo store, a state dir, the real factory with `layout`'s store;
    /// with `silent`, a second store `silent` (`layout`'s definition)
    /// whose server never answers.
    async fn new(layout: Layout, with_silent: bool) -> World {
        let demo = demo::store().await;
        let dir = tempfile::tempdir().unwrap();
        let base = demo.base_url();
        let mut extra = Vec::new();
        if layout != Layout::Classic {
            extra.push((layout.store(), layout.definition(), layout.base_url(&base)));
        }
        let mut held = None;
        let definition = layout.definition().replacen(
            &format!("name = \"{}\"", layout.store()),
            "name = \"silent\"",
            1,
        );
        if with_silent {
            let (addr, task) = silent().await;
            held = Some(task);
            extra.push((
                "silent",
                definition.as_str(),
                Url::parse(&format!("http://{addr}/")).unwrap(),
            ));
        }
        let mut settings = browser_settings(dir.path(), &demo, &extra);
        settings.step_timeout = Duration::from_secs(20);
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
            layout,
            _silent: held,
        }
    }

    fn probe(&self, timeout: Duration) -> SessionProbe {
        SessionProbe::new(
            self.db.clone(),
            self.factory.clone(),
            notifier(&[self.receiver.hook()]),
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
        sign_in(&self.settings, self.layout.store()).await;
    }

    async fn admin(&self, path: &str, body: serde_json::Value) {
        admin(&self.demo, path, body).await;
    }

    fn catalog(&self, stores: &[&str]) -> SharedCatalog {
        let url = Url::parse(&self.layout.product_url(&self.demo, "dish-soap")).unwrap();
        let sources: Vec<(&str, Url)> = stores.iter().map(|s| (*s, url.clone())).collect();
        one_item_catalog("soap", "Dish soap", &sources)
    }

    /// An engine buying `soap` from this world's store.
    fn engine(&self, buy_timeout: Duration) -> Engine {
        let stores = [self.layout.store()];
        let mut settings = settings(self.dir.path());
        settings.buy_timeout = buy_timeout;
        Engine::new(
            self.db.clone(),
            self.catalog(&stores),
            self.factory.clone(),
            settings,
        )
    }

    async fn assert_no_chromium(&self) {
        assert_no_chromium(self.dir.path()).await;
    }

    async fn end(self) {
        self.assert_no_chromium().await;
        self.demo.shutdown().await;
    }
}

/// Signed in -> signs everyone out -> one notification; further
/// probes in the remind period: none; after it: one reminder; signing
/// back in: one "back".
async fn real_profile_out_remind_back(layout: Layout) {
    let w = World::new(layout, false).await;
    w.sign_in().await;
    let probe = w.probe(Duration::from_secs(60));
    let none = CancellationToken::new();

    let r = probe.probe_all(&none).await;
    assert_eq!(r.len(), 1, "{layout}: the one profile: {}", layout.store());
    assert_eq!(
        r[0].check.state,
        SessionState::SignedIn,
        "{layout}: {:?}",
        r[0].check
    );
    probe.flush().await;
    assert!(w.receiver.events().is_empty(), "{layout}");

    w.admin("signout-all", json!({})).await;
    let r = probe.probe_all(&none).await;
    assert_eq!(
        r[0].check.state,
        SessionState::SignedOut,
        "{layout}: {:?}",
        r[0].check
    );
    probe.probe_all(&none).await;
    probe.flush().await;
    assert_eq!(
        w.receiver.events(),
        ["signed_out"],
        "{layout}: one notification, none within the remind period"
    );
    let told = w.receiver.requests()[0].json();
    let store = layout.store();
    assert!(
        told["message"].as_str().unwrap().starts_with(&format!(
            "{store} needs you to sign in: run `restock login {store}`"
        )),
        "{layout}: {told}"
    );

    backdate_session_notices(&w.db, Duration::from_secs(24 * 3600)).await;
    probe.probe_all(&none).await;
    probe.flush().await;
    assert_eq!(w.receiver.events(), ["signed_out", "reminder"], "{layout}");

    w.sign_in().await;
    let r = probe.probe_all(&none).await;
    assert_eq!(r[0].check.state, SessionState::SignedIn, "{layout}");
    probe.flush().await;
    assert_eq!(
        w.receiver.events(),
        ["signed_out", "reminder", "signed_in"],
        "{layout}"
    );
    w.end().await;
}

/// With a real browser, the probe comes due while a buy hangs in
/// Chromium on the same profile; the buy ends (its timeout) before the
/// probe launches its own browser on that profile.
async fn real_probe_waits_for_the_buy_on_the_same_profile(layout: Layout) {
    let w = World::new(layout, false).await;
    w.sign_in().await;
    w.admin("faults", json!({"hang": "product"})).await;
    let engine = w.engine(Duration::from_secs(6));
    let probe = Arc::new(
        w.probe(Duration::from_secs(60))
            .with_handle(engine.handle()),
    );
    let mut rig = Looping::start(engine.with_probe(probe.clone()));
    let events = &mut rig.events;
    w.db.enqueue("soap", None, Duration::ZERO).await.unwrap();
    rig.handle.wake();
    until(events, "browsing", |e| {
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
    let seen = until(events, "the probe", |e| matches!(e, Event::Probed { .. })).await;
    let settled = seen
        .iter()
        .position(|e| matches!(e, Event::Settled { .. }))
        .unwrap_or_else(|| panic!("{layout}: the buy settled first: {seen:?}"));
    assert!(settled < seen.len() - 1, "{layout}: {seen:?}");
    assert_eq!(
        seen.last(),
        Some(&Event::Probed {
            store: layout.store().into(),
            state: SessionState::SignedIn
        }),
        "{layout}: the profile was free for the probe"
    );
    rig.stop().await;
    w.end().await;
}

/// A probe that hangs is `unknown` after its timeout, its
/// timestamp advances, its browser is closed, and the engine carries on
/// (a real buy on the demo store right after).
async fn real_hanging_probe_is_unknown_and_closed(layout: Layout) {
    let w = World::new(layout, true).await;
    w.sign_in().await;
    std::fs::create_dir_all(w.settings.profiles_dir.join("silent")).unwrap();
    let engine = w.engine(Duration::from_secs(60));
    // Long enough for the signed-in store's real check on a loaded
    // 2-core machine; the silent store takes all of it.
    let probe = Arc::new(
        w.probe(Duration::from_secs(10))
            .with_handle(engine.handle()),
    );
    let mut rig = Looping::start(engine.with_probe(probe.clone()));
    let events = &mut rig.events;
    let before = restock::model::now_ms();
    let started = Instant::now();
    probe.mark_due();
    let seen = until(
        events,
        "the silent store's result",
        |e| matches!(e, Event::Probed { store, .. } if store == "silent"),
    )
    .await;
    assert!(
        seen.contains(&Event::Probed {
            store: layout.store().into(),
            state: SessionState::SignedIn
        }),
        "{layout}: {seen:?}"
    );
    assert_eq!(
        seen.last(),
        Some(&Event::Probed {
            store: "silent".into(),
            state: SessionState::Unknown
        }),
        "{layout}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "{layout}: {:?}",
        started.elapsed()
    );
    let row = w.db.session("silent").await.unwrap().unwrap();
    assert!(row.checked_at.unwrap() >= before, "{layout}");
    let error = row.last_error.unwrap_or_default();
    assert!(
        error.contains("RESTOCK_SESSION_CHECK_TIMEOUT"),
        "{layout}: {error}"
    );
    // The run's timestamp is written once every store is done, after the
    // last `Probed` event. The loop goes on to its pause check and claim
    // only once the probe returned, so its next step (`Idle` here: the
    // queue is empty) proves the timestamp is written.
    until(events, "the loop's step after the probe", |e| {
        matches!(
            e,
            Event::Idle | Event::Paused { .. } | Event::Claimed { .. }
        )
    })
    .await;
    assert!(
        w.db.probe_last_run().await.unwrap().unwrap() >= before,
        "{layout}"
    );
    w.assert_no_chromium().await;

    let (status, seen) = rig.order(&w.db, "soap").await;
    assert_eq!(status, Status::DryRun, "{layout}: {seen:?}");
    rig.stop().await;
    w.end().await;
}

/// After the probe found the store signed out, a buy for it does
/// not launch Chromium.
async fn real_buy_for_a_signed_out_store_launches_no_browser(layout: Layout) {
    let w = World::new(layout, false).await;
    w.sign_in().await;
    w.admin("signout-all", json!({})).await;
    let probe = w.probe(Duration::from_secs(60));
    let r = probe.probe_all(&CancellationToken::new()).await;
    assert_eq!(r[0].check.state, SessionState::SignedOut, "{layout}");
    probe.flush().await;
    w.assert_no_chromium().await;
    let launches = w.factory.made.load(Ordering::SeqCst);

    let mut rig = Looping::start(w.engine(Duration::from_secs(60)));
    let (status, seen) = rig.order(&w.db, "soap").await;
    assert_eq!(status, Status::SigninRequired, "{layout}: {seen:?}");
    assert_eq!(
        w.factory.made.load(Ordering::SeqCst),
        launches,
        "{layout}: no purchaser, no browser"
    );
    assert!(processes_under(w.dir.path()).is_empty(), "{layout}");
    assert!(w.demo.ledger().is_empty(), "{layout}");
    rig.stop().await;
    w.end().await;
}
