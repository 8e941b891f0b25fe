//! `restock failures [--limit N] [--json]`: recent orders that did not end
//! well, with the reason and the screenshot to look at.

use super::{ago, open_queue, CliError};
use restock::config::Config;
use restock::model::Status;

/// Statuses worth a look: everything that is neither fine nor still live.
const FAILURES: [Status; 8] = [
    Status::Failed,
    Status::NeedsReview,
    Status::Challenge,
    Status::Blocked,
    Status::SigninRequired,
    Status::Unavailable,
    Status::PriceBlocked,
    Status::SpendCapped,
];

pub async fn run(config: &Config, limit: u32, json: bool) -> Result<(), CliError> {
    let db = open_queue(config)?;
    let mut rows = Vec::new();
    for status in FAILURES {
        rows.extend(db.recent(Some(status), limit).await?);
    }
    rows.sort_by_key(|o| std::cmp::Reverse(o.id));
    rows.truncate(limit as usize);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).map_err(anyhow::Error::from)?
        );
        return Ok(());
    }
    if rows.is_empty() {
        println!("no failed orders");
    }
    for o in &rows {
        let when = ago(o.finished_at.unwrap_or(o.created_at));
        println!(
            "{:>6}  {:<18} {:<16} {:>8}  {}",
            o.id,
            o.item,
            o.status.as_str(),
            when,
            o.message.as_deref().unwrap_or("")
        );
        if let Some(shot) = &o.screenshot {
            println!("{:>6}  screenshot: {shot}", "");
        }
    }
    Ok(())
}
