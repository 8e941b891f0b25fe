//! `restock verify ID [--json]`: looks for a `needs_review` order in its
//! store's order history now, through the real browser (read-only: the
//! order-history page is opened and read, nothing is clicked), whatever
//! the schedule of the engine's own checks. Found: the order becomes
//! `placed` with the store's order id and a pause it caused is lifted.
//! Not found: it stays `needs_review`.
//!
//! Exit code 0 when found, 1 when not found, when the store cannot be
//! verified (no `[orders]` in its definition) or when the order is not
//! `needs_review`. With a server running, a check of its own may hold the
//! store's profile for a moment: the answer then says the profile is busy;
//! try again.

use std::sync::{Arc, RwLock};

use super::{browser_settings, open_queue, CliError};
use restock::catalog::Catalog;
use restock::config::Config;
use restock::engine::{CheckResult, Verifier, VerifyError, VerifySettings};
use restock::purchase::BrowserFactory;

pub async fn run(config: &Config, id: i64, json: bool) -> Result<(), CliError> {
    let db = open_queue(config)?;
    let catalog = Catalog::load(&config.catalog).map_err(|e| CliError::Config(e.to_string()))?;
    let factory = Arc::new(BrowserFactory::new(Arc::new(browser_settings(config)?)));
    let verifier = Verifier::new(
        db.clone(),
        factory,
        Arc::new(RwLock::new(Arc::new(catalog))),
        VerifySettings::from_config(config),
    );
    let result = match verifier.verify(id).await {
        Ok(r) => r,
        Err(VerifyError::Db(e)) => return Err(e.into()),
        Err(e) => return Err(CliError::Refused(e.to_string())),
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&result).map_err(anyhow::Error::from)?
        );
    } else {
        println!("{}", result.describe(id));
    }
    match result {
        CheckResult::Found { .. } => Ok(()),
        CheckResult::NotFound { .. } => Err(CliError::Refused(format!(
            "order {id} stays needs_review"
        ))),
        CheckResult::Unsupported { .. } => Err(CliError::Refused(format!(
            "order {id} cannot be verified; check the store's order history yourself, then `restock resume`"
        ))),
    }
}
