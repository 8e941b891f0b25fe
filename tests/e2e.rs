//! End to end: the engine driving real headless Chromium through the demo
//! store, in-process and as the `restock` binary a unit file runs. The
//! engine's buy, fallback and pause run on both layouts (`classic::`,
//! `spa::`).

mod support;

use std::time::Duration;

use restock::db::Db;
use restock::model::{Phase, Status};
use serde_json::json;
use support::chromium::{assert_no_chromium, processes_under};
use support::db::order_until;
use support::demo::{self, fault};
use support::env::{bare, Env};
use support::intake::reorder;
use support::layout::Layout;
use support::receivers::free_addr;
use support::wait::{poll_within, settled, PATIENCE};

// Each on both layouts: `classic::NAME` and `spa::NAME` run
// `NAME(Layout::Classic)` and `NAME(Layout::Spa)`.
crate::layout_tests!(the_engine_buys_falls_back_pauses_and_never_orders_twice);

async fn the_engine_buys_falls_back_pauses_and_never_orders_twice(layout: Layout) {
    let store = demo::store().await;
    let mut env = Env::new(&[]);
    env.use_layout(
        &store,
        layout,
        &[
            ("towels", &["paper-towels", "toilet-paper"]),
            ("coffee", &["coffee-beans"]),
            ("soap", &["dish-soap"]),
        ],
    );
    env.config.buy_timeout = Duration::from_secs(40);
    env.config.step_timeout = Duration::from_secs(5); // how long Place Order may stay unanswered
    env.sign_in_layout(layout).await;
    let running = env.start_browser().await;
    let mut events = running.handle.subscribe();

    // Out of stock at the first source: placed from the second.
    fault(&store, json!({"sku": "paper-towels", "out_of_stock": true})).await;
    let towels = reorder(running.addr, "towels").await;
    let status = settled(&mut events, towels).await;
    assert_eq!(
        status,
        Status::Placed,
        "{layout}: {:?}",
        running.db.get(towels).await
    );
    let row = running.db.get(towels).await.unwrap().unwrap();
    let ledger = store.ledger();
    assert_eq!(ledger.len(), 1, "{layout}: {ledger:?}");
    assert_eq!(ledger[0].items[0].sku, "toilet-paper", "{layout}");
    layout.assert_order_ref(
        "towels",
        row.order_ref.as_deref(),
        row.message.as_deref(),
        &[ledger[0].order_number.clone()],
    );

    // A challenge page: `challenge`, the engine pauses for a human.
    fault(&store, json!({"sku": "coffee-beans", "challenge": true})).await;
    let coffee = reorder(running.addr, "coffee").await;
    assert_eq!(
        settled(&mut events, coffee).await,
        Status::Challenge,
        "{layout}"
    );
    assert!(running.db.paused().await.unwrap().is_some(), "{layout}");
    let shot = running
        .db
        .get(coffee)
        .await
        .unwrap()
        .unwrap()
        .screenshot
        .expect("a screenshot");
    assert!(std::path::Path::new(&shot).exists(), "{layout}: {shot}");
    running.db.resume().await.unwrap();

    // The store takes the order but never answers Place Order: after the
    // buy timeout the order needs review, the engine pauses, and the ledger
    // shows exactly one order for it — never a second.
    fault(&store, json!({"hang": "place"})).await;
    let soap = reorder(running.addr, "soap").await;
    assert_eq!(
        settled(&mut events, soap).await,
        Status::NeedsReview,
        "{layout}"
    );
    let row = running.db.get(soap).await.unwrap().unwrap();
    assert_eq!(row.phase, Some(Phase::Submitted), "{layout}");
    let paused = running.db.paused().await.unwrap();
    assert!(
        paused.as_ref().unwrap().reason.contains("needs_review"),
        "{layout}: {paused:?}"
    );
    let soaps = store
        .ledger()
        .iter()
        .filter(|e| e.items[0].sku == "dish-soap")
        .count();
    assert_eq!(soaps, 1, "{layout}");
    assert!(
        running.db.retry(soap).await.is_err(),
        "{layout}: never retried"
    );

    running.stop().await;
    assert_no_chromium(env.path()).await;
    store.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_buy_returns_the_order_to_pending_and_exits_0() {
    let (store, mut env) = demo::soap_env().await;
    env.config.listen = free_addr();
    env.sign_in_demo().await;
    fault(&store, json!({"hang": "product"})).await;
    let mut serve = env.serve("json-logs", &[("RESTOCK_LOG_FORMAT", "json")]);
    serve.listening().await;
    let id = reorder(serve.addr, "soap").await;
    let db = Db::open(&env.db()).unwrap();
    // Held at `browsing` by the store's hang.
    let phase = || async { db.get(id).await.unwrap().and_then(|o| o.phase) };
    poll_within(PATIENCE, || async {
        (phase().await == Some(Phase::Browsing) && !processes_under(env.path()).is_empty())
            .then_some(())
    })
    .await;
    assert_eq!(phase().await, Some(Phase::Browsing));

    let started = std::time::Instant::now();
    let exit = serve.sigterm().await;
    let logs = serve.log();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(exit.code(), Some(0), "{logs}");
    let row = db.get(id).await.unwrap().unwrap();
    assert_eq!((row.status, row.phase), (Status::Pending, None));
    assert!(store.ledger().is_empty());
    // JSON logs: every line of the order carries its id as a span field.
    let order_lines: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("\"phase\"") || l.contains("claimed"))
        .collect();
    assert!(!order_lines.is_empty(), "{logs}");
    for line in order_lines {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["span"]["id"], id, "{line}");
    }
    assert_no_chromium(env.path()).await;
    store.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_signed_in_profile_survives_a_restart() {
    let store = demo::store().await;
    let mut env = Env::new(&[]);
    env.use_demo(
        &store.base_url(),
        &[
            ("soap", &["/product/dish-soap"]),
            ("tea", &["/product/coffee-beans"]),
        ],
    );
    env.config.listen = free_addr();
    env.sign_in_demo().await;
    let db = Db::open(&env.db()).unwrap();
    for item in ["soap", "tea"] {
        // A fresh `restock serve` each time: only the profile on disk
        // carries the session.
        let mut serve = env.serve(item, &[("RESTOCK_LOG", "warn")]);
        serve.listening().await;
        let id = reorder(serve.addr, item).await;
        let row = order_until(
            &db,
            id,
            "the order to settle",
            |o| o.status.is_terminal(),
            || serve.log_tail(),
        )
        .await;
        assert_eq!(row.status, Status::Placed, "{item}: {row:?}");
        assert_eq!(
            serve.sigterm().await.code(),
            Some(0),
            "{}",
            serve.log_tail()
        );
    }
    assert_eq!(store.ledger().len(), 2);
    assert_no_chromium(env.path()).await;
    store.shutdown().await;
}

#[test]
fn restock_demo_runs_the_whole_loop() {
    let home = tempfile::tempdir().unwrap();
    let out = bare(home.path()).arg("demo").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "signed in",
        "phase          browsing",
        "phase          cart",
        "phase          submitted",
        "settled        placed",
        "exactly one order",
    ] {
        assert!(stdout.contains(needle), "missing `{needle}` in:\n{stdout}");
    }
}
