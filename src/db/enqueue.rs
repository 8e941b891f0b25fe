//! `enqueue` with group commit.
//!
//! Every request is decided in an `IMMEDIATE` transaction together with the
//! pause and debounce checks, so concurrent requests for one item never
//! both slip through. Committing each request alone made a button storm
//! (or a dashboard retrying) queue up behind one commit per request, each
//! on its own trip to the blocking pool. So requests go to one writer
//! thread, which takes all that are waiting (up to [`MAX_BATCH`]) and
//! decides them one after another in a single transaction: the same
//! checks in the same order, one commit. A request is answered only after
//! that commit, so "queued" still means "on disk".
//!
//! If the batch's transaction fails (read-only file, full disk), each
//! request of it is tried again alone, so each gets its own answer and
//! none is reported queued without being written.

use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use tokio::sync::oneshot;

use super::checkpoint::Ops;
use super::connection::Cached;
use super::lock::SharedConn;
use super::orders::parse_status;
use super::state::read_pause;
use super::{DbError, Enqueued};

/// At most this many requests share one transaction, so one batch cannot
/// hold the connection for long while the engine waits for it.
const MAX_BATCH: usize = 64;

pub(super) struct Request {
    pub item: String,
    pub requester: Option<String>,
    pub debounce: Duration,
    pub now: i64,
}

struct Job {
    request: Request,
    reply: oneshot::Sender<Result<Enqueued, DbError>>,
}

/// The writer thread's inbox. The thread ends when the last `Db` clone
/// (and with it this sender) is dropped.
pub(super) struct Writer(mpsc::Sender<Job>);

impl Writer {
    pub fn start(conn: Arc<SharedConn>, ops: Arc<Ops>) -> Writer {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("restock-enqueue".into())
            .spawn(move || run(&conn, &rx, &ops))
            .expect("cannot start the enqueue writer thread");
        Writer(tx)
    }

    pub async fn submit(&self, request: Request) -> Result<Enqueued, DbError> {
        let (reply, answer) = oneshot::channel();
        self.0
            .send(Job { request, reply })
            .map_err(|_| DbError::WriterStopped("the enqueue writer has stopped"))?;
        answer
            .await
            .map_err(|_| DbError::WriterStopped("the enqueue writer dropped a request"))?
    }
}

fn run(conn: &SharedConn, rx: &mpsc::Receiver<Job>, ops: &Ops) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        ops.add(batch.len() as u64);
        let mut c = conn.lock();
        let requests: Vec<&Request> = batch.iter().map(|j| &j.request).collect();
        match decide_all(&mut c, &requests) {
            Ok(answers) => {
                for (job, answer) in batch.into_iter().zip(answers) {
                    let _ = job.reply.send(Ok(answer));
                }
            }
            Err(_) if batch.len() > 1 => {
                for job in batch {
                    let answer = decide_all(&mut c, &[&job.request]).map(|mut a| a.remove(0));
                    let _ = job.reply.send(answer);
                }
            }
            Err(e) => {
                if let Some(job) = batch.pop() {
                    let _ = job.reply.send(Err(e));
                }
            }
        }
    }
}

/// The requests, in order, in one `IMMEDIATE` transaction.
fn decide_all(c: &mut Connection, requests: &[&Request]) -> Result<Vec<Enqueued>, DbError> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let answers = requests
        .iter()
        .map(|r| decide(&tx, r))
        .collect::<Result<Vec<_>, _>>()?;
    tx.commit()?;
    Ok(answers)
}

/// Pause, then debounce, then insert: one request's whole decision.
fn decide(c: &Connection, r: &Request) -> Result<Enqueued, DbError> {
    if let Some(p) = read_pause(c)? {
        return Ok(Enqueued::Paused { reason: p.reason });
    }
    let since = r.now - r.debounce.as_millis() as i64;
    let existing: Option<(i64, String)> = c
        .row_cached(
            "SELECT id, status FROM orders WHERE item = ?1 AND status != 'cancelled'
               AND (status IN ('pending', 'in_progress') OR MIN(created_at, ?3) > ?2)
             ORDER BY id DESC LIMIT 1",
            params![r.item, since, r.now],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    if let Some((id, status)) = existing {
        let status = parse_status(&status)?;
        let reason = format!("order {id} for `{}` is already {status}", r.item);
        return Ok(Enqueued::Debounced { id, status, reason });
    }
    c.exec_cached(
        "INSERT INTO orders (item, requester, status, created_at) VALUES (?1, ?2, 'pending', ?3)",
        params![r.item, r.requester, r.now],
    )?;
    Ok(Enqueued::Queued {
        id: c.last_insert_rowid(),
    })
}
