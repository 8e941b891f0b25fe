//! The navigation model: when is the next page there, and what does the
//! page show?
//!
//! After a click a store may load a new document (a form post, a link), or
//! change the URL through the history API and render the next page by
//! script (client-side routing), or re-render in place (an accordion
//! checkout, a toast). So the flow never waits for "a navigation"; it waits
//! for the *next step's markers*, and a marker only counts when it shows
//! **because of the action**:
//!
//! - before every navigating action ([`Tab::goto`], [`Tab::click`]) the tab
//!   marks the page ([`MARK_JS`]): the document gets a token, every element
//!   then rendered is tagged as old, the page text is kept, and a
//!   `MutationObserver` starts noting which elements' own text changes;
//! - a selector marker counts ("fresh") when the document is a new one, or
//!   the matching rendered element was not rendered at the mark (created or
//!   revealed since), or its own text changed since; a text marker counts
//!   when the document is new or the text was not on the page at the mark.
//!
//! So a marker still showing from the page before the click is never taken
//! for the next page, whether the next page is a new document, a route
//! rendered by script, or a re-render in place. Markers that end a step
//! wherever they show (block, challenge, signed out, cookie banners) count
//! whether fresh or not (`Want::any`).
//!
//! Each poll reports every marker's state (fresh, shown but from before,
//! in the page but hidden, not in the page): a step that times out says
//! exactly what was missing ([`Missing`]), and `restock dry-run --explain`
//! prints the same for steps that passed.
//!
//! [`Tab::goto`]: super::tab::Tab::goto
//! [`Tab::click`]: super::tab::Tab::click

use std::fmt;

use serde::Deserialize;
use serde_json::{json, Value};

use super::store::Markers;

/// Marks the page before an action (see the module docs). Called with the
/// action's token.
pub(crate) const MARK_JS: &str = r#"((token) => {
  window.__restockToken = token;
  const body = document.body ? document.body.innerText : '';
  window.__restockMark = { token, href: location.href, text: ((document.title || '') + '\n' + body).toLowerCase() };
  for (const el of document.querySelectorAll('*')) {
    if (el.getClientRects().length > 0) el.__restockOld = token;
  }
  if (window.__restockObserver) window.__restockObserver.disconnect();
  const observer = new MutationObserver((records) => {
    window.__restockMutated = token;
    for (const r of records) {
      if (r.type === 'characterData') {
        if (r.target.parentElement) r.target.parentElement.__restockChanged = token;
      } else {
        const texts = (nodes) => Array.from(nodes).some((n) => n.nodeType === 3);
        if (texts(r.addedNodes) || texts(r.removedNodes)) r.target.__restockChanged = token;
      }
    }
  });
  observer.observe(document, { subtree: true, childList: true, characterData: true });
  window.__restockObserver = observer;
  return true;
})"#;

/// One look at the page: each want's markers' states.
const SNAPSHOT_JS: &str = r#"((spec) => {
  const newDoc = window.__restockToken !== spec.token;
  const mark = newDoc ? null : window.__restockMark;
  const changed = newDoc || !mark || location.href !== mark.href || window.__restockMutated === spec.token;
  let text = null;
  const pageText = () => {
    if (text === null) {
      const body = document.body ? document.body.innerText : '';
      text = ((document.title || '') + '\n' + body).toLowerCase();
    }
    return text;
  };
  const fresh = (el) => !mark || el.__restockOld !== spec.token || el.__restockChanged === spec.token;
  const one = (m) => {
    if (!m.selector) {
      if (!pageText().includes(m.text)) return 'absent';
      return !mark || !mark.text.includes(m.text) ? 'fresh' : 'stale';
    }
    let state = 'absent';
    for (const el of document.querySelectorAll(m.selector)) {
      if (m.text && !(el.innerText || el.textContent || '').toLowerCase().includes(m.text)) continue;
      if (el.getClientRects().length === 0) { if (state === 'absent') state = 'hidden'; continue; }
      if (fresh(el)) return 'fresh';
      state = 'stale';
    }
    return state;
  };
  const groups = spec.groups.map((g) => { try { return g.map(one); } catch (e) { return null; } });
  return { changed, ready: document.readyState, href: location.href, title: document.title || '', groups };
})"#;

/// One thing a wait can end on.
#[derive(Debug, Clone)]
pub(crate) struct Want {
    pub name: String,
    /// Empty: "the page changed" (a new document, another URL, or any
    /// change to the DOM since the mark).
    pub markers: Markers,
    /// Only counts when it shows because of the last action.
    pub fresh_only: bool,
}

impl Want {
    pub fn fresh(name: impl Into<String>, markers: &Markers) -> Want {
        Want {
            name: name.into(),
            markers: markers.clone(),
            fresh_only: true,
        }
    }

    pub fn any(name: impl Into<String>, markers: &Markers) -> Want {
        Want {
            fresh_only: false,
            ..Want::fresh(name, markers)
        }
    }

    pub fn selector(name: impl Into<String>, selector: &str) -> Want {
        Want::fresh(name, &Markers::selector(selector))
    }

    /// Ends the wait as soon as the page changed because of the action.
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

/// What one marker showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MarkerState {
    /// Rendered, and new since the action.
    Fresh,
    /// Rendered, but it already was before the action.
    Stale,
    /// In the page, but not rendered.
    Hidden,
    /// Not in the page.
    Absent,
}

impl MarkerState {
    /// In words, for reports.
    pub fn describe(self) -> &'static str {
        match self {
            MarkerState::Fresh => "shown",
            MarkerState::Stale => "shown, but from the page before",
            MarkerState::Hidden => "in the page but hidden",
            MarkerState::Absent => "not in the page",
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct Snapshot {
    changed: bool,
    ready: String,
    pub href: String,
    pub title: String,
    /// Per want, per marker; `None` when a selector is not valid CSS.
    groups: Vec<Option<Vec<MarkerState>>>,
}

/// One want and what its markers showed.
#[derive(Debug, Clone, PartialEq)]
pub struct Looked {
    pub want: String,
    /// `(marker as written, what it showed)`.
    pub markers: Vec<(String, MarkerState)>,
}

/// What a step looked for and what the page had: for a step that passed
/// (`--explain`) or one that timed out.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub url: String,
    pub title: String,
    /// The want the step ended on, when it did.
    pub matched: Option<String>,
    pub looked: Vec<Looked>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "on {} (\"{}\")", self.url, self.title)?;
        if let Some(m) = &self.matched {
            write!(f, ", found {m}")?;
        }
        for l in &self.looked {
            let markers: Vec<String> = l
                .markers
                .iter()
                .map(|(m, s)| format!("{m} {}", s.describe()))
                .collect();
            if markers.is_empty() {
                write!(f, "; {}: the page did not change", l.want)?;
            } else {
                write!(f, "; {}: {}", l.want, markers.join(", "))?;
            }
        }
        Ok(())
    }
}

/// A step that timed out, with what the page had for each of its markers.
#[derive(Debug, Clone, PartialEq)]
pub struct Missing {
    pub waited: std::time::Duration,
    pub report: Report,
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.report.looked.iter().map(|l| l.want.as_str()).collect();
        write!(
            f,
            "waited {:?} for {} {}",
            self.waited,
            names.join(" / "),
            self.report
        )
    }
}

/// The script for one look at `wants` since the action with `token`.
pub(crate) fn snapshot_script(token: u64, wants: &[Want]) -> String {
    let spec = json!({
        "token": token,
        "groups": wants.iter().map(|w| marker_specs(&w.markers)).collect::<Vec<_>>(),
    });
    format!("{SNAPSHOT_JS}({spec})")
}

fn marker_specs(markers: &Markers) -> Value {
    markers
        .0
        .iter()
        .map(|m| json!({ "selector": m.selector, "text": m.text.as_ref().map(|t| t.to_lowercase()) }))
        .collect()
}

/// What a snapshot means for the wait.
pub(crate) enum Verdict {
    /// A want showed (its index; the first in `wants` order when several
    /// did).
    Hit(usize),
    /// Keep looking.
    NotYet,
    /// A selector of this want (its index) is not valid CSS.
    BadSelector(usize),
    /// The browser shows its own error page: the store could not be
    /// reached.
    Unreachable,
}

impl Snapshot {
    pub(crate) fn verdict(&self, wants: &[Want]) -> Verdict {
        if self.changed && self.href.starts_with("chrome-error://") {
            return Verdict::Unreachable;
        }
        if let Some(i) = self.groups.iter().position(Option::is_none) {
            return Verdict::BadSelector(i);
        }
        if self.ready == "loading" {
            return Verdict::NotYet;
        }
        let hit = wants.iter().zip(&self.groups).position(|(w, g)| {
            let states = g.as_deref().unwrap_or_default();
            if w.markers.is_empty() {
                return self.changed;
            }
            states.iter().any(|s| match s {
                MarkerState::Fresh => true,
                MarkerState::Stale => !w.fresh_only,
                _ => false,
            })
        });
        hit.map_or(Verdict::NotYet, Verdict::Hit)
    }

    /// This snapshot as a report on `wants`.
    pub(crate) fn report(&self, wants: &[Want], matched: Option<&str>) -> Report {
        let looked = wants
            .iter()
            .zip(&self.groups)
            .map(|(w, g)| Looked {
                want: w.name.clone(),
                markers: w
                    .markers
                    .0
                    .iter()
                    .zip(g.as_deref().unwrap_or_default())
                    .map(|(m, s)| (describe_marker(m), *s))
                    .collect(),
            })
            .collect();
        Report {
            url: self.href.clone(),
            title: self.title.clone(),
            matched: matched.map(str::to_string),
            looked,
        }
    }
}

fn describe_marker(m: &super::store::Marker) -> String {
    match (&m.selector, &m.text) {
        (Some(s), None) => format!("`{s}`"),
        (None, Some(t)) => format!("text {t:?}"),
        (Some(s), Some(t)) => format!("`{s}` with text {t:?}"),
        (None, None) => "(nothing)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use MarkerState::*;

    fn snap(changed: bool, ready: &str, groups: Vec<Option<Vec<MarkerState>>>) -> Snapshot {
        Snapshot {
            changed,
            ready: ready.into(),
            href: "http://x/".into(),
            title: "X".into(),
            groups,
        }
    }

    fn hit(v: Verdict) -> Option<usize> {
        match v {
            Verdict::Hit(i) => Some(i),
            _ => None,
        }
    }

    #[test]
    fn first_want_wins_and_markers_from_before_the_action_do_not_count() {
        let wants = [
            Want::any("block", &Markers::selector("#b")),
            Want::selector("price", "#p"),
            Want::new_page(),
        ];
        let s = snap(
            true,
            "complete",
            vec![Some(vec![Fresh]), Some(vec![Fresh]), Some(vec![])],
        );
        assert_eq!(hit(s.verdict(&wants)), Some(0));
        // The price element still shows from before the click: not yet.
        let s = snap(
            false,
            "complete",
            vec![Some(vec![Absent]), Some(vec![Stale]), Some(vec![])],
        );
        assert_eq!(hit(s.verdict(&wants)), None);
        // A block page counts however it came.
        let s = snap(
            false,
            "complete",
            vec![Some(vec![Stale]), Some(vec![Stale]), Some(vec![])],
        );
        assert_eq!(hit(s.verdict(&wants)), Some(0));
        let s = snap(
            true,
            "interactive",
            vec![Some(vec![Absent]), Some(vec![Hidden]), Some(vec![])],
        );
        assert_eq!(hit(s.verdict(&wants)), Some(2));
        let s = snap(
            true,
            "loading",
            vec![Some(vec![Fresh]), Some(vec![Fresh]), Some(vec![])],
        );
        assert_eq!(hit(s.verdict(&wants)), None);
        let s = snap(
            true,
            "complete",
            vec![Some(vec![Absent]), None, Some(vec![])],
        );
        assert!(matches!(s.verdict(&wants), Verdict::BadSelector(1)));
    }

    #[test]
    fn a_report_says_what_each_marker_showed() {
        let wants = [
            Want::selector("total", "#total"),
            Want::selector("place_order", "#place"),
        ];
        let s = snap(
            false,
            "complete",
            vec![Some(vec![Stale]), Some(vec![Hidden])],
        );
        let text = s.report(&wants, None).to_string();
        assert_eq!(
            text,
            "on http://x/ (\"X\"); total: `#total` shown, but from the page before; \
             place_order: `#place` in the page but hidden"
        );
    }
}
