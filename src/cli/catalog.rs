//! `restock catalog [--json]`.

use super::CliError;
use restock::catalog::Catalog;
use restock::config::Config;

pub fn run(config: &Config, json: bool) -> Result<(), CliError> {
    let catalog = Catalog::load(&config.catalog).map_err(|e| CliError::Config(e.to_string()))?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&catalog.items).map_err(anyhow::Error::from)?
        );
        return Ok(());
    }
    println!("{:<18} {:<28} {:>4}  sources", "id", "name", "qty");
    for item in &catalog.items {
        let sources = item
            .sources
            .iter()
            .map(|s| match item.ceiling(s) {
                Some(max) => format!("{} (max {max})", s.store),
                None => s.store.clone(),
            })
            .collect::<Vec<_>>()
            .join(" -> ");
        println!(
            "{:<18} {:<28} {:>4}  {sources}",
            item.id, item.name, item.quantity
        );
    }
    Ok(())
}
