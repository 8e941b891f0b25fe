//! 5. Browser path: a dry-run buy on the demo store through the real
//! purchaser, launch included, next to a minimal chromiumoxide program
//! doing the same page steps. Waits for the browser purchaser to be merged.

use anyhow::{bail, Result};

use crate::table::Row;

pub async fn run(_runs: usize) -> Result<Row> {
    bail!("the browser purchaser is not merged into this branch yet")
}
