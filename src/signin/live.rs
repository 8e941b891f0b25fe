//! The browser behind an opened sign-in link: one headless Chromium on the
//! store's profile, its tab streamed to the page and driven by it.
//!
//! One connection of the page, start to end:
//! 1. A newer connection for the same link replaces this one (the phone
//!    reloaded, or the page was opened in a second tab of the same
//!    browser); only one browser runs at a time (`SignIn::slot`).
//! 2. The page says how big its screen area is; the tab's viewport is set
//!    to that (320..1280 x 400..1280 CSS pixels), so the store lays out
//!    for the phone and the frames show at their natural size.
//! 3. The store's profile is taken ([`Holder::Live`]); while a buy or the
//!    probe has it, the page says so and the session waits (the link's
//!    limits still apply).
//! 4. Chromium starts, `Page.startScreencast` runs, and the tab opens the
//!    start page (the store's sign-in page, or where a buy stopped).
//! 5. Until it ends: every frame goes to the socket and is acknowledged
//!    (`Page.screencastFrameAck`) once sent, so a slow phone slows the
//!    screencast instead of queueing frames; every input message becomes
//!    `Input.*` commands ([`super::input`]); the store's markers are
//!    watched from a task of their own and reported to the page.
//! 6. The store's signed-in marker ends it with success: the screencast
//!    stops, the browser is closed cleanly (cookies reach the disk), and a
//!    fresh probe on the saved profile must say signed in. The link then
//!    ends as done, the signed-out state is cleared and the owner is told.
//!
//! Every CDP call and socket send has a timeout. The browser is closed on
//! success, expiry, disconnect, replacement and shutdown, and killed by
//! [`BrowserSession`]'s drop if this future is dropped. Frames and typed
//! text are passed on and forgotten: nothing here logs or stores them.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use chromiumoxide::cdp::browser_protocol::emulation::{
    SetDeviceMetricsOverrideParams, SetTouchEmulationEnabledParams,
};
use chromiumoxide::cdp::browser_protocol::page::{
    EventScreencastFrame, NavigateParams, ScreencastFrameAckParams, StartScreencastFormat,
    StartScreencastParams, StopScreencastParams,
};
use chromiumoxide::cdp::js_protocol::runtime::EvaluateParams;
use chromiumoxide::Page;
use futures::stream::SplitSink;
use futures::{SinkExt, StreamExt};
use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::input::{self, ClientMsg, Command, Viewport};
use super::links::{End, Link, Refused};
use super::{Holder, SignIn, Target};
use crate::model::SessionState;
use crate::purchase::tab::{Tab, TabError};
use crate::purchase::wait::Want;
use crate::purchase::StoreDef;

/// Bound on one CDP command.
const CDP: Duration = Duration::from_secs(10);
/// Bound on one message to the page.
const SEND: Duration = Duration::from_secs(15);
/// How long the page has to say its size before a default is used.
const HELLO: Duration = Duration::from_secs(10);
/// How often a held profile is looked at again.
const HELD_RECHECK: Duration = Duration::from_millis(500);
/// Between two looks at the store's markers.
const WATCH_EVERY: Duration = Duration::from_millis(400);

type Tx = SplitSink<WebSocket, Message>;
type Rx = futures::stream::SplitStream<WebSocket>;

/// How one connection ended.
#[derive(Debug)]
enum Stop {
    /// Signed in, and the fresh probe agrees.
    Verified,
    /// The store showed the signed-in marker (not yet verified).
    SignedIn,
    Failed(String),
    /// The link ended (expiry, idle, cancel, shutdown).
    Ended(End),
    /// The page went away; the link stays for its owner.
    Disconnected,
    /// A newer connection took over.
    Moved,
}

/// Messages to the page.
struct Out {
    tx: Tx,
}

impl Out {
    async fn send(&mut self, text: String) -> bool {
        matches!(
            tokio::time::timeout(SEND, self.tx.send(Message::Text(text.into()))).await,
            Ok(Ok(()))
        )
    }

    async fn status(&mut self, state: &str, text: &str) -> bool {
        self.send(json!({ "t": "status", "state": state, "text": text }).to_string())
            .await
    }

    /// One frame: metadata and the JPEG as the base64 Chromium sent (no
    /// character in base64 needs escaping in JSON).
    async fn frame(&mut self, f: &EventScreencastFrame) -> bool {
        let m = &f.metadata;
        let meta = json!({
            "dw": m.device_width, "dh": m.device_height, "top": m.offset_top,
            "ps": m.page_scale_factor, "sx": m.scroll_offset_x, "sy": m.scroll_offset_y,
        });
        let data: &str = f.data.as_ref();
        self.send(format!(r#"{{"t":"frame","m":{meta},"d":"{data}"}}"#))
            .await
    }

    async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            let _ = self.tx.send(Message::Close(None)).await;
            let _ = self.tx.close().await;
        })
        .await;
    }
}

/// Serves one page connection for `link` (see the module docs).
pub(super) async fn run(svc: Arc<SignIn>, link: Arc<Link<Target>>, socket: WebSocket) {
    let conn = CancellationToken::new();
    if let Some(old) = svc
        .conn
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .replace(conn.clone())
    {
        old.cancel();
    }
    let (tx, mut rx) = socket.split();
    let mut out = Out { tx };
    let store = link.payload.store.clone();
    let slot = tokio::select! {
        guard = svc.slot.lock() => guard,
        _ = conn.cancelled() => return,
        _ = tokio::time::sleep(Duration::from_secs(30)) => {
            out.status("failed", "the previous page is still closing its browser; reload in a moment").await;
            return out.close().await;
        }
    };
    let stop = serve(&svc, &link, &conn, &mut out, &mut rx).await;
    svc.set_live_state(&store, None);
    let prefix = link.token().prefix();
    match stop {
        Stop::Verified => {
            svc.links.end(&link, End::Done);
            tracing::info!(
                store,
                link = prefix,
                "live sign-in: signed in, profile saved"
            );
            svc.signed_in(&store).await;
            out.status("signed_in", "signed in: profile saved").await;
        }
        Stop::Failed(why) => {
            svc.links.end(&link, End::Failed(why.clone()));
            tracing::warn!(store, link = prefix, %why, "live sign-in failed");
            out.status("failed", &format!("not signed in: {why}")).await;
        }
        Stop::Ended(end) => {
            let end = link.ended().unwrap_or(end);
            tracing::info!(
                store,
                link = prefix,
                how = end.state(),
                "live sign-in ended"
            );
            let text = Refused::from_end(&end).explain(&svc.limits());
            out.status(end.state(), &text).await;
        }
        Stop::Disconnected => {
            tracing::info!(
                store,
                link = prefix,
                "live sign-in page disconnected; its browser is closed"
            );
        }
        Stop::Moved => {
            out.status(
                "moved",
                "this page was opened again; carry on in the newer one",
            )
            .await;
        }
        Stop::SignedIn => unreachable!("serve verifies a sign-in before returning"),
    }
    drop(slot);
    out.close().await;
}

/// The connection from its first message to a closed browser.
async fn serve(
    svc: &Arc<SignIn>,
    link: &Arc<Link<Target>>,
    conn: &CancellationToken,
    out: &mut Out,
    rx: &mut Rx,
) -> Stop {
    let store = link.payload.store.as_str();
    out.status("starting", &format!("opening {store}…")).await;
    let (view, dpr, touch) = match hello(rx).await {
        Ok(v) => v,
        Err(stop) => return stop,
    };
    let _hold = match take_hold(svc, link, conn, out, rx).await {
        Ok(hold) => hold,
        Err(stop) => return stop,
    };
    svc.set_live_state(store, Some("starting"));
    let stop = browse(svc, link, conn, out, rx, (view, dpr, touch)).await;
    if !matches!(stop, Stop::SignedIn) {
        return stop;
    }
    if svc.shutdown.is_cancelled() || link.cancel.is_cancelled() {
        return Stop::Ended(link.ended().unwrap_or(End::Cancelled));
    }
    svc.set_live_state(store, Some("verifying"));
    out.status(
        "verifying",
        &format!("{store} shows you signed in; saving the profile and checking it…"),
    )
    .await;
    tokio::select! {
        result = svc.verify(store) => match result {
            Ok(()) => Stop::Verified,
            Err(why) => Stop::Failed(why),
        },
        _ = svc.shutdown.cancelled() => Stop::Ended(End::Cancelled),
    }
}

/// The page's first message: its screen area, pixel ratio and touch.
async fn hello(rx: &mut Rx) -> Result<(Viewport, f64, bool), Stop> {
    let first = tokio::time::timeout(HELLO, async {
        loop {
            match rx.next().await {
                Some(Ok(Message::Text(t))) => {
                    if let Ok(ClientMsg::Viewport { w, h, dpr, touch }) = serde_json::from_str(&t) {
                        return Ok((Viewport::fit(w, h), dpr, touch));
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                    return Err(Stop::Disconnected)
                }
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    first.unwrap_or(Ok((Viewport::fit(1280.0, 1000.0), 1.0, false)))
}

/// Takes the store's profile, waiting (and saying so) while a buy or the
/// probe has it.
async fn take_hold(
    svc: &Arc<SignIn>,
    link: &Arc<Link<Target>>,
    conn: &CancellationToken,
    out: &mut Out,
    rx: &mut Rx,
) -> Result<super::Hold, Stop> {
    let store = link.payload.store.as_str();
    let mut told = None;
    loop {
        let holder = match svc.holds.try_hold(store, Holder::Live) {
            Ok(hold) => return Ok(hold),
            Err(holder) => holder,
        };
        if told != Some(holder) {
            told = Some(holder);
            out.status(
                "waiting",
                &format!("waiting: {holder} is using {store}'s browser profile; this page goes on by itself"),
            )
            .await;
        }
        tokio::select! {
            _ = tokio::time::sleep(HELD_RECHECK) => {}
            msg = rx.next() => if matches!(msg, None | Some(Err(_)) | Some(Ok(Message::Close(_)))) {
                return Err(Stop::Disconnected);
            },
            _ = link.cancel.cancelled() => return Err(Stop::Ended(link.ended().unwrap_or(End::Cancelled))),
            _ = conn.cancelled() => return Err(Stop::Moved),
            _ = svc.shutdown.cancelled() => return Err(Stop::Ended(End::Cancelled)),
        }
    }
}

/// Starts the browser, drives it until something ends the session, and
/// closes it cleanly whatever that was.
async fn browse(
    svc: &Arc<SignIn>,
    link: &Arc<Link<Target>>,
    conn: &CancellationToken,
    out: &mut Out,
    rx: &mut Rx,
    view: (Viewport, f64, bool),
) -> Stop {
    let store = link.payload.store.as_str();
    let Some(settings) = svc.browser.clone() else {
        return Stop::Failed("this server runs no real browser".into());
    };
    let Some(def) = settings.stores.get(store) else {
        return Stop::Failed(format!("store `{store}` is no longer defined"));
    };
    let launched = tokio::select! {
        r = super::headless_browser(&settings, store) => r,
        _ = link.cancel.cancelled() => return Stop::Ended(link.ended().unwrap_or(End::Cancelled)),
        _ = svc.shutdown.cancelled() => return Stop::Ended(End::Cancelled),
    };
    let session = match launched {
        Ok(session) => session,
        Err(e) => return Stop::Failed(format!("could not start the browser: {e}")),
    };
    let page = session.page().clone();
    let stop = drive(
        svc,
        link,
        conn,
        out,
        rx,
        view,
        &page,
        &def,
        settings.step_timeout,
    )
    .await;
    let _ = tokio::time::timeout(CDP, page.execute(StopScreencastParams::default())).await;
    session.close().await;
    stop
}

/// Aborts a task when dropped (every way out of [`drive`]).
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What the marker watcher saw.
enum Seen {
    /// The first marker showing (`signed_in`, `challenge`, `block`,
    /// `signed_out`), or none.
    Marker(Option<&'static str>),
    Gone(String),
}

#[allow(clippy::too_many_arguments)]
async fn drive(
    svc: &Arc<SignIn>,
    link: &Arc<Link<Target>>,
    conn: &CancellationToken,
    out: &mut Out,
    rx: &mut Rx,
    (mut view, dpr, touch): (Viewport, f64, bool),
    page: &Page,
    def: &Arc<StoreDef>,
    step_timeout: Duration,
) -> Stop {
    let store = link.payload.store.as_str();
    let mut frames =
        match tokio::time::timeout(CDP, page.event_listener::<EventScreencastFrame>()).await {
            Ok(Ok(frames)) => frames,
            Ok(Err(e)) => return Stop::Failed(format!("the browser refused the screencast: {e}")),
            Err(_) => return Stop::Failed("the browser did not answer".into()),
        };
    apply_view(page, view, dpr, touch).await;
    let cast = StartScreencastParams {
        format: Some(StartScreencastFormat::Jpeg),
        quality: Some(70),
        max_width: Some(2560),
        max_height: Some(2560),
        every_nth_frame: Some(1),
    };
    match tokio::time::timeout(CDP, page.execute(cast)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Stop::Failed(format!("the browser refused the screencast: {e}")),
        Err(_) => return Stop::Failed("the browser did not start the screencast".into()),
    }
    let start = link.payload.start.as_str();
    if let Err(why) = cdp(page, NavigateParams::new(start), step_timeout).await {
        out.status(
            "live",
            &format!("could not open {start} ({why}); use Reload"),
        )
        .await;
    }
    let (seen_tx, mut seen_rx) = mpsc::channel(8);
    let _watcher = AbortOnDrop(tokio::spawn(watch(page.clone(), Arc::clone(def), seen_tx)));
    svc.set_live_state(store, Some("live"));
    let first = match &link.payload.why {
        Some(why) => format!("{why}: {}", ask(store, None)),
        None => ask(store, None),
    };
    out.status("live", &first).await;
    let mut watching = true;
    loop {
        tokio::select! {
            frame = frames.next() => {
                let Some(frame) = frame else {
                    return Stop::Failed("the browser stopped sending its screen".into());
                };
                if !out.frame(&frame).await {
                    return Stop::Disconnected;
                }
                let _ = cdp(page, ScreencastFrameAckParams::new(frame.session_id), CDP).await;
            }
            msg = rx.next() => match msg {
                Some(Ok(Message::Text(text))) => {
                    let Ok(msg) = serde_json::from_str::<ClientMsg>(&text) else {
                        continue;
                    };
                    if let ClientMsg::Viewport { w, h, dpr, touch } = msg {
                        view = Viewport::fit(w, h);
                        apply_view(page, view, dpr, touch).await;
                        continue;
                    }
                    link.touch();
                    if let Ok(commands) = input::commands(&msg, &view) {
                        for command in commands {
                            let _ = run_command(page, command).await;
                        }
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return Stop::Disconnected,
                Some(Ok(_)) => {}
            },
            seen = seen_rx.recv(), if watching => match seen {
                Some(Seen::Marker(Some("signed_in"))) => return Stop::SignedIn,
                Some(Seen::Marker(marker)) => {
                    out.status("live", &ask(store, marker)).await;
                }
                Some(Seen::Gone(e)) => return Stop::Failed(format!("the browser went away: {e}")),
                None => watching = false,
            },
            _ = link.cancel.cancelled() => return Stop::Ended(link.ended().unwrap_or(End::Cancelled)),
            _ = conn.cancelled() => return Stop::Moved,
            _ = svc.shutdown.cancelled() => return Stop::Ended(End::Cancelled),
        }
    }
}

/// What the page asks of the owner, by what the store shows.
fn ask(store: &str, marker: Option<&str>) -> String {
    match marker {
        Some("challenge") => format!("{store} asks you to show you are human: solve it here"),
        Some("block") => format!("{store} shows an access-denied page"),
        _ => format!("sign in to {store}"),
    }
}

/// The viewport and touch support the page asked for.
async fn apply_view(page: &Page, view: Viewport, dpr: f64, touch: bool) {
    let dsf = if dpr.is_finite() {
        dpr.clamp(1.0, 2.0)
    } else {
        1.0
    };
    let metrics =
        SetDeviceMetricsOverrideParams::new(view.width as i64, view.height as i64, dsf, false);
    let _ = cdp(page, metrics, CDP).await;
    let mut emulate = SetTouchEmulationEnabledParams::new(touch);
    emulate.max_touch_points = touch.then_some(5);
    let _ = cdp(page, emulate, CDP).await;
}

async fn run_command(page: &Page, command: Command) -> Result<(), String> {
    match command {
        Command::Mouse(p) => cdp(page, p, CDP).await,
        Command::Touch(p) => cdp(page, p, CDP).await,
        Command::Key(p) => cdp(page, p, CDP).await,
        Command::Text(p) => cdp(page, p, CDP).await,
        Command::Script(js) => cdp(page, EvaluateParams::new(js), CDP).await,
    }
}

/// One CDP command within `limit`; the error as text (it may name the
/// command, never its parameters).
async fn cdp<C>(page: &Page, command: C, limit: Duration) -> Result<(), String>
where
    C: chromiumoxide::types::Command,
{
    match tokio::time::timeout(limit, page.execute(command)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {limit:?}")),
    }
}

/// The watched want `name` is (one of the four `watch` asks for).
fn marker_name(name: &str) -> &'static str {
    match name {
        "signed_in" => "signed_in",
        "challenge" => "challenge",
        "block" => "block",
        _ => "signed_out",
    }
}

/// Looks at the store's markers every [`WATCH_EVERY`] and reports each
/// change; ends after `signed_in` or when the browser is gone.
async fn watch(page: Page, def: Arc<StoreDef>, tx: mpsc::Sender<Seen>) {
    let tab = Tab::new(&page, Duration::from_secs(2));
    let wants: Vec<Want> = [
        Want::any("signed_in", &def.session.signed_in),
        Want::any("challenge", &def.challenge),
        Want::any("block", &def.block),
        Want::any("signed_out", &def.session.signed_out),
    ]
    .into_iter()
    .filter(|w| !w.markers.is_empty())
    .collect();
    let mut last: Option<&'static str> = None;
    loop {
        let now = match tab.wait(&wants).await {
            Ok(seen) => Some(marker_name(&seen.name)),
            Err(TabError::Gone(e)) => {
                let _ = tx.send(Seen::Gone(e)).await;
                return;
            }
            Err(_) => None,
        };
        if now != last {
            last = now;
            if tx.send(Seen::Marker(now)).await.is_err() {
                return;
            }
        }
        if now == Some("signed_in") {
            return;
        }
        tokio::time::sleep(WATCH_EVERY).await;
    }
}

impl SignIn {
    /// The fresh probe after a live sign-in: a new browser on the saved
    /// profile must see the store signed in.
    async fn verify(&self, store: &str) -> Result<(), String> {
        let settings = self
            .browser
            .as_ref()
            .ok_or("this server runs no real browser")?;
        let check = match crate::purchase::factory(settings, store) {
            Ok(mut purchaser) => purchaser.check_session().await,
            Err(e) => return Err(e.to_string()),
        };
        match check.state {
            SessionState::SignedIn => Ok(()),
            other => Err(format!(
                "the store showed you signed in, but a fresh check of the saved profile says {}{}",
                other.as_str().replace('_', " "),
                check.detail.map(|d| format!(" ({d})")).unwrap_or_default()
            )),
        }
    }
}
