//! Where settings come from besides the file: the `RESTOCK_*` environment
//! variables as a figment provider, and every configuration error said in
//! one line that names the variable (or file key), the value (never a
//! secret one) and what is expected.

use std::collections::BTreeMap;

use super::{Config, ConfigError};

/// The TOML keys that are maps: their env variables hold a TOML inline
/// table, e.g. `RESTOCK_CHECKOUT={name="Ada", postal_code="10115"}`.
const MAP_KEYS: [&str; 2] = ["store_urls", "checkout"];

/// The `RESTOCK_*` variables as a figment provider. Values stay strings
/// (figment's lossy extraction turns `true`/`3` into booleans and numbers
/// where a field wants them); map keys hold a TOML-like inline table, e.g.
/// `RESTOCK_CHECKOUT={name="Ada", postal_code="10115"}`. A snapshot rather
/// than `figment::providers::Env` so tests pass their own environment.
pub(super) struct EnvSnapshot(figment::value::Dict);

impl EnvSnapshot {
    pub(super) fn new(vars: &BTreeMap<String, String>) -> EnvSnapshot {
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

pub(super) fn check_env_names(vars: &BTreeMap<String, String>) -> Result<(), ConfigError> {
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

pub(super) fn invalid(key: &str, value: &str, expected: &str) -> ConfigError {
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
    (
        "heartbeat_paused",
        "`ok` (a paused engine still pings success) or `fail` (it pings failure with the pause reason)",
    ),
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
pub(super) fn describe(e: figment::Error, env: &BTreeMap<String, String>) -> String {
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
    let mut line = format!("{origin}: {}", fold_parser_message(&e.kind.to_string()));
    let secret = super::SECRET_KEYS.contains(&key.as_str());
    if let Some(value) = env.get(&env_name(&key)).filter(|_| from_env && !secret) {
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
fn fold_parser_message(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with('|') && !l.chars().all(|c| c == '^' || c == ' ')
        })
        .filter(|l| !l.chars().next().is_some_and(|c| c.is_ascii_digit()) || !l.contains(" | "))
        .collect::<Vec<_>>()
        .join("; ")
}
