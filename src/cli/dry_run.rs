//! `restock dry-run ITEM [--explain]`: one dry run now, through the real
//! browser, printing each phase and the total. Nothing is queued or written
//! to the database, and the buy always stops before Place Order. On a
//! terminal a spinner shows the phase and step in progress.
//!
//! `--explain` prints, for every step, passed or not, what it looked for and
//! what the page had: each marker shown (and whether because of the step's
//! action or from the page before), hidden, or not in the page, with the
//! page's address and title. It is what an owner needs to fix a store
//! definition in one go.

use std::path::PathBuf;

use async_trait::async_trait;

use super::progress::Progress;
use super::{browser_settings, CliError};
use restock::catalog::Catalog;
use restock::config::Config;
use restock::model::{now_ms, Money, Phase, Status};
use restock::purchase::{self, BuyProgress, BuyRequest, PurchaseError, Refusal, Report};

/// Prints what the buy does instead of recording it.
struct Printer {
    screenshots: PathBuf,
    progress: Progress,
    explain: bool,
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

    fn explain(&self, step: &str, report: &Report) {
        if !self.explain {
            return;
        }
        let verdict = match &report.matched {
            Some(m) => format!("found {m}"),
            None => "NOT FOUND".to_string(),
        };
        self.progress.println(&format!(
            "explain     {step}: {verdict} on {} ({:?})",
            report.url, report.title
        ));
        for looked in &report.looked {
            let markers: Vec<String> = looked
                .markers
                .iter()
                .map(|(m, state)| format!("{m} {}", state.describe()))
                .collect();
            self.progress.println(&format!(
                "              {:<12} {}",
                looked.want,
                if markers.is_empty() {
                    "the page changed / did not change".to_string()
                } else {
                    markers.join(", ")
                }
            ));
        }
    }
}

pub async fn run(config: &Config, item_id: &str, explain: bool) -> Result<(), CliError> {
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
        explain,
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
