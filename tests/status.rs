//! `restock status` tells the truth about the engine: with a real `restock
//! serve` child process it says `running (loop turned Ns ago)` while the
//! server is up, `stalled (...; /health does not answer ...)` while it is
//! SIGSTOPped (it still holds the state directory's lock), and `not
//! running (last seen ...)` once it is gone; before any server ran, `not
//! running (never seen)`. A server whose loop is blocked but whose intake
//! answers is `stalled (no turn for ...; /health answers 503)`.

mod support;

use std::process::{Child, Stdio};
use std::time::Duration;

use restock::engine::Event;
use support::engine::BlockingProbe;
use support::env::Env;
use support::wait::{event, PATIENCE};

/// `restock status` and `restock status --json`, as the owner runs them.
fn status(env: &Env) -> (String, serde_json::Value) {
    let out = env.command().arg("status").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let out = env.command().args(["status", "--json"]).output().unwrap();
    assert!(out.status.success());
    (text, serde_json::from_slice(&out.stdout).unwrap())
}

/// The `Engine` line.
fn engine_line(text: &str) -> &str {
    text.lines()
        .find(|l| l.starts_with("Engine"))
        .unwrap_or_else(|| panic!("no Engine line in:\n{text}"))
}

/// Polls `restock status` until both its forms say the engine is `state`.
async fn status_until(env: &Env, state: &str) -> (String, serde_json::Value) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let word = state.replace('_', " ");
    loop {
        let (text, json) = status(env);
        let said = engine_line(&text)["Engine     ".len()..].starts_with(&word);
        if json["engine"]["state"] == state && said {
            return (text, json);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "status never said {state}: {text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        unsafe { libc::kill(self.0.id() as i32, libc::SIGCONT) };
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_says_running_stalled_and_not_running_of_a_real_serve() {
    let env = Env::with_unreachable_demo();
    let (text, json) = status(&env);
    assert_eq!(engine_line(&text), "Engine     not running (never seen)");
    assert_eq!(json["engine"]["state"], "not_running");
    assert!(json["engine"]["last_seen"].is_null());

    let log = std::fs::File::create(env.path().join("serve.log")).unwrap();
    let mut serve = Serve(
        env.command()
            .arg("serve")
            .env("RESTOCK_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let pid = serve.0.id();

    // Up.
    let (text, json) = status_until(&env, "running").await;
    let line = engine_line(&text);
    assert!(
        line.starts_with("Engine     running (loop turned "),
        "{line}"
    );
    assert!(line.ends_with(" ago)"), "{line}");
    assert_eq!(json["engine"]["pid"], pid);
    assert!(json["engine"]["turned_ago_ms"].as_i64().unwrap() >= 0);
    assert_eq!(json["engine"]["summary"], line["Engine     ".len()..]);

    // Stopped: it holds the lock, but nothing answers.
    unsafe { libc::kill(pid as i32, libc::SIGSTOP) };
    let (text, json) = status(&env);
    let line = engine_line(&text);
    assert!(line.starts_with("Engine     stalled ("), "{line}");
    assert!(line.contains("/health does not answer within 2s"), "{line}");
    assert_eq!(json["engine"]["state"], "stalled");
    assert!(json["engine"]["health"].is_null());
    assert_eq!(json["engine"]["pid"], pid);

    // Continued, it runs again; then gone.
    unsafe { libc::kill(pid as i32, libc::SIGCONT) };
    status_until(&env, "running").await;
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let exited = tokio::time::timeout(PATIENCE, async {
        loop {
            if let Some(code) = serve.0.try_wait().unwrap() {
                return code;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("serve stopped");
    assert_eq!(exited.code(), Some(0));
    let (text, json) = status(&env);
    let line = engine_line(&text);
    assert!(
        line.starts_with("Engine     not running (last seen "),
        "{line}"
    );
    assert!(line.ends_with(" ago)"), "{line}");
    assert_eq!(json["engine"]["state"], "not_running");
    assert!(json["engine"]["last_seen"].as_i64().unwrap() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_loop_behind_an_answering_intake_is_stalled_with_503() {
    let mut env = Env::with_unreachable_demo();
    env.config.stall_after = Some(Duration::from_millis(300));
    let probe = BlockingProbe::new(true);
    let running = env.start_with_probe(probe.clone()).await;
    tokio::time::timeout(PATIENCE, probe.entered.notified())
        .await
        .unwrap();
    let (text, json) = status_until(&env, "stalled").await;
    let line = engine_line(&text);
    assert!(
        line.starts_with("Engine     stalled (no turn for "),
        "{line}"
    );
    assert!(line.ends_with("; /health answers 503)"), "{line}");
    assert_eq!(json["engine"]["health"], 503);

    let mut events = running.handle.subscribe();
    probe.unblock();
    event(&mut events, "a turn", |e| matches!(e, Event::Turn(_))).await;
    status_until(&env, "running").await;
    running.stop().await;
}
