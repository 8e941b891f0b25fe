//! The home page's HTML, written straight into one buffer.
//!
//! Every string that comes from outside the program (item names and ids,
//! store names, messages, pause reasons, monitor labels, which are
//! already redacted) goes through [`Html::text`], which escapes `& < > " '`;
//! only this file's own literals are written raw. Secrets are never in the
//! view to begin with: no token, no monitor or notification URL, no
//! sign-in link (the Sign in button mints one when pressed).
//!
//! A 2,000-item catalog is one row per item: the rows are written with
//! `write!` into one buffer (no string per row, per time or per escaped
//! name), grouped by state in the order of [`ItemState::ALL`]
//! ([`item_groups`], which the caller keeps while the states hold).
//! Times are written relative ("3m ago", "in 2h") inside `<time data-t>`
//! holding the instant, which the script keeps current.
//!
//! The markup is the contract with `app.js` and the tests: sections have
//! ids (`attention`, `items`, `orders`, `stores`, `engine`); rows carry
//! `data-item` / `data-order` / `data-store` and their state as
//! `data-state`, `data-last`, `data-status` or `data-session`; every
//! action is a `<button name="act" value="verb:argument">` in a form that
//! posts to `./` with the form token.

use std::fmt::Write as _;
use std::path::Path;

use crate::db::{MonitorState, Order, Role};
use crate::intake::{ItemState, ItemStates, ItemStatus};
use crate::model::{SessionState, Status};
use crate::text::Span;

use super::screenshots;
use super::view::{StoreView, View};

/// The page's buffer: raw markup and escaped text.
pub struct Html(String);

impl Html {
    pub fn with_capacity(n: usize) -> Html {
        Html(String::with_capacity(n))
    }

    /// This file's own markup.
    pub fn raw(&mut self, s: &str) -> &mut Html {
        self.0.push_str(s);
        self
    }

    /// Text from anywhere else, escaped for content and quoted attributes.
    pub fn text(&mut self, s: &str) -> &mut Html {
        let mut last = 0;
        for (i, b) in s.bytes().enumerate() {
            let rep = match b {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                b'\'' => "&#39;",
                _ => continue,
            };
            self.0.push_str(&s[last..i]);
            self.0.push_str(rep);
            last = i + 1;
        }
        self.0.push_str(&s[last..]);
        self
    }

    /// A number or another `Display` that cannot hold markup.
    pub fn num(&mut self, n: impl std::fmt::Display) -> &mut Html {
        let _ = write!(self.0, "{n}");
        self
    }

    /// `<time data-t="ms">3m ago</time>` (or `in 2h` for a future time).
    pub fn time(&mut self, ms: i64, now: i64) -> &mut Html {
        let _ = if ms <= now {
            write!(
                self.0,
                "<time data-t=\"{ms}\">{} ago</time>",
                Span(now - ms)
            )
        } else {
            write!(self.0, "<time data-t=\"{ms}\">in {}</time>", Span(ms - now))
        };
        self
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// Escapes `text` for HTML content and double-quoted attributes.
pub fn esc(text: &str) -> String {
    let mut h = Html::with_capacity(text.len());
    h.text(text);
    h.into_string()
}

/// A status as people read it (`dry run`, `needs review`).
fn status_label(status: Status) -> &'static str {
    match status {
        Status::Pending => "queued",
        Status::InProgress => "buying",
        Status::Placed => "placed",
        Status::DryRun => "dry run",
        Status::SkippedCooldown => "skipped: cooldown",
        Status::PriceBlocked => "price too high",
        Status::SpendCapped => "spend cap",
        Status::Unavailable => "unavailable",
        Status::SigninRequired => "sign-in required",
        Status::Challenge => "bot check",
        Status::Blocked => "blocked",
        Status::Failed => "failed",
        Status::NeedsReview => "needs review",
        Status::Cancelled => "cancelled",
    }
}

/// Statuses that went wrong: their screenshot is shown, their row marked.
fn went_wrong(status: Status) -> bool {
    !matches!(
        status,
        Status::Pending | Status::InProgress | Status::Placed | Status::DryRun | Status::Cancelled
    )
}

/// What the page needs besides the view.
pub struct Page<'a> {
    pub view: &'a View,
    /// [`item_groups`] for the view's items.
    pub item_groups: &'a str,
    /// The form token for this browser.
    pub form_token: &'a str,
    /// What the last action said: `(ok, text)`.
    pub notice: Option<(bool, &'a str)>,
    /// Signed in with the token (a Sign out button).
    pub session: bool,
    pub screenshots: &'a Path,
    /// Sign-in links can be made (the real browser runs).
    pub signin: bool,
    /// Orders can be verified from the store's order history.
    pub verify: bool,
}

/// The document's head and the opening of its body.
fn head(h: &mut Html, title: &str, body_attrs: &str, refresh: bool) {
    h.raw("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">")
        .raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
        .raw("<meta name=\"referrer\" content=\"same-origin\"><title>")
        .text(title)
        .raw("</title><link rel=\"stylesheet\" href=\"assets/home.css\">")
        .raw("<script src=\"assets/home.js\" defer></script>");
    if refresh {
        // Without script the page reloads itself; with it, the event stream
        // keeps it current.
        h.raw("<noscript><meta http-equiv=\"refresh\" content=\"30\"></noscript>");
    }
    h.raw("</head><body").raw(body_attrs).raw(">");
}

fn form_open(h: &mut Html, token: &str) {
    h.raw("<form method=\"post\" action=\"./\"><input type=\"hidden\" name=\"csrf\" value=\"")
        .text(token)
        .raw("\">");
}

fn button(h: &mut Html, verb: &str, arg: &str, label: &str, class: &str) {
    h.raw("<button name=\"act\"");
    if !class.is_empty() {
        h.raw(" class=\"").raw(class).raw("\"");
    }
    h.raw(" value=\"")
        .raw(verb)
        .raw(":")
        .text(arg)
        .raw("\">")
        .raw(label)
        .raw("</button>");
}

/// A screenshot of order `o`, as a thumbnail linking the full image.
fn shot(h: &mut Html, dir: &Path, o: &Order) {
    let Some(name) = o
        .screenshot
        .as_deref()
        .and_then(|p| screenshots::link_name(dir, p))
    else {
        return;
    };
    h.raw("<a class=\"shot\" href=\"screenshots/")
        .text(name)
        .raw("\" target=\"_blank\" rel=\"noopener\"><img src=\"screenshots/")
        .text(name)
        .raw("\" alt=\"screenshot of order ")
        .num(o.id)
        .raw("\" loading=\"lazy\"></a>");
}

/// A small link to order `o`'s screenshot.
fn shot_link(h: &mut Html, dir: &Path, o: &Order) {
    if let Some(name) = o
        .screenshot
        .as_deref()
        .and_then(|p| screenshots::link_name(dir, p))
    {
        h.raw(" · <a href=\"screenshots/")
            .text(name)
            .raw("\" target=\"_blank\" rel=\"noopener\">screenshot</a>");
    }
}

/// The whole page.
pub fn render(p: &Page) -> String {
    let v = p.view;
    let mut h = Html::with_capacity(16 * 1024 + p.item_groups.len());
    let needs = v.needs_you();
    let title = if needs > 0 {
        format!("({needs}) restock")
    } else {
        "restock".to_string()
    };
    let paused = v.pause.is_some() || v.activity.pause.is_some();
    let turn_at = v.silent_ms.map_or(0, |s| v.now - s);
    let attrs = format!(
        " data-paused=\"{}\" data-engine=\"{}\" data-turn-at=\"{turn_at}\" data-needs=\"{needs}\"",
        u8::from(paused),
        v.activity.state.as_str()
    );
    head(&mut h, &title, &attrs, true);
    header(&mut h, p);
    h.raw("<p id=\"notice\" role=\"status\"");
    match p.notice {
        Some((ok, text)) => {
            h.raw(if ok {
                " class=\"notice ok\">"
            } else {
                " class=\"notice err\">"
            })
            .text(text);
        }
        None => {
            h.raw(" class=\"notice\" hidden>");
        }
    }
    h.raw("</p><main>");
    attention(&mut h, p);
    items(&mut h, p);
    orders(&mut h, p);
    stores(&mut h, p);
    engine(&mut h, p);
    h.raw("</main>");
    footer(&mut h, p);
    h.raw("</body></html>");
    h.into_string()
}

fn header(h: &mut Html, p: &Page) {
    let v = p.view;
    h.raw("<header id=\"top\"><h1>restock</h1><span class=\"badge e-")
        .raw(v.activity.state.as_str())
        .raw("\">engine ")
        .raw(v.activity.state.as_str())
        .raw("</span>");
    if v.dry_run {
        h.raw("<span class=\"badge warn\" title=\"RESTOCK_DRY_RUN: every buy stops before Place Order\">dry run</span>");
    }
    h.raw("<span class=\"live\" id=\"live\" hidden>live</span></header>");
}

fn attention(h: &mut Html, p: &Page) {
    let v = p.view;
    h.raw("<section id=\"attention\"><h2>Needs you</h2>");
    if v.needs_you() == 0 {
        h.raw("<p class=\"calm\">Nothing needs you.</p></section>");
        return;
    }
    form_open(h, p.form_token);
    h.raw("<ul class=\"cards\">");
    if let Some(pause) = &v.pause {
        h.raw("<li class=\"card bad\" id=\"pause\"><p><b>Paused</b> ")
            .time(pause.since, v.now)
            .raw(": <span class=\"reason\">")
            .text(&pause.reason)
            .raw("</span></p>");
        if let Some(o) = &v.pause_order {
            h.raw("<p><small>order #")
                .num(o.id)
                .raw(" · ")
                .text(item_name(v, &o.item))
                .raw(" · ")
                .raw(status_label(o.status));
            if let Some(store) = &o.store {
                h.raw(" · at ").text(store);
            }
            h.raw("</small></p>");
            shot(h, p.screenshots, o);
        }
        h.raw("<p class=\"acts\">");
        button(h, "resume", "", "Resume", "primary");
        let store = v.pause_order.as_ref().and_then(|o| {
            let wall = matches!(
                o.status,
                Status::Challenge | Status::SigninRequired | Status::Blocked
            );
            o.store.as_deref().filter(|_| wall)
        });
        if let (Some(store), true) = (store, p.signin) {
            button(h, "signin", store, "Sign in to solve it", "");
        }
        if let Some(o) = v
            .pause_order
            .as_ref()
            .filter(|o| o.status == Status::NeedsReview)
        {
            if p.verify {
                button(h, "verify", &o.id.to_string(), "Verify", "");
            }
        }
        h.raw("</p><p><small>Resume when what stopped it is dealt with (an order to review: check the store's order history first).</small></p></li>");
    } else if let Some(pause) = &v.activity.pause {
        h.raw("<li class=\"card bad\" id=\"pause\"><p><b>Holding still</b>: <span class=\"reason\">")
            .text(&pause.reason)
            .raw("</span></p><p><small>This clears by itself when the database takes writes again.</small></p></li>");
    }
    for s in v.stores.iter().filter(|s| s.signed_out()) {
        h.raw("<li class=\"card warn\" data-store=\"")
            .text(&s.name)
            .raw("\"><p><b>")
            .text(&s.name)
            .raw("</b> is signed out");
        if let Some(session) = &s.session {
            h.raw(" (since ").time(session.since, v.now).raw(")");
        }
        h.raw(": its orders wait or use another store.</p>");
        if p.signin {
            h.raw("<p class=\"acts\">");
            button(h, "signin", &s.name, "Sign in", "primary");
            h.raw("</p>");
        }
        h.raw("</li>");
    }
    let paused_order = v.pause.as_ref().and_then(|p| p.order_id);
    for o in v.review.iter().filter(|o| Some(o.id) != paused_order) {
        review_card(h, p, o);
    }
    h.raw("</ul></form></section>");
}

fn review_card(h: &mut Html, p: &Page, o: &Order) {
    let v = p.view;
    h.raw("<li class=\"card warn\" data-order=\"")
        .num(o.id)
        .raw("\"><p><b>Order #")
        .num(o.id)
        .raw("</b> (")
        .text(item_name(v, &o.item))
        .raw(") needs review");
    if let Some(t) = o.finished_at {
        h.raw(", ").time(t, v.now);
    }
    h.raw("</p>");
    if let Some(m) = &o.message {
        h.raw("<p class=\"msg\">").text(m).raw("</p>");
    }
    shot(h, p.screenshots, o);
    if p.verify {
        h.raw("<p class=\"acts\">");
        button(h, "verify", &o.id.to_string(), "Verify", "primary");
        h.raw("</p>");
    } else {
        h.raw("<p><small>Check the store's order history; it may have been bought.</small></p>");
    }
    h.raw("</li>");
}

/// The catalog name of `id`, or `id` when the item left the catalog.
fn item_name<'a>(v: &'a View, id: &'a str) -> &'a str {
    v.catalog.get(id).map_or(id, |i| i.name.as_str())
}

fn items(h: &mut Html, p: &Page) {
    h.raw("<section id=\"items\"><h2>Items <span class=\"count\">")
        .num(p.view.catalog.items.len())
        .raw("</span></h2>")
        .raw("<input type=\"search\" id=\"filter\" placeholder=\"Filter items\" aria-label=\"Filter items\" autocomplete=\"off\" hidden>");
    if p.view.catalog.items.is_empty() {
        h.raw("<p class=\"calm\">The catalog is empty.</p></section>");
        return;
    }
    form_open(h, p.form_token);
    h.raw(p.item_groups);
    h.raw("<p class=\"none\" id=\"no-match\" hidden>No item matches.</p></form></section>");
}

/// Every item's row, grouped by state: the bulk of the page, and the part
/// that holds as long as the item states do (the caller keeps it while
/// they hold). No form token in it.
pub fn item_groups(states: &ItemStates, now: i64) -> String {
    let all = &states.items;
    let mut h = Html::with_capacity(all.len() * 340);
    for state in ItemState::ALL {
        let n = all.iter().filter(|s| s.state == state).count();
        if n == 0 {
            continue;
        }
        h.raw("<details class=\"group\" data-group=\"")
            .raw(state.as_str())
            .raw("\" open><summary>")
            .raw(group_title(state))
            .raw(" <span class=\"count\">")
            .num(n)
            .raw("</span></summary><ul class=\"rows\">");
        for s in all.iter().filter(|s| s.state == state) {
            item_row(&mut h, now, s);
        }
        h.raw("</ul></details>");
    }
    h.into_string()
}

fn group_title(state: ItemState) -> &'static str {
    match state {
        ItemState::Buying => "Buying",
        ItemState::Queued => "Queued",
        ItemState::Ready => "Ready",
        ItemState::Debounced => "Just ordered",
        ItemState::Cooldown => "In cooldown",
    }
}

fn item_row(h: &mut Html, now: i64, s: &ItemStatus) {
    let item = s.item;
    h.raw("<li class=\"row item\" data-item=\"")
        .text(&item.id)
        .raw("\" data-state=\"")
        .raw(s.state.as_str());
    if let Some(last) = s.last {
        h.raw("\" data-last=\"").raw(last.status.as_str());
    }
    h.raw("\"><span class=\"grow\"><b>")
        .text(&item.name)
        .raw("</b>");
    if item.name != item.id {
        h.raw(" <small class=\"id\">")
            .text(&item.id)
            .raw("</small>");
    }
    h.raw("<br><span class=\"badge s-")
        .raw(s.state.as_str())
        .raw("\">")
        .raw(s.state.as_str())
        .raw("</span> ");
    match (s.state, s.last) {
        (ItemState::Queued, Some(o)) => {
            h.raw("<small>order #")
                .num(o.id)
                .raw(" queued ")
                .time(o.created_at, now)
                .raw("</small>");
        }
        (ItemState::Buying, Some(o)) => {
            h.raw("<small>order #").num(o.id);
            if let Some(phase) = o.phase {
                h.raw(": ").raw(phase.as_str());
            }
            if let Some(store) = &o.store {
                h.raw(" at ").text(store);
            }
            h.raw("</small>");
        }
        (_, Some(o)) => {
            h.raw("<small>last: ")
                .raw(status_label(o.status))
                .raw(" ")
                .time(o.finished_at.unwrap_or(o.created_at), now);
            if let Some(total) = o.total {
                h.raw(" · ").num(total);
            }
            if let Some(t) = s.ready_at {
                h.raw(" · again ").time(t, now);
            }
            h.raw("</small>");
        }
        (_, None) => {}
    }
    h.raw("</span>");
    button(h, "reorder", &item.id, "Reorder", "");
    h.raw("</li>");
}

fn orders(h: &mut Html, p: &Page) {
    let v = p.view;
    h.raw("<section id=\"orders\"><h2>Recent orders</h2>");
    if v.recent.is_empty() {
        h.raw("<p class=\"calm\">No orders yet.</p></section>");
        return;
    }
    form_open(h, p.form_token);
    h.raw("<ul class=\"rows\">");
    for o in &v.recent {
        h.raw("<li class=\"row order")
            .raw(if went_wrong(o.status) { " wrong" } else { "" })
            .raw("\" data-order=\"")
            .num(o.id)
            .raw("\" data-status=\"")
            .raw(o.status.as_str())
            .raw("\"><span class=\"grow\"><b>#")
            .num(o.id)
            .raw("</b> ")
            .text(item_name(v, &o.item))
            .raw("<br><span class=\"badge o-")
            .raw(o.status.as_str())
            .raw("\">")
            .raw(status_label(o.status))
            .raw("</span> <small>")
            .time(o.finished_at.unwrap_or(o.created_at), v.now);
        if let Some(total) = o.total {
            h.raw(" · ").num(total);
        }
        if let Some(r) = &o.order_ref {
            h.raw(" · store order <span class=\"ref\">")
                .text(r)
                .raw("</span>");
        }
        if let Some(store) = &o.store {
            h.raw(" · at ").text(store);
        }
        if let Some(r) = o.requester.as_deref().filter(|r| !r.is_empty()) {
            h.raw(" · by ").text(r);
        }
        if went_wrong(o.status) {
            shot_link(h, p.screenshots, o);
        }
        h.raw("</small>");
        if let Some(m) = o.message.as_deref().filter(|_| o.status != Status::Placed) {
            h.raw("<br><small class=\"msg\">").text(m).raw("</small>");
        }
        h.raw("</span>");
        // The same rules as `restock retry` and `restock cancel`, which
        // refuse again if the row changed meanwhile.
        if o.status != Status::DryRun && o.status != Status::Placed && o.retry_refusal().is_none() {
            button(h, "retry", &o.id.to_string(), "Retry", "");
        }
        if o.status == Status::Pending {
            button(h, "cancel", &o.id.to_string(), "Cancel", "");
        }
        h.raw("</li>");
    }
    h.raw("</ul></form></section>");
}

fn session_label(state: SessionState) -> &'static str {
    match state {
        SessionState::SignedIn => "signed in",
        SessionState::SignedOut => "signed out",
        SessionState::Unknown => "unknown",
    }
}

fn stores(h: &mut Html, p: &Page) {
    let v = p.view;
    h.raw("<section id=\"stores\"><h2>Stores</h2>");
    if v.stores.is_empty() {
        h.raw("<p class=\"calm\">No store yet.</p></section>");
        return;
    }
    form_open(h, p.form_token);
    h.raw("<ul class=\"rows\">");
    for s in &v.stores {
        store_row(h, p, s);
    }
    h.raw("</ul></form></section>");
}

fn store_row(h: &mut Html, p: &Page, s: &StoreView) {
    let now = p.view.now;
    let state = s
        .session
        .as_ref()
        .map_or(SessionState::Unknown, |r| r.state);
    h.raw("<li class=\"row store\" data-store=\"")
        .text(&s.name)
        .raw("\" data-session=\"")
        .raw(state.as_str())
        .raw("\"><span class=\"grow\"><b>")
        .text(&s.name)
        .raw("</b><br><span class=\"badge x-")
        .raw(state.as_str())
        .raw("\">")
        .raw(session_label(state))
        .raw("</span> <small>");
    match &s.session {
        Some(r) => {
            h.raw("since ").time(r.since, now);
            if let (SessionState::SignedIn, Some(t)) = (r.state, r.expires_at) {
                h.raw(" · expires ").time(t, now);
            }
            match r.checked_at {
                Some(t) => h.raw(" · checked ").time(t, now),
                None => h.raw(" · never checked"),
            };
            if let Some(e) = &r.last_error {
                h.raw("<br><span class=\"msg\">last check: ")
                    .text(e)
                    .raw("</span>");
            }
        }
        None => {
            h.raw("never checked");
        }
    }
    if let Some(link) = &s.link {
        h.raw("<br>a sign-in page is ").text(link);
    }
    h.raw("</small></span>");
    if p.signin {
        button(h, "signin", &s.name, "Sign in", "");
    }
    h.raw("</li>");
}

fn engine(h: &mut Html, p: &Page) {
    let v = p.view;
    h.raw("<section id=\"engine\"><h2>Engine</h2><ul class=\"rows\">")
        .raw("<li class=\"row\"><span class=\"grow\">Loop: ");
    match v.silent_ms {
        Some(silent) => {
            h.raw("turned <time id=\"turned\" data-t=\"")
                .num(v.now - silent)
                .raw("\">")
                .num(Span(silent))
                .raw(" ago</time> (turn <span id=\"turns\">")
                .num(v.turns)
                .raw("</span>)");
        }
        None => {
            h.raw("not started yet");
        }
    }
    let stalled = v.silent_ms.is_none_or(|s| s > v.stall_after_ms);
    h.raw("</span><span class=\"badge ")
        .raw(if stalled { "bad" } else { "good" })
        .raw("\">")
        .raw(if stalled { "stalled" } else { "alive" })
        .raw("</span></li>");
    h.raw("<li class=\"row\"><span class=\"grow\">Mode: ")
        .raw(if v.dry_run {
            "dry run: every buy stops before Place Order"
        } else {
            "buying for real"
        })
        .raw("</span></li>");
    for m in &v.monitors {
        monitor_row(h, v.now, m);
    }
    if v.monitors.is_empty() {
        h.raw("<li class=\"row\"><span class=\"grow\"><small>No heartbeat monitor configured (RESTOCK_HEARTBEAT_URL).</small></span></li>");
    }
    h.raw("</ul></section>");
}

fn monitor_row(h: &mut Html, now: i64, m: &MonitorState) {
    h.raw("<li class=\"row monitor\"><span class=\"grow\">")
        .raw(if m.role == Role::OrderCheck {
            "Order check "
        } else {
            "Heartbeat "
        })
        .raw("<span class=\"label\">")
        .text(&m.label)
        .raw("</span><br><small>");
    match m.last_sent {
        Some(t) => h.raw("sent ").time(t, now),
        None => h.raw("never sent"),
    };
    if let Some(t) = m.last_ack {
        h.raw(" · acknowledged ").time(t, now);
    }
    if m.failures > 0 {
        h.raw("<br><span class=\"msg\">failing (")
            .num(m.failures)
            .raw(" in a row): ")
            .text(m.last_error.as_deref().unwrap_or("unknown error"))
            .raw("</span>");
    }
    h.raw("</small></span><span class=\"badge ")
        .raw(if m.failures > 0 { "bad" } else { "good" })
        .raw("\">")
        .raw(if m.failures > 0 { "failing" } else { "ok" })
        .raw("</span></li>");
}

fn footer(h: &mut Html, p: &Page) {
    h.raw("<footer><a href=\"health\">health</a> · <a href=\"events\">events</a>");
    if p.session {
        h.raw(" · ");
        form_open(h, p.form_token);
        button(h, "signout", "", "Sign out", "link");
        h.raw("</form>");
    }
    h.raw("</footer>");
}

/// The page that asks for the token; `message` says why again.
pub fn sign_in(message: Option<&str>, ttl: std::time::Duration) -> String {
    let mut h = Html::with_capacity(2048);
    head(&mut h, "restock: sign in", " data-page=\"signin\"", false);
    h.raw("<main class=\"narrow\"><section><h1>restock</h1><p>Enter the intake token (<code>RESTOCK_INTAKE_TOKEN</code>) once; this browser then stays signed in for ")
        .num(Span(ttl.as_millis() as i64))
        .raw(".</p>");
    if let Some(m) = message {
        h.raw("<p class=\"notice err\" id=\"notice\" role=\"alert\">")
            .text(m)
            .raw("</p>");
    }
    h.raw("<form method=\"post\" action=\"session\" class=\"signin\"><label for=\"token\">Token</label>")
        .raw("<input type=\"password\" id=\"token\" name=\"token\" autocomplete=\"current-password\" required autofocus>")
        .raw("<button class=\"primary\">Sign in</button></form></section></main></body></html>");
    h.into_string()
}

/// A page that only says something (a refusal).
pub fn message(title: &str, text: &str) -> String {
    let mut h = Html::with_capacity(1024);
    head(&mut h, title, " data-page=\"message\"", false);
    h.raw("<main class=\"narrow\"><section><h1>")
        .text(title)
        .raw("</h1><p id=\"notice\" class=\"notice err\">")
        .text(text)
        .raw("</p><p><a href=\"./\">Back to the page</a></p></section></main></body></html>");
    h.into_string()
}

/// Loads the page again from itself: a link from another site does not
/// carry a `SameSite=Strict` cookie, the page's own navigation does.
pub fn reload() -> String {
    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"0\"><title>restock</title></head><body></body></html>".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_markup_is_not() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(esc("Grüße, 8 rolls"), "Grüße, 8 rolls");
        let mut h = Html::with_capacity(0);
        h.time(1_000, 61_000).raw(" ").time(7_201_000, 1_000);
        assert_eq!(
            h.into_string(),
            "<time data-t=\"1000\">1m ago</time> <time data-t=\"7201000\">in 2h</time>"
        );
    }

    #[test]
    fn the_sign_in_page_asks_for_the_token_and_escapes_its_message() {
        let page = sign_in(
            Some("wrong <token>"),
            std::time::Duration::from_secs(30 * 86400),
        );
        assert!(page.contains("wrong &lt;token&gt;"));
        assert!(page.contains("type=\"password\""));
        assert!(page.contains("for 30d."));
        assert!(!page.contains("http://") && !page.contains("https://"));
    }
}
