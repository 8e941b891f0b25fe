//! `restock login STORE`: a visible browser on the store's profile at its
//! sign-in page; returns once the store shows its signed-in marker, or on
//! Ctrl-C. With `--remote` (the default without a display) or `--cookies
//! FILE` it signs in without a window (see `restock::signin::command`). Success also clears a `signed_out` state the probe recorded.
//! A spinner (or one plain line without a terminal) shows it is waiting.

use super::progress::Progress;
use super::{browser_settings, CliError};
use restock::config::Config;
use restock::model::SessionState;
use restock::purchase;

pub async fn run(
    config: &Config,
    store: &str,
    remote: bool,
    cookies: Option<&std::path::Path>,
) -> Result<(), CliError> {
    // Without a display (a server, the NixOS wrapper): the sign-in page or
    // a cookie import (src/signin/command.rs).
    use super::login_remote::{self as command, CommandError};
    let headless = match cookies {
        Some(file) => Some(command::import_cookies(config, store, file).await),
        None if remote || !command::has_display() => Some(command::remote(config, store).await),
        None => None,
    };
    if let Some(result) = headless {
        return match result {
            Ok(line) => {
                println!("{line}");
                Ok(())
            }
            Err(CommandError::Config(e)) => Err(CliError::Config(e)),
            Err(CommandError::Refused(e)) => Err(CliError::Refused(e)),
        };
    }
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
