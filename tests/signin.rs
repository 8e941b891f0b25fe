//! Signing in from anywhere, end to end with real headless Chromium on
//! both sides: restock's live browser on the store profile, and a second
//! Chromium playing the owner's phone, which opens the one-time address,
//! reads frames, taps and types through the page.
//!
//! Also: refused links say why (unknown, used, expired, idle, replaced),
//! a live session keeps the engine and the probe off its profile, a bot
//! challenge is solved through the page (from the link in the pause
//! notification) and the order goes through after `resume`, cookie import
//! signs a profile in while a wrong or foreign file changes nothing, and
//! `serve` refuses an open address without a token. Every test that starts
//! a browser ends by proving no Chromium is left.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chromiumoxide::cdp::browser_protocol::emulation::SetDeviceMetricsOverrideParams;
use chromiumoxide::cdp::browser_protocol::input::{
    DispatchKeyEventParams, DispatchKeyEventType, DispatchTouchEventParams, DispatchTouchEventType,
    InsertTextParams, TouchPoint,
};
use chromiumoxide::layout::Point;
use restock::demo::{DemoStore, DEMO_EMAIL, DEMO_PASSWORD};
use restock::engine::Event;
use restock::model::SessionState;
use restock::model::Status;
use restock::purchase::scripted::ScriptedFactory;
use restock::purchase::Holder;
use restock::purchase::{factory, settings_from_config};
use restock::server::{Parts, Running};
use serde_json::{json, Value};
use support::browser::Viewer;
use support::chromium::*;
use support::demo::{fault, soap_env};
use support::env::*;
use support::intake::*;
use support::receivers::{free_addr, Receiver};
use support::wait::*;

/// The phone's screen, in CSS pixels.
const PHONE: (i64, i64) = (412, 800);

/// A second headless Chromium, emulating a phone with touch.
struct Phone {
    viewer: Viewer,
}

/// Where an element of the store's page is, in the tab's viewport.
#[derive(Debug, Clone, Copy)]
struct Spot {
    x: f64,
    y: f64,
}

impl Phone {
    async fn launch(dir: &Path) -> Phone {
        Phone {
            viewer: Viewer::launch(dir, PHONE).await,
        }
    }

    fn page(&self) -> &chromiumoxide::Page {
        self.viewer.page()
    }

    async fn be_a_phone(&self) {
        self.viewer.resize(PHONE).await;
    }

    async fn goto(&self, url: &str) {
        self.viewer.goto(url).await;
    }

    async fn eval<T: serde::de::DeserializeOwned>(&self, js: &str) -> T {
        self.viewer.eval(js).await
    }

    /// Polls `js` until it is true, failing with the page's status line.
    async fn wait_until(&self, what: &str, js: &str) {
        self.viewer
            .wait_for(
                what,
                js,
                "document.getElementById('status') ? document.getElementById('status').textContent : document.title",
            )
            .await;
    }

    async fn status(&self) -> (String, String) {
        self.eval("[document.body.getAttribute('data-state'), document.getElementById('status').textContent]")
            .await
    }

    /// Where `selectors` are on `url` when laid out as the live tab is: a
    /// desktop viewport of `width` x `height` (the live tab's size).
    async fn measure(&self, url: &str, width: i64, height: i64, selectors: &[&str]) -> Vec<Spot> {
        self.page()
            .execute(SetDeviceMetricsOverrideParams::new(
                width, height, 1.0, false,
            ))
            .await
            .unwrap();
        self.goto(url).await;
        let js = format!(
            "{}.map((s) => {{ const r = document.querySelector(s).getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; }})",
            serde_json::to_string(selectors).unwrap()
        );
        let spots: Vec<(f64, f64)> = self.eval(&js).await;
        self.be_a_phone().await;
        spots.into_iter().map(|(x, y)| Spot { x, y }).collect()
    }

    /// Opens the sign-in address and waits for the first frames.
    async fn open(&self, link: &str) -> (i64, i64) {
        self.goto(link).await;
        self.wait_until(
            "frames from the live tab",
            "Number(document.getElementById('screen').getAttribute('data-frames')) > 1",
        )
        .await;
        self.eval(
            "[Number(document.getElementById('screen').getAttribute('data-device-width')), \
              Number(document.getElementById('screen').getAttribute('data-device-height'))]",
        )
        .await
    }

    /// `spot` of the live tab, on the phone's screen.
    async fn on_screen(&self, spot: Spot, device_width: i64) -> (f64, f64) {
        let (left, top, width): (f64, f64, f64) = self
            .eval("(() => { const r = document.getElementById('screen').getBoundingClientRect(); return [r.left, r.top, r.width]; })()")
            .await;
        let zoom = width / device_width as f64;
        (left + spot.x * zoom, top + spot.y * zoom)
    }

    /// A finger tap on the phone's screen.
    async fn tap(&self, (x, y): (f64, f64)) {
        let page = self.page();
        page.execute(DispatchTouchEventParams::new(
            DispatchTouchEventType::TouchStart,
            vec![TouchPoint::new(x, y)],
        ))
        .await
        .unwrap();
        page.execute(restock::signin::input::TouchEvent {
            kind: DispatchTouchEventType::TouchEnd,
            touch_points: vec![],
        })
        .await
        .unwrap();
    }

    /// A mouse click (a laptop opening the link).
    async fn click(&self, (x, y): (f64, f64)) {
        self.page().click(Point { x, y }).await.unwrap();
    }

    /// A small scroll over the screen: input, which keeps a link alive.
    async fn nudge(&self) {
        use chromiumoxide::cdp::browser_protocol::input::{
            DispatchMouseEventParams, DispatchMouseEventType,
        };
        let (x, y): (f64, f64) = self
            .eval("(() => { const r = document.getElementById('screen').getBoundingClientRect(); return [r.left + 10, r.top + 10]; })()")
            .await;
        let mut wheel = DispatchMouseEventParams::new(DispatchMouseEventType::MouseWheel, x, y);
        wheel.delta_x = Some(0.0);
        wheel.delta_y = Some(1.0);
        self.page().execute(wheel).await.unwrap();
    }

    /// Typing, as a phone keyboard inserts text.
    async fn type_text(&self, text: &str) {
        self.page()
            .execute(InsertTextParams::new(text))
            .await
            .unwrap();
    }

    async fn press_enter(&self) {
        let mut down = DispatchKeyEventParams::new(DispatchKeyEventType::KeyDown);
        down.key = Some("Enter".into());
        down.code = Some("Enter".into());
        down.windows_virtual_key_code = Some(13);
        down.text = Some("\r".into());
        self.page().execute(down).await.unwrap();
        let mut up = DispatchKeyEventParams::new(DispatchKeyEventType::KeyUp);
        up.key = Some("Enter".into());
        up.code = Some("Enter".into());
        up.windows_virtual_key_code = Some(13);
        self.page().execute(up).await.unwrap();
    }

    /// Waits until the page's state is `state`.
    async fn wait_state(&self, what: &str, state: &str) {
        self.wait_until(
            what,
            &format!("document.body.getAttribute('data-state') === '{state}'"),
        )
        .await;
    }

    async fn close(self) {
        self.viewer.close().await;
    }

    /// Closes the phone, stops the server, and proves no Chromium is left
    /// under `dir`.
    async fn end(self, running: Running, dir: &Path) {
        self.viewer.end(running, dir).await;
    }
}

/// Where the demo store's email and password fields are on a tab as wide
/// as the phone (measured before the link is opened).
async fn signin_spots(phone: &Phone, demo: &DemoStore) -> Vec<Spot> {
    phone
        .measure(
            &format!("{}/signin", demo.base_url()),
            PHONE.0,
            700,
            &["#email", "#password"],
        )
        .await
}

/// The owner signs in to the demo store through the open page: taps the
/// email field and types, clicks the password field and types, and presses
/// Enter. Returns once the page says the profile is saved.
async fn sign_in_through_the_page(phone: &Phone, spots: &[Spot], dw: i64) {
    assert_eq!(
        dw, PHONE.0,
        "the live tab is laid out for the phone's width"
    );
    let email = phone.on_screen(spots[0], dw).await;
    let password = phone.on_screen(spots[1], dw).await;
    phone.tap(email).await;
    phone.type_text(DEMO_EMAIL).await;
    phone.click(password).await;
    phone.type_text(DEMO_PASSWORD).await;
    phone.press_enter().await;
    phone
        .wait_state("the page to say the profile is saved", "signed_in")
        .await;
    let (_, text) = phone.status().await;
    assert_eq!(text, "signed in: profile saved");
}

async fn mint(running: &Running, store: &str) -> (u16, Value) {
    post_json(
        &no_redirects(),
        &url(running, &format!("/stores/{store}/login")),
        json!({}),
    )
    .await
}

async fn link_state(running: &Running, store: &str) -> String {
    // The token of the test that sets one; ignored where none is set.
    let r = no_redirects()
        .get(url(running, &format!("/stores/{store}/login")))
        .bearer_auth("t0ken")
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    body["state"].as_str().expect("a state").to_string()
}

/// Waits until the store's link reaches `state`.
async fn until_state(running: &Running, store: &str, state: &str) {
    let reached = poll_within(PATIENCE, || async {
        (link_state(running, store).await == state).then_some(())
    })
    .await;
    if reached.is_none() {
        let now = link_state(running, store).await;
        panic!("link for {store} is `{now}`, waited for `{state}`");
    }
}

/// A server on `env` with the real browser purchaser that knows no list
/// of stores: the catalog's second store (`backup`) is not defined.
fn parts_for_any_store(env: &Env) -> Parts {
    let mut parts = env.browser_parts();
    parts.known_stores = None;
    parts
}

/// Fails unless the sign-in address `link` is refused as gone, saying
/// `why`.
async fn assert_link_gone(link: &str, why: &str) {
    let r = no_redirects().get(link).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 410);
    assert!(r.text().await.unwrap().contains(why));
}

/// Fails unless `link` is a sign-in address on `addr`.
fn assert_signin_link(link: &str, addr: impl std::fmt::Display) {
    assert!(
        link.starts_with(&format!("http://{addr}/signin/")),
        "{link}"
    );
}

async fn probe(env: &Env) -> SessionState {
    let settings = settings_from_config(&env.config).unwrap();
    factory(&settings, "demo")
        .unwrap()
        .check_session()
        .await
        .state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_signs_the_profile_in_through_the_live_page_while_the_engine_waits() {
    let (demo, env) = soap_env().await;
    let running = env.start_browser().await;
    let mut events = running.handle.subscribe();
    running.db.note_signed_out_by_buy("demo").await.unwrap();
    assert_eq!(probe(&env).await, SessionState::SignedOut);

    let (code, minted) = mint(&running, "demo").await;
    assert_eq!(code, 201, "{minted}");
    let link = minted["url"].as_str().unwrap().to_string();
    let token = link.rsplit('/').next().unwrap().to_string();
    assert_eq!(token.len(), 32, "128 bits as hex");
    assert_eq!(link_state(&running, "demo").await, "waiting");

    let phone = Phone::launch(&env.path().join("phone")).await;
    let spots = signin_spots(&phone, &demo).await;
    let (dw, _) = phone.open(&link).await;
    until_state(&running, "demo", "live").await;
    assert_eq!(running.holds.holder("demo"), Some(Holder::Live));
    let (state, text) = phone.status().await;
    assert_eq!((state.as_str(), text.as_str()), ("live", "sign in to demo"));

    // While the page holds the profile, an order waits instead of buying.
    let id = reorder(running.addr, "soap").await;
    event(
        &mut events,
        "the order to wait for the held store",
        |e| matches!(e, Event::Retrying { id: i, .. } if *i == id),
    )
    .await;
    let row = running.db.get(id).await.unwrap().unwrap();
    assert_eq!(row.status, Status::Pending);
    assert!(
        row.message
            .as_deref()
            .unwrap_or("")
            .contains("held by a live sign-in session"),
        "{row:?}"
    );
    assert!(demo.ledger().is_empty());
    // And a second link is refused while this page is open.
    let (code, body) = mint(&running, "demo").await;
    assert_eq!(code, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("open right now"));

    sign_in_through_the_page(&phone, &spots, dw).await;
    assert_eq!(link_state(&running, "demo").await, "signed_in");
    let row = running.db.session("demo").await.unwrap().unwrap();
    assert_eq!(
        row.state,
        SessionState::SignedIn,
        "the signed-out state cleared"
    );
    // The order that waited goes through now (before the probe below,
    // which would otherwise take the profile from under it).
    let status = settled(&mut events, id).await;
    assert_eq!(status, Status::Placed, "{:?}", running.db.get(id).await);
    assert_eq!(demo.ledger().len(), 1);
    assert_eq!(
        probe(&env).await,
        SessionState::SignedIn,
        "a fresh probe agrees"
    );

    // The address works once.
    assert_link_gone(&link, "already used").await;

    phone.end(running, env.path()).await;
    demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_browser_closes_on_disconnect_cancel_and_idle_expiry() {
    let (demo, mut env) = soap_env().await;
    env.config.signin_idle = Duration::from_secs(8);
    let running = env.start_browser().await;
    let profiles = env.config.profiles_dir();
    let phone = Phone::launch(&env.path().join("phone")).await;

    // Disconnect: the page goes away, its browser closes, the profile is
    // free; the link stays for this phone, which comes back to a new one.
    let (_, minted) = mint(&running, "demo").await;
    let link = minted["url"].as_str().unwrap().to_string();
    phone.open(&link).await;
    until_state(&running, "demo", "live").await;
    assert!(
        !chromium_under(&profiles).is_empty(),
        "the live browser runs"
    );
    phone.goto("about:blank").await;
    assert_no_chromium(&profiles).await;
    poll("the profile released", || {
        std::future::ready(running.holds.holder("demo").is_none().then_some(()))
    })
    .await;
    assert_eq!(link_state(&running, "demo").await, "open");
    phone.open(&link).await;
    phone.nudge().await;
    until_state(&running, "demo", "live").await;

    // Cancelled (DELETE, or `restock login` given up): the page says so and
    // the browser closes.
    let cancel = no_redirects().delete(url(&running, "/stores/demo/login"));
    assert_eq!(status_of(cancel).await, 200);
    phone
        .wait_state("the page to say it was cancelled", "cancelled")
        .await;
    assert_no_chromium(&profiles).await;

    // No input for the idle limit: "link expired", the browser closes.
    let (_, minted) = mint(&running, "demo").await;
    phone.open(minted["url"].as_str().unwrap()).await;
    phone
        .wait_state("the page to say the link expired", "idle")
        .await;
    let (_, text) = phone.status().await;
    assert!(
        text.contains("link expired after 8s without input"),
        "{text}"
    );
    assert_no_chromium(&profiles).await;
    assert_eq!(running.holds.holder("demo"), None);

    phone.end(running, env.path()).await;
    demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_login_remote_serves_its_own_page_when_no_server_runs() {
    let (demo, mut env) = soap_env().await;
    env.config.listen = free_addr();
    let mut login = env.command();
    login.args(["login", "demo"]).env_remove("DISPLAY"); // no DISPLAY: remote is the default
    let (child, lines, link) = start_login(login).await;
    assert_signin_link(&link, env.config.listen);
    assert!(lines
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("works once")));

    let phone = Phone::launch(&env.path().join("phone")).await;
    let spots = signin_spots(&phone, &demo).await;
    let (dw, _) = phone.open(&link).await;
    sign_in_through_the_page(&phone, &spots, dw).await;
    let (code, stderr) = wait_child(child).await;
    let stdout = lines.lock().unwrap().join("\n");
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("demo: signed in"), "{stdout}");
    assert_eq!(probe(&env).await, SessionState::SignedIn);
    phone.close().await;
    assert_no_chromium(env.path()).await;
    demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_login_remote_asks_the_running_server_and_ctrl_c_cancels_the_link() {
    let mut env = Env::new(&["soap"]);
    env.config.listen = free_addr();
    env.config.intake_token = Some("t0ken".into());
    let running = restock::server::start(&env.config, parts_for_any_store(&env))
        .await
        .unwrap();
    let mut login = env.command();
    login
        .args(["login", "demo", "--remote"])
        .env("RESTOCK_INTAKE_TOKEN", "t0ken");
    let (child, _, link) = start_login(login).await;
    assert_signin_link(&link, running.addr);
    assert_eq!(
        link_state(&running, "demo").await,
        "waiting",
        "the server made it"
    );
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let (code, out) = wait_child(child).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("cancelled"), "{out}");
    assert_eq!(link_state(&running, "demo").await, "cancelled");
    assert_link_gone(&link, "cancelled").await;
    running.stop().await;
    assert_no_chromium(env.path()).await;
}

/// Starts `restock login` (`cmd`, quiet but for warnings) with its output
/// piped and its stdout lines collected as they come; the sign-in address
/// it prints.
async fn start_login(mut cmd: Command) -> (Child, Arc<Mutex<Vec<String>>>, String) {
    let mut child = cmd
        .env("RESTOCK_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = read_lines(child.stdout.take().unwrap());
    let link = printed(&lines, "/signin/", "the printed address").await;
    (child, lines, link)
}

/// The first line the command printed that contains `needle`, trimmed.
async fn printed(lines: &Arc<Mutex<Vec<String>>>, needle: &str, what: &str) -> String {
    poll(what, || {
        std::future::ready(
            lines
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.contains(needle))
                .map(|l| l.trim().to_string()),
        )
    })
    .await
}

/// Collects the lines of a child's `output` as they come, to its end (a
/// pipe closed early would fail the child's next write).
fn read_lines(output: impl Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(output).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    lines
}

/// Waits for the child (bounded), returning its code and output.
async fn wait_child(mut child: Child) -> (Option<i32>, String) {
    let ended = poll_within(PATIENCE * 2, || {
        std::future::ready(child.try_wait().unwrap())
    })
    .await;
    let Some(status) = ended else {
        let _ = child.kill();
        panic!("the command did not end");
    };
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let mut out = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut out);
    }
    (status.code(), format!("{out}{err}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_challenge_is_solved_from_the_notifications_link_and_the_order_goes_through() {
    let (demo, mut env) = soap_env().await;
    env.config.listen = free_addr();
    env.config.public_url = Some(format!("http://{}", env.config.listen).parse().unwrap());
    let notes = Receiver::spawn().await;
    env.config.notify = vec![notes.hook().parse().unwrap()];
    env.sign_in_demo().await;
    fault(&demo, json!({"challenge": true})).await;
    let running = env.start_browser().await;
    let mut events = running.handle.subscribe();
    let id = reorder(running.addr, "soap").await;
    assert_eq!(settled(&mut events, id).await, Status::Challenge);

    // The pause notification carries a fresh one-time link.
    let note = notes
        .wait_until("the pause notification with a link", |all| {
            all.iter()
                .map(|r| r.json())
                .find(|n| n["event"] == "paused")
                .filter(|n| n["signin_url"].is_string())
        })
        .await;
    let link = note["signin_url"].as_str().unwrap().to_string();
    assert_signin_link(&link, env.config.listen);
    assert!(note["message"].as_str().unwrap().contains(&link));

    // The phone opens it where the buy stopped: the challenge; the owner
    // taps "Verify you are human".
    let phone = Phone::launch(&env.path().join("phone")).await;
    let button = phone
        .measure(
            &demo.product_url("dish-soap"),
            PHONE.0,
            700,
            &["#challenge-verify"],
        )
        .await[0];
    let (dw, _) = phone.open(&link).await;
    let (_, text) = phone.status().await;
    assert!(
        text.contains("human") || text.contains("challenge"),
        "{text}"
    );
    phone.tap(phone.on_screen(button, dw).await).await;
    phone
        .wait_state("the page to say the profile is saved", "signed_in")
        .await;
    assert_eq!(link_state(&running, "demo").await, "signed_in");

    // `restock resume`, the order again: placed, challenge fault or not.
    let (code, _) = post_json(&no_redirects(), &url(&running, "/resume"), json!({})).await;
    assert_eq!(code, 200);
    running.db.retry(id).await.unwrap();
    running.handle.wake();
    assert_eq!(settled(&mut events, id).await, Status::Placed);
    assert_eq!(demo.ledger().len(), 1);

    phone.end(running, env.path()).await;
    demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_links_say_why_and_only_the_token_mints_them() {
    let mut env = Env::new(&["soap"]);
    env.config.intake_token = Some("t0ken".into());
    env.config.signin_link_ttl = Duration::from_secs(4);
    env.config.signin_idle = Duration::from_secs(2);
    let running = restock::server::start(&env.config, parts_for_any_store(&env))
        .await
        .unwrap();
    let http = no_redirects();
    let login = url(&running, "/stores/demo/login");
    let mint = || async {
        let r = http.post(&login).bearer_auth("t0ken").send().await.unwrap();
        let code = r.status().as_u16();
        (code, r.json::<Value>().await.unwrap())
    };
    let page = |link: String, cookie: Option<String>| {
        let http = http.clone();
        async move {
            let mut req = http.get(&link);
            if let Some(c) = cookie {
                req = req.header("cookie", c);
            }
            let r = req.send().await.unwrap();
            let code = r.status().as_u16();
            let cookie = r
                .headers()
                .get("set-cookie")
                .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string());
            (code, cookie, r.text().await.unwrap())
        }
    };

    // Only with the token; only for a known store.
    assert_eq!(status_of(http.post(&login)).await, 401);
    let nowhere = http
        .post(url(&running, "/stores/nowhere/login"))
        .bearer_auth("t0ken");
    assert_eq!(status_of(nowhere).await, 404);

    // Unknown.
    let (code, _, text) = page(url(&running, &format!("/signin/{}", "ab".repeat(16))), None).await;
    assert_eq!(code, 404);
    assert!(text.contains("unknown sign-in link"), "{text}");

    // Replaced before anyone opened it.
    let (_, first) = mint().await;
    let (code, second) = mint().await;
    assert_eq!(code, 201, "{second}");
    let (code, _, text) = page(first["url"].as_str().unwrap().into(), None).await;
    assert_eq!(code, 410);
    assert!(text.contains("replaced"), "{text}");

    // Looking (a chat app's link preview) does not use it; the page's
    // script claims it for the first browser; anyone else is refused, the
    // owner gets back in; the page and its script come with strict headers.
    let link = second["url"].as_str().unwrap().to_string();
    for _ in 0..2 {
        let (code, cookie, text) = page(link.clone(), None).await;
        assert_eq!(code, 200);
        assert!(text.contains("sign in to demo"));
        assert!(cookie.is_none(), "looking claims nothing");
    }
    let claim = http.post(format!("{link}/claim")).send().await.unwrap();
    assert_eq!(claim.status().as_u16(), 200);
    let cookie = claim.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    let cookie = cookie.split(';').next().unwrap().to_string();
    let other = http.post(format!("{link}/claim")).send().await.unwrap();
    assert_eq!(other.status().as_u16(), 410);
    assert!(other.text().await.unwrap().contains("already used"));
    let (code, _, text) = page(link.clone(), None).await;
    assert_eq!(code, 410);
    assert!(text.contains("already used"), "{text}");
    let (code, _, _) = page(link.clone(), Some(cookie.clone())).await;
    assert_eq!(code, 200, "the owner reloads");
    let r = http
        .get(&link)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let h = r.headers();
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    let js = http
        .get(url(&running, "/signin-assets/page.js"))
        .send()
        .await
        .unwrap();
    assert!(js.text().await.unwrap().contains("new WebSocket"));

    // Idle: opened, then no input for the idle limit.
    until_state(&running, "demo", "idle").await;
    let (code, _, text) = page(link.clone(), Some(cookie)).await;
    assert_eq!(code, 410);
    assert!(text.contains("without input"), "{text}");

    // Expired: never opened, past the absolute limit.
    let (_, third) = mint().await;
    until_state(&running, "demo", "expired").await;
    let (code, _, text) = page(third["url"].as_str().unwrap().into(), None).await;
    assert_eq!(code, 410);
    assert!(text.contains("link expired"), "{text}");

    running.stop().await;
    assert_no_chromium(env.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_profile_keeps_buys_and_the_probe_off_and_a_buy_refuses_a_link() {
    let env = Env::new(&["soap", "tea"]);
    let factory = ScriptedFactory::noop();
    let mut parts = parts_for_any_store(&env);
    parts.factory = Arc::new(factory.clone());
    let running = restock::server::start(&env.config, parts).await.unwrap();
    let mut events = running.handle.subscribe();

    // demo held by a live session: the next source (backup) buys.
    let live = running.holds.try_hold("demo", Holder::Live).unwrap();
    let soap = reorder(running.addr, "soap").await;
    assert_eq!(settled(&mut events, soap).await, Status::DryRun);
    let row = running.db.get(soap).await.unwrap().unwrap();
    assert_eq!(row.store.as_deref(), Some("backup"));

    // Both held: the order waits (not a retry), then goes through.
    let backup = running.holds.try_hold("backup", Holder::Live).unwrap();
    let tea = reorder(running.addr, "tea").await;
    event(
        &mut events,
        "tea to wait for the held store",
        |e| matches!(e, Event::Retrying { id, .. } if *id == tea),
    )
    .await;
    let row = running.db.get(tea).await.unwrap().unwrap();
    assert_eq!((row.status, row.retries), (Status::Pending, 0));
    assert!(row.message.unwrap().contains("live sign-in session"));
    drop(live);
    drop(backup);
    assert_eq!(settled(&mut events, tea).await, Status::DryRun);

    // The probe skips a held store, says so, and records nothing.
    let probe = restock::probe::SessionProbe::new(
        running.db.clone(),
        Arc::new(factory.clone()),
        restock::notify::Notifier::none(),
        restock::probe::Stores::Fixed(vec!["demo".into()]),
        restock::probe::Gate::open(),
        restock::probe::ProbeSettings {
            timeout: Duration::from_secs(5),
            remind: Duration::from_secs(3600),
            recheck: Duration::from_secs(5),
        },
    )
    .with_holds(running.holds.clone());
    let live = running.holds.try_hold("demo", Holder::Live).unwrap();
    let skipped = probe.probe_store("demo").await;
    assert!(
        skipped
            .check
            .detail
            .as_deref()
            .unwrap()
            .contains("live sign-in session"),
        "{skipped:?}"
    );
    assert!(running.db.session("demo").await.unwrap().is_none());
    drop(live);
    assert_eq!(
        probe.probe_store("demo").await.check.state,
        SessionState::SignedIn
    );

    // A buy in progress on the store refuses a link, clearly.
    let buying = running
        .holds
        .try_hold("demo", Holder::Buy { order_id: 42 })
        .unwrap();
    let (code, body) = mint(&running, "demo").await;
    assert_eq!(code, 409);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("buy is in progress on `demo` (order 42)"),
        "{body}"
    );
    drop(buying);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_import_signs_the_profile_in_and_a_wrong_or_foreign_file_changes_nothing() {
    let (demo, env) = soap_env().await;
    let profile = env.config.profiles_dir().join("demo");
    let run = |file: &Path| {
        let out = env
            .command()
            .args(["login", "demo", "--cookies", file.to_str().unwrap()])
            .env("RESTOCK_LOG", "warn")
            .output()
            .unwrap();
        (out.status.code(), output_text(&out))
    };
    let write = |name: &str, text: &str| -> PathBuf {
        let path = env.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };

    // Wrong and foreign files: refused, saying why; no profile made.
    let (code, text) = run(&write("garbage.txt", "this is not a cookie file\n"));
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("neither a Netscape cookies.txt nor a JSON"),
        "{text}"
    );
    let (code, text) = run(&write(
        "foreign.txt",
        "# Netscape HTTP Cookie File\n.example.org\tTRUE\t/\tFALSE\t0\tsid\tsecret\n",
    ));
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("no cookie for demo's domain 127.0.0.1"),
        "{text}"
    );
    assert!(text.contains("example.org"), "{text}");
    assert!(
        !text.contains("secret"),
        "cookie values are never printed: {text}"
    );
    assert!(!profile.exists(), "a refused file touched the profile");

    // A JSON export with the store's session cookie (and a foreign one).
    let token = demo_session(&demo).await;
    let json = json!([
        {"domain": "127.0.0.1", "hostOnly": true, "name": "demo_session", "value": token,
         "path": "/", "secure": false, "httpOnly": true, "session": true, "sameSite": "lax"},
        {"domain": ".example.org", "name": "other", "value": "x", "path": "/",
         "expirationDate": 4102444800.0}
    ]);
    let (code, text) = run(&write("cookies.json", &json.to_string()));
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("demo: signed in: 1 cookie for 127.0.0.1 imported"),
        "{text}"
    );
    assert!(!text.contains(&token));
    assert_eq!(probe(&env).await, SessionState::SignedIn);

    // Signed out again; a Netscape file brings it back.
    reqwest::Client::new()
        .post(format!("{}/admin/signout-all", demo.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(probe(&env).await, SessionState::SignedOut);
    let token = demo_session(&demo).await;
    let exp = restock::model::now_ms() / 1000 + 3600;
    let (code, text) = run(&write(
        "cookies.txt",
        &format!("# Netscape HTTP Cookie File\n#HttpOnly_127.0.0.1\tFALSE\t/\tFALSE\t{exp}\tdemo_session\t{token}\n"),
    ));
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(probe(&env).await, SessionState::SignedIn);
    assert_no_chromium(env.path()).await;
    demo.shutdown().await;
}

/// A fresh demo store session, as a desktop browser would hold it.
async fn demo_session(demo: &DemoStore) -> String {
    let r = no_redirects()
        .post(format!("{}/signin", demo.base_url()))
        .form(&[
            ("email", DEMO_EMAIL),
            ("password", DEMO_PASSWORD),
            ("next", "/account"),
        ])
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    cookie
        .split(';')
        .next()
        .unwrap()
        .strip_prefix("demo_session=")
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn serve_refuses_an_open_address_without_a_token_unless_told() {
    let env = Env::new(&["soap"]);
    std::fs::write(
        &env.config.catalog,
        "[[item]]\nid = \"soap\"\n[[item.source]]\nstore = \"demo\"\nurl = \"http://127.0.0.1:9/p\"\n",
    )
    .unwrap();
    let port = free_addr().port();
    let open = format!("0.0.0.0:{port}");
    let out = env
        .command()
        .arg("serve")
        .env("RESTOCK_LISTEN", &open)
        .env("RESTOCK_LOG", "warn")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("RESTOCK_INTAKE_TOKEN") && err.contains("RESTOCK_INTAKE_OPEN=true"),
        "{err}"
    );
    assert!(!env.db().exists(), "nothing written");

    // Opted in: it starts, and warns.
    let mut child = env
        .command()
        .arg("serve")
        .env("RESTOCK_LISTEN", &open)
        .env("RESTOCK_INTAKE_OPEN", "true")
        .env("RESTOCK_LOG", "warn")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = read_lines(child.stderr.take().unwrap());
    printed(&lines, "RESTOCK_INTAKE_OPEN=true", "the warning").await;
    let health = format!("http://127.0.0.1:{port}/health");
    let http = reqwest::Client::new();
    let answered = poll_within(PATIENCE, || async {
        http.get(&health).send().await.ok().map(|_| ())
    })
    .await;
    assert!(
        answered.is_some(),
        "serve never answered: {:?}",
        lines.lock().unwrap()
    );
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0));
}
