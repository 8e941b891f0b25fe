//! What a dashboard shows at one moment (the home page): the pause and its
//! order, the orders to review, the newest orders, every store's session
//! record and every monitor's record, read in one call on the one
//! connection: one hop to the blocking pool instead of six, and one
//! consistent look (a read transaction) instead of six moments.

use super::monitors::monitors_on;
use super::orders::{get_order, recent_on, Order};
use super::sessions::list_on;
use super::state::{read_pause, Pause};
use super::{Db, DbError, MonitorState};
use crate::model::{Status, StoreSession};

/// Everything [`Db::overview`] reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Overview {
    pub pause: Option<Pause>,
    /// The order the pause is about.
    pub pause_order: Option<Order>,
    /// Orders in `needs_review`, newest first.
    pub review: Vec<Order>,
    /// The newest orders.
    pub recent: Vec<Order>,
    pub sessions: Vec<StoreSession>,
    /// Empty unless asked for (a server reads them live from its switch).
    pub monitors: Vec<MonitorState>,
}

impl Db {
    /// The overview with the `limit` newest orders (and as many to review);
    /// the stored monitor records when `monitors`.
    pub async fn overview(&self, limit: u32, monitors: bool) -> Result<Overview, DbError> {
        self.call(move |c| {
            let tx = c.transaction()?;
            let pause = read_pause(&tx)?;
            let pause_order = match pause.as_ref().and_then(|p| p.order_id) {
                Some(id) => get_order(&tx, id)?,
                None => None,
            };
            let overview = Overview {
                pause,
                pause_order,
                review: recent_on(&tx, Some(Status::NeedsReview), limit)?,
                recent: recent_on(&tx, None, limit)?,
                sessions: list_on(&tx)?,
                monitors: if monitors {
                    monitors_on(&tx)?
                } else {
                    Vec::new()
                },
            };
            tx.commit()?;
            Ok(overview)
        })
        .await
    }
}
