//! `restock status [--json]`: whether an engine runs and what it is doing,
//! and what needs a human, read from the database so it works with the
//! server up or down.
//!
//! The first line says whether a server runs for this state directory and
//! when its loop last turned (`restock::server::liveness`): `running (loop
//! turned 2s ago)`, `stalled (no turn for 4m; /health answers 503)` or
//! `not running (last seen 3h ago)`, then `PAUSED ...` when paused.
//!
//! `--json` prints `{"engine": {"state": "running"|"stalled"|"not_running",
//! ..., "summary": "running (loop turned 2s ago)"}, "paused": Pause|null,
//! "counts": {status: n}, "in_progress": [Order], "needs_attention":
//! [Order], "verifications": [Verification], "heartbeat": [MonitorState],
//! "sessions": [StoreSession]}` (monitor URLs redacted to their labels);
//! the text form has one `Session  demo  signed in, expires in 6 d
//! (checked 2h ago)` line per store, and one `Verify` line per
//! `needs_review` order being looked for in its store's order history.

use std::collections::BTreeMap;

use serde_json::json;

use super::{ago, open_queue, order_line, CliError};
use restock::config::Config;
use restock::db::{MonitorState, Role, Verification};
use restock::model::{Status, Verdict};
use restock::server::liveness;

pub async fn run(config: &Config, json: bool) -> Result<(), CliError> {
    let db = open_queue(config)?;
    let pause = db.paused().await?;
    let counts: BTreeMap<&str, u64> = db
        .counts()
        .await?
        .into_iter()
        .map(|(s, n)| (s.as_str(), n))
        .collect();
    let in_progress = db.recent(Some(Status::InProgress), 10).await?;
    let review = db.recent(Some(Status::NeedsReview), 10).await?;
    let monitors = db.monitors().await?;
    let sessions = db.sessions().await?;
    let mut verifications = Vec::new();
    for o in &review {
        if let Some(v) = db.verification(o.id).await? {
            verifications.push(v);
        }
    }
    let engine = liveness::engine_liveness(config, db.turned_at().await?).await;
    let summary = liveness::describe(&engine);
    if json {
        let mut engine = json!(engine);
        engine["summary"] = json!(summary);
        let out = json!({ "engine": engine, "paused": pause, "counts": counts, "in_progress": in_progress, "needs_attention": review, "verifications": verifications, "heartbeat": monitors, "sessions": sessions });
        println!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(anyhow::Error::from)?
        );
        return Ok(());
    }
    match &pause {
        Some(p) => println!(
            "{:<10} {summary}; PAUSED {}: {}",
            "Engine",
            ago(p.since),
            p.reason
        ),
        None => println!("{:<10} {summary}", "Engine"),
    }
    println!(
        "{:<10} dry run {}",
        "Mode",
        if config.dry_run {
            "ON (no order is placed)"
        } else {
            "off"
        }
    );
    let summary = counts
        .iter()
        .map(|(s, n)| format!("{s} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    println!(
        "{:<10} {}",
        "Orders",
        if summary.is_empty() {
            "none".into()
        } else {
            summary
        }
    );
    for m in &monitors {
        println!("{:<10} {}", "Heartbeat", heartbeat_line(m));
    }
    for o in in_progress.iter().chain(&review) {
        println!("{:<10} {}", "Order", order_line(o).trim_start());
    }
    for v in &verifications {
        println!("{:<10} {}", "Verify", verify_line(v, config));
    }
    for s in &sessions {
        println!(
            "{:<10} {:<6} {}",
            "Session",
            s.store,
            restock::probe::describe(s)
        );
    }
    Ok(())
}

/// `hc.example.org/…/a1b2  sent 12s ago, ack 12s ago`, or
/// `kuma.local/…/x9z0  sent 40s ago, FAILING (3 in a row): timeout`.
fn heartbeat_line(m: &MonitorState) -> String {
    let mut label = m.label.clone();
    if m.role == Role::OrderCheck {
        label.push_str(" (order check)");
    }
    let Some(sent) = m.last_sent else {
        return format!("{label}  never sent");
    };
    let mut line = format!("{label}  sent {}", ago(sent));
    if m.failures > 0 {
        line.push_str(&format!(
            ", FAILING ({} in a row): {}",
            m.failures,
            m.last_error.as_deref().unwrap_or("unknown error")
        ));
        if let Some(ack) = m.last_ack {
            line.push_str(&format!("; last ack {}", ago(ack)));
        }
    } else if let Some(ack) = m.last_ack {
        line.push_str(&format!(", ack {}", ago(ack)));
    }
    line
}

/// `order 12: looking in demo's order history (1 check, next in 4 min)`,
/// or its verdict.
fn verify_line(v: &Verification, config: &Config) -> String {
    let id = v.order_id;
    let store = &v.store;
    match v.verdict {
        None => {
            let next = v
                .next_at
                .map(|t| {
                    let left = t - restock::model::now_ms();
                    if left > 0 {
                        format!(", next in {}", restock::text::span_words(left))
                    } else {
                        ", next due now".to_string()
                    }
                })
                .unwrap_or_default();
            let last = v
                .last_error
                .as_deref()
                .map(|e| format!("; last look: {e}"))
                .unwrap_or_default();
            format!(
                "order {id}: looking in {store}'s order history ({} check{} done{next}){last}",
                v.checks,
                if v.checks == 1 { "" } else { "s" }
            )
        }
        Some(Verdict::NotFound) => format!(
            "order {id}: not in {store}'s order history after {}; check it yourself, then `restock resume`",
            restock::text::span_words(config.verify_window.as_millis() as i64)
        ),
        Some(Verdict::Unsupported) => format!(
            "order {id}: cannot be verified ({}); check {store}'s order history yourself",
            v.last_error.as_deref().unwrap_or("no [orders] page")
        ),
        Some(Verdict::Placed) => format!(
            "order {id}: found in {store}'s order history as {}",
            v.order_ref.as_deref().unwrap_or("?")
        ),
    }
}
