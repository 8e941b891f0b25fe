//! Money safety without a browser: automatic retry, a database that cannot
//! take writes, a wall clock that jumps, and load on the intake.

mod support;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use restock::engine::Event;
use restock::model::Outcome;
use restock::model::{Clock, Money, Phase, Status};
use restock::purchase::scripted::{Script, ScriptedFactory, Step};
use restock::server::Parts;
use serde_json::json;
use support::env::Env;
use support::intake::{get_json, post_json, reorder, url};
use support::wait::{event, settled};

#[tokio::test]
async fn retryable_failures_before_submit_are_retried_with_backoff_then_fail() {
    let mut env = Env::new(&["soap", "tea", "milk"]);
    env.config.dry_run = false;
    env.config.auto_retry = true;
    env.config.auto_retry_max = 2;
    env.config.auto_retry_backoff = Duration::from_millis(100);
    let factory = ScriptedFactory::new(Script::placed(Money(1)));
    let flaky = || Script::ends(Outcome::failed("browser crashed", true));
    for _ in 0..3 {
        factory.push("demo", flaky());
    }
    let running = env.start(factory.clone()).await;
    let mut events = running.handle.subscribe();
    let soap = reorder(running.addr, "soap").await;
    let mut retry_times = Vec::new();
    for _ in 0..2 {
        match event(
            &mut events,
            "a retry",
            |e| matches!(e, Event::Retrying { id, .. } if *id == soap),
        )
        .await
        {
            Event::Retrying { at, .. } => retry_times.push(at),
            _ => unreachable!(),
        }
    }
    assert_eq!(
        settled(&mut events, soap).await,
        Status::Failed,
        "after 2 retries it stays failed"
    );
    let row = running.db.get(soap).await.unwrap().unwrap();
    assert_eq!((row.retries, row.attempts), (2, 3));
    assert!(row.message.unwrap().contains("browser crashed"));
    assert_eq!(factory.made(), 3);

    // Never retried: a failure after submit (needs_review), or a challenge.
    let mut after_submit = Script::until(Phase::Submitted, Step::Progress);
    after_submit.outcome = Outcome::failed("lost the page", true);
    factory.push("demo", after_submit);
    let tea = reorder(running.addr, "tea").await;
    assert_eq!(settled(&mut events, tea).await, Status::NeedsReview);
    assert_eq!(running.db.get(tea).await.unwrap().unwrap().retries, 0);
    running.db.resume().await.unwrap();
    factory.push(
        "demo",
        Script::ends(Outcome::new(Status::Challenge).message("captcha")),
    );
    running.handle.wake();
    let milk = reorder(running.addr, "milk").await;
    assert_eq!(settled(&mut events, milk).await, Status::Challenge);
    assert_eq!(running.db.get(milk).await.unwrap().unwrap().retries, 0);
    running.stop().await;
}

/// Makes the server's own connection refuse every write, as a read-only
/// file or a full disk does (`query_only` answers SQLITE_READONLY).
async fn break_disk(db: &restock::db::Db, broken: bool) {
    db.with_conn(move |c| Ok(c.pragma_update(None, "query_only", broken)?))
        .await
        .unwrap();
}

#[tokio::test]
async fn an_unwritable_database_gets_503_holds_the_engine_and_loses_nothing() {
    let mut env = Env::new(&["soap", "tea", "milk"]);
    env.config.dry_run = false;
    let gate = Arc::new(tokio::sync::Notify::new());
    let factory = ScriptedFactory::new(Script::placed(Money(1)));
    factory.push(
        "demo",
        Script::until(Phase::Submitted, Step::WaitFor(gate.clone())),
    );
    let running = env.start(factory).await;
    let mut events = running.handle.subscribe();
    let soap = reorder(running.addr, "soap").await;
    event(&mut events, "submitted", |e| {
        matches!(
            e,
            Event::Phase {
                phase: Phase::Submitted,
                ..
            }
        )
    })
    .await;

    break_disk(&running.db, true).await;
    let client = reqwest::Client::new();
    let (code, body) = post_json(&client, &url(&running, "/reorder"), json!({"item": "tea"})).await;
    assert_eq!(code, 503, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("cannot take writes"),
        "{body}"
    );

    // The placed order's outcome cannot be written yet: the engine holds it.
    gate.notify_one();
    let reason = match event(&mut events, "the storage failure", |e| {
        matches!(e, Event::StorageFailing { .. })
    })
    .await
    {
        Event::StorageFailing { reason } => reason,
        _ => unreachable!(),
    };
    assert!(reason.contains("readonly"), "{reason}");
    let health = get_json(&reqwest::Client::new(), &url(&running, "/health")).await;
    assert_eq!(health["engine"]["state"], "paused");
    assert!(health["engine"]["pause"]["reason"]
        .as_str()
        .unwrap()
        .contains("cannot take writes"));

    break_disk(&running.db, false).await;
    assert_eq!(
        settled(&mut events, soap).await,
        Status::Placed,
        "the outcome was kept and written"
    );
    assert_eq!(
        running.db.get(soap).await.unwrap().unwrap().status,
        Status::Placed
    );
    let (code, body) = post_json(&client, &url(&running, "/reorder"), json!({"item": "tea"})).await;
    assert_eq!(code, 202, "accepting again: {body}");
    let tea = body["id"].as_i64().unwrap();
    assert_eq!(settled(&mut events, tea).await, Status::Placed);
    running.stop().await;
}

#[tokio::test]
async fn cooldown_and_cap_window_survive_clock_jumps() {
    let mut env = Env::new(&["soap", "tea"]);
    env.config.dry_run = false;
    env.config.debounce = Duration::ZERO;
    env.config.cooldown = Duration::from_secs(3600);
    env.config.max_orders_per_day = 2;
    let t0 = 1_800_000_000_000i64;
    let now = Arc::new(AtomicI64::new(t0));
    let mut parts = Parts::new(Arc::new(ScriptedFactory::new(Script::placed(Money(500)))));
    parts.clock = Clock::manual(now.clone());
    let running = restock::server::start(&env.config, parts).await.unwrap();
    let mut events = running.handle.subscribe();
    let first = reorder(running.addr, "soap").await;
    assert_eq!(settled(&mut events, first).await, Status::Placed);

    // The clock goes back a day: the cooldown still holds (a placed time
    // in the future counts as now, so a backward jump never shortens it).
    now.store(t0 - 24 * 3600 * 1000, Ordering::SeqCst);
    let id = reorder(running.addr, "soap").await;
    assert_eq!(settled(&mut events, id).await, Status::SkippedCooldown);
    let msg = running.db.get(id).await.unwrap().unwrap().message.unwrap();
    assert!(msg.contains("1h") || msg.contains("59m"), "{msg}");

    // Forward past the cooldown: bought again.
    now.store(t0 + 2 * 3600 * 1000, Ordering::SeqCst);
    let id = reorder(running.addr, "soap").await;
    assert_eq!(settled(&mut events, id).await, Status::Placed);

    // Two placed in the window: the count cap holds, even with the clock
    // moved back (orders "from the future" still count).
    now.store(t0 - 3600 * 1000, Ordering::SeqCst);
    let id = reorder(running.addr, "tea").await;
    assert_eq!(settled(&mut events, id).await, Status::SpendCapped);
    running.db.resume().await.unwrap();
    // A day and more later the window has moved on.
    now.store(t0 + 27 * 3600 * 1000, Ordering::SeqCst);
    running.handle.wake();
    let id = reorder(running.addr, "tea").await;
    assert_eq!(settled(&mut events, id).await, Status::Placed);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_requests_lose_nothing() {
    let names: Vec<String> = (0..1000).map(|i| format!("item{i}")).collect();
    let mut items: Vec<&str> = names.iter().map(String::as_str).collect();
    items.push("hot");
    let env = Env::new(&items);
    // Dry run and a purchaser that never finishes keep the rows pending
    // apart from the one being bought: this measures the intake.
    let running = env
        .start(ScriptedFactory::new(Script::hang_at(Phase::Browsing)))
        .await;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1000)
        .build()
        .unwrap();
    let post = |item: String| {
        let (client, url) = (client.clone(), url(&running, "/reorder"));
        async move { post_json(&client, &url, json!({"item": item})).await }
    };
    let same = futures::future::join_all((0..1000).map(|_| post("hot".into()))).await;
    assert_eq!(same.iter().filter(|(c, _)| *c == 202).count(), 1);
    assert!(same.iter().all(|(c, _)| *c == 202 || *c == 200), "no 5xx");
    let distinct = futures::future::join_all(names.iter().map(|n| post(n.clone()))).await;
    assert!(
        distinct.iter().all(|(c, _)| *c == 202),
        "{:?}",
        distinct.iter().find(|(c, _)| *c != 202)
    );
    let rows = running.db.recent(None, 5000).await.unwrap();
    assert_eq!(rows.len(), 1001);
    running.stop().await;
}
