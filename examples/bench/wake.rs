//! Benchmark 3, Wake latency: from `POST /reorder` answered (the client has the 202
//! and its body) to the engine's `Event::Claimed` for that id, with the
//! poll interval at one hour so only the wake can start the claim.
//!
//! One sample at a time: post, wait for the claim, then for the engine's
//! `Idle` (it is back in its wait), then the next. A listener task stamps
//! each event as it arrives, so a claim that lands before the client has
//! read its answer counts as 0 (and is counted). The reference is a bare
//! `tokio::sync::Notify` round trip between two tasks on the same runtime.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use restock::engine::Event;
use restock::purchase::scripted::ScriptedFactory;
use restock::server::{self, Parts};
use tokio::sync::{mpsc, Notify};

use crate::table::{dur, ratio, Row, Samples};

pub async fn run(samples: usize) -> Result<Row> {
    let dir = tempfile::tempdir()?;
    let config = crate::intake::config(dir.path(), "wake", samples)?;
    let running = server::start(&config, Parts::new(Arc::new(ScriptedFactory::noop()))).await?;

    let mut events = running.handle.subscribe();
    let (tx, mut rx) = mpsc::unbounded_channel::<(Event, Instant)>();
    let listener = tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(e @ (Event::Claimed { .. } | Event::Idle)) => {
                    if tx.send((e, Instant::now())).is_err() {
                        return;
                    }
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => return,
            }
        }
    });

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(10))
        .no_proxy()
        .build()?;
    let url = format!("http://{}/reorder", running.addr);
    // The engine's first Idle may come before the subscription: read its
    // state instead (a wake that races its wait is kept by the Notify).
    let deadline = Instant::now() + Duration::from_secs(10);
    while running.handle.activity().state != restock::model::ActivityState::Idle {
        if Instant::now() > deadline {
            bail!("the engine did not go idle within 10 s");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let mut lat = Vec::with_capacity(samples);
    let mut claim_first = 0;
    for i in 0..samples {
        let resp = client
            .post(&url)
            .header("content-type", "application/json")
            .body(format!("{{\"item\":\"wake-{i:05}\"}}"))
            .send()
            .await?;
        let status = resp.status().as_u16();
        let body: serde_json::Value = resp.json().await?;
        let answered = Instant::now();
        if status != 202 {
            bail!("POST /reorder answered {status}: {body}");
        }
        let id = body["id"].as_i64().context("no id in the answer")?;
        let claimed = next_event(
            &mut rx,
            |e| matches!(e, Event::Claimed { id: c } if *c == id),
        )
        .await?;
        if claimed < answered {
            claim_first += 1;
        }
        lat.push(claimed.saturating_duration_since(answered));
        next_event(&mut rx, |e| matches!(e, Event::Idle)).await?;
    }
    listener.abort();
    running.stop().await;
    let wake = Samples::new(lat);

    let notify = notify_round_trips(samples).await?;
    let p99 = wake.pct(99.0);
    Ok(Row {
        figure: format!(
            "p50 {}, p99 {} ({} samples; {claim_first} claimed before the client read its answer, counted as 0)",
            dur(wake.median()),
            dur(p99),
            wake.len()
        ),
        reference: format!(
            "Notify round trip: p50 {}, p99 {}",
            dur(notify.median()),
            dur(notify.pct(99.0))
        ),
        ratio: format!("{} (p99)", ratio(p99.as_secs_f64(), notify.pct(99.0).as_secs_f64())),
        target: "p99 < 50 ms".into(),
        met: Some(p99 < Duration::from_millis(50)),
        ..Row::new("3. Wake latency, POST answered -> Claimed (poll 1 h)")
    })
}

async fn next_event(
    rx: &mut mpsc::UnboundedReceiver<(Event, Instant)>,
    pred: impl Fn(&Event) -> bool,
) -> Result<Instant> {
    let fut = async {
        while let Some((e, at)) = rx.recv().await {
            if pred(&e) {
                return Ok(at);
            }
        }
        bail!("engine events closed")
    };
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .context("no engine event within 10 s")?
}

/// Task A notifies B, B notifies A back; A times the round trip.
async fn notify_round_trips(samples: usize) -> Result<Samples> {
    let (ping, pong) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let (p, q) = (ping.clone(), pong.clone());
    let echo = tokio::spawn(async move {
        for _ in 0..samples {
            p.notified().await;
            q.notify_one();
        }
    });
    let mut lat = Vec::with_capacity(samples);
    for _ in 0..samples {
        // Let the echo task reach its wait, as the engine reaches its own.
        tokio::time::sleep(Duration::from_millis(1)).await;
        let t = Instant::now();
        ping.notify_one();
        tokio::time::timeout(Duration::from_secs(10), pong.notified())
            .await
            .context("Notify echo did not answer")?;
        lat.push(t.elapsed());
    }
    echo.await?;
    Ok(Samples::new(lat))
}
