//! `examples/home-assistant.yaml` against a running intake: the requests
//! its `rest_command`s and automations make (method, path, headers with the
//! `!secret` token, payload template rendered) get the answers the YAML's
//! comments promise, and its REST sensors find what they read in `/items`
//! and `/health`.
//!
//! The file is read the way Home Assistant reads it. The YAML is parsed by
//! serde_norway; `!secret name` comes through as a tagged value, resolved
//! from what secrets.yaml would hold. Templates are rendered by minijinja,
//! an implementation of Jinja, the template language of Home Assistant,
//! with Jinja's own semantics (undefined values, `default`, `selectattr`,
//! `map`, `first`); what Home Assistant adds to Jinja and the example uses
//! is registered here: the `to_json` filter, and `value_json` (a REST
//! sensor's parsed answer) as a variable. A sensor's `json_attributes_path`
//! is JSONPath, evaluated by serde_json_path; Home Assistant takes its
//! first match.

mod support;

use restock::model::Money;
use restock::purchase::scripted::{Script, ScriptedFactory};
use serde_json::{json, Value};
use serde_norway::Value as Yaml;
use support::env::{repo_file, Env};
use support::intake::{json_of, url};

const TOKEN: &str = "ha-test-token";

// ---------------------------------------------------------------- YAML --

fn example() -> Yaml {
    serde_norway::from_str(&repo_file("examples/home-assistant.yaml"))
        .unwrap_or_else(|e| panic!("examples/home-assistant.yaml: {e}"))
}

/// `node[key]`, which the example must have.
fn at<'a>(node: &'a Yaml, key: &str) -> &'a Yaml {
    node.get(key)
        .unwrap_or_else(|| panic!("home-assistant.yaml: no `{key}` in {node:?}"))
}

fn text(node: &Yaml) -> &str {
    node.as_str()
        .unwrap_or_else(|| panic!("home-assistant.yaml: expected a string, got {node:?}"))
}

fn list(node: &Yaml) -> &[Yaml] {
    node.as_sequence()
        .unwrap_or_else(|| panic!("home-assistant.yaml: expected a list, got {node:?}"))
}

fn entries(node: &Yaml) -> Vec<(&str, &Yaml)> {
    node.as_mapping()
        .unwrap_or_else(|| panic!("home-assistant.yaml: expected a map, got {node:?}"))
        .iter()
        .map(|(k, v)| (text(k), v))
        .collect()
}

/// A value as Home Assistant hands it on: `!secret name` looked up in
/// secrets.yaml, a string as it is.
fn resolve(node: &Yaml) -> String {
    match node {
        Yaml::Tagged(tagged) if tagged.tag == "secret" => secret(text(&tagged.value)),
        Yaml::String(s) => s.clone(),
        other => panic!("home-assistant.yaml: expected a string or a !secret, got {other:?}"),
    }
}

/// What Home Assistant's secrets.yaml would hold.
fn secret(name: &str) -> String {
    match name {
        "restock_token" => TOKEN.to_string(),
        other => {
            panic!("home-assistant.yaml uses !secret {other}, which the comments do not ask for")
        }
    }
}

// ----------------------------------------------------------- templates --

/// Renders a template as Home Assistant does: Jinja, plus Home Assistant's
/// `to_json` filter, with `vars` (a JSON object) as its variables.
fn render(template: &str, vars: Value) -> String {
    let mut jinja = minijinja::Environment::new();
    // Home Assistant's `to_json` is `json.dumps`: unlike Jinja's `tojson`,
    // it does not escape `<`, `>`, `&` and `'` for HTML.
    jinja.add_filter("to_json", |value: minijinja::Value| {
        serde_json::to_string(&value).map_err(|e| {
            minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string())
        })
    });
    jinja
        .render_str(template, minijinja::value::Serde(vars))
        .unwrap_or_else(|e| panic!("{template}: {e:#}"))
}

/// A sensor's `json_attributes_path` applied to the answer it read: the
/// first match, as Home Assistant takes it.
fn json_path<'a>(path: &str, value: &'a Value) -> Option<&'a Value> {
    serde_json_path::JsonPath::parse(path)
        .unwrap_or_else(|e| panic!("JSONPath {path}: {e}"))
        .query(value)
        .first()
}

// ------------------------------------------------------------ requests --

/// The YAML's URL with its scheme and host swapped for the test server's.
fn local(running: &restock::server::Running, yaml_url: &str) -> String {
    let parsed = url::Url::parse(yaml_url).unwrap();
    assert_eq!(parsed.port(), Some(8723), "the default RESTOCK_LISTEN port");
    let mut path = parsed.path().to_string();
    if let Some(q) = parsed.query() {
        path = format!("{path}?{q}");
    }
    url(running, &path)
}

fn headers(spec: Option<&Yaml>) -> Vec<(String, String)> {
    spec.map(|h| {
        entries(h)
            .into_iter()
            .map(|(k, v)| (k.to_string(), resolve(v)))
            .collect()
    })
    .unwrap_or_default()
}

/// Sends what `rest_command.<name>` sends when called with `data`.
async fn call_rest_command(
    client: &reqwest::Client,
    running: &restock::server::Running,
    command: &Yaml,
    data: &Value,
    with_headers: bool,
) -> (u16, Value) {
    let method = command
        .get("method")
        .map(|m| text(m).to_uppercase())
        .unwrap_or_else(|| "GET".into());
    let mut req = client.request(
        reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
        local(running, text(at(command, "url"))),
    );
    if with_headers {
        for (k, v) in headers(command.get("headers")) {
            req = req.header(k, v);
        }
    }
    if let Some(ct) = command.get("content_type") {
        req = req.header("Content-Type", text(ct));
    }
    if let Some(payload) = command.get("payload") {
        let body = render(text(payload), data.clone());
        serde_json::from_str::<Value>(&body)
            .unwrap_or_else(|e| panic!("the rendered payload is not JSON ({e}): {body}"));
        req = req.body(body);
    }
    let resp = req.send().await.unwrap();
    let code = resp.status().as_u16();
    (code, resp.json().await.unwrap_or(Value::Null))
}

async fn start_intake() -> (Env, restock::server::Running) {
    let mut env = Env::new(&[]);
    env.config.catalog = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/catalog.toml").into();
    env.config.intake_token = Some(TOKEN.into());
    let running = env
        .start(ScriptedFactory::new(Script::placed(Money(329))))
        .await;
    (env, running)
}

#[tokio::test]
async fn the_yaml_requests_work_against_a_running_intake() {
    let doc = example();
    let commands = at(&doc, "rest_command");
    let (_env, running) = start_intake().await;
    let client = reqwest::Client::new();

    // The automations, in order: the NFC tag queues the paper towels, the
    // dashboard button a moment later is debounced.
    let mut calls = Vec::new();
    for automation in list(at(&doc, "automation")) {
        for action in list(at(automation, "actions")) {
            let name = text(at(action, "action"));
            let Some(command) = name.strip_prefix("rest_command.") else {
                continue;
            };
            let data = match action.get("data") {
                Some(data) => serde_json::to_value(data).unwrap(),
                None => json!({}),
            };
            calls.push((command.to_string(), data));
        }
    }
    assert_eq!(
        calls.len(),
        2,
        "the NFC and the button automation: {calls:?}"
    );
    assert!(calls.iter().all(|(c, _)| c == "restock_paper_towels"));

    // Without the secret header the intake refuses, and nothing is queued.
    let towels = at(commands, "restock_paper_towels");
    let (code, body) = call_rest_command(&client, &running, towels, &calls[0].1, false).await;
    assert_eq!(code, 401, "{body}");

    let (code, body) = call_rest_command(&client, &running, towels, &calls[0].1, true).await;
    assert_eq!(
        (code, body["result"].as_str()),
        (202, Some("queued")),
        "{body}"
    );
    let first_id = body["id"].as_i64().unwrap();
    let (code, body) = call_rest_command(&client, &running, towels, &calls[1].1, true).await;
    assert_eq!(
        (code, body["result"].as_str()),
        (200, Some("debounced")),
        "{body}"
    );

    // Every other button, pressed from a dashboard without data: queued,
    // as the default requester.
    for (name, command) in entries(commands) {
        if name == "restock_paper_towels" {
            continue;
        }
        let (code, body) = call_rest_command(&client, &running, command, &json!({}), true).await;
        assert_eq!(
            (code, body["result"].as_str()),
            (202, Some("queued")),
            "{name}: {body}"
        );
    }

    // The rendered payload carried the requester through.
    let db = json_of(
        client
            .get(url(&running, "/queue"))
            .header("X-Restock-Token", TOKEN),
    )
    .await;
    let requester = |id: i64| {
        db.as_array()
            .unwrap()
            .iter()
            .find(|o| o["id"] == id)
            .map(|o| o["requester"].clone())
    };
    assert_eq!(requester(first_id), Some(json!("nfc-kitchen")), "{db}");
    assert!(
        db.as_array()
            .unwrap()
            .iter()
            .any(|o| o["requester"] == "home-assistant"),
        "{db}"
    );

    // The REST sensors: each resource answers, each value template renders
    // a real state, each attribute is in the JSON it reads.
    let mut sensors = 0;
    for resource in list(at(&doc, "rest")) {
        let path = text(at(resource, "resource"));
        let mut req = client.get(local(&running, path));
        for (k, v) in headers(resource.get("headers")) {
            req = req.header(k, v);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        let value_json: Value = resp.json().await.unwrap();
        for sensor in list(at(resource, "sensor")) {
            sensors += 1;
            let name = text(at(sensor, "name"));
            let state = render(
                text(at(sensor, "value_template")),
                json!({ "value_json": value_json }),
            );
            let allowed: &[&str] = if path.ends_with("/health") {
                &["ok"]
            } else {
                &["ready", "queued", "buying", "debounced", "cooldown"]
            };
            assert!(allowed.contains(&state.as_str()), "{name}: state {state:?}");
            let source = match sensor.get("json_attributes_path") {
                Some(p) => json_path(text(p), &value_json)
                    .unwrap_or_else(|| panic!("{name}: {} matches nothing", text(p))),
                None => &value_json,
            };
            for attr in list(at(sensor, "json_attributes")) {
                assert!(
                    source.get(text(attr)).is_some(),
                    "{name}: attribute {} is not in {source}",
                    text(attr)
                );
            }
        }
    }
    assert_eq!(sensors, 4, "three items and the engine");
    running.stop().await;
}

#[test]
fn every_button_names_a_catalog_item() {
    let catalog = repo_file("examples/catalog.toml");
    let doc = example();
    for (name, command) in entries(at(&doc, "rest_command")) {
        let body: Value =
            serde_json::from_str(&render(text(at(command, "payload")), json!({}))).unwrap();
        let item = body["item"].as_str().unwrap();
        assert!(
            catalog.contains(&format!("id = \"{item}\"")),
            "{name} orders `{item}`, which examples/catalog.toml lacks"
        );
        assert_eq!(name, format!("restock_{}", item.replace('-', "_")));
    }
}

/// What this file adds to Jinja and YAML behaves as in Home Assistant:
/// `to_json` is plain JSON (not escaped for HTML), and `!secret` is looked
/// up, not passed on as text.
#[test]
fn the_home_assistant_additions_behave_as_there() {
    let vars = json!({ "who": "a \"quoted\" <name> & co" });
    assert_eq!(
        render("{\"r\": {{ who | default('z') | to_json }} }", vars.clone()),
        r#"{"r": "a \"quoted\" <name> & co" }"#
    );
    assert_eq!(render("[{{ missing }}]", vars), "[]");
    let doc: Yaml = serde_norway::from_str("h:\n  X-Token: !secret restock_token\n").unwrap();
    assert_eq!(
        headers(doc.get("h")),
        [("X-Token".to_string(), TOKEN.to_string())]
    );
}
