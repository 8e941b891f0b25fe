//! Benchmark 2, Intake: `POST /reorder` on distinct items and `GET /items` with a
//! 2,000-item catalog, against the real server (`server::start`), from an
//! in-process load generator: 16 tasks, each with its own reqwest client
//! and so its own keep-alive HTTP/1.1 connection, sending one request after
//! another.
//!
//! The engine is kept in one buy for the whole run (a scripted purchaser
//! that hangs after `browsing`, on the first item), as it is while a real
//! browser buy takes its seconds. POSTs go in rounds of one request per
//! other catalog item (1,999 distinct items); between rounds the round's
//! orders are cancelled (untimed) so the next round queues every item
//! again (202). `GET /items` runs last on the same server, so every item
//! has a history.
//!
//! Row 2c sends the same rounds to servers whose engine drains the orders
//! with the no-op purchaser meanwhile, at full speed: the worst case for
//! the intake, which shares the queue's one connection with the engine
//! (claim, phase writes, settle for every order it takes). Each round gets
//! a fresh server, so every item is queued (202) into an empty queue.
//!
//! The reference is the same generator against a trivial axum router
//! answering 202 on both routes, in the same run.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use axum::http::StatusCode;
use axum::routing::{get, post};
use restock::config::Config;
use restock::engine::Event;
use restock::model::Phase;
use restock::purchase::scripted::{Script, ScriptedFactory};
use restock::server::{self, Parts};

use crate::table::{dur, rate, ratio, Row, Samples};

pub const CONNECTIONS: usize = 16;
pub const CATALOG_ITEMS: usize = 2000;

/// One load run's result.
pub struct Load {
    pub requests: usize,
    pub per_s: f64,
    pub latency: Samples,
}

impl Load {
    pub fn summary(&self) -> String {
        format!(
            "{} req/s, p50 {}, p99 {}",
            rate(self.per_s),
            dur(self.latency.median()),
            dur(self.latency.pct(99.0))
        )
    }
}

#[derive(Clone, Copy)]
pub enum Method {
    Post,
    Get,
}

/// A request: method, path, body.
type Request = (Method, &'static str, Option<String>);

/// Sends every request once, spread over [`CONNECTIONS`] keep-alive
/// connections; fails on the first answer whose status is not `expect`.
pub async fn load(addr: SocketAddr, requests: Arc<Vec<Request>>, expect: u16) -> Result<Load> {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let (next, requests) = (next.clone(), requests.clone());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .timeout(Duration::from_secs(10))
                .no_proxy()
                .build()?;
            let mut lat = Vec::with_capacity(requests.len() / CONNECTIONS + 1);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((method, path, body)) = requests.get(i) else {
                    break;
                };
                let url = format!("http://{addr}{path}");
                let t = Instant::now();
                let req = match method {
                    Method::Get => client.get(url),
                    Method::Post => client
                        .post(url)
                        .header("content-type", "application/json")
                        .body(body.clone().unwrap_or_default()),
                };
                let resp = req.send().await?;
                let status = resp.status().as_u16();
                let bytes = resp.bytes().await?;
                lat.push(t.elapsed());
                if status != expect {
                    bail!(
                        "{path}: expected {expect}, got {status}: {}",
                        String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
                    );
                }
            }
            anyhow::Ok(lat)
        }));
    }
    let mut all = Vec::with_capacity(requests.len());
    let joined = tokio::time::timeout(Duration::from_secs(300), async {
        for t in tasks {
            all.extend(t.await??);
        }
        anyhow::Ok(())
    })
    .await;
    joined.context("load run exceeded 300 s")??;
    let elapsed = start.elapsed();
    Ok(Load {
        requests: all.len(),
        per_s: all.len() as f64 / elapsed.as_secs_f64(),
        latency: Samples::new(all),
    })
}

pub fn catalog_toml(prefix: &str, n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "[[item]]\nid = \"{prefix}-{i:05}\"\nname = \"Bench item {i}\"\n[[item.source]]\nstore = \"demo\"\nurl = \"http://127.0.0.1:9/product/{prefix}-{i:05}\"\n"
            )
        })
        .collect()
}

/// A config for an in-process server in `dir` with a catalog of `items`.
pub fn config(dir: &std::path::Path, prefix: &str, items: usize) -> Result<Config> {
    let catalog = dir.join("catalog.toml");
    std::fs::write(&catalog, catalog_toml(prefix, items))?;
    Ok(Config {
        state_dir: dir.join("state"),
        catalog,
        listen: "127.0.0.1:0".parse()?,
        poll_interval: Duration::from_secs(3600),
        debounce: Duration::ZERO,
        stall_after: Some(Duration::from_secs(3600)),
        ..Config::default()
    })
}

/// The trivial reference server: 202 on both routes.
pub async fn trivial() -> Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let app = axum::Router::new()
        .route("/reorder", post(|| async { StatusCode::ACCEPTED }))
        .route("/items", get(|| async { StatusCode::ACCEPTED }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((addr, task))
}

pub async fn run(rounds: usize, gets: usize) -> Result<(Vec<Row>, Vec<String>)> {
    let dir = tempfile::tempdir()?;
    let mut config = config(dir.path(), "item", CATALOG_ITEMS)?;
    config.buy_timeout = Duration::from_secs(3600);
    // The engine sits in one buy for the whole run, as it does while a
    // real browser buy takes its seconds: it takes no other order and
    // issues no statements meanwhile.
    let factory = ScriptedFactory::noop();
    factory.set_default(Script::hang_at(Phase::Browsing));
    let running = server::start(&config, Parts::new(Arc::new(factory))).await?;
    let mut events = running.handle.subscribe();
    let busy = format!("http://{}/reorder", running.addr);
    let answer = reqwest::Client::new()
        .post(&busy)
        .json(&serde_json::json!({ "item": "item-00000" }))
        .send()
        .await?;
    if answer.status().as_u16() != 202 {
        bail!("the first POST answered {}", answer.status());
    }
    tokio::time::timeout(Duration::from_secs(10), async {
        while !matches!(events.recv().await, Ok(Event::Phase { .. }) | Err(_)) {}
    })
    .await
    .context("the engine did not start the first buy")?;

    let posts = post_requests(1);
    let mut post_lat = Vec::new();
    let mut post_time = Duration::ZERO;
    for _ in 0..rounds {
        let l = load(running.addr, posts.clone(), 202).await?;
        post_time += Duration::from_secs_f64(l.requests as f64 / l.per_s);
        post_lat.extend(l.latency.into_inner());
        // Untimed: cancel the round's orders so the next round queues
        // every item again (cancelled orders do not debounce).
        running
            .db
            .with_conn(|c| {
                c.execute(
                    "UPDATE orders SET status = 'cancelled' WHERE status = 'pending'",
                    [],
                )?;
                Ok(())
            })
            .await?;
    }
    // Leave one pending order per item, so `GET /items` shows a history
    // (rounds cancelled orders and a queued one) for every item.
    load(running.addr, posts.clone(), 202).await?;
    let post = Load {
        requests: post_lat.len(),
        per_s: post_lat.len() as f64 / post_time.as_secs_f64(),
        latency: Samples::new(post_lat),
    };

    // One untimed request first: checks the answer really lists the catalog.
    let body = reqwest::get(format!("http://{}/items", running.addr))
        .await?
        .text()
        .await?;
    let listed: serde_json::Value = serde_json::from_str(&body)?;
    let n = listed.as_array().map_or(0, Vec::len);
    if n != CATALOG_ITEMS {
        bail!("GET /items listed {n} items, expected {CATALOG_ITEMS}");
    }
    let get_reqs: Arc<Vec<Request>> =
        Arc::new((0..gets).map(|_| (Method::Get, "/items", None)).collect());
    let items = load(running.addr, get_reqs.clone(), 200).await?;
    // The answer's cost when nothing is cached: one GET right after a
    // write (which changes the database, so the histories are reread and
    // the body rendered again), one at a time.
    let cold = after_writes(&running, &format!("http://{}/items", running.addr)).await?;
    running.stop().await;

    // The same POSTs with the engine draining no-op orders meanwhile: it
    // shares the queue's one connection with the intake.
    let mut contended = contended(&posts).await?;
    for _ in 1..rounds {
        contended = merge(contended, self::contended(&posts).await?);
    }

    let (taddr, ttask) = trivial().await?;
    let mut tpost = load(taddr, posts.clone(), 202).await?;
    for _ in 1..rounds {
        let more = load(taddr, posts.clone(), 202).await?;
        tpost = merge(tpost, more);
    }
    let tget = load(taddr, get_reqs, 202).await?;
    ttask.abort();

    let post_met = post.per_s >= 10_000.0 && post.latency.pct(99.0) < Duration::from_millis(5);
    let get_met = items.latency.pct(99.0) < Duration::from_millis(20);
    let contended_met = contended.latency.pct(99.0) < Duration::from_millis(5);
    let rows = vec![
        Row {
            figure: format!("{} ({} requests)", post.summary(), post.requests),
            reference: format!("trivial axum 202: {}", tpost.summary()),
            ratio: ratio(post.per_s, tpost.per_s),
            target: ">= 10,000 req/s, p99 < 5 ms".into(),
            met: Some(post_met),
            ..Row::new("2a. Intake POST /reorder, distinct items, 16 conns (engine in a buy)")
        },
        Row {
            figure: format!(
                "{} ({} requests, {} KB each)",
                items.summary(),
                items.requests,
                body.len() / 1024
            ),
            reference: format!("trivial axum 202: {}", tget.summary()),
            ratio: ratio(items.per_s, tget.per_s),
            target: "p99 < 20 ms".into(),
            met: Some(get_met),
            ..Row::new("2b. Intake GET /items, 2,000-item catalog, 16 conns")
        },
        Row {
            figure: format!("{} ({} requests)", contended.summary(), contended.requests),
            reference: format!("trivial axum 202: {}", tpost.summary()),
            ratio: format!(
                "{} (p99)",
                ratio(
                    contended.latency.pct(99.0).as_secs_f64(),
                    tpost.latency.pct(99.0).as_secs_f64()
                )
            ),
            target: "p99 < 5 ms".into(),
            met: Some(contended_met),
            ..Row::new(
                "2c. Intake POST /reorder, distinct items, 16 conns, while the engine drains the queue (no-op purchaser, full speed)",
            )
        },
    ];
    let notes = vec![format!(
            "Intake: `GET /items` is served from a cache while the database, the catalog and every item's state \
             are unchanged (a dashboard polling between orders, as in 2b); right after a write, when the histories \
             are reread and the answer rendered again, one request at a time takes p50 {} (max {}).",
        dur(cold.median()),
        dur(cold.pct(100.0))
    )];
    Ok((rows, notes))
}

/// A `POST /reorder` per catalog item from `from` on.
/// `url` fetched 20 times, one at a time, each right after a write (an
/// order queued), so nothing cached from before the write can answer: what
/// a fresh answer costs.
pub async fn after_writes(running: &server::Running, url: &str) -> Result<Samples> {
    let client = reqwest::Client::new();
    let mut cold = Vec::new();
    for i in 0..20 {
        running
            .db
            .enqueue(&format!("bench-cold-{i}"), Some("bench"), Duration::ZERO)
            .await?;
        let t = Instant::now();
        client.get(url).send().await?.bytes().await?;
        cold.push(t.elapsed());
    }
    Ok(Samples::new(cold))
}

pub fn post_requests(from: usize) -> Arc<Vec<Request>> {
    Arc::new(
        (from..CATALOG_ITEMS)
            .map(|i| {
                let body = format!("{{\"item\":\"item-{i:05}\",\"requester\":\"bench\"}}");
                (Method::Post, "/reorder", Some(body))
            })
            .collect(),
    )
}

/// One round of POSTs against a fresh server whose engine settles each
/// order at once.
async fn contended(posts: &Arc<Vec<Request>>) -> Result<Load> {
    let dir = tempfile::tempdir()?;
    let config = config(dir.path(), "item", CATALOG_ITEMS)?;
    let running = server::start(&config, Parts::new(Arc::new(ScriptedFactory::noop()))).await?;
    let l = load(running.addr, posts.clone(), 202).await;
    running.stop().await;
    l
}

fn merge(a: Load, b: Load) -> Load {
    let time = a.requests as f64 / a.per_s + b.requests as f64 / b.per_s;
    let mut lat = a.latency.into_inner();
    lat.extend(b.latency.into_inner());
    Load {
        requests: lat.len(),
        per_s: lat.len() as f64 / time,
        latency: Samples::new(lat),
    }
}
