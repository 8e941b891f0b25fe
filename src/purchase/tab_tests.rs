//! The navigation model and typing, in a real headless Chromium against a
//! page served on 127.0.0.1 that behaves like client-side shops: a click
//! whose next page is rendered later in place, one that routes with
//! `pushState` first and renders after, one that only changes a text, and
//! one that changes nothing; and an input whose value lives in the page's
//! own state, fed only by input events, as framework-controlled inputs are.

use std::time::{Duration, Instant};

use axum::response::Html;
use axum::routing::get;

use super::*;
use crate::purchase::browser::{find_chrome, prepare_profile, BrowserSession, LaunchOptions};
use crate::purchase::store::Reading;
use crate::purchase::wait::MarkerState;

/// Each button changes the page 400 ms after its click, as a script waiting
/// for an API would; the marker `#next` shows on the page before the click
/// too, so only the model tells the old one from the new.
const PAGE: &str = r#"<!doctype html><title>Shop</title>
<main id="main"><p id="next">before</p><p id="price">€1.00</p></main>
<button id="rerender">re-render</button>
<button id="route">route</button>
<button id="text">text</button>
<button id="nothing">nothing</button>
<input id="name">
<script>
  const later = (f) => setTimeout(f, 400);
  document.getElementById('rerender').onclick = () => later(() => {
    document.getElementById('main').innerHTML = '<p id="next">rendered</p><p id="price">€2.00</p>';
  });
  document.getElementById('route').onclick = () => {
    history.pushState({}, '', '/step-two');
    later(() => { document.getElementById('main').innerHTML = '<p id="next">routed</p>'; });
  };
  document.getElementById('text').onclick = () => later(() => {
    document.getElementById('price').firstChild.data = '€3.00';
  });
  // A controlled input: its value is the page's state, changed only by
  // input events, and written back over whatever script set.
  window.state = '';
  const name = document.getElementById('name');
  name.addEventListener('input', () => { window.state = name.value; });
  name.addEventListener('blur', () => { name.value = window.state; });
</script>"#;

struct Rig {
    session: BrowserSession,
    _dir: tempfile::TempDir,
    url: Url,
    server: tokio::task::JoinHandle<()>,
}

async fn rig() -> Rig {
    let app = axum::Router::new().fallback(get(|| async { Html(PAGE) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let dir = tempfile::tempdir().unwrap();
    let session = BrowserSession::launch(&LaunchOptions {
        chrome: find_chrome(None).unwrap(),
        profile: prepare_profile(dir.path(), "t").unwrap(),
        headless: true,
        launch_timeout: Duration::from_secs(30),
        request_timeout: Duration::from_secs(10),
    })
    .await
    .unwrap();
    Rig {
        session,
        _dir: dir,
        url,
        server,
    }
}

async fn read(tab: &Tab<'_>, selector: &str) -> Option<String> {
    tab.read(&Reading::selector(selector)).await.unwrap()
}

fn next() -> Want {
    Want::selector("next", "#next")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_marker_counts_only_when_it_shows_because_of_the_action() {
    let rig = rig().await;
    let mut tab = Tab::new(rig.session.page(), Duration::from_secs(5));
    tab.goto(&rig.url).await.unwrap();
    tab.wait(&[next()]).await.unwrap();

    // Re-rendered in place: the old `#next` must not be taken for the new.
    let clicked = Instant::now();
    tab.click("#rerender").await.unwrap();
    tab.wait(&[next()]).await.unwrap();
    assert!(clicked.elapsed() >= Duration::from_millis(350));
    assert_eq!(read(&tab, "#next").await.as_deref(), Some("rendered"));

    // Routed with pushState, rendered afterwards: the URL changing is not
    // enough, the marker must be the new page's.
    let clicked = Instant::now();
    tab.click("#route").await.unwrap();
    let seen = tab.wait(&[next()]).await.unwrap();
    assert!(clicked.elapsed() >= Duration::from_millis(350));
    assert!(seen.href.ends_with("/step-two"), "{}", seen.href);
    assert_eq!(read(&tab, "#next").await.as_deref(), Some("routed"));

    // A text that changes in place counts; nothing else on the page does.
    tab.goto(&rig.url).await.unwrap();
    tab.wait(&[next()]).await.unwrap();
    tab.click("#text").await.unwrap();
    tab.wait(&[Want::selector("price", "#price")])
        .await
        .unwrap();
    assert_eq!(read(&tab, "#price").await.as_deref(), Some("€3.00"));

    // A click that changes nothing ends in a report that says why.
    let short = Tab::new(rig.session.page(), Duration::from_millis(800));
    let mut short = short;
    short.click("#nothing").await.unwrap();
    let e = short.wait(&[next()]).await.unwrap_err();
    let missing = e.missing().expect("a report");
    assert_eq!(missing.report.looked[0].markers[0].1, MarkerState::Stale);
    assert!(e.to_string().contains("from the page before"), "{e}");
    rig.server.abort();
    rig.session.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_reaches_a_framework_controlled_input() {
    let rig = rig().await;
    let mut tab = Tab::new(rig.session.page(), Duration::from_secs(5));
    tab.goto(&rig.url).await.unwrap();
    tab.wait(&[next()]).await.unwrap();
    tab.fill("#name", "Ada Lovelace").await.unwrap();
    // Replacing what is there, the page's state follows too.
    tab.fill("#name", "Grace").await.unwrap();
    tab.click("#nothing").await.unwrap();
    let state: String = tab
        .eval("window.state", Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(state, "Grace");
    let shown = tab
        .read(&Reading {
            selector: "#name".into(),
            attribute: None,
            pick: crate::model::Pick::Only,
        })
        .await
        .unwrap();
    let value: String = tab
        .eval(
            "document.getElementById('name').value",
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(value, "Grace", "{shown:?}");
    rig.server.abort();
    rig.session.close().await;
}
