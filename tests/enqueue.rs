//! `Queue::enqueue` decides concurrent requests in shared transactions
//! (group commit). Whatever the batching, each request must get the answer
//! it would get alone, in arrival order, and every "queued" must be a row
//! on disk.

use std::collections::HashMap;
use std::time::Duration;

use restock::queue::{Enqueued, Queue};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_each_get_their_own_answer_and_every_queued_is_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("restock.db");
    let queue = Queue::open(&db).unwrap();
    let tasks: Vec<_> = (0..600)
        .map(|i| {
            let q = queue.clone();
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
    drop(queue);

    // Another connection sees exactly the queued rows.
    let reader = Queue::open(&db).unwrap();
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
