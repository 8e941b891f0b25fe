//! `GET /metrics`: it requires the intake token, parses as the Prometheus
//! text format (checked by a strict parser of the exposition format below:
//! prometheus-client only encodes), and its counters move with orders run
//! through an in-process server with a scripted purchaser.

mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use restock::engine::Event;
use restock::model::{Money, Phase, Status};
use restock::purchase::scripted::{Script, ScriptedFactory, Step};
use support::env::{monitor_urls, Env};
use support::intake::{reorder_with_token, url};
use support::receivers::{free_addr, Receiver};
use support::wait::{event, poll, settled};
use tokio::sync::Notify;

const TOKEN: &str = "metrics-test-token-7f3a9c";
const LIVE_UUID: &str = "5b3c9a1e-2f4d-4c6b-9e8a-7d1f0c2ba1b2";
const DEAD_UUID: &str = "0c1d2e3f-4a5b-4c6d-8e7f-90a1b2c3d4e5";

// ---------------------------------------------------------------------------
// A strict parser for the Prometheus text exposition format (0.0.4).

#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

#[derive(Debug, Default)]
struct Family {
    kind: Option<String>,
    help: Option<String>,
    samples: Vec<Sample>,
}

type Families = BTreeMap<String, Family>;

fn is_name(s: &str, colons: bool) -> bool {
    let mut chars = s.chars();
    let ok_first = |c: char| c.is_ascii_alphabetic() || c == '_' || (colons && c == ':');
    chars.next().is_some_and(ok_first)
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colons && c == ':'))
}

fn parse_value(s: &str) -> Result<f64, String> {
    match s {
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => s.parse::<f64>().map_err(|_| format!("bad value `{s}`")),
    }
}

/// `{a="x",b="y"}` starting at `rest`; returns the labels and what follows.
fn parse_labels(rest: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    let mut s = rest.strip_prefix('{').ok_or("expected `{`")?;
    loop {
        if let Some(after) = s.strip_prefix('}') {
            return Ok((labels, after));
        }
        let eq = s.find('=').ok_or("label without `=`")?;
        let name = &s[..eq];
        if !is_name(name, false) || name.starts_with("__") {
            return Err(format!("bad label name `{name}`"));
        }
        s = s[eq + 1..]
            .strip_prefix('"')
            .ok_or("label value not quoted")?;
        let mut value = String::new();
        let mut chars = s.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err("unterminated label value".into()),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => return Err(format!("bad escape {other:?} in a label value")),
                },
                Some((_, '\n')) => return Err("newline in a label value".into()),
                Some((_, c)) => value.push(c),
            }
        };
        if labels.insert(name.to_string(), value).is_some() {
            return Err(format!("label `{name}` twice"));
        }
        s = &s[end + 1..];
        if let Some(after) = s.strip_prefix(',') {
            s = after;
        } else if !s.starts_with('}') {
            return Err("expected `,` or `}` after a label".into());
        }
    }
}

/// The family a sample belongs to: its own name, or a histogram's or
/// summary's base name for `_bucket`, `_sum`, `_count`.
fn family_of(fams: &Families, name: &str) -> String {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix) {
            let kind = fams.get(base).and_then(|f| f.kind.as_deref());
            if matches!(kind, Some("histogram" | "summary")) {
                return base.to_string();
            }
        }
    }
    name.to_string()
}

fn parse(text: &str) -> Result<Families, String> {
    if !text.is_empty() && !text.ends_with('\n') {
        return Err("the last line has no newline".into());
    }
    let mut fams = Families::new();
    let mut done: HashSet<String> = HashSet::new();
    let mut current: Option<String> = None;
    let mut series: HashSet<(String, BTreeMap<String, String>)> = HashSet::new();
    for (n, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}: {line:?}", n + 1);
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let mut parts = comment.trim_start().splitn(3, ' ');
            let (Some(word @ ("HELP" | "TYPE")), Some(name)) = (parts.next(), parts.next()) else {
                continue; // a plain comment
            };
            if !is_name(name, true) {
                return Err(at(format!("bad metric name `{name}`")));
            }
            let rest = parts.next().unwrap_or("");
            let fam = fams.entry(name.to_string()).or_default();
            if word == "HELP" {
                if fam.help.replace(rest.to_string()).is_some() {
                    return Err(at("second HELP".into()));
                }
            } else {
                if !fam.samples.is_empty() {
                    return Err(at("TYPE after the family's samples".into()));
                }
                if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&rest) {
                    return Err(at(format!("unknown type `{rest}`")));
                }
                if fam.kind.replace(rest.to_string()).is_some() {
                    return Err(at("second TYPE".into()));
                }
            }
            continue;
        }
        let name_end = line.find(['{', ' ']).ok_or_else(|| at("no value".into()))?;
        let name = &line[..name_end];
        if !is_name(name, true) {
            return Err(at(format!("bad metric name `{name}`")));
        }
        let (labels, rest) = if line[name_end..].starts_with('{') {
            parse_labels(&line[name_end..]).map_err(at)?
        } else {
            (BTreeMap::new(), &line[name_end..])
        };
        let mut fields = rest
            .strip_prefix(' ')
            .ok_or_else(|| at("expected a space before the value".into()))?
            .split(' ');
        let value = parse_value(fields.next().unwrap_or("")).map_err(at)?;
        if let Some(ts) = fields.next() {
            ts.parse::<i64>()
                .map_err(|_| at(format!("bad timestamp `{ts}`")))?;
        }
        if fields.next().is_some() {
            return Err(at("trailing fields".into()));
        }
        let family = family_of(&fams, name);
        if current.as_deref() != Some(family.as_str()) {
            if let Some(prev) = current.replace(family.clone()) {
                done.insert(prev);
            }
            if done.contains(&family) {
                return Err(at(format!("family `{family}` is not contiguous")));
            }
        }
        if !series.insert((name.to_string(), labels.clone())) {
            return Err(at("duplicate series".into()));
        }
        fams.entry(family).or_default().samples.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    for (name, fam) in &fams {
        check_family(name, fam)?;
    }
    Ok(fams)
}

/// What each type promises: counters are non-negative; a histogram's
/// buckets are cumulative up to `+Inf`, which equals `_count`, with a `_sum`.
fn check_family(name: &str, fam: &Family) -> Result<(), String> {
    match fam.kind.as_deref() {
        Some("counter") => {
            for s in &fam.samples {
                if s.value.is_nan() || s.value < 0.0 {
                    return Err(format!("counter {name} is {}", s.value));
                }
            }
        }
        Some("histogram") => {
            let mut groups: HashMap<BTreeMap<String, String>, Vec<&Sample>> = HashMap::new();
            for s in &fam.samples {
                let mut key = s.labels.clone();
                key.remove("le");
                groups.entry(key).or_default().push(s);
            }
            for (labels, samples) in groups {
                let mut buckets: Vec<(f64, f64)> = samples
                    .iter()
                    .filter(|s| s.name == format!("{name}_bucket"))
                    .map(|s| {
                        let le = s
                            .labels
                            .get("le")
                            .ok_or(format!("{name} bucket without le"))?;
                        Ok((parse_value(le)?, s.value))
                    })
                    .collect::<Result<_, String>>()?;
                buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
                if buckets.windows(2).any(|w| w[1].1 < w[0].1) {
                    return Err(format!("{name}{labels:?}: buckets are not cumulative"));
                }
                let inf = buckets
                    .last()
                    .filter(|b| b.0 == f64::INFINITY)
                    .ok_or(format!("{name}{labels:?}: no +Inf bucket"))?;
                let find = |suffix: &str| {
                    samples
                        .iter()
                        .find(|s| s.name == format!("{name}{suffix}"))
                        .map(|s| s.value)
                };
                let count = find("_count").ok_or(format!("{name}{labels:?}: no _count"))?;
                find("_sum").ok_or(format!("{name}{labels:?}: no _sum"))?;
                if count != inf.1 {
                    return Err(format!(
                        "{name}{labels:?}: _count {count} != +Inf {}",
                        inf.1
                    ));
                }
            }
        }
        _ => {}
    }
    Ok(())
}

#[test]
fn the_parser_is_strict() {
    let good = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 2\n\
                # TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3.5\nh_count 2\n";
    let fams = parse(good).unwrap();
    assert_eq!(fams["h"].samples.len(), 4);
    for bad in [
        "a 1",                          // no final newline
        "a{x=\"1\"} 1\na{x=\"1\"} 2\n", // duplicate series
        "a 1\nb 1\na{y=\"2\"} 1\n",     // not contiguous
        "# TYPE c counter\nc -1\n",     // negative counter
        "a{x=1} 1\n",                   // unquoted value
        "a{x=\"\\t\"} 1\n",             // bad escape
        "a one\n",                      // bad value
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n", // no +Inf
        "# TYPE a gauge\n# TYPE a gauge\n",                               // second TYPE
        "0a 1\n",                                                         // bad name
    ] {
        assert!(parse(bad).is_err(), "accepted: {bad:?}");
    }
}

// ---------------------------------------------------------------------------
// The server.

struct Scraper {
    client: reqwest::Client,
    url: String,
}

impl Scraper {
    /// Scrapes with the token; the text must parse and carry no secret.
    async fn scrape(&self) -> Families {
        let resp = self
            .client
            .get(&self.url)
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let ctype = resp.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
        let text = resp.text().await.unwrap();
        for secret in [TOKEN, LIVE_UUID, DEAD_UUID] {
            assert!(!text.contains(secret), "secret in /metrics:\n{text}");
        }
        parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    /// Scrapes until `f` is satisfied (the event follower is another task).
    async fn until(&self, what: &str, f: impl Fn(&Families) -> bool) -> Families {
        poll(what, || async {
            let fams = self.scrape().await;
            f(&fams).then_some(fams)
        })
        .await
    }
}

/// The sum of `name`'s samples whose labels include `want`.
fn sum(fams: &Families, name: &str, want: &[(&str, &str)]) -> f64 {
    fams.values()
        .flat_map(|f| &f.samples)
        .filter(|s| s.name == name)
        .filter(|s| {
            want.iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}

fn kind<'a>(fams: &'a Families, family: &str) -> &'a str {
    fams.get(family)
        .and_then(|f| f.kind.as_deref())
        .unwrap_or_else(|| panic!("no TYPE for {family}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_the_token_parse_and_move_with_orders() {
    let live_monitor = Receiver::spawn().await;
    let dead = format!("http://{}/ping/{DEAD_UUID}", free_addr());
    let mut env = Env::new(&["towels", "soap", "paper", "milk"]);
    env.config.dry_run = false;
    env.config.intake_token = Some(TOKEN.into());
    env.config.heartbeat_url =
        monitor_urls(&[live_monitor.url(&format!("/ping/{LIVE_UUID}")), dead]);
    env.config.heartbeat_timeout = Duration::from_secs(2);
    let factory = ScriptedFactory::new(Script::placed(Money(499)));
    let running = env.start(factory.clone()).await;
    let mut events = running.handle.subscribe();
    let client = reqwest::Client::new();
    let metrics = url(&running, "/metrics");

    // The token is required, like every route but /health.
    let (code, body) = {
        let r = client.get(&metrics).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    };
    assert_eq!(code, 401, "{body}");
    let r = client
        .get(&metrics)
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = client
        .get(&metrics)
        .header("x-restock-token", TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let scraper = Scraper {
        client: client.clone(),
        url: metrics.clone(),
    };

    // Before any order: the series exist, at zero.
    let fams = scraper.scrape().await;
    assert_eq!(kind(&fams, "restock_orders_total"), "counter");
    assert_eq!(kind(&fams, "restock_orders"), "gauge");
    assert_eq!(kind(&fams, "restock_queue_depth"), "gauge");
    assert_eq!(kind(&fams, "restock_paused"), "gauge");
    assert_eq!(kind(&fams, "restock_loop_turn_age_seconds"), "gauge");
    let placed = [("status", "placed")];
    assert_eq!(sum(&fams, "restock_orders_total", &placed), 0.0);
    assert!(fams["restock_orders_total"]
        .samples
        .iter()
        .any(|s| s.labels["status"] == "placed"));
    assert_eq!(sum(&fams, "restock_orders", &placed), 0.0);
    assert_eq!(sum(&fams, "restock_queue_depth", &[]), 0.0);
    assert_eq!(sum(&fams, "restock_paused", &[]), 0.0);
    let age = sum(&fams, "restock_loop_turn_age_seconds", &[]);
    assert!((0.0..60.0).contains(&age), "{age}");

    // Two orders placed: the counter goes 0 -> 2, the histogram counts 2.
    let a = reorder_with_token(running.addr, "towels", Some(TOKEN)).await;
    assert_eq!(settled(&mut events, a).await, Status::Placed);
    let b = reorder_with_token(running.addr, "soap", Some(TOKEN)).await;
    assert_eq!(settled(&mut events, b).await, Status::Placed);
    let fams = scraper
        .until("two placed orders counted", |f| {
            sum(f, "restock_orders_total", &placed) == 2.0
        })
        .await;
    assert_eq!(kind(&fams, "restock_buy_duration_seconds"), "histogram");
    let buys = [("store", "demo"), ("outcome", "placed")];
    // The follower counts before it observes the duration; wait for both.
    let fams = if sum(&fams, "restock_buy_duration_seconds_count", &buys) == 2.0 {
        fams
    } else {
        scraper
            .until("two buy durations", |f| {
                sum(f, "restock_buy_duration_seconds_count", &buys) == 2.0
            })
            .await
    };
    assert_eq!(
        sum(
            &fams,
            "restock_buy_duration_seconds_count",
            &[("outcome", "placed")]
        ),
        sum(&fams, "restock_orders_total", &placed)
    );
    assert!(sum(&fams, "restock_buy_duration_seconds_sum", &buys) >= 0.0);
    assert_eq!(sum(&fams, "restock_orders", &placed), 2.0);
    assert_eq!(sum(&fams, "restock_queue_depth", &[]), 0.0);

    // A buy held at the cart and one more order: depth 1, one in progress.
    let gate = Arc::new(Notify::new());
    factory.push(
        "demo",
        Script::until(Phase::Cart, Step::WaitFor(gate.clone())),
    );
    let c = reorder_with_token(running.addr, "paper", Some(TOKEN)).await;
    event(
        &mut events,
        "the held buy at the cart",
        |e| matches!(e, Event::Phase { id, phase: Phase::Cart } if *id == c),
    )
    .await;
    let d = reorder_with_token(running.addr, "milk", Some(TOKEN)).await;
    let fams = scraper.scrape().await;
    assert_eq!(sum(&fams, "restock_queue_depth", &[]), 1.0);
    assert_eq!(sum(&fams, "restock_orders", &[("status", "pending")]), 1.0);
    assert_eq!(
        sum(&fams, "restock_orders", &[("status", "in_progress")]),
        1.0
    );
    gate.notify_one();
    assert_eq!(settled(&mut events, c).await, Status::Placed);
    assert_eq!(settled(&mut events, d).await, Status::Placed);
    let fams = scraper
        .until("four placed orders and durations", |f| {
            sum(f, "restock_orders_total", &placed) == 4.0
                && sum(f, "restock_buy_duration_seconds_count", &buys) == 4.0
        })
        .await;
    assert_eq!(sum(&fams, "restock_orders", &placed), 4.0);
    assert_eq!(sum(&fams, "restock_queue_depth", &[]), 0.0);

    // Paused for a human, then resumed.
    running.db.pause("metrics test".into()).await.unwrap();
    assert_eq!(sum(&scraper.scrape().await, "restock_paused", &[]), 1.0);
    running.db.resume().await.unwrap();
    assert_eq!(sum(&scraper.scrape().await, "restock_paused", &[]), 0.0);

    // Session state per store.
    running.db.mark_signed_in("demo").await.unwrap();
    let fams = scraper.scrape().await;
    let demo = |state| [("store", "demo"), ("state", state)];
    assert_eq!(sum(&fams, "restock_session_state", &demo("signed_in")), 1.0);
    assert_eq!(
        sum(&fams, "restock_session_state", &demo("signed_out")),
        0.0
    );

    // Heartbeat pings per monitor, under the redacted label.
    let fams = scraper
        .until("a ping to each monitor", |f| {
            sum(f, "restock_heartbeat_sends_total", &[]) >= 2.0
                && sum(f, "restock_heartbeat_failures_total", &[]) >= 1.0
        })
        .await;
    let labels: Vec<&str> = fams["restock_heartbeat_sends_total"]
        .samples
        .iter()
        .map(|s| s.labels["monitor"].as_str())
        .collect();
    assert_eq!(labels.len(), 2, "{labels:?}");
    assert!(labels.iter().all(|l| l.contains("/…/")), "{labels:?}");
    let live_label = labels.iter().find(|l| l.ends_with("/…/a1b2")).unwrap();
    let live = [("monitor", *live_label)];
    assert!(sum(&fams, "restock_heartbeat_sends_total", &live) >= 1.0);
    assert_eq!(sum(&fams, "restock_heartbeat_failures_total", &live), 0.0);
    assert!(live_monitor.count() >= 1);
    let dead = [(
        "monitor",
        *labels.iter().find(|l| l.ends_with("/…/d4e5")).unwrap(),
    )];
    assert!(sum(&fams, "restock_heartbeat_failures_total", &dead) >= 1.0);

    running.stop().await;
}

#[tokio::test]
async fn without_a_token_configured_metrics_are_open_like_the_rest() {
    let env = Env::new(&["towels"]);
    let running = env.start(ScriptedFactory::noop()).await;
    let (code, _) = {
        let r = reqwest::get(url(&running, "/metrics")).await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    };
    assert_eq!(code, 200);
    running.stop().await;
}

/// A store whose session expiry is known shows it in `/metrics`, in
/// `GET /stores` and in `restock status`: "signed in, expires in 6 d".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_session_expiry_is_shown_everywhere() {
    use restock::model::{SessionCheck, SessionState};
    let mut env = Env::new(&["towels"]);
    env.config.intake_token = Some(TOKEN.into());
    let in_six_days = restock::model::now_ms() + 6 * 86_400_000 + 3_600_000;
    let db = restock::db::Db::open(&env.db()).unwrap();
    let check = SessionCheck {
        expires_at: Some(in_six_days),
        ..SessionCheck::known(SessionState::SignedIn)
    };
    db.record_session_check("demo", check, Duration::from_secs(3600))
        .await
        .unwrap();
    drop(db);
    let running = env.start(ScriptedFactory::noop()).await;
    let scraper = Scraper {
        client: reqwest::Client::new(),
        url: url(&running, "/metrics"),
    };
    let fams = scraper.scrape().await;
    assert_eq!(kind(&fams, "restock_session_expires_in_seconds"), "gauge");
    let left = sum(
        &fams,
        "restock_session_expires_in_seconds",
        &[("store", "demo")],
    );
    assert!((6.0 * 86_400.0..7.0 * 86_400.0).contains(&left), "{left}");

    let stores: serde_json::Value = reqwest::Client::new()
        .get(url(&running, "/stores"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let demo = stores
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["store"] == "demo")
        .unwrap();
    assert_eq!(demo["expires_at"], in_six_days);
    assert!(
        demo["summary"]
            .as_str()
            .unwrap()
            .starts_with("signed in, expires in 6 d"),
        "{demo}"
    );
    running.stop().await;

    let out = env.command().arg("status").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("Session") && l.contains("demo   signed in, expires in 6 d")),
        "{text}"
    );
}
