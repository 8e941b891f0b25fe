//! Bad input at every door: each wrong value gets a clear message naming
//! what is wrong, and the database is byte-for-byte unchanged.

mod support;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use restock::config::{env_name, Config};
use restock::db::Db;
use restock::server::Running;
use serde_json::json;
use support::db::dump;
use support::demo::demo_catalog;
use support::env::Env;
use support::intake::{status_of, url};
use support::receivers::free_addr;

/// A wrong value for every setting the environment can carry, or the
/// reason a setting has no wrong value of its own.
fn wrong_value(key: &str, dir: &Path) -> Result<String, &'static str> {
    let missing = dir.join("does-not-exist").display().to_string();
    Ok(match key {
        "state_dir" => return Err("any path is a state dir; an unusable one fails when opened"),
        "session_check_idle_cmd" => {
            return Err("any command line; a failing one counts as not idle")
        }
        "dry_run" | "headless" | "auto_retry" | "intake_open" => "maybe".into(),
        "public_url" => "not a url".into(),
        "max_recoveries" | "max_orders_per_day" | "auto_retry_max" | "screenshot_max_count" => {
            "-1".into()
        }
        "listen" => "localhost".into(),
        "intake_token" => "".into(),
        "catalog" => missing,
        "stores_dir" => missing,
        "chrome" => missing,
        "log_format" => "xml".into(),
        "log" => "[[".into(),
        "store_urls" => "{demo=\"ftp://example.org\"}".into(),
        "checkout" => "name".into(),
        "daily_cap" => "lots".into(),
        "heartbeat_url" | "order_check_url" => "not a url".into(),
        "heartbeat_paused" => "maybe".into(),
        "heartbeat_kind" => "carrier-pigeon".into(),
        "session_check" => "every full moon".into(),
        "session_check_window" => "25:00-26:00".into(),
        "notify" => "smoke-signal://hill".into(),
        k if is_duration(k) => "soon".into(),
        _ => return Err("no wrong-value case written: add one"),
    })
}

fn is_duration(key: &str) -> bool {
    let defaults = serde_json::to_value(Config::default()).unwrap();
    let v = &defaults[key];
    v.is_string() && humantime::parse_duration(v.as_str().unwrap()).is_ok() || key == "stall_after"
}

/// Runs the binary, killing it if it is still running after 30 s (a
/// "wrong" value that was accepted would otherwise serve forever).
fn run(env: &Env, vars: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = env.command();
    cmd.args(args).env("RESTOCK_LOG", "warn");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("{args:?} with {vars:?} was still running after 30 s: the value was accepted");
        }
    }
}

/// Every row of every table, plus the schema version.
fn db_bytes(env: &Env) -> String {
    dump(&env.db())
}

/// An env with a database that already holds orders, checkpointed so the
/// main file holds everything and can be compared byte for byte.
async fn seeded() -> Env {
    let mut env = Env::new(&["soap", "tea"]);
    let demo_only = demo_catalog("http://127.0.0.1:9", &[("soap", &["/p"]), ("tea", &["/t"])]);
    std::fs::write(&env.config.catalog, demo_only).unwrap();
    env.config.listen = free_addr();
    let q = Db::open(&env.db()).unwrap();
    q.enqueue("soap", Some("seed"), Duration::ZERO)
        .await
        .unwrap();
    let claimed = q.claim_next().await.unwrap().unwrap();
    q.settle(
        claimed.id,
        restock::model::Outcome::new(restock::model::Status::Placed),
        None,
    )
    .await
    .unwrap();
    q.enqueue("tea", Some("seed"), Duration::ZERO)
        .await
        .unwrap();
    q.with_conn(|c| Ok(c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?))
        .await
        .unwrap();
    drop(q);
    env
}

/// [`seeded`] with the intake token `t0ken`, its pending order cancelled
/// (so the engine has nothing to change while a test knocks), served
/// in-process by a purchaser that does nothing.
async fn seeded_and_serving() -> (Env, Running) {
    let mut env = seeded().await;
    env.config.intake_token = Some("t0ken".into());
    Db::open(&env.db()).unwrap().cancel(2).await.unwrap();
    let running = env
        .start(restock::purchase::scripted::ScriptedFactory::noop())
        .await;
    (env, running)
}

#[tokio::test]
async fn every_setting_with_a_wrong_value_stops_startup_and_changes_nothing() {
    let env = seeded().await;
    let before = db_bytes(&env);
    let mut checked = 0;
    for key in Config::field_names() {
        let value = match wrong_value(key, env.path()) {
            Ok(v) => v,
            Err(why) => {
                assert!(!why.contains("add one"), "{key}: {why}");
                continue;
            }
        };
        let var = env_name(key);
        let out = run(&env, &[(&var, &value)], &["serve"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{var}={value}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{var}: one line: {err}");
        assert!(
            err.contains(&var),
            "{var}={value}: the message names the variable: {err}"
        );
        assert_eq!(db_bytes(&env), before, "{var} changed the database");
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} settings checked");
}

#[tokio::test]
async fn bad_files_stop_startup_naming_file_and_key() {
    let env = seeded().await;
    let before = db_bytes(&env);
    let write = |name: &str, text: &str| {
        let p = env.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let stores = env.path().join("bad-stores");
    std::fs::create_dir_all(&stores).unwrap();
    std::fs::write(
        stores.join("shop.toml"),
        "name = \"shop\"\nbase_url = \"http://127.0.0.1:9/\"\ncolour = \"red\"\n",
    )
    .unwrap();
    let item = demo_catalog("http://127.0.0.1:9", &[("soap", &["/p"])]);
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "RESTOCK_CONFIG",
            write("a.toml", "colour = \"red\"\n"),
            vec!["a.toml", "colour"],
        ),
        (
            "RESTOCK_CONFIG",
            write("b.toml", "debounce = 5\n"),
            vec!["b.toml", "debounce"],
        ),
        (
            "RESTOCK_CONFIG",
            write("c.toml", "debounce = \"soon\"\n"),
            vec!["c.toml", "debounce", "soon"],
        ),
        (
            "RESTOCK_CONFIG",
            write("d.toml", "listen = [\n"),
            vec!["d.toml"],
        ),
        (
            "RESTOCK_CATALOG",
            write("dup.toml", &format!("{item}{item}")),
            vec!["dup.toml", "line 7", "duplicate item id"],
        ),
        (
            "RESTOCK_CATALOG",
            write("key.toml", &item.replace("id =", "sku = \"x\"\nid =")),
            vec!["key.toml", "line 2", "unknown field"],
        ),
        (
            "RESTOCK_CATALOG",
            write(
                "url.toml",
                &item.replace("http://127.0.0.1:9/p", "file:///etc/passwd"),
            ),
            vec!["url.toml", "line 5", "http(s)"],
        ),
        (
            "RESTOCK_CATALOG",
            write("empty.toml", "[[item]]\nid = \"soap\"\n"),
            vec!["empty.toml", "line 2", "no sources"],
        ),
        (
            "RESTOCK_CATALOG",
            write("store.toml", &item.replace("\"demo\"", "\"nowhere\"")),
            vec!["store.toml", "nowhere", "not defined"],
        ),
        (
            "RESTOCK_STORES_DIR",
            stores.display().to_string(),
            vec!["shop.toml", "colour"],
        ),
    ];
    for (var, value, needles) in cases {
        let out = run(&env, &[(var, &value)], &["serve"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{var}={value}: {err}");
        for n in needles {
            assert!(err.contains(n), "{var}={value}: expected `{n}` in {err}");
        }
        assert_eq!(db_bytes(&env), before, "{var}={value} changed the database");
    }
}

#[tokio::test]
async fn every_cli_command_refuses_bad_arguments_and_changes_nothing() {
    let env = seeded().await;
    let before = db_bytes(&env);
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (vec!["retry", "99"], 1, "does not exist"),
        (vec!["retry", "2"], 1, "still pending"),
        (vec!["failures", "--limit", "x"], 2, "invalid value"),
        (vec!["status", "--jsn"], 2, "unexpected argument"),
        (vec!["retry", "1"], 1, "reached Place Order"),
        (vec!["retry", "abc"], 2, "invalid value"),
        (vec!["cancel", "99"], 1, "does not exist"),
        (vec!["cancel", "1"], 1, "only pending orders"),
        (vec!["enqueue", "caviar"], 1, "unknown item"),
        (vec!["enqueue"], 2, "ITEM"),
        (vec!["queue", "--status", "lost"], 2, "unknown status"),
        (vec!["dry-run", "caviar"], 1, "unknown item"),
        (vec!["login", "nowhere"], 1, "not defined"),
        (vec!["dump-dom", "nowhere", "/"], 1, "not defined"),
        (vec!["serve", "--frobnicate"], 2, "unexpected argument"),
        (vec!["frobnicate"], 2, "unrecognized subcommand"),
    ];
    for (args, code, needle) in cases {
        let out = run(&env, &[], &args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(code), "{args:?}: {text}");
        assert!(
            text.contains(needle),
            "{args:?}: expected `{needle}` in {text}"
        );
        assert_eq!(db_bytes(&env), before, "{args:?} changed the database");
    }
}

#[tokio::test]
async fn every_intake_route_refuses_bad_requests_and_changes_nothing() {
    let (env, running) = seeded_and_serving().await;
    let before = dump(&env.db());
    let client = reqwest::Client::new();
    let routes = [
        ("POST", "/reorder"),
        ("GET", "/items"),
        ("GET", "/queue"),
        ("POST", "/reload"),
        ("POST", "/resume"),
    ];
    for (method, path) in routes {
        let u = url(&running, path);
        let wrong_method = if method == "GET" {
            client.delete(&u)
        } else {
            client.get(&u)
        };
        let wrong_method = wrong_method.header("x-restock-token", "t0ken");
        assert_eq!(status_of(wrong_method).await, 405, "{path}");
        for token in [None, Some("wrong"), Some("t0ken-but-longer")] {
            let mut req = client
                .request(method.parse().unwrap(), &u)
                .json(&json!({"item": "tea"}));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let r = req.send().await.unwrap();
            assert_eq!(r.status().as_u16(), 401, "{method} {path} with {token:?}");
            assert!(r.text().await.unwrap().contains("token"));
        }
    }
    let reorder = url(&running, "/reorder");
    let bodies: Vec<(&str, &str, u16)> = vec![
        ("application/json", "{", 400),
        ("application/json", "[]", 400),
        ("application/json", "{\"item\": null}", 400),
        ("application/json", "{\"item\": [\"soap\"]}", 400),
        (
            "application/json",
            "{\"item\": \"soap\", \"requester\": 7}",
            400,
        ),
        (
            "application/json",
            "{\"item\": \"soap\", \"priority\": \"high\"}",
            400,
        ),
        ("text/plain", "{\"item\": \"soap\"}", 415),
        ("application/json", "{\"item\": \"caviar\"}", 404),
    ];
    for (ctype, body, code) in bodies {
        let r = client
            .post(&reorder)
            .bearer_auth("t0ken")
            .header("content-type", ctype)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        assert_eq!(status, code, "{body}: {text}");
        assert!(text.contains("\"error\""), "{body}: {text}");
    }
    let huge = format!("{{\"item\": \"{}\"}}", "x".repeat(64 * 1024));
    let huge = client
        .post(&reorder)
        .bearer_auth("t0ken")
        .header("content-type", "application/json")
        .body(huge);
    assert_eq!(status_of(huge).await, 413);
    let lots = client
        .get(url(&running, "/queue?limit=lots"))
        .bearer_auth("t0ken");
    assert_eq!(status_of(lots).await, 400);
    assert_eq!(dump(&env.db()), before);
    running.stop().await;
}

#[tokio::test]
async fn every_home_page_door_refuses_bad_input_and_changes_nothing() {
    use support::intake::{
        form_token, home, home_act, home_post_json, home_sign_in, no_redirects, Answer,
    };
    let (env, running) = seeded_and_serving().await;
    let addr = running.addr;
    let before = dump(&env.db());
    let cookie = home_sign_in(addr, "t0ken").await;
    let csrf = form_token(&home(addr, Some(&cookie)).await.body);
    // Each refused with a message, in the words the API and CLI use.
    let acts: Vec<(&str, u16, &str)> = vec![
        ("", 400, "unknown action"),
        ("explode:1", 400, "unknown action `explode`"),
        ("retry:abc", 400, "not an order number"),
        ("cancel:-", 400, "not an order number"),
        ("retry:99999", 404, "order 99999 does not exist"),
        ("cancel:1", 409, "only pending orders can be cancelled"),
        ("retry:1", 409, "never retried"),
        ("reorder:caviar", 404, "unknown item `caviar`"),
        ("reorder:", 404, "unknown item"),
        ("signin:nowhere", 503, "real browser"),
        ("verify:1", 409, "only a needs_review order is verified"),
        ("verify:99", 409, "order 99 does not exist"),
    ];
    for (act, code, needle) in acts {
        let a = home_post_json(addr, &cookie, &[("act", act), ("csrf", csrf.as_str())]).await;
        assert_eq!(a.status, code, "{act}: {}", a.body);
        let said: serde_json::Value = serde_json::from_str(&a.body).unwrap();
        assert_eq!(said["ok"], false, "{act}");
        assert!(
            said["message"].as_str().unwrap().contains(needle),
            "{act}: {said}"
        );
        // Without script: back to the page, which says it once.
        let a = home_act(addr, Some(&cookie), Some(&csrf), act).await;
        assert_eq!(a.status, 303, "{act}");
        let notice = a.cookie("restock_notice").unwrap();
        let page = home(addr, Some(&format!("{cookie}; {notice}"))).await;
        assert!(page.body.contains("class=\"notice err\""), "{act}");
    }
    let post = |ctype: &str, body: String| {
        no_redirects()
            .post(url(&running, "/"))
            .header("cookie", &cookie)
            .header("content-type", ctype)
            .body(body)
    };
    for (req, code) in [
        (
            post("application/json", "{\"act\": \"resume:\"}".into()),
            400,
        ),
        (post("application/x-www-form-urlencoded", "%%%".into()), 403),
        (
            post(
                "application/x-www-form-urlencoded",
                format!("csrf={csrf}&act=reorder:{}", "x".repeat(64 * 1024)),
            ),
            413,
        ),
    ] {
        let a = Answer::of(req).await;
        assert_eq!(a.status, code, "{}", a.body);
        assert!(a.body.contains("refused"), "{}", a.body);
    }
    let a = Answer::of(
        no_redirects()
            .put(url(&running, "/"))
            .header("cookie", &cookie),
    )
    .await;
    assert_eq!(a.status, 405);
    for body in ["", "token=", "{\"token\": \"t0ken\"}"] {
        let a = Answer::of(
            no_redirects()
                .post(url(&running, "/session"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body),
        )
        .await;
        assert_eq!(a.status, 401, "{body}");
        assert!(a.cookie("restock_home").is_none());
    }
    for name in ["x.txt", "a%00.png", "%2e%2e%2fx.png", "x.png%2f.."] {
        let a = Answer::of(
            no_redirects()
                .get(url(&running, &format!("/screenshots/{name}")))
                .header("cookie", &cookie),
        )
        .await;
        assert_eq!(a.status, 404, "{name}");
    }
    assert_eq!(dump(&env.db()), before);
    running.stop().await;
}
