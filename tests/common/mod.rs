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
pub const PATIENCE: Duration = Duration::from_secs(60);

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
            session_check: restock::config::Schedule::Off,
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

/// A GET answered with JSON (the status is not checked).
pub async fn get_json(client: &reqwest::Client, url: &str) -> serde_json::Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}

/// Every row of every table, as text: "byte-for-byte unchanged" checks.
/// The engine loop's liveness record (`engine.turned_at`), which changes
/// with time and not with input, is left out.
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

/// Chromium processes whose profile lives under `dir` (their command line
/// carries `--user-data-dir=<dir>/...`).
pub fn chromium_under(dir: &Path) -> Vec<String> {
    let needle = format!("--user-data-dir={}", dir.display());
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(&needle) {
            found.push(format!(
                "{}: {}",
                entry.file_name().to_string_lossy(),
                &cmdline[..cmdline.len().min(120)]
            ));
        }
    }
    found
}

/// Fails unless every Chromium under `dir` is gone within a few seconds (a
/// killed process needs a moment to be reaped).
pub async fn assert_no_chromium(dir: &Path) {
    for _ in 0..50 {
        if chromium_under(dir).is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("Chromium processes left behind: {:#?}", chromium_under(dir));
}

/// A catalog whose items buy from the demo store: `(id, [product paths])`.
pub fn demo_catalog(base: &str, items: &[(&str, &[&str])]) -> String {
    let mut out = String::new();
    for (id, paths) in items {
        out.push_str(&format!("[[item]]\nid = \"{id}\"\n"));
        for p in *paths {
            out.push_str(&format!(
                "[[item.source]]\nstore = \"demo\"\nurl = \"{base}{p}\"\n"
            ));
        }
    }
    out
}

impl Env {
    /// Points this env at a running demo store with checkout data, dry run
    /// off, and the given catalog.
    pub fn use_demo(&mut self, base: &str, items: &[(&str, &[&str])]) {
        std::fs::write(&self.config.catalog, demo_catalog(base, items)).unwrap();
        self.config
            .store_urls
            .insert("demo".into(), base.to_string());
        self.config.stores_dir = Some(self.dir.path().join("stores"));
        std::fs::create_dir_all(self.dir.path().join("stores")).unwrap();
        for (k, v) in [
            ("name", "Ada"),
            ("address", "1 Engine Way"),
            ("postal_code", "10115"),
        ] {
            self.config.checkout.insert(k.into(), v.into());
        }
        self.config.dry_run = false;
        self.config.buy_timeout = Duration::from_secs(60);
        self.config.stall_after = Some(Duration::from_secs(60));
    }

    /// Signs the demo profile in through the store's form.
    pub async fn sign_in_demo(&self) {
        let settings = restock::purchase::settings_from_config(&self.config).unwrap();
        let state = restock::purchase::sign_in_with_form(
            &settings,
            "demo",
            restock::demo::DEMO_EMAIL,
            restock::demo::DEMO_PASSWORD,
        )
        .await
        .unwrap();
        assert_eq!(state, restock::model::SessionState::SignedIn);
    }

    /// The real browser factory, as `serve` builds it.
    pub fn browser_parts(&self) -> Parts {
        let settings = restock::purchase::settings_from_config(&self.config).unwrap();
        let known = settings.stores.names().map(str::to_string).collect();
        let mut parts = Parts::new(Arc::new(restock::purchase::BrowserFactory::new(Arc::new(
            settings,
        ))));
        parts.known_stores = Some(known);
        parts
    }

    /// The `restock` binary with this env's settings as environment
    /// variables, the way a unit file runs it.
    pub fn command(&self) -> std::process::Command {
        let c = &self.config;
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_restock"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("RESTOCK_STATE_DIR", &c.state_dir)
            .env("RESTOCK_CATALOG", &c.catalog)
            .env("RESTOCK_LISTEN", c.listen.to_string())
            .env("RESTOCK_DRY_RUN", c.dry_run.to_string())
            .env("RESTOCK_POLL_INTERVAL", "200ms")
            .env(
                "RESTOCK_BUY_TIMEOUT",
                humantime::format_duration(c.buy_timeout).to_string(),
            )
            .env("RESTOCK_SESSION_CHECK", "off");
        if let Some(dir) = &c.stores_dir {
            cmd.env("RESTOCK_STORES_DIR", dir);
        }
        let table = |m: &std::collections::BTreeMap<String, String>| {
            format!(
                "{{{}}}",
                m.iter()
                    .map(|(k, v)| format!("{k}=\"{v}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        cmd.env("RESTOCK_STORE_URLS", table(&c.store_urls))
            .env("RESTOCK_CHECKOUT", table(&c.checkout));
        cmd
    }
}

/// A free loopback port (bound and released; fine for tests).
pub fn free_addr() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Polls `f` every 50 ms until it returns `Some`, failing after [`PATIENCE`].
/// For state owned by another process, where no event can be awaited.
pub async fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + PATIENCE * 3;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
