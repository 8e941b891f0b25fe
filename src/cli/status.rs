//! `restock status [--json]`: what the engine is doing and what needs a
//! human, read from the database so it works with the server up or down.
//!
//! `--json` prints `{"paused": Pause|null, "counts": {status: n},
//! "in_progress": [Order], "needs_attention": [Order], "state": {...},
//! "heartbeat": [MonitorState], "sessions": [StoreSession]}` (monitor URLs
//! redacted to their labels); the text form has one
//! `Session  demo  signed in (checked 2h ago)` line per store.

use std::collections::BTreeMap;

use serde_json::json;

use super::{ago, open_queue, order_line, CliError};
use restock::config::Config;
use restock::db::{MonitorState, Role};
use restock::model::Status;

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
    if json {
        let out = json!({ "paused": pause, "counts": counts, "in_progress": in_progress, "needs_attention": review, "heartbeat": monitors, "sessions": sessions });
        println!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(anyhow::Error::from)?
        );
        return Ok(());
    }
    match &pause {
        Some(p) => println!("{:<10} PAUSED {}: {}", "Engine", ago(p.since), p.reason),
        None => println!("{:<10} running", "Engine"),
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
