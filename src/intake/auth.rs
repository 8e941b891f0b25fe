//! Who may ask restock's HTTP server for what: the intake token, the
//! "is this caller on this machine" rule, and the refusal to serve an
//! address other machines reach without a token.
//!
//! Shared by the intake's routes, the sign-in routes and the home page
//! (`src/web`), so all of them answer the same way:
//! - with `RESTOCK_INTAKE_TOKEN` set, a protected route needs it, as
//!   `Authorization: Bearer <token>` or `X-Restock-Token: <token>`,
//!   compared in constant time;
//! - without a token, protected routes are open to whoever reaches the
//!   server, which `serve` only allows on a loopback address unless the
//!   owner opts in with `RESTOCK_INTAKE_OPEN=true` ([`check_exposure`]);
//! - minting a sign-in link is stricter: without a token only a caller on
//!   this machine (a loopback peer) may do it, even when the owner opted in
//!   to an open intake, because a link is a live browser on a signed-in
//!   store profile ([`may_mint`]);
//! - a browser's request that changes something must come from restock's
//!   own page ([`same_origin`]), and cookies are read one way ([`cookie`]).

use std::net::{IpAddr, SocketAddr};

use axum::http::{header, HeaderMap};
use subtle::ConstantTimeEq;

/// Why a protected request is refused (always 401).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRefused {
    Missing,
    Wrong,
}

impl TokenRefused {
    pub fn message(&self) -> &'static str {
        match self {
            TokenRefused::Missing => {
                "missing token: send `Authorization: Bearer <RESTOCK_INTAKE_TOKEN>` or `X-Restock-Token`"
            }
            TokenRefused::Wrong => "wrong token",
        }
    }
}

/// The token the request carries, if any.
pub fn presented(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("x-restock-token")
        .and_then(|v| v.to_str().ok())
        .or_else(|| {
            headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
        })
}

/// Checks the request against the configured token; `expected: None`
/// (no token configured) lets every request through.
pub fn check_token(expected: Option<&str>, headers: &HeaderMap) -> Result<(), TokenRefused> {
    let Some(expected) = expected else {
        return Ok(());
    };
    match presented(headers) {
        Some(t) if bool::from(t.as_bytes().ct_eq(expected.as_bytes())) => Ok(()),
        Some(_) => Err(TokenRefused::Wrong),
        None => Err(TokenRefused::Missing),
    }
}

/// May this caller mint a sign-in link? With a token configured: the token
/// (checked by [`check_token`] before this). Without one: only a peer on
/// this machine.
pub fn may_mint(token_configured: bool, peer: Option<SocketAddr>) -> bool {
    token_configured || peer.is_some_and(|p| is_loopback(p.ip()))
}

/// 127.0.0.0/8, ::1, and IPv4-mapped loopback.
pub fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// `serve` (and `restock login --remote`'s own server) on `listen`: `Ok`
/// with an optional warning to log at every start, or the one line that
/// says why it must not start and how to fix it.
pub fn check_exposure(
    listen: SocketAddr,
    token: Option<&str>,
    intake_open: bool,
) -> Result<Option<String>, String> {
    if is_loopback(listen.ip()) || token.is_some() {
        return Ok(None);
    }
    if intake_open {
        return Ok(Some(format!(
            "RESTOCK_INTAKE_OPEN=true: serving {listen} without RESTOCK_INTAKE_TOKEN; anyone who can reach it can order (sign-in links stay limited to this machine)"
        )));
    }
    Err(format!(
        "RESTOCK_LISTEN = `{listen}` is reachable from other machines but RESTOCK_INTAKE_TOKEN is not set, so anyone who reaches it could order: set RESTOCK_INTAKE_TOKEN, listen on 127.0.0.1, or set RESTOCK_INTAKE_OPEN=true to serve it open anyway"
    ))
}

/// Where a client on this machine reaches a server listening on `listen`:
/// an unspecified address (`0.0.0.0`, `::`) is reached on loopback.
pub fn local_address(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::from([127, 0, 0, 1]),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

/// A browser's request (a sign-in page's WebSocket, a home page's form)
/// must come from this server's own page: its `Origin` is the `Host` it
/// asked, or the public address `base`. A client that sends no `Origin` is
/// not a browser page (and still needs its credential).
pub fn same_origin(headers: &HeaderMap, base: &url::Url) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let Ok(origin) = url::Url::parse(origin) else {
        return false;
    };
    let authority = |u: &url::Url| {
        u.host_str()
            .map(|h| match u.port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_string(),
            })
            .unwrap_or_default()
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    authority(&origin).eq_ignore_ascii_case(host) || origin.origin() == base.origin()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn tokens_are_checked_both_ways() {
        assert_eq!(check_token(None, &headers(&[])), Ok(()));
        assert_eq!(
            check_token(Some("t0ken"), &headers(&[])),
            Err(TokenRefused::Missing)
        );
        assert_eq!(
            check_token(
                Some("t0ken"),
                &headers(&[("authorization", "Bearer t0ken")])
            ),
            Ok(())
        );
        assert_eq!(
            check_token(Some("t0ken"), &headers(&[("x-restock-token", "t0ken")])),
            Ok(())
        );
        assert_eq!(
            check_token(
                Some("t0ken"),
                &headers(&[("x-restock-token", "t0ken-but-longer")])
            ),
            Err(TokenRefused::Wrong)
        );
    }

    #[test]
    fn websockets_from_other_origins_are_refused() {
        let base = url::Url::parse("https://restock.example/").unwrap();
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "127.0.0.1:8723".parse().unwrap());
        assert!(same_origin(&h, &base));
        h.insert(header::ORIGIN, "http://127.0.0.1:8723".parse().unwrap());
        assert!(same_origin(&h, &base));
        h.insert(header::ORIGIN, "https://restock.example".parse().unwrap());
        assert!(same_origin(&h, &base));
        h.insert(header::ORIGIN, "http://evil.example".parse().unwrap());
        assert!(!same_origin(&h, &base));
        h.insert(header::ORIGIN, "null".parse().unwrap());
        assert!(!same_origin(&h, &base));
    }

    #[test]
    fn open_addresses_need_a_token_or_an_explicit_opt_in() {
        let any: SocketAddr = "0.0.0.0:8723".parse().unwrap();
        let lan: SocketAddr = "192.168.1.5:8723".parse().unwrap();
        let lo: SocketAddr = "127.0.0.1:8723".parse().unwrap();
        let lo6: SocketAddr = "[::1]:8723".parse().unwrap();
        assert_eq!(check_exposure(lo, None, false), Ok(None));
        assert_eq!(check_exposure(lo6, None, false), Ok(None));
        assert_eq!(check_exposure(any, Some("t"), false), Ok(None));
        for addr in [any, lan] {
            let err = check_exposure(addr, None, false).unwrap_err();
            assert!(err.contains("RESTOCK_INTAKE_TOKEN") && err.contains("RESTOCK_INTAKE_OPEN"));
            assert_eq!(err.lines().count(), 1);
            assert!(check_exposure(addr, None, true).unwrap().is_some());
        }
        assert_eq!(local_address(any), lo);
        assert!(may_mint(false, Some(lo)));
        assert!(!may_mint(false, Some(lan)));
        assert!(!may_mint(false, None));
        assert!(may_mint(true, Some(lan)));
    }
}
