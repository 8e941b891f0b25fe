//! The binary as a user runs it: bad configuration exits 2 with one line
//! naming what is wrong and writes nothing; CLI commands work on the same
//! database as a server, with the documented exit codes.

mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use restock::db::Db;
use restock::model::Outcome;
use restock::model::{Phase, Status};
use support::demo::demo_catalog;
use support::env::{output_text as text, Env};
use support::receivers::free_addr;
use support::wait::{poll, settled};

/// The binary with the env's settings and `vars` on top, quiet, and with
/// nothing answering at its listen address.
fn restock_cmd(env: &Env, vars: &[(&str, &str)], args: &[&str]) -> Command {
    let mut cmd = env.command();
    cmd.args(args)
        .env("RESTOCK_LISTEN", "127.0.0.1:9") // nothing answers: the CLI uses the database
        .env("RESTOCK_LOG", "warn")
        .envs(vars.iter().copied());
    cmd
}

fn restock(env: &Env, vars: &[(&str, &str)], args: &[&str]) -> Output {
    restock_cmd(env, vars, args).output().unwrap()
}

#[test]
fn bad_configuration_exits_2_naming_the_problem_and_writes_nothing() {
    let env = Env::new(&["soap"]);
    let demo_only = demo_catalog("http://127.0.0.1:9", &[("soap", &["/p"])]);
    std::fs::write(&env.config.catalog, &demo_only).unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_addr = busy.local_addr().unwrap().to_string();
    let toml_file = env.path().join("restock.toml");
    std::fs::write(&toml_file, "poll_interval = \"5s\"\ncolour = \"blue\"\n").unwrap();
    let bad_catalog = env.path().join("bad.toml");
    std::fs::write(
        &bad_catalog,
        "[[item]]\nid = \"soap\"\n[[item.source]]\nstore = \"demo\"\nurl = \"nope\"\n",
    )
    .unwrap();
    let missing = env.path().join("missing.toml");
    let unknown_store = env.path().join("unknown-store.toml");
    std::fs::write(&unknown_store, demo_only.replace("\"demo\"", "\"nowhere\"")).unwrap();
    type Case<'a> = (Vec<(&'a str, &'a str)>, Vec<&'a str>);
    let cases: Vec<Case> = vec![
        (
            vec![("RESTOCK_POLL_INTERVAL", "soon")],
            vec!["RESTOCK_POLL_INTERVAL", "soon", "90s"],
        ),
        (
            vec![("RESTOCK_BUY_TIMEOUT", "0s")],
            vec!["RESTOCK_BUY_TIMEOUT", "greater than zero"],
        ),
        (
            vec![("RESTOCK_LOG_FORMAT", "xml")],
            vec!["RESTOCK_LOG_FORMAT", "xml", "json"],
        ),
        (
            vec![("RESTOCK_DRY_RUN", "maybe")],
            vec!["RESTOCK_DRY_RUN", "maybe", "true"],
        ),
        (
            vec![("RESTOCK_LISTEN", "localhost")],
            vec!["RESTOCK_LISTEN", "localhost", "127.0.0.1:8723"],
        ),
        (
            vec![("RESTOCK_POLL_INTERVALL", "5s")],
            vec!["RESTOCK_POLL_INTERVALL", "unknown setting"],
        ),
        (
            vec![("RESTOCK_DAILY_CAP", "lots")],
            vec!["RESTOCK_DAILY_CAP", "lots", "12.50"],
        ),
        (
            vec![("RESTOCK_CONFIG", toml_file.to_str().unwrap())],
            vec!["restock.toml", "colour"],
        ),
        (
            vec![("RESTOCK_CATALOG", missing.to_str().unwrap())],
            vec!["missing.toml", "RESTOCK_CATALOG"],
        ),
        (
            vec![("RESTOCK_CATALOG", bad_catalog.to_str().unwrap())],
            vec!["bad.toml", "line 5", "http(s) URL"],
        ),
        (
            vec![("RESTOCK_LISTEN", busy_addr.as_str())],
            vec!["RESTOCK_LISTEN", busy_addr.as_str(), "cannot listen"],
        ),
    ];
    for (vars, needles) in cases {
        let out = restock(&env, &vars, &["serve"]);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(2), "{vars:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        for n in needles {
            assert!(err.contains(n), "{vars:?}: expected `{n}` in {err}");
        }
        assert!(!env.db().exists(), "{vars:?} wrote a database");
    }
    drop(busy);
}

#[tokio::test]
async fn cli_commands_share_the_database_and_use_exit_codes() {
    let env = Env::new(&["soap", "tea"]);
    let out = restock(&env, &[], &["enqueue", "soap"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("queued order 1"));
    let out = restock(&env, &[], &["enqueue", "soap"]);
    assert_eq!(out.status.code(), Some(1), "debounced: {}", text(&out));
    assert!(text(&out).contains("already pending"));
    assert_eq!(
        restock(&env, &[], &["enqueue", "caviar"]).status.code(),
        Some(1)
    );

    let out = restock(&env, &[], &["queue", "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["item"], "soap");
    assert_eq!(rows[0]["status"], "pending");

    // An order that reached Place Order is never retried.
    let q = Db::open(&env.db()).unwrap();
    let order = q.claim_next().await.unwrap().unwrap();
    q.set_phase(order.id, Phase::Submitted, Some("demo"))
        .await
        .unwrap();
    q.settle(
        order.id,
        Outcome::new(Status::NeedsReview),
        Some("check it".into()),
    )
    .await
    .unwrap();
    let out = restock(&env, &[], &["retry", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("reached Place Order"), "{}", text(&out));
    assert_eq!(restock(&env, &[], &["retry", "99"]).status.code(), Some(1));

    let out = restock(&env, &[], &["status"]);
    assert!(text(&out).contains("PAUSED"), "{}", text(&out));
    let out = restock(&env, &[], &["status", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["counts"]["needs_review"], 1);
    assert_eq!(restock(&env, &[], &["resume"]).status.code(), Some(0));
    assert!(q.paused().await.unwrap().is_none());

    // Cancel: only pending.
    restock(&env, &[], &["enqueue", "tea"]);
    assert_eq!(restock(&env, &[], &["cancel", "2"]).status.code(), Some(0));
    assert_eq!(q.get(2).await.unwrap().unwrap().status, Status::Cancelled);
    assert_eq!(restock(&env, &[], &["cancel", "2"]).status.code(), Some(1));
    // A cancelled (never submitted) order may be retried.
    assert_eq!(restock(&env, &[], &["retry", "2"]).status.code(), Some(0));
    assert_eq!(q.get(2).await.unwrap().unwrap().status, Status::Pending);

    let out = restock(&env, &[], &["catalog"]);
    assert!(
        text(&out).contains("soap") && text(&out).contains("demo -> backup"),
        "{}",
        text(&out)
    );
    assert_eq!(restock(&env, &[], &["frobnicate"]).status.code(), Some(2));
}

#[tokio::test]
async fn state_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new(&["soap", "tea"]);
    restock(&env, &[], &["enqueue", "soap"]);
    // Keep a connection open so the WAL and shared-memory files exist.
    let q = Db::open(&env.db()).unwrap();
    q.enqueue("tea", None, Duration::ZERO).await.unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&env.config.state_dir), 0o700);
    for f in ["restock.db", "restock.db-wal", "restock.db-shm"] {
        assert_eq!(mode(&env.config.state_dir.join(f)), 0o600, "{f}");
    }
}

#[tokio::test]
async fn enqueue_goes_through_a_running_server_and_failures_lists_what_went_wrong() {
    let mut env = Env::new(&["soap"]);
    env.config.dry_run = false;
    let factory = restock::purchase::scripted::ScriptedFactory::new(
        restock::purchase::scripted::Script::ends(
            Outcome::new(Status::Blocked)
                .message("access denied")
                .screenshot("/tmp/shot.png".into()),
        ),
    );
    let running = env.start(factory).await;
    let mut events = running.handle.subscribe();
    let addr = running.addr.to_string();
    let mut enqueue = restock_cmd(&env, &[("RESTOCK_LISTEN", &addr)], &["enqueue", "soap"]);
    let out = tokio::task::spawn_blocking(move || enqueue.output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("queued order 1") && !text(&out).contains("not reachable"),
        "{}",
        text(&out)
    );
    assert_eq!(settled(&mut events, 1).await, Status::Blocked);
    running.stop().await;
    let out = restock(&env, &[], &["failures"]);
    let t = text(&out);
    assert!(
        t.contains("blocked") && t.contains("access denied") && t.contains("/tmp/shot.png"),
        "{t}"
    );
}

/// The service's journal hears restock, not its dependencies' start-up
/// chatter: with the default filter the cron scheduler's `Job creator
/// created`-style info lines stay out, restock's own info lines do not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_log_filter_keeps_other_crates_at_warn() {
    let mut env = Env::with_catalog(&support::env::catalog_on(&["demo"], &["soap"]));
    env.config.listen = free_addr();
    let mut serve = env.serve(
        "logs",
        &[("RESTOCK_LOG", "info"), ("RESTOCK_SESSION_CHECK", "3h")],
    );
    serve.listening().await;
    let log = poll("restock's start-up line", || {
        let log = serve.log();
        std::future::ready(log.contains("restock is serving").then_some(log))
    })
    .await;
    serve.sigterm().await;
    assert!(log.contains("session checks scheduled"), "{log}");
    assert!(!log.contains("tokio_cron_scheduler"), "{log}");
}
