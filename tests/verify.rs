//! Verifying unconfirmed orders, engine side, with scripted purchasers
//! whose order histories the tests write: what is matched and what is
//! not, the schedule of checks, boot recovery's orders, and the pause.
//! (The real browser reading the demo store's history: `verify_browser.rs`.)

mod support;

use std::sync::Arc;
use std::time::Duration;

use restock::db::Db;
use restock::engine::Event;
use restock::model::{
    parse_placed, HistoryRow, Money, OrderHistory, Outcome, Phase, Status, StoreZone, Verdict,
};
use restock::purchase::scripted::{Script, ScriptedFactory, Step};
use restock::purchase::Holder;
use restock::server::Running;
use support::env::Env;
use support::wait::{event, poll, settled, verdict};

const TOTAL: Money = Money(1298);

/// A buy that gets through Place Order and never sees a confirmation.
fn unconfirmed() -> Script {
    Script {
        steps: vec![
            Step::Enter(Phase::Browsing),
            Step::Enter(Phase::Cart),
            Step::Approve(TOTAL),
            Step::Enter(Phase::Submitted),
        ],
        outcome: Outcome::new(Status::NeedsReview).message("no confirmation"),
    }
}

/// A row of the store's history: placed now, with this id and total.
fn row(id: &str, total: Money, items: Option<&str>) -> HistoryRow {
    let now = chrono::Utc::now().to_rfc3339();
    HistoryRow {
        order_id: Some(id.into()),
        placed: parse_placed(&now, None, StoreZone::Utc),
        date_text: Some(now),
        total_text: Some(total.to_string()),
        items_text: items.map(str::to_string),
        total: Some(total),
    }
}

fn env(window: Duration) -> Env {
    let mut env = Env::new(&["soap", "tea"]);
    env.config.dry_run = false;
    env.config.verify_window = window;
    env
}

async fn reorder(running: &Running, item: &str) -> i64 {
    match running
        .db
        .enqueue(item, None, Duration::ZERO)
        .await
        .unwrap()
    {
        restock::db::Enqueued::Queued { id } => {
            running.handle.wake();
            id
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_matching_row_places_the_order_lifts_its_pause_and_buying_goes_on() {
    let env = env(Duration::from_millis(1500));
    let factory = ScriptedFactory::new(Script::placed(TOTAL));
    // Soap's buy waits until tea is queued too: once soap pauses the
    // engine, a reorder is refused.
    let gate = Arc::new(tokio::sync::Notify::new());
    let mut soap_buy = unconfirmed();
    soap_buy.steps.insert(0, Step::WaitFor(gate.clone()));
    factory.push("demo", soap_buy);
    factory.set_history(
        "demo",
        OrderHistory::Read(vec![
            row("S-7", Money(1299), Some("Soap × 1")),
            row("S-8", TOTAL, Some("Coffee × 1")),
            row("S-9", TOTAL, Some("Soap × 1")),
        ]),
    );
    let running = env.start(factory.clone()).await;
    let mut events = running.handle.subscribe();
    let soap = reorder(&running, "soap").await;
    let tea = reorder(&running, "tea").await;
    gate.notify_one();
    assert_eq!(settled(&mut events, soap).await, Status::NeedsReview);

    let (verdict, checks) = verdict(&mut events, soap).await;
    assert_eq!((verdict, checks), (Verdict::Placed, 1));
    let row = running.db.get(soap).await.unwrap().unwrap();
    assert_eq!(
        (row.status, row.order_ref.as_deref(), row.total),
        (Status::Placed, Some("S-9"), Some(TOTAL)),
        "the row with the total and the item: {row:#?}"
    );
    assert!(row
        .message
        .unwrap()
        .contains("found in demo's order history as S-9"));
    // The pause is gone and the queued order is bought.
    assert_eq!(settled(&mut events, tea).await, Status::Placed);
    assert!(running.db.paused().await.unwrap().is_none());
    running.stop().await;
}

#[tokio::test]
async fn a_verification_waits_uncounted_while_a_live_sign_in_holds_the_store() {
    // First check a second after the order settles.
    let env = env(Duration::from_secs(15));
    let factory = ScriptedFactory::new(Script::placed(TOTAL));
    factory.push("demo", unconfirmed());
    factory.set_history(
        "demo",
        OrderHistory::Read(vec![row("S-9", TOTAL, Some("Soap × 1"))]),
    );
    let running = env.start(factory.clone()).await;
    let mut events = running.handle.subscribe();
    let soap = reorder(&running, "soap").await;
    assert_eq!(settled(&mut events, soap).await, Status::NeedsReview);
    let live = running.holds.try_hold("demo", Holder::Live).unwrap();

    event(
        &mut events,
        "the held check",
        |e| matches!(e, Event::VerifyHeld { id } if *id == soap),
    )
    .await;
    assert_eq!(factory.history_reads(), 0, "no browser on a held profile");
    let record = running.db.verification(soap).await.unwrap().unwrap();
    assert_eq!(record.checks, 0, "a held turn is not a check: {record:#?}");

    drop(live);
    assert_eq!(verdict(&mut events, soap).await, (Verdict::Placed, 1));
    assert_eq!(factory.history_reads(), 1);
    running.stop().await;
}

#[tokio::test]
async fn a_row_another_order_holds_is_not_taken_and_the_window_ends_not_found() {
    let env = env(Duration::from_millis(1500));
    let factory = ScriptedFactory::new(Script::placed(TOTAL));
    let running = env.start(factory.clone()).await;
    let mut events = running.handle.subscribe();
    // An earlier order was placed as S-1 (the scripted order number).
    let tea = reorder(&running, "tea").await;
    assert_eq!(settled(&mut events, tea).await, Status::Placed);
    factory.push("demo", unconfirmed());
    factory.set_history("demo", OrderHistory::Read(vec![row("S-1", TOTAL, None)]));
    let soap = reorder(&running, "soap").await;
    assert_eq!(settled(&mut events, soap).await, Status::NeedsReview);

    let (verdict, checks) = verdict(&mut events, soap).await;
    assert_eq!(verdict, Verdict::NotFound);
    assert!(checks >= 2, "{checks} checks");
    let row = running.db.get(soap).await.unwrap().unwrap();
    assert_eq!((row.status, row.order_ref), (Status::NeedsReview, None));
    assert_eq!(
        running.db.paused().await.unwrap().unwrap().order_id,
        Some(soap)
    );
    // Nothing more is looked at once the window is over.
    let reads = factory.history_reads();
    let record = running.db.verification(soap).await.unwrap().unwrap();
    assert_eq!((record.checks as usize, record.next_at), (reads, None));
    running.stop().await;
}

#[tokio::test]
async fn a_store_that_cannot_be_verified_is_asked_once() {
    let env = env(Duration::from_millis(600));
    let factory = ScriptedFactory::new(Script::placed(TOTAL));
    factory.push("demo", unconfirmed());
    let running = env.start(factory.clone()).await;
    let mut events = running.handle.subscribe();
    let soap = reorder(&running, "soap").await;
    assert_eq!(settled(&mut events, soap).await, Status::NeedsReview);
    assert_eq!(verdict(&mut events, soap).await, (Verdict::Unsupported, 1));
    assert_eq!(factory.history_reads(), 1);
    assert_eq!(
        running.db.get(soap).await.unwrap().unwrap().status,
        Status::NeedsReview
    );
    assert!(running.db.paused().await.unwrap().is_some());
    running.stop().await;
}

#[tokio::test]
async fn an_unreadable_history_is_tried_at_each_check_and_said_why() {
    let env = env(Duration::from_millis(1500));
    let factory = ScriptedFactory::new(Script::placed(TOTAL));
    factory.push("demo", unconfirmed());
    factory.set_history(
        "demo",
        OrderHistory::Failed("the store shows a bot challenge".into()),
    );
    let running = env.start(factory.clone()).await;
    let mut events = running.handle.subscribe();
    let soap = reorder(&running, "soap").await;
    assert_eq!(settled(&mut events, soap).await, Status::NeedsReview);
    let (verdict, checks) = verdict(&mut events, soap).await;
    assert_eq!(verdict, Verdict::NotFound);
    assert!(checks >= 2, "{checks}");
    let record = running.db.verification(soap).await.unwrap().unwrap();
    assert!(record.last_error.unwrap().contains("bot challenge"));
    running.stop().await;
}

#[tokio::test]
async fn boot_recoverys_needs_review_is_verified_too() {
    let env = env(Duration::from_millis(1500));
    // A server died after writing `submitted`.
    let db = Db::open(&env.db()).unwrap();
    db.enqueue("soap", None, Duration::ZERO).await.unwrap();
    let o = db.claim_next().await.unwrap().unwrap();
    db.set_phase(o.id, Phase::Browsing, Some("demo"))
        .await
        .unwrap();
    db.submit(o.id, None, Some(TOTAL)).await.unwrap();
    drop(db);
    let factory = ScriptedFactory::new(Script::placed(TOTAL));
    factory.set_history("demo", OrderHistory::Read(vec![row("S-5", TOTAL, None)]));
    let running = env.start(factory.clone()).await;
    let mut events = running.handle.subscribe();
    let (verdict, _) = verdict(&mut events, o.id).await;
    assert_eq!(verdict, Verdict::Placed);
    let row = running.db.get(o.id).await.unwrap().unwrap();
    assert_eq!(
        (row.status, row.order_ref.as_deref()),
        (Status::Placed, Some("S-5"))
    );
    assert!(running.db.paused().await.unwrap().is_none());
    running.stop().await;
}

/// The verdicts reach the owner once, through the server's notifier.
#[tokio::test]
async fn verdicts_are_told_once() {
    let mut env = env(Duration::from_millis(900));
    let receiver = Arc::new(tokio::sync::Mutex::new(Vec::<serde_json::Value>::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let got = receiver.clone();
    let app = axum::Router::new().fallback(move |body: axum::body::Bytes| {
        let got = got.clone();
        async move {
            got.lock()
                .await
                .push(serde_json::from_slice(&body).unwrap_or_default());
            "ok"
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    env.config.notify = vec![format!("generic+http://{addr}/hook").parse().unwrap()];
    let factory = ScriptedFactory::new(Script::placed(TOTAL));
    factory.push("demo", unconfirmed());
    factory.push("demo", unconfirmed());
    factory.set_history("demo", OrderHistory::Read(vec![row("S-3", TOTAL, None)]));
    let running = env.start(factory.clone()).await;
    let mut events = running.handle.subscribe();
    let soap = reorder(&running, "soap").await;
    assert_eq!(verdict(&mut events, soap).await.0, Verdict::Placed);
    // The second is not found: S-3 is the first order's now.
    let tea = reorder(&running, "tea").await;
    assert_eq!(verdict(&mut events, tea).await.0, Verdict::NotFound);
    running.stop().await;
    let running = env.start(factory.clone()).await;
    let events_of =
        |kind: &str, all: &[serde_json::Value]| all.iter().filter(|m| m["event"] == kind).count();
    poll("the notifications", || async {
        let all = receiver.lock().await.clone();
        (events_of("not_verified", &all) == 1).then_some(())
    })
    .await;
    running.stop().await;
    let all = receiver.lock().await.clone();
    assert_eq!(events_of("verified", &all), 1, "{all:#?}");
    assert_eq!(events_of("not_verified", &all), 1, "{all:#?}");
    let found = all.iter().find(|m| m["event"] == "verified").unwrap();
    assert_eq!(found["order_id"], soap);
    assert_eq!(found["order_ref"], "S-3");
    let lost = all.iter().find(|m| m["event"] == "not_verified").unwrap();
    let said = lost["message"].as_str().unwrap();
    assert!(
        said.contains("was not in the order history after"),
        "{said}"
    );
}
