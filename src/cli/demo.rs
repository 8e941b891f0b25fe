//! `restock demo`: the whole loop in under a minute, offline.
//!
//! Starts the demo store and a restock server on free loopback ports with a
//! temporary state dir, signs the demo profile in through the store's own
//! form, queues an order the way a button does (`POST /reorder`), prints
//! each phase as the engine writes it, and exits 0 only when the store's
//! ledger shows exactly one order. Dry-run is off for this temporary setup
//! only: its catalog holds nothing but demo-store items.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use super::CliError;
use restock::config::Config;
use restock::demo::{DemoStore, DEMO_EMAIL, DEMO_PASSWORD};
use restock::engine::Event;
use restock::model::SessionState;
use restock::model::Status;
use restock::purchase::{settings_from_config, sign_in_with_form, BrowserFactory};
use restock::server::{self, Parts};

const ITEM: &str = "paper-towels";

pub async fn run(base: &Config) -> Result<(), CliError> {
    let dir = tempfile::Builder::new()
        .prefix("restock-demo-")
        .tempdir()
        .context("temporary state dir")?;
    let store = DemoStore::spawn("127.0.0.1:0".parse().expect("valid address"))
        .await
        .map_err(anyhow::Error::from)?;
    say(&format!("demo store      {}", store.base_url()));
    let config = demo_config(base, dir.path(), &store)?;
    let result = drive(&config, &store).await;
    store.shutdown().await;
    result
}

fn say(line: &str) {
    println!("restock demo  {line}");
}

fn demo_config(
    base: &Config,
    dir: &std::path::Path,
    store: &DemoStore,
) -> Result<Config, CliError> {
    let catalog = dir.join("catalog.toml");
    let text = format!(
        "[[item]]\nid = \"{ITEM}\"\nname = \"Paper towels, 8 rolls\"\nmax_price = \"20.00\"\n\
         [[item.source]]\nstore = \"demo\"\nurl = \"{}\"\n",
        store.product_url(ITEM)
    );
    std::fs::write(&catalog, text).context("writing the demo catalog")?;
    let mut config = Config {
        state_dir: dir.join("state"),
        catalog,
        listen: "127.0.0.1:0".parse().expect("valid address"),
        intake_token: None,
        dry_run: false,
        poll_interval: Duration::from_secs(1),
        buy_timeout: Duration::from_secs(120),
        stores_dir: Some(dir.join("stores")),
        heartbeat_url: Vec::new(),
        notify: Vec::new(),
        session_check: restock::config::Schedule::Off,
        ..base.clone()
    };
    std::fs::create_dir_all(dir.join("stores")).context("stores dir")?;
    config.store_urls.insert("demo".into(), store.base_url());
    for (k, v) in [
        ("name", "Ada Lovelace"),
        ("address", "12 Analytical Street"),
        ("postal_code", "10115"),
    ] {
        config.checkout.insert(k.into(), v.into());
    }
    Ok(config)
}

async fn drive(config: &Config, store: &DemoStore) -> Result<(), CliError> {
    let settings =
        Arc::new(settings_from_config(config).map_err(|e| CliError::Config(e.to_string()))?);
    say("signing in     the demo profile through the store's sign-in form (headless Chromium)");
    match sign_in_with_form(&settings, "demo", DEMO_EMAIL, DEMO_PASSWORD)
        .await
        .map_err(anyhow::Error::from)?
    {
        SessionState::SignedIn => say("signed in      demo"),
        other => {
            return Err(CliError::Refused(format!(
                "sign-in ended {}",
                other.as_str()
            )))
        }
    }
    let mut parts = Parts::new(Arc::new(BrowserFactory::new(settings.clone())));
    parts.known_stores = Some(settings.stores.names().map(str::to_string).collect());
    let running = server::start(config, parts)
        .await
        .map_err(anyhow::Error::from)?;
    say(&format!("restock serving http://{}", running.addr));
    let mut events = running.handle.subscribe();
    let id = reorder(running.addr).await?;
    say(&format!(
        "queued         order {id} for {ITEM} (POST /reorder)"
    ));
    let status = follow(&mut events, id).await;
    let row = running.db.get(id).await.map_err(anyhow::Error::from)?;
    running.stop().await;
    let ledger = store.ledger();
    say(&format!("store ledger   {} order(s)", ledger.len()));
    let row = row.context("the order row vanished")?;
    match (status, ledger.len()) {
        (Some(Status::Placed), 1) => {
            let total = row.total.map(|t| t.to_string()).unwrap_or_default();
            say(&format!("done           placed {} for {total}, exactly one order in the ledger", row.order_ref.unwrap_or_default()));
            Ok(())
        }
        (status, n) => Err(CliError::Refused(format!(
            "the demo did not end as expected: status {status:?}, {n} order(s) in the ledger; message: {}",
            row.message.unwrap_or_default()
        ))),
    }
}

async fn reorder(addr: std::net::SocketAddr) -> Result<i64, CliError> {
    let resp = reqwest::Client::new()
        .post(format!("http://{addr}/reorder"))
        .json(&serde_json::json!({ "item": ITEM, "requester": "demo" }))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .context("POST /reorder")?;
    let body: serde_json::Value = resp.json().await.context("reading the intake's answer")?;
    body["id"]
        .as_i64()
        .ok_or_else(|| CliError::Refused(format!("the intake did not queue the order: {body}")))
}

/// Prints the engine's events for `id` until it settles (or 3 minutes).
async fn follow(events: &mut tokio::sync::broadcast::Receiver<Event>, id: i64) -> Option<Status> {
    let watch = async {
        loop {
            match events.recv().await {
                Ok(Event::Claimed { id: i }) if i == id => {
                    say(&format!("claimed        order {id}"))
                }
                Ok(Event::Phase { id: i, phase }) if i == id => {
                    say(&format!("phase          {phase}"))
                }
                Ok(Event::Settled { id: i, status }) if i == id => {
                    say(&format!("settled        {status}"));
                    return Some(status);
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => return None,
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(180), watch)
        .await
        .ok()
        .flatten()
}
