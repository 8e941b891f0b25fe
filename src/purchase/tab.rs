//! Driving one browser tab: navigate, wait for markers, click, type, read.
//!
//! Every call is bounded by the step timeout: a store that never answers
//! must end a step, not hang the engine. Waiting is done by polling the page
//! for the markers the next step needs (one small script per poll, checking
//! all markers at once), never by "navigation finished" after a click, which
//! is unreliable for pages that redirect, submit forms, or update in place.
//!
//! Stale pages: before an action that loads a new page, the tab tags the
//! current document (`window.__restockToken`). A marker that must come from
//! the *next* page (`fresh_only`) is ignored while the tagged document is
//! still shown, so a marker that happens to exist on both pages cannot make
//! the flow run ahead of the browser.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chromiumoxide::cdp::browser_protocol::input::InsertTextParams;
use chromiumoxide::cdp::browser_protocol::page::CaptureScreenshotFormat;
use chromiumoxide::cdp::js_protocol::runtime::EvaluateParams;
use chromiumoxide::error::CdpError;
use chromiumoxide::layout::Point;
use chromiumoxide::page::ScreenshotParams;
use chromiumoxide::Page;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::time::Instant;
use url::Url;

use super::store::{Markers, Reading};

/// Screenshots are a courtesy: they must not add a long wait to a failure.
const SCREENSHOT_LIMIT: Duration = Duration::from_secs(10);

/// How often a wait looks at the page again.
const POLL: Duration = Duration::from_millis(100);

/// Why a tab operation did not complete.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TabError {
    #[error("timed out: {0}")]
    Timeout(String),
    /// The browser or its connection went away (crash, kill).
    #[error("the browser went away: {0}")]
    Gone(String),
    /// The store could not be reached (DNS, refused connection, TLS).
    #[error("could not load {0}")]
    Network(String),
    /// The page does not fit the store definition (bad selector, a value
    /// that would not go into a field).
    #[error("{0}")]
    Mismatch(String),
}

impl TabError {
    /// Transient: worth an automatic retry before submit.
    pub fn is_transient(&self) -> bool {
        !matches!(self, TabError::Mismatch(_))
    }
}

/// One thing a wait can end on.
#[derive(Debug, Clone)]
pub(crate) struct Want {
    pub name: &'static str,
    /// Empty: "a new page has loaded".
    pub markers: Markers,
    /// Only counts on a page loaded after the last tagged action.
    pub fresh_only: bool,
}

impl Want {
    pub fn fresh(name: &'static str, markers: &Markers) -> Want {
        Want {
            name,
            markers: markers.clone(),
            fresh_only: true,
        }
    }

    pub fn any(name: &'static str, markers: &Markers) -> Want {
        Want {
            fresh_only: false,
            ..Want::fresh(name, markers)
        }
    }

    pub fn selector(name: &'static str, selector: &str) -> Want {
        Want::fresh(name, &Markers::selector(selector))
    }

    /// Ends the wait as soon as a new page has loaded.
    pub fn new_page() -> Want {
        Want::fresh("new_page", &Markers::default())
    }
}

/// Drops wants whose marker list is empty (an optional marker the store
/// definition leaves out), which would otherwise mean "any new page".
pub(crate) fn non_empty(wants: Vec<Want>) -> Vec<Want> {
    wants
        .into_iter()
        .filter(|w| !w.markers.is_empty())
        .collect()
}

/// What a wait ended on, and where.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub name: &'static str,
    pub href: String,
}

#[derive(Debug, Deserialize)]
struct Snapshot {
    fresh: bool,
    ready: String,
    href: String,
    groups: Vec<i8>,
}

#[derive(Debug, Deserialize)]
struct Target {
    x: f64,
    y: f64,
    usable: bool,
    cover: Option<String>,
}

const SNAPSHOT_JS: &str = r#"((spec) => {
  const fresh = window.__restockToken !== spec.token;
  let text = null;
  const pageText = () => {
    if (text === null) {
      const body = document.body ? document.body.innerText : '';
      text = ((document.title || '') + '\n' + body).toLowerCase();
    }
    return text;
  };
  const shown = (el) => el.getClientRects().length > 0;
  const one = (m) => {
    if (!m.selector) return pageText().includes(m.text);
    for (const el of document.querySelectorAll(m.selector)) {
      if (!shown(el)) continue;
      if (!m.text) return true;
      if ((el.innerText || el.textContent || '').toLowerCase().includes(m.text)) return true;
    }
    return false;
  };
  const groups = spec.groups.map((g) => {
    try { return g.some(one) ? 1 : 0; } catch (e) { return -1; }
  });
  return { fresh, ready: document.readyState, href: location.href, groups };
})"#;

const TARGET_JS: &str = r#"((sel, token) => {
  const el = Array.from(document.querySelectorAll(sel)).find((e) => e.getClientRects().length > 0);
  if (!el) return null;
  el.scrollIntoView({ block: 'center', inline: 'center', behavior: 'instant' });
  const r = el.getBoundingClientRect();
  const x = r.left + r.width / 2, y = r.top + r.height / 2;
  const top = document.elementFromPoint(x, y);
  const covered = top !== null && top !== el && !el.contains(top);
  const usable = !el.disabled && !covered;
  if (usable && token !== null) window.__restockToken = token;
  const describe = (n) => n.tagName.toLowerCase() + (n.id ? '#' + n.id : '') +
    (n.className && typeof n.className === 'string' ? '.' + n.className.trim().split(/\s+/).join('.') : '');
  return { x, y, usable, cover: covered ? describe(top) : null };
})"#;

const FOCUS_JS: &str = r#"((sel, value) => {
  const el = Array.from(document.querySelectorAll(sel)).find((e) => e.getClientRects().length > 0);
  if (!el) return 'missing';
  el.scrollIntoView({ block: 'center', behavior: 'instant' });
  if (el.tagName === 'SELECT') {
    el.value = value;
    el.dispatchEvent(new Event('input', { bubbles: true }));
    el.dispatchEvent(new Event('change', { bubbles: true }));
    return el.value === value ? 'done' : 'no-option';
  }
  el.focus();
  el.value = '';
  return document.activeElement === el ? 'focused' : 'unfocusable';
})"#;

const VALUE_JS: &str = r#"((sel) => {
  const el = Array.from(document.querySelectorAll(sel)).find((e) => e.getClientRects().length > 0);
  return el ? String(el.value) : null;
})"#;

const READ_JS: &str = r#"((sel, attr) => {
  const all = Array.from(document.querySelectorAll(sel));
  const el = all.find((e) => e.getClientRects().length > 0) || all[0];
  if (!el) return null;
  const v = attr ? el.getAttribute(attr) : (el.innerText || el.textContent);
  return v === null ? null : String(v).trim();
})"#;

const ROWS_JS: &str = r#"((rowSel, fields, max) => Array.from(document.querySelectorAll(rowSel))
  .filter((row) => row.getClientRects().length > 0)
  .slice(0, max)
  .map((row) => fields.map((f) => {
    if (!f) return null;
    const el = row.querySelector(f.selector);
    if (!el) return null;
    const v = f.attribute ? el.getAttribute(f.attribute) : (el.innerText || el.textContent);
    return v === null ? null : String(v).trim();
  })))"#;

const COUNT_JS: &str = r#"((sel) =>
  Array.from(document.querySelectorAll(sel)).filter((e) => e.getClientRects().length > 0).length)"#;

const JSON_LD_JS: &str = r#"(() => Array.from(
  document.querySelectorAll('script[type="application/ld+json"]')).map((s) => s.textContent))()"#;

/// A script calling one of the functions above with JSON arguments (JSON is
/// valid JavaScript, so values need no further escaping).
fn call(function: &str, args: &[Value]) -> String {
    let args: Vec<String> = args.iter().map(Value::to_string).collect();
    format!("{function}({})", args.join(", "))
}

/// One tab of a launched browser, with the step timeout every call obeys.
pub(crate) struct Tab<'p> {
    page: &'p Page,
    timeout: Duration,
    token: u64,
}

impl<'p> Tab<'p> {
    pub fn new(page: &'p Page, timeout: Duration) -> Tab<'p> {
        Tab {
            page,
            timeout,
            token: 0,
        }
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Starts loading `url`; pair with a [`Tab::wait`] for the new page.
    pub async fn goto(&mut self, url: &Url) -> Result<(), TabError> {
        self.token += 1;
        let js = format!(
            "window.__restockToken = {}; location.assign({}); true",
            self.token,
            json!(url.as_str())
        );
        self.eval::<Value>(&js, self.timeout).await.map(drop)
    }

    /// Polls until one of `wants` shows (the first in `wants` wins when
    /// several do) on a page that has finished parsing.
    pub async fn wait(&self, wants: &[Want]) -> Result<Seen, TabError> {
        let deadline = Instant::now() + self.timeout;
        let spec = json!({
            "token": self.token,
            "groups": wants.iter().map(|w| marker_specs(&w.markers)).collect::<Vec<_>>(),
        });
        let js = call(SNAPSHOT_JS, &[spec]);
        let mut last_href = String::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.eval::<Snapshot>(&js, left.max(POLL)).await {
                Ok(snap) => {
                    if let Some(name) = settle(wants, &snap)? {
                        return Ok(Seen {
                            name,
                            href: snap.href,
                        });
                    }
                    last_href = snap.href;
                }
                Err(TabError::Gone(e)) => return Err(TabError::Gone(e)),
                // The document is being replaced: look again.
                Err(_) => {}
            }
            if Instant::now() >= deadline {
                let names: Vec<&str> = wants.iter().map(|w| w.name).collect();
                return Err(TabError::Timeout(format!(
                    "waited {:?} for {} on {last_href}",
                    self.timeout,
                    names.join(" / ")
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Clicks the first rendered element matching `selector` with a real
    /// mouse click, once it is enabled and not covered. `loads_page` tags the
    /// current document first (see the module docs).
    pub async fn click(&mut self, selector: &str, loads_page: bool) -> Result<(), TabError> {
        let token = if loads_page {
            self.token += 1;
            json!(self.token)
        } else {
            Value::Null
        };
        let js = call(TARGET_JS, &[json!(selector), token]);
        let deadline = Instant::now() + self.timeout;
        let mut last = None;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.eval::<Option<Target>>(&js, left.max(POLL)).await {
                Ok(Some(t)) if t.usable => return self.mouse_click(t.x, t.y).await,
                Ok(found) => last = found,
                Err(TabError::Gone(e)) => return Err(TabError::Gone(e)),
                // The document is being replaced: look again.
                Err(_) => {}
            }
            if Instant::now() >= deadline {
                let why = match last {
                    None => "it is not on the page".to_string(),
                    Some(Target { cover: Some(c), .. }) => format!("it is covered by {c}"),
                    Some(_) => "it stays disabled".to_string(),
                };
                return Err(TabError::Timeout(format!("cannot click {selector}: {why}")));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn mouse_click(&self, x: f64, y: f64) -> Result<(), TabError> {
        let clicked = tokio::time::timeout(self.timeout, self.page.click(Point { x, y })).await;
        match clicked {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(cdp_error(e)),
            Err(_) => Err(TabError::Timeout(format!(
                "the click took over {:?}",
                self.timeout
            ))),
        }
    }

    /// Replaces the value of the input `selector` by typing `value` into
    /// it, then checks the input really holds `value` (a quantity of "12"
    /// instead of "2" must never reach checkout).
    pub async fn fill(&self, selector: &str, value: &str) -> Result<(), TabError> {
        let js = call(FOCUS_JS, &[json!(selector), json!(value)]);
        match self.eval::<String>(&js, self.timeout).await?.as_str() {
            "done" => return Ok(()),
            "focused" => {}
            other => {
                return Err(TabError::Mismatch(format!(
                    "cannot fill {selector}: {other}"
                )))
            }
        }
        if !value.is_empty() {
            let typed = tokio::time::timeout(
                self.timeout,
                self.page.execute(InsertTextParams::new(value)),
            )
            .await;
            match typed {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(cdp_error(e)),
                Err(_) => return Err(TabError::Timeout(format!("typing into {selector}"))),
            }
        }
        let now: Option<String> = self
            .eval(&call(VALUE_JS, &[json!(selector)]), self.timeout)
            .await?;
        if now.as_deref() == Some(value) {
            Ok(())
        } else {
            Err(TabError::Mismatch(format!(
                "{selector} holds {now:?} after typing {value:?}"
            )))
        }
    }

    /// The text (or attribute) of the first element `reading` names.
    pub async fn read(&self, reading: &Reading) -> Result<Option<String>, TabError> {
        let js = call(
            READ_JS,
            &[json!(reading.selector), json!(reading.attribute)],
        );
        self.eval(&js, self.timeout).await
    }

    /// For each of the first `max` rendered elements matching `row`, the
    /// text (or attribute) of each reading looked up inside it (`None` for
    /// a reading not given or not found).
    pub async fn rows(
        &self,
        row: &str,
        fields: &[Option<&Reading>],
        max: usize,
    ) -> Result<Vec<Vec<Option<String>>>, TabError> {
        let fields: Vec<Value> = fields
            .iter()
            .map(|f| {
                f.map_or(
                    Value::Null,
                    |r| json!({ "selector": r.selector, "attribute": r.attribute }),
                )
            })
            .collect();
        let js = call(ROWS_JS, &[json!(row), Value::Array(fields), json!(max)]);
        self.eval(&js, self.timeout).await
    }

    /// How many rendered elements match `selector`.
    pub async fn count(&self, selector: &str) -> Result<usize, TabError> {
        self.eval(&call(COUNT_JS, &[json!(selector)]), self.timeout)
            .await
    }

    /// The page's JSON-LD blocks, as text.
    pub async fn json_ld(&self) -> Result<Vec<String>, TabError> {
        self.eval(JSON_LD_JS, self.timeout).await
    }

    /// The rendered DOM as HTML.
    pub async fn html(&self) -> Result<String, TabError> {
        let js = "(document.doctype ? new XMLSerializer().serializeToString(document.doctype) + '\\n' : '') + document.documentElement.outerHTML";
        self.eval(js, self.timeout).await
    }

    /// Writes a PNG of the visible part of the page to `path` (creating its
    /// directory), within `limit`. Not full-page: that resizes the view and
    /// waits for a new frame, which never comes while a navigation hangs,
    /// exactly when the owner needs the picture most.
    pub async fn screenshot(&self, path: &Path, limit: Duration) -> Result<(), TabError> {
        let params = ScreenshotParams::builder()
            .format(CaptureScreenshotFormat::Png)
            .full_page(false)
            .build();
        let png = match tokio::time::timeout(limit, self.page.screenshot(params)).await {
            Ok(Ok(png)) => png,
            Ok(Err(e)) => return Err(cdp_error(e)),
            Err(_) => return Err(TabError::Timeout("taking a screenshot".into())),
        };
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| TabError::Mismatch(format!("cannot create {}: {e}", dir.display())))?;
        }
        tokio::fs::write(path, png)
            .await
            .map_err(|e| TabError::Mismatch(format!("cannot write {}: {e}", path.display())))
    }

    /// Saves a screenshot for the owner, within [`SCREENSHOT_LIMIT`]; the
    /// path on success, `None` (logged) when it could not be taken.
    pub async fn save_screenshot(&self, path: PathBuf) -> Option<PathBuf> {
        match self
            .screenshot(&path, SCREENSHOT_LIMIT.min(self.timeout))
            .await
        {
            Ok(()) => Some(path),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "could not save a screenshot");
                None
            }
        }
    }

    /// Evaluates `js` in the page (no execution-context bookkeeping: the
    /// browser uses whatever document is current) and decodes its value.
    async fn eval<T: DeserializeOwned>(&self, js: &str, limit: Duration) -> Result<T, TabError> {
        let params = EvaluateParams::builder()
            .expression(js)
            .return_by_value(true)
            .build()
            .map_err(TabError::Mismatch)?;
        let resp = match tokio::time::timeout(limit, self.page.execute(params)).await {
            Ok(Ok(resp)) => resp,
            Ok(Err(e)) => return Err(cdp_error(e)),
            Err(_) => {
                return Err(TabError::Timeout(format!(
                    "the page did not answer within {limit:?}"
                )))
            }
        };
        if let Some(ex) = &resp.result.exception_details {
            return Err(TabError::Mismatch(format!("script failed: {}", ex.text)));
        }
        let value = resp.result.result.value.clone().unwrap_or(Value::Null);
        serde_json::from_value(value)
            .map_err(|e| TabError::Mismatch(format!("unexpected page answer: {e}")))
    }
}

/// What a snapshot means for the wait: a winner, keep polling, or an error.
fn settle(wants: &[Want], snap: &Snapshot) -> Result<Option<&'static str>, TabError> {
    if snap.fresh && snap.href.starts_with("chrome-error://") {
        return Err(TabError::Network(
            "the page (the browser shows its error page)".into(),
        ));
    }
    if let Some(i) = snap.groups.iter().position(|&g| g < 0) {
        return Err(TabError::Mismatch(format!(
            "a selector for `{}` is not valid CSS",
            wants[i].name
        )));
    }
    if snap.ready == "loading" {
        return Ok(None);
    }
    let hit = wants.iter().zip(&snap.groups).find(|(w, &g)| {
        if w.markers.is_empty() {
            snap.fresh
        } else {
            g == 1 && (snap.fresh || !w.fresh_only)
        }
    });
    Ok(hit.map(|(w, _)| w.name))
}

fn marker_specs(markers: &Markers) -> Value {
    markers
        .0
        .iter()
        .map(|m| json!({ "selector": m.selector, "text": m.text.as_ref().map(|t| t.to_lowercase()) }))
        .collect()
}

/// Connection-level errors mean the browser is gone; anything else is a
/// page-level hiccup the caller may retry within its deadline.
fn cdp_error(e: CdpError) -> TabError {
    match e {
        CdpError::Ws(_)
        | CdpError::ChannelSendError(_)
        | CdpError::NoResponse
        | CdpError::Io(_) => TabError::Gone(e.to_string()),
        CdpError::Timeout => TabError::Timeout("a browser request timed out".into()),
        other => TabError::Mismatch(other.to_string()),
    }
}

/// The first `offers.price` (or `lowPrice`) in JSON-LD blocks, searched
/// through `@graph` and nested objects, as text.
pub(crate) fn json_ld_price(blocks: &[String]) -> Option<String> {
    blocks
        .iter()
        .filter_map(|b| serde_json::from_str::<Value>(b).ok())
        .find_map(|v| find_offer_price(&v))
}

fn find_offer_price(v: &Value) -> Option<String> {
    match v {
        Value::Array(items) => items.iter().find_map(find_offer_price),
        Value::Object(map) => {
            if let Some(p) = map.get("offers").and_then(offer_price) {
                return Some(p);
            }
            map.values().find_map(find_offer_price)
        }
        _ => None,
    }
}

fn offer_price(offers: &Value) -> Option<String> {
    match offers {
        Value::Array(items) => items.iter().find_map(offer_price),
        Value::Object(map) => ["price", "lowPrice"]
            .iter()
            .find_map(|k| match map.get(*k)? {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_ld_price_is_found_in_common_shapes() {
        let plain = r#"{"@type":"Product","offers":{"@type":"Offer","price":"6.49"}}"#;
        let graph =
            r#"{"@graph":[{"@type":"WebPage"},{"@type":"Product","offers":[{"price":3.5}]}]}"#;
        let agg = r#"{"@type":"Product","offers":{"@type":"AggregateOffer","lowPrice":"2.00"}}"#;
        assert_eq!(json_ld_price(&[plain.into()]).as_deref(), Some("6.49"));
        assert_eq!(
            json_ld_price(&["not json".into(), graph.into()]).as_deref(),
            Some("3.5")
        );
        assert_eq!(json_ld_price(&[agg.into()]).as_deref(), Some("2.00"));
        assert_eq!(json_ld_price(&[r#"{"@type":"Organization"}"#.into()]), None);
    }

    fn snap(fresh: bool, ready: &str, groups: Vec<i8>) -> Snapshot {
        Snapshot {
            fresh,
            ready: ready.into(),
            href: "http://x/".into(),
            groups,
        }
    }

    #[test]
    fn first_want_wins_and_stale_pages_do_not_count() {
        let wants = [
            Want::any("block", &Markers::selector("#b")),
            Want::selector("price", "#p"),
            Want::new_page(),
        ];
        assert_eq!(
            settle(&wants, &snap(true, "complete", vec![1, 1, 0])).unwrap(),
            Some("block")
        );
        assert_eq!(
            settle(&wants, &snap(false, "complete", vec![0, 1, 0])).unwrap(),
            None
        );
        assert_eq!(
            settle(&wants, &snap(true, "interactive", vec![0, 0, 0])).unwrap(),
            Some("new_page")
        );
        assert_eq!(
            settle(&wants, &snap(true, "loading", vec![1, 1, 0])).unwrap(),
            None
        );
        assert!(matches!(
            settle(&wants, &snap(true, "complete", vec![0, -1, 0])),
            Err(TabError::Mismatch(_))
        ));
    }
}
