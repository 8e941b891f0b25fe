//! The intake against a real server on 127.0.0.1 and a real SQLite file.

mod support;

use std::time::Duration;

use restock::model::{Money, Status};
use restock::purchase::scripted::{Script, ScriptedFactory};
use serde_json::json;
use support::db::dump;
use support::env::{catalog_toml, Env};
use support::intake::{get_json, post_json, url};
use support::wait::{poll, settled};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_requests_for_one_item_make_one_order() {
    let env = Env::new(&["soap"]);
    let running = env
        .start(ScriptedFactory::new(Script::placed(Money(329))))
        .await;
    let client = reqwest::Client::new();
    let url = url(&running, "/reorder");
    let answers = futures::future::join_all((0..200).map(|i| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            post_json(
                &client,
                &url,
                json!({"item": "soap", "requester": format!("b{i}")}),
            )
            .await
        }
    }))
    .await;
    let queued = answers.iter().filter(|(c, _)| *c == 202).count();
    let debounced = answers
        .iter()
        .filter(|(c, b)| *c == 200 && b["result"] == "debounced")
        .count();
    assert_eq!(queued, 1, "{answers:?}");
    assert_eq!(debounced, 199);
    assert!(answers.iter().all(|(c, _)| *c < 500));
    let rows = running.db.recent(None, 1000).await.unwrap();
    assert_eq!(rows.len(), 1);
    running.stop().await;
}

#[tokio::test]
async fn queued_order_wakes_the_engine_and_is_processed() {
    let mut env = Env::new(&["soap"]);
    env.config.poll_interval = Duration::from_secs(3600); // only a wake can start it
    let running = env
        .start(ScriptedFactory::new(Script::placed(Money(329))))
        .await;
    let mut events = running.handle.subscribe();
    let (code, body) = post_json(
        &reqwest::Client::new(),
        &url(&running, "/reorder"),
        json!({"item": "soap"}),
    )
    .await;
    assert_eq!(code, 202);
    let id = body["id"].as_i64().unwrap();
    assert_eq!(
        settled(&mut events, id).await,
        Status::DryRun,
        "dry run is the default"
    );
    running.stop().await;
}

/// Each bad request gets its 4xx with a message and leaves the database
/// byte-for-byte unchanged.
#[tokio::test]
async fn bad_requests_get_clear_4xx_and_change_nothing() {
    let mut env = Env::new(&["soap"]);
    env.config.intake_token = Some("s3cret-token".into());
    let running = env
        .start(ScriptedFactory::new(Script::placed(Money(1))))
        .await;
    let client = reqwest::Client::new();
    let reorder = url(&running, "/reorder");
    let before = dump(&env.db());
    let auth = ("authorization", "Bearer s3cret-token");
    let big = "x".repeat(20 * 1024);
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (
            client
                .post(&reorder)
                .header(auth.0, auth.1)
                .header("content-type", "application/json")
                .body("{\"item\":"),
            400,
            "malformed JSON",
        ),
        (
            client
                .post(&reorder)
                .header(auth.0, auth.1)
                .json(&json!({"item": 5})),
            400,
            "wrong fields",
        ),
        (
            client
                .post(&reorder)
                .header(auth.0, auth.1)
                .json(&json!({"item": "soap", "colour": "red"})),
            400,
            "unknown field",
        ),
        (
            client
                .post(&reorder)
                .header(auth.0, auth.1)
                .json(&json!({})),
            400,
            "missing field",
        ),
        (
            client
                .post(&reorder)
                .header(auth.0, auth.1)
                .body("{\"item\":\"soap\"}"),
            415,
            "Content-Type",
        ),
        (
            client
                .post(&reorder)
                .header(auth.0, auth.1)
                .json(&json!({"item": big})),
            413,
            "larger than",
        ),
        (
            client
                .post(&reorder)
                .header(auth.0, auth.1)
                .json(&json!({"item": "caviar"})),
            404,
            "unknown item",
        ),
        (
            client.post(&reorder).json(&json!({"item": "soap"})),
            401,
            "missing token",
        ),
        (
            client
                .post(&reorder)
                .header(auth.0, "Bearer wrong")
                .json(&json!({"item": "soap"})),
            401,
            "wrong token",
        ),
        (
            client
                .post(&reorder)
                .header("x-restock-token", "nope")
                .json(&json!({"item": "soap"})),
            401,
            "wrong token",
        ),
        (client.get(&reorder).header(auth.0, auth.1), 405, ""),
        (
            client
                .get(url(&running, "/queue?status=lost"))
                .header(auth.0, auth.1),
            400,
            "unknown status",
        ),
        (
            client.get(url(&running, "/nope")).header(auth.0, auth.1),
            404,
            "no such route",
        ),
    ];
    for (req, code, needle) in cases {
        let resp = req.send().await.unwrap();
        let got = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        assert_eq!(got, code, "{text}");
        assert!(text.contains(needle), "expected `{needle}` in {text}");
    }
    assert_eq!(dump(&env.db()), before);
    // The right token via either header works.
    let ok = client
        .post(&reorder)
        .header("x-restock-token", "s3cret-token")
        .json(&json!({"item": "soap"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 202);
    // /health needs no token.
    assert_eq!(
        client
            .get(url(&running, "/health"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    running.stop().await;
}

#[tokio::test]
async fn items_queue_resume_and_reload() {
    let mut env = Env::new(&["soap", "tea"]);
    env.config.dry_run = false;
    env.config.buy_timeout = Duration::from_millis(500);
    let factory = ScriptedFactory::new(Script::hang_at(restock::model::Phase::Submitted));
    let running = env.start(factory).await;
    let client = reqwest::Client::new();
    let mut events = running.handle.subscribe();
    let (_, body) = post_json(&client, &url(&running, "/reorder"), json!({"item": "soap"})).await;
    let id = body["id"].as_i64().unwrap();
    assert_eq!(settled(&mut events, id).await, Status::NeedsReview);

    let items = get_json(&client, &url(&running, "/items")).await;
    let state = |id: &str| {
        items
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == id)
            .unwrap()["state"]
            .clone()
    };
    assert_eq!(state("soap"), "debounced");
    assert_eq!(state("tea"), "ready");

    let q = get_json(&client, &url(&running, "/queue?status=needs_review")).await;
    assert_eq!(q.as_array().unwrap().len(), 1);

    // Paused: a new request is answered 200 with the reason, not queued.
    let (code, body) = post_json(&client, &url(&running, "/reorder"), json!({"item": "tea"})).await;
    assert_eq!((code, body["result"].as_str()), (200, Some("paused")));
    let (code, body) = post_json(&client, &url(&running, "/resume"), json!({})).await;
    assert_eq!(code, 200);
    assert!(body["was_paused"]["reason"]
        .as_str()
        .unwrap()
        .contains("needs_review"));

    // Reload: a bad file keeps the old catalog and says why.
    std::fs::write(&env.config.catalog, "[[item]]\nid = \"tea\"\n").unwrap();
    let resp = client.post(url(&running, "/reload")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 422);
    assert!(resp.text().await.unwrap().contains("line 2"));
    let (code, _) = post_json(&client, &url(&running, "/reorder"), json!({"item": "soap"})).await;
    assert_eq!(code, 200, "old catalog still knows soap (debounced)");
    std::fs::write(&env.config.catalog, catalog_toml(&["coffee"])).unwrap();
    let (code, body) = post_json(&client, &url(&running, "/reload"), json!({})).await;
    assert_eq!((code, body["items"].as_u64()), (200, Some(1)));
    let (code, _) = post_json(&client, &url(&running, "/reorder"), json!({"item": "soap"})).await;
    assert_eq!(code, 404);
    running.stop().await;
}

/// `GET /items` is cached between changes; every kind of change shows at
/// once: a write through the server, a write by another connection (the
/// CLI's), a catalog reload, and the clock ending a debounce.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_answer_follows_every_change_while_cached() {
    let mut env = Env::new(&["soap", "tea"]);
    env.config.debounce = Duration::from_millis(1500);
    env.config.poll_interval = Duration::from_secs(3600);
    let running = env.start(ScriptedFactory::noop()).await;
    let client = reqwest::Client::new();
    let items = || async {
        let body = get_json(&client, &url(&running, "/items")).await;
        body.as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["id"].as_str().unwrap().to_string(),
                    i["state"].as_str().unwrap().to_string(),
                )
            })
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    assert_eq!(items().await["soap"], "ready");
    assert_eq!(items().await["soap"], "ready", "asked twice, still true");

    // A write through the server.
    let mut events = running.handle.subscribe();
    let (_, body) = post_json(&client, &url(&running, "/reorder"), json!({"item": "soap"})).await;
    settled(&mut events, body["id"].as_i64().unwrap()).await;
    assert_eq!(items().await["soap"], "debounced");

    // A write by another connection, as `restock enqueue` without a server
    // makes it: the engine is not woken (poll interval 1 h), so it waits.
    let other = restock::db::Db::open(&env.db()).unwrap();
    other
        .enqueue("tea", Some("cli"), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(items().await["tea"], "queued");

    // A catalog reload.
    std::fs::write(&env.config.catalog, catalog_toml(&["soap", "tea", "milk"])).unwrap();
    let (code, _) = post_json(&client, &url(&running, "/reload"), json!({})).await;
    assert_eq!(code, 200);
    assert_eq!(items().await["milk"], "ready");

    // The clock: soap's debounce (1.5 s from its order) ends with nothing
    // else changing.
    poll("soap's debounce to end", || async {
        (items().await["soap"] == "ready").then_some(())
    })
    .await;
    running.stop().await;
}
