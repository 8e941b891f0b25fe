//! The engine loop against a real SQLite file, with scripted purchasers.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use restock::catalog::Catalog;
use restock::db::Db;
use restock::engine::{Activity, Engine, Event, Heartbeat, Liveness, Settings};
use restock::model::{ActivityState, Money, Outcome, Phase, Status};
use restock::purchase::scripted::{Script, ScriptedFactory, Step};
use restock::server::Parts;
use support::engine::BlockingProbe;
use support::env::Env;
use support::intake::{health_becomes, reorder, url};
use support::wait::{event, poll, settled, within};
use tokio_util::sync::CancellationToken;

fn engine_for(env: &Env, db: Db, factory: Arc<ScriptedFactory>) -> Engine {
    let catalog = Catalog::load(&env.config.catalog).unwrap();
    Engine::new(
        db,
        Arc::new(RwLock::new(Arc::new(catalog))),
        Arc::new(factory),
        Settings::from_config(&env.config),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_engines_on_one_database_claim_each_order_once() {
    let names: Vec<String> = (0..500).map(|i| format!("item{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut env = Env::new(&refs);
    env.config.dry_run = false;
    env.config.max_orders_per_day = 10_000;
    let seed = Db::open(&env.db()).unwrap();
    for name in &names {
        seed.enqueue(name, None, Duration::ZERO).await.unwrap();
    }
    let shutdown = CancellationToken::new();
    let mut claims: Vec<Arc<Mutex<Vec<i64>>>> = Vec::new();
    let mut done = Vec::new();
    for _ in 0..2 {
        let engine = engine_for(
            &env,
            Db::open(&env.db()).unwrap(),
            ScriptedFactory::new(Script::placed(Money(1))),
        );
        let mine = Arc::new(Mutex::new(Vec::new()));
        let mut rx = engine.handle().subscribe();
        let (sink, stop) = (mine.clone(), shutdown.clone());
        done.push(tokio::spawn(async move {
            loop {
                tokio::select! {
                    e = rx.recv() => match e {
                        Ok(Event::Claimed { id }) => sink.lock().unwrap().push(id),
                        Ok(Event::Stopped) | Err(_) => return,
                        _ => {}
                    },
                    _ = stop.cancelled() => return,
                }
            }
        }));
        claims.push(mine);
        tokio::spawn(engine.run(shutdown.clone()));
    }
    poll("all 500 orders placed", || async {
        let counts = seed.counts().await.unwrap();
        counts
            .into_iter()
            .any(|(s, n)| s == Status::Placed && n == 500)
            .then_some(())
    })
    .await;
    shutdown.cancel();
    for d in done {
        d.await.unwrap();
    }
    let mut all: Vec<i64> = claims
        .iter()
        .flat_map(|c| c.lock().unwrap().clone())
        .collect();
    let per_engine: Vec<usize> = claims.iter().map(|c| c.lock().unwrap().len()).collect();
    all.sort();
    let before = all.len();
    all.dedup();
    assert_eq!(before, 500, "claims per engine {per_engine:?}");
    assert_eq!(all.len(), 500, "an order was claimed twice");
    assert!(
        per_engine.iter().all(|&n| n > 0),
        "both engines claimed: {per_engine:?}"
    );
    let rows = seed.recent(None, 1000).await.unwrap();
    assert!(rows
        .iter()
        .all(|o| o.attempts == 1 && o.status == Status::Placed));
}

#[tokio::test]
async fn boot_recovery_classifies_rows_by_phase_and_is_bounded() {
    let env = Env::new(&["a", "b", "c", "d", "e"]);
    let q = Db::open(&env.db()).unwrap();
    let mut ids = HashMap::new();
    for (item, phase) in [
        ("a", Phase::Claimed),
        ("b", Phase::Browsing),
        ("c", Phase::Cart),
        ("d", Phase::Submitted),
    ] {
        q.enqueue(item, None, Duration::ZERO).await.unwrap();
        let order = q.claim_next().await.unwrap().unwrap();
        if phase != Phase::Claimed {
            q.set_phase(order.id, phase, Some("demo")).await.unwrap();
        }
        ids.insert(item, order.id);
    }
    let report = restock::engine::recovery::recover(&q, 3).await.unwrap();
    assert_eq!(report.len(), 4);
    for item in ["a", "b", "c"] {
        let o = q.get(ids[item]).await.unwrap().unwrap();
        assert_eq!(
            (o.status, o.phase, o.recoveries),
            (Status::Pending, None, 1),
            "{item}"
        );
    }
    let d = q.get(ids["d"]).await.unwrap().unwrap();
    assert_eq!(d.status, Status::NeedsReview);
    let pause = q
        .paused()
        .await
        .unwrap()
        .expect("a submitted row pauses the engine");
    assert!(pause.reason.contains(&format!("order {}", ids["d"])));
    assert!(
        q.retry(ids["d"]).await.is_err(),
        "a submitted order is never retried"
    );

    // The bound: a row interrupted again and again ends as failed.
    q.resume().await.unwrap();
    let e = {
        q.enqueue("e", None, Duration::ZERO).await.unwrap();
        q.recent(Some(Status::Pending), 10)
            .await
            .unwrap()
            .into_iter()
            .find(|o| o.item == "e")
            .unwrap()
            .id
    };
    let mut statuses = Vec::new();
    for _ in 0..4 {
        // Claim until we hold `e` (others are pending too).
        loop {
            let o = q.claim_next().await.unwrap().unwrap();
            if o.id == e {
                q.set_phase(e, Phase::Cart, None).await.unwrap();
                break;
            }
            q.settle(o.id, Outcome::new(Status::Cancelled), None)
                .await
                .unwrap();
        }
        restock::engine::recovery::recover(&q, 3).await.unwrap();
        statuses.push(q.get(e).await.unwrap().unwrap().status);
    }
    assert_eq!(
        statuses,
        vec![
            Status::Pending,
            Status::Pending,
            Status::Pending,
            Status::Failed
        ]
    );
    let msg = q.get(e).await.unwrap().unwrap().message.unwrap();
    assert!(msg.contains("interrupted 4 times"), "{msg}");
}

#[tokio::test]
async fn a_buy_hanging_at_cart_fails_after_the_timeout_and_the_engine_goes_on() {
    let mut env = Env::new(&["soap", "tea"]);
    env.config.dry_run = false;
    env.config.buy_timeout = Duration::from_millis(600);
    let factory = ScriptedFactory::new(Script::placed(Money(329)));
    factory.push("demo", Script::hang_at(Phase::Cart));
    let running = env.start(factory).await;
    let mut events = running.handle.subscribe();
    let a = reorder(running.addr, "soap").await;
    let b = reorder(running.addr, "tea").await;
    assert_eq!(settled(&mut events, a).await, Status::Failed);
    let row = running.db.get(a).await.unwrap().unwrap();
    assert!(row.retryable);
    assert_eq!(row.phase, Some(Phase::Cart));
    assert!(row.message.unwrap().contains("timed out"));
    assert_eq!(
        settled(&mut events, b).await,
        Status::Placed,
        "the engine keeps serving"
    );
    assert!(running.db.paused().await.unwrap().is_none());
    running.stop().await;
}

#[tokio::test]
async fn a_buy_hanging_after_submit_needs_review_and_pauses() {
    let mut env = Env::new(&["soap", "tea"]);
    env.config.dry_run = false;
    env.config.buy_timeout = Duration::from_millis(600);
    let factory = ScriptedFactory::new(Script::placed(Money(329)));
    factory.push("demo", Script::hang_at(Phase::Submitted));
    let running = env.start(factory.clone()).await;
    let mut events = running.handle.subscribe();
    let a = reorder(running.addr, "soap").await;
    assert_eq!(settled(&mut events, a).await, Status::NeedsReview);
    let reason = match event(&mut events, "the pause", |e| {
        matches!(e, Event::Paused { .. })
    })
    .await
    {
        Event::Paused { reason } => reason,
        _ => unreachable!(),
    };
    assert!(reason.contains("needs_review"), "{reason}");
    let health = reqwest::get(url(&running, "/health")).await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let body: serde_json::Value = health.json().await.unwrap();
    assert_eq!(body["engine"]["state"], "paused");
    // Paused: nothing else is claimed, even written straight to the database.
    let other = Db::open(&env.db()).unwrap();
    other.enqueue("tea", None, Duration::ZERO).await.ok();
    running.handle.wake();
    event(&mut events, "paused again", |e| {
        matches!(e, Event::Paused { .. })
    })
    .await;
    assert_eq!(factory.made(), 1, "no purchaser was made while paused");
    running.stop().await;
}

#[tokio::test]
async fn outcomes_after_submit_become_needs_review_and_sources_fall_through() {
    let mut env = Env::new(&["soap", "tea", "milk"]);
    env.config.dry_run = false;
    let factory = ScriptedFactory::new(Script::placed(Money(329)));
    // soap: demo out of stock -> backup places it.
    factory.push(
        "demo",
        Script::ends(Outcome::new(Status::Unavailable).message("out of stock")),
    );
    // tea: a purchaser that claims `failed` after submitted must not be believed.
    let mut lying = Script::until(Phase::Submitted, Step::Progress);
    lying.outcome = Outcome::failed("click went nowhere", true);
    factory.push("demo", lying);
    let running = env.start(factory.clone()).await;
    let mut events = running.handle.subscribe();
    let soap = reorder(running.addr, "soap").await;
    assert_eq!(settled(&mut events, soap).await, Status::Placed);
    assert_eq!(
        running
            .db
            .get(soap)
            .await
            .unwrap()
            .unwrap()
            .store
            .as_deref(),
        Some("backup")
    );
    let tea = reorder(running.addr, "tea").await;
    assert_eq!(settled(&mut events, tea).await, Status::NeedsReview);
    assert!(!running.db.get(tea).await.unwrap().unwrap().retryable);
    running.stop().await;
}

#[tokio::test]
async fn health_is_503_while_the_loop_is_blocked_and_200_after() {
    let mut env = Env::new(&["soap"]);
    env.config.stall_after = Some(Duration::from_millis(400));
    env.config.poll_interval = Duration::from_millis(50);
    let probe = BlockingProbe::new(false);
    let running = env.start_with_probe(probe.clone()).await;
    let health = url(&running, "/health");
    let mut events = running.handle.subscribe();
    event(&mut events, "a turn", |e| matches!(e, Event::Turn(_))).await;
    assert_eq!(reqwest::get(&health).await.unwrap().status().as_u16(), 200);

    probe.blocked.store(true, Ordering::SeqCst);
    within("the loop to enter the probe", probe.entered.notified()).await;
    let stalled = health_becomes(running.addr, 503).await;
    assert_eq!(stalled["status"], "stalled");
    assert!(stalled["silent_ms"].as_i64().unwrap() > 400);

    let mut events = running.handle.subscribe(); // only turns after the release count
    probe.unblock();
    event(&mut events, "a turn after the release", |e| {
        matches!(e, Event::Turn(_))
    })
    .await;
    assert_eq!(reqwest::get(&health).await.unwrap().status().as_u16(), 200);
    running.stop().await;
}

/// Counts ticks and remembers the engine state each was made in.
#[derive(Default)]
struct CountingHeartbeat {
    ticks: AtomicUsize,
    states: Mutex<Vec<(Liveness, ActivityState)>>,
}

impl Heartbeat for CountingHeartbeat {
    fn tick(&self, why: Liveness, activity: &Activity) {
        self.ticks.fetch_add(1, Ordering::SeqCst);
        self.states.lock().unwrap().push((why, activity.state));
    }
}

#[tokio::test]
async fn the_heartbeat_hook_runs_on_every_turn_idle_paused_and_buying() {
    let mut env = Env::new(&["soap"]);
    env.config.dry_run = false;
    env.config.poll_interval = Duration::from_millis(30);
    let hb = Arc::new(CountingHeartbeat::default());
    let factory = ScriptedFactory::new(Script::placed(Money(1)));
    factory.push(
        "demo",
        Script::ends(Outcome::new(Status::Challenge).message("captcha")),
    );
    let mut parts = Parts::new(Arc::new(factory));
    parts.heartbeat = hb.clone();
    let running = restock::server::start(&env.config, parts).await.unwrap();
    let mut events = running.handle.subscribe();
    for _ in 0..3 {
        event(&mut events, "an idle turn", |e| matches!(e, Event::Idle)).await;
    }
    let id = reorder(running.addr, "soap").await;
    assert_eq!(settled(&mut events, id).await, Status::Challenge);
    for _ in 0..3 {
        event(&mut events, "a paused turn", |e| {
            matches!(e, Event::Paused { .. })
        })
        .await;
    }
    running.shutdown_token().cancel();
    let turns = running.handle.turns() as usize;
    running.stop().await;
    let states = hb.states.lock().unwrap().clone();
    let turn_ticks = states.iter().filter(|(w, _)| *w == Liveness::Turn).count();
    assert_eq!(turn_ticks, turns, "one tick per loop turn");
    assert!(
        states
            .iter()
            .any(|(w, s)| *w == Liveness::Turn && *s == ActivityState::Idle),
        "ticked while idle"
    );
    assert!(
        states
            .iter()
            .any(|(w, s)| *w == Liveness::Turn && *s == ActivityState::Paused),
        "ticked while paused"
    );
    assert!(
        states.iter().any(|(w, _)| *w == Liveness::Progress),
        "ticked from buy progress"
    );
}
