//! Driving one browser tab: navigate, wait for markers, click, type, read.
//!
//! Every call is bounded by the step timeout: a store that never answers
//! must end a step, not hang the engine. Waiting is done by polling the page
//! for the markers the next step needs (one small script per poll, checking
//! all markers at once), never by "navigation finished" after a click, which
//! is unreliable for pages that redirect, submit forms, or update in place.
//!
//! When the next page counts as there is [`super::wait`]'s job (the
//! navigation model); this file does the acting: go to a URL, click like a
//! person (a real mouse click on an element that is enabled and not
//! covered), type like one (real text input that frameworks see, the value
//! checked afterwards), choose options, tick boxes, read values.
//!
//! Cookie banners and pop-ups the store definition lists as `dismiss` are
//! clicked away whenever one shows during a wait or covers what the flow
//! is about to click.

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
use super::wait::{snapshot_script, Missing, Report, Snapshot, Verdict, Want, MARK_JS};

/// Screenshots are a courtesy: they must not add a long wait to a failure.
const SCREENSHOT_LIMIT: Duration = Duration::from_secs(10);

/// How often a wait looks at the page again.
const POLL: Duration = Duration::from_millis(100);

/// Why a tab operation did not complete.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TabError {
    #[error("timed out: {0}")]
    Timeout(String),
    /// A step's markers did not show in time; says what the page had.
    #[error("timed out: {0}")]
    Missing(Box<Missing>),
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

    /// What the page had, when a step's markers did not show.
    pub fn missing(&self) -> Option<&Missing> {
        match self {
            TabError::Missing(m) => Some(m),
            _ => None,
        }
    }
}

/// What a wait ended on, and where, with what every marker showed.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub name: String,
    pub href: String,
    pub report: Report,
}

#[derive(Debug, Deserialize)]
struct Target {
    x: f64,
    y: f64,
    usable: bool,
    cover: Option<String>,
}

/// Finds the element to click, scrolls it into view, says whether a click
/// at its centre would reach it; when it would and `token` is given, marks
/// the page ([`MARK_JS`]) right before the click.
const TARGET_JS: &str = r#"((mark, sel, token) => {
  const el = Array.from(document.querySelectorAll(sel)).find((e) => e.getClientRects().length > 0);
  if (!el) return null;
  el.scrollIntoView({ block: 'center', inline: 'center', behavior: 'instant' });
  const r = el.getBoundingClientRect();
  const x = r.left + r.width / 2, y = r.top + r.height / 2;
  const top = document.elementFromPoint(x, y);
  const covered = top !== null && top !== el && !el.contains(top);
  const usable = !el.disabled && !covered;
  if (usable && token !== null) mark(token);
  const describe = (n) => n.tagName.toLowerCase() + (n.id ? '#' + n.id : '') +
    (n.className && typeof n.className === 'string' ? '.' + n.className.trim().split(/\s+/).join('.') : '');
  return { x, y, usable, cover: covered ? describe(top) : null };
})"#;

/// Focuses a text input and selects what it holds, so the text typed next
/// replaces it through the same input events a person's typing makes (a
/// framework-controlled input sees them; setting `value` from script it
/// would not). An empty value is cleared with the native setter and an
/// `input` event, which frameworks also see.
const FOCUS_JS: &str = r#"((sel, clear) => {
  const el = Array.from(document.querySelectorAll(sel)).find((e) => e.getClientRects().length > 0);
  if (!el) return 'it is not on the page';
  if (el.tagName === 'SELECT') return 'it is a <select>; use a `select` action';
  el.scrollIntoView({ block: 'center', behavior: 'instant' });
  el.focus();
  if (document.activeElement !== el) return 'it does not take the focus';
  if (clear) {
    const proto = el.tagName === 'TEXTAREA' ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
    Object.getOwnPropertyDescriptor(proto, 'value').set.call(el, '');
    el.dispatchEvent(new Event('input', { bubbles: true }));
    return 'cleared';
  }
  try { el.select(); } catch (e) { el.setSelectionRange && el.setSelectionRange(0, String(el.value).length); }
  return 'focused';
})"#;

/// Chooses the option of a `<select>` whose value is `want`, else whose
/// visible text contains it (case-insensitive), the way a person's choice
/// does (the native setter, then `input` and `change`). Answers the chosen
/// option's value and text, or why not.
const SELECT_JS: &str = r#"((sel, want) => {
  const el = Array.from(document.querySelectorAll(sel)).find((e) => e.getClientRects().length > 0);
  if (!el) return { error: 'it is not on the page' };
  if (el.tagName !== 'SELECT') return { error: 'it is not a <select>' };
  const w = String(want).toLowerCase();
  const opts = Array.from(el.options);
  const opt = opts.find((o) => o.value === want) || opts.find((o) => o.text.toLowerCase().includes(w));
  if (!opt) return { error: 'it has no option ' + JSON.stringify(want) + ' (options: ' + opts.map((o) => o.text.trim()).join(', ') + ')' };
  if (el.value !== opt.value) {
    Object.getOwnPropertyDescriptor(HTMLSelectElement.prototype, 'value').set.call(el, opt.value);
    el.dispatchEvent(new Event('input', { bubbles: true }));
    el.dispatchEvent(new Event('change', { bubbles: true }));
  }
  return { value: opt.value, text: opt.text.trim() };
})"#;

/// A select's current choice, for checking that a choice took.
const SELECTED_JS: &str = r#"((sel) => {
  const el = Array.from(document.querySelectorAll(sel)).find((e) => e.getClientRects().length > 0);
  return el && el.tagName === 'SELECT' ? el.value : null;
})"#;

/// Whether a checkbox or radio is ticked; `null` when it is not in the
/// page. Custom-styled boxes hide the input: it is looked up hidden too.
const CHECKED_JS: &str = r#"((sel) => {
  const el = document.querySelector(sel);
  return el ? Boolean(el.checked) : null;
})"#;

/// What to click to tick a box: the box when rendered, else its label (a
/// custom-styled box hides the input behind its label).
const TICK_TARGET_JS: &str = r#"((sel) => {
  const el = document.querySelector(sel);
  if (!el) return null;
  if (el.getClientRects().length > 0) return sel;
  const label = (el.id && document.querySelector('label[for="' + CSS.escape(el.id) + '"]')) || el.closest('label');
  if (!label) return sel;
  if (!label.id) label.id = '__restock_label_' + Math.random().toString(36).slice(2);
  return '#' + CSS.escape(label.id);
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
/// valid JavaScript, so values need no further escaping). [`TARGET_JS`]
/// gets the marking function first.
fn call(function: &str, args: &[Value]) -> String {
    let args: Vec<String> = args.iter().map(Value::to_string).collect();
    if function == TARGET_JS {
        return format!("{function}({MARK_JS}, {})", args.join(", "));
    }
    format!("{function}({})", args.join(", "))
}

/// One tab of a launched browser, with the step timeout every call obeys.
pub(crate) struct Tab<'p> {
    page: &'p Page,
    timeout: Duration,
    /// The token of the last mark (see [`super::wait`]).
    token: u64,
    /// Buttons that close cookie banners and pop-ups.
    dismiss: Markers,
}

/// Dismissals one wait or click may make before giving up on a banner that
/// keeps coming back.
const MAX_DISMISSALS: usize = 5;

impl<'p> Tab<'p> {
    pub fn new(page: &'p Page, timeout: Duration) -> Tab<'p> {
        Tab {
            page,
            timeout,
            token: 0,
            dismiss: Markers::default(),
        }
    }

    /// The same tab, clicking `dismiss` buttons away whenever they show.
    pub fn with_dismiss(mut self, dismiss: &[String]) -> Tab<'p> {
        self.dismiss = Markers(
            dismiss
                .iter()
                .map(|s| super::store::Marker {
                    selector: Some(s.clone()),
                    text: None,
                })
                .collect(),
        );
        self
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Marks the page (see [`super::wait`]) before an action that is not a
    /// click or a navigation (choosing a variant re-renders the product).
    pub async fn mark(&mut self) -> Result<(), TabError> {
        self.token += 1;
        let js = format!("({MARK_JS})({})", self.token);
        self.eval::<Value>(&js, self.timeout).await.map(drop)
    }

    /// Marks the page and starts loading `url`; pair with a [`Tab::wait`].
    pub async fn goto(&mut self, url: &Url) -> Result<(), TabError> {
        self.token += 1;
        let js = format!(
            "({MARK_JS})({}); location.assign({}); true",
            self.token,
            json!(url.as_str())
        );
        self.eval::<Value>(&js, self.timeout).await.map(drop)
    }

    /// Polls until one of `wants` shows (the first in `wants` wins when
    /// several do) on a page that has finished parsing; clicks `dismiss`
    /// buttons away meanwhile. On timeout, [`TabError::Missing`] says what
    /// the page had for every marker.
    pub async fn wait(&self, wants: &[Want]) -> Result<Seen, TabError> {
        let deadline = Instant::now() + self.timeout;
        let mut all = wants.to_vec();
        if !self.dismiss.is_empty() {
            all.push(Want::any("dismiss", &self.dismiss));
        }
        let js = snapshot_script(self.token, &all);
        let mut last: Option<Snapshot> = None;
        let mut dismissed = 0;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.eval::<Snapshot>(&js, left.max(POLL)).await {
                Ok(snap) => match snap.verdict(&all) {
                    Verdict::Hit(i) if i == wants.len() && dismissed < MAX_DISMISSALS => {
                        dismissed += 1;
                        self.dismiss_shown().await?;
                        continue;
                    }
                    Verdict::Hit(i) if i == wants.len() => last = Some(snap),
                    Verdict::Hit(i) => {
                        let name = wants[i].name.clone();
                        return Ok(Seen {
                            report: snap.report(wants, Some(&name)),
                            href: snap.href.clone(),
                            name,
                        });
                    }
                    Verdict::NotYet => last = Some(snap),
                    Verdict::BadSelector(i) => {
                        return Err(TabError::Mismatch(format!(
                            "a selector for `{}` is not valid CSS",
                            all[i].name
                        )))
                    }
                    Verdict::Unreachable => {
                        return Err(TabError::Network(
                            "the page (the browser shows its error page)".into(),
                        ))
                    }
                },
                Err(TabError::Gone(e)) => return Err(TabError::Gone(e)),
                // The document is being replaced: look again.
                Err(_) => {}
            }
            if Instant::now() >= deadline {
                let report = match &last {
                    Some(snap) => snap.report(wants, None),
                    None => Report {
                        url: String::new(),
                        title: String::new(),
                        matched: None,
                        looked: Vec::new(),
                    },
                };
                return Err(TabError::Missing(Box::new(Missing {
                    waited: self.timeout,
                    report,
                })));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Clicks the first shown `dismiss` button (no mark: closing a banner
    /// is not the step's action).
    async fn dismiss_shown(&self) -> Result<(), TabError> {
        for m in &self.dismiss.0 {
            let Some(sel) = &m.selector else { continue };
            let js = call(TARGET_JS, &[json!(sel), Value::Null]);
            if let Ok(Some(t)) = self.eval::<Option<Target>>(&js, self.timeout).await {
                if t.usable {
                    tracing::debug!(button = %sel, "dismissing a banner");
                    return self.mouse_click(t.x, t.y).await;
                }
            }
        }
        Ok(())
    }

    /// Clicks the first rendered element matching `selector` with a real
    /// mouse click, once it is enabled and not covered (a `dismiss` button
    /// covering it is clicked away first), and marks the page right before
    /// (see [`super::wait`]): whatever shows next counts as the click's.
    pub async fn click(&mut self, selector: &str) -> Result<(), TabError> {
        self.token += 1;
        let token = json!(self.token);
        self.click_target(selector, token).await
    }

    /// A click that is not a step of its own (ticking a box, choosing a
    /// radio button): no mark, so markers of the page stay as they were.
    async fn click_in_place(&self, selector: &str) -> Result<(), TabError> {
        self.click_target(selector, Value::Null).await
    }

    async fn click_target(&self, selector: &str, token: Value) -> Result<(), TabError> {
        let js = call(TARGET_JS, &[json!(selector), token]);
        let deadline = Instant::now() + self.timeout;
        let mut last = None;
        let mut dismissed = 0;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.eval::<Option<Target>>(&js, left.max(POLL)).await {
                Ok(Some(t)) if t.usable => return self.mouse_click(t.x, t.y).await,
                Ok(Some(t)) if t.cover.is_some() && dismissed < MAX_DISMISSALS => {
                    dismissed += 1;
                    self.dismiss_shown().await?;
                    last = Some(t);
                }
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
        let js = call(FOCUS_JS, &[json!(selector), json!(value.is_empty())]);
        match self.eval::<String>(&js, self.timeout).await?.as_str() {
            "focused" | "cleared" => {}
            why => return Err(TabError::Mismatch(format!("cannot fill {selector}: {why}"))),
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

    /// Chooses the option of the `<select>` `selector` whose value is
    /// `want`, else whose text contains it; checks the choice took. Returns
    /// the chosen option's text.
    pub async fn select(&self, selector: &str, want: &str) -> Result<String, TabError> {
        #[derive(Deserialize)]
        struct Chosen {
            value: Option<String>,
            text: Option<String>,
            error: Option<String>,
        }
        let js = call(SELECT_JS, &[json!(selector), json!(want)]);
        let chosen: Chosen = self.eval(&js, self.timeout).await?;
        if let Some(why) = chosen.error {
            return Err(TabError::Mismatch(format!(
                "cannot choose {want:?} in {selector}: {why}"
            )));
        }
        let value = chosen.value.unwrap_or_default();
        let now: Option<String> = self
            .eval(&call(SELECTED_JS, &[json!(selector)]), self.timeout)
            .await?;
        // Gone: the choice reloads the page (a variant's `?pack=`); the
        // caller checks it once the page has settled.
        if now.as_deref().is_some_and(|now| now != value) {
            return Err(TabError::Mismatch(format!(
                "{selector} shows {now:?} after choosing {want:?}"
            )));
        }
        Ok(chosen.text.unwrap_or(value))
    }

    /// Ticks the checkbox or radio button `selector` with a real click
    /// (on its label when the box itself is hidden by styling), unless it
    /// is ticked already; checks it is ticked afterwards.
    pub async fn tick(&self, selector: &str) -> Result<(), TabError> {
        let checked = call(CHECKED_JS, &[json!(selector)]);
        match self.eval::<Option<bool>>(&checked, self.timeout).await? {
            None => {
                return Err(TabError::Mismatch(format!(
                    "cannot tick {selector}: it is not on the page"
                )))
            }
            Some(true) => return Ok(()),
            Some(false) => {}
        }
        let target: Option<String> = self
            .eval(&call(TICK_TARGET_JS, &[json!(selector)]), self.timeout)
            .await?;
        self.click_in_place(target.as_deref().unwrap_or(selector))
            .await?;
        match self.eval::<Option<bool>>(&checked, self.timeout).await? {
            Some(true) => Ok(()),
            _ => Err(TabError::Mismatch(format!(
                "{selector} is not ticked after clicking it"
            ))),
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
}

#[cfg(test)]
#[path = "tab_tests.rs"]
mod real_browser;
