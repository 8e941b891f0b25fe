//! `restock enqueue ITEM`: through the running server when it answers (so
//! its engine wakes at once), else straight into the database, where the
//! server's poll finds it.

use serde_json::json;

use super::{ask_server, open_queue, CliError};
use restock::catalog::Catalog;
use restock::config::Config;
use restock::db::Enqueued;

pub async fn run(config: &Config, item: &str, requester: Option<&str>) -> Result<(), CliError> {
    let catalog = Catalog::load(&config.catalog).map_err(|e| CliError::Config(e.to_string()))?;
    if catalog.get(item).is_none() {
        return Err(CliError::Refused(format!(
            "unknown item `{item}`; `restock catalog` lists the items"
        )));
    }
    let body = json!({ "item": item, "requester": requester.unwrap_or("cli") });
    if let Some((code, answer)) =
        ask_server(config, reqwest::Method::POST, "/reorder", Some(body)).await
    {
        return report_server(code, &answer);
    }
    let db = open_queue(config)?;
    match db
        .enqueue(item, Some(requester.unwrap_or("cli")), config.debounce)
        .await?
    {
        Enqueued::Queued { id } => {
            println!("queued order {id} for {item} (server not reachable; it will pick it up on its next poll)");
            Ok(())
        }
        Enqueued::Debounced { reason, .. } => {
            Err(CliError::Refused(format!("not queued: {reason}")))
        }
        Enqueued::Paused { reason } => Err(CliError::Refused(format!(
            "not queued: engine paused: {reason}"
        ))),
    }
}

fn report_server(code: u16, answer: &serde_json::Value) -> Result<(), CliError> {
    let field = |k: &str| {
        answer
            .get(k)
            .map(|v| v.to_string().trim_matches('"').to_string())
            .unwrap_or_default()
    };
    match (code, field("result").as_str()) {
        (202, _) => {
            println!("queued order {}", field("id"));
            Ok(())
        }
        (200, "paused") => Err(CliError::Refused(format!(
            "not queued: engine paused: {}",
            field("reason")
        ))),
        (200, _) => Err(CliError::Refused(format!(
            "not queued: {}",
            field("reason")
        ))),
        _ => Err(CliError::Refused(format!(
            "server answered {code}: {}",
            field("error")
        ))),
    }
}
