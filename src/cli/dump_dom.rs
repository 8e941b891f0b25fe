//! `restock dump-dom STORE URL [--out DIR]`: the rendered HTML and a
//! screenshot as the store's profile sees the page, for writing a store
//! definition's selectors.

use std::path::PathBuf;

use super::{browser_settings, CliError};
use restock::config::Config;
use restock::purchase;

pub async fn run(
    config: &Config,
    store: &str,
    url: &str,
    out: Option<PathBuf>,
) -> Result<(), CliError> {
    let settings = browser_settings(config)?;
    let out = out.unwrap_or_else(|| config.state_dir.join("dumps"));
    let dump = purchase::dump_dom(&settings, store, url, &out)
        .await
        .map_err(|e| CliError::Refused(e.to_string()))?;
    println!("html        {}", dump.html.display());
    println!("screenshot  {}", dump.screenshot.display());
    Ok(())
}
