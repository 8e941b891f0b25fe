//! The session-freshness probe through the purchaser contract, with the
//! scripted purchaser and real HTTP receivers on 127.0.0.1.
//!
//! The same items against real Chromium and the demo store live in
//! `tests/probe_browser.rs`.

mod support;

use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveTime;
use restock::config::Config;
use restock::db::Db;
use restock::engine::{Event, Handle};
use restock::model::{Money, Phase, Status};
use restock::model::{SessionCheck, SessionState};
use restock::notify::Notifier;
use restock::probe::schedule::{self, Schedule};
use restock::probe::{Gate, ProbeSettings, SessionProbe, Stores, Window};
use restock::purchase::scripted::{Script, Step};
use support::db::backdate_session_notices;
use support::engine::{engine_on, Looping, TestFactory};
use support::env::Env;
use support::intake::{get_json, json_of};
use support::receivers::{notifier, Receiver};
use support::wait::{poll, until, within};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

fn probe_settings() -> ProbeSettings {
    ProbeSettings {
        timeout: Duration::from_secs(5),
        remind: Duration::from_secs(24 * 3600),
        recheck: Duration::from_millis(50),
    }
}

fn fixed(stores: &[&str]) -> Stores {
    Stores::Fixed(stores.iter().map(|s| s.to_string()).collect())
}

/// A probe of store `demo` that tells nobody, on the engine with `handle`.
fn probe_on(
    handle: &Arc<Handle>,
    db: Db,
    factory: Arc<TestFactory>,
    gate: Gate,
    settings: ProbeSettings,
) -> Arc<SessionProbe> {
    Arc::new(
        SessionProbe::new(
            db,
            factory,
            Notifier::none(),
            fixed(&["demo"]),
            gate,
            settings,
        )
        .with_handle(handle.clone()),
    )
}

/// Signed in -> signed out: one notification; further probes in
/// the remind period: none; after it: one reminder; back: one "back".
#[tokio::test]
async fn transitions_notify_once_remind_at_a_bounded_rate_and_say_back() {
    let dir = tempfile::tempdir().unwrap();
    let factory = TestFactory::new(Script::placed(Money(100)));
    let db = Db::open(&dir.path().join("restock.db")).unwrap();
    let r = Receiver::spawn().await;
    let probe = SessionProbe::new(
        db.clone(),
        factory.clone(),
        notifier(&[r.hook()]),
        fixed(&["demo"]),
        Gate::open(),
        probe_settings(),
    );
    let none = CancellationToken::new();
    let events = |r: &Receiver| -> Vec<String> {
        r.requests()
            .iter()
            .map(|q| q.json()["event"].as_str().unwrap().to_string())
            .collect()
    };

    let res = probe.probe_all(&none).await;
    assert_eq!(res[0].check.state, SessionState::SignedIn);
    probe.flush().await;
    assert_eq!(r.count(), 0, "signed in from the start tells nothing");

    factory
        .scripted
        .set_session("demo", SessionState::SignedOut);
    let res = probe.probe_all(&none).await;
    assert_eq!(res[0].check.state, SessionState::SignedOut);
    probe.flush().await;
    assert_eq!(events(&r), ["signed_out"]);
    let told = &r.requests()[0].json();
    assert_eq!(
        told["message"],
        "demo needs you to sign in: run `restock login demo`. Orders for demo skip it until then."
    );
    assert_eq!(told["store"], "demo");

    for _ in 0..3 {
        probe.probe_all(&none).await;
    }
    probe.flush().await;
    assert_eq!(r.count(), 1, "no more within the remind period");

    // The remind period passes (moved back in the database, not waited).
    backdate_session_notices(&db, Duration::from_secs(24 * 3600)).await;
    probe.probe_all(&none).await;
    probe.probe_all(&none).await;
    probe.flush().await;
    assert_eq!(events(&r), ["signed_out", "reminder"]);

    factory.scripted.set_session("demo", SessionState::SignedIn);
    probe.probe_all(&none).await;
    probe.probe_all(&none).await;
    probe.flush().await;
    assert_eq!(events(&r), ["signed_out", "reminder", "signed_in"]);
    let row = db.session("demo").await.unwrap().unwrap();
    assert_eq!(row.state, SessionState::SignedIn);
    assert_eq!(factory.made(), factory.dropped(), "every purchaser closed");
}

/// A probe that comes due during a buy runs after it; an order arriving
/// during a probe is claimed after it.
#[tokio::test]
async fn the_probe_never_overlaps_a_buy() {
    let dir = tempfile::tempdir().unwrap();
    let hold_buy = Arc::new(Notify::new());
    let factory = TestFactory::new(Script::until(
        Phase::Browsing,
        Step::WaitFor(hold_buy.clone()),
    ));
    let (engine, db) = engine_on(dir.path(), factory.clone(), &["demo"]);
    let handle = engine.handle();
    let probe = probe_on(
        &handle,
        db.clone(),
        factory.clone(),
        Gate::open(),
        probe_settings(),
    );
    let mut rig = Looping::start(engine.with_probe(probe.clone()));
    let events = &mut rig.events;
    until(events, "idle", |e| *e == Event::Idle).await;

    // A buy is under way when the probe comes due.
    let id = match db.enqueue("towels", None, Duration::ZERO).await.unwrap() {
        restock::db::Enqueued::Queued { id } => id,
        other => panic!("{other:?}"),
    };
    handle.wake();
    until(events, "browsing", |e| {
        matches!(
            e,
            Event::Phase {
                phase: Phase::Browsing,
                ..
            }
        )
    })
    .await;
    probe.mark_due();
    assert_eq!(factory.made(), 1, "only the buy's purchaser");
    hold_buy.notify_one();
    let seen = until(events, "the probe", |e| matches!(e, Event::Probed { .. })).await;
    let settled = seen
        .iter()
        .position(|e| matches!(e, Event::Settled { id: i, .. } if *i == id))
        .expect("the buy settled before the probe ran");
    let probed = seen.len() - 1;
    assert!(settled < probed, "{seen:?}");

    // An order arriving while a probe runs waits for it.
    let hold_check = Arc::new(Notify::new());
    *factory.hold.lock().unwrap() = Some(hold_check.clone());
    factory.scripted.push("demo", Script::placed(Money(100)));
    probe.mark_due();
    factory.wait_checks(2).await;
    let second = match db.enqueue("towels", None, Duration::ZERO).await.unwrap() {
        restock::db::Enqueued::Queued { id } => id,
        other => panic!("{other:?}"),
    };
    handle.wake();
    hold_check.notify_one();
    let seen = until(
        events,
        "the second order",
        |e| matches!(e, Event::Settled { id, .. } if *id == second),
    )
    .await;
    let probed = seen
        .iter()
        .position(|e| matches!(e, Event::Probed { .. }))
        .unwrap_or_else(|| panic!("probed: {seen:?}"));
    let claimed = seen
        .iter()
        .position(|e| matches!(e, Event::Claimed { id } if *id == second))
        .unwrap_or_else(|| panic!("claimed: {seen:?}"));
    assert!(probed < claimed, "{seen:?}");

    rig.stop().await;
}

/// Cron and interval schedules mark the probe due at their time.
#[tokio::test]
async fn cron_and_interval_schedules_mark_the_probe_due() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let mark = {
        let tx = tx.clone();
        Arc::new(move || {
            let _ = tx.send(Instant::now());
        })
    };
    // Interval: every 2 s; the first mark comes after about 2 s, not before
    // 1 s (the scheduler counts whole seconds).
    let started = Instant::now();
    let every = schedule::start(&Schedule::parse("2s").unwrap(), mark.clone())
        .await
        .unwrap()
        .expect("scheduled");
    let first = within("the first mark", rx.recv()).await.unwrap();
    let second = within("the second mark", rx.recv()).await.unwrap();
    every.shutdown().await;
    let after = first - started;
    assert!(
        after >= Duration::from_millis(900),
        "marked after {after:?}"
    );
    assert!(
        second - first >= Duration::from_millis(900),
        "{:?}",
        second - first
    );
    while rx.try_recv().is_ok() {}

    // Cron: at one named second, in local time. The mark must not come
    // before that second begins.
    let now = chrono::Local::now();
    let target = now + chrono::Duration::seconds(3);
    let expr = format!("{} * * * * *", chrono::Timelike::second(&target));
    let cron = schedule::start(&Schedule::parse(&expr).unwrap(), mark.clone())
        .await
        .unwrap()
        .expect("scheduled");
    within("the cron mark", rx.recv()).await.unwrap();
    let at = chrono::Local::now();
    cron.shutdown().await;
    let boundary = target.timestamp();
    assert!(
        at.timestamp() >= boundary,
        "marked at {at}, before {target}"
    );
    assert!(
        at.timestamp() - boundary <= 5,
        "marked at {at}, long after {target}"
    );

    // Every second, through the probe into a running engine: probes follow.
    let dir = tempfile::tempdir().unwrap();
    let factory = TestFactory::new(Script::placed(Money(100)));
    let (engine, db) = engine_on(dir.path(), factory.clone(), &["demo"]);
    let handle = engine.handle();
    let probe = probe_on(&handle, db, factory.clone(), Gate::open(), probe_settings());
    let mut rig = Looping::start(engine.with_probe(probe.clone()));
    let events = &mut rig.events;
    let scheduled = probe
        .schedule(&Schedule::parse("*/1 * * * * *").unwrap())
        .await
        .unwrap()
        .unwrap();
    until(events, "a probe", |e| matches!(e, Event::Probed { .. })).await;
    until(events, "another probe", |e| {
        matches!(e, Event::Probed { .. })
    })
    .await;
    scheduled.shutdown().await;
    rig.stop().await;

    assert!(schedule::start(&Schedule::Off, mark)
        .await
        .unwrap()
        .is_none());
}

#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Outside the window the probe waits and runs within seconds of
/// the window opening; a failing idle command counts as "not idle" and is
/// logged.
#[tokio::test]
async fn the_gate_holds_a_due_probe_until_it_opens() {
    let logs = Logs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer({
            let logs = logs.clone();
            move || logs.clone()
        })
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let dir = tempfile::tempdir().unwrap();
    let idle_file = dir.path().join("idle-ms");
    let clock = Arc::new(Mutex::new(NaiveTime::from_hms_opt(7, 58, 0).unwrap()));
    let gate = Gate::new(
        Window::parse("08:00-22:00").unwrap(),
        Some(format!("cat {}", idle_file.display())),
        Duration::from_secs(60),
    )
    .with_clock({
        let clock = clock.clone();
        Arc::new(move || *clock.lock().unwrap())
    });
    let factory = TestFactory::new(Script::placed(Money(100)));
    let (engine, db) = engine_on(dir.path(), factory.clone(), &["demo"]);
    let handle = engine.handle();
    let probe = probe_on(&handle, db, factory.clone(), gate, probe_settings());
    let mut rig = Looping::start(engine.with_probe(probe.clone()));
    let events = &mut rig.events;
    probe.mark_due();

    // Outside the window: deferred, and re-checked on its own (no wake
    // from the test), without a purchaser being made.
    for _ in 0..3 {
        let seen = until(events, "a deferral", |e| {
            matches!(e, Event::ProbeDeferred { .. })
        })
        .await;
        let Some(Event::ProbeDeferred { reason }) = seen.last() else {
            unreachable!()
        };
        assert!(
            reason.contains("outside the window 08:00-22:00"),
            "{reason}"
        );
    }
    assert_eq!(factory.made(), 0);
    assert!(probe.is_due());

    // In the window, but the idle command fails (no file): not idle, logged.
    *clock.lock().unwrap() = NaiveTime::from_hms_opt(8, 0, 0).unwrap();
    for _ in 0..2 {
        let seen = until(events, "an idle deferral", |e| {
            matches!(e, Event::ProbeDeferred { reason } if reason.contains("idle command failed"))
        })
        .await;
        assert!(!seen.iter().any(|e| matches!(e, Event::Probed { .. })));
    }
    assert_eq!(factory.made(), 0);
    let logged = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(
        logged.contains("RESTOCK_SESSION_CHECK_IDLE_CMD failed") && logged.contains("cat "),
        "{logged}"
    );
    assert_eq!(
        logged
            .matches("RESTOCK_SESSION_CHECK_IDLE_CMD failed")
            .count(),
        1,
        "logged once, not per re-check"
    );

    // Idle long enough: it runs within seconds, by itself.
    std::fs::write(&idle_file, "120000\n").unwrap();
    let opened = Instant::now();
    until(events, "the probe", |e| matches!(e, Event::Probed { .. })).await;
    assert!(
        opened.elapsed() < Duration::from_secs(5),
        "{:?}",
        opened.elapsed()
    );
    assert!(!probe.is_due());
    assert_eq!(factory.made(), 1);

    rig.stop().await;
}

/// A probe that hangs is `unknown` after its timeout, its
/// timestamp advances, its purchaser is dropped, and the engine carries on.
#[tokio::test]
async fn a_hanging_probe_is_unknown_after_its_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let factory = TestFactory::new(Script::placed(Money(100)));
    factory.hang.store(true, Ordering::SeqCst);
    let (engine, db) = engine_on(dir.path(), factory.clone(), &["demo"]);
    db.record_session_check(
        "demo",
        SessionCheck::known(SessionState::SignedIn),
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    let handle = engine.handle();
    let settings = ProbeSettings {
        timeout: Duration::from_millis(300),
        ..probe_settings()
    };
    let probe = probe_on(&handle, db.clone(), factory.clone(), Gate::open(), settings);
    let mut rig = Looping::start(engine.with_probe(probe.clone()));
    let events = &mut rig.events;
    let before = restock::model::now_ms();
    probe.mark_due();
    until(events, "the unknown result", |e| {
        *e == Event::Probed {
            store: "demo".into(),
            state: SessionState::Unknown,
        }
    })
    .await;
    assert_eq!(factory.made(), 1);
    assert_eq!(factory.dropped(), 1, "the purchaser (browser) was closed");
    let row = db.session("demo").await.unwrap().unwrap();
    assert_eq!(row.last_result, Some(SessionState::Unknown));
    assert_eq!(
        row.state,
        SessionState::SignedIn,
        "unknown keeps the last known state"
    );
    assert!(row.checked_at.unwrap() >= before);
    assert!(
        row.last_error
            .as_deref()
            .unwrap()
            .contains("RESTOCK_SESSION_CHECK_TIMEOUT"),
        "{row:?}"
    );
    assert!(db.probe_last_run().await.unwrap().unwrap() >= before);

    // The engine carries on: the next order is bought.
    factory.hang.store(false, Ordering::SeqCst);
    db.enqueue("towels", None, Duration::ZERO).await.unwrap();
    handle.wake();
    until(events, "the order", |e| {
        matches!(
            e,
            Event::Settled {
                status: Status::DryRun,
                ..
            }
        )
    })
    .await;
    rig.stop().await;
}

/// A buy for a store known signed out launches no browser; with a
/// second source it moves on to that one.
#[tokio::test]
async fn a_store_known_signed_out_is_skipped_without_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    let factory = TestFactory::new(Script::placed(Money(100)));
    let (engine, db) = engine_on(dir.path(), factory.clone(), &["demo"]);
    let out = SessionCheck::known(SessionState::SignedOut);
    db.record_session_check("demo", out.clone(), Duration::from_secs(60))
        .await
        .unwrap();
    let mut rig = Looping::start(engine);
    let (status, seen) = rig.order(&db, "towels").await;
    assert_eq!(status, Status::SigninRequired, "{seen:?}");
    assert_eq!(factory.made(), 0, "no browser for a store known signed out");
    let order = &db.recent(None, 1).await.unwrap()[0];
    assert!(
        order
            .message
            .as_deref()
            .unwrap()
            .contains("restock login demo"),
        "{order:?}"
    );
    rig.stop().await;

    // Two sources: the signed-out one is skipped, the next one buys.
    let dir = tempfile::tempdir().unwrap();
    let factory = TestFactory::new(Script::placed(Money(100)));
    let (engine, db) = engine_on(dir.path(), factory.clone(), &["demo", "corner"]);
    db.record_session_check("demo", out, Duration::from_secs(60))
        .await
        .unwrap();
    let mut rig = Looping::start(engine);
    let (status, seen) = rig.order(&db, "towels").await;
    assert_eq!(status, Status::DryRun, "{seen:?}");
    assert_eq!(factory.made(), 1);
    assert_eq!(
        db.recent(None, 1).await.unwrap()[0].store.as_deref(),
        Some("corner")
    );

    // `restock login demo` clears it.
    db.mark_signed_in("demo").await.unwrap();
    assert_eq!(
        db.session("demo").await.unwrap().unwrap().state,
        SessionState::SignedIn
    );
    rig.stop().await;
}

/// A buy that meets the sign-in wall marks the store signed out, so the
/// next order for it launches no browser.
#[tokio::test]
async fn a_buy_meeting_the_sign_in_wall_marks_the_store_signed_out() {
    let dir = tempfile::tempdir().unwrap();
    let factory = TestFactory::new(Script::ends(
        restock::model::Outcome::new(Status::SigninRequired).message("the sign-in page"),
    ));
    let (engine, db) = engine_on(dir.path(), factory.clone(), &["demo"]);
    let mut rig = Looping::start(engine);
    let (handle, events) = (rig.handle.clone(), &mut rig.events);
    db.enqueue("towels", None, Duration::ZERO).await.unwrap();
    handle.wake();
    until(events, "settled", |e| {
        matches!(
            e,
            Event::Settled {
                status: Status::SigninRequired,
                ..
            }
        )
    })
    .await;
    assert_eq!(factory.made(), 1);
    let row = db.session("demo").await.unwrap().unwrap();
    assert_eq!(row.state, SessionState::SignedOut);
    assert!(row.notified_at.is_some(), "the pause tells the owner");
    db.resume().await.unwrap();
    db.retry(1).await.unwrap();
    handle.wake();
    until(events, "settled again", |e| {
        matches!(
            e,
            Event::Settled {
                status: Status::SigninRequired,
                ..
            }
        )
    })
    .await;
    assert_eq!(factory.made(), 1, "no second browser");
    rig.stop().await;
}

/// The server wires it: due at start-up (never ran), probes the stores with
/// a profile directory, and shows them in `/health` (next to the
/// heartbeat's part) and `GET /stores`
/// (token-protected); `restock status` prints the Session line.
#[tokio::test]
async fn serve_probes_profiles_and_shows_sessions() {
    let env = Env::with_catalog(
        "[[item]]\nid = \"towels\"\nname = \"Towels\"\n[[item.source]]\nstore = \"demo\"\nurl = \"http://127.0.0.1:1/p/towels\"\n[[item.source]]\nstore = \"corner\"\nurl = \"http://127.0.0.1:1/p/towels\"\n",
    );
    let state = &env.config.state_dir;
    std::fs::create_dir_all(state.join("profiles/demo")).unwrap();
    let monitor = Receiver::spawn().await;
    let vars: Vec<(String, String)> = [
        ("RESTOCK_STATE_DIR", state.display().to_string()),
        ("RESTOCK_CATALOG", env.config.catalog.display().to_string()),
        ("RESTOCK_LISTEN", "127.0.0.1:0".into()),
        ("RESTOCK_INTAKE_TOKEN", "sekrit".into()),
        ("RESTOCK_SESSION_CHECK", "1h".into()),
        ("RESTOCK_SESSION_CHECK_WINDOW", "".into()),
        (
            "RESTOCK_HEARTBEAT_URL",
            format!("{}/ping/beat", monitor.base()),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let config = Config::load_from(None, &vars).unwrap();
    let factory = TestFactory::new(Script::placed(Money(100)));
    factory
        .scripted
        .set_session("demo", SessionState::SignedOut);
    let mut parts = restock::server::Parts::new(factory.clone());
    parts.session_probe = true;
    let running = restock::server::start(&config, parts).await.unwrap();
    // The start-up probe may be done before a subscriber could see its
    // event: wait for its record instead.
    let db = running.db.clone();
    poll("the start-up probe's record", || {
        let db = db.clone();
        async move {
            let rows = db.sessions().await.unwrap();
            rows.iter()
                .any(|r| r.store == "demo" && r.state == SessionState::SignedOut)
                .then_some(())
        }
    })
    .await;

    let client = reqwest::Client::new();
    let base = format!("http://{}", running.addr);
    let denied = client.get(format!("{base}/stores")).send().await.unwrap();
    assert_eq!(denied.status(), 401);
    let stores = json_of(client.get(format!("{base}/stores")).bearer_auth("sekrit")).await;
    assert_eq!(stores[0]["store"], "corner");
    assert_eq!(stores[0]["state"], "unknown");
    assert_eq!(stores[1]["store"], "demo");
    assert_eq!(stores[1]["state"], "signed_out");
    let health = get_json(&client, &format!("{base}/health")).await;
    assert_eq!(
        health["sessions"]["demo"]["state"], "signed_out",
        "{health}"
    );
    running.stop().await;

    let out = env
        .command()
        .arg("status")
        .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with("Session"))
        .expect(&stdout);
    assert!(
        line.contains("demo") && line.contains("SIGNED OUT") && line.contains("restock login demo"),
        "{line}"
    );
    assert!(
        line.contains("checked 0s ago") || line.contains("checked 1s ago"),
        "{line}"
    );
}

#[test]
fn bad_schedule_and_window_fail_config_with_what_is_expected() {
    let load = |k: &str, v: &str| Config::load_from(None, &[(k.to_string(), v.to_string())]);
    let e = load("RESTOCK_SESSION_CHECK", "0 0 25 * * *")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("RESTOCK_SESSION_CHECK:") && e.contains("0 0 25 * * *") && e.contains("`3h`"),
        "{e}"
    );
    let e = load("RESTOCK_SESSION_CHECK", "whenever")
        .unwrap_err()
        .to_string();
    assert!(e.contains("cron expression"), "{e}");
    let e = load("RESTOCK_SESSION_CHECK_WINDOW", "8am-10pm")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("RESTOCK_SESSION_CHECK_WINDOW") && e.contains("08:00-22:00"),
        "{e}"
    );
    let e = load("RESTOCK_SESSION_REMIND", "0s")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("RESTOCK_SESSION_REMIND"), "{e}");
    assert!(load("RESTOCK_SESSION_CHECK", "off").is_ok());
    assert!(load("RESTOCK_SESSION_CHECK", "0 0 9,21 * * *").is_ok());
    assert!(load("RESTOCK_SESSION_CHECK_WINDOW", "22:00-06:00").is_ok());
}
