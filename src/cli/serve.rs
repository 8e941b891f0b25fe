//! `restock serve`.

use super::CliError;
use crate::config::Config;
use crate::server::{self, Parts, ServeError};

pub async fn run(config: Config) -> Result<(), CliError> {
    let mut parts = Parts::new(
        crate::purchase::default_factory(&config).map_err(|e| CliError::Config(e.to_string()))?,
    );
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
