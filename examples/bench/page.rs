//! Benchmark 6, Home page: `GET /` for a 2,000-item catalog whose items
//! all have order history, against the real server (`server::start`, no
//! token: the page as a browser on loopback gets it), from the intake
//! benchmark's load generator (16 keep-alive connections).
//!
//! Every item gets a history first (untimed): one `POST /reorder` per item,
//! drained by the engine with the no-op purchaser, so each row shows a last
//! order and 20 recent orders are listed. Nothing changes during the run,
//! as between orders: each request reads the view (pause, orders,
//! sessions, monitors, the item histories `GET /items` also uses) and
//! renders the page around the item rows, which are kept while they hold
//! (and at most a second, so some requests render them again). Notes add
//! one request at a time, and the cost of a page whose rows are rendered
//! again (right after a write).
//!
//! The reference is the same generator against a trivial axum handler
//! answering 202, in the same run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use restock::purchase::scripted::ScriptedFactory;
use restock::server::{self, Parts};

use crate::intake::{after_writes, config, load, post_requests, trivial, Method, CATALOG_ITEMS};
use crate::table::{dur, ratio, Row, Samples};

pub async fn run(gets: usize) -> Result<(Row, Vec<String>)> {
    let dir = tempfile::tempdir()?;
    let config = config(dir.path(), "item", CATALOG_ITEMS)?;
    let running = server::start(&config, Parts::new(Arc::new(ScriptedFactory::noop()))).await?;
    // Untimed: a history for every item.
    load(running.addr, post_requests(0), 202).await?;
    tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            let counts = running.db.counts().await?;
            let open = counts
                .iter()
                .filter(|(s, _)| !s.is_terminal())
                .map(|(_, n)| n)
                .sum::<u64>();
            if open == 0 {
                return anyhow::Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .context("the engine did not settle the history orders within 120 s")??;

    let home = format!("http://{}/", running.addr);
    let body = reqwest::get(&home).await?.text().await?;
    let rows = body.matches("class=\"row item\"").count();
    if rows != CATALOG_ITEMS {
        bail!("GET / listed {rows} items, expected {CATALOG_ITEMS}");
    }
    if body.matches("data-last=").count() != CATALOG_ITEMS {
        bail!("not every item shows its last order");
    }
    let requests: Arc<Vec<_>> = Arc::new((0..gets).map(|_| (Method::Get, "/", None)).collect());
    let page = load(running.addr, requests.clone(), 200).await?;
    // The same items as `GET /items`' JSON (kept whole while it holds), the
    // same way, for scale.
    let items_reqs: Arc<Vec<_>> =
        Arc::new((0..gets).map(|_| (Method::Get, "/items", None)).collect());
    let items = load(running.addr, items_reqs, 200).await?;
    // One at a time: what one render costs, with nothing queued before it.
    let client = reqwest::Client::new();
    let mut alone = Vec::new();
    for _ in 0..gets.min(200) {
        let t = Instant::now();
        client.get(&home).send().await?.bytes().await?;
        alone.push(t.elapsed());
    }
    let alone = Samples::new(alone);
    // Right after a write (the histories change, so the rows are rendered
    // again), one at a time.
    let cold = after_writes(&running, &home).await?;
    running.stop().await;

    let (taddr, ttask) = trivial().await?;
    let treqs: Arc<Vec<_>> = Arc::new((0..gets).map(|_| (Method::Get, "/items", None)).collect());
    let reference = load(taddr, treqs, 202).await?;
    ttask.abort();

    let met = page.latency.pct(99.0) < Duration::from_millis(20);
    let row = Row {
        figure: format!(
            "{} ({} requests, {} KB each)",
            page.summary(),
            page.requests,
            body.len() / 1024
        ),
        reference: format!("trivial axum 202: {}", reference.summary()),
        ratio: ratio(page.per_s, reference.per_s),
        target: "p99 < 20 ms".into(),
        met: Some(met),
        ..Row::new("6. Home page GET /, 2,000 items with history, 16 conns")
    };
    let notes = vec![
        format!(
            "Home page: for scale, `GET /items` (the same 2,000 items as JSON, about the same size, kept whole) \
             the same way in the same run: {}.",
            items.summary()
        ),
        format!(
        "Home page: one request at a time (no queueing), `GET /` with 2,000 items takes p50 {}, p99 {} ({} requests); \
         right after a write, when every row is rendered again, p50 {} (max {}).",
        dur(alone.median()),
        dur(alone.pct(99.0)),
        alone.len(),
        dur(cold.median()),
        dur(cold.pct(100.0))
        ),
    ];
    Ok((row, notes))
}
