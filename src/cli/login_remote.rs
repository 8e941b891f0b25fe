//! The `restock login STORE` modes that need no display:
//!
//! - `--remote` (the default without `DISPLAY`/`WAYLAND_DISPLAY`): asks a
//!   running `serve` on `RESTOCK_LISTEN` for a link (`POST
//!   /stores/{store}/login`, with the intake token) and follows it until it
//!   ends; when nothing answers there, serves the sign-in routes itself on
//!   `RESTOCK_LISTEN` until the link ends or Ctrl-C. Either way it prints
//!   the one-time address (from `RESTOCK_PUBLIC_URL` when set).
//! - `--cookies FILE`: imports the store's cookies from a file and probes
//!   (see `restock::signin::cookies`).
//!
//! Through the NixOS module's `restock` wrapper both run as the service's
//! user on the service's profiles: the wrapper's transient unit shares the
//! service's state directory and environment file, and has no display, so
//! `sudo restock login demo` prints an address instead of failing.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use restock::config::Config;
use restock::db::Db;
use restock::intake::auth;
use restock::model::SessionState;
use restock::purchase::BrowserSettings;
use restock::purchase::ProfileHolds;
use restock::signin::{cookies, routes, Minted, SignIn, Status};

/// How a login command failed, for the CLI's exit codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// Configuration: exit 2.
    #[error("{0}")]
    Config(String),
    /// Refused or not signed in: exit 1.
    #[error("{0}")]
    Refused(String),
}

/// Is there a display for a visible browser window?
pub fn has_display() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|v| !v.is_empty()))
}

fn settings(config: &Config, store: &str) -> Result<BrowserSettings, CommandError> {
    let settings = restock::purchase::settings_from_config(config)
        .map_err(|e| CommandError::Config(e.to_string()))?;
    if settings.stores.get(store).is_none() {
        return Err(CommandError::Refused(
            restock::purchase::PurchaseError::UnknownStore(store.to_string()).to_string(),
        ));
    }
    Ok(settings)
}

/// `restock login STORE --remote`.
pub async fn remote(config: &Config, store: &str) -> Result<String, CommandError> {
    let settings = settings(config, store)?;
    // Taken before the address is printed: a Ctrl-C right after it must
    // cancel the link, not kill the command.
    let stop = StopSignal::new()
        .map_err(|e| CommandError::Config(format!("cannot watch for Ctrl-C: {e}")))?;
    match ask_server(config, store).await {
        Asked::Minted(minted) => follow_server(config, store, &minted, stop).await,
        Asked::Refused(why) => Err(CommandError::Refused(format!(
            "the running restock refused a sign-in link for {store}: {why}"
        ))),
        Asked::NoServer => serve_own(config, store, settings, stop).await,
    }
}

enum Asked {
    Minted(Minted),
    Refused(String),
    NoServer,
}

fn client() -> Option<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .ok()
}

fn login_url(config: &Config, store: &str) -> String {
    format!(
        "http://{}/stores/{store}/login",
        auth::local_address(config.listen)
    )
}

fn with_token(req: reqwest::RequestBuilder, config: &Config) -> reqwest::RequestBuilder {
    match &config.intake_token {
        Some(token) => req.bearer_auth(token),
        None => req,
    }
}

async fn ask_server(config: &Config, store: &str) -> Asked {
    let Some(client) = client() else {
        return Asked::NoServer;
    };
    let req = with_token(client.post(login_url(config, store)), config);
    let resp = match req.send().await {
        Ok(resp) => resp,
        Err(e) if e.is_connect() => return Asked::NoServer,
        Err(e) => return Asked::Refused(e.without_url().to_string()),
    };
    let code = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    if code == 201 {
        if let Ok(minted) = serde_json::from_value::<Minted>(body.clone()) {
            return Asked::Minted(minted);
        }
    }
    let why = body["error"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| format!("it answered {code}; is RESTOCK_LISTEN a restock server?"));
    Asked::Refused(why)
}

/// What the owner reads: the address and what to do with it.
fn print_address(minted: &Minted, config: &Config) {
    let ttl = humantime::format_duration(Duration::from_secs(minted.expires_in_s));
    let idle = humantime::format_duration(Duration::from_secs(minted.idle_after_s));
    println!(
        "Open this address on your phone (or any browser) to sign in to {}:\n",
        minted.store
    );
    println!("  {}\n", minted.url);
    println!("It works once, in one browser, for {ttl} ({idle} without input ends it).");
    if let Some(why) = &minted.why {
        println!("It opens {why}: {}", minted.start);
    }
    if !minted.public {
        let local = auth::local_address(config.listen);
        println!(
            "This is restock's listen address ({local}). From another device set RESTOCK_PUBLIC_URL to an \
             address it reaches (a reverse proxy, a VPN name), or forward the port: \
             ssh -L {port}:{local} THIS-HOST and open the address there.",
            port = local.port()
        );
    }
    println!("Waiting for you to sign in (Ctrl-C to give up)…");
}

/// Ctrl-C or SIGTERM, listened for from creation on.
struct StopSignal {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl StopSignal {
    fn new() -> std::io::Result<StopSignal> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(StopSignal {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }
}

/// A link from the running `serve`: print it, then follow its state.
async fn follow_server(
    config: &Config,
    store: &str,
    minted: &Minted,
    mut stop: StopSignal,
) -> Result<String, CommandError> {
    print_address(minted, config);
    let Some(client) = client() else {
        return Err(CommandError::Refused("cannot make an HTTP client".into()));
    };
    let url = login_url(config, store);
    let mut misses = 0;
    loop {
        tokio::select! {
            _ = stop.recv() => {
                let _ = with_token(client.delete(&url), config).send().await;
                return Err(CommandError::Refused(format!("{store}: cancelled; the link no longer works")));
            }
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        let status = match with_token(client.get(&url), config).send().await {
            Ok(resp) => resp.json::<Status>().await.ok(),
            Err(_) => None,
        };
        match status {
            Some(s) if s.is_final() => return outcome(config, store, &s).await,
            Some(_) => misses = 0,
            None => {
                misses += 1;
                if misses >= 30 {
                    return Err(CommandError::Refused(format!(
                        "{store}: the running restock stopped answering; check `restock status`"
                    )));
                }
            }
        }
    }
}

/// No `serve` answers: serve the sign-in page ourselves until the link ends.
async fn serve_own(
    config: &Config,
    store: &str,
    settings: BrowserSettings,
    mut stop: StopSignal,
) -> Result<String, CommandError> {
    if let Some(warning) = auth::check_exposure(
        config.listen,
        config.intake_token.as_deref(),
        config.intake_open,
    )
    .map_err(CommandError::Config)?
    {
        tracing::warn!("{warning}");
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| {
            CommandError::Config(format!(
                "RESTOCK_LISTEN = `{}`: cannot listen there for the sign-in page ({e}); pick a free address",
                config.listen
            ))
        })?;
    let addr: SocketAddr = listener
        .local_addr()
        .map_err(|e| CommandError::Config(e.to_string()))?;
    let db = Db::open(&config.db_path()).map_err(|e| CommandError::Refused(e.to_string()))?;
    let notifier = restock::notify::Notifier::from_config(config)
        .map_err(|e| CommandError::Config(e.to_string()))?;
    let svc = Arc::new(
        SignIn::new(
            config,
            addr,
            Some(Arc::new(settings)),
            ProfileHolds::new(),
            notifier,
        )
        .with_queue(db),
    );
    let minted = svc
        .mint(store)
        .await
        .map_err(|e| CommandError::Refused(e.to_string()))?;
    let link = svc
        .current_link()
        .ok_or_else(|| CommandError::Refused("the link ended at once".into()))?;
    print_address(&minted, config);
    let done = link.cancel.clone();
    let app = routes::public(svc.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { done.cancelled().await })
            .await
    });
    tokio::select! {
        _ = link.cancel.cancelled() => {}
        _ = stop.recv() => { svc.cancel(store); }
    }
    // The live session closes its browser and reports before this returns.
    svc.shutdown().await;
    svc.flush().await;
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    outcome(config, store, &svc.status(store)).await
}

/// The last line, by how the link ended.
async fn outcome(config: &Config, store: &str, status: &Status) -> Result<String, CommandError> {
    match status.state.as_str() {
        "signed_in" => {
            let mut line = format!(
                "{store}: signed in; the profile is saved under {}",
                config.profiles_dir().join(store).display()
            );
            if let Some(hint) = resume_hint(config).await {
                line.push_str(&format!("\n{hint}"));
            }
            Ok(line)
        }
        "failed" => Err(CommandError::Refused(format!(
            "{store}: not signed in: {}",
            status.detail.as_deref().unwrap_or("the sign-in failed")
        ))),
        other => Err(CommandError::Refused(format!(
            "{store}: not signed in: the link ended ({})",
            other.replace('_', " ")
        ))),
    }
}

/// "run `restock resume`" when the engine is paused for a human.
async fn resume_hint(config: &Config) -> Option<String> {
    let db = Db::open(&config.db_path()).ok()?;
    let pause = db.paused().await.ok()??;
    Some(format!(
        "The engine is paused ({}); when you are done, run `restock resume`.",
        pause.reason
    ))
}

/// `restock login STORE --cookies FILE`.
pub async fn import_cookies(
    config: &Config,
    store: &str,
    file: &Path,
) -> Result<String, CommandError> {
    let settings = settings(config, store)?;
    let def = settings.stores.get(store).expect("checked by settings()");
    let name = file.display().to_string();
    let all = cookies::read(file).map_err(|e| CommandError::Refused(e.to_string()))?;
    let mine = cookies::select(all, store, &def.base_url, &name)
        .map_err(|e| CommandError::Refused(e.to_string()))?;
    let domain = def.base_url.host_str().unwrap_or("").to_string();
    cookies::set_on_profile(&settings, store, &def.base_url, &mine)
        .await
        .map_err(|e| CommandError::Refused(format!("{store}: {e}")))?;
    tracing::info!(store, cookies = mine.len(), "cookies imported; probing");
    let check = match restock::purchase::factory(&settings, store) {
        Ok(mut purchaser) => purchaser.check_session().await,
        Err(e) => return Err(CommandError::Refused(e.to_string())),
    };
    let n = mine.len();
    match check.state {
        SessionState::SignedIn => {
            if let Ok(db) = Db::open(&config.db_path()) {
                if let Err(e) = db.mark_signed_in(store).await {
                    eprintln!("restock: {store} is signed in, but its session state was not recorded: {e}");
                }
            }
            let mut line = format!(
                "{store}: signed in: {n} cookie{} for {domain} imported, and a fresh check sees the profile signed in",
                if n == 1 { "" } else { "s" }
            );
            if let Some(hint) = resume_hint(config).await {
                line.push_str(&format!("\n{hint}"));
            }
            Ok(line)
        }
        other => Err(CommandError::Refused(format!(
            "{store}: {n} cookie{} for {domain} imported, but the store still shows the profile {}{}; \
             export them again while signed in",
            if n == 1 { "" } else { "s" },
            other.as_str().replace('_', " "),
            check.detail.map(|d| format!(" ({d})")).unwrap_or_default()
        ))),
    }
}
