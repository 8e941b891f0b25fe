//! Money: integer cents, so caps and ceilings compare exactly.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An amount in the store's currency, in hundredths (cents). Integer so that
/// caps and ceilings compare exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(pub i64);

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
#[error("`{0}` is not an amount; write it like `12.50` (a dot or comma, at most two decimals)")]
pub struct ParseMoneyError(pub String);

impl Money {
    pub fn cents(self) -> i64 {
        self.0
    }

    /// Reads an amount as stores print it: `€12.50`, `EUR 12,50`, `1,234.50`,
    /// `12`. The last `.` or `,` followed by one or two digits is the decimal
    /// separator; other separators are thousands marks.
    pub fn parse_loose(text: &str) -> Result<Money, ParseMoneyError> {
        let err = || ParseMoneyError(text.to_string());
        let kept: String = text
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == '.' || *c == ',' || *c == '-')
            .collect();
        if !kept.chars().any(|c| c.is_ascii_digit()) {
            return Err(err());
        }
        let negative = kept.starts_with('-');
        let kept = kept.trim_start_matches('-');
        let (int_part, frac_part) = match kept.rfind(['.', ',']) {
            Some(i) if kept.len() - i - 1 <= 2 && kept.len() - i > 1 => {
                (&kept[..i], &kept[i + 1..])
            }
            _ => (kept, ""),
        };
        let int_digits: String = int_part.chars().filter(|c| c.is_ascii_digit()).collect();
        if int_part.chars().any(|c| c == '-') {
            return Err(err());
        }
        let int: i64 = if int_digits.is_empty() {
            0
        } else {
            int_digits.parse().map_err(|_| err())?
        };
        let frac: i64 = match frac_part.len() {
            0 => 0,
            1 => frac_part.parse::<i64>().map_err(|_| err())? * 10,
            _ => frac_part.parse().map_err(|_| err())?,
        };
        let cents = int
            .checked_mul(100)
            .and_then(|v| v.checked_add(frac))
            .ok_or_else(err)?;
        Ok(Money(if negative { -cents } else { cents }))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        write!(f, "{sign}{}.{:02}", self.0.abs() / 100, self.0.abs() % 100)
    }
}

impl FromStr for Money {
    type Err = ParseMoneyError;
    /// Strict form for configuration: digits with an optional `.` and at most
    /// two decimals.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let ok = !t.is_empty()
            && t.chars().all(|c| c.is_ascii_digit() || c == '.')
            && t.matches('.').count() <= 1
            && t.split('.')
                .nth(1)
                .is_none_or(|f| !f.is_empty() && f.len() <= 2);
        if !ok {
            return Err(ParseMoneyError(s.to_string()));
        }
        Money::parse_loose(t)
    }
}

impl Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Money {
    /// Accepts `"12.50"` or a bare number (`12.5`, `12`) in TOML and JSON.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Int(i64),
            Float(f64),
        }
        let text = match Raw::deserialize(d)? {
            Raw::Text(t) => t,
            Raw::Int(i) => i.to_string(),
            Raw::Float(f) => format!("{f:.2}"),
        };
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_reads_store_formats() {
        for (text, cents) in [
            ("€6.49", 649),
            ("EUR 6,49", 649),
            ("1,234.50", 123450),
            ("12", 1200),
            ("9.9", 990),
            ("1.234,5", 123450),
        ] {
            assert_eq!(Money::parse_loose(text), Ok(Money(cents)), "{text}");
        }
        assert!(Money::parse_loose("free").is_err());
    }

    #[test]
    fn money_config_form_is_strict() {
        assert_eq!("12.50".parse::<Money>(), Ok(Money(1250)));
        assert!("12.505".parse::<Money>().is_err());
        assert!("€12".parse::<Money>().is_err());
        assert!("".parse::<Money>().is_err());
    }
}
