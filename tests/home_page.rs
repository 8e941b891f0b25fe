//! The home page (`GET /`), end to end: a real server, a real SQLite file,
//! and a second headless Chromium looking at the page at a phone's width
//! (390 px) and a desktop's.
//!
//! In the browser: signing in with the token (a wrong one refused), a
//! Reorder followed live through queued, buying and done without a reload,
//! a paused engine with its reason and screenshot cleared by Resume, a
//! signed-out store's Sign in button opening the live sign-in page, 2,000
//! items filtered and grouped, and no sideways scrolling at 390 px, as the
//! page measures itself. Without a browser (as a client without script):
//! a wrong token, a missing or foreign form token, a form from another
//! site and screenshot paths outside the directory are refused and change
//! nothing; the session cookie's flags, its end when the token changes or
//! its lifetime passes; `GET /events`. Every browser test ends with
//! `assert_no_chromium`.
//!
//! `readme_screenshot_of_the_demo` takes the README's picture of the page
//! from the demo store with this Chromium; `RESTOCK_UPDATE_SCREENSHOT=1`
//! writes it to `docs/home-page.png`.

mod support;

use std::sync::Arc;
use std::time::Duration;

use restock::model::{
    parse_placed, HistoryRow, Money, OrderHistory, Outcome, Phase, Status, StoreZone, Verdict,
};
use restock::purchase::scripted::{Script, ScriptedFactory, Step};
use restock::purchase::Holder;
use restock::server::Running;
use serde_json::{json, Value};
use support::browser::{Viewer, DESKTOP, PHONE};
use support::chromium::assert_no_chromium;
use support::db::dump;
use support::env::{repo_file, Env};
use support::intake::*;
use support::wait::*;
use tokio::sync::Notify;

const TOKEN: &str = "t0ken-for-the-household";

/// What a failed wait prints about the page.
const DESCRIBE: &str = "(document.getElementById('notice') ? 'notice: ' + document.getElementById('notice').textContent + '; ' : '') + document.body.innerText.slice(0, 600)";

/// Three items with names; one name and one id long enough to wrap on a
/// phone; each bought at `demo`, then `backup`.
fn catalog() -> String {
    let mut out = String::new();
    for (id, name) in [
        ("soap", "Dish soap, lemon, 500 ml"),
        ("tea", "Black tea, 100 bags"),
        (
            "paper-towels-extra-absorbent-family-value-pack-sixteen-rolls",
            "Paper towels, extra absorbent, 16 rolls, the family value pack with the long name",
        ),
    ] {
        out.push_str(&format!("[[item]]\nid = \"{id}\"\nname = \"{name}\"\n"));
        for store in ["demo", "backup"] {
            out.push_str(&format!(
                "[[item.source]]\nstore = \"{store}\"\nurl = \"http://127.0.0.1:9/{store}/{id}\"\n"
            ));
        }
    }
    out
}

/// The page of [`catalog`] with the token [`TOKEN`], served in-process by
/// a purchaser that places every order for `total`.
async fn serving_with_the_token(total: Money) -> (Env, Running) {
    let mut env = Env::with_catalog(&catalog());
    env.config.intake_token = Some(TOKEN.into());
    let running = env.start(ScriptedFactory::new(Script::placed(total))).await;
    (env, running)
}

/// A buy that walks every phase, waiting at `browsing` until `gate` opens.
fn held(gate: &Arc<Notify>) -> Script {
    Script {
        steps: vec![
            Step::Enter(Phase::Browsing),
            Step::Progress,
            Step::WaitFor(gate.clone()),
            Step::Enter(Phase::Cart),
            Step::Progress,
            Step::Approve(Money(329)),
            Step::Enter(Phase::Submitted),
            Step::Progress,
        ],
        outcome: Outcome::new(Status::Placed)
            .total(Money(329))
            .order_ref("S-1"),
    }
}

/// Waits until `js` is true on the page; a failure says what the page
/// shows ([`DESCRIBE`]).
async fn wait(viewer: &Viewer, what: &str, js: &str) {
    viewer.wait_for(what, js, DESCRIBE).await;
}

/// Waits until the page follows the engine's events live.
async fn wait_live(viewer: &Viewer) {
    wait(
        viewer,
        "the event stream",
        "document.body.getAttribute('data-live') === '1'",
    )
    .await;
}

/// Waits until the page's notice includes `needle`; the notice then.
async fn notice_with(viewer: &Viewer, what: &str, needle: &str) -> String {
    let js = format!(
        "!!document.getElementById('notice') && document.getElementById('notice').textContent.includes({})",
        serde_json::to_string(needle).unwrap()
    );
    wait(viewer, what, &js).await;
    notice(viewer).await
}

/// The page's notice.
async fn notice(viewer: &Viewer) -> String {
    viewer
        .eval("document.getElementById('notice').textContent")
        .await
}

fn row(item: &str) -> String {
    format!("document.querySelector('[data-item=\"{item}\"]')")
}

async fn no_sideways_scrolling(viewer: &Viewer, when: &str) {
    let (sideways, scroll, client) = viewer.scrolls_sideways().await;
    assert!(
        !sideways,
        "{when}: the page is {scroll} px wide in a {client} px viewport"
    );
}

/// Signs in through the page's form: a wrong token first (refused, said
/// so), then the right one.
async fn sign_in_in_the_browser(viewer: &Viewer, home: &str) {
    viewer.goto(home).await;
    let page: Option<String> = viewer.eval("document.body.getAttribute('data-page')").await;
    assert_eq!(
        page.as_deref(),
        Some("signin"),
        "the page asks for the token"
    );
    no_sideways_scrolling(viewer, "the sign-in page").await;
    viewer.type_into("#token", "not-the-token").await;
    viewer.enter("#token").await;
    notice_with(viewer, "the wrong token to be refused", "wrong token").await;
    viewer.type_into("#token", TOKEN).await;
    viewer.enter("#token").await;
    wait(
        viewer,
        "the page after signing in",
        "!document.body.getAttribute('data-page') && !!document.getElementById('items')",
    )
    .await;
    let cookies: String = viewer.eval("document.cookie").await;
    assert!(
        !cookies.contains("restock_home"),
        "the session cookie is HttpOnly: {cookies}"
    );
}

async fn reorder_goes_queued_buying_done_live(size: (i64, i64)) {
    let mut env = Env::with_catalog(&catalog());
    env.config.intake_token = Some(TOKEN.into());
    env.config.dry_run = false;
    let factory = ScriptedFactory::new(Script::placed(Money(329)));
    let (tea_gate, soap_gate) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    factory.push("demo", held(&tea_gate));
    factory.push("demo", held(&soap_gate));
    let running = env.start(factory).await;
    let mut events = running.handle.subscribe();
    let home = url(&running, "/");
    let viewer = Viewer::launch(&env.path().join("viewer"), size).await;

    sign_in_in_the_browser(&viewer, &home).await;
    wait_live(&viewer).await;
    no_sideways_scrolling(&viewer, "the signed-in page").await;
    let _: bool = viewer.eval("window.sameDocument = true").await;

    // Tea is being bought (held at browsing): the engine is busy, so the
    // soap the page asks for waits in the queue.
    let tea = reorder_with_token(running.addr, "tea", Some(TOKEN)).await;
    event(
        &mut events,
        "tea to be browsing",
        |e| matches!(e, restock::engine::Event::Phase { id, phase: Phase::Browsing } if *id == tea),
    )
    .await;
    let tea_row = row("tea");
    wait(
        &viewer,
        "tea being bought",
        &format!("{tea_row}.getAttribute('data-state') === 'buying'"),
    )
    .await;
    viewer.click("[data-item=\"soap\"] button").await;
    let soap = row("soap");
    wait(&viewer, "soap queued", &format!("{soap}.getAttribute('data-state') === 'queued' && document.getElementById('notice').textContent.startsWith('queued order')")).await;
    tea_gate.notify_one();
    wait(
        &viewer,
        "soap being bought",
        &format!("{soap}.getAttribute('data-state') === 'buying'"),
    )
    .await;
    soap_gate.notify_one();
    wait(&viewer, "soap done", &format!("{soap}.getAttribute('data-last') === 'placed' && {soap}.getAttribute('data-state') === 'debounced'")).await;
    let same: bool = viewer.eval("window.sameDocument === true").await;
    assert!(same, "followed live, without reloading the page");
    let soap_order = running
        .db
        .recent(None, 10)
        .await
        .unwrap()
        .into_iter()
        .find(|o| o.item == "soap")
        .unwrap();
    assert_eq!(soap_order.status, Status::Placed);
    assert_eq!(soap_order.requester.as_deref(), Some("home page"));
    let listed: String = viewer
        .eval(&format!(
            "document.querySelector('#orders [data-order=\"{}\"][data-status=\"placed\"]').textContent",
            soap_order.id
        ))
        .await;
    assert!(
        listed.contains("S-1") && listed.contains("3.29"),
        "{listed}"
    );

    // The same button again: the API's refusal, on the page.
    viewer.click("[data-item=\"soap\"] button").await;
    wait(
        &viewer,
        "the debounce refusal",
        "document.getElementById('notice').textContent.includes('not queued')",
    )
    .await;
    no_sideways_scrolling(&viewer, "after the buys").await;

    viewer.end(running, env.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_phone_the_token_signs_in_and_a_reorder_goes_queued_buying_done_live() {
    reorder_goes_queued_buying_done_live(PHONE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_desktop_the_token_signs_in_and_a_reorder_goes_queued_buying_done_live() {
    reorder_goes_queued_buying_done_live(DESKTOP).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_engine_shows_its_reason_and_screenshot_and_resume_clears_it() {
    let env = Env::with_catalog(&catalog());
    let viewer = Viewer::launch(&env.path().join("viewer"), PHONE).await;
    // A real PNG, as a buy saves one: this browser's picture of a page.
    viewer
        .goto("data:text/html,<h1 style='color:red'>Verify you are human</h1>")
        .await;
    let shots = env.config.screenshots_dir();
    std::fs::create_dir_all(&shots).unwrap();
    let shot = shots.join("order-1-1764675720000-challenge.png");
    std::fs::write(&shot, viewer.screenshot().await).unwrap();
    let factory = ScriptedFactory::new(Script::placed(Money(329)));
    factory.push(
        "demo",
        Script::ends(
            Outcome::new(Status::Challenge)
                .message("the store showed a bot check <script>alert(1)</script>")
                .screenshot(shot.clone()),
        ),
    );
    let running = env.start(factory).await;
    let mut events = running.handle.subscribe();
    let id = reorder(running.addr, "soap").await;
    assert_eq!(settled(&mut events, id).await, Status::Challenge);
    let pause = running.db.paused().await.unwrap().expect("paused");

    viewer.goto(&url(&running, "/")).await;
    let reason: String = viewer
        .eval("document.querySelector('#pause .reason').textContent")
        .await;
    assert_eq!(reason, pause.reason);
    let scripts: i64 = viewer
        .eval("document.querySelectorAll('main script').length")
        .await;
    assert_eq!(scripts, 0, "the message is text, not markup");
    wait(&viewer, "the order's screenshot", "(() => { const i = document.querySelector('#pause img'); return !!i && i.complete && i.naturalWidth > 100; })()").await;
    let title: String = viewer.eval("document.title").await;
    assert_eq!(title, "(1) restock", "the tab says something needs you");
    assert!(
        viewer
            .eval::<bool>(&format!(
                "!!document.querySelector('#orders [data-order=\"{id}\"] button[value=\"retry:{id}\"]')"
            ))
            .await,
        "a challenge can be retried"
    );
    no_sideways_scrolling(&viewer, "a paused engine").await;
    wait_live(&viewer).await;

    viewer.click("#pause button[value=\"resume:\"]").await;
    wait(
        &viewer,
        "the pause to clear",
        "!document.getElementById('pause') && document.body.getAttribute('data-paused') === '0'",
    )
    .await;
    let notice = notice(&viewer).await;
    assert!(notice.starts_with("resumed (was paused: "), "{notice}");
    assert!(running.db.paused().await.unwrap().is_none());
    let calm: String = viewer
        .eval("document.querySelector('#attention').textContent")
        .await;
    assert!(calm.contains("Nothing needs you"), "{calm}");

    viewer.end(running, env.path()).await;
}

/// A buy that got through Place Order and never saw a confirmation.
fn unconfirmed(total: Money) -> Script {
    Script {
        steps: vec![
            Step::Enter(Phase::Browsing),
            Step::Enter(Phase::Cart),
            Step::Approve(total),
            Step::Enter(Phase::Submitted),
        ],
        outcome: Outcome::new(Status::NeedsReview).message("no confirmation"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_is_refused_while_the_profile_is_in_use_then_finds_the_order_and_lifts_its_pause() {
    let mut env = Env::with_catalog(&catalog());
    env.config.dry_run = false;
    // The engine's own first look comes after 4 minutes: every look here
    // is the button's.
    env.config.verify_window = Duration::from_secs(3600);
    let total = Money(1298);
    let factory = ScriptedFactory::new(Script::placed(total));
    factory.push("demo", unconfirmed(total));
    let now = chrono::Utc::now().to_rfc3339();
    factory.set_history(
        "demo",
        OrderHistory::Read(vec![HistoryRow {
            order_id: Some("S-42".into()),
            placed: parse_placed(&now, None, StoreZone::Utc),
            date_text: Some(now),
            total_text: Some(total.to_string()),
            items_text: None,
            total: Some(total),
        }]),
    );
    let running = env.start(factory.clone()).await;
    let mut events = running.handle.subscribe();
    let id = reorder(running.addr, "soap").await;
    assert_eq!(settled(&mut events, id).await, Status::NeedsReview);
    assert_eq!(
        running.db.paused().await.unwrap().unwrap().order_id,
        Some(id)
    );

    let viewer = Viewer::launch(&env.path().join("viewer"), PHONE).await;
    viewer.goto(&url(&running, "/")).await;
    // The pause is this order's: its card carries the Verify button.
    let verify = format!("#pause button[value=\"verify:{id}\"]");
    assert!(
        viewer
            .eval::<bool>(&format!("!!document.querySelector('{verify}')"))
            .await,
        "the paused order in needs_review has a Verify button"
    );

    // A live sign-in holds the store's profile: refused at once, nothing
    // read, nothing recorded.
    let live = running.holds.try_hold("demo", Holder::Live).unwrap();
    viewer.click(&verify).await;
    let notice = notice_with(&viewer, "the refusal", "is using the store").await;
    assert!(
        notice.contains("a live sign-in session is using the store's profile"),
        "{notice}"
    );
    assert_eq!(factory.history_reads(), 0, "no browser on a held profile");
    let order = running.db.get(id).await.unwrap().unwrap();
    assert_eq!(order.status, Status::NeedsReview);
    drop(live);

    viewer.click(&verify).await;
    let notice = notice_with(&viewer, "the order found", "now placed").await;
    assert!(
        notice.contains("in the order history as S-42")
            && notice.contains("the pause it caused is lifted"),
        "{notice}"
    );
    let order = running.db.get(id).await.unwrap().unwrap();
    assert_eq!(
        (order.status, order.order_ref.as_deref()),
        (Status::Placed, Some("S-42"))
    );
    assert_eq!(
        support::wait::verdict(&mut events, id).await.0,
        Verdict::Placed,
        "the engine's event tells the owner"
    );
    assert!(running.db.paused().await.unwrap().is_none());
    assert_eq!(factory.history_reads(), 1);
    wait(
        &viewer,
        "nothing left that needs you",
        "document.querySelector('#attention').textContent.includes('Nothing needs you')",
    )
    .await;
    no_sideways_scrolling(&viewer, "after a verification").await;

    viewer.end(running, env.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_out_stores_sign_in_button_opens_the_live_sign_in_page() {
    let (demo, env) = support::demo::soap_env().await;
    let running = env.start_browser().await;
    running.db.note_signed_out_by_buy("demo").await.unwrap();
    let viewer = Viewer::launch(&env.path().join("viewer"), PHONE).await;
    let home = url(&running, "/");
    viewer.goto(&home).await;
    let state: String = viewer
        .eval(
            "document.querySelector('#stores [data-store=\"demo\"]').getAttribute('data-session')",
        )
        .await;
    assert_eq!(state, "signed_out");
    no_sideways_scrolling(&viewer, "a signed-out store").await;

    viewer
        .click("#attention [data-store=\"demo\"] button[value=\"signin:demo\"]")
        .await;
    viewer
        .wait_for(
            "the live sign-in page with frames",
            "location.pathname.startsWith('/signin/') && !!document.getElementById('screen') && Number(document.getElementById('screen').getAttribute('data-frames')) > 0",
            "location.href + ' ' + document.body.innerText.slice(0, 300)",
        )
        .await;
    let status = json_of(no_redirects().get(url(&running, "/stores/demo/login"))).await;
    assert_eq!(status["state"], "live", "{status}");

    // Back to the home page: the live page's browser closes.
    viewer.goto(&home).await;
    assert_no_chromium(&env.config.profiles_dir()).await;
    viewer.end(running, env.path()).await;
    demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_items_are_grouped_by_state_and_filtered_on_a_phone() {
    let mut text = String::new();
    for i in 0..2000 {
        text.push_str(&format!(
            "[[item]]\nid = \"item-{i:04}\"\nname = \"Household staple number {i}, in the big family size <b>&</b>\"\n\
             [[item.source]]\nstore = \"demo\"\nurl = \"http://127.0.0.1:9/p/{i}\"\n"
        ));
    }
    let env = Env::with_catalog(&text);
    let running = env
        .start(ScriptedFactory::new(Script::placed(Money(100))))
        .await;
    let mut events = running.handle.subscribe();
    for item in ["item-0007", "item-0042"] {
        let id = reorder(running.addr, item).await;
        settled(&mut events, id).await;
    }
    // Without script every item is on the page, and the filter box hidden.
    let page = home(running.addr, None).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.body.matches("class=\"row item\"").count(), 2000);
    assert!(page.body.contains("id=\"filter\" placeholder=\"Filter items\" aria-label=\"Filter items\" autocomplete=\"off\" hidden"));
    assert!(
        page.body.contains("&lt;b&gt;&amp;&lt;/b&gt;"),
        "names are escaped"
    );

    let viewer = Viewer::launch(&env.path().join("viewer"), PHONE).await;
    viewer.goto(&url(&running, "/")).await;
    let groups: Vec<(String, String)> = viewer
        .eval("Array.from(document.querySelectorAll('#items details.group'), (g) => [g.getAttribute('data-group'), g.querySelector('.count').textContent])")
        .await;
    assert_eq!(
        groups,
        vec![
            ("ready".to_string(), "1998".to_string()),
            ("debounced".to_string(), "2".to_string())
        ]
    );
    let bold: i64 = viewer
        .eval("document.querySelectorAll('#items b b').length")
        .await;
    assert_eq!(bold, 0, "a name's markup is text");
    no_sideways_scrolling(&viewer, "2,000 items").await;

    let visible = "document.querySelectorAll('#items li.item:not([hidden])').length";
    viewer.type_into("#filter", "item-0042").await;
    wait(
        &viewer,
        "one match",
        &format!("{visible} === 1 && !document.querySelector('[data-item=\"item-0042\"]').hidden"),
    )
    .await;
    let shown: Vec<String> = viewer
        .eval("Array.from(document.querySelectorAll('#items details.group:not([hidden])'), (g) => g.getAttribute('data-group'))")
        .await;
    assert_eq!(shown, vec!["debounced"], "empty groups hide");
    viewer.type_into("#filter", "-nothing").await;
    wait(
        &viewer,
        "no match",
        &format!("{visible} === 0 && !document.getElementById('no-match').hidden"),
    )
    .await;
    viewer.resize(DESKTOP).await;
    no_sideways_scrolling(&viewer, "2,000 items on a desktop").await;

    viewer.end(running, env.path()).await;
}

/// The refusals, as a client without script meets them; none changes the
/// database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_tokens_missing_form_tokens_and_screenshot_paths_outside_the_directory_are_refused() {
    let (env, running) = serving_with_the_token(Money(1)).await;
    let addr = running.addr;

    // No session: the page asks for the token; a link from another site
    // gets a page that loads itself again (with the Strict cookie).
    let a = home(addr, None).await;
    assert_eq!(a.status, 401);
    assert!(a.body.contains("name=\"token\"") && !a.body.contains("data-item"));
    let a = Answer::of(
        no_redirects()
            .get(url(&running, "/"))
            .header("sec-fetch-site", "cross-site"),
    )
    .await;
    assert_eq!(a.status, 200);
    assert!(a.body.contains("http-equiv=\"refresh\"") && !a.body.contains("data-item"));

    // A wrong token: refused, no cookie.
    for wrong in ["wrong", "", &format!("{TOKEN}x")] {
        let a = Answer::of(
            no_redirects()
                .post(url(&running, "/session"))
                .form(&[("token", wrong)]),
        )
        .await;
        assert_eq!(a.status, 401, "{wrong}: {a:?}");
        assert!(a.cookie("restock_home").is_none());
    }
    let a = Answer::of(
        no_redirects()
            .post(url(&running, "/session"))
            .header("origin", "http://evil.example")
            .form(&[("token", TOKEN)]),
    )
    .await;
    assert_eq!(a.status, 403, "a sign-in form from another site");
    let a = Answer::of(no_redirects().get(url(&running, "/")).bearer_auth("wrong")).await;
    assert_eq!(a.status, 401);

    // The right token: an HttpOnly, SameSite=Strict, expiring cookie.
    let a = Answer::of(
        no_redirects()
            .post(url(&running, "/session"))
            .form(&[("token", TOKEN)]),
    )
    .await;
    assert_eq!((a.status, a.location.as_deref()), (303, Some("./")));
    let set = a
        .cookies
        .iter()
        .find(|c| c.starts_with("restock_home="))
        .unwrap();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=2592000"] {
        assert!(set.contains(flag), "{flag} in {set}");
    }
    assert!(!set.contains(TOKEN), "the cookie is not the token");
    let cookie = a.cookie("restock_home").unwrap();
    let page = home(addr, Some(&cookie)).await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains(TOKEN), "the token is never rendered");
    let csrf = form_token(&page.body);
    let other = home_sign_in(addr, TOKEN).await;
    let other_csrf = form_token(&home(addr, Some(&other)).await.body);
    assert_ne!(csrf, other_csrf, "form tokens are per session");

    // Forms without this session's form token, or from another site, or
    // without a session: refused, nothing changes.
    let before = dump(&env.db());
    for (cookie, token) in [
        (Some(cookie.as_str()), None),
        (Some(cookie.as_str()), Some("")),
        (
            Some(cookie.as_str()),
            Some("00112233445566778899aabbccddeeff"),
        ),
        (Some(cookie.as_str()), Some(other_csrf.as_str())),
        (None, Some(csrf.as_str())),
    ] {
        let a = home_act(addr, cookie, token, "reorder:soap").await;
        assert!(matches!(a.status, 401 | 403), "{cookie:?} {token:?}: {a:?}");
        assert!(a.location.is_none());
    }
    let a = Answer::of(
        no_redirects()
            .post(url(&running, "/"))
            .header("cookie", &cookie)
            .header("origin", "http://evil.example")
            .form(&[("act", "reorder:soap"), ("csrf", csrf.as_str())]),
    )
    .await;
    assert_eq!(a.status, 403, "a form from another site: {a:?}");
    let a = home_post_json(addr, &cookie, &[("act", "reorder:soap")]).await;
    assert_eq!(a.status, 403);
    let said: Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(said["ok"], false);
    assert!(
        said["message"].as_str().unwrap().contains("form token"),
        "{said}"
    );
    assert_eq!(dump(&env.db()), before, "nothing changed");

    // With it: done, and the page says so once.
    let a = home_act(addr, Some(&cookie), Some(&csrf), "reorder:soap").await;
    assert_eq!(
        (a.status, a.location.as_deref()),
        (303, Some("./")),
        "{a:?}"
    );
    let notice = a.cookie("restock_notice").unwrap();
    let page = home(addr, Some(&format!("{cookie}; {notice}"))).await;
    assert!(
        page.body.contains("class=\"notice ok\">queued order"),
        "{}",
        page.body
    );
    // The API's refusals, in the API's words.
    let a = home_act(addr, Some(&cookie), Some(&csrf), "reorder:nothing").await;
    let page = home(
        addr,
        Some(&format!(
            "{cookie}; {}",
            a.cookie("restock_notice").unwrap()
        )),
    )
    .await;
    assert!(
        page.body.contains("unknown item `nothing`"),
        "{}",
        page.body
    );
    let placed = running.db.recent(None, 1).await.unwrap()[0].clone();
    let a = home_post_json(addr, &cookie, &[("act", "retry:999"), ("csrf", &csrf)]).await;
    assert_eq!(a.status, 404, "{a:?}");
    let cancel = format!("cancel:{}", placed.id);
    let a = home_post_json(addr, &cookie, &[("act", &cancel), ("csrf", &csrf)]).await;
    assert!(matches!(a.status, 200 | 409), "{a:?}");
    let a = home_post_json(addr, &cookie, &[("act", "verify:1"), ("csrf", &csrf)]).await;
    assert_eq!(
        a.status, 409,
        "only a needs_review order is verified: {a:?}"
    );
    assert!(
        a.body.contains("only a needs_review order is verified"),
        "{a:?}"
    );

    // Screenshots: only to a session, only from the directory.
    let shots = env.config.screenshots_dir();
    std::fs::create_dir_all(&shots).unwrap();
    std::fs::write(shots.join("order-1-1-challenge.png"), b"\x89PNG fake").unwrap();
    std::fs::write(env.config.state_dir.join("secret.png"), b"secret").unwrap();
    std::os::unix::fs::symlink(
        env.config.state_dir.join("secret.png"),
        shots.join("link.png"),
    )
    .unwrap();
    std::os::unix::fs::symlink(env.db(), shots.join("db.png")).unwrap();
    let get = |path: &str, cookie: Option<&str>| {
        let mut req = no_redirects().get(format!("http://{addr}{path}"));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        Answer::of(req)
    };
    let a = get("/screenshots/order-1-1-challenge.png", None).await;
    assert_eq!(a.status, 401);
    let a = get("/screenshots/order-1-1-challenge.png", Some(&cookie)).await;
    assert_eq!(a.status, 200);
    for trick in [
        "/screenshots/..%2Fsecret.png",
        "/screenshots/%2e%2e%2fsecret.png",
        "/screenshots/..%2F..%2Fcatalog.toml",
        "/screenshots/link.png",
        "/screenshots/db.png",
        "/screenshots/.png",
        "/screenshots/%2Fetc%2Fpasswd",
        "/screenshots/restock.db",
    ] {
        let a = get(trick, Some(&cookie)).await;
        assert_eq!(a.status, 404, "{trick}: {a:?}");
        assert!(
            !a.body.contains("secret") && !a.body.contains("SQLite"),
            "{trick}"
        );
    }
    for raw in [
        "/screenshots/../secret.png",
        "/screenshots/../../catalog.toml",
        "/screenshots/./../secret.png",
    ] {
        let (status, body) = raw_get(addr, raw, &cookie).await;
        assert_ne!(status, 200, "{raw}: {body}");
        assert!(!body.contains("secret"), "{raw}");
    }

    // /events: the token rule.
    let a = Answer::of(no_redirects().get(url(&running, "/events"))).await;
    assert_eq!(a.status, 401);

    // A new token signs every browser out.
    let db_before = dump(&env.db());
    running.stop().await;
    let mut env2 = env;
    env2.config.intake_token = Some("a-new-token".into());
    let running = env2
        .start(ScriptedFactory::new(Script::placed(Money(1))))
        .await;
    let a = home(running.addr, Some(&cookie)).await;
    assert_eq!(a.status, 401);
    assert!(a.body.contains("sign in again"), "{}", a.body);
    let a = home_act(running.addr, Some(&cookie), Some(&csrf), "resume:").await;
    assert_eq!(a.status, 401);
    // A shorter lifetime ends longer sessions, and a new one ends on time.
    running.stop().await;
    env2.config.home_session_ttl = Duration::from_secs(2);
    let running = env2
        .start(ScriptedFactory::new(Script::placed(Money(1))))
        .await;
    let fresh = home_sign_in(running.addr, "a-new-token").await;
    assert_eq!(home(running.addr, Some(&fresh)).await.status, 200);
    let addr = running.addr;
    poll("the 2 s session to end", || {
        let fresh = fresh.clone();
        async move { (home(addr, Some(&fresh)).await.status == 401).then_some(()) }
    })
    .await;
    running.stop().await;
    assert_eq!(dump(&env2.db()), db_before, "refusals changed nothing");
}

/// A request sent as written (clients normalise `..` away).
async fn raw_get(addr: std::net::SocketAddr, path: &str, cookie: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    within("the raw answer", s.read_to_end(&mut out))
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_the_page_is_open_on_loopback_and_refuses_other_hosts() {
    let env = Env::with_catalog(&catalog());
    let running = env
        .start(ScriptedFactory::new(Script::placed(Money(1))))
        .await;
    let page = home(running.addr, None).await;
    assert_eq!(page.status, 200, "no sign-in without a token");
    assert!(!page.body.contains("Sign out"));
    let h = page.cookies.join(";");
    assert!(!h.contains("restock_home"), "{h}");
    let r = no_redirects().get(url(&running, "/")).send().await.unwrap();
    let headers = r.headers();
    let csp = headers["content-security-policy"].to_str().unwrap();
    for part in [
        "default-src 'none'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(part), "{part} in {csp}");
    }
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["cache-control"], "no-store");
    // A name rebound to 127.0.0.1 by another site gets nothing.
    let a = Answer::of(
        no_redirects()
            .get(url(&running, "/"))
            .header("host", "evil.example"),
    )
    .await;
    assert_eq!(a.status, 403, "{a:?}");
    assert!(!a.body.contains("data-item"));
    let a = Answer::of(
        no_redirects()
            .get(url(&running, "/"))
            .header("host", format!("localhost:{}", running.addr.port())),
    )
    .await;
    assert_eq!(a.status, 200);
    // Forms still need the page's form token.
    let before = dump(&env.db());
    let a = home_act(running.addr, None, None, "reorder:soap").await;
    assert_eq!(a.status, 403);
    assert_eq!(dump(&env.db()), before);
    let csrf = form_token(&page.body);
    let a = home_act(running.addr, None, Some(&csrf), "reorder:soap").await;
    assert_eq!(a.status, 303);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_stream_the_engines_events_to_any_client_with_the_token() {
    let (_env, running) = serving_with_the_token(Money(329)).await;
    let r = reqwest::Client::new()
        .get(url(&running, "/events"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let mut stream = SseReader {
        body: r,
        text: String::new(),
    };
    assert_eq!(stream.next().await["type"], "hello");
    let id = reorder_with_token(running.addr, "soap", Some(TOKEN)).await;
    let mut seen = Vec::new();
    loop {
        let e = stream.next().await;
        if e["id"] == json!(id) {
            seen.push(e.clone());
        }
        if e["type"] == "settled" && e["id"] == json!(id) {
            break;
        }
    }
    let kinds: Vec<&str> = seen.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["queued", "claimed", "phase", "phase", "settled"],
        "{seen:?}"
    );
    assert_eq!(seen[0]["item"], "soap");
    assert_eq!(seen[2]["phase"], "browsing");
    assert_eq!(seen[4]["status"], "dry_run");
    running.stop().await;
}

/// Reads server-sent events off a response body.
struct SseReader {
    body: reqwest::Response,
    text: String,
}

impl SseReader {
    /// The next event's data; its `event:` name must be its `type`.
    async fn next(&mut self) -> Value {
        loop {
            if let Some(end) = self.text.find("\n\n") {
                let block: String = self.text.drain(..end + 2).collect();
                if let Some(data) = block.lines().find_map(|l| l.strip_prefix("data: ")) {
                    let v: Value = serde_json::from_str(data).unwrap();
                    let kind = block
                        .lines()
                        .find_map(|l| l.strip_prefix("event: "))
                        .unwrap();
                    assert_eq!(v["type"], kind, "the event's name is its type");
                    return v;
                }
                continue;
            }
            let chunk = within("an event", self.body.chunk())
                .await
                .unwrap()
                .expect("the stream goes on");
            self.text.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

/// The README's picture: the demo store, a real order placed through it,
/// then a bot check that pauses the engine with the store's screenshot, as
/// a phone shows the page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_screenshot_of_the_demo() {
    let readme = repo_file("README.md");
    assert!(
        readme.contains("](docs/home-page.png)"),
        "the README shows docs/home-page.png"
    );
    let demo = support::demo::store().await;
    let mut env = Env::new(&[]);
    env.use_demo(&demo.base_url(), &[]);
    std::fs::write(&env.config.catalog, household_catalog(&demo.base_url())).unwrap();
    env.sign_in_demo().await;
    let monitor = support::receivers::Receiver::spawn().await;
    env.config.heartbeat_url =
        support::env::monitor_urls(&[monitor.url("/ping/5b3c9a1e-2f4d-4c6b-9e8a-7d1f0c2ba1b2")]);
    let running = env.start_browser().await;
    running.db.mark_signed_in("demo").await.unwrap();
    let mut events = running.handle.subscribe();
    let id = reorder(running.addr, "paper-towels").await;
    assert_eq!(settled(&mut events, id).await, Status::Placed);
    support::demo::fault(&demo, json!({"challenge": true})).await;
    let id = reorder(running.addr, "dish-soap").await;
    assert_eq!(settled(&mut events, id).await, Status::Challenge);

    let viewer = Viewer::launch(&env.path().join("viewer"), PHONE).await;
    viewer.goto(&url(&running, "/")).await;
    wait(&viewer, "the page, live, with the store's screenshot", "document.body.getAttribute('data-live') === '1' && (() => { const i = document.querySelector('#pause img'); return !!i && i.complete && i.naturalWidth > 0; })()").await;
    no_sideways_scrolling(&viewer, "the demo").await;
    let png = viewer.screenshot().await;
    assert!(png.starts_with(b"\x89PNG"));
    std::fs::write(env.path().join("home-page.png"), &png).unwrap();
    if std::env::var_os("RESTOCK_UPDATE_SCREENSHOT").is_some() {
        let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::write(docs.join("home-page.png"), &png).unwrap();
    }
    let kept =
        std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/home-page.png"))
            .expect("docs/home-page.png: run this test with RESTOCK_UPDATE_SCREENSHOT=1");
    assert!(kept.starts_with(b"\x89PNG"));

    viewer.end(running, env.path()).await;
    demo.shutdown().await;
}

/// The demo store's five staples, named as a household names them.
fn household_catalog(base: &str) -> String {
    let mut out = String::new();
    for (id, name) in [
        ("paper-towels", "Paper towels, 8 rolls"),
        ("dish-soap", "Dish soap, 750 ml"),
        ("coffee-beans", "Coffee beans, 1 kg"),
        ("toilet-paper", "Toilet paper, 24 rolls"),
        ("laundry-pods", "Laundry pods, 40"),
    ] {
        out.push_str(&format!(
            "[[item]]\nid = \"{id}\"\nname = \"{name}\"\n[[item.source]]\nstore = \"demo\"\nurl = \"{base}/product/{id}\"\n"
        ));
    }
    out
}
