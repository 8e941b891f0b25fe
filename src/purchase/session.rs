//! The session check: is the store profile still signed in? Read-only: one
//! navigation to the store's account page, and its markers decide. Used by
//! the probe through the purchaser ([`super::Purchaser::check_session`]).

use super::browser::open;
use super::store::StoreDef;
use super::tab::Tab;
use super::wait::{non_empty, Want};
use super::BrowserSettings;
use crate::model::{SessionCheck, SessionState};

/// Read-only session check: one navigation to the account page, markers
/// decide. Bounded by launch + two step timeouts; the browser is closed.
pub(crate) async fn check_session(settings: &BrowserSettings, store: &StoreDef) -> SessionCheck {
    let bound = settings.launch_timeout + settings.step_timeout * 2;
    match tokio::time::timeout(bound, check_session_inner(settings, store)).await {
        Ok(check) => check,
        Err(_) => SessionCheck::unknown(format!("the session check took over {bound:?}")),
    }
}

async fn check_session_inner(settings: &BrowserSettings, store: &StoreDef) -> SessionCheck {
    let session = match open(settings, &store.name, settings.headless).await {
        Ok(session) => session,
        Err(e) => return SessionCheck::unknown(format!("could not start the browser: {e}")),
    };
    let mut tab = Tab::new(session.page(), settings.step_timeout).with_dismiss(&store.dismiss);
    let mut check = read_session(&mut tab, store).await;
    if check.state == SessionState::Unknown {
        let path = settings.screenshots_dir.join(format!(
            "session-{}-{}.png",
            store.name,
            crate::model::now_ms()
        ));
        if let Some(path) = tab.save_screenshot(path).await {
            let detail = check.detail.take().unwrap_or_default();
            check.detail = Some(format!("{detail} (screenshot: {})", path.display()));
        }
    }
    session.close().await;
    check
}

async fn read_session(tab: &mut Tab<'_>, store: &StoreDef) -> SessionCheck {
    if let Err(e) = tab.goto(&store.account_url()).await {
        return SessionCheck::unknown(e.to_string());
    }
    let wants = non_empty(vec![
        Want::fresh("block", &store.block),
        Want::fresh("challenge", &store.challenge),
        Want::fresh("signed_out", &store.session.signed_out),
        Want::fresh("signed_in", &store.session.signed_in),
    ]);
    match tab.wait(&wants).await {
        Ok(seen) => match seen.name.as_str() {
            "signed_in" => SessionCheck::known(SessionState::SignedIn),
            "signed_out" => SessionCheck::known(SessionState::SignedOut),
            "block" => SessionCheck::unknown(format!(
                "the store shows an access-denied page at {}",
                seen.href
            )),
            _ => SessionCheck::unknown(format!("the store shows a bot challenge at {}", seen.href)),
        },
        Err(e) => SessionCheck::unknown(e.to_string()),
    }
}
