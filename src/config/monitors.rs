//! The dead-man's switch's settings that are words: `RESTOCK_HEARTBEAT_KIND`
//! and `RESTOCK_HEARTBEAT_PAUSED`. (The monitor URLs themselves are
//! [`crate::urls::MonitorUrl`].)

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::model::MonitorKind;

/// `RESTOCK_HEARTBEAT_KIND`: `auto` (judge each URL by its shape) or one
/// protocol for every monitor URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KindSetting(pub Option<MonitorKind>);

impl FromStr for KindSetting {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "auto" => Ok(KindSetting(None)),
            other => other.parse().map(|k| KindSetting(Some(k))).map_err(|_| {
                let names: Vec<&str> = MonitorKind::all().map(MonitorKind::as_str).collect();
                format!("`{other}`: expected one of auto, {}", names.join(", "))
            }),
        }
    }
}

impl fmt::Display for KindSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.map_or("auto", MonitorKind::as_str))
    }
}

impl Serialize for KindSetting {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for KindSetting {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// `RESTOCK_HEARTBEAT_PAUSED`: what a paused (but alive) engine's pings say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PausedPing {
    /// Success, as when running: the monitor watches liveness only.
    Ok,
    /// Failure with the pause reason, so the monitor alerts on a pause too.
    Fail,
}
