//! Signed-in browsers and form tokens: the intake token asked for once and
//! kept as a session cookie, and the CSRF token every form carries.
//!
//! Reusable by any page restock serves to a person (nothing here knows the
//! home page): [`Sessions`] is built from the token, a cookie name and a
//! lifetime.
//!
//! - **Stateless and signed.** A cookie is `<expiry>.<nonce>.<mac>`: the
//!   expiry (seconds since the epoch), 128 random bits, and an HMAC-SHA256
//!   of both under a key derived from the intake token. Nothing is stored,
//!   so a session survives a restart, and **changing the token ends every
//!   session at once** (the old macs no longer verify). Macs are compared
//!   in constant time (`ring::hmac::verify`).
//! - **Expiring.** The cookie's `Max-Age` and the signed expiry are both
//!   the configured lifetime; an expiry further out than the lifetime
//!   allows (the lifetime was shortened since) is refused too.
//! - **Never readable by script, never sent cross-site**: `HttpOnly`,
//!   `SameSite=Strict`, `Secure` when served at an `https` public address,
//!   `Path` the public address's path.
//! - **Form tokens** are an HMAC of the session's nonce (a synchronizer
//!   token that needs no storage): a page of another site can neither read
//!   one nor make one. Without a configured token there are no sessions;
//!   the form token is then an HMAC under a key drawn at start-up, the
//!   same for everyone who can read the page (which, without a token, is
//!   anyone who reaches it), and new after a restart (an old page's form
//!   is refused as out of date).

use std::time::Duration;

use ring::hmac;
use subtle::ConstantTimeEq;

/// A signed-in browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// 32 hex digits: what this browser's form tokens are made from.
    nonce: String,
    /// When it ends, seconds since the epoch.
    pub expires_s: i64,
}

/// Why a cookie does not sign a browser in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    /// Not a session cookie at all.
    Malformed,
    /// Signed under another key: a forged cookie, or the token changed.
    Signature,
    Expired,
}

/// Sessions under one token; one per server.
pub struct Sessions {
    /// From the token (sessions and form tokens), or drawn at start-up
    /// when there is no token (form tokens only).
    key: hmac::Key,
    token: Option<Box<str>>,
    ttl: Duration,
    cookie: &'static str,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("ttl", &self.ttl)
            .field("cookie", &self.cookie)
            .finish()
    }
}

impl Sessions {
    /// Sessions for `token` (none: no sign-in, form tokens only), kept in
    /// cookie `cookie` for `ttl`.
    pub fn new(token: Option<&str>, cookie: &'static str, ttl: Duration) -> Sessions {
        let key = match token {
            Some(token) => {
                // Derived, so the token itself is never the key of a mac a
                // browser holds, and another use of it gets another key.
                let root = hmac::Key::new(hmac::HMAC_SHA256, token.as_bytes());
                let derived = hmac::sign(
                    &root,
                    format!("restock session key v1\0{cookie}").as_bytes(),
                );
                hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref())
            }
            None => {
                let mut bytes = [0u8; 32];
                getrandom::fill(&mut bytes).expect("the operating system's RNG is unavailable");
                hmac::Key::new(hmac::HMAC_SHA256, &bytes)
            }
        };
        Sessions {
            key,
            token: token.map(Box::from),
            ttl,
            cookie,
        }
    }

    /// A token is configured: browsers sign in with it.
    pub fn needs_sign_in(&self) -> bool {
        self.token.is_some()
    }

    /// The cookie's name.
    pub fn cookie_name(&self) -> &'static str {
        self.cookie
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Is `presented` the configured token? Constant time; `false` when
    /// none is configured.
    pub fn is_token(&self, presented: &str) -> bool {
        self.token
            .as_deref()
            .is_some_and(|t| bool::from(t.as_bytes().ct_eq(presented.as_bytes())))
    }

    /// A new session from `now_ms`, and its cookie value. `None` without a
    /// token (there is nothing to sign in to).
    pub fn issue(&self, now_ms: i64) -> Option<(Session, String)> {
        self.token.as_ref()?;
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).expect("the operating system's RNG is unavailable");
        let nonce = hex(&bytes);
        let expires_s = now_ms.div_euclid(1000) + self.ttl.as_secs() as i64;
        let mac = hmac::sign(&self.key, session_message(expires_s, &nonce).as_bytes());
        let value = format!("{expires_s}.{nonce}.{}", hex(mac.as_ref()));
        Some((Session { nonce, expires_s }, value))
    }

    /// The session a cookie value stands for at `now_ms`.
    pub fn verify(&self, value: &str, now_ms: i64) -> Result<Session, Invalid> {
        if self.token.is_none() {
            return Err(Invalid::Signature);
        }
        let mut parts = value.split('.');
        let (Some(expires), Some(nonce), Some(mac), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Invalid::Malformed);
        };
        let expires_s: i64 = expires.parse().map_err(|_| Invalid::Malformed)?;
        if nonce.len() != 32 || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Invalid::Malformed);
        }
        let mac = unhex(mac).ok_or(Invalid::Malformed)?;
        hmac::verify(
            &self.key,
            session_message(expires_s, nonce).as_bytes(),
            &mac,
        )
        .map_err(|_| Invalid::Signature)?;
        let now_s = now_ms.div_euclid(1000);
        // A minute's grace for a clock that moved back a little.
        if expires_s <= now_s || expires_s > now_s + self.ttl.as_secs() as i64 + 60 {
            return Err(Invalid::Expired);
        }
        Ok(Session {
            nonce: nonce.to_string(),
            expires_s,
        })
    }

    /// The `Set-Cookie` value for a new session: for `path`, `Secure` when
    /// the browser reached an `https` address.
    pub fn set_cookie(&self, value: &str, path: &str, secure: bool) -> String {
        format!(
            "{}={value}; Path={path}; Max-Age={}; HttpOnly; SameSite=Strict{}",
            self.cookie,
            self.ttl.as_secs(),
            if secure { "; Secure" } else { "" }
        )
    }

    /// The `Set-Cookie` value that signs this browser out.
    pub fn clear_cookie(&self, path: &str, secure: bool) -> String {
        format!(
            "{}=; Path={path}; Max-Age=0; HttpOnly; SameSite=Strict{}",
            self.cookie,
            if secure { "; Secure" } else { "" }
        )
    }

    /// The form token for `session` (or, without sign-in, the server's).
    pub fn form_token(&self, session: Option<&Session>) -> String {
        let nonce = session.map_or("open", |s| s.nonce.as_str());
        let mac = hmac::sign(&self.key, format!("form\0{nonce}").as_bytes());
        hex(&mac.as_ref()[..16])
    }

    /// Is `presented` the form token for `session`? Constant time.
    pub fn is_form_token(&self, session: Option<&Session>, presented: &str) -> bool {
        let expected = self.form_token(session);
        expected.len() == presented.len()
            && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
    }
}

fn session_message(expires_s: i64, nonce: &str) -> String {
    format!("session\0{expires_s}\0{nonce}")
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 || text.len() > 128 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86400);
    const NOW: i64 = 1_764_675_720_000;

    #[test]
    fn a_session_verifies_until_it_expires_and_not_under_another_token() {
        let s = Sessions::new(Some("t0ken"), "c", DAY);
        let (session, value) = s.issue(NOW).unwrap();
        assert_eq!(s.verify(&value, NOW), Ok(session.clone()));
        assert_eq!(s.verify(&value, NOW + 86_399_000), Ok(session));
        assert_eq!(s.verify(&value, NOW + 86_400_000), Err(Invalid::Expired));
        // The token changed: every session ends.
        let other = Sessions::new(Some("t0ken2"), "c", DAY);
        assert_eq!(other.verify(&value, NOW), Err(Invalid::Signature));
        // The lifetime was shortened: a longer session ends.
        let shorter = Sessions::new(Some("t0ken"), "c", Duration::from_secs(3600));
        assert_eq!(shorter.verify(&value, NOW), Err(Invalid::Expired));
        // Tampering with any part breaks the signature.
        let (exp, rest) = value.split_once('.').unwrap();
        let later = format!("{}.{rest}", exp.parse::<i64>().unwrap() + 10);
        assert_eq!(s.verify(&later, NOW), Err(Invalid::Signature));
        let mut flipped = value.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(s.verify(&flipped, NOW), Err(Invalid::Signature));
        for junk in ["", "a.b.c", "1.2", "1.zz.00", &format!("{value}.x")] {
            assert_eq!(s.verify(junk, NOW), Err(Invalid::Malformed), "{junk}");
        }
        // Without a token nothing signs in.
        let open = Sessions::new(None, "c", DAY);
        assert!(open.issue(NOW).is_none());
        assert_eq!(open.verify(&value, NOW), Err(Invalid::Signature));
        assert!(!open.is_token(""));
        assert!(s.is_token("t0ken") && !s.is_token("t0ke") && !s.is_token("t0ken "));
    }

    #[test]
    fn form_tokens_belong_to_one_session() {
        let s = Sessions::new(Some("t0ken"), "c", DAY);
        let (a, _) = s.issue(NOW).unwrap();
        let (b, _) = s.issue(NOW).unwrap();
        let ta = s.form_token(Some(&a));
        assert_eq!(ta.len(), 32);
        assert!(s.is_form_token(Some(&a), &ta));
        assert!(!s.is_form_token(Some(&b), &ta));
        assert!(!s.is_form_token(None, &ta));
        assert!(!s.is_form_token(Some(&a), ""));
        // Without sign-in: one per server, new after a restart.
        let open = Sessions::new(None, "c", DAY);
        let t = open.form_token(None);
        assert!(open.is_form_token(None, &t));
        assert!(!Sessions::new(None, "c", DAY).is_form_token(None, &t));
    }

    #[test]
    fn cookies_are_http_only_strict_and_expiring() {
        let s = Sessions::new(Some("t0ken"), "restock_home", DAY);
        let set = s.set_cookie("v", "/restock/", true);
        assert_eq!(
            set,
            "restock_home=v; Path=/restock/; Max-Age=86400; HttpOnly; SameSite=Strict; Secure"
        );
        assert!(s.clear_cookie("/", false).contains("Max-Age=0"));
        assert!(!format!("{s:?}").contains("t0ken"));
    }
}
