//! `restock dry-run ITEM`: one dry run now, through the real browser,
//! printing each phase and the total. Nothing is queued or written to the
//! database, and the buy always stops before Place Order.

use std::path::PathBuf;

use async_trait::async_trait;

use super::{browser_settings, CliError};
use crate::catalog::Catalog;
use crate::config::Config;
use crate::model::{now_ms, Money, Phase, Status};
use crate::purchase::{self, BuyProgress, BuyRequest, PurchaseError, Refusal};

/// Prints what the buy does instead of recording it.
struct Printer {
    screenshots: PathBuf,
}

#[async_trait]
impl BuyProgress for Printer {
    async fn enter(&self, phase: Phase) -> Result<(), PurchaseError> {
        println!("phase       {phase}");
        Ok(())
    }

    fn step(&self, what: &str) {
        println!("            {what}");
    }

    async fn approve_total(&self, total: Money) -> Result<(), Refusal> {
        println!("total       {total}");
        Ok(())
    }

    fn screenshot_path(&self, label: &str) -> PathBuf {
        self.screenshots
            .join(format!("dry-run-{}-{label}.png", now_ms()))
    }
}

pub async fn run(config: &Config, item_id: &str) -> Result<(), CliError> {
    let catalog = Catalog::load(&config.catalog).map_err(|e| CliError::Config(e.to_string()))?;
    let item = catalog.get(item_id).ok_or_else(|| {
        CliError::Refused(format!(
            "unknown item `{item_id}`; `restock catalog` lists the items"
        ))
    })?;
    let settings = browser_settings(config)?;
    let printer = Printer {
        screenshots: config.screenshots_dir(),
    };
    for source in &item.sources {
        println!("source      {} {}", source.store, source.url);
        let req = BuyRequest {
            order_id: 0,
            item_id: item.id.clone(),
            item_name: item.name.clone(),
            quantity: item.quantity,
            store: source.store.clone(),
            product_url: source.url.clone(),
            ceiling: item.ceiling(source),
            dry_run: true,
        };
        let mut purchaser = purchase::factory(&settings, &source.store)
            .map_err(|e| CliError::Refused(e.to_string()))?;
        let outcome = purchaser.buy(&req, &printer).await;
        println!(
            "result      {}{}",
            outcome.status,
            outcome
                .message
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        );
        if let Some(shot) = &outcome.screenshot {
            println!("screenshot  {}", shot.display());
        }
        match outcome.status {
            Status::DryRun => return Ok(()),
            Status::Unavailable | Status::PriceBlocked => continue,
            other => return Err(CliError::Refused(format!("dry run ended as {other}"))),
        }
    }
    Err(CliError::Refused("no source could be bought".into()))
}
