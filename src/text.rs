//! Text for people: how long ago something was, a long text cut to a line,
//! and a secret shown without its secret part. Bottom layer, like
//! [`crate::model`]: every part that writes for a human uses these, so the
//! CLI, logs, notifications and `/health` say things the same way.
//!
//! Relative times ("3h ago") are only ever rendered when shown; a message
//! that is stored (an order's `message`, a pause reason) carries an
//! absolute time ([`at`]), so it stays true however late it is read.

use crate::model::{now_ms, SessionState, StoreSession};

/// `45s`, `3m`, `2h`, `6d`: a duration rounded down to its largest unit.
pub fn span(ms: i64) -> String {
    Span(ms).to_string()
}

/// [`span`] as a `Display`, to write into a buffer without a `String` of
/// its own (the home page writes thousands).
#[derive(Debug, Clone, Copy)]
pub struct Span(pub i64);

impl std::fmt::Display for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = (self.0.max(0) / 1000) as u64;
        match secs {
            0..=59 => write!(f, "{secs}s"),
            60..=3599 => write!(f, "{}m", secs / 60),
            3600..=86399 => write!(f, "{}h", secs / 3600),
            _ => write!(f, "{}d", secs / 86400),
        }
    }
}

/// `45 s`, `15 min`, `3 h`, `6 d`: a duration rounded down to its largest
/// unit, for sentences ("expires in 6 d", "not in the order history after
/// 15 min").
pub fn span_words(ms: i64) -> String {
    let secs = (ms.max(0) / 1000) as u64;
    match secs {
        0..=59 => format!("{secs} s"),
        60..=3599 => format!("{} min", secs / 60),
        3600..=86399 => format!("{} h", secs / 3600),
        _ => format!("{} d", secs / 86400),
    }
}

/// `expires in 6 d`, or `expired 2 h ago` once `ms` has passed.
pub fn expiry(ms: i64) -> String {
    let left = ms - now_ms();
    if left > 0 {
        format!("expires in {}", span_words(left))
    } else {
        format!("expired {} ago", span_words(-left))
    }
}

/// `3m ago`: how long before now `ms` was (a time in the future reads as
/// `0s ago`).
pub fn ago(ms: i64) -> String {
    format!("{} ago", span(now_ms() - ms))
}

/// `2026-12-02 11:42 UTC`: an absolute time for text that is stored.
pub fn at(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| format!("{ms} ms after the epoch"))
}

/// `text` cut to at most `max` characters, the cut marked with `…`.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `text` on one line (runs of white space, newlines included, become one
/// space), cut to `max` characters.
pub fn one_line(text: &str, max: usize) -> String {
    truncate(&text.split_whitespace().collect::<Vec<_>>().join(" "), max)
}

/// A secret's last 4 characters (`…a1b2`), so an owner can tell two
/// apart; a secret under 8 characters is masked whole (`***`).
pub fn mask(secret: &str) -> String {
    match last4(secret) {
        Some(tail) => format!("…{tail}"),
        None => "***".into(),
    }
}

/// The last 4 characters of a secret of at least 8; `None` for a shorter
/// one, which cannot spare any.
pub fn last4(secret: &str) -> Option<String> {
    let chars: Vec<char> = secret.chars().collect();
    (chars.len() >= 8).then(|| chars[chars.len() - 4..].iter().collect())
}

/// A value that should be a URL with secrets in it (a monitor or
/// notification URL, a webhook), shown safely even when it does not parse:
/// the scheme and host stay, user info becomes `***@`, and the path and
/// query are masked ([`mask`]): `https://***@hook.example/…/ey=1`. Not a
/// URL at all: `…a1b2 (36 characters)`.
pub fn redact_url(raw: &str) -> String {
    let raw = raw.trim();
    match url::Url::parse(raw) {
        Ok(u) if u.host_str().is_some_and(|h| !h.is_empty()) => {
            let mut out = format!("{}://", u.scheme());
            if !u.username().is_empty() || u.password().is_some() {
                out.push_str("***@");
            }
            out.push_str(u.host_str().unwrap_or(""));
            if let Some(port) = u.port() {
                out.push_str(&format!(":{port}"));
            }
            let mut tail = u.path().trim_matches('/').to_string();
            if let Some(q) = u.query() {
                tail.push('?');
                tail.push_str(q);
            }
            if !tail.is_empty() {
                out.push_str(&format!("/…/{}", last4(&tail).unwrap_or_default()));
            }
            out
        }
        _ => {
            let len = raw.chars().count();
            match raw.split_once("://") {
                Some((scheme, _))
                    if !scheme.is_empty()
                        && scheme
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '+') =>
                {
                    format!("{scheme}://… ({len} characters)")
                }
                _ => format!("{} ({len} characters)", mask(raw)),
            }
        }
    }
}

/// `signed in, expires in 6 d (checked 2h ago)`, for `restock status`,
/// `GET /stores` and the doctor.
pub fn session(row: &StoreSession) -> String {
    let state = match row.state {
        SessionState::SignedIn => match row.expires_at {
            Some(at) => format!("signed in, {}", expiry(at)),
            None => "signed in".to_string(),
        },
        SessionState::SignedOut => format!(
            "SIGNED OUT since {}: run `restock login {}`",
            ago(row.since),
            row.store
        ),
        SessionState::Unknown => "unknown".to_string(),
    };
    let checked = match row.checked_at {
        Some(t) => format!("checked {}", ago(t)),
        None => "never checked".to_string(),
    };
    let last = match (row.last_result, &row.last_error) {
        (Some(SessionState::Unknown), Some(e)) if row.state != SessionState::Unknown => {
            format!(": last check inconclusive, {e}")
        }
        (_, Some(e)) => format!(": {e}"),
        _ => String::new(),
    };
    format!("{state} ({checked}{last})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_absolute_times() {
        assert_eq!(span(59_999), "59s");
        assert_eq!(span(3 * 3_600_000), "3h");
        assert_eq!(span(-5), "0s");
        assert_eq!(at(1_764_675_720_000), "2025-12-02 11:42 UTC");
        assert_eq!(span_words(900_000), "15 min");
        assert_eq!(span_words(6 * 86_400_000 + 5), "6 d");
        assert_eq!(span_words(2_500), "2 s");
        assert!(expiry(now_ms() + 6 * 86_400_000 + 60_000).starts_with("expires in 6 d"));
        assert!(expiry(now_ms() - 3 * 3_600_000).starts_with("expired 3 h ago"));
    }

    #[test]
    fn cuts_are_marked() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
        assert_eq!(one_line("a\n  b\tc", 10), "a b c");
    }

    #[test]
    fn secrets_never_show_whole() {
        assert_eq!(
            redact_url("generic+https://user:pw@hook.example/abc/def?key=1"),
            "generic+https://***@hook.example/…/ey=1"
        );
        assert_eq!(
            redact_url("ftp://hc.example.org/ping/5b3c9a1e-2f4d-4c6b-9e8a-7d1f0c2ba1b2"),
            "ftp://hc.example.org/…/a1b2"
        );
        assert_eq!(
            redact_url("hc-ping.com/5b3c9a1e-2f4d-4c6b-9e8a-7d1f0c2ba1b2"),
            "…a1b2 (48 characters)"
        );
        assert_eq!(redact_url("nonsense"), "…ense (8 characters)");
        assert_eq!(redact_url("short"), "*** (5 characters)");
        assert_eq!(
            redact_url("weird://[bad/secret"),
            "weird://… (19 characters)"
        );
        assert_eq!(mask("tk_abcdefgh"), "…efgh");
        assert_eq!(mask("abc"), "***");
    }
}
