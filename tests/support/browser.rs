//! A second headless Chromium that looks at pages restock serves, as a
//! person's phone or desktop would: a viewport, clicks and typing through
//! the DevTools protocol, script run in the page, screenshots. Its profile
//! is under the test's own dir, so `assert_no_chromium` sees it too.

use std::path::Path;
use std::time::Duration;

use chromiumoxide::cdp::browser_protocol::emulation::{
    SetDeviceMetricsOverrideParams, SetTouchEmulationEnabledParams,
};
use chromiumoxide::page::ScreenshotParams;
use restock::purchase::browser::{find_chrome, prepare_profile, BrowserSession, LaunchOptions};
use restock::server::Running;

use super::chromium::assert_no_chromium;
use super::wait::PATIENCE;

/// A phone's screen in CSS pixels (an iPhone 12 to 15), and a desktop's.
pub const PHONE: (i64, i64) = (390, 844);
pub const DESKTOP: (i64, i64) = (1280, 800);

/// A click that missed because the page changed under it: tried again.
fn note_missed_click(e: &chromiumoxide::error::CdpError) {
    eprintln!("click missed ({e}); the page changed under it, clicking again");
}

pub struct Viewer {
    session: BrowserSession,
    size: (i64, i64),
}

impl Viewer {
    /// A browser with a `size` viewport; a phone's (narrower than 600 px)
    /// is a mobile one with touch.
    pub async fn launch(dir: &Path, size: (i64, i64)) -> Viewer {
        let opts = LaunchOptions {
            chrome: find_chrome(None).unwrap(),
            profile: prepare_profile(dir, "viewer").unwrap(),
            headless: true,
            launch_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(20),
        };
        let viewer = Viewer {
            session: BrowserSession::launch(&opts).await.unwrap(),
            size,
        };
        viewer.resize(size).await;
        viewer
    }

    /// Another viewport (a phone turned desktop).
    pub async fn resize(&self, (w, h): (i64, i64)) {
        let mobile = w < 600;
        self.page()
            .execute(SetDeviceMetricsOverrideParams::new(
                w,
                h,
                if mobile { 2.0 } else { 1.0 },
                mobile,
            ))
            .await
            .unwrap();
        let mut touch = SetTouchEmulationEnabledParams::new(mobile);
        touch.max_touch_points = mobile.then_some(5);
        self.page().execute(touch).await.unwrap();
    }

    pub fn size(&self) -> (i64, i64) {
        self.size
    }

    pub fn page(&self) -> &chromiumoxide::Page {
        self.session.page()
    }

    pub async fn goto(&self, url: &str) {
        tokio::time::timeout(PATIENCE, self.page().goto(url))
            .await
            .expect("the page loads")
            .unwrap();
    }

    /// The page's address now.
    pub async fn url(&self) -> String {
        self.page().url().await.unwrap().unwrap_or_default()
    }

    /// Runs `js` in the page; its value.
    pub async fn eval<T: serde::de::DeserializeOwned>(&self, js: &str) -> T {
        tokio::time::timeout(PATIENCE, self.page().evaluate(js))
            .await
            .expect("the page answers")
            .unwrap()
            .into_value()
            .unwrap()
    }

    /// Polls `js` until it is true; fails saying `what` and what
    /// `describe` (JavaScript) says of the page then. Twice [`PATIENCE`]:
    /// what a page waits for may itself wait on a second browser.
    pub async fn wait_for(&self, what: &str, js: &str, describe: &str) {
        let deadline = tokio::time::Instant::now() + PATIENCE * 2;
        loop {
            // A navigation in between makes one evaluation fail: try again.
            let done = tokio::time::timeout(PATIENCE, self.page().evaluate(js))
                .await
                .ok()
                .and_then(Result::ok)
                .and_then(|v| v.into_value::<bool>().ok())
                .unwrap_or(false);
            if done {
                return;
            }
            if tokio::time::Instant::now() > deadline {
                let state: String = self.eval(describe).await;
                panic!("timed out waiting for {what}; the page: {state}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A real click (the pointer at the element's centre, scrolled into
    /// view) on the first element matching `selector`. An element the page
    /// replaced between finding and clicking (a live refresh) is found
    /// again, as a person taps again.
    pub async fn click(&self, selector: &str) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let el = tokio::time::timeout(PATIENCE, self.page().find_element(selector))
                .await
                .expect("the page answers")
                .unwrap_or_else(|e| panic!("no `{selector}` on the page: {e}"));
            match el.click().await {
                Ok(_) => return,
                Err(e) if tokio::time::Instant::now() < deadline => {
                    note_missed_click(&e);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("clicking `{selector}`: {e}"),
            }
        }
    }

    /// Clicks the field `selector` and types `text` into it, key by key.
    pub async fn type_into(&self, selector: &str, text: &str) {
        let el = self.page().find_element(selector).await.unwrap();
        el.click().await.unwrap().type_str(text).await.unwrap();
    }

    /// Presses Enter in the field `selector`.
    pub async fn enter(&self, selector: &str) {
        let el = self.page().find_element(selector).await.unwrap();
        el.press_key("Enter").await.unwrap();
    }

    /// Whether the page scrolls sideways: the document is wider than the
    /// viewport.
    pub async fn scrolls_sideways(&self) -> (bool, i64, i64) {
        let (scroll, client): (i64, i64) = self
            .eval("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            .await;
        (scroll > client, scroll, client)
    }

    /// A PNG of the whole page.
    pub async fn screenshot(&self) -> Vec<u8> {
        self.page()
            .screenshot(ScreenshotParams::builder().full_page(true).build())
            .await
            .unwrap()
    }

    pub async fn close(self) {
        self.session.close().await;
    }

    /// How a browser test on a server ends: this viewer closed, the server
    /// stopped, and no Chromium left under `dir` (the test's own dir, which
    /// holds this viewer's profile and the store profiles). One sequence,
    /// so that no test forgets the last check.
    pub async fn end(self, running: Running, dir: &Path) {
        self.close().await;
        running.stop().await;
        assert_no_chromium(dir).await;
    }
}
