//! `restock demo-store [--listen ADDR] [--session-ttl DURATION]`: the
//! built-in demo storefront, for trying restock and writing store
//! definitions without a real shop.

use std::net::SocketAddr;
use std::time::Duration;

use restock::demo::StoreOptions;

use super::CliError;

pub async fn run(listen: SocketAddr, session_ttl: Option<Duration>) -> Result<(), CliError> {
    let mut options = StoreOptions::default();
    if let Some(ttl) = session_ttl {
        options.session_ttl = ttl;
    }
    restock::demo::run(listen, options)
        .await
        .map_err(|e| CliError::Config(e.to_string()))
}
