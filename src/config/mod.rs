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

use crate::model::{Money, MonitorKind};
use crate::urls::{MonitorUrl, NotifyUrl, PublicUrl};

mod env;
pub mod formats;
mod monitors;
mod schedule;
mod window;

pub use env::env_name;
pub use formats::human_duration;
pub use monitors::{KindSetting, PausedPing};
pub use schedule::Schedule;
pub use window::Window;

use env::{check_env_names, describe, invalid, EnvSnapshot};
use formats::{list, opt_human_duration, optional};

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
    #[serde(deserialize_with = "list::deserialize")]
    pub heartbeat_url: Vec<MonitorUrl>,
    #[serde(with = "human_duration")]
    pub heartbeat_interval: Duration,
    #[serde(with = "human_duration")]
    pub heartbeat_timeout: Duration,
    /// `ok`: paused-but-alive pings success; `fail`: pings failure with the
    /// pause reason.
    pub heartbeat_paused: PausedPing,
    /// `auto` (by URL shape), `healthchecks`, `uptime-kuma` or `get`.
    pub heartbeat_kind: KindSetting,
    /// A second Healthchecks check that sees each buy start and end.
    #[serde(with = "optional")]
    pub order_check_url: Option<MonitorUrl>,

    // --- session probe and notifications (src/probe, src/notify) ---
    /// An interval (`3h`), a cron expression (`0 0 9,21 * * *`), or `off`.
    pub session_check: Schedule,
    /// Local-time window the probe may run in, e.g. `08:00-22:00` (may
    /// wrap midnight); empty (`None`) means any time.
    #[serde(with = "window::setting")]
    pub session_check_window: Option<Window>,
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
    /// Tell the owner this long before a store's session cookies expire
    /// (once per expiry); `0s` never warns.
    #[serde(with = "human_duration")]
    pub session_warn: Duration,
    /// How long an order that reached Place Order without a confirmation is
    /// looked for in the store's order history (checks at 1/15, 1/3 and
    /// the end of it) before it stays `needs_review` for the owner.
    #[serde(with = "human_duration")]
    pub verify_window: Duration,
    /// Notification URLs (ntfy://, gotify://, telegram://, discord://,
    /// generic+https://); comma-separated in the environment.
    #[serde(deserialize_with = "list::deserialize")]
    pub notify: Vec<NotifyUrl>,

    // --- signing in from anywhere (src/signin) ---
    /// The address people reach restock's HTTP server at (e.g.
    /// `https://restock.home.example`), used in sign-in links; unset: the
    /// listen address. With it set, signed-out and challenge notifications
    /// carry a fresh sign-in link.
    #[serde(with = "optional")]
    pub public_url: Option<PublicUrl>,
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

    // --- the home page (src/web) ---
    /// How long a browser stays signed in to the home page after entering
    /// the token (the session cookie's lifetime; changing the token ends
    /// every session at once).
    #[serde(with = "human_duration")]
    pub home_session_ttl: Duration,
}

/// Settings that carry secrets (tokens, monitor and notification URLs) or
/// the owner's personal data: never printed, even by `{:?}`.
pub(crate) const SECRET_KEYS: [&str; 5] = [
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
            heartbeat_paused: PausedPing::Ok,
            heartbeat_kind: KindSetting::default(),
            order_check_url: None,
            session_check: Schedule::Every(Duration::from_secs(3 * 3600)),
            session_check_window: Window::parse("08:00-22:00").ok().flatten(),
            session_check_idle_cmd: None,
            session_check_idle_min: Duration::from_secs(300),
            session_check_timeout: Duration::from_secs(60),
            session_remind: Duration::from_secs(24 * 3600),
            session_warn: Duration::from_secs(24 * 3600),
            verify_window: Duration::from_secs(15 * 60),
            notify: Vec::new(),
            public_url: None,
            signin_link_ttl: Duration::from_secs(600),
            signin_idle: Duration::from_secs(300),
            intake_open: false,
            home_session_ttl: Duration::from_secs(30 * 86400),
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
        let mut config: Config = fig
            .extract_lossy()
            .map_err(|e| ConfigError::Invalid(describe(e, &env_map)))?;
        config.validate()?;
        config.apply_kinds();
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
            ("home_session_ttl", self.home_session_ttl),
            ("verify_window", self.verify_window),
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
        if let Some(cmd) = self.session_check_idle_cmd.as_deref() {
            if cmd.trim().is_empty() {
                return Err(invalid(
                    "session_check_idle_cmd",
                    cmd,
                    "a command printing idle milliseconds (like `xprintidle`), or leave it unset",
                ));
            }
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

    /// `RESTOCK_HEARTBEAT_KIND` decides each monitor URL's protocol over
    /// its shape; the order check always speaks Healthchecks.
    fn apply_kinds(&mut self) {
        if let Some(kind) = self.heartbeat_kind.0 {
            self.heartbeat_url = std::mem::take(&mut self.heartbeat_url)
                .into_iter()
                .map(|u| u.with_kind(kind))
                .collect();
        }
        self.order_check_url = self
            .order_check_url
            .take()
            .map(|u| u.with_kind(MonitorKind::Healthchecks));
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

    fn load(vars: &[(&str, &str)]) -> Result<Config, String> {
        let env: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::load_from(None, &env).map_err(|e| e.to_string())
    }

    #[test]
    fn monitor_settings_are_read_once_with_urls_redacted() {
        let uuid = "5b3c9a1e-2f4d-4c6b-9e8a-7d1f0c2ba1b2";
        let e = load(&[("RESTOCK_HEARTBEAT_KIND", "pagerduty")]).unwrap_err();
        assert!(e.starts_with("RESTOCK_HEARTBEAT_KIND"), "{e}");
        assert!(e.contains("auto, healthchecks, uptime-kuma, get"), "{e}");
        let e = load(&[("RESTOCK_HEARTBEAT_PAUSED", "nope")]).unwrap_err();
        assert!(
            e.contains("RESTOCK_HEARTBEAT_PAUSED") && e.contains("`nope`"),
            "{e}"
        );
        let raw = format!("hc-ping.com/{uuid}");
        let e = load(&[("RESTOCK_HEARTBEAT_URL", &raw)]).unwrap_err();
        assert!(e.starts_with("RESTOCK_HEARTBEAT_URL"), "{e}");
        assert!(e.contains("`…a1b2"), "{e}");
        assert!(!e.contains("5b3c9a1e-2f4d"), "{e}");
        let raw = format!("ftp://hc.example.org/ping/{uuid}");
        let e = load(&[("RESTOCK_HEARTBEAT_URL", &raw)]).unwrap_err();
        assert!(e.contains("hc.example.org/…/a1b2"), "{e}");
        assert!(!e.contains("5b3c9a1e-2f4d"), "{e}");
        let e = load(&[("RESTOCK_ORDER_CHECK_URL", "not a url")]).unwrap_err();
        assert!(e.starts_with("RESTOCK_ORDER_CHECK_URL"), "{e}");
        let hc = format!("https://hc-ping.com/{uuid}");
        let c = load(&[
            ("RESTOCK_HEARTBEAT_KIND", "uptime-kuma"),
            ("RESTOCK_HEARTBEAT_URL", &hc),
            (
                "RESTOCK_ORDER_CHECK_URL",
                "https://kuma.example.org/api/push/0000aaaa2f4d",
            ),
        ])
        .unwrap();
        assert_eq!(c.heartbeat_url[0].kind, MonitorKind::UptimeKuma);
        let order_check = c.order_check_url.unwrap();
        assert_eq!(order_check.kind, MonitorKind::Healthchecks);
    }

    #[test]
    fn probe_settings_are_read_once() {
        let c = load(&[
            ("RESTOCK_SESSION_CHECK", "0 9,21 * * *"),
            ("RESTOCK_SESSION_CHECK_WINDOW", ""),
        ])
        .unwrap();
        assert_eq!(c.session_check, Schedule::Cron("0 0 9,21 * * *".into()));
        assert_eq!(c.session_check_window, None);
        let e = load(&[("RESTOCK_SESSION_CHECK_WINDOW", "25:00-26:00")]).unwrap_err();
        assert!(e.starts_with("RESTOCK_SESSION_CHECK_WINDOW"), "{e}");
        let c = load(&[("RESTOCK_SESSION_WARN", "0s")]).unwrap();
        assert_eq!(c.session_warn, Duration::ZERO, "0s never warns");
        let e = load(&[("RESTOCK_VERIFY_WINDOW", "0s")]).unwrap_err();
        assert!(e.starts_with("RESTOCK_VERIFY_WINDOW"), "{e}");
        let c = load(&[("RESTOCK_VERIFY_WINDOW", "30m")]).unwrap();
        assert_eq!(c.verify_window, Duration::from_secs(1800));
        let e = load(&[("RESTOCK_NOTIFY", "telegram://123:SECRETTOKEN@telegram")]).unwrap_err();
        assert!(e.starts_with("RESTOCK_NOTIFY"), "{e}");
        assert!(!e.contains("SECRETTOKEN"), "{e}");
    }
}
