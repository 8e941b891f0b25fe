//! Putting a claimed order back to wait, without counting a retry: the
//! engine does this when every store the order could use is held by a live
//! sign-in session (see `engine::held`). The order is not failed and
//! nothing was tried; it simply waits until `not_before`.

use rusqlite::params;

use super::connection::Cached;
use super::orders::expect_one;
use super::{Db, DbError};

impl Db {
    /// Back to `pending` until `not_before`, with `message` saying why.
    /// Refuses rows at `submitted` (like [`Db::requeue`]), and leaves the
    /// retry count alone.
    pub async fn defer(&self, id: i64, not_before: i64, message: String) -> Result<(), DbError> {
        self.call(move |c| {
            let n = c.exec_cached(
                "UPDATE orders SET status = 'pending', phase = NULL, claimed_at = NULL, not_before = ?2,
                        message = ?3
                 WHERE id = ?1 AND status = 'in_progress' AND (phase IS NULL OR phase != 'submitted')",
                params![id, not_before, message],
            )?;
            expect_one(n, id)
        })
        .await
    }
}
