//! `restock retry ID`: refuses, exit 1, anything that reached Place Order.

use super::{open_queue, CliError};
use restock::config::Config;

pub async fn run(config: &Config, id: i64) -> Result<(), CliError> {
    let order = open_queue(config)?.retry(id).await?;
    println!("order {} ({}) is pending again", order.id, order.item);
    Ok(())
}
