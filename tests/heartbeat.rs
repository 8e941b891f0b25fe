//! The dead-man's switch against real HTTP receivers on 127.0.0.1 (servers
//! inside the test that record every request and can be told to answer
//! slowly, 500 or `{"ok":false}`), a dead port, and a real Unix datagram
//! socket as systemd's `NOTIFY_SOCKET` for a child `restock serve`.
//!
//! Tests await engine events and receiver notifications with bounded
//! patience; the only fixed waits are observation windows that prove an
//! absence (no ping while stalled or wedged).

mod support;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use restock::config::Config;
use restock::db::Enqueued;
use restock::db::MonitorState;
use restock::engine::{Event, Probe};
use restock::model::Outcome;
use restock::model::{Money, Phase, Status};
use restock::purchase::scripted::{Script, ScriptedFactory, Step};
use restock::server::{self, Parts, Running};
use support::env::{catalog_on, monitor_urls, output_text, Env};
use support::intake::{health, health_becomes};
use support::receivers::{free_addr, Receiver, Recorded, Reply, KUMA_UNKNOWN};
use support::wait::{event, poll, settled, within, PATIENCE};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

const HC_UUID: &str = "5b3c9a1e-2f4d-4c6b-9e8a-7d1f0c2ba1b2";
const HC_ORDERS_UUID: &str = "9d0e7c55-41aa-4f0b-8d3c-e2b64f17c3d4";
const KUMA_TOKEN: &str = "Xy12Ab34Cd56Ef78x9z0";

/// An in-process server's env: each item bought at store `demo` alone, a
/// quick loop (50 ms) and a quick heartbeat (every 250 ms, 1 s timeout).
fn env(items: &[&str]) -> Env {
    let mut env = Env::with_catalog(&catalog_on(&["demo"], items));
    let c = &mut env.config;
    c.poll_interval = Duration::from_millis(50);
    c.shutdown_grace = Duration::from_secs(1);
    c.heartbeat_interval = Duration::from_millis(250);
    c.heartbeat_timeout = Duration::from_secs(1);
    c.session_check = Config::default().session_check;
    env
}

/// A child `restock serve`'s env: one item, a free port, a quick loop, and
/// the defaults for everything else.
fn child_env() -> Env {
    let mut env = Env::with_catalog(&catalog_on(&["demo"], &["soap"]));
    let c = &mut env.config;
    c.listen = free_addr();
    c.poll_interval = Duration::from_millis(50);
    c.buy_timeout = Config::default().buy_timeout;
    c.session_check = Config::default().session_check;
    env
}

/// Runs the binary with `env`'s settings and `vars` on top: its exit code
/// and everything it printed.
fn run(env: &Env, vars: &[(&str, &str)], args: &[&str]) -> (i32, String) {
    let out = env
        .command()
        .args(args)
        .envs(vars.iter().copied())
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), output_text(&out))
}

async fn enqueue(running: &Running, item: &str) -> i64 {
    match running
        .db
        .enqueue(item, Some("test"), Duration::ZERO)
        .await
        .unwrap()
    {
        Enqueued::Queued { id } => {
            running.handle.wake();
            id
        }
        other => panic!("not queued: {other:?}"),
    }
}

/// Waits until the switch's records satisfy `pred` (they change only when
/// pings finish, so this polls them).
async fn states_until(
    running: &Running,
    what: &str,
    pred: impl Fn(&[MonitorState]) -> bool,
) -> Vec<MonitorState> {
    let switch = running.heartbeat.as_ref().expect("a heartbeat switch");
    poll(what, || async {
        let states = switch.states();
        pred(&states).then_some(states)
    })
    .await
}

fn gaps(hits: &[Recorded]) -> Vec<Duration> {
    hits.windows(2).map(|w| w[1].at - w[0].at).collect()
}

// ---------------------------------------------------------------------------
// Healthchecks and Uptime Kuma get success pings at the interval while idle
// and while paused, in their own protocol's shape.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_paused_pings_speak_each_monitors_protocol() {
    let hc = Receiver::spawn().await;
    let kuma = Receiver::spawn().await;
    let mut env = env(&["soap"]);
    env.config.heartbeat_url = monitor_urls(&[
        hc.url(&format!("/ping/{HC_UUID}")),
        // As Kuma's UI copies it, with its own query to be replaced.
        kuma.url(&format!("/api/push/{KUMA_TOKEN}?status=up&msg=OK&ping=")),
    ]);
    let running = env.start(ScriptedFactory::noop()).await;

    let hc_path = format!("/ping/{HC_UUID}");
    let idle = hc.wait_n("idle Healthchecks pings", 4, |_| true).await;
    for (i, h) in idle.iter().enumerate() {
        assert_eq!(h.method, "POST");
        assert_eq!(h.path, hc_path);
        assert!(h.query.is_empty(), "{h:?}");
        // The very first tick comes before the loop has read its state.
        let state = if i == 0 { "starting" } else { "idle" };
        assert!(
            h.text()
                .starts_with(&format!("restock: {state}\nqueue: 0 pending")),
            "{h:?}"
        );
    }
    // At the interval (250 ms), not at every loop turn (50 ms); arrival
    // times carry some scheduling jitter.
    for g in gaps(&idle) {
        assert!(
            g >= Duration::from_millis(150),
            "pings {g:?} apart: {idle:#?}"
        );
        assert!(
            g <= Duration::from_millis(1500),
            "pings {g:?} apart: {idle:#?}"
        );
    }
    let kuma_path = format!("/api/push/{KUMA_TOKEN}");
    let idle = kuma.wait_n("idle Kuma pings", 4, |_| true).await;
    for h in &idle {
        assert_eq!(h.method, "GET");
        assert_eq!(h.path, kuma_path);
        assert_eq!(h.q("status"), Some("up"));
        assert!(
            matches!(h.q("msg"), Some("idle, 0 pending" | "starting, 0 pending")),
            "{h:?}"
        );
        assert_eq!(h.params.iter().filter(|(k, _)| k == "status").count(), 1);
        assert!(h.q("ping").is_some());
    }
    // `ping=` carries the previous round trip once there is one.
    assert!(idle[1..]
        .iter()
        .all(|h| h.q("ping").unwrap().parse::<u64>().is_ok()));

    running.db.pause("owner said so".into()).await.unwrap();
    running.handle.wake();
    let paused = hc
        .wait_n("paused Healthchecks pings", 3, |h| {
            h.text().contains("paused: owner said so")
        })
        .await;
    assert!(paused
        .iter()
        .all(|h| h.path == hc_path && h.method == "POST"));
    let paused = kuma
        .wait_n("paused Kuma pings", 3, |h| {
            h.q("msg")
                .is_some_and(|m| m.starts_with("paused: owner said so"))
        })
        .await;
    assert!(paused.iter().all(|h| h.q("status") == Some("up")));

    let (code, body) = health(running.addr).await;
    assert_eq!(code, 200);
    let monitors = body["heartbeat"]["monitors"].as_array().unwrap();
    assert_eq!(monitors.len(), 2);
    assert_eq!(monitors[0]["kind"], "healthchecks");
    assert_eq!(monitors[0]["label"], format!("{}/…/a1b2", hc.addr));
    assert_eq!(monitors[1]["kind"], "uptime-kuma");
    assert_eq!(monitors[1]["label"], format!("{}/…/x9z0", kuma.addr));
    assert_eq!(monitors[0]["failures"], 0);
    assert!(monitors[0]["last_ack"].as_i64().is_some());
    assert!(!body.to_string().contains(HC_UUID) && !body.to_string().contains(KUMA_TOKEN));
    running.stop().await;
}

// ---------------------------------------------------------------------------
// Slow, failing and unreachable monitors never slow the engine.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_failing_and_unreachable_monitors_never_slow_the_engine() {
    let slow = Receiver::answering(Reply::Slow(Duration::from_secs(30))).await;
    let broken = Receiver::answering(Reply::Status(500)).await;
    let kuma = Receiver::answering(KUMA_UNKNOWN).await;
    let dead = free_addr();
    let items = ["a", "b", "c", "d"];
    let mut env = env(&items);
    env.config.heartbeat_interval = Duration::from_millis(100);
    env.config.heartbeat_timeout = Duration::from_millis(1500);
    env.config.heartbeat_url = monitor_urls(&[
        slow.url(&format!("/ping/{HC_UUID}")),
        broken.url("/ping/0000aaaa-1111-2222-3333-444455556666"),
        kuma.url(&format!("/api/push/{KUMA_TOKEN}")),
        format!("http://{dead}/beat/abcdef123456"),
    ]);
    let started = Instant::now();
    let running = env.start(ScriptedFactory::noop()).await;
    let mut rx = running.handle.subscribe();
    let turns = Arc::new(Mutex::new(Vec::<Instant>::new()));
    let recorder = {
        let turns = Arc::clone(&turns);
        let mut rx = running.handle.subscribe();
        tokio::spawn(async move {
            while let Ok(e) = rx.recv().await {
                if matches!(e, Event::Turn(_)) {
                    turns.lock().unwrap().push(Instant::now());
                }
            }
        })
    };

    // Orders are claimed and settled on schedule while every monitor fails.
    for item in items {
        let queued = Instant::now();
        let id = enqueue(&running, item).await;
        assert_eq!(settled(&mut rx, id).await, Status::DryRun);
        assert!(
            queued.elapsed() < Duration::from_secs(1),
            "order {id} took {:?}",
            queued.elapsed()
        );
    }

    let states = states_until(&running, "every monitor failing twice", |s| {
        s.iter().all(|m| m.failures >= 2)
    })
    .await;
    let error = |i: usize| states[i].last_error.clone().unwrap();
    assert_eq!(error(0), "timeout after 1s 500ms");
    assert_eq!(error(1), "HTTP 500: boom");
    assert_eq!(
        error(2),
        "monitor answered ok:false: Monitor not found or not active."
    );
    assert_eq!(error(3), "connection refused");

    // More orders while they keep failing.
    let id = enqueue(&running, "a").await;
    assert_eq!(settled(&mut rx, id).await, Status::DryRun);

    let elapsed = started.elapsed();
    recorder.abort();
    let turns = turns.lock().unwrap().clone();
    assert!(
        turns.len() > 20,
        "only {} turns in {elapsed:?}",
        turns.len()
    );
    let longest = turns.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    assert!(
        longest < Duration::from_millis(1500),
        "a loop turn took {longest:?}, longer than the ping timeout"
    );

    // At most one ping in flight to the slow monitor; the ones that found it
    // busy were skipped, not queued behind it.
    assert_eq!(slow.max_active(), 1);
    let slow_hits = slow.requests().len() as u32;
    let bound = (elapsed.as_millis() / 1500) as u32 + 2;
    assert!(
        slow_hits <= bound,
        "{slow_hits} pings to a slow monitor in {elapsed:?}"
    );
    // The clock advances on failed attempts too: a failing monitor is pinged
    // at the interval (100 ms), not at every turn (50 ms idle, more while
    // buying).
    let broken_hits = broken.requests().len();
    let bound = (elapsed.as_millis() / 100) as usize + 2;
    assert!(
        broken_hits <= bound,
        "{broken_hits} pings to a failing monitor in {elapsed:?}"
    );
    assert!(
        broken_hits * 3 < turns.len() * 2,
        "{broken_hits} pings in {} turns",
        turns.len()
    );
    running.stop().await;
}

// ---------------------------------------------------------------------------
// A buy that stops reporting progress stops the pings; they resume once the
// buy times out.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_buy_stops_the_pings_until_it_times_out() {
    let hc = Receiver::spawn().await;
    let mut env = env(&["coffee"]);
    env.config.heartbeat_interval = Duration::from_millis(100);
    env.config.stall_after = Some(Duration::from_millis(400));
    env.config.buy_timeout = Duration::from_secs(3);
    env.config.heartbeat_url = monitor_urls(&[hc.url(&format!("/ping/{HC_UUID}"))]);
    // Progress every 150 ms for about a second, then silence.
    let mut steps = vec![Step::Enter(Phase::Browsing), Step::Progress];
    for _ in 0..6 {
        steps.push(Step::Stall(Duration::from_millis(150)));
        steps.push(Step::Progress);
    }
    steps.extend([
        Step::Enter(Phase::Cart),
        Step::Progress,
        Step::Stall(Duration::from_secs(60)),
    ]);
    let factory = ScriptedFactory::new(Script {
        steps,
        outcome: Outcome::new(Status::Placed),
    });
    let running = env.start(factory).await;
    let mut rx = running.handle.subscribe();
    hc.wait_n("an idle ping", 1, |_| true).await;

    let id = enqueue(&running, "coffee").await;
    event(&mut rx, "the claim", |e| matches!(e, Event::Claimed { .. })).await;
    let claimed = Instant::now();
    event(&mut rx, "the cart", |e| {
        matches!(
            e,
            Event::Phase {
                phase: Phase::Cart,
                ..
            }
        )
    })
    .await;
    let last_progress = Instant::now();
    let stall_after = Duration::from_millis(400);

    // Beats while the buy makes progress.
    let buying: Vec<Recorded> = hc
        .requests()
        .into_iter()
        .filter(|h| h.at > claimed && h.at <= last_progress)
        .collect();
    assert!(
        buying.len() >= 3,
        "only {} pings during a progressing buy",
        buying.len()
    );
    assert!(
        buying
            .iter()
            .any(|h| h.text().contains("buying order 1 (browsing)")),
        "{buying:#?}"
    );

    // Stalled: /health turns 503 and nothing is sent.
    let body = health_becomes(running.addr, 503).await;
    assert_eq!(body["status"], "stalled");
    assert_eq!(settled(&mut rx, id).await, Status::Failed);
    let timed_out = Instant::now();
    // The loop may turn and ping between the settle and this test seeing
    // it; such a ping already reports the failed order.
    let stalled: Vec<Recorded> = hc
        .requests()
        .into_iter()
        .filter(|h| h.at > last_progress + stall_after && h.at < timed_out)
        .filter(|h| !h.text().contains("last order: 1 coffee failed"))
        .collect();
    assert!(
        stalled.is_empty(),
        "pings while the buy was stalled: {stalled:#?}"
    );
    assert!(
        timed_out - last_progress > Duration::from_secs(1),
        "the stall window was too short to prove anything"
    );

    // The loop turns again: pings resume.
    let after = hc
        .wait_n("pings after the timeout", 2, |h| h.at > timed_out)
        .await;
    assert!(after[0].at - timed_out < Duration::from_secs(1));
    health_becomes(running.addr, 200).await;
    running.stop().await;
}

// ---------------------------------------------------------------------------
// A wedged loop sends nothing, and /health says 503.

/// A probe that blocks the loop while armed (the loop runs it right after
/// its heartbeat tick).
struct Wedge {
    armed: AtomicBool,
    entered: Notify,
    release: Notify,
}

#[async_trait]
impl Probe for Wedge {
    async fn run_if_due(&self, shutdown: &CancellationToken) {
        if !self.armed.load(Ordering::SeqCst) {
            return;
        }
        self.entered.notify_one();
        tokio::select! {
            _ = self.release.notified() => {}
            _ = shutdown.cancelled() => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wedged_engine_falls_silent_and_health_is_503() {
    let hc = Receiver::spawn().await;
    let kuma = Receiver::spawn().await;
    let mut env = env(&["soap"]);
    env.config.heartbeat_interval = Duration::from_millis(100);
    env.config.stall_after = Some(Duration::from_millis(400));
    env.config.heartbeat_url = monitor_urls(&[
        hc.url(&format!("/ping/{HC_UUID}")),
        kuma.url(&format!("/api/push/{KUMA_TOKEN}")),
    ]);
    let wedge = Arc::new(Wedge {
        armed: AtomicBool::new(false),
        entered: Notify::new(),
        release: Notify::new(),
    });
    let mut parts = Parts::new(Arc::new(ScriptedFactory::noop()));
    parts.probe = wedge.clone();
    let running = server::start(&env.config, parts).await.unwrap();
    hc.wait_n("pings before the wedge", 3, |_| true).await;

    wedge.armed.store(true, Ordering::SeqCst);
    within("the loop to reach the wedge", wedge.entered.notified()).await;
    let wedged = Instant::now();
    let body = health_becomes(running.addr, 503).await;
    assert_eq!(body["status"], "stalled");
    assert!(body["silent_ms"].as_i64().unwrap() >= 400);
    // Observe well past many intervals: nothing but a ping already in
    // flight when the loop wedged.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for r in [&hc, &kuma] {
        let late: Vec<Recorded> = r
            .requests()
            .into_iter()
            .filter(|h| h.at > wedged + Duration::from_millis(150))
            .collect();
        assert!(late.is_empty(), "pings from a wedged loop: {late:#?}");
    }

    wedge.armed.store(false, Ordering::SeqCst);
    wedge.release.notify_one();
    let released = Instant::now();
    hc.wait_n("pings after the wedge", 1, |h| h.at > released)
        .await;
    kuma.wait_n("pings after the wedge", 1, |h| h.at > released)
        .await;
    health_becomes(running.addr, 200).await;
    running.stop().await;
}

// ---------------------------------------------------------------------------
// RESTOCK_HEARTBEAT_PAUSED=fail: /fail and status=down with the reason while
// paused, success again after resume.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_with_fail_says_down_with_the_reason_until_resumed() {
    let hc = Receiver::spawn().await;
    let kuma = Receiver::spawn().await;
    let mut env = env(&["soap"]);
    env.config.heartbeat_paused = restock::config::PausedPing::Fail;
    // A long interval: what follows must arrive because the message changed,
    // not because the clock ran out.
    env.config.heartbeat_interval = Duration::from_secs(30);
    env.config.stall_after = Some(Duration::from_secs(60));
    env.config.heartbeat_url = monitor_urls(&[
        hc.url(&format!("/ping/{HC_UUID}")),
        kuma.url(&format!("/api/push/{KUMA_TOKEN}")),
    ]);
    let factory = ScriptedFactory::new(Script::ends(
        Outcome::new(Status::Challenge).message("a captcha"),
    ));
    let running = env.start(factory).await;
    let mut rx = running.handle.subscribe();
    let hc_path = format!("/ping/{HC_UUID}");
    hc.wait_n("the first ping", 1, |h| h.path == hc_path).await;
    kuma.wait_n("the first ping", 1, |h| h.q("status") == Some("up"))
        .await;

    let id = enqueue(&running, "soap").await;
    assert_eq!(settled(&mut rx, id).await, Status::Challenge);
    let fail = hc
        .wait_n("/fail while paused", 1, |h| {
            h.path == format!("{hc_path}/fail")
        })
        .await;
    assert_eq!(fail[0].method, "POST");
    assert!(
        fail[0]
            .text()
            .starts_with("restock: paused: order 1 (soap) ended as challenge: a captcha"),
        "{:?}",
        fail[0].text()
    );
    let down = kuma
        .wait_n("status=down while paused", 1, |h| {
            h.q("status") == Some("down")
        })
        .await;
    assert!(down[0]
        .q("msg")
        .unwrap()
        .starts_with("paused: order 1 (soap) ended as challenge: a captcha"));
    states_until(&running, "the /fail recorded", |s| {
        s[0].last_said == Some(restock::model::Say::Down)
    })
    .await;
    let (code, body) = health(running.addr).await;
    assert_eq!(code, 200, "paused but alive: {body}");
    assert_eq!(body["heartbeat"]["monitors"][0]["last_said"], "down");

    let resumed = Instant::now();
    let resp = reqwest::Client::new()
        .post(format!("http://{}/resume", running.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let ok = hc
        .wait_n("success after resume", 1, |h| {
            h.at > resumed && h.path == hc_path
        })
        .await;
    assert!(ok[0].text().starts_with("restock: "), "{:?}", ok[0].text());
    assert!(!ok[0].text().contains("paused"), "{:?}", ok[0].text());
    kuma.wait_n("status=up after resume", 1, |h| {
        h.at > resumed && h.q("status") == Some("up")
    })
    .await;
    running.stop().await;
}

// ---------------------------------------------------------------------------
// The order check sees every buy start and end.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_order_check_sees_each_buy_start_and_end() {
    let orders = Receiver::spawn().await;
    let mut env = env(&["good", "bad"]);
    env.config.dry_run = false;
    env.config.order_check_url = Some(
        orders
            .url(&format!("/ping/{HC_ORDERS_UUID}"))
            .parse()
            .unwrap(),
    );
    let factory = ScriptedFactory::new(Script::placed(Money(999)));
    let running = env.start(factory.clone()).await;
    let mut rx = running.handle.subscribe();
    let base = format!("/ping/{HC_ORDERS_UUID}");

    let good = enqueue(&running, "good").await;
    assert_eq!(settled(&mut rx, good).await, Status::Placed);
    factory.push(
        "demo",
        Script::ends(Outcome::new(Status::Unavailable).message("out of stock")),
    );
    let bad = enqueue(&running, "bad").await;
    assert_eq!(settled(&mut rx, bad).await, Status::Unavailable);

    let hits = orders.wait_n("four order-check pings", 4, |_| true).await;
    assert!(hits.iter().all(|h| h.method == "POST"));
    let rid = |h: &Recorded| h.q("rid").unwrap().to_string();
    assert_eq!(hits[0].path, format!("{base}/start"));
    assert!(
        rid(&hits[0]).ends_with(&format!("-{good:012}")),
        "{:?}",
        hits[0]
    );
    assert!(
        hits[0].text().starts_with(&format!("order {good} (good)")),
        "{:?}",
        hits[0].text()
    );
    assert_eq!(hits[1].path, base);
    assert_eq!(rid(&hits[1]), rid(&hits[0]));
    assert!(
        hits[1].text().contains("placed") && hits[1].text().contains("total 9.99"),
        "{:?}",
        hits[1].text()
    );
    assert_eq!(hits[2].path, format!("{base}/start"));
    assert!(rid(&hits[2]).ends_with(&format!("-{bad:012}")));
    assert_ne!(rid(&hits[2]), rid(&hits[0]));
    assert_eq!(hits[3].path, format!("{base}/fail"));
    assert_eq!(rid(&hits[3]), rid(&hits[2]));
    assert!(
        hits[3].text().contains("unavailable") && hits[3].text().contains("out of stock"),
        "{:?}",
        hits[3].text()
    );
    for h in &hits {
        let r = rid(h);
        assert_eq!(r.len(), 36);
        assert!(r
            .chars()
            .all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }
    let states = running.heartbeat.as_ref().unwrap().states();
    assert_eq!(states.len(), 1);
    assert_eq!(states[0].label, format!("{}/…/c3d4", orders.addr));
    running.stop().await;
}

// ---------------------------------------------------------------------------
// systemd: READY=1, periodic WATCHDOG=1 and STOPPING=1 on a real
// NOTIFY_SOCKET.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn systemd_hears_ready_watchdog_and_stopping() {
    let env = child_env();
    let socket_path: PathBuf = env.path().join("notify.sock");
    let socket = tokio::net::UnixDatagram::bind(&socket_path).unwrap();
    let socket_var = socket_path.display().to_string();
    let mut serve = env.serve(
        "systemd",
        &[("NOTIFY_SOCKET", &socket_var), ("WATCHDOG_USEC", "800000")],
    );

    let mut messages: Vec<(Instant, String)> = Vec::new();
    let next = || notification(&socket);
    // READY=1 comes once serving, with the engine's state.
    loop {
        let m = next().await;
        let ready = m.1.lines().any(|l| l == "READY=1");
        messages.push(m);
        if ready {
            break;
        }
    }
    let ready = messages.last().unwrap().1.clone();
    assert!(ready.lines().any(|l| l.starts_with("STATUS=")), "{ready:?}");
    // Periodic WATCHDOG=1 from the loop's ticks.
    let mut watchdogs = Vec::new();
    while watchdogs.len() < 5 {
        let m = next().await;
        if m.1.lines().any(|l| l == "WATCHDOG=1") {
            watchdogs.push(m.0);
        }
        messages.push(m);
    }
    for w in watchdogs.windows(2) {
        let gap = w[1] - w[0];
        // At most every WATCHDOG_USEC/4, and well within WATCHDOG_USEC.
        assert!(
            gap >= Duration::from_millis(150),
            "WATCHDOG=1 {gap:?} apart"
        );
        assert!(gap < Duration::from_millis(800), "WATCHDOG=1 {gap:?} apart");
    }
    assert!(
        messages.iter().any(|(_, m)| m.contains("STATUS=idle")),
        "{messages:#?}"
    );

    serve.signal(libc::SIGTERM);
    loop {
        let (_, m) = next().await;
        if m.lines().any(|l| l == "STOPPING=1") {
            break;
        }
    }
    let status = serve.exit(PATIENCE).await;
    assert!(status.success(), "restock serve failed: {}", serve.log());
}

/// The next datagram on the notify socket, with its arrival time.
async fn notification(socket: &tokio::net::UnixDatagram) -> (Instant, String) {
    let mut buf = vec![0u8; 4096];
    let n = within(
        "a message from restock on NOTIFY_SOCKET",
        socket.recv(&mut buf),
    )
    .await
    .unwrap();
    (
        Instant::now(),
        String::from_utf8_lossy(&buf[..n]).into_owned(),
    )
}

// ---------------------------------------------------------------------------
// `restock status`, the logs and the database never show a monitor URL
// whole.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_logs_and_database_never_show_a_monitor_secret() {
    let hc = Receiver::answering(Reply::Status(404)).await;
    let kuma = Receiver::answering(KUMA_UNKNOWN).await;
    let orders = Receiver::answering(Reply::Status(500)).await;
    let dead = free_addr();
    let get_token = "s3cr3tG3tT0k3nQwErTy";
    let secrets = [HC_UUID, KUMA_TOKEN, HC_ORDERS_UUID, get_token];
    let env = child_env();
    let urls = [
        hc.url(&format!("/ping/{HC_UUID}")),
        kuma.url(&format!("/api/push/{KUMA_TOKEN}?status=up&msg=OK&ping=")),
        format!("http://{dead}/beat?token={get_token}"),
    ]
    .join(",");
    let order_check = orders.url(&format!("/ping/{HC_ORDERS_UUID}"));
    let vars = [
        ("RESTOCK_HEARTBEAT_URL", urls.as_str()),
        ("RESTOCK_ORDER_CHECK_URL", order_check.as_str()),
        ("RESTOCK_HEARTBEAT_INTERVAL", "100ms"),
        ("RESTOCK_HEARTBEAT_TIMEOUT", "1s"),
        ("RESTOCK_HEARTBEAT_PAUSED", "fail"),
        ("RESTOCK_LOG", "debug"),
    ];
    let mut serve = env.serve("secrets", &vars);
    hc.wait_n("pings", 2, |_| true).await;

    // An order fails (no browser purchaser is built in yet) and pauses the
    // engine: the order check hears start and fail, the heartbeats /fail.
    let (code, enqueued) = run(&env, &vars, &["enqueue", "soap"]);
    assert_eq!(code, 0, "{enqueued}");
    orders
        .wait_n("order check start and end", 2, |_| true)
        .await;
    hc.wait_n("/fail while paused", 2, |h| h.path.ends_with("/fail"))
        .await;
    kuma.wait_n("status=down while paused", 2, |h| {
        h.q("status") == Some("down")
    })
    .await;

    let (code, status) = run(&env, &vars, &["status"]);
    assert_eq!(code, 0, "{status}");
    let (code, status_json) = run(&env, &vars, &["status", "--json"]);
    assert_eq!(code, 0, "{status_json}");
    serve.signal(libc::SIGTERM);
    let ok = serve.exit(PATIENCE).await.success();
    let logs = serve.log();
    assert!(ok, "restock serve failed: {logs}");

    // A bad URL is refused at start-up without being printed whole.
    let bad_url = format!("hc-ping.com/{HC_UUID}");
    let mut bad_vars = vars;
    bad_vars[0] = ("RESTOCK_HEARTBEAT_URL", bad_url.as_str());
    let (code, refused) = run(&env, &bad_vars, &["status"]);
    assert_eq!(code, 2, "{refused}");
    assert!(refused.contains("RESTOCK_HEARTBEAT_URL"), "{refused}");

    // What the owner sees: labels, failures, reasons.
    let hc_label = format!("{}/…/a1b2", hc.addr);
    let kuma_label = format!("{}/…/x9z0", kuma.addr);
    let get_label = format!("{dead}/…/ErTy");
    let orders_label = format!("{}/…/c3d4 (order check)", orders.addr);
    for label in [&hc_label, &kuma_label, &get_label, &orders_label] {
        assert!(status.contains(label.as_str()), "no {label} in:\n{status}");
    }
    assert!(
        status.contains(&format!("Heartbeat  {hc_label}  sent ")),
        "{status}"
    );
    assert!(status.contains("FAILING ("), "{status}");
    assert!(status.contains("in a row): HTTP 404: boom"), "{status}");
    assert!(status.contains("in a row): connection refused"), "{status}");
    assert!(
        status.contains("in a row): monitor answered ok:false"),
        "{status}"
    );
    let json: serde_json::Value = serde_json::from_str(&status_json).unwrap();
    assert_eq!(json["heartbeat"].as_array().unwrap().len(), 4);
    assert!(logs.contains("heartbeat ping failed"), "{logs}");
    assert!(logs.contains(&hc_label), "{logs}");

    for (name, text) in [
        ("restock status", &status),
        ("restock status --json", &status_json),
        ("restock enqueue", &enqueued),
        ("restock serve logs", &logs),
        ("the config error", &refused),
    ] {
        for secret in secrets {
            assert!(
                !text.contains(secret),
                "{name} shows the secret {secret}:\n{text}"
            );
        }
    }
    // The database keeps labels only.
    let mut db = Vec::new();
    for file in ["restock.db", "restock.db-wal"] {
        db.extend(std::fs::read(env.config.state_dir.join(file)).unwrap_or_default());
    }
    assert!(!db.is_empty());
    let db = String::from_utf8_lossy(&db);
    for secret in secrets {
        assert!(
            !db.contains(secret),
            "the database holds the secret {secret}"
        );
    }
}

// ---------------------------------------------------------------------------
// The monitor record in the database: good pings that say the same thing
// are written at most every SAVE_AT_LEAST; a failure, and the recovery
// after it, at once.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn good_pings_are_recorded_sparingly_failures_at_once() {
    let r = Receiver::spawn().await;
    let mut env = env(&["soap"]);
    env.config.heartbeat_url = monitor_urls(&[r.url("/beat")]);
    let running = env
        .start(ScriptedFactory::new(Script::placed(Money(100))))
        .await;
    let record = || async {
        let all = running.db.monitors().await.unwrap();
        all.into_iter().next().filter(|m| m.last_sent.is_some())
    };

    // The first ping's record (its save ends before the next ping leaves).
    r.wait_n("two pings", 2, |_| true).await;
    let first = record().await.expect("the first ping is recorded");
    assert_eq!(first.failures, 0);
    r.wait_n("six pings", 6, |_| true).await;
    let later = record().await.unwrap();
    assert_eq!(
        later.last_sent,
        first.last_sent,
        "four more good pings, none written (SAVE_AT_LEAST is {:?})",
        restock::heartbeat::SAVE_AT_LEAST
    );

    // A failure is written with the next ping.
    r.set_default(Reply::Status(500));
    let failing = r.requests().len();
    r.wait_n("two failed pings", failing + 2, |_| true).await;
    let failed = record().await.unwrap();
    assert!(failed.failures >= 1, "{failed:?}");
    assert!(failed.last_error.unwrap().contains("500"));

    // And so is the recovery.
    r.set_default(Reply::Status(200));
    let answering = r.requests().len();
    r.wait_n("two good pings", answering + 2, |_| true).await;
    let back = record().await.unwrap();
    assert_eq!((back.failures, back.last_error), (0, None));
    running.stop().await;
}
