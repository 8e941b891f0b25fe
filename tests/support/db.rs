//! The database as a test reads it behind the code's back.

use std::path::Path;

/// Every row of every table, as text, with the schema version: for "the
/// database is byte-for-byte unchanged" checks. The engine loop's liveness
/// record (`engine.turned_at`), which changes with time and not with input,
/// is left out.
pub fn dump(db: &Path) -> String {
    if !db.exists() {
        return "<no database>".into();
    }
    let conn = rusqlite::Connection::open(db).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    let mut out = format!("user_version {version}\n");
    for table in tables {
        let mut st = conn
            .prepare(&format!("SELECT * FROM \"{table}\" ORDER BY 1"))
            .unwrap();
        let n = st.column_count();
        let rows = st
            .query_map([], |r| {
                Ok((0..n)
                    .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                    .collect::<Vec<_>>()
                    .join("|"))
            })
            .unwrap();
        let liveness = format!(
            "{:?}|",
            rusqlite::types::ValueRef::Text(b"engine.turned_at")
        );
        for row in rows {
            let row = row.unwrap();
            if table == "engine_state" && row.starts_with(&liveness) {
                continue;
            }
            out.push_str(&format!("{table}: {row}\n"));
        }
    }
    out
}

/// Polls order `id` until `pred` holds. On timeout it fails naming `what`,
/// with the last row and `context()` (a server's log, say).
pub async fn order_until(
    db: &restock::db::Db,
    id: i64,
    what: &str,
    pred: impl Fn(&restock::db::Order) -> bool,
    context: impl FnOnce() -> String,
) -> restock::db::Order {
    let row = || async {
        db.get(id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("order {id} does not exist"))
    };
    let found = super::wait::poll_within(super::wait::PATIENCE, || async {
        Some(row().await).filter(|o| pred(o))
    })
    .await;
    match found {
        Some(o) => o,
        None => panic!(
            "timed out waiting for {what} (order {id}); last row: {:#?}\n{}",
            row().await,
            context()
        ),
    }
}

/// Moves every store's last session notice back by `by`, as if that much
/// time had passed since (the remind period, without waiting it out).
pub async fn backdate_session_notices(db: &restock::db::Db, by: std::time::Duration) {
    let ms = by.as_millis() as i64;
    db.with_conn(move |c| {
        c.execute(
            "UPDATE store_sessions SET notified_at = notified_at - ?1",
            [ms],
        )?;
        Ok(())
    })
    .await
    .unwrap();
}
