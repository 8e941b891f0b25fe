//! Boot recovery: before the loop claims anything, every row a previous run
//! left `in_progress` is classified by the phase it reached.
//!
//! - before `submitted`: money-safe, back to `pending` (bounded by
//!   `max_recoveries`, so a crash loop cannot retry forever);
//! - at `submitted`: `needs_review`, the engine pauses and the owner is told.
//!
//! Run only by the one `serve` that holds the state dir's lock, so it never
//! takes a row from a live engine.

use crate::db::{Db, DbError, Recovered};
use crate::model::Status;

pub async fn recover(db: &Db, max_recoveries: u32) -> Result<Vec<Recovered>, DbError> {
    let rows = db.recover(max_recoveries).await?;
    for r in &rows {
        let phase = r.phase.map(|p| p.as_str()).unwrap_or("none");
        match r.now {
            Status::NeedsReview => tracing::warn!(
                order = r.id,
                phase,
                "interrupted after Place Order: needs review; engine paused"
            ),
            Status::Failed => tracing::warn!(order = r.id, phase, "interrupted too often: failed"),
            _ => tracing::info!(
                order = r.id,
                phase,
                "interrupted before Place Order: back to pending"
            ),
        }
    }
    Ok(rows)
}
