//! A test's own state: a temp dir holding a catalog and the state dir, the
//! `Config` pointing at them, and the `restock` binary's command with those
//! settings. This is the one place that builds the binary's command.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use restock::config::Config;
use restock::purchase::scripted::ScriptedFactory;
use restock::server::{self, Parts, Running};

pub struct Env {
    pub dir: tempfile::TempDir,
    pub config: Config,
}

impl Env {
    /// A fresh state dir and a catalog of `items`, each with one source on
    /// store `demo` and a second on `backup`.
    pub fn new(items: &[&str]) -> Env {
        Env::with_catalog(&catalog_toml(items))
    }

    /// A fresh state dir and the catalog `text`: quick polls and timeouts,
    /// no session checks.
    pub fn with_catalog(text: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let catalog = dir.path().join("catalog.toml");
        std::fs::write(&catalog, text).unwrap();
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

    /// An in-process server on this env with a scripted purchaser.
    pub async fn start(&self, factory: Arc<ScriptedFactory>) -> Running {
        server::start(&self.config, Parts::new(Arc::new(factory)))
            .await
            .unwrap()
    }

    /// The `restock` binary with this env's settings as `RESTOCK_*`
    /// environment variables, the way a unit file runs it.
    pub fn command(&self) -> Command {
        let c = &self.config;
        let duration = |d: Duration| humantime::format_duration(d).to_string();
        let schedule = serde_json::to_value(&c.session_check).unwrap();
        let mut cmd = bare(self.path());
        cmd.env("RESTOCK_STATE_DIR", &c.state_dir)
            .env("RESTOCK_CATALOG", &c.catalog)
            .env("RESTOCK_LISTEN", c.listen.to_string())
            .env("RESTOCK_DRY_RUN", c.dry_run.to_string())
            .env("RESTOCK_POLL_INTERVAL", duration(c.poll_interval))
            .env("RESTOCK_BUY_TIMEOUT", duration(c.buy_timeout))
            .env("RESTOCK_SESSION_CHECK", schedule.as_str().unwrap());
        if let Some(dir) = &c.stores_dir {
            cmd.env("RESTOCK_STORES_DIR", dir);
        }
        let table = |m: &BTreeMap<String, String>| {
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

/// The `restock` binary with an empty environment.
pub fn binary() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_restock"));
    cmd.env_clear();
    cmd
}

/// The `restock` binary with `PATH` and `HOME` only: a user who configured
/// nothing.
pub fn bare(home: &Path) -> Command {
    let mut cmd = binary();
    cmd.env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home);
    cmd
}

/// Its combined stdout and stderr, as text.
pub fn output_text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A catalog of `items`, each with one source on store `demo` and a second
/// on `backup`.
pub fn catalog_toml(items: &[&str]) -> String {
    catalog_on(&["demo", "backup"], items)
}

/// A catalog of `items`, each with one source on every store of `stores`,
/// in order, at a URL nothing answers (`http://127.0.0.1:9/<store>/<item>`).
pub fn catalog_on(stores: &[&str], items: &[&str]) -> String {
    let mut out = String::new();
    for id in items {
        out.push_str(&format!("[[item]]\nid = \"{id}\"\n"));
        for store in stores {
            out.push_str(&format!(
                "[[item.source]]\nstore = \"{store}\"\nurl = \"http://127.0.0.1:9/{store}/{id}\"\n"
            ));
        }
    }
    out
}

/// A file of this repository, as text.
pub fn repo_file(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Monitor URLs as the config reads them (`RESTOCK_HEARTBEAT_URL`).
pub fn monitor_urls(raw: &[String]) -> Vec<restock::urls::MonitorUrl> {
    raw.iter().map(|u| u.parse().unwrap()).collect()
}
