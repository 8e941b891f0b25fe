//! `restock serve`.

use std::sync::Arc;

use super::CliError;
use restock::config::Config;
use restock::purchase::{settings_from_config, BrowserFactory};
use restock::server::{self, Parts, ServeError};

pub async fn run(config: Config) -> Result<(), CliError> {
    let settings = settings_from_config(&config).map_err(|e| CliError::Config(e.to_string()))?;
    // Fail at start-up, not at the first order, when there is no browser.
    restock::purchase::browser::find_chrome(settings.chrome.as_deref()).map_err(|e| {
        let var = if config.chrome.is_some() {
            "RESTOCK_CHROME: "
        } else {
            ""
        };
        CliError::Config(format!("{var}{e}"))
    })?;
    let known: Vec<String> = settings.stores.names().map(str::to_string).collect();
    let settings = Arc::new(settings);
    let mut parts = Parts::new(Arc::new(BrowserFactory::new(settings.clone())));
    parts.known_stores = Some(known);
    parts.browser = Some(settings);
    parts.session_probe = true;
    let running = server::start(&config, parts)
        .await
        .map_err(|e: ServeError| {
            if e.is_config() {
                CliError::Config(e.to_string())
            } else {
                CliError::Other(e.into())
            }
        })?;
    server::run_until_signal(running, &config)
        .await
        .map_err(|e| CliError::Other(e.into()))
}
