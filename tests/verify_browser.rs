//! Verifying unconfirmed orders from the store's order history, with real
//! headless Chromium against the demo store and `server::start` as `serve`
//! runs it (notifications to a receiver on 127.0.0.1):
//!
//! - found: the store takes the order but hides its confirmation; the
//!   order is `needs_review`, then found in the order history: `placed`
//!   with the store's order number, its pause lifted, the owner told, and
//!   exactly one order in the store's ledger;
//! - not found: the store's history has no such order; after the window's
//!   checks it stays `needs_review` and paused, the owner is told once
//!   (also across a restart);
//! - a store without `[orders]`: no browser is started for it, nothing new
//!   is told, the order waits for the owner as before;
//! - a row with another total is not taken (and `restock verify ID`, run
//!   by hand, finds the row once the totals agree).
//!
//! Every test ends by checking no Chromium is left. The found case runs on
//! both layouts of the demo store (`classic::`, `spa::`): the spa's
//! history is rendered by script, and its confirmation never names the
//! order number anyway.

mod support;

use std::time::Duration;

use restock::db::Db;
use restock::demo::DemoStore;
use restock::engine::{CheckResult, Event, Verifier, VerifySettings};
use restock::model::{Money, Outcome, Phase, Status, Verdict};
use restock::server::Running;
use serde_json::json;
use support::chromium::assert_no_chromium;
use support::env::Env;
use support::intake::reorder;
use support::layout::Layout;
use support::receivers::{free_addr, Receiver};
use support::wait::{event, settled, verdict};

// Each on both layouts: `classic::NAME` and `spa::NAME` run
// `NAME(Layout::Classic)` and `NAME(Layout::Spa)`.
crate::layout_tests!(an_order_whose_confirmation_was_hidden_is_found_placed_and_its_pause_lifted);

/// A demo store, an env buying `soap` (dish soap) from it on `layout` with
/// dry run off, notifications to a receiver, and the given verify window.
struct World {
    store: DemoStore,
    env: Env,
    receiver: Receiver,
}

impl World {
    async fn new(layout: Layout, window: Duration) -> World {
        let store = DemoStore::spawn("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let mut env = Env::new(&[]);
        env.use_layout(&store, layout, &[("soap", &["dish-soap"])]);
        env.config.listen = free_addr();
        env.config.verify_window = window;
        // The hidden confirmation is waited for this long before the order
        // counts as unconfirmed.
        env.config.step_timeout = Duration::from_secs(8);
        let receiver = Receiver::spawn().await;
        env.config.notify = vec![receiver.hook().parse().unwrap()];
        World {
            store,
            env,
            receiver,
        }
    }

    async fn fault(&self, patch: serde_json::Value) {
        let resp = reqwest::Client::new()
            .post(format!("{}/admin/faults", self.store.base_url()))
            .json(&patch)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
    }

    async fn start(&self) -> Running {
        self.env.start_browser().await
    }

    /// `restock verify ID`, run by hand.
    fn verify_by_hand(&self, id: i64) -> std::process::Output {
        self.env
            .command()
            .args(["verify", &id.to_string()])
            .output()
            .unwrap()
    }

    /// The body of the first notification with this event.
    fn message(&self, event: &str) -> String {
        self.receiver
            .requests()
            .iter()
            .map(|r| r.json())
            .find(|j| j["event"] == event)
            .unwrap_or_else(|| panic!("no `{event}` notification in {:?}", self.receiver.events()))
            ["message"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// An order of `item` that reached `submitted` with `total` on `store`
    /// and settled `needs_review` with its pause, as a buy whose
    /// confirmation never came leaves it (written before the server starts).
    async fn unconfirmed(&self, item: &str, store: &str, total: Money) -> i64 {
        let db = Db::open(&self.env.db()).unwrap();
        db.enqueue(item, None, Duration::ZERO).await.unwrap();
        let o = db.claim_next().await.unwrap().unwrap();
        db.set_phase(o.id, Phase::Browsing, Some(store))
            .await
            .unwrap();
        db.set_phase(o.id, Phase::Cart, None).await.unwrap();
        db.submit(o.id, None, Some(total)).await.unwrap();
        db.settle(
            o.id,
            Outcome::new(Status::NeedsReview).message("the confirmation did not show"),
            Some(format!("order {} ({item}) ended as needs_review", o.id)),
        )
        .await
        .unwrap();
        o.id
    }

    async fn end(self, running: Running) {
        running.stop().await;
        assert_no_chromium(self.env.path()).await;
        self.store.shutdown().await;
    }
}

async fn an_order_whose_confirmation_was_hidden_is_found_placed_and_its_pause_lifted(
    layout: Layout,
) {
    let w = World::new(layout, Duration::from_secs(15)).await;
    w.env.sign_in_layout(layout).await;
    w.fault(json!({ "hide_confirmation": true })).await;
    let running = w.start().await;
    let mut events = running.handle.subscribe();

    let id = reorder(running.addr, "soap").await;
    assert_eq!(
        settled(&mut events, id).await,
        Status::NeedsReview,
        "{layout}"
    );
    let row = running.db.get(id).await.unwrap().unwrap();
    assert_eq!(row.phase, Some(Phase::Submitted), "{layout}");
    assert!(
        row.total.is_some() && row.submitted_at.is_some(),
        "{layout}: {row:#?}"
    );
    assert_eq!(
        running.db.paused().await.unwrap().unwrap().order_id,
        Some(id),
        "{layout}"
    );

    let (found, checks) = verdict(&mut events, id).await;
    assert_eq!(found, Verdict::Placed, "{layout}: after {checks} checks");
    let ledger = w.store.ledger();
    assert_eq!(ledger.len(), 1, "{layout}: exactly one order: {ledger:?}");
    let row = running.db.get(id).await.unwrap().unwrap();
    assert_eq!(row.status, Status::Placed, "{layout}: {row:#?}");
    assert_eq!(
        row.order_ref.as_deref(),
        Some(ledger[0].order_number.as_str()),
        "{layout}"
    );
    assert_eq!(
        Some(Money::read(&ledger[0].total, Default::default()).unwrap()),
        row.total,
        "{layout}"
    );
    assert!(
        running.db.paused().await.unwrap().is_none(),
        "{layout}: pause lifted"
    );
    assert!(
        running.db.retry(id).await.is_err(),
        "{layout}: never retried"
    );

    // The owner heard of the pause, then of the order being found.
    w.receiver.wait_for(2).await;
    assert_eq!(w.receiver.events(), ["paused", "verified"], "{layout}");
    let said = w.message("verified");
    assert!(said.contains(&ledger[0].order_number), "{layout}: {said}");
    assert!(said.contains("placed"), "{layout}: {said}");
    w.end(running).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_not_in_the_history_stays_needs_review_and_the_owner_is_told_once() {
    let w = World::new(Layout::Classic, Duration::from_secs(6)).await;
    w.env.sign_in_demo().await;
    let id = w.unconfirmed("soap", "demo", Money(12_345)).await;
    let running = w.start().await;
    let mut events = running.handle.subscribe();

    let (verdict, checks) = verdict(&mut events, id).await;
    assert_eq!(verdict, Verdict::NotFound);
    assert!(checks >= 2, "a few checks over the window: {checks}");
    let row = running.db.get(id).await.unwrap().unwrap();
    assert_eq!(row.status, Status::NeedsReview, "{row:#?}");
    assert_eq!(
        running.db.paused().await.unwrap().unwrap().order_id,
        Some(id),
        "still paused for the owner"
    );
    let record = running.db.verification(id).await.unwrap().unwrap();
    assert_eq!(record.checks as usize, checks);
    assert!(
        record.last_error.is_none(),
        "the history was read: {record:?}"
    );
    w.receiver.wait_for(2).await;
    let said = w.message("not_verified");
    assert!(
        said.contains("was not in the order history after 6 s"),
        "{said}"
    );
    assert!(w.store.ledger().is_empty());

    // `restock status` says where it stands.
    let out = w
        .env
        .command()
        .arg("status")
        .env("RESTOCK_VERIFY_WINDOW", "6s")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "order {id}: not in demo's order history after 6 s"
        )),
        "{text}"
    );

    // Told once: a restart tells nothing again.
    running.stop().await;
    let running = w.start().await;
    let mut events = running.handle.subscribe();
    event(&mut events, "the pause", |e| {
        matches!(e, Event::Paused { .. })
    })
    .await;
    assert_eq!(
        w.receiver
            .events()
            .iter()
            .filter(|e| *e == "not_verified")
            .count(),
        1,
        "{:?}",
        w.receiver.events()
    );
    w.end(running).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_without_orders_is_left_to_the_owner_as_before() {
    let mut w = World::new(Layout::Classic, Duration::from_secs(3)).await;
    // `plain`: the demo store's definition without its [orders] page.
    let demo = include_str!("../src/purchase/store/demo.toml");
    let plain =
        demo[..demo.find("[orders]").unwrap()].replacen("name = \"demo\"", "name = \"plain\"", 1);
    let stores = w.env.config.stores_dir.clone().unwrap();
    std::fs::write(stores.join("plain.toml"), plain).unwrap();
    let base = w.store.base_url();
    w.env.config.store_urls.insert("plain".into(), base);
    let id = w.unconfirmed("soap", "plain", Money(12_345)).await;
    let running = w.start().await;
    let mut events = running.handle.subscribe();

    let (verdict, _) = verdict(&mut events, id).await;
    assert_eq!(verdict, Verdict::Unsupported);
    let row = running.db.get(id).await.unwrap().unwrap();
    assert_eq!(row.status, Status::NeedsReview);
    assert_eq!(
        running.db.paused().await.unwrap().unwrap().order_id,
        Some(id)
    );
    // No browser was started for it: its profile was never made.
    assert!(!w.env.config.profiles_dir().join("plain").exists());
    let out = w.env.command().arg("status").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("cannot be verified"), "{text}");
    // Only the pause was told, as before verification existed.
    w.receiver.wait_for(1).await;
    running.stop().await;
    assert_eq!(w.receiver.events(), ["paused"]);
    assert_no_chromium(w.env.path()).await;
    w.store.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_with_another_total_is_not_taken() {
    // A window so long the engine's own first check (4 min) never comes
    // during the test: the checks here are asked for.
    let w = World::new(Layout::Classic, Duration::from_secs(3600)).await;
    w.env.sign_in_demo().await;
    w.fault(json!({ "hide_confirmation": true })).await;
    let running = w.start().await;
    let mut events = running.handle.subscribe();
    let id = reorder(running.addr, "soap").await;
    assert_eq!(settled(&mut events, id).await, Status::NeedsReview);
    running.stop().await;
    assert_no_chromium(w.env.path()).await;
    let ledger = w.store.ledger();
    assert_eq!(ledger.len(), 1);

    // The store's one order is a cent dearer than the one approved.
    let db = Db::open(&w.env.db()).unwrap();
    let approved = db.get(id).await.unwrap().unwrap().total.unwrap();
    db.with_conn(move |c| {
        c.execute(
            "UPDATE orders SET total_cents = total_cents - 1 WHERE id = ?1",
            [id],
        )?;
        Ok(())
    })
    .await
    .unwrap();
    let verifier = Verifier::new(
        db.clone(),
        std::sync::Arc::new(restock::purchase::BrowserFactory::new(std::sync::Arc::new(
            restock::purchase::settings_from_config(&w.env.config).unwrap(),
        ))),
        std::sync::Arc::new(std::sync::RwLock::new(std::sync::Arc::new(
            restock::catalog::Catalog::load(&w.env.config.catalog).unwrap(),
        ))),
        VerifySettings::from_config(&w.env.config),
    );
    match verifier.verify(id).await.unwrap() {
        CheckResult::NotFound { rows, error, .. } => {
            assert_eq!((rows, error), (Some(1), None), "one row read, not taken")
        }
        other => panic!("{other:?}"),
    }
    let row = db.get(id).await.unwrap().unwrap();
    assert_eq!((row.status, row.order_ref), (Status::NeedsReview, None));
    assert!(db.paused().await.unwrap().is_some());
    assert_no_chromium(w.env.path()).await;

    // With the totals agreeing, `restock verify ID` finds it.
    db.with_conn(move |c| {
        c.execute(
            "UPDATE orders SET total_cents = ?2 WHERE id = ?1",
            [id, approved.cents()],
        )?;
        Ok(())
    })
    .await
    .unwrap();
    let out = w.verify_by_hand(id);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(&ledger[0].order_number), "{text}");
    assert!(text.contains("the pause it caused is lifted"), "{text}");
    let row = db.get(id).await.unwrap().unwrap();
    assert_eq!(row.status, Status::Placed);
    assert!(db.paused().await.unwrap().is_none());
    // Asked again: it is no longer needs_review, nothing is done.
    let out = w.verify_by_hand(id);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(w.store.ledger().len(), 1);
    assert_no_chromium(w.env.path()).await;
    w.store.shutdown().await;
}
