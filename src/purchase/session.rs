//! The session check: is the store profile still signed in? Read-only: one
//! navigation to the store's account page, and its markers decide. Used by
//! the probe through the purchaser ([`super::Purchaser::check_session`]).
//!
//! After a signed-in or signed-out answer it also reads the cookies the
//! profile holds for the store through DevTools (`Network.getCookies` for
//! the store's base and account URLs; names and expiry only, never
//! values): with `session.cookies` named in the definition, the earliest
//! expiry among those is the session's; without, every cookie goes back
//! in the check so the session's cookies can be learned
//! ([`crate::model::decide`]). A cookie read that fails only leaves the
//! expiry unknown.

use std::time::Duration;

use chromiumoxide::cdp::browser_protocol::network::GetCookiesParams;
use chromiumoxide::Page;

use super::browser::open;
use super::store::StoreDef;
use super::tab::Tab;
use super::wait::{non_empty, Want};
use super::BrowserSettings;
use crate::model::{SeenCookie, SessionCheck, SessionState};

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
    if check.state != SessionState::Unknown {
        let cookies = read_cookies(session.page(), store, settings.step_timeout).await;
        let named = &store.session.cookies;
        if named.is_empty() {
            check.cookies = cookies;
        } else if check.state == SessionState::SignedIn {
            check.expires_at = cookies
                .iter()
                .flatten()
                .filter(|c| named.contains(&c.name))
                .filter_map(|c| c.expires_at)
                .min();
        }
    }
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

/// The cookies the profile holds for the store's pages; `None` (logged)
/// when DevTools does not answer within `limit`.
async fn read_cookies(page: &Page, store: &StoreDef, limit: Duration) -> Option<Vec<SeenCookie>> {
    let params = GetCookiesParams::builder()
        .urls([store.base_url.to_string(), store.account_url().to_string()])
        .build();
    let answer = match tokio::time::timeout(limit, page.execute(params)).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(e)) => {
            tracing::warn!(store = %store.name, error = %e, "could not read the profile's cookies");
            return None;
        }
        Err(_) => {
            tracing::warn!(store = %store.name, "reading the profile's cookies timed out");
            return None;
        }
    };
    let mut seen: Vec<SeenCookie> = answer
        .result
        .cookies
        .iter()
        .map(|c| SeenCookie {
            name: c.name.clone(),
            expires_at: (!c.session && c.expires > 0.0).then_some((c.expires * 1000.0) as i64),
        })
        .collect();
    seen.sort_by(|a, b| a.name.cmp(&b.name));
    seen.dedup_by(|a, b| a.name == b.name);
    Some(seen)
}
