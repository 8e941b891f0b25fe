//! `Db::enqueue` decides concurrent requests in shared transactions
//! (group commit). Whatever the batching, each request must get the answer
//! it would get alone, in arrival order, and every "queued" must be a row
//! on disk.

use std::collections::HashMap;
use std::time::Duration;

use restock::db::{Db, Enqueued};
use support::env::Env;
use support::wait::within;

mod support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_each_get_their_own_answer_and_every_queued_is_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("restock.db");
    let db = Db::open(&path).unwrap();
    let tasks: Vec<_> = (0..600)
        .map(|i| {
            let q = db.clone();
            tokio::spawn(async move {
                let item = format!("item-{}", i % 200);
                let answer = q
                    .enqueue(&item, Some("test"), Duration::from_secs(600))
                    .await;
                (item, answer.unwrap())
            })
        })
        .collect();
    let mut queued: HashMap<String, i64> = HashMap::new();
    let mut debounced = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            (item, Enqueued::Queued { id }) => {
                assert!(queued.insert(item, id).is_none(), "an item queued twice");
            }
            (item, Enqueued::Debounced { id, .. }) => debounced.push((item, id)),
            (_, other) => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!(queued.len(), 200, "one order per item");
    assert_eq!(debounced.len(), 400);
    for (item, id) in debounced {
        assert_eq!(queued[&item], id, "debounced onto the item's one order");
    }
    drop(db);

    // Another connection sees exactly the queued rows.
    let reader = Db::open(&path).unwrap();
    let rows: Vec<(i64, String)> = reader
        .with_conn(|c| {
            let mut st = c.prepare("SELECT id, item FROM orders WHERE status = 'pending'")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 200);
    for (id, item) in rows {
        assert_eq!(queued[&item], id);
    }
}

/// Under `restock serve` the shared connection leaves checkpoints to the
/// background service (past a backstop), and that service moves every
/// frame of the log into the database file while orders keep coming.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_checkpoints_the_wal_in_the_background() {
    use restock::db::checkpoint::BACKSTOP_PAGES;
    let env = Env::new(&["soap"]);
    let running = env
        .start(restock::purchase::scripted::ScriptedFactory::noop())
        .await;
    let backstop: i64 = running
        .db
        .with_conn(|c| Ok(c.pragma_query_value(None, "wal_autocheckpoint", |r| r.get(0))?))
        .await
        .unwrap();
    assert_eq!(backstop, BACKSTOP_PAGES);
    for i in 0..500 {
        running
            .db
            .enqueue(&format!("item-{i}"), None, Duration::ZERO)
            .await
            .unwrap();
    }
    let mut last = running.checkpoints();
    let done = within(
        "a complete checkpoint of a non-empty log",
        last.wait_for(|c| c.runs > 0 && c.log_frames > 0 && c.checkpointed == c.log_frames),
    )
    .await
    .unwrap()
    .to_owned();
    assert!(done.log_frames > 0);
    running.stop().await;
}
