//! `restock dump-dom`: what a store-definition author needs to pick
//! selectors, the rendered HTML and a screenshot of a page as the store's
//! profile sees it.

use std::path::PathBuf;

use super::browser::open;
use super::store::StoreDef;
use super::tab::{Tab, TabError};
use super::wait::Want;
use super::{BrowserSettings, PurchaseError};

/// Where [`dump_dom`] wrote its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomDump {
    pub html: PathBuf,
    pub screenshot: PathBuf,
}

/// Loads `url` (a path resolves against the store's base URL) in the
/// store's profile and saves the rendered HTML and a screenshot: what a
/// store-definition author needs to pick selectors.
pub(crate) async fn dump_dom(
    settings: &BrowserSettings,
    store: &StoreDef,
    url: &str,
    out_dir: &std::path::Path,
) -> Result<DomDump, PurchaseError> {
    let target = store
        .base_url
        .join(url)
        .map_err(|source| PurchaseError::BadUrl {
            url: url.to_string(),
            source,
        })?;
    let session = open(settings, &store.name, settings.headless).await?;
    let mut tab = Tab::new(session.page(), settings.step_timeout).with_dismiss(&store.dismiss);
    let stem = format!("{}-{}", store.name, crate::model::now_ms());
    let dump = DomDump {
        html: out_dir.join(format!("{stem}.html")),
        screenshot: out_dir.join(format!("{stem}.png")),
    };
    let result = save_dom(&mut tab, &target, &dump).await;
    session.close().await;
    result.map(|()| dump).map_err(|source| PurchaseError::Page {
        doing: format!("dumping {target}"),
        source,
    })
}

async fn save_dom(tab: &mut Tab<'_>, url: &url::Url, dump: &DomDump) -> Result<(), TabError> {
    tab.goto(url).await?;
    tab.wait(&[Want::new_page()]).await?;
    tab.screenshot(&dump.screenshot, tab.timeout()).await?;
    let html = tab.html().await?;
    tokio::fs::write(&dump.html, html)
        .await
        .map_err(|e| TabError::Mismatch(format!("cannot write {}: {e}", dump.html.display())))
}
