//! Configuration: built-in defaults <- optional TOML file <- `RESTOCK_*`
//! environment variables, merged by figment into one typed [`Config`] that
//! is validated once at startup.
//!
//! Durations are humane strings (`90s`, `5m`, `3h`) parsed by `humantime`.
//! Every error names the variable or file key, the value, and what is
//! expected, because the person reading it is editing an env file at 2 am.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::model::Money;

/// Every setting, with its default. Field names are the TOML keys; the
/// environment variable is `RESTOCK_` + the upper-cased name.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Database, browser profiles and screenshots live here.
    pub state_dir: PathBuf,
    /// The catalog TOML: which items exist and where to buy them.
    pub catalog: PathBuf,
    /// Address of the intake HTTP API.
    pub listen: SocketAddr,
    /// When set, required on every intake route but `/health`.
    pub intake_token: Option<String>,
    /// Stop every buy before Place Order. On by default: money moves only
    /// when the owner says so.
    pub dry_run: bool,
    /// How often the idle engine looks for orders written by another process.
    #[serde(with = "human_duration")]
    pub poll_interval: Duration,
    /// A second request for an item within this window is not queued again.
    #[serde(with = "human_duration")]
    pub debounce: Duration,
    /// Hard limit on one buy, all sources included.
    #[serde(with = "human_duration")]
    pub buy_timeout: Duration,
    /// Default cooldown after a placed order, for items that set none.
    #[serde(with = "human_duration")]
    pub cooldown: Duration,
    /// `/health` answers 503 and heartbeats stop when the loop has not
    /// turned (nor a buy made progress) for this long. Default: 2.5 x
    /// `heartbeat_interval` (see [`Config::stall_after`]).
    #[serde(with = "opt_human_duration")]
    pub stall_after: Option<Duration>,
    /// After a shutdown signal, how long a submitted buy may still read its
    /// confirmation.
    #[serde(with = "human_duration")]
    pub shutdown_grace: Duration,
    /// A row found `in_progress` at boot more than this many times is failed
    /// instead of retried, so a crash loop cannot retry forever.
    pub max_recoveries: u32,
    /// `text` for a terminal, `json` for journald or Loki.
    pub log_format: LogFormat,
    /// tracing filter, e.g. `info` or `restock=debug`.
    pub log: String,
    /// Chromium binary; empty means the first of chromium, chromium-browser,
    /// google-chrome on PATH.
    pub chrome: Option<PathBuf>,
    /// Run Chromium without a window (`login` always shows one).
    pub headless: bool,
    /// Extra store definitions (`*.toml`), besides the built-in `demo`.
    pub stores_dir: Option<PathBuf>,
    /// Base URL overrides per store (e.g. the demo store on another port).
    pub store_urls: BTreeMap<String, String>,
    /// Values for checkout forms (`name`, `address`, `postal_code`, ...):
    /// the owner's data, never part of a store file.
    pub checkout: BTreeMap<String, String>,
    /// Screenshots older than this are deleted.
    #[serde(with = "human_duration")]
    pub screenshot_max_age: Duration,
    /// At most this many screenshots are kept (oldest deleted first).
    pub screenshot_max_count: u32,
    /// Per-step browser timeout (navigation, waiting for a selector).
    #[serde(with = "human_duration")]
    pub step_timeout: Duration,
    /// Rolling 24-hour spend cap in the stores' currency; unset means off.
    pub daily_cap: Option<Money>,
    /// Count-based cap on placed orders in a rolling 24 hours.
    pub max_orders_per_day: u32,
    /// Retry failures that happened before Place Order and are marked
    /// retryable (timeouts, browser crashes). Off by default.
    pub auto_retry: bool,
    /// Automatic retries per order.
    pub auto_retry_max: u32,
    /// First retry's delay; doubled for each further retry.
    #[serde(with = "human_duration")]
    pub auto_retry_backoff: Duration,

    // --- dead-man's switch (src/heartbeat) ---
    /// Monitor URLs (Healthchecks, Uptime Kuma push, or any URL for a plain
    /// GET); comma-separated in the environment, a list in TOML.
    #[serde(deserialize_with = "string_list::deserialize")]
    pub heartbeat_url: Vec<String>,
    #[serde(with = "human_duration")]
    pub heartbeat_interval: Duration,
    #[serde(with = "human_duration")]
    pub heartbeat_timeout: Duration,
    /// `ok`: paused-but-alive pings success; `fail`: pings failure with the
    /// pause reason.
    pub heartbeat_paused: String,
    /// `auto` (by URL shape), `healthchecks`, `uptime-kuma` or `get`.
    pub heartbeat_kind: String,
    /// A second Healthchecks check that sees each buy start and end.
    pub order_check_url: Option<String>,

    // --- session probe and notifications (src/probe, src/notify) ---
    /// An interval (`3h`), a cron expression (`0 0 9,21 * * *`), or `off`.
    pub session_check: String,
    /// Local-time window the probe may run in, e.g. `08:00-22:00` (may
    /// wrap midnight); empty means any time.
    pub session_check_window: String,
    /// A command printing idle milliseconds (e.g. `xprintidle`).
    pub session_check_idle_cmd: Option<String>,
    #[serde(with = "human_duration")]
    pub session_check_idle_min: Duration,
    /// Per-store bound on one session check.
    #[serde(with = "human_duration")]
    pub session_check_timeout: Duration,
    /// How often to remind while a store stays signed out.
    #[serde(with = "human_duration")]
    pub session_remind: Duration,
    /// Notification URLs (ntfy://, gotify://, telegram://, discord://,
    /// generic+https://); comma-separated in the environment.
    #[serde(deserialize_with = "string_list::deserialize")]
    pub notify: Vec<String>,

    // --- signing in from anywhere (src/signin) ---
    /// The address people reach restock's HTTP server at (e.g.
    /// `https://restock.home.example`), used in sign-in links; unset: the
    /// listen address. With it set, signed-out and challenge notifications
    /// carry a fresh sign-in link.
    pub public_url: Option<String>,
    /// A sign-in link (and the live session behind it) ends this long after
    /// it was made.
    #[serde(with = "human_duration")]
    pub signin_link_ttl: Duration,
    /// An opened sign-in page ends after this long without input.
    #[serde(with = "human_duration")]
    pub signin_idle: Duration,
    /// Serve an address that is not loopback without `intake_token` anyway
    /// (logged as a warning at every start). Off: `serve` refuses.
    pub intake_open: bool,
}

/// Settings that carry secrets (tokens, monitor and notification URLs) or
/// the owner's personal data: never printed, even by `{:?}`.
const SECRET_KEYS: [&str; 5] = [
    "intake_token",
    "heartbeat_url",
    "order_check_url",
    "notify",
    "checkout",
];

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut value = serde_json::to_value(self).map_err(|_| std::fmt::Error)?;
        if let serde_json::Value::Object(map) = &mut value {
            for key in SECRET_KEYS {
                if map.get(key).is_some_and(|v| !v.is_null()) {
                    map.insert(key.into(), "<redacted>".into());
                }
            }
        }
        write!(f, "Config {value}")
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for Config {
    fn default() -> Self {
        let state_dir = default_state_dir();
        Config {
            catalog: default_config_dir().join("catalog.toml"),
            state_dir,
            listen: SocketAddr::from(([127, 0, 0, 1], 8723)),
            intake_token: None,
            dry_run: true,
            poll_interval: Duration::from_secs(5),
            debounce: Duration::from_secs(600),
            buy_timeout: Duration::from_secs(300),
            cooldown: Duration::ZERO,
            stall_after: None,
            shutdown_grace: Duration::from_secs(30),
            max_recoveries: 3,
            log_format: LogFormat::Text,
            log: "info".into(),
            chrome: None,
            headless: true,
            stores_dir: None,
            store_urls: BTreeMap::new(),
            checkout: BTreeMap::new(),
            step_timeout: Duration::from_secs(30),
            screenshot_max_age: Duration::from_secs(30 * 86400),
            screenshot_max_count: 200,
            daily_cap: None,
            max_orders_per_day: 10,
            auto_retry: false,
            auto_retry_max: 2,
            auto_retry_backoff: Duration::from_secs(30),
            heartbeat_url: Vec::new(),
            heartbeat_interval: Duration::from_secs(60),
            heartbeat_timeout: Duration::from_secs(10),
            heartbeat_paused: "ok".into(),
            heartbeat_kind: "auto".into(),
            order_check_url: None,
            session_check: "3h".into(),
            session_check_window: "08:00-22:00".into(),
            session_check_idle_cmd: None,
            session_check_idle_min: Duration::from_secs(300),
            session_check_timeout: Duration::from_secs(60),
            session_remind: Duration::from_secs(24 * 3600),
            notify: Vec::new(),
            public_url: None,
            signin_link_ttl: Duration::from_secs(600),
            signin_idle: Duration::from_secs(300),
            intake_open: false,
        }
    }
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/lib"))
}

fn xdg(var: &str, fallback: &str) -> PathBuf {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(fallback))
}

/// `$XDG_STATE_HOME/restock`, else `~/.local/state/restock`. Under systemd
/// `STATE_DIRECTORY` wins, so `StateDirectory=restock` just works.
fn default_state_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("STATE_DIRECTORY").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    xdg("XDG_STATE_HOME", ".local/state").join("restock")
}

/// `$XDG_CONFIG_HOME/restock`, else `~/.config/restock`.
pub fn default_config_dir() -> PathBuf {
    xdg("XDG_CONFIG_HOME", ".config").join("restock")
}

/// A configuration problem, said in one line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Invalid(String),
    #[error("config file {path}: cannot read it: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Config {
    /// Defaults <- `file` (or `RESTOCK_CONFIG`) <- `RESTOCK_*` from the real
    /// environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Config::load_from(file, &env)
    }

    /// Like [`Config::load`] with an explicit environment, so tests need not
    /// touch the process's.
    pub fn load_from(file: Option<&Path>, env: &[(String, String)]) -> Result<Config, ConfigError> {
        let lookup = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let file = file
            .map(Path::to_path_buf)
            .or_else(|| lookup("RESTOCK_CONFIG").map(PathBuf::from));
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = &file {
            std::fs::metadata(path).map_err(|source| ConfigError::File {
                path: path.clone(),
                source,
            })?;
            fig = fig.merge(Toml::file_exact(path));
        }
        let env_map: BTreeMap<String, String> = env
            .iter()
            .filter(|(k, _)| {
                k.starts_with("RESTOCK_") && k != "RESTOCK_CONFIG" && k != "RESTOCK_LOG_FILTER"
            })
            .cloned()
            .collect();
        check_env_names(&env_map)?;
        fig = fig.merge(EnvSnapshot::new(&env_map));
        let config: Config = fig
            .extract_lossy()
            .map_err(|e| ConfigError::Invalid(describe(e, &env_map)))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("poll_interval", self.poll_interval),
            ("buy_timeout", self.buy_timeout),
            ("stall_after", self.stall_after()),
            ("heartbeat_interval", self.heartbeat_interval),
            ("heartbeat_timeout", self.heartbeat_timeout),
            ("step_timeout", self.step_timeout),
            ("session_check_timeout", self.session_check_timeout),
            ("session_remind", self.session_remind),
            ("signin_link_ttl", self.signin_link_ttl),
            ("signin_idle", self.signin_idle),
        ];
        for (key, value) in positive {
            if value.is_zero() {
                return Err(invalid(
                    key,
                    "0s",
                    "a duration greater than zero, like `5s`",
                ));
            }
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log) {
            return Err(invalid(
                "log",
                &self.log,
                &format!("a tracing filter like `info` or `restock=debug` ({e})"),
            ));
        }
        if self.intake_token.as_deref() == Some("") {
            return Err(invalid(
                "intake_token",
                "",
                "a non-empty token, or leave it unset",
            ));
        }
        if let Err(p) = crate::heartbeat::check_config(self) {
            return Err(invalid(p.key, &p.value, &p.expected));
        }
        self.validate_probe()?;
        if let Some(url) = self.public_url.as_deref() {
            crate::signin::check_public_url(url)
                .map_err(|expected| invalid("public_url", url, &expected))?;
        }
        for (store, url) in &self.store_urls {
            let parsed = url::Url::parse(url)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"));
            if parsed.is_none() {
                return Err(invalid(
                    &format!("store_urls.{store}"),
                    url,
                    "an http(s) URL",
                ));
            }
        }
        Ok(())
    }

    /// The session probe's and notifications' settings (src/probe,
    /// src/notify); notification URLs are named redacted.
    fn validate_probe(&self) -> Result<(), ConfigError> {
        crate::probe::Schedule::parse(&self.session_check)
            .map_err(|e| invalid("session_check", &self.session_check, &e))?;
        crate::probe::Window::parse(&self.session_check_window)
            .map_err(|e| invalid("session_check_window", &self.session_check_window, &e))?;
        if let Some(cmd) = self.session_check_idle_cmd.as_deref() {
            if cmd.trim().is_empty() {
                return Err(invalid(
                    "session_check_idle_cmd",
                    cmd,
                    "a command printing idle milliseconds (like `xprintidle`), or leave it unset",
                ));
            }
        }
        for url in &self.notify {
            if let Err(crate::notify::NotifyError::BadUrl { value, reason }) =
                crate::notify::Channel::parse(url)
            {
                return Err(invalid(
                    "notify",
                    &value,
                    &format!("a notification URL: {reason}"),
                ));
            }
        }
        Ok(())
    }

    /// Every setting's key, read off the struct itself so docs and examples
    /// can be checked against it.
    pub fn field_names() -> Vec<&'static str> {
        static NAMES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
        NAMES
            .get_or_init(|| match serde_json::to_value(Config::default()) {
                Ok(serde_json::Value::Object(map)) => map
                    .keys()
                    .map(|k| &*Box::leak(k.clone().into_boxed_str()))
                    .collect(),
                _ => Vec::new(),
            })
            .clone()
    }

    /// How long the loop may stay silent before it counts as wedged.
    pub fn stall_after(&self) -> Duration {
        self.stall_after
            .unwrap_or(self.heartbeat_interval.mul_f64(2.5))
    }

    pub fn db_path(&self) -> PathBuf {
        self.state_dir.join("restock.db")
    }

    pub fn profiles_dir(&self) -> PathBuf {
        self.state_dir.join("profiles")
    }

    pub fn screenshots_dir(&self) -> PathBuf {
        self.state_dir.join("screenshots")
    }

    /// Where extra store definitions are read from.
    pub fn stores_dir(&self) -> PathBuf {
        self.stores_dir
            .clone()
            .unwrap_or_else(|| default_config_dir().join("stores"))
    }
}

/// The TOML keys that are maps: their env variables hold a TOML inline
/// table, e.g. `RESTOCK_CHECKOUT={name="Ada", postal_code="10115"}`.
const MAP_KEYS: [&str; 2] = ["store_urls", "checkout"];

/// The `RESTOCK_*` variables as a figment provider. Values stay strings
/// (figment's lossy extraction turns `true`/`3` into booleans and numbers
/// where a field wants them); map keys hold a TOML-like inline table, e.g.
/// `RESTOCK_CHECKOUT={name="Ada", postal_code="10115"}`. A snapshot rather
/// than `figment::providers::Env` so tests pass their own environment.
struct EnvSnapshot(figment::value::Dict);

impl EnvSnapshot {
    fn new(vars: &BTreeMap<String, String>) -> EnvSnapshot {
        let dict = vars
            .iter()
            .map(|(name, raw)| {
                let key = name.trim_start_matches("RESTOCK_").to_lowercase();
                let value = if MAP_KEYS.contains(&key.as_str()) {
                    raw.parse::<figment::value::Value>()
                        .unwrap_or_else(|_| raw.clone().into())
                } else {
                    raw.clone().into()
                };
                (key, value)
            })
            .collect();
        EnvSnapshot(dict)
    }
}

impl figment::Provider for EnvSnapshot {
    fn metadata(&self) -> figment::Metadata {
        figment::Metadata::named("environment variable")
    }

    fn data(
        &self,
    ) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        Ok(figment::Profile::Default.collect(self.0.clone()))
    }
}

fn check_env_names(vars: &BTreeMap<String, String>) -> Result<(), ConfigError> {
    let known = Config::field_names();
    for name in vars.keys() {
        let key = name.trim_start_matches("RESTOCK_").to_lowercase();
        if !known.contains(&key.as_str()) {
            return Err(ConfigError::Invalid(format!(
                "{name}: unknown setting; known ones are RESTOCK_{}",
                known
                    .iter()
                    .map(|k| k.to_uppercase())
                    .collect::<Vec<_>>()
                    .join(", RESTOCK_")
            )));
        }
    }
    Ok(())
}

fn invalid(key: &str, value: &str, expected: &str) -> ConfigError {
    ConfigError::Invalid(format!(
        "{} (`{key}` in the config file) = `{value}`: expected {expected}",
        env_name(key)
    ))
}

pub fn env_name(key: &str) -> String {
    format!("RESTOCK_{}", key.to_uppercase())
}

/// What a key's value should look like, for the keys whose serde error
/// alone would not say it.
const EXPECTED: &[(&str, &str)] = &[
    ("listen", "an address and port like `127.0.0.1:8723`"),
    ("dry_run", "`true` or `false`"),
    ("headless", "`true` or `false`"),
    ("log_format", "`text` or `json`"),
    ("max_recoveries", "a whole number like `3`"),
    ("max_orders_per_day", "a whole number like `10`"),
    ("auto_retry", "`true` or `false`"),
    ("intake_open", "`true` or `false`"),
    ("screenshot_max_count", "a whole number like `200`"),
    ("auto_retry_max", "a whole number like `2`"),
    (
        "store_urls",
        "a table like `{demo=\"http://127.0.0.1:8724\"}`",
    ),
    (
        "checkout",
        "a table like `{name=\"Ada\", postal_code=\"10115\"}`",
    ),
];

/// Turns figment's error into one line naming where the value came from,
/// the value, and what is expected.
fn describe(e: figment::Error, env: &BTreeMap<String, String>) -> String {
    let key = e.path.first().cloned().unwrap_or_default();
    let from_env = e
        .metadata
        .as_ref()
        .is_some_and(|m| m.name.contains("environment"));
    let origin = if from_env {
        env_name(&key)
    } else {
        let file = e
            .metadata
            .as_ref()
            .and_then(|m| m.source.as_ref())
            .map(|s| s.to_string())
            .unwrap_or_default();
        format!("{file}: key `{}`", e.path.join("."))
    };
    let mut line = format!("{origin}: {}", one_line(&e.kind.to_string()));
    if let Some(value) = env.get(&env_name(&key)).filter(|_| from_env) {
        if !line.contains(value.as_str()) {
            line.push_str(&format!(" (got `{value}`)"));
        }
    }
    if let Some((_, expected)) = EXPECTED.iter().find(|(k, _)| *k == key) {
        line.push_str(&format!("; expected {expected}"));
    }
    line
}

/// Folds a multi-line parser message (TOML's, with a source snippet and a
/// caret line) into one line: startup errors are one line each.
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with('|') && !l.chars().all(|c| c == '^' || c == ' ')
        })
        .filter(|l| !l.chars().next().is_some_and(|c| c.is_ascii_digit()) || !l.contains(" | "))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_secrets() {
        let env: Vec<(String, String)> = [
            ("RESTOCK_INTAKE_TOKEN", "tok-SECRET1"),
            (
                "RESTOCK_HEARTBEAT_URL",
                "https://hc-ping.com/0f1e2d3c-SECRET2",
            ),
            ("RESTOCK_CHECKOUT", "{name=\"Ada SECRET3\"}"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let config = Config::load_from(None, &env).unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("poll_interval"));
    }
}

/// serde adapter for humane durations (`90s`, `5m`, `1h 30m`).
pub mod human_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text).map_err(serde::de::Error::custom)
    }

    pub fn parse(text: &str) -> Result<Duration, String> {
        humantime::parse_duration(text.trim()).map_err(|e| {
            format!("`{text}` is not a duration ({e}); write it like `90s`, `5m` or `3h`")
        })
    }
}

/// serde adapter for an optional humane duration.
pub mod opt_human_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::human_duration::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(t) if !t.trim().is_empty() => super::human_duration::parse(&t)
                .map(Some)
                .map_err(serde::de::Error::custom),
            _ => Ok(None),
        }
    }
}

/// A list given either as a TOML array or as one comma-separated string
/// (how it arrives from the environment).
pub mod string_list {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            One(String),
            Many(Vec<String>),
        }
        let items = match Raw::deserialize(d)? {
            Raw::One(s) => s.split(',').map(str::to_string).collect(),
            Raw::Many(v) => v,
        };
        Ok(items
            .into_iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect())
    }
}
