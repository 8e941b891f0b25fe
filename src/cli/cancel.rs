//! `restock cancel ID`: only pending orders; a claimed one belongs to the
//! engine.

use super::{open_queue, CliError};
use restock::config::Config;

pub async fn run(config: &Config, id: i64) -> Result<(), CliError> {
    let order = open_queue(config)?.cancel(id).await?;
    println!("order {} ({}) cancelled", order.id, order.item);
    Ok(())
}
