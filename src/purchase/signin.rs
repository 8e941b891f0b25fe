//! Signing a store profile in: by a human in a visible window (`restock
//! login`), or by filling the definition's `signin_form` (the demo, tests).
//! Either way the browser is closed cleanly so the session cookies reach
//! the profile on disk.

use std::future::Future;

use super::browser::open;
use super::store::StoreDef;
use super::tab::{Tab, TabError};
use super::wait::Want;
use super::{BrowserSettings, PurchaseError};
use crate::model::SessionState;

/// Signs the profile in by filling the store's `signin_form`; returns the
/// state the store shows afterwards. Closes the browser cleanly so the new
/// session cookie is written to the profile.
pub(crate) async fn sign_in_with_form(
    settings: &BrowserSettings,
    store: &StoreDef,
    email: &str,
    password: &str,
) -> Result<SessionState, PurchaseError> {
    let form = store
        .signin_form
        .as_ref()
        .ok_or_else(|| PurchaseError::NoSigninForm(store.name.clone()))?;
    let session = open(settings, &store.name, settings.headless).await?;
    let mut tab = Tab::new(session.page(), settings.step_timeout).with_dismiss(&store.dismiss);
    let result = fill_signin(&mut tab, store, form, email, password).await;
    session.close().await;
    result.map_err(|source| PurchaseError::Page {
        doing: format!("signing in to `{}`", store.name),
        source,
    })
}

async fn fill_signin(
    tab: &mut Tab<'_>,
    store: &StoreDef,
    form: &super::store::SigninForm,
    email: &str,
    password: &str,
) -> Result<SessionState, TabError> {
    tab.goto(&store.signin_url()).await?;
    let seen = tab
        .wait(&[
            Want::selector("form", &form.email),
            Want::fresh("signed_in", &store.session.signed_in),
        ])
        .await?;
    if seen.name == "signed_in" {
        return Ok(SessionState::SignedIn);
    }
    tab.fill(&form.email, email).await?;
    tab.fill(&form.password, password).await?;
    tab.click(&form.submit).await?;
    let seen = tab
        .wait(&[
            Want::fresh("signed_out", &store.session.signed_out),
            Want::fresh("signed_in", &store.session.signed_in),
        ])
        .await?;
    Ok(match seen.name.as_str() {
        "signed_in" => SessionState::SignedIn,
        _ => SessionState::SignedOut,
    })
}

/// A visible browser on the sign-in page until the signed-in marker shows
/// (`SignedIn`) or `cancel` fires (`SignedOut`); closing the window is an
/// error. The browser is closed cleanly so the session is kept.
pub(crate) async fn login(
    settings: &BrowserSettings,
    store: &StoreDef,
    cancel: impl Future<Output = ()>,
) -> Result<SessionState, PurchaseError> {
    let has_display = ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some());
    if !has_display {
        return Err(PurchaseError::NoDisplay);
    }
    let session = open(settings, &store.name, false).await?;
    let mut tab = Tab::new(session.page(), settings.step_timeout).with_dismiss(&store.dismiss);
    let result = tokio::select! {
        r = watch_signin(&mut tab, store) => r,
        () = cancel => Ok(SessionState::SignedOut),
    };
    session.close().await;
    result
}

async fn watch_signin(tab: &mut Tab<'_>, store: &StoreDef) -> Result<SessionState, PurchaseError> {
    tab.goto(&store.signin_url()).await.map_err(gone)?;
    let wants = [Want::any("signed_in", &store.session.signed_in)];
    loop {
        match tab.wait(&wants).await {
            Ok(_) => return Ok(SessionState::SignedIn),
            Err(TabError::Timeout(_)) | Err(TabError::Network(_)) => continue,
            Err(e) => return Err(gone(e)),
        }
    }
}

fn gone(e: TabError) -> PurchaseError {
    PurchaseError::WindowGone(e)
}
