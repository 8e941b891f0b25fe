//! The intake's HTTP API as a client uses it.

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
