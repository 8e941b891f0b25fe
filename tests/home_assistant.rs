//! `examples/home-assistant.yaml` against a running intake: the requests
//! its `rest_command`s and automations make (method, path, headers with the
//! `!secret` token, payload template rendered) get the answers the YAML's
//! comments promise, and its REST sensors find what they read in `/items`
//! and `/health`.
//!
//! No YAML crate is available to this project offline, so the file is read
//! by the small block-YAML reader below, scoped to what the example uses
//! (block maps and lists, quoted and plain scalars, `!secret`, comments).
//! It fails loudly on anything else (anchors, flow collections, multi-line
//! strings) rather than misread it. Templates are rendered by an equally
//! small stand-in for Home Assistant's Jinja: `{{ path | filter | ... }}`
//! with the filters the example uses (`default`, `to_json`, `selectattr`
//! with `equalto`, `map(attribute=)`, `first`). The sensors'
//! `json_attributes_path` is evaluated for the one JSONPath form used,
//! `$[?(@.field == 'value')]`.

mod support;

use restock::model::Money;
use restock::purchase::scripted::{Script, ScriptedFactory};
use serde_json::{json, Value};
use support::env::Env;
use support::intake::url;

const TOKEN: &str = "ha-test-token";

// ---------------------------------------------------------------- YAML --

#[derive(Debug, Clone, PartialEq)]
enum Yaml {
    Map(Vec<(String, Yaml)>),
    List(Vec<Yaml>),
    Str(String),
    /// `!secret name`, resolved from secrets.yaml by Home Assistant.
    Secret(String),
    Null,
}

impl Yaml {
    fn get(&self, key: &str) -> Option<&Yaml> {
        match self {
            Yaml::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn at(&self, key: &str) -> &Yaml {
        self.get(key)
            .unwrap_or_else(|| panic!("home-assistant.yaml: no `{key}` in {self:?}"))
    }

    fn str(&self) -> &str {
        match self {
            Yaml::Str(s) => s,
            other => panic!("home-assistant.yaml: expected a string, got {other:?}"),
        }
    }

    fn entries(&self) -> &[(String, Yaml)] {
        match self {
            Yaml::Map(entries) => entries,
            other => panic!("home-assistant.yaml: expected a map, got {other:?}"),
        }
    }

    fn list(&self) -> &[Yaml] {
        match self {
            Yaml::List(items) => items,
            other => panic!("home-assistant.yaml: expected a list, got {other:?}"),
        }
    }
}

struct Line {
    no: usize,
    indent: usize,
    text: String,
}

/// Cuts a ` # comment` that is outside quotes.
fn strip_comment(line: &str) -> &str {
    let (mut single, mut double) = (false, false);
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && prev.is_whitespace() => return &line[..i],
            _ => {}
        }
        prev = c;
    }
    line
}

/// The byte offset of a mapping's `:` (followed by a space or the end),
/// outside quotes.
fn key_colon(text: &str) -> Option<usize> {
    let (mut single, mut double) = (false, false);
    let bytes = text.as_bytes();
    for (i, c) in text.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            ':' if !single && !double && (i + 1 == bytes.len() || bytes[i + 1] == b' ') => {
                return Some(i)
            }
            _ => {}
        }
    }
    None
}

fn is_item(text: &str) -> bool {
    text == "-" || text.starts_with("- ")
}

fn scalar(raw: &str, no: usize) -> Yaml {
    let raw = raw.trim();
    if let Some(name) = raw.strip_prefix("!secret ") {
        return Yaml::Secret(name.trim().to_string());
    }
    if raw == "~" || raw == "null" {
        return Yaml::Null;
    }
    if let Some(body) = raw.strip_prefix('\'') {
        let body = body
            .strip_suffix('\'')
            .unwrap_or_else(|| panic!("line {no}: unterminated '...'"));
        return Yaml::Str(body.replace("''", "'"));
    }
    if let Some(body) = raw.strip_prefix('"') {
        let body = body
            .strip_suffix('"')
            .unwrap_or_else(|| panic!("line {no}: unterminated \"...\""));
        let mut out = String::new();
        let mut chars = body.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(c @ ('"' | '\\' | '/')) => out.push(c),
                other => panic!("line {no}: escape \\{other:?} is not supported here"),
            }
        }
        return Yaml::Str(out);
    }
    if let Some(c) = raw.chars().next().filter(|c| "|>&*{[!%@`".contains(*c)) {
        panic!("line {no}: `{c}` (anchors, tags, flow collections, block scalars) is beyond this test's YAML reader; keep home-assistant.yaml to plain block YAML");
    }
    Yaml::Str(raw.to_string())
}

struct Reader {
    lines: Vec<Line>,
    pos: usize,
}

impl Reader {
    fn parse(text: &str) -> Yaml {
        let lines = text
            .lines()
            .enumerate()
            .filter_map(|(i, line)| {
                assert!(!line.starts_with('\t'), "line {}: tab indentation", i + 1);
                let content = strip_comment(line).trim_end();
                let text = content.trim_start();
                (!text.is_empty()).then(|| Line {
                    no: i + 1,
                    indent: content.len() - text.len(),
                    text: text.to_string(),
                })
            })
            .collect();
        let mut reader = Reader { lines, pos: 0 };
        let doc = reader.node(0);
        if let Some(line) = reader.lines.get(reader.pos) {
            panic!("line {}: unexpected indentation", line.no);
        }
        doc
    }

    fn node(&mut self, indent: usize) -> Yaml {
        if is_item(&self.lines[self.pos].text) {
            self.list(indent)
        } else {
            self.map(indent)
        }
    }

    fn list(&mut self, indent: usize) -> Yaml {
        let mut items = Vec::new();
        while let Some(line) = self.lines.get(self.pos) {
            if line.indent != indent || !is_item(&line.text) {
                break;
            }
            let rest = line.text[1..].trim_start().to_string();
            let no = line.no;
            if rest.is_empty() {
                self.pos += 1;
                items.push(self.child(indent));
            } else if key_colon(&rest).is_some() && !rest.starts_with(['"', '\'']) {
                // `- key: value` opens a map whose keys sit at the column
                // after the dash.
                let column = indent + (line.text.len() - rest.len());
                self.lines[self.pos] = Line {
                    no,
                    indent: column,
                    text: rest,
                };
                items.push(self.map(column));
            } else {
                self.pos += 1;
                items.push(scalar(&rest, no));
            }
        }
        Yaml::List(items)
    }

    fn map(&mut self, indent: usize) -> Yaml {
        let mut entries: Vec<(String, Yaml)> = Vec::new();
        while let Some(line) = self.lines.get(self.pos) {
            if line.indent < indent {
                break;
            }
            assert_eq!(
                line.indent, indent,
                "line {}: unexpected indentation",
                line.no
            );
            assert!(
                !is_item(&line.text),
                "line {}: a list item inside a map",
                line.no
            );
            let no = line.no;
            let colon =
                key_colon(&line.text).unwrap_or_else(|| panic!("line {no}: expected `key: value`"));
            let key = match scalar(&line.text[..colon], no) {
                Yaml::Str(k) => k,
                other => panic!("line {no}: key {other:?}"),
            };
            let value = line.text[colon + 1..].trim().to_string();
            self.pos += 1;
            let value = if value.is_empty() {
                self.child(indent)
            } else {
                scalar(&value, no)
            };
            assert!(
                entries.iter().all(|(k, _)| *k != key),
                "line {no}: duplicate key `{key}`"
            );
            entries.push((key, value));
        }
        Yaml::Map(entries)
    }

    /// The block under a `key:` or `-` with nothing after it: deeper lines,
    /// or a list at the same indentation (`key:\n- item`).
    fn child(&mut self, indent: usize) -> Yaml {
        match self.lines.get(self.pos) {
            Some(next) if next.indent > indent => {
                let deeper = next.indent;
                self.node(deeper)
            }
            Some(next) if next.indent == indent && is_item(&next.text) => self.list(indent),
            _ => Yaml::Null,
        }
    }
}

// ----------------------------------------------------------- templates --

/// Splits at `sep` outside quotes and parentheses.
fn split_top(text: &str, sep: char) -> Vec<&str> {
    let (mut depth, mut quote) = (0i32, None::<char>);
    let mut parts = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => depth -= 1,
            (None, c) if c == sep && depth == 0 => {
                parts.push(text[start..i].trim());
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(text[start..].trim());
    parts
}

fn literal(arg: &str) -> String {
    let arg = arg.trim();
    let inner = arg
        .strip_prefix('\'')
        .and_then(|a| a.strip_suffix('\''))
        .or_else(|| arg.strip_prefix('"').and_then(|a| a.strip_suffix('"')))
        .unwrap_or_else(|| panic!("template argument {arg} is not a quoted string"));
    inner.to_string()
}

/// One `{{ ... }}` expression; `None` is Jinja's undefined.
fn eval(expr: &str, vars: &Value) -> Option<Value> {
    let parts = split_top(expr, '|');
    let mut value = parts[0]
        .split('.')
        .try_fold(vars, |v, key| v.get(key))
        .cloned();
    for filter in &parts[1..] {
        let (name, args) = match filter.split_once('(') {
            Some((name, rest)) => (
                name.trim(),
                split_top(rest.strip_suffix(')').expect("filter(...)"), ','),
            ),
            None => (filter.trim(), Vec::new()),
        };
        value = match name {
            "default" => value.or_else(|| Some(Value::String(literal(args[0])))),
            "to_json" | "tojson" => value.map(|v| Value::String(v.to_string())),
            "selectattr" => {
                assert_eq!(literal(args[1]), "equalto", "selectattr test");
                let (attr, want) = (literal(args[0]), literal(args[2]));
                value.map(|v| {
                    Value::Array(
                        v.as_array()
                            .expect("selectattr on a list")
                            .iter()
                            .filter(|o| o.get(&attr) == Some(&Value::String(want.clone())))
                            .cloned()
                            .collect(),
                    )
                })
            }
            "map" => {
                let attr = literal(
                    args[0]
                        .strip_prefix("attribute=")
                        .expect("map(attribute='...')"),
                );
                value.map(|v| {
                    Value::Array(
                        v.as_array()
                            .expect("map on a list")
                            .iter()
                            .map(|o| o.get(&attr).cloned().unwrap_or(Value::Null))
                            .collect(),
                    )
                })
            }
            "first" => value.and_then(|v| v.as_array().and_then(|a| a.first().cloned())),
            other => panic!("template filter `{other}` is beyond this test's renderer"),
        };
    }
    value
}

/// Renders `{{ ... }}` the way Jinja prints: strings as they are, other
/// values as JSON, undefined as nothing.
fn render(template: &str, vars: &Value) -> String {
    assert!(!template.contains("{%"), "no {{% %}} blocks: {template}");
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").expect("unclosed {{") + start;
        match eval(rest[start + 2..end].trim(), vars) {
            Some(Value::String(s)) => out.push_str(&s),
            Some(other) => out.push_str(&other.to_string()),
            None => {}
        }
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// `$[?(@.field == 'value')]` on a list: the first match, as Home Assistant
/// takes it.
fn json_path<'a>(path: &str, value: &'a Value) -> Option<&'a Value> {
    let cond = path
        .strip_prefix("$[?(@.")
        .and_then(|p| p.strip_suffix(")]"))
        .unwrap_or_else(|| panic!("JSONPath {path} is beyond this test's reader"));
    let (field, want) = cond.split_once("==").expect("@.field == 'value'");
    let want = literal(want);
    value
        .as_array()?
        .iter()
        .find(|o| o.get(field.trim()) == Some(&Value::String(want.clone())))
}

// ------------------------------------------------------------ requests --

fn example() -> Yaml {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/home-assistant.yaml");
    Reader::parse(&std::fs::read_to_string(path).unwrap())
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
        h.entries()
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Yaml::Secret(name) => secret(name),
                    Yaml::Str(s) => s.clone(),
                    other => panic!("header {k}: {other:?}"),
                };
                (k.clone(), v)
            })
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
        .map(|m| m.str().to_uppercase())
        .unwrap_or_else(|| "GET".into());
    let mut req = client.request(
        reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
        local(running, command.at("url").str()),
    );
    if with_headers {
        for (k, v) in headers(command.get("headers")) {
            req = req.header(k, v);
        }
    }
    if let Some(ct) = command.get("content_type") {
        req = req.header("Content-Type", ct.str());
    }
    if let Some(payload) = command.get("payload") {
        let body = render(payload.str(), data);
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
    let commands = doc.at("rest_command");
    let (_env, running) = start_intake().await;
    let client = reqwest::Client::new();

    // The automations, in order: the NFC tag queues the paper towels, the
    // dashboard button a moment later is debounced.
    let mut calls = Vec::new();
    for automation in doc.at("automation").list() {
        for action in automation.at("actions").list() {
            let name = action.at("action").str();
            let Some(command) = name.strip_prefix("rest_command.") else {
                continue;
            };
            let data = match action.get("data") {
                Some(Yaml::Map(entries)) => Value::Object(
                    entries
                        .iter()
                        .map(|(k, v)| (k.clone(), json!(v.str())))
                        .collect(),
                ),
                _ => json!({}),
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
    let towels = commands.at("restock_paper_towels");
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
    for (name, command) in commands.entries() {
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
    let db: Value = client
        .get(url(&running, "/queue"))
        .header("X-Restock-Token", TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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
    for resource in doc.at("rest").list() {
        let mut req = client.get(local(&running, resource.at("resource").str()));
        for (k, v) in headers(resource.get("headers")) {
            req = req.header(k, v);
        }
        let resp = req.send().await.unwrap();
        let path = resource.at("resource").str().to_string();
        assert_eq!(resp.status(), 200, "{path}");
        let value_json: Value = resp.json().await.unwrap();
        for sensor in resource.at("sensor").list() {
            sensors += 1;
            let name = sensor.at("name").str();
            let state = render(
                sensor.at("value_template").str(),
                &json!({ "value_json": value_json }),
            );
            let allowed: &[&str] = if path.ends_with("/health") {
                &["ok"]
            } else {
                &["ready", "queued", "buying", "debounced", "cooldown"]
            };
            assert!(allowed.contains(&state.as_str()), "{name}: state {state:?}");
            let source = match sensor.get("json_attributes_path") {
                Some(p) => json_path(p.str(), &value_json)
                    .unwrap_or_else(|| panic!("{name}: {} matches nothing", p.str())),
                None => &value_json,
            };
            for attr in sensor.at("json_attributes").list() {
                assert!(
                    source.get(attr.str()).is_some(),
                    "{name}: attribute {} is not in {source}",
                    attr.str()
                );
            }
        }
    }
    assert_eq!(sensors, 4, "three items and the engine");
    running.stop().await;
}

#[test]
fn every_button_names_a_catalog_item() {
    let catalog = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/catalog.toml"
    ))
    .unwrap();
    let doc = example();
    for (name, command) in doc.at("rest_command").entries() {
        let body: Value =
            serde_json::from_str(&render(command.at("payload").str(), &json!({}))).unwrap();
        let item = body["item"].as_str().unwrap();
        assert!(
            catalog.contains(&format!("id = \"{item}\"")),
            "{name} orders `{item}`, which examples/catalog.toml lacks"
        );
        assert_eq!(name, &format!("restock_{}", item.replace('-', "_")));
    }
}

#[test]
fn reader_and_renderer_handle_what_the_example_uses() {
    let doc = Reader::parse(
        "# top\na:\n  b: \"x: y # not a comment\"  # a comment\n  c: 'it''s'\n  d: !secret tok\n\
         list:\n  - one\n  - k: v\n    k2: v2\n  -\n    deep: 1\nnone: ~\nsame:\n- x\n",
    );
    let a = doc.at("a");
    assert_eq!(a.at("b").str(), "x: y # not a comment");
    assert_eq!(a.at("c").str(), "it's");
    assert_eq!(a.at("d"), &Yaml::Secret("tok".into()));
    let list = doc.at("list").list();
    assert_eq!(list[0].str(), "one");
    assert_eq!(list[1].at("k2").str(), "v2");
    assert_eq!(list[2].at("deep").str(), "1");
    assert_eq!(doc.at("none"), &Yaml::Null);
    assert_eq!(doc.at("same").list()[0].str(), "x");
    assert!(std::panic::catch_unwind(|| Reader::parse("a: &anchor 1\n")).is_err());
    assert!(std::panic::catch_unwind(|| Reader::parse("a: |\n  text\n")).is_err());

    let vars =
        json!({ "who": "a \"quoted\" name", "v": [{"id": "x", "s": 1}, {"id": "y", "s": 2}] });
    assert_eq!(
        render("{\"r\": {{ who | default('z') | to_json }} }", &vars),
        "{\"r\": \"a \\\"quoted\\\" name\" }"
    );
    assert_eq!(render("{{ missing | default(\"d\") }}", &vars), "d");
    assert_eq!(render("[{{ missing }}]", &vars), "[]");
    assert_eq!(
        render(
            "{{ v | selectattr('id', 'equalto', 'y') | map(attribute='s') | first }}",
            &vars
        ),
        "2"
    );
    assert_eq!(
        json_path("$[?(@.id == 'y')]", &vars["v"]),
        Some(&json!({"id": "y", "s": 2}))
    );
}
