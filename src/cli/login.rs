//! `restock login STORE`: a visible browser on the store's profile at its
//! sign-in page; returns once the store shows its signed-in marker, or on
//! Ctrl-C. Success also clears a `signed_out` state the probe recorded.

use super::{browser_settings, CliError};
use crate::config::Config;
use crate::purchase::{self, SessionState};

pub async fn run(config: &Config, store: &str) -> Result<(), CliError> {
    let settings = browser_settings(config)?;
    println!(
        "opening {store}'s sign-in page in a browser window; sign in there (Ctrl-C to give up)"
    );
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match purchase::login(&settings, store, ctrl_c)
        .await
        .map_err(|e| CliError::Refused(e.to_string()))?
    {
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
