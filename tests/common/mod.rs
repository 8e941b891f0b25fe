//! Shared test scaffolding: a temp state dir with a catalog, an in-process
//! server with a scripted purchaser, and helpers that await engine events
//! instead of sleeping.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use restock::config::Config;
use restock::engine::Event;
use restock::purchase::scripted::ScriptedFactory;
use restock::server::{self, Parts, Running};
use tokio::sync::broadcast;

/// How long any awaited event may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(20);

pub struct Env {
    pub dir: tempfile::TempDir,
    pub config: Config,
}

impl Env {
    /// A fresh state dir and a catalog of `items`, each with one source on
    /// store `demo` (and a second on `backup`).
    pub fn new(items: &[&str]) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let catalog = dir.path().join("catalog.toml");
        std::fs::write(&catalog, catalog_toml(items)).unwrap();
        let config = Config {
            state_dir: dir.path().join("state"),
            catalog,
            listen: "127.0.0.1:0".parse().unwrap(),
            poll_interval: Duration::from_millis(200),
            buy_timeout: Duration::from_secs(5),
            debounce: Duration::from_secs(600),
            stall_after: Some(Duration::from_secs(2)),
            shutdown_grace: Duration::from_secs(2),
            ..Config::default()
        };
        Env { dir, config }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn db(&self) -> PathBuf {
        self.config.db_path()
    }

    pub async fn start(&self, factory: Arc<ScriptedFactory>) -> Running {
        server::start(&self.config, Parts::new(Arc::new(factory)))
            .await
            .unwrap()
    }
}

pub fn catalog_toml(items: &[&str]) -> String {
    items
        .iter()
        .map(|id| {
            format!(
                "[[item]]\nid = \"{id}\"\n[[item.source]]\nstore = \"demo\"\nurl = \"http://127.0.0.1:9/product/{id}\"\n\
                 [[item.source]]\nstore = \"backup\"\nurl = \"http://127.0.0.1:9/b/{id}\"\n"
            )
        })
        .collect()
}

/// Waits for the first event matching `pred`, failing after [`PATIENCE`].
pub async fn wait_for(rx: &mut broadcast::Receiver<Event>, pred: impl Fn(&Event) -> bool) -> Event {
    let fut = async {
        loop {
            match rx.recv().await {
                Ok(e) if pred(&e) => return e,
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("engine events closed: {e}"),
            }
        }
    };
    tokio::time::timeout(PATIENCE, fut)
        .await
        .expect("timed out waiting for an engine event")
}

pub async fn settled(rx: &mut broadcast::Receiver<Event>, id: i64) -> restock::model::Status {
    match wait_for(
        rx,
        |e| matches!(e, Event::Settled { id: i, .. } if *i == id),
    )
    .await
    {
        Event::Settled { status, .. } => status,
        _ => unreachable!(),
    }
}

pub fn url(running: &Running, path: &str) -> String {
    format!("http://{}{path}", running.addr)
}

pub async fn post_json(
    client: &reqwest::Client,
    url: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let resp = client.post(url).json(&body).send().await.unwrap();
    let code = resp.status().as_u16();
    (code, resp.json().await.unwrap_or(serde_json::Value::Null))
}

/// Every row of every table, as text: "byte-for-byte unchanged" checks.
pub fn dump(db: &Path) -> String {
    if !db.exists() {
        return "<no database>".into();
    }
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut out = String::new();
    for table in ["orders", "engine_state"] {
        let mut st = conn
            .prepare(&format!("SELECT * FROM {table} ORDER BY 1"))
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
        for row in rows {
            out.push_str(&format!("{table}: {}\n", row.unwrap()));
        }
    }
    out
}
