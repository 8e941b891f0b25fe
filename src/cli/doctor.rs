//! `restock doctor [--notify] [--json]`: is this set-up ready to buy? Each
//! check prints `✔ name: detail` or `✘ name: problem — fix: what to do`;
//! exit code 1 when any fails.
//!
//! The checks are data ([`CHECKS`]): a name and a function returning one or
//! more results (one per store profile, per monitor, per channel). Every
//! check runs, whatever the others found. Doctor changes nothing on disk:
//! it never creates the state dir or the database (it opens an existing
//! database without migrating it) and never fixes a mode; it says how.
//! It does talk to the outside: one real ping per monitor (Healthchecks'
//! `/log`, which changes no state; Uptime Kuma has no test mode, so that is
//! a normal `up` push), `<chromium> --version`, a bind of the intake
//! address, and with `--notify` a test message on every channel.
//!
//! A config that does not load is reported as the failed `config` check
//! (every other command exits 2 before it runs); the other checks need a
//! config and are skipped then.
//!
//! Secrets never appear: monitor URLs are shown as their labels
//! (`host/…/a1b2`) and errors are scrubbed, notification channels are
//! redacted, the intake token and checkout values are never printed.
//!
//! The `service` check asks whether an engine runs for the state directory
//! (`restock::server::liveness`: the server's lock, its `/health`, its
//! loop's record): a stalled one fails, and so does none at all when a
//! monitor is configured, since the monitor then expects its pings.
//!
//! `--json` prints `{"ok": bool, "checks": [{"name", "ok", "detail",
//! "fix"}]}`.

use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::Serialize;

use super::progress::Progress;
use super::CliError;
use restock::catalog::Catalog;
use restock::config::{Config, ConfigError};
use restock::model::SessionState;
use restock::purchase::{BrowserError, BrowserSettings};

/// One result line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    /// What was found (the problem, when not ok).
    pub detail: String,
    /// What to do about it; only when not ok.
    pub fix: Option<String>,
}

impl Check {
    fn ok(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            ok: true,
            detail: detail.into(),
            fix: None,
        }
    }

    fn fail(name: impl Into<String>, problem: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            ok: false,
            detail: problem.into(),
            fix: Some(fix.into()),
        }
    }

    /// `✔ name: detail` or `✘ name: problem — fix: ...`.
    pub fn line(&self) -> String {
        match (&self.fix, self.ok) {
            (_, true) => format!("✔ {}: {}", self.name, self.detail),
            (Some(fix), false) => format!("✘ {}: {} — fix: {fix}", self.name, self.detail),
            (None, false) => format!("✘ {}: {}", self.name, self.detail),
        }
    }
}

/// What the checks share, loaded once.
struct Ctx {
    config: Config,
    notify: bool,
    /// The store definitions (`Err`: why they did not load).
    settings: Result<BrowserSettings, String>,
    catalog: Result<Catalog, String>,
    /// The database file read without creating or migrating it; `None`
    /// when there is no file yet.
    database: Option<Result<restock::db::Inspection, String>>,
}

type CheckFn = fn(&Ctx) -> BoxFuture<'_, Vec<Check>>;

/// Every check, in the order they run and print.
const CHECKS: &[(&str, CheckFn)] = &[
    ("config", |c| Box::pin(config(c))),
    ("state dir", |c| Box::pin(state_dir(c))),
    ("database", |c| Box::pin(database(c))),
    ("store files", |c| Box::pin(store_files(c))),
    ("catalog", |c| Box::pin(catalog(c))),
    ("chromium", |c| Box::pin(chromium(c))),
    ("store profiles", |c| Box::pin(profiles(c))),
    ("monitors", |c| Box::pin(monitors(c))),
    ("notifications", |c| Box::pin(notifications(c))),
    ("intake port", |c| Box::pin(intake_port(c))),
    ("service", |c| Box::pin(service(c))),
];

/// Bound on `<chromium> --version`.
const CHROME_VERSION_TIMEOUT: Duration = Duration::from_secs(20);

pub async fn run(config: &Config, notify: bool, json: bool) -> Result<(), CliError> {
    let ctx = Ctx {
        config: config.clone(),
        notify,
        settings: restock::purchase::settings_from_config(config).map_err(|e| e.to_string()),
        catalog: Catalog::load(&config.catalog).map_err(|e| e.to_string()),
        database: inspect_database(config.db_path()).await,
    };
    let progress = Progress::steps(CHECKS.len() as u64);
    let mut all = Vec::new();
    for (name, check) in CHECKS {
        progress.step(&format!("checking {name}"));
        let found = check(&ctx).await;
        if !json {
            for c in &found {
                progress.println(&c.line());
            }
        }
        all.extend(found);
    }
    progress.finish();
    conclude(all, json)
}

/// The config did not load: the one check that can run says why.
pub fn run_bad_config(error: &ConfigError, json: bool) -> Result<(), CliError> {
    let check = Check::fail(
        "config",
        error.to_string(),
        "correct the setting named above (environment variable or config file), then run `restock doctor` again; the other checks need a valid config",
    );
    if !json {
        println!("{}", check.line());
    }
    conclude(vec![check], json)
}

fn conclude(checks: Vec<Check>, json: bool) -> Result<(), CliError> {
    let failed = checks.iter().filter(|c| !c.ok).count();
    if json {
        let out = serde_json::json!({ "ok": failed == 0, "checks": checks });
        println!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(anyhow::Error::from)?
        );
    }
    if failed == 0 {
        Ok(())
    } else {
        Err(CliError::Refused(format!(
            "{failed} of {} checks failed",
            checks.len()
        )))
    }
}

async fn config(ctx: &Ctx) -> Vec<Check> {
    let mode = if ctx.config.dry_run {
        "dry run ON: no order is placed"
    } else {
        "dry run off: orders are placed for real"
    };
    vec![Check::ok("config", format!("valid ({mode})"))]
}

/// `0755` for a mode's permission bits.
fn octal(mode: u32) -> String {
    format!("{:04o}", mode & 0o7777)
}

async fn state_dir(ctx: &Ctx) -> Vec<Check> {
    let dir = &ctx.config.state_dir;
    let shown = dir.display();
    let name = "state dir";
    let meta = match std::fs::metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return vec![Check::fail(
                name,
                format!("{shown} does not exist"),
                format!("`mkdir -m 700 {shown}`, or start `restock serve` (it creates it); or set RESTOCK_STATE_DIR"),
            )]
        }
        Err(e) => {
            return vec![Check::fail(
                name,
                format!("{shown}: {e}"),
                "run doctor as the user the service runs as, or set RESTOCK_STATE_DIR",
            )]
        }
    };
    if !meta.is_dir() {
        return vec![Check::fail(
            name,
            format!("{shown} is not a directory"),
            "set RESTOCK_STATE_DIR to a directory",
        )];
    }
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        return vec![Check::fail(
            name,
            format!(
                "{shown} is mode {}: other users can reach the database and the signed-in browser profiles",
                octal(mode)
            ),
            format!("`chmod 700 {shown}`"),
        )];
    }
    if let Err(e) = tempfile::Builder::new().prefix(".doctor-").tempfile_in(dir) {
        return vec![Check::fail(
            name,
            format!("{shown} is not writable: {e}"),
            format!("run as its owner (the service user), or `chown` {shown} to that user"),
        )];
    }
    vec![Check::ok(name, format!("{shown} (mode 0700, writable)"))]
}

/// The database file as it is, read off the runtime's workers.
async fn inspect_database(
    path: std::path::PathBuf,
) -> Option<Result<restock::db::Inspection, String>> {
    if !path.exists() {
        return None;
    }
    let found =
        tokio::task::spawn_blocking(move || restock::db::inspect(&path).map_err(|e| e.to_string()))
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
    Some(found)
}

async fn database(ctx: &Ctx) -> Vec<Check> {
    let path = ctx.config.db_path();
    let name = "database";
    let Some(found) = &ctx.database else {
        return vec![Check::ok(
            name,
            format!(
                "{} not created yet (`restock serve` creates it)",
                path.display()
            ),
        )];
    };
    let shown = path.display();
    let (version, problems) = match found {
        Ok(i) => (i.version, &i.problems),
        Err(e) => {
            return vec![Check::fail(
                name,
                format!("cannot open {shown}: {e}"),
                "check the file's owner and mode (the service user, 0600); restore it from a backup if it is damaged",
            )]
        }
    };
    let current = restock::db::schema_version();
    let mut out = Vec::new();
    if problems.is_empty() {
        out.push(Check::ok(
            "database integrity",
            format!("{shown}: quick_check ok"),
        ));
    } else {
        out.push(Check::fail(
            "database integrity",
            format!("{shown}: quick_check found: {}", problems.join("; ")),
            format!("stop restock, copy {shown} aside, then `sqlite3 {shown} \".recover\" | sqlite3 restored.db` and put restored.db in its place (or restore a backup)"),
        ));
    }
    out.push(match version.cmp(&current) {
        std::cmp::Ordering::Equal => Check::ok(
            "database migrations",
            format!("schema version {version}, current"),
        ),
        std::cmp::Ordering::Less => Check::fail(
            "database migrations",
            format!("schema version {version}; this restock uses {current}"),
            "run any restock command that opens the database (e.g. `restock status`) or start the server: it migrates",
        ),
        std::cmp::Ordering::Greater => Check::fail(
            "database migrations",
            format!("schema version {version} is newer than this restock knows ({current})"),
            "upgrade restock to the version that wrote this database",
        ),
    });
    out
}

async fn store_files(ctx: &Ctx) -> Vec<Check> {
    let name = "store files";
    match &ctx.settings {
        Ok(s) => {
            let names: Vec<&str> = s.stores.names().collect();
            let dir = ctx.config.stores_dir();
            let from = if dir.is_dir() {
                format!(" (built-in and {})", dir.display())
            } else {
                " (built-in)".to_string()
            };
            vec![Check::ok(
                name,
                format!(
                    "{} defined: {}{from}",
                    names.len(),
                    names.join(", ")
                ),
            )]
        }
        Err(e) => vec![Check::fail(
            name,
            e.clone(),
            "correct the store definition named above (examples/stores shows the keys), or set RESTOCK_STORES_DIR",
        )],
    }
}

async fn catalog(ctx: &Ctx) -> Vec<Check> {
    let name = "catalog";
    let catalog = match &ctx.catalog {
        Ok(c) => c,
        Err(e) => {
            return vec![Check::fail(
            name,
            e.clone(),
            "correct the catalog at the line named above (examples/catalog.toml shows the format)",
        )]
        }
    };
    let stores = catalog.stores();
    let n = catalog.items.len();
    let summary = format!(
        "{n} item{} from {}, buying from {}",
        if n == 1 { "" } else { "s" },
        ctx.config.catalog.display(),
        if stores.is_empty() {
            "no store".to_string()
        } else {
            stores.join(", ")
        }
    );
    match &ctx.settings {
        Ok(s) => {
            let known: Vec<String> = s.stores.names().map(str::to_string).collect();
            match catalog.check_stores(&known, &ctx.config.catalog) {
                Ok(()) => vec![Check::ok(name, format!("{summary}; every store is defined"))],
                Err(e) => vec![Check::fail(
                    name,
                    e.to_string(),
                    "add a store definition (`NAME.toml` in RESTOCK_STORES_DIR) or correct the store name in the catalog",
                )],
            }
        }
        Err(_) => vec![Check::ok(
            name,
            format!("{summary} (store names not checked: the store files did not load)"),
        )],
    }
}

async fn chromium(ctx: &Ctx) -> Vec<Check> {
    let name = "chromium";
    let explicit = ctx.config.chrome.as_deref();
    let chrome = match restock::purchase::browser::find_chrome(explicit) {
        Ok(p) => p,
        Err(BrowserError::ChromeMissing(p)) => {
            return vec![Check::fail(
                name,
                format!("RESTOCK_CHROME = {}: no such file", p.display()),
                "point RESTOCK_CHROME at the Chromium binary (e.g. /usr/bin/chromium), or unset it to search PATH",
            )]
        }
        Err(e) => {
            return vec![Check::fail(
                name,
                e.to_string(),
                "install Chromium (Debian/Ubuntu: `apt-get install chromium`; Nix: `chromium`) or set RESTOCK_CHROME to its binary",
            )]
        }
    };
    let shown = chrome.display();
    let run = tokio::process::Command::new(&chrome)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let problem = match tokio::time::timeout(CHROME_VERSION_TIMEOUT, run).await {
        Err(_) => format!(
            "{shown} --version did not answer within {}",
            humantime::format_duration(CHROME_VERSION_TIMEOUT)
        ),
        Ok(Err(e)) => format!("cannot run {shown}: {e}"),
        Ok(Ok(out)) => {
            let version = String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map(str::to_string);
            match version {
                Some(v) if out.status.success() => {
                    return vec![Check::ok(name, format!("{v} ({shown})"))]
                }
                _ => {
                    let err = String::from_utf8_lossy(&out.stderr);
                    let last = err.lines().rev().find(|l| !l.trim().is_empty());
                    format!(
                        "{shown} --version failed ({}){}",
                        out.status,
                        last.map(|l| format!(": {}", l.trim())).unwrap_or_default()
                    )
                }
            }
        }
    };
    vec![Check::fail(
        name,
        problem,
        format!("run `{shown} --version` by hand to see why (missing libraries?), or set RESTOCK_CHROME to a working Chromium"),
    )]
}

async fn profiles(ctx: &Ctx) -> Vec<Check> {
    let dir = ctx.config.profiles_dir();
    let mut stores: Vec<String> = ctx.catalog.as_ref().map(|c| c.stores()).unwrap_or_default();
    for s in restock::probe::Stores::Profiles(dir.clone()).list().await {
        if !stores.contains(&s) {
            stores.push(s);
        }
    }
    if stores.is_empty() {
        return vec![Check::ok(
            "store profiles",
            "none yet, and the catalog names no store",
        )];
    }
    let sessions = match &ctx.database {
        Some(Ok(i)) => i.sessions.as_slice(),
        _ => &[],
    };
    stores
        .into_iter()
        .map(|store| {
            let profile = dir.join(&store);
            let name = format!("profile {store}");
            let shown = profile.display();
            let mode = match std::fs::metadata(&profile) {
                Ok(m) if m.is_dir() => m.permissions().mode(),
                Ok(_) => {
                    return Check::fail(
                        name,
                        format!("{shown} is not a directory"),
                        format!("move it away, then `restock login {store}`"),
                    )
                }
                Err(_) => {
                    return Check::fail(
                        name,
                        format!("no browser profile at {shown}"),
                        format!("`restock login {store}` signs it in (needs a display)"),
                    )
                }
            };
            if mode & 0o077 != 0 {
                return Check::fail(
                    name,
                    format!(
                        "{shown} is mode {}: it holds the store's session cookies",
                        octal(mode)
                    ),
                    format!("`chmod 700 {shown}`"),
                );
            }
            let Some(row) = sessions.iter().find(|r| r.store == store) else {
                return Check::ok(
                    name,
                    format!("present (0700); never checked (`restock probe {store}` checks it)"),
                );
            };
            let said = restock::probe::describe(row);
            match (row.state, &row.last_error) {
                (SessionState::SignedOut, _) => Check::fail(
                    name,
                    format!("present (0700); {said}"),
                    format!("`restock login {store}`"),
                ),
                (SessionState::Unknown, Some(_)) => Check::fail(
                    name,
                    format!("present (0700); {said}"),
                    format!("`restock probe {store}` to check again; `restock dump-dom {store} /` shows what the store shows"),
                ),
                _ => Check::ok(name, format!("present (0700); {said}")),
            }
        })
        .collect()
}

async fn monitors(ctx: &Ctx) -> Vec<Check> {
    let settings = restock::heartbeat::Settings::from_config(&ctx.config);
    let mut targets: Vec<(&'static str, restock::urls::MonitorUrl)> = settings
        .monitors
        .into_iter()
        .map(|t| ("RESTOCK_HEARTBEAT_URL", t))
        .collect();
    targets.extend(settings.order_check.map(|t| ("RESTOCK_ORDER_CHECK_URL", t)));
    if targets.is_empty() {
        return vec![Check::ok(
            "monitors",
            "none configured; set RESTOCK_HEARTBEAT_URL so a stalled engine raises an alarm (examples/monitoring.md)",
        )];
    }
    let host = std::env::var("HOSTNAME").unwrap_or_default();
    let body = format!(
        "restock doctor: test ping{}; the engine is not affected",
        if host.is_empty() {
            String::new()
        } else {
            format!(" from {host}")
        }
    );
    let timeout = settings.timeout;
    let pings = targets.iter().map(|(var, t)| {
        let body = body.clone();
        async move {
            let name = format!("monitor {} ({})", t.label, t.kind);
            match restock::heartbeat::test_ping(t, timeout, &body).await {
                Ok(rtt) => Check::ok(
                    name,
                    format!("answered in {} ms; {}", rtt.as_millis(), t.test_note()),
                ),
                Err(e) => Check::fail(
                    name,
                    e,
                    format!("check {var} (the check's ping URL, copied whole) and that this host can reach {}", t.label),
                ),
            }
        }
    });
    futures::future::join_all(pings).await
}

async fn notifications(ctx: &Ctx) -> Vec<Check> {
    let channels = match restock::notify::Notifier::from_config(&ctx.config) {
        Ok(n) => n.channels(),
        Err(e) => {
            return vec![Check::fail(
                "notifications",
                e.to_string(),
                "correct RESTOCK_NOTIFY",
            )]
        }
    };
    if !ctx.notify {
        let detail = if channels.is_empty() {
            "none configured; set RESTOCK_NOTIFY to hear about pauses and signed-out stores"
                .to_string()
        } else {
            format!(
                "{} configured ({}); not sent: `restock doctor --notify` sends a test message",
                channels.len(),
                channels.join(", ")
            )
        };
        return vec![Check::ok("notifications", detail)];
    }
    if channels.is_empty() {
        return vec![Check::fail(
            "notifications",
            "--notify asked for a test, but RESTOCK_NOTIFY is empty",
            "set RESTOCK_NOTIFY to one or more notification URLs, e.g. ntfys://ntfy.sh/your-topic",
        )];
    }
    match super::test_notify::send_test(&ctx.config).await {
        Ok(deliveries) => deliveries
            .into_iter()
            .map(|d| {
                let name = format!("notify {}", d.channel);
                if d.ok {
                    Check::ok(name, format!("test message sent: {}", d.detail))
                } else {
                    Check::fail(
                        name,
                        d.detail,
                        "check this URL in RESTOCK_NOTIFY (token, topic, chat id) and that the service is reachable; `restock test-notify` tries again",
                    )
                }
            })
            .collect(),
        Err(e) => vec![Check::fail(
            "notifications",
            e.to_string(),
            "correct RESTOCK_NOTIFY",
        )],
    }
}

async fn intake_port(ctx: &Ctx) -> Vec<Check> {
    let addr = ctx.config.listen;
    let name = "intake port";
    let err = match std::net::TcpListener::bind(addr) {
        Ok(listener) => {
            drop(listener);
            return vec![Check::ok(
                name,
                format!("{addr} is free (no server is running)"),
            )];
        }
        Err(e) => e,
    };
    if err.kind() != ErrorKind::AddrInUse {
        return vec![Check::fail(
            name,
            format!("cannot listen on {addr}: {err}"),
            "set RESTOCK_LISTEN to an address of this host, e.g. 127.0.0.1:8723",
        )];
    }
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            return vec![Check::fail(
                name,
                format!(
                    "{addr} is taken, and it cannot be asked: {}",
                    e.without_url()
                ),
                "see who listens there: `ss -ltnp`",
            )]
        }
    };
    let answer = match client.get(format!("http://{addr}/health")).send().await {
        Ok(resp) => resp.json::<serde_json::Value>().await.ok(),
        Err(_) => None,
    };
    let taken = || {
        Check::fail(
            name,
            format!("{addr} is taken by another program (its /health is not restock's)"),
            "stop that program (`ss -ltnp` shows it), or set RESTOCK_LISTEN to a free address",
        )
    };
    let Some(health) = answer else {
        return vec![taken()];
    };
    let is_restock = ["status", "engine", "turns", "stall_after_ms"]
        .iter()
        .all(|k| health.get(k).is_some());
    if !is_restock {
        return vec![taken()];
    }
    let state = health
        .pointer("/engine/state")
        .and_then(|s| s.as_str())
        .unwrap_or("unknown");
    match health.get("status").and_then(|s| s.as_str()) {
        Some("ok") => vec![Check::ok(
            name,
            format!("{addr} is served by a running restock (engine {state})"),
        )],
        _ => vec![Check::fail(
            name,
            format!(
                "the restock on {addr} reports its engine stalled (silent for {} ms)",
                health
                    .get("silent_ms")
                    .and_then(|v| v.as_i64())
                    .map_or("?".to_string(), |v| v.to_string())
            ),
            "see `restock status` and the service log; restart the service (`systemctl restart restock`)",
        )],
    }
}

async fn service(ctx: &Ctx) -> Vec<Check> {
    use restock::model::EngineLiveness;
    let name = "service";
    let record = match &ctx.database {
        Some(Ok(i)) => i.turned_at,
        _ => None,
    };
    let found = restock::server::liveness::engine_liveness(&ctx.config, record).await;
    let said = restock::server::liveness::describe(&found);
    let expected = [
        (!ctx.config.heartbeat_url.is_empty()).then_some("RESTOCK_HEARTBEAT_URL"),
        ctx.config
            .order_check_url
            .as_ref()
            .map(|_| "RESTOCK_ORDER_CHECK_URL"),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>();
    match found {
        EngineLiveness::Running { .. } => vec![Check::ok(name, said)],
        EngineLiveness::Stalled { .. } => vec![Check::fail(
            name,
            format!("{said}: the server holds the state directory but its engine does not turn"),
            "see the service log (`journalctl -u restock`), then restart it (`systemctl restart restock`)",
        )],
        EngineLiveness::NotRunning { .. } if expected.is_empty() => vec![Check::ok(
            name,
            format!("{said}; nothing expects it to (no monitor configured)"),
        )],
        EngineLiveness::NotRunning { .. } => vec![Check::fail(
            name,
            format!(
                "{said}, but {} is set: the monitor expects the engine's pings",
                expected.join(" and ")
            ),
            "start it (`systemctl start restock`, or `restock serve`); `journalctl -u restock` says why it stopped",
        )],
    }
}
