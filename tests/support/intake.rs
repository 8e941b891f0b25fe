//! The intake's HTTP API as a client uses it, and the home page as a
//! browser without script does (forms, cookies, no redirects followed).

use std::net::SocketAddr;

use restock::server::Running;
use serde_json::{json, Value};

use super::wait::poll;

pub fn url(running: &Running, path: &str) -> String {
    format!("http://{}{path}", running.addr)
}

/// A POST with a JSON body; the status and the JSON answer (`null` if the
/// answer is not JSON).
pub async fn post_json(client: &reqwest::Client, url: &str, body: Value) -> (u16, Value) {
    let resp = client.post(url).json(&body).send().await.unwrap();
    let code = resp.status().as_u16();
    (code, resp.json().await.unwrap_or(Value::Null))
}

/// The JSON answer to `req` (the status is not checked).
pub async fn json_of(req: reqwest::RequestBuilder) -> Value {
    req.send().await.unwrap().json().await.unwrap()
}

/// A GET answered with JSON (the status is not checked).
pub async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    json_of(client.get(url)).await
}

/// The status `req` is answered with (the body is not read).
pub async fn status_of(req: reqwest::RequestBuilder) -> u16 {
    req.send().await.unwrap().status().as_u16()
}

/// `POST /reorder` for `item`, which must be queued; its order id.
pub async fn reorder(addr: SocketAddr, item: &str) -> i64 {
    reorder_with_token(addr, item, None).await
}

/// [`reorder`] with the intake token as a bearer token.
pub async fn reorder_with_token(addr: SocketAddr, item: &str, token: Option<&str>) -> i64 {
    let mut req = reqwest::Client::new()
        .post(format!("http://{addr}/reorder"))
        .json(&json!({ "item": item }));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.unwrap();
    let code = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert_eq!(code, 202, "{body}");
    body["id"].as_i64().unwrap()
}

/// `GET /health`: its status and body.
pub async fn health(addr: SocketAddr) -> (u16, Value) {
    let resp = reqwest::get(format!("http://{addr}/health")).await.unwrap();
    let code = resp.status().as_u16();
    (code, resp.json().await.unwrap())
}

/// Polls `/health` until it answers `code`; its body then.
pub async fn health_becomes(addr: SocketAddr, code: u16) -> Value {
    let what = format!("/health to answer {code}");
    poll(&what, || async move {
        let (c, body) = health(addr).await;
        (c == code).then_some(body)
    })
    .await
}

/// A client that follows no redirect (a form's `303` is read, not taken).
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// An answer of the home page: status, `Location`, every `Set-Cookie`,
/// body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub location: Option<String>,
    pub cookies: Vec<String>,
    pub body: String,
}

impl Answer {
    pub async fn of(req: reqwest::RequestBuilder) -> Answer {
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string());
        let cookies = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        Answer {
            status,
            location,
            cookies,
            body: r.text().await.unwrap_or_default(),
        }
    }

    /// The `name=value` of the cookie `name` it sets.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies
            .iter()
            .map(|c| c.split(';').next().unwrap().trim().to_string())
            .find(|c| c.starts_with(&format!("{name}=")))
    }
}

/// Signs in to the home page at `addr` with `token`; the session cookie
/// (`restock_home=...`) the browser would keep.
pub async fn home_sign_in(addr: SocketAddr, token: &str) -> String {
    let a = Answer::of(
        no_redirects()
            .post(format!("http://{addr}/session"))
            .form(&[("token", token)]),
    )
    .await;
    assert_eq!(a.status, 303, "{a:?}");
    a.cookie("restock_home").expect("a session cookie")
}

/// `GET /` at `addr` with `cookie` (if any).
pub async fn home(addr: SocketAddr, cookie: Option<&str>) -> Answer {
    let mut req = no_redirects().get(format!("http://{addr}/"));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    Answer::of(req).await
}

/// The form token in a page's forms.
pub fn form_token(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("a form with a form token");
    let rest = &html[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

/// Posts the page's form: `act` with `csrf` (if any), as a browser without
/// script does.
pub async fn home_act(
    addr: SocketAddr,
    cookie: Option<&str>,
    csrf: Option<&str>,
    act: &str,
) -> Answer {
    let mut form = vec![("act", act)];
    if let Some(t) = csrf {
        form.push(("csrf", t));
    }
    let mut req = no_redirects()
        .post(format!("http://{addr}/"))
        .header("origin", format!("http://{addr}"))
        .form(&form);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    Answer::of(req).await
}

/// Posts `form` to the page with `cookie`, asking for JSON as the page's
/// script does (no `Origin` header): the door the refusal tests knock on
/// with wrong actions and missing form tokens.
pub async fn home_post_json(addr: SocketAddr, cookie: &str, form: &[(&str, &str)]) -> Answer {
    Answer::of(
        no_redirects()
            .post(format!("http://{addr}/"))
            .header("cookie", cookie)
            .header("accept", "application/json")
            .form(form),
    )
    .await
}
