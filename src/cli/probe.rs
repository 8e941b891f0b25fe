//! `restock probe [STORE] [--json]`: checks store sessions now (ignoring
//! the schedule and the activity gate), records the results and sends the
//! notifications they call for, like the scheduled probe.
//!
//! Without STORE it checks every store with a profile directory. Exit code
//! 0 when every checked store is signed in, 1 when one is signed out or
//! could not be told (so scripts can act on it). Progress, one step per
//! store, goes to stderr (a spinner on a terminal).

use super::progress::Progress;
use super::{open_queue, CliError};
use restock::config::Config;
use restock::model::SessionState;
use restock::notify::Notifier;
use restock::probe::{SessionProbe, StoreResult, Stores};

pub async fn run(config: &Config, store: Option<&str>, json: bool) -> Result<(), CliError> {
    let settings = restock::purchase::settings_from_config(config)
        .map_err(|e| CliError::Config(e.to_string()))?;
    let factory = std::sync::Arc::new(restock::purchase::BrowserFactory::new(std::sync::Arc::new(
        settings,
    )));
    let notifier = Notifier::from_config(config).map_err(|e| CliError::Config(e.to_string()))?;
    let db = open_queue(config)?;
    let probe = SessionProbe::from_config(config, db.clone(), factory, notifier);
    // What `probe_all` does, one progress step per store.
    let stores = match store {
        Some(s) => vec![s.to_string()],
        None => Stores::Profiles(config.profiles_dir()).list().await,
    };
    let progress = Progress::steps(stores.len() as u64);
    let mut results = Vec::with_capacity(stores.len());
    for s in &stores {
        progress.step(&format!("checking {s}'s session"));
        results.push(probe.probe_store(s).await);
    }
    if store.is_none() {
        probe.record_run().await;
    }
    progress.status("sending notifications");
    let deliveries = probe.flush().await;
    progress.finish();
    if json {
        let out = serde_json::json!({ "stores": results, "notifications": deliveries });
        println!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(anyhow::Error::from)?
        );
    } else if results.is_empty() {
        println!(
            "No store profiles under {}; run `restock login STORE` first.",
            config.profiles_dir().display()
        );
    } else {
        for r in &results {
            println!("{}", line(r));
        }
        for d in &deliveries {
            let how = if d.ok { "told" } else { "NOT told" };
            println!("  {how} via {}: {}", d.channel, d.detail);
        }
    }
    let all_in = results
        .iter()
        .all(|r| r.check.state == SessionState::SignedIn);
    if all_in {
        Ok(())
    } else {
        let bad: Vec<&str> = results
            .iter()
            .filter(|r| r.check.state != SessionState::SignedIn)
            .map(|r| r.store.as_str())
            .collect();
        Err(CliError::Refused(format!(
            "not signed in: {}",
            if bad.is_empty() {
                "no store checked".into()
            } else {
                bad.join(", ")
            }
        )))
    }
}

fn line(r: &StoreResult) -> String {
    let detail = r
        .check
        .detail
        .as_deref()
        .map(|d| format!(" ({d})"))
        .unwrap_or_default();
    let what = match r.check.state {
        SessionState::SignedIn => "signed in".to_string(),
        SessionState::SignedOut => format!("SIGNED OUT: run `restock login {}`", r.store),
        SessionState::Unknown => "unknown".to_string(),
    };
    format!("{:<10} {:<12} {what}{detail}", "Session", r.store)
}
