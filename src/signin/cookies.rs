//! `restock login STORE --cookies FILE`: a store session copied from the
//! owner's desktop browser.
//!
//! Two formats, told apart by their first non-blank character:
//! - Netscape `cookies.txt` (curl, wget, yt-dlp, the "cookies.txt"
//!   extensions): seven tab-separated fields per line, `domain`,
//!   `include subdomains`, `path`, `secure`, `expiry` (Unix seconds, `0`
//!   for a session cookie), `name`, `value`; `#` comments, and the
//!   `#HttpOnly_` prefix on the domain;
//! - JSON: an array (or `{"cookies": [...]}`) of the shape browser
//!   extensions export, `{domain, name, value, path, secure, httpOnly,
//!   expirationDate, sameSite, hostOnly, session}` (`expires` is read too).
//!
//! Only the store's cookies are set: those whose domain is the store's
//! host, a parent of it (`.shop.example` for `www.shop.example`), or a
//! subdomain of the store's site (`accounts.shop.example`, for stores that
//! sign in on another host). The rest of the file is never read into the
//! browser. A file that does not parse, or has no unexpired cookie for the
//! store, is refused before the profile is touched.
//!
//! Setting them: headless Chromium on the profile, `Network.setCookies`,
//! then a clean close (Chromium writes cookies to disk lazily), then a
//! fresh probe says whether the store now sees the profile signed in.
//! A session cookie (no expiry) would vanish when that browser closes, so
//! it is given 30 days: restock's browser restarts for every buy, where a
//! desktop browser keeps its session cookies while it runs.
//!
//! Cookie values are credentials: they are never logged or printed; the
//! report names cookies by count and domain only.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chromiumoxide::cdp::browser_protocol::network::{
    CookieParam, CookieSameSite, SetCookiesParams, TimeSinceEpoch,
};
use serde::Deserialize;
use url::Url;

/// How long a session cookie is kept once imported.
const SESSION_COOKIE_LIFE: Duration = Duration::from_secs(30 * 24 * 3600);

/// One cookie from a file.
#[derive(Clone, PartialEq)]
pub struct Cookie {
    /// As written, without a leading dot.
    pub domain: String,
    /// Sent to this host only (no leading dot / `include subdomains` off).
    pub host_only: bool,
    pub path: String,
    pub secure: bool,
    pub http_only: bool,
    /// Unix seconds; `None` for a session cookie.
    pub expires: Option<f64>,
    pub name: String,
    pub value: String,
    pub same_site: Option<CookieSameSite>,
}

impl std::fmt::Debug for Cookie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the value: it is a credential.
        write!(f, "Cookie({} on {}{})", self.name, self.domain, self.path)
    }
}

/// Why a file was refused; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CookieError {
    #[error("cannot read {file}: {reason}")]
    Read { file: String, reason: String },
    #[error("{file} is neither a Netscape cookies.txt nor a JSON cookie export: {reason}")]
    Parse { file: String, reason: String },
    #[error("{file} has no cookie for {store}'s domain {domain}{others}; export the cookies while signed in to {store}")]
    Foreign {
        file: String,
        store: String,
        domain: String,
        others: String,
    },
    #[error("every cookie for {store}'s domain {domain} in {file} has expired; export them again while signed in")]
    Expired {
        file: String,
        store: String,
        domain: String,
    },
}

/// Reads and parses `file` (either format).
pub fn read(file: &Path) -> Result<Vec<Cookie>, CookieError> {
    let name = file.display().to_string();
    let text = std::fs::read_to_string(file).map_err(|e| CookieError::Read {
        file: name.clone(),
        reason: e.to_string(),
    })?;
    parse(&text).map_err(|reason| CookieError::Parse { file: name, reason })
}

/// Parses either format.
pub fn parse(text: &str) -> Result<Vec<Cookie>, String> {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    let cookies = if trimmed.starts_with('[') || trimmed.starts_with('{') {
        parse_json(trimmed)?
    } else {
        parse_netscape(trimmed)?
    };
    if cookies.is_empty() {
        return Err("it holds no cookies".into());
    }
    Ok(cookies)
}

fn parse_netscape(text: &str) -> Result<Vec<Cookie>, String> {
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        let (http_only, line) = match line.strip_prefix("#HttpOnly_") {
            Some(rest) => (true, rest),
            None => (false, line),
        };
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() != 7 {
            return Err(format!(
                "line {} has {} tab-separated fields, expected 7 (domain, subdomains, path, secure, expiry, name, value)",
                n + 1,
                fields.len()
            ));
        }
        let flag = |v: &str, what: &str| match v.to_ascii_uppercase().as_str() {
            "TRUE" => Ok(true),
            "FALSE" => Ok(false),
            _ => Err(format!(
                "line {}: {what} is `{v}`, expected TRUE or FALSE",
                n + 1
            )),
        };
        let expiry: f64 = fields[4]
            .trim()
            .parse()
            .map_err(|_| format!("line {}: expiry `{}` is not a number", n + 1, fields[4]))?;
        let subdomains = flag(fields[1], "the subdomains flag")?;
        out.push(Cookie {
            domain: fields[0].trim_start_matches('.').to_ascii_lowercase(),
            host_only: !subdomains && !fields[0].starts_with('.'),
            path: non_empty_path(fields[2]),
            secure: flag(fields[3], "the secure flag")?,
            http_only,
            expires: (expiry > 0.0).then_some(expiry),
            name: fields[5].to_string(),
            value: fields[6].to_string(),
            same_site: None,
        });
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(untagged)]
enum JsonFile {
    List(Vec<JsonCookie>),
    Wrapped { cookies: Vec<JsonCookie> },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonCookie {
    domain: String,
    name: String,
    value: String,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    secure: bool,
    #[serde(default)]
    http_only: bool,
    #[serde(default)]
    expiration_date: Option<f64>,
    #[serde(default)]
    expires: Option<f64>,
    #[serde(default)]
    same_site: Option<String>,
    #[serde(default)]
    host_only: Option<bool>,
    #[serde(default)]
    session: bool,
}

fn parse_json(text: &str) -> Result<Vec<Cookie>, String> {
    let file: JsonFile = serde_json::from_str(text)
        .map_err(|e| format!("not a list of {{domain, name, value, ...}} cookies ({e})"))?;
    let list = match file {
        JsonFile::List(l) | JsonFile::Wrapped { cookies: l } => l,
    };
    Ok(list
        .into_iter()
        .map(|c| {
            let expiry = c.expiration_date.or(c.expires).filter(|e| *e > 0.0);
            Cookie {
                host_only: c.host_only.unwrap_or(!c.domain.starts_with('.')),
                domain: c.domain.trim_start_matches('.').to_ascii_lowercase(),
                path: non_empty_path(c.path.as_deref().unwrap_or("/")),
                secure: c.secure,
                http_only: c.http_only,
                expires: if c.session { None } else { expiry },
                name: c.name,
                value: c.value,
                same_site: match c
                    .same_site
                    .as_deref()
                    .map(str::to_ascii_lowercase)
                    .as_deref()
                {
                    Some("strict") => Some(CookieSameSite::Strict),
                    Some("lax") => Some(CookieSameSite::Lax),
                    Some("none" | "no_restriction") => Some(CookieSameSite::None),
                    _ => None,
                },
            }
        })
        .collect())
}

fn non_empty_path(path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        "/".to_string()
    }
}

/// The store's site: its host without a leading `www.`.
pub fn site_of(base: &Url) -> String {
    let host = base.host_str().unwrap_or("").to_ascii_lowercase();
    host.strip_prefix("www.").unwrap_or(&host).to_string()
}

/// Is `cookie` one of the store's (see the module docs)?
pub fn belongs_to(cookie: &Cookie, base: &Url) -> bool {
    let host = base.host_str().unwrap_or("").to_ascii_lowercase();
    let site = site_of(base);
    let d = cookie.domain.as_str();
    if d.is_empty() {
        return false;
    }
    let under_site = d == site || d.ends_with(&format!(".{site}"));
    if cookie.host_only {
        return d == host || under_site;
    }
    let parent_of_host = host == d || host.ends_with(&format!(".{d}"));
    // A bare top-level name (`com`) is never a cookie domain.
    let parent_ok = parent_of_host && (d.contains('.') || d == host);
    parent_ok || under_site
}

/// The store's unexpired cookies from `cookies`, or why there are none.
pub fn select(
    cookies: Vec<Cookie>,
    store: &str,
    base: &Url,
    file: &str,
) -> Result<Vec<Cookie>, CookieError> {
    let domain = base.host_str().unwrap_or("").to_string();
    let (mine, others): (Vec<Cookie>, Vec<Cookie>) =
        cookies.into_iter().partition(|c| belongs_to(c, base));
    if mine.is_empty() {
        let mut seen: Vec<String> = others.iter().map(|c| c.domain.clone()).collect();
        seen.sort();
        seen.dedup();
        let shown: Vec<String> = seen.iter().take(5).cloned().collect();
        let more = seen.len().saturating_sub(shown.len());
        let others = if shown.is_empty() {
            String::new()
        } else {
            format!(
                " (it holds cookies for {}{})",
                shown.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            )
        };
        return Err(CookieError::Foreign {
            file: file.to_string(),
            store: store.to_string(),
            domain,
            others,
        });
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    let live: Vec<Cookie> = mine
        .into_iter()
        .filter(|c| c.expires.is_none_or(|e| e > now))
        .collect();
    if live.is_empty() {
        return Err(CookieError::Expired {
            file: file.to_string(),
            store: store.to_string(),
            domain,
        });
    }
    Ok(live)
}

/// The CDP form of a cookie: host-only cookies by URL (so they stay
/// host-only), the rest by domain; session cookies get
/// [`SESSION_COOKIE_LIFE`].
pub fn to_param(cookie: &Cookie, base: &Url) -> CookieParam {
    let mut p = CookieParam::new(cookie.name.clone(), cookie.value.clone());
    if cookie.host_only {
        let scheme = if cookie.secure {
            "https"
        } else {
            base.scheme()
        };
        p.url = Some(format!("{scheme}://{}{}", cookie.domain, cookie.path));
    } else {
        p.domain = Some(format!(".{}", cookie.domain));
    }
    p.path = Some(cookie.path.clone());
    p.secure = Some(cookie.secure);
    p.http_only = Some(cookie.http_only);
    p.same_site = cookie.same_site.clone();
    let expires = cookie.expires.unwrap_or_else(|| {
        (SystemTime::now() + SESSION_COOKIE_LIFE)
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64()
    });
    p.expires = Some(TimeSinceEpoch::new(expires));
    p
}

/// Sets `cookies` on `store`'s profile in a headless browser and closes it
/// cleanly. The browser is killed on every other way out.
pub async fn set_on_profile(
    settings: &crate::purchase::BrowserSettings,
    store: &str,
    base: &Url,
    cookies: &[Cookie],
) -> Result<(), String> {
    let session = super::headless_browser(settings, store)
        .await
        .map_err(|e| format!("could not start the browser: {e}"))?;
    let params: Vec<CookieParam> = cookies.iter().map(|c| to_param(c, base)).collect();
    let set = tokio::time::timeout(
        settings.step_timeout,
        session.page().execute(SetCookiesParams::new(params)),
    )
    .await;
    let result = match set {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("the browser refused the cookies: {e}")),
        Err(_) => Err("the browser did not take the cookies in time".to_string()),
    };
    session.close().await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    const TXT: &str = "# Netscape HTTP Cookie File\n\
        #HttpOnly_.shop.example\tTRUE\t/\tTRUE\t4102444800\tsid\tSECRET1\n\
        www.shop.example\tFALSE\t/\tFALSE\t0\tcart\tc1\n\
        accounts.shop.example\tFALSE\t/\tTRUE\t4102444800\tsso\ts2\n\
        .other.example\tTRUE\t/\tFALSE\t4102444800\ttrack\tt\n\
        \n";

    fn base() -> Url {
        Url::parse("https://www.shop.example/").unwrap()
    }

    #[test]
    fn netscape_files_parse_and_only_the_stores_cookies_are_kept() {
        let all = parse(TXT).unwrap();
        assert_eq!(all.len(), 4);
        assert!(all[0].http_only && !all[0].host_only && all[0].domain == "shop.example");
        assert!(all[1].host_only && all[1].expires.is_none());
        let mine = select(all, "shop", &base(), "f").unwrap();
        let names: Vec<&str> = mine.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["sid", "cart", "sso"]);
        assert!(
            !format!("{mine:?}").contains("SECRET1"),
            "values never shown"
        );
        let p = to_param(&mine[1], &base());
        assert_eq!(p.url.as_deref(), Some("https://www.shop.example/"));
        assert!(p.expires.is_some(), "a session cookie is kept for a while");
        assert_eq!(
            to_param(&mine[0], &base()).domain.as_deref(),
            Some(".shop.example")
        );
    }

    #[test]
    fn json_exports_parse() {
        let json = r#"[{"domain":".shop.example","name":"sid","value":"v","path":"/",
            "secure":true,"httpOnly":true,"expirationDate":4102444800.5,"sameSite":"no_restriction",
            "hostOnly":false,"session":false,"storeId":"0"},
            {"domain":"127.0.0.1","name":"demo_session","value":"x","hostOnly":true,"session":true}]"#;
        let all = parse(json).unwrap();
        assert_eq!(all[0].same_site, Some(CookieSameSite::None));
        assert_eq!(all[0].expires, Some(4102444800.5));
        assert!(all[1].host_only && all[1].expires.is_none());
        let wrapped = format!(r#"{{"cookies": {json}}}"#);
        assert_eq!(parse(&wrapped).unwrap().len(), 2);
        let demo = Url::parse("http://127.0.0.1:8724/").unwrap();
        let kept = select(all, "demo", &demo, "f").unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(
            to_param(&kept[0], &demo).url.as_deref(),
            Some("http://127.0.0.1/")
        );
    }

    #[test]
    fn wrong_and_foreign_files_are_refused_saying_why() {
        assert!(parse("hello world").unwrap_err().contains("expected 7"));
        assert!(parse("[]").unwrap_err().contains("no cookies"));
        assert!(parse("{\"a\":1}").is_err());
        assert!(parse("x\tTRUE\t/\tMAYBE\t0\tn\tv")
            .unwrap_err()
            .contains("TRUE or FALSE"));
        let foreign = parse(".other.example\tTRUE\t/\tFALSE\t0\tn\tv\n").unwrap();
        let err = select(foreign, "shop", &base(), "c.txt")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no cookie for shop's domain www.shop.example"),
            "{err}"
        );
        assert!(err.contains("other.example"), "{err}");
        let old = parse(".shop.example\tTRUE\t/\tFALSE\t1000\tn\tv\n").unwrap();
        assert!(matches!(
            select(old, "shop", &base(), "c.txt"),
            Err(CookieError::Expired { .. })
        ));
        // A cookie for a bare top-level name is nobody's.
        let tld = parse(".example\tTRUE\t/\tFALSE\t0\tn\tv\n").unwrap();
        assert!(select(tld, "shop", &base(), "c.txt").is_err());
    }
}
