//! `restock doctor`: on a good set-up every check is ✔ and it exits 0;
//! each broken part — a bad catalog, a missing Chromium, a loose state-dir
//! mode, an unreachable monitor, a bad config — is ✘ with a fix and exit 1.
//!
//! The binary runs as the unit runs it (environment only, no TTY, so its
//! progress is plain lines on stderr). The monitor is a Healthchecks-style
//! receiver on 127.0.0.1 that records what it gets; Chromium is the
//! installed one.

mod support;

use std::os::unix::fs::PermissionsExt;

use support::env::Env;
use support::receivers::{free_addr, Receiver, Reply};
use support::wait::poll;

const HC_UUID: &str = "5b3c9a1e-2f4d-4c6b-9e8a-7d1f0c2ba1b2";

/// A monitor that answers every ping; its Healthchecks ping URL.
async fn monitor() -> (Receiver, String) {
    let m = Receiver::spawn().await;
    let url = m.url(&format!("/ping/{HC_UUID}"));
    (m, url)
}

/// A set-up that should be all green: one item on the demo store, the state
/// dir (0700) with a current database, the demo profile (0700) recorded
/// signed in, a free intake port.
async fn good_env() -> Env {
    let env = Env::with_unreachable_demo();
    let db = restock::db::Db::open(&env.db()).unwrap();
    db.mark_signed_in("demo").await.unwrap();
    drop(db);
    let profile = env.config.profiles_dir().join("demo");
    std::fs::create_dir_all(&profile).unwrap();
    std::fs::set_permissions(&profile, std::fs::Permissions::from_mode(0o700)).unwrap();
    env
}

struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Ran {
    /// The result line for check `name` (`✔ name: ...` / `✘ name: ...`).
    fn line(&self, name: &str) -> &str {
        self.stdout
            .lines()
            .find(|l| l.get(4..).is_some_and(|rest| rest.starts_with(name)))
            .unwrap_or_else(|| panic!("no `{name}` line in:\n{}", self.stdout))
    }

    fn failed(&self) -> Vec<&str> {
        self.stdout.lines().filter(|l| l.starts_with('✘')).collect()
    }
}

async fn doctor(mut cmd: std::process::Command, args: &[&str]) -> Ran {
    cmd.arg("doctor").args(args);
    let out = tokio::process::Command::from(cmd)
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    let ran = Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    // The monitor's secret never appears whole, in any outcome.
    for text in [&ran.stdout, &ran.stderr] {
        assert!(!text.contains(HC_UUID), "monitor secret leaked:\n{text}");
    }
    ran
}

/// Asserts `name` failed with a fix containing `fix`, and the exit code is 1.
fn assert_fails(ran: &Ran, name: &str, fix: &str) {
    assert_eq!(ran.code, 1, "{}\n{}", ran.stdout, ran.stderr);
    let line = ran.line(name);
    assert!(line.starts_with("✘ "), "{line}");
    let (_, given) = line
        .split_once(" — fix: ")
        .unwrap_or_else(|| panic!("no fix in: {line}"));
    assert!(given.contains(fix), "fix `{given}` lacks `{fix}`");
}

/// A server on the env's state dir and address, its loop turned once.
async fn serving(env: &Env) -> restock::server::Running {
    let running = env
        .start(restock::purchase::scripted::ScriptedFactory::noop())
        .await;
    poll("the engine's first turn", || {
        std::future::ready(running.handle.silent_for_ms().map(|_| ()))
    })
    .await;
    running
}

#[tokio::test]
async fn a_good_setup_is_all_green() {
    let env = good_env().await;
    let (hc, url) = monitor().await;
    // A monitor expects the service to run: it does.
    let running = serving(&env).await;
    let mut cmd = env.command();
    cmd.env("RESTOCK_HEARTBEAT_URL", &url);
    let ran = doctor(cmd, &[]).await;
    running.stop().await;
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    assert!(ran.failed().is_empty(), "{}", ran.stdout);
    for name in [
        "config",
        "state dir",
        "database integrity",
        "database migrations",
        "store files",
        "catalog",
        "chromium",
        "profile demo",
        "monitor 127.0.0.1:",
        "notifications",
        "intake port",
        "service",
    ] {
        assert!(ran.line(name).starts_with("✔ "), "{}", ran.line(name));
    }
    assert!(
        ran.line("service").contains("running (loop turned"),
        "{}",
        ran.stdout
    );
    assert!(ran.line("chromium").contains("Chromium"), "{}", ran.stdout);
    assert!(
        ran.line("profile demo").contains("signed in"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.line("database migrations")
            .contains(&format!("schema version {}", restock::db::schema_version())),
        "{}",
        ran.stdout
    );
    // One real ping, marked as a test: Healthchecks' /log.
    let hits = hc.requests();
    assert_eq!(hits.len(), 1, "{hits:?}");
    let (method, path, body) = (&hits[0].method, &hits[0].path, hits[0].text());
    assert_eq!(method, "POST");
    assert_eq!(path, &format!("/ping/{HC_UUID}/log"));
    assert!(body.contains("restock doctor"), "{body}");
    assert!(ran.line("monitor").contains("/log"), "{}", ran.stdout);
    // The monitor is named by its label.
    assert!(ran.line("monitor").contains("/…/a1b2"), "{}", ran.stdout);
    // No TTY: progress is plain lines on stderr, results on stdout.
    assert!(ran.stderr.contains("checking chromium"), "{}", ran.stderr);
    // Doctor changed nothing it inspected.
    let mode = std::fs::metadata(&env.config.state_dir)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
}

#[tokio::test]
async fn json_output_lists_every_check() {
    let env = good_env().await;
    let ran = doctor(env.command(), &["--json"]).await;
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    let v: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(v["ok"], true);
    let checks = v["checks"].as_array().unwrap();
    assert!(checks.len() >= 10, "{checks:?}");
    assert!(checks.iter().all(|c| c["ok"] == true && c["fix"].is_null()));
    assert!(checks.iter().any(|c| c["name"] == "chromium"));
}

#[tokio::test]
async fn a_bad_catalog_fails_with_a_fix() {
    let env = good_env().await;
    std::fs::write(
        &env.config.catalog,
        "[[item]]\nid = \"towels\"\nquantity = \"lots\"\n",
    )
    .unwrap();
    let ran = doctor(env.command(), &[]).await;
    assert_fails(&ran, "catalog", "correct the catalog");
    assert!(ran.line("catalog").contains("line 3"), "{}", ran.stdout);
    // The rest still ran and is fine.
    assert!(ran.line("chromium").starts_with("✔ "), "{}", ran.stdout);
    assert_eq!(ran.failed().len(), 1, "{}", ran.stdout);
    assert!(ran.stderr.contains("checks failed"), "{}", ran.stderr);
}

#[tokio::test]
async fn a_catalog_store_without_a_definition_fails() {
    let env = good_env().await;
    std::fs::write(
        &env.config.catalog,
        "[[item]]\nid = \"towels\"\n[[item.source]]\nstore = \"nowhere\"\nurl = \"http://127.0.0.1:9/p\"\n",
    )
    .unwrap();
    let ran = doctor(env.command(), &[]).await;
    assert_fails(&ran, "catalog", "add a store definition");
    assert!(ran.line("catalog").contains("`nowhere`"), "{}", ran.stdout);
    // Its profile is missing too, and doctor says how to make one.
    assert_fails(&ran, "profile nowhere", "restock login nowhere");
}

#[tokio::test]
async fn a_missing_chromium_fails_with_a_fix() {
    let env = good_env().await;
    let mut cmd = env.command();
    cmd.env("RESTOCK_CHROME", env.path().join("no-such-chromium"));
    let ran = doctor(cmd, &[]).await;
    assert_fails(&ran, "chromium", "RESTOCK_CHROME");
    assert!(
        ran.line("chromium").contains("no-such-chromium"),
        "{}",
        ran.stdout
    );
    assert_eq!(ran.failed().len(), 1, "{}", ran.stdout);
}

#[tokio::test]
async fn a_loose_state_dir_fails_with_chmod_and_is_left_alone() {
    let env = good_env().await;
    let dir = &env.config.state_dir;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let ran = doctor(env.command(), &[]).await;
    assert_fails(&ran, "state dir", &format!("chmod 700 {}", dir.display()));
    assert!(ran.line("state dir").contains("0755"), "{}", ran.stdout);
    // Doctor says how; it does not fix it behind the owner's back.
    let mode = std::fs::metadata(dir).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o755);
}

#[tokio::test]
async fn a_loose_profile_fails_with_chmod() {
    let env = good_env().await;
    let profile = env.config.profiles_dir().join("demo");
    std::fs::set_permissions(&profile, std::fs::Permissions::from_mode(0o750)).unwrap();
    let ran = doctor(env.command(), &[]).await;
    assert_fails(
        &ran,
        "profile demo",
        &format!("chmod 700 {}", profile.display()),
    );
}

#[tokio::test]
async fn an_unreachable_monitor_fails_with_a_fix_and_no_secret() {
    let env = good_env().await;
    let (hc, good) = monitor().await;
    let dead = format!("http://{}/ping/{HC_UUID}", free_addr());
    let mut cmd = env.command();
    cmd.env("RESTOCK_HEARTBEAT_URL", format!("{good},{dead}"));
    let running = serving(&env).await;
    let ran = doctor(cmd, &[]).await;
    running.stop().await;
    assert_eq!(ran.code, 1, "{}", ran.stdout);
    let failed = ran.failed();
    assert_eq!(failed.len(), 1, "{}", ran.stdout);
    assert!(
        failed[0].starts_with("✘ monitor 127.0.0.1:"),
        "{}",
        failed[0]
    );
    assert!(failed[0].contains("connection refused"), "{}", failed[0]);
    assert!(
        failed[0].contains("— fix: check RESTOCK_HEARTBEAT_URL"),
        "{}",
        failed[0]
    );
    // The live monitor still got its one test ping.
    assert_eq!(hc.count(), 1);
    // (`doctor` asserted the UUID appears nowhere.)
}

#[tokio::test]
async fn a_bad_config_is_a_failed_check_not_a_usage_error() {
    let env = good_env().await;
    let bad = format!("ftp://127.0.0.1/ping/{HC_UUID}");
    let mut cmd = env.command();
    cmd.env("RESTOCK_HEARTBEAT_URL", &bad);
    let ran = doctor(cmd, &[]).await;
    assert_fails(&ran, "config", "correct the setting");
    assert!(
        ran.line("config").contains("RESTOCK_HEARTBEAT_URL"),
        "{}",
        ran.stdout
    );
    assert_eq!(ran.failed().len(), 1, "{}", ran.stdout);
    // Every other command still refuses a bad config with exit 2.
    let mut status = env.command();
    status.env("RESTOCK_HEARTBEAT_URL", &bad).arg("status");
    assert_eq!(status.output().unwrap().status.code(), Some(2));
}

#[tokio::test]
async fn the_intake_port_may_be_restocks_own_but_not_a_strangers() {
    let mut env = good_env().await;
    // A running restock on the port is fine.
    let running = env
        .start(restock::purchase::scripted::ScriptedFactory::noop())
        .await;
    poll("the engine's first turn", || async {
        running.handle.silent_for_ms().map(|_| ())
    })
    .await;
    env.config.listen = running.addr;
    let ran = doctor(env.command(), &[]).await;
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    assert!(
        ran.line("intake port")
            .contains("served by a running restock"),
        "{}",
        ran.stdout
    );
    running.stop().await;
    // Anything else on it is not.
    let stranger = Receiver::answering(Reply::Body(200, "hello")).await;
    env.config.listen = stranger.addr;
    let ran = doctor(env.command(), &[]).await;
    assert_fails(&ran, "intake port", "RESTOCK_LISTEN");
}

#[tokio::test]
async fn notification_channels_are_tested_only_with_notify() {
    let env = good_env().await;
    // An ntfy server that takes everything (the recorder) and one that 404s.
    let taker = Receiver::spawn().await;
    let not_found = Receiver::answering(Reply::Body(404, "no such topic")).await;
    let notify = format!(
        "ntfy://{}/secret-topic-one,ntfy://{}/secret-topic-two",
        taker.addr, not_found.addr
    );

    let mut cmd = env.command();
    cmd.env("RESTOCK_NOTIFY", &notify);
    let ran = doctor(cmd, &[]).await;
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    assert!(
        ran.line("notifications").contains("2 configured"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.line("notifications").contains("--notify"),
        "{}",
        ran.stdout
    );
    assert_eq!(taker.count(), 0, "sent without --notify");

    let mut cmd = env.command();
    cmd.env("RESTOCK_NOTIFY", &notify);
    let ran = doctor(cmd, &["--notify"]).await;
    assert_eq!(ran.code, 1, "{}\n{}", ran.stdout, ran.stderr);
    let notified: Vec<&str> = ran
        .stdout
        .lines()
        .filter(|l| l.get(4..).is_some_and(|r| r.starts_with("notify ")))
        .collect();
    assert_eq!(notified.len(), 2, "{}", ran.stdout);
    assert_eq!(ran.failed().len(), 1, "{}", ran.stdout);
    assert!(ran.failed()[0].contains("404"), "{}", ran.stdout);
    assert!(ran.failed()[0].contains("— fix: check this URL in RESTOCK_NOTIFY"));
    assert_eq!(taker.count(), 1);
    for secret in ["secret-topic-one", "secret-topic-two"] {
        assert!(!ran.stdout.contains(secret), "{}", ran.stdout);
    }
}

/// The service check: with a monitor configured, no engine running is a
/// failure with a fix; without one it is fine; a running one is fine.
#[tokio::test]
async fn the_service_must_run_when_a_monitor_expects_it() {
    let env = good_env().await;
    let (_hc, url) = monitor().await;
    let mut cmd = env.command();
    cmd.env("RESTOCK_HEARTBEAT_URL", &url);
    let ran = doctor(cmd, &[]).await;
    assert_fails(&ran, "service", "systemctl start restock");
    let line = ran.line("service");
    assert!(line.contains("not running (never seen)"), "{line}");
    assert!(line.contains("RESTOCK_HEARTBEAT_URL is set"), "{line}");
    assert_eq!(ran.failed().len(), 1, "{}", ran.stdout);

    // No monitor: nothing expects it to run.
    let ran = doctor(env.command(), &[]).await;
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    assert!(
        ran.line("service").contains("nothing expects it to"),
        "{}",
        ran.stdout
    );

    // Once it ran, "last seen" says when its loop last turned.
    let running = serving(&env).await;
    let db = restock::db::Db::open(&env.db()).unwrap();
    poll("the liveness record", || async {
        db.turned_at().await.unwrap()
    })
    .await;
    running.stop().await;
    let mut cmd = env.command();
    cmd.env("RESTOCK_HEARTBEAT_URL", &url);
    let ran = doctor(cmd, &[]).await;
    assert_fails(&ran, "service", "journalctl -u restock");
    assert!(
        ran.line("service").contains("not running (last seen"),
        "{}",
        ran.stdout
    );
}
