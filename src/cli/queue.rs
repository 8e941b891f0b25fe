//! `restock queue [--status S] [--json]`.
//!
//! `--json` prints an array of order objects with the fields of
//! `queue::Order` (`id`, `item`, `requester`, `status`, `phase`, `store`,
//! `created_at`, `claimed_at`, `finished_at` in ms since the epoch,
//! `attempts`, `recoveries`, `retryable`, `price`, `total` as `"12.50"`,
//! `order_ref`, `message`, `screenshot`). Fields are only ever added.

use super::{open_queue, order_line, CliError};
use restock::config::Config;
use restock::model::Status;

pub async fn run(
    config: &Config,
    status: Option<Status>,
    limit: u32,
    json: bool,
) -> Result<(), CliError> {
    let orders = open_queue(config)?.recent(status, limit).await?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&orders).map_err(anyhow::Error::from)?
        );
        return Ok(());
    }
    if orders.is_empty() {
        println!("no orders");
        return Ok(());
    }
    println!(
        "{:>6}  {:<18} {:<16} {:>8}  detail",
        "id", "item", "status", "created"
    );
    for o in &orders {
        println!("{}", order_line(o));
    }
    Ok(())
}
