//! `restock dry-run ITEM`: one dry run now, through the real browser,
//! printing each phase and the total. Nothing is queued or written to the
//! database, and the buy always stops before Place Order. On a terminal a
//! spinner shows the phase and step in progress.

use std::path::PathBuf;

use async_trait::async_trait;

use super::progress::Progress;
use super::{browser_settings, CliError};
use restock::catalog::Catalog;
use restock::config::Config;
use restock::model::{now_ms, Money, Phase, Status};
use restock::purchase::{self, BuyProgress, BuyRequest, PurchaseError, Refusal};

/// Prints what the buy does instead of recording it.
struct Printer {
    screenshots: PathBuf,
    progress: Progress,
}

#[async_trait]
impl BuyProgress for Printer {
    async fn enter(&self, phase: Phase) -> Result<(), PurchaseError> {
        self.progress.println(&format!("phase       {phase}"));
        self.progress.status(&format!("{phase}"));
        Ok(())
    }

    fn step(&self, what: &str) {
        self.progress.println(&format!("            {what}"));
        self.progress.status(what);
    }

    async fn approve_total(&self, total: Money) -> Result<(), Refusal> {
        self.progress.println(&format!("total       {total}"));
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
        progress: Progress::spinner(),
    };
    for source in &item.sources {
        printer
            .progress
            .println(&format!("source      {} {}", source.store, source.url));
        printer
            .progress
            .status(&format!("launching Chromium for {}", source.store));
        let req = BuyRequest::for_source(0, item, source, true);
        let mut purchaser = purchase::factory(&settings, &source.store)
            .map_err(|e| CliError::Refused(e.to_string()))?;
        let outcome = purchaser.buy(&req, &printer).await;
        printer.progress.println(&format!(
            "result      {}{}",
            outcome.status,
            outcome
                .message
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        ));
        if let Some(shot) = &outcome.screenshot {
            printer
                .progress
                .println(&format!("screenshot  {}", shot.display()));
        }
        match outcome.status {
            Status::DryRun => return Ok(()),
            Status::Unavailable | Status::PriceBlocked => continue,
            other => return Err(CliError::Refused(format!("dry run ended as {other}"))),
        }
    }
    Err(CliError::Refused("no source could be bought".into()))
}
