//! `restock resume`: clears the pause in the database and, when the server
//! answers, wakes its engine at once.

use super::{ask_server, open_queue, CliError};
use restock::config::Config;

pub async fn run(config: &Config) -> Result<(), CliError> {
    let was = open_queue(config)?.resume().await?;
    let _ = ask_server(config, reqwest::Method::POST, "/resume", None).await;
    match was {
        Some(p) => println!("resumed (was paused: {})", p.reason),
        None => println!("not paused; nothing to do"),
    }
    Ok(())
}
