//! The command line: one file per command, pueue-style. Every command but
//! `serve` works on the database directly (WAL lets it share the file with a
//! running server), so the CLI works when the server is down.
//!
//! Exit codes: 0 ok, 1 operation refused, 2 usage or configuration error.

mod cancel;
mod catalog;
mod demo;
mod demo_store;
mod doctor;
mod dry_run;
mod dump_dom;
mod enqueue;
mod failures;
mod login;
mod login_remote;
mod probe;
mod progress;
mod queue;
mod resume;
mod retry;
mod serve;
mod status;
mod test_notify;
mod verify;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use restock::config::Config;
use restock::db::{Db, Order};
use restock::model::{now_ms, Status};

#[derive(Debug, Parser)]
#[command(
    name = "restock",
    version,
    about = "Reorders household staples through a real browser, safely."
)]
pub struct Cli {
    /// TOML config file (also RESTOCK_CONFIG).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the intake API and the engine until SIGTERM.
    Serve,
    /// Queue an order for an item.
    Enqueue {
        item: String,
        #[arg(long)]
        requester: Option<String>,
    },
    /// Recent orders, newest first.
    Queue {
        #[arg(long)]
        status: Option<Status>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Engine state, queue counts, what needs a human.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Clear a pause after you fixed what it asked for.
    Resume,
    /// Put a finished order back in the queue (never one that reached Place Order).
    Retry { id: i64 },
    /// Cancel a pending order.
    Cancel { id: i64 },
    /// Look for a needs_review order in its store's order history now
    /// (read-only); found: it becomes placed and its pause is lifted.
    Verify {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// List the catalog.
    Catalog {
        #[arg(long)]
        json: bool,
    },
    /// Recent orders that failed or need you, with reasons and screenshots.
    Failures {
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Sign a store's profile in: a visible browser window, or (--remote,
    /// the default without a display) a one-time sign-in page on restock's
    /// own HTTP server, or (--cookies) cookies from a file.
    Login {
        store: String,
        /// Serve a live sign-in page for a phone or another computer.
        #[arg(long)]
        remote: bool,
        /// Import the store's cookies from a Netscape cookies.txt or a JSON export.
        #[arg(long, value_name = "FILE", conflicts_with = "remote")]
        cookies: Option<PathBuf>,
    },
    /// One dry run of an item now, printing each phase and the total.
    DryRun {
        item: String,
        /// For every step, what it looked for and what the page had.
        #[arg(long)]
        explain: bool,
    },
    /// Save the rendered HTML and a screenshot of a store page.
    DumpDom {
        store: String,
        url: String,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// The whole loop offline: demo store, headless Chromium, one real order.
    Demo,
    /// Serve the built-in demo storefront (sign in as demo@example.com / demo).
    DemoStore {
        #[arg(long, default_value = "127.0.0.1:8724")]
        listen: std::net::SocketAddr,
        /// How long a sign-in lasts (e.g. `90s`, `2h`, `30days`); default 30 days.
        #[arg(long, value_parser = humantime::parse_duration)]
        session_ttl: Option<std::time::Duration>,
    },
    /// Check now whether store profiles are still signed in (all with a
    /// profile, or STORE); exits 1 when one is not.
    Probe {
        store: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Send a test message to every RESTOCK_NOTIFY channel.
    TestNotify,
    /// Check the set-up (config, state dir, database, catalog and stores,
    /// Chromium, profiles, monitors, intake port); exits 1 when one fails.
    Doctor {
        /// Also send a test message to every notification channel.
        #[arg(long)]
        notify: bool,
        #[arg(long)]
        json: bool,
    },
}

/// How a command ended, mapped to the exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Usage or configuration: exit 2.
    #[error("{0}")]
    Config(String),
    /// The operation was refused: exit 1.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Config(_) => 2,
            CliError::Refused(_) | CliError::Other(_) => 1,
        }
    }
}

impl From<restock::db::DbError> for CliError {
    fn from(e: restock::db::DbError) -> Self {
        match e {
            restock::db::DbError::Refused(m) => CliError::Refused(m),
            restock::db::DbError::NotFound(id) => {
                CliError::Refused(format!("order {id} does not exist"))
            }
            other => CliError::Other(other.into()),
        }
    }
}

pub async fn run(cli: Cli, config: Config) -> Result<(), CliError> {
    match cli.command {
        Command::Serve => serve::run(config).await,
        Command::Enqueue { item, requester } => {
            enqueue::run(&config, &item, requester.as_deref()).await
        }
        Command::Queue {
            status,
            limit,
            json,
        } => queue::run(&config, status, limit, json).await,
        Command::Status { json } => status::run(&config, json).await,
        Command::Resume => resume::run(&config).await,
        Command::Retry { id } => retry::run(&config, id).await,
        Command::Cancel { id } => cancel::run(&config, id).await,
        Command::Verify { id, json } => verify::run(&config, id, json).await,
        Command::Catalog { json } => catalog::run(&config, json),
        Command::Failures { limit, json } => failures::run(&config, limit, json).await,
        Command::Demo => demo::run(&config).await,
        Command::Login {
            store,
            remote,
            cookies,
        } => login::run(&config, &store, remote, cookies.as_deref()).await,
        Command::DryRun { item, explain } => dry_run::run(&config, &item, explain).await,
        Command::DumpDom { store, url, out } => dump_dom::run(&config, &store, &url, out).await,
        Command::DemoStore {
            listen,
            session_ttl,
        } => demo_store::run(listen, session_ttl).await,
        Command::Probe { store, json } => probe::run(&config, store.as_deref(), json).await,
        Command::TestNotify => test_notify::run(&config).await,
        Command::Doctor { notify, json } => doctor::run(&config, notify, json).await,
    }
}

/// `restock doctor` when the config does not load: the one command that
/// runs anyway, reporting the error as its failed `config` check (exit 1).
pub fn doctor_bad_config(error: &restock::config::ConfigError, json: bool) -> Result<(), CliError> {
    doctor::run_bad_config(error, json)
}

fn open_queue(config: &Config) -> Result<Db, CliError> {
    Db::open(&config.db_path()).map_err(|e| CliError::Other(e.into()))
}

/// Asks a running server's intake; `None` when nothing answers, so the
/// caller falls back to the database.
async fn ask_server(
    config: &Config,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> Option<(u16, serde_json::Value)> {
    let url = format!("http://{}{path}", config.listen);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .ok()?;
    let mut req = client.request(method, url);
    if let Some(token) = &config.intake_token {
        req = req.bearer_auth(token);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.ok()?;
    let code = resp.status().as_u16();
    let json = resp.json().await.unwrap_or(serde_json::Value::Null);
    Some((code, json))
}

/// The real browser's settings from the config; a bad store definition is
/// a configuration error.
fn browser_settings(config: &Config) -> Result<restock::purchase::BrowserSettings, CliError> {
    restock::purchase::settings_from_config(config).map_err(|e| CliError::Config(e.to_string()))
}

/// After a successful `login`: forget a `signed_out` state so buys use the
/// store again.
async fn session_signed_in(config: &Config, store: &str) {
    let result = match Db::open(&config.db_path()) {
        Ok(db) => db.mark_signed_in(store).await,
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        eprintln!("restock: {store} is signed in, but its session state was not recorded: {e}");
    }
}

/// `3m ago`, `2h ago`: how long ago a timestamp was, for humans.
pub fn ago(ms: i64) -> String {
    let secs = ((now_ms() - ms).max(0) / 1000) as u64;
    let text = match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m", secs / 60),
        3600..=86399 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86400),
    };
    format!("{text} ago")
}

/// One aligned line per order.
fn order_line(o: &Order) -> String {
    let detail = [
        o.phase.map(|p| format!("phase={p}")),
        o.store.as_ref().map(|s| format!("store={s}")),
        o.total.map(|t| format!("total={t}")),
        o.order_ref.as_ref().map(|r| format!("ref={r}")),
        o.message.clone(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join("  ");
    format!(
        "{:>6}  {:<18} {:<16} {:>8}  {}",
        o.id,
        o.item,
        o.status.as_str(),
        ago(o.created_at),
        detail
    )
}
