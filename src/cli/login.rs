//! `restock login STORE`: a visible browser on the store's profile at its
//! sign-in page; returns once the store shows its signed-in marker, or on
//! Ctrl-C. Success also clears a `signed_out` state the probe recorded.
//! A spinner (or one plain line without a terminal) shows it is waiting.

use super::progress::Progress;
use super::{browser_settings, CliError};
use restock::config::Config;
use restock::model::SessionState;
use restock::purchase;

pub async fn run(config: &Config, store: &str) -> Result<(), CliError> {
    let settings = browser_settings(config)?;
    let progress = Progress::spinner();
    progress.println(&format!(
        "opening {store}'s sign-in page in a browser window; sign in there (Ctrl-C to give up)"
    ));
    progress.step(&format!(
        "waiting for {store} to show you signed in (Ctrl-C to give up)"
    ));
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let state = purchase::login(&settings, store, ctrl_c).await;
    progress.finish();
    match state.map_err(|e| CliError::Refused(e.to_string()))? {
        SessionState::SignedIn => {
            super::session_signed_in(config, store).await;
            println!(
                "{store}: signed in; the profile is saved under {}",
                settings.profiles_dir.join(store).display()
            );
            Ok(())
        }
        other => Err(CliError::Refused(format!(
            "{store}: not signed in ({})",
            other.as_str()
        ))),
    }
}
