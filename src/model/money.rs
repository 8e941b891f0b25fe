//! Money: integer cents, so caps and ceilings compare exactly, and the
//! reading of an amount out of what a store prints.
//!
//! Stores print amounts among other numbers: "Total (2 items): $32.39,
//! incl. $2.40 tax", "2 for $5.00", "Was $12.99 Now $9.99", "Total: 32.39
//! USD (incl. 7% VAT)". [`Money::read`] reads them as a person does: it
//! finds the numbers that look like money (a currency sign or code next to
//! them, or, when no number in the text has one, the store's number format
//! with two decimals, or a text that is one number and nothing else), and
//! takes the one amount there is. Several *different* amounts with no way
//! to choose is a failed read, never a guess: a misread must never make a
//! buy look cheaper than the page says. A store definition can say which
//! amount to take ([`Pick`]); `largest` is the safe choice for a total
//! printed next to its tax or discount.
//!
//! Number formats: `.` or `,` followed by one or two digits at the end is
//! the decimal separator; `.`, `,`, `'`, and no-break or thin spaces
//! between groups of three digits are thousands marks (`1,234.50`,
//! `1.234,50`, `1'234.50`, `1 234,50`).

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// An amount in the store's currency, in hundredths (cents). Integer so that
/// caps and ceilings compare exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(pub i64);

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not an amount; write it like `12.50` (a dot or comma, at most two decimals)")]
pub struct ParseMoneyError(pub String);

/// Which amount to take when a text shows several (a store definition's
/// `pick`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pick {
    /// The text must show one amount (the same amount twice is one).
    #[default]
    Only,
    First,
    Last,
    /// The largest: for a total printed with its tax or savings, the safe
    /// choice (the guards never approve less than the page may charge).
    Largest,
}

/// Why no amount could be read from a text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadMoneyError {
    #[error("no amount in {0:?}")]
    None(String),
    #[error(
        "{text:?} shows several amounts ({}); the store definition must say which (`pick = \"first\"`, `\"last\"` or `\"largest\"`)",
        .amounts.iter().map(Money::to_string).collect::<Vec<_>>().join(", ")
    )]
    Ambiguous { text: String, amounts: Vec<Money> },
}

/// One number found in a text.
struct Candidate {
    amount: Money,
    /// A currency sign or code stands next to it.
    currency: bool,
    /// It has one or two decimals.
    decimals: bool,
}

/// Currency signs and ISO codes recognised next to a number.
const CURRENCY: &str =
    r"[€$£¥₹₽₺₩]|\b(?:EUR|USD|GBP|CHF|CAD|AUD|NZD|SEK|NOK|DKK|PLN|CZK|HUF|JPY|INR)\b|\bkr\b|\bzł";

fn pattern() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        let number = r"\d{1,3}(?:[.,'\u{a0}\u{202f}]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?";
        Regex::new(&format!(
            r"(?P<pre>{CURRENCY})?\s?(?P<neg>-)?(?P<num>{number})(?P<tail>\d*)\s?(?P<post>{CURRENCY}|%|,-)?"
        ))
        .expect("the money pattern is a valid regex")
    })
}

fn candidates(text: &str) -> Vec<Candidate> {
    let mut out = Vec::new();
    for c in pattern().captures_iter(text) {
        // Digits running on past two decimals (`12.505`) are no amount.
        if !c["tail"].is_empty() {
            continue;
        }
        let post = c.name("post").map(|m| m.as_str());
        if post == Some("%") {
            continue;
        }
        let num = &c["num"];
        let Some(cents) = cents_of(num) else { continue };
        let negative = c.name("neg").is_some();
        out.push(Candidate {
            amount: Money(if negative { -cents } else { cents }),
            currency: c.name("pre").is_some() || post.is_some_and(|p| p != ",-"),
            decimals: decimal_split(num).is_some(),
        });
    }
    out
}

/// Where the decimal separator is: the last `.` or `,` followed by one or
/// two digits and nothing else.
fn decimal_split(num: &str) -> Option<usize> {
    let i = num.rfind(['.', ','])?;
    let frac = &num[i + 1..];
    (matches!(frac.len(), 1 | 2) && frac.chars().all(|c| c.is_ascii_digit())).then_some(i)
}

fn cents_of(num: &str) -> Option<i64> {
    let (int_part, frac) = match decimal_split(num) {
        Some(i) => (&num[..i], &num[i + 1..]),
        None => (num, ""),
    };
    let digits: String = int_part.chars().filter(char::is_ascii_digit).collect();
    let int: i64 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    let frac: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().ok()? * 10,
        _ => frac.parse().ok()?,
    };
    int.checked_mul(100)?.checked_add(frac)
}

impl Money {
    pub fn cents(self) -> i64 {
        self.0
    }

    /// Reads the amount a person reads in `text` (see the module docs);
    /// `pick` chooses among several different ones.
    pub fn read(text: &str, pick: Pick) -> Result<Money, ReadMoneyError> {
        let all = candidates(text);
        let with_currency: Vec<&Candidate> = all.iter().filter(|c| c.currency).collect();
        let money: Vec<Money> = if !with_currency.is_empty() {
            with_currency.iter().map(|c| c.amount).collect()
        } else {
            let with_decimals: Vec<Money> = all
                .iter()
                .filter(|c| c.decimals)
                .map(|c| c.amount)
                .collect();
            match (with_decimals.is_empty(), all.len()) {
                (false, _) => with_decimals,
                // A text that is one bare number (a `data-price="12"`).
                (true, 1) => vec![all[0].amount],
                _ => Vec::new(),
            }
        };
        let mut distinct = money.clone();
        distinct.dedup();
        distinct.sort();
        distinct.dedup();
        match (distinct.len(), pick) {
            (0, _) => Err(ReadMoneyError::None(text.to_string())),
            (1, _) => Ok(distinct[0]),
            (_, Pick::Only) => Err(ReadMoneyError::Ambiguous {
                text: text.to_string(),
                amounts: money,
            }),
            (_, Pick::First) => Ok(money[0]),
            (_, Pick::Last) => Ok(money[money.len() - 1]),
            (_, Pick::Largest) => Ok(distinct[distinct.len() - 1]),
        }
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
        let cents = ok
            .then(|| cents_of(t.strip_suffix('.').unwrap_or(t)))
            .flatten();
        cents
            .map(Money)
            .ok_or_else(|| ParseMoneyError(s.to_string()))
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

    fn read(text: &str) -> Result<Money, ReadMoneyError> {
        Money::read(text, Pick::Only)
    }

    #[test]
    fn locale_formats_read_as_before() {
        for (text, cents) in [
            ("€6.49", 649),
            ("EUR 6,49", 649),
            ("1,234.50", 123450),
            ("12", 1200),
            ("9.9", 990),
            ("1.234,5", 123450),
            ("€12.34", 1234),
            ("12,34 €", 1234),
            ("1'234.50 CHF", 123450),
            ("1\u{a0}234,50\u{a0}€", 123450),
            ("$1,234", 123400),
            ("12,-", 1200),
            ("  Price: £3.99 ", 399),
        ] {
            assert_eq!(read(text), Ok(Money(cents)), "{text}");
        }
        assert!(read("free").is_err());
        assert!(read("").is_err());
    }

    #[test]
    fn other_numbers_beside_the_amount_are_not_money() {
        assert_eq!(read("2 for $5.00"), Ok(Money(500)));
        assert_eq!(read("Total: 32.39 USD (incl. 7% VAT)"), Ok(Money(3239)));
        assert_eq!(read("Qty 3 at 4.50 each"), Ok(Money(450)));
        assert_eq!(read("Total (1 item): €9.99"), Ok(Money(999)));
        // The same amount twice is one amount.
        assert_eq!(read("€5.00 (was €5.00)"), Ok(Money(500)));
    }

    #[test]
    fn several_amounts_fail_unless_the_definition_picks() {
        let text = "Total (2 items): $32.39, incl. $2.40 tax";
        let e = read(text).unwrap_err();
        assert!(matches!(e, ReadMoneyError::Ambiguous { .. }), "{e}");
        assert!(
            e.to_string().contains("32.39, 2.40") && e.to_string().contains("pick"),
            "{e}"
        );
        assert_eq!(Money::read(text, Pick::First), Ok(Money(3239)));
        assert_eq!(Money::read(text, Pick::Last), Ok(Money(240)));
        assert_eq!(Money::read(text, Pick::Largest), Ok(Money(3239)));
        let was = "Was $12.99 Now $9.99";
        assert!(read(was).is_err(), "never a guess");
        assert_eq!(Money::read(was, Pick::Last), Ok(Money(999)));
        // Two bare numbers and nothing that looks like money: no guess.
        assert!(read("2 3").is_err());
    }

    #[test]
    fn a_misread_never_makes_a_total_cheaper_than_the_page() {
        // What the old reader made of these (every digit kept) and what a
        // person reads.
        for (text, old_reading, right) in [
            ("Total (2 items): $32.39", 23239, 3239),
            ("2 for $5.00", 2500, 500),
            ("Total: 32.39 USD (incl. 7% VAT)", 323970, 3239),
        ] {
            let got = read(text).unwrap();
            assert_eq!(got, Money(right), "{text}");
            assert_ne!(got, Money(old_reading));
        }
        assert!(read("Was $12.99 Now $9.99").is_err());
    }

    #[test]
    fn money_config_form_is_strict() {
        assert_eq!("12.50".parse::<Money>(), Ok(Money(1250)));
        assert_eq!("12".parse::<Money>(), Ok(Money(1200)));
        assert_eq!("9.9".parse::<Money>(), Ok(Money(990)));
        assert!("12.505".parse::<Money>().is_err());
        assert!("€12".parse::<Money>().is_err());
        assert!("".parse::<Money>().is_err());
        assert!("1.2.3".parse::<Money>().is_err());
    }
}
