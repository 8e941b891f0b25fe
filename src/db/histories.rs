//! Every item's last order and last placed time, for `GET /items`, read
//! again only when the database changed.

use std::sync::Arc;

use rusqlite::Connection;
use serde::Serialize;

use super::orders::{order_from_row, Order, ORDER_COLUMNS};
use super::{Db, DbError};

/// Per-item summary for dashboards (`GET /items`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemHistory {
    pub item: String,
    pub last: Option<Order>,
    pub last_placed_at: Option<i64>,
}

/// Every item's history as read at one database version.
#[derive(Debug)]
pub struct Histories {
    version: (u64, i64),
    pub items: Vec<ItemHistory>,
}

impl Db {
    /// The last order and last placed time of every item that has orders.
    ///
    /// Dashboards poll this (`GET /items`), so it is reread only when the
    /// database changed: the key is this connection's own change count and
    /// `PRAGMA data_version`, which moves when any other connection (the
    /// CLI) commits. An unchanged database gives back the same `Arc`.
    pub async fn item_histories(&self) -> Result<Arc<Histories>, DbError> {
        let cache = Arc::clone(&self.histories);
        self.call(move |c| {
            let data_version: i64 = c.pragma_query_value(None, "data_version", |r| r.get(0))?;
            let version = (c.total_changes(), data_version);
            let mut slot = cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(h) = slot.as_ref().filter(|h| h.version == version) {
                return Ok(Arc::clone(h));
            }
            let fresh = Arc::new(Histories {
                version,
                items: read_histories(c)?,
            });
            *slot = Some(Arc::clone(&fresh));
            Ok(fresh)
        })
        .await
    }
}

fn read_histories(c: &Connection) -> Result<Vec<ItemHistory>, DbError> {
    let cols = ORDER_COLUMNS
        .split(", ")
        .map(|col| format!("o.{col}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT {cols}, (SELECT MAX(finished_at) FROM orders p WHERE p.item = o.item AND p.status = 'placed')
         FROM orders o JOIN (SELECT MAX(id) AS id FROM orders GROUP BY item) l ON o.id = l.id"
    );
    // The last placed time comes right after the order's columns.
    let placed_at = ORDER_COLUMNS.split(", ").count();
    let mut st = c.prepare_cached(&sql)?;
    let rows = st.query_map([], |r| {
        let order = order_from_row(r)?;
        Ok(ItemHistory {
            item: order.item.clone(),
            last_placed_at: r.get(placed_at)?,
            last: Some(order),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
