//! Owner notifications against real HTTP receivers on 127.0.0.1: each
//! scheme's request shape, screenshots as files, bounded retries (three
//! attempts, see [`notifier`]), and the engine never waiting on a receiver.

mod support;

use std::sync::Arc;
use std::time::Duration;

use restock::config::Config;
use restock::engine::Event;
use restock::model::Outcome;
use restock::model::Status;
use restock::notify::{Attachment, Message, Priority};
use restock::purchase::scripted::Script;
use support::engine::{engine_on, Looping, TestFactory};
use support::env::Env;
use support::receivers::{free_addr, notifier, Receiver, Recorded, Reply};
use support::wait::until;
use tokio::sync::Notify;

fn png() -> Attachment {
    Attachment {
        name: "order-1.png".into(),
        mime: "image/png",
        bytes: Arc::new(b"\x89PNG\r\n\x1a\nfake-image-bytes".to_vec()),
    }
}

#[tokio::test]
async fn each_scheme_sends_its_request_shape() {
    let r = Receiver::spawn().await;
    let port = r.addr.port();
    let base = r.base();
    let urls = vec![
        format!("ntfy://127.0.0.1:{port}/restock-alerts"),
        format!("gotify://127.0.0.1:{port}/AppTokenXYZ123?disabletls=yes"),
        format!("telegram://123456:ABC-DEF-secret@telegram?chats=42,@family&api={base}"),
        format!("discord://WebhookTokenSecret@98765?api={base}"),
        format!("generic+http://127.0.0.1:{port}/hook/SecretPath?src=restock"),
    ];
    let n = notifier(&urls);
    let msg = Message::new(
        "signed_out",
        "restock: demo needs you to sign in",
        "demo needs you to sign in: run `restock login demo`",
    )
    .priority(Priority::High)
    .data("store", "demo");
    let deliveries = n.deliver(&msg).await;
    assert!(deliveries.iter().all(|d| d.ok), "{deliveries:?}");
    for d in &deliveries {
        for secret in [
            "restock-alerts",
            "AppTokenXYZ123",
            "ABC-DEF-secret",
            "WebhookTokenSecret",
            "SecretPath",
        ] {
            assert!(!d.channel.contains(secret), "{} shows {secret}", d.channel);
        }
    }
    let reqs = r.wait_for(6).await;
    let find =
        |path: &str| -> Vec<Recorded> { reqs.iter().filter(|q| q.path == path).cloned().collect() };

    let ntfy = &find("/restock-alerts")[0];
    assert_eq!(ntfy.method, "POST");
    assert_eq!(
        ntfy.text(),
        "demo needs you to sign in: run `restock login demo`"
    );
    assert_eq!(
        ntfy.header("title").as_deref(),
        Some("restock: demo needs you to sign in")
    );
    assert_eq!(ntfy.header("priority").as_deref(), Some("high"));

    let gotify = &find("/message")[0];
    assert_eq!(gotify.query, "token=AppTokenXYZ123");
    assert_eq!(
        gotify.json(),
        serde_json::json!({
            "title": "restock: demo needs you to sign in",
            "message": "demo needs you to sign in: run `restock login demo`",
            "priority": 8
        })
    );

    let telegram = find("/bot123456:ABC-DEF-secret/sendMessage");
    assert_eq!(telegram.len(), 2, "one per chat");
    let chats: Vec<serde_json::Value> = telegram
        .iter()
        .map(|q| q.json()["chat_id"].clone())
        .collect();
    assert!(
        chats.contains(&serde_json::json!(42)) && chats.contains(&serde_json::json!("@family"))
    );
    assert_eq!(
        telegram[0].json()["text"],
        "restock: demo needs you to sign in\ndemo needs you to sign in: run `restock login demo`"
    );

    let discord = &find("/api/webhooks/98765/WebhookTokenSecret")[0];
    assert_eq!(
        discord.json(),
        serde_json::json!({"content": "restock: demo needs you to sign in\ndemo needs you to sign in: run `restock login demo`"})
    );

    let generic = &find("/hook/SecretPath")[0];
    assert_eq!(generic.query, "src=restock");
    assert_eq!(
        generic.header("content-type").as_deref(),
        Some("application/json")
    );
    let body = generic.json();
    assert_eq!(body["event"], "signed_out");
    assert_eq!(body["store"], "demo");
    assert_eq!(body["priority"], "high");
    assert_eq!(body["title"], "restock: demo needs you to sign in");
}

#[tokio::test]
async fn screenshots_go_as_files_where_the_channel_takes_them() {
    let r = Receiver::spawn().await;
    let base = r.base();
    let n = notifier(&[
        format!("telegram://1:tok@telegram?chats=42&api={base}"),
        format!("discord://tok@7?api={base}"),
    ]);
    let msg = Message::new("paused", "restock paused", "order 1 ended as challenge").attach(png());
    assert!(n.deliver(&msg).await.iter().all(|d| d.ok));
    let reqs = r.wait_for(2).await;
    let photo = reqs
        .iter()
        .find(|q| q.path == "/bot1:tok/sendPhoto")
        .expect("sendPhoto");
    let ctype = photo.header("content-type").unwrap();
    assert!(ctype.starts_with("multipart/form-data"), "{ctype}");
    let body = photo.text();
    assert!(body.contains("name=\"chat_id\"\r\n\r\n42"), "{body}");
    assert!(body.contains("name=\"caption\"\r\n\r\nrestock paused\norder 1 ended as challenge"));
    assert!(body.contains("name=\"photo\"; filename=\"order-1.png\""));
    assert!(body.contains("fake-image-bytes"));
    let discord = reqs
        .iter()
        .find(|q| q.path == "/api/webhooks/7/tok")
        .expect("discord");
    let body = discord.text();
    assert!(body.contains("name=\"payload_json\""), "{body}");
    assert!(body.contains("name=\"files[0]\"; filename=\"order-1.png\""));
}

#[tokio::test]
async fn a_failing_receiver_gets_bounded_retries() {
    let r = Receiver::spawn().await;
    r.set_default(Reply::Status(500));
    let n = notifier(&[format!("generic+http://{}/down", r.addr)]);
    let d = &n.deliver(&Message::new("test", "t", "b")).await[0];
    assert!(!d.ok);
    assert_eq!(d.attempts, 3, "{d:?}");
    assert!(d.detail.contains("500"), "{d:?}");
    assert_eq!(r.count(), 3, "exactly the bounded number of tries");

    // A 4xx is final: no retry.
    let r = Receiver::spawn().await;
    r.set_default(Reply::Status(401));
    let n = notifier(&[format!("generic+http://{}/denied", r.addr)]);
    let d = &n.deliver(&Message::new("test", "t", "b")).await[0];
    assert_eq!((d.ok, d.attempts, r.count()), (false, 1, 1));

    // Two failures, then it answers: delivered on the third try.
    let r = Receiver::spawn().await;
    r.push(Reply::Status(503));
    r.push(Reply::Status(502));
    let n = notifier(&[format!("ntfy://{}/t", r.addr)]);
    let d = &n.deliver(&Message::new("test", "t", "b")).await[0];
    assert_eq!((d.ok, d.attempts, r.count()), (true, 3, 3));

    // Nobody listening: connection errors are retried too, and the error
    // does not show the URL's secret.
    let n = notifier(&[format!(
        "telegram://9:TopSecretToken@telegram?chats=1&api=http://{}",
        free_addr()
    )]);
    let d = &n.deliver(&Message::new("test", "t", "b")).await[0];
    assert_eq!((d.ok, d.attempts), (false, 3));
    assert!(
        !d.detail.contains("TopSecretToken") && !d.channel.contains("TopSecretToken"),
        "{d:?}"
    );
}

/// Every pause for a human is told once, with the screenshot, from a task
/// of its own: a receiver that holds the request does not hold the engine.
#[tokio::test]
async fn pauses_are_told_with_the_screenshot_and_the_engine_never_waits() {
    let dir = tempfile::tempdir().unwrap();
    let shot = dir.path().join("order-1-challenge.png");
    std::fs::write(&shot, b"\x89PNG\r\n\x1a\nchallenge-page").unwrap();
    let factory = TestFactory::new(Script::ends(
        Outcome::new(Status::Challenge)
            .message("the store shows a bot check")
            .screenshot(shot.clone()),
    ));
    let (engine, db) = engine_on(dir.path(), factory.clone(), &["demo"]);
    let r = Receiver::spawn().await;
    let release = Arc::new(Notify::new());
    r.set_default(Reply::Hold(release.clone()));
    let n = notifier(&[format!(
        "telegram://5:tok@telegram?chats=42&api={}",
        r.base()
    )]);
    let mut rig = Looping::start(engine);
    let handle = rig.handle.clone();
    restock::server::pauses::watch_pauses(handle.clone(), db.clone(), n, rig.shutdown.clone());
    let events = &mut rig.events;

    db.enqueue("towels", Some("test"), Duration::ZERO)
        .await
        .unwrap();
    handle.wake();
    until(events, "the challenge", |e| {
        matches!(
            e,
            Event::Settled {
                status: Status::Challenge,
                ..
            }
        )
    })
    .await;
    until(events, "the pause", |e| matches!(e, Event::Paused { .. })).await;
    let reqs = r.wait_for(1).await;
    assert_eq!(r.answered(), 0, "the receiver still holds the request");
    // The engine goes on turning while the notification hangs.
    for _ in 0..3 {
        handle.wake();
        until(events, "a turn", |e| matches!(e, Event::Turn(_))).await;
        until(events, "paused again", |e| {
            matches!(e, Event::Paused { .. })
        })
        .await;
    }
    assert_eq!(r.answered(), 0);
    release.notify_waiters();

    let photo = &reqs[0];
    assert_eq!(photo.path, "/bot5:tok/sendPhoto");
    let body = photo.text();
    assert!(body.contains("challenge-page"), "screenshot attached");
    assert!(body.contains("order 1 ended as challenge"), "{body}");
    assert!(body.contains("the store shows a bot check"));
    assert_eq!(
        r.count(),
        1,
        "a pause is told once, however often the loop sees it"
    );
    rig.stop().await;
}

#[test]
fn bad_notification_urls_fail_config_with_the_reason_redacted() {
    let env = |v: &str| vec![("RESTOCK_NOTIFY".to_string(), v.to_string())];
    let e = Config::load_from(None, &env("telegram://123:SuperSecret@telegram"))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("RESTOCK_NOTIFY"), "{e}");
    assert!(e.contains("chats="), "{e}");
    assert!(!e.contains("SuperSecret"), "{e}");
    let e = Config::load_from(None, &env("ntfys://ntfy.sh/ok-topic, smtp://u:pw@mail"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("unknown scheme `smtp://`") && !e.contains("pw@"),
        "{e}"
    );
    let ok = Config::load_from(
        None,
        &env("ntfys://ntfy.sh/a-topic,gotify://g.example/Tok,discord://t@1,generic+https://h.example/x"),
    )
    .unwrap();
    assert_eq!(ok.notify.len(), 4);
}

#[test]
fn test_notify_says_which_channels_answered() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (good, bad) = rt.block_on(async {
        let good = Receiver::spawn().await;
        let bad = Receiver::spawn().await;
        bad.set_default(Reply::Status(404));
        (good, bad)
    });
    let env = Env::new(&[]);
    let run = |notify: String| {
        env.command()
            .arg("test-notify")
            .env("RESTOCK_NOTIFY", notify)
            .output()
            .unwrap()
    };
    let out = run(format!("ntfy://{}/my-long-topic", good.addr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("ok "), "{stdout}");
    assert!(!stdout.contains("my-long-topic"), "{stdout}");
    assert_eq!(good.count(), 1);
    assert_eq!(
        good.requests()[0].header("title").as_deref(),
        Some("restock test notification")
    );

    let out = run(format!(
        "ntfy://{}/t1,generic+http://{}/hook",
        good.addr, bad.addr
    ));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAILED generic+http://") && stdout.contains("404"),
        "{stdout}"
    );

    let out = run(String::new());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("RESTOCK_NOTIFY is empty"));
    drop(rt);
}
