//! `restock demo-store [--listen ADDR]`: the built-in demo storefront, for
//! trying restock and writing store definitions without a real shop.

use std::net::SocketAddr;

use super::CliError;

pub async fn run(listen: SocketAddr) -> Result<(), CliError> {
    crate::demo::run(listen)
        .await
        .map_err(|e| CliError::Config(e.to_string()))
}
