//! One-time links: the secret in a sign-in address, and the registry that
//! decides what a presented link may do.
//!
//! Written to be reused by any page restock serves to a person who is not
//! at the machine (the sign-in page now; a household home page later):
//! the registry is generic over what a link is *for* (its payload).
//!
//! The rules, each enforced here and tested below:
//! - **128 random bits** from the operating system's RNG ([`Secret`]),
//!   written as 32 hex digits. Compared in constant time; never logged
//!   whole ([`Secret::prefix`] is the most a log line may carry).
//! - **One link at a time.** Minting replaces a link nobody has opened yet
//!   (a notification's link is superseded by the owner's own request); it
//!   is refused while a link is open, because an open link is a person at a
//!   live page.
//! - **Works once.** The first browser to open a link claims it: it gets a
//!   second secret, the *owner* secret, as an `HttpOnly` cookie, and only a
//!   request carrying that cookie may use the link from then on (a reload
//!   on the same phone works; the same address on any other device is
//!   "already used"). Fetching the page does not claim it (a chat app's
//!   link preview would); the page's script does, with a `POST`.
//! - **Expires.** A link ends `ttl` after it was minted, whatever happens
//!   (the absolute limit), and, once opened, after `idle` without input.
//!   An unopened link has only the absolute limit (a link in a notification
//!   may be read a few minutes late).
//! - **Says why.** An ended link is remembered (by its secret, for an hour,
//!   at most [`REMEMBER`] of them) so that presenting it again is refused
//!   as used, expired, idle, replaced or cancelled, not as unknown.
//!
//! Time is `tokio::time::Instant`, so expiry is immune to wall-clock jumps.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use subtle::ConstantTimeEq;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How many ended links are remembered to say why they no longer work.
pub const REMEMBER: usize = 32;
/// How long an ended link is remembered.
const REMEMBER_FOR: Duration = Duration::from_secs(3600);

/// 128 random bits, as 32 lowercase hex digits.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Fresh bits from the operating system's RNG (`getrandom`).
    pub fn generate() -> Secret {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).expect("the operating system's RNG is unavailable");
        Secret(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// The whole secret: for the address or the cookie, never for a log.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The first 6 digits: enough to tell links apart in a log, far too few
    /// to use one (104 unknown bits remain).
    pub fn prefix(&self) -> &str {
        &self.0[..6]
    }

    /// Constant-time comparison with a presented value (only the length,
    /// which is public, can end it early).
    pub fn matches(&self, presented: &str) -> bool {
        presented.len() == self.0.len() && bool::from(self.0.as_bytes().ct_eq(presented.as_bytes()))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({}…)", self.prefix())
    }
}

/// Why a link ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// It did its job (the profile is signed in).
    Done,
    /// It was used and ended without success (the store never showed the
    /// signed-in marker, the browser failed); the detail is for the owner.
    Failed(String),
    /// The absolute limit passed.
    Expired,
    /// Open, and no input for the idle limit.
    Idle,
    /// A newer link took its place before anyone opened it.
    Replaced,
    /// The owner (or a shutdown) cancelled it.
    Cancelled,
}

impl End {
    /// The state name a status answer and the page use.
    pub fn state(&self) -> &'static str {
        match self {
            End::Done => "signed_in",
            End::Failed(_) => "failed",
            End::Expired => "expired",
            End::Idle => "idle",
            End::Replaced => "replaced",
            End::Cancelled => "cancelled",
        }
    }
}

/// Why a presented link may not be used; each says which, for the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// No such link (mistyped, very old, or from before a restart).
    Unknown,
    /// Opened by another browser, or used and ended.
    Used,
    Expired,
    Idle,
    Replaced,
    Cancelled,
    /// The WebSocket of a link whose page was never opened.
    NotOpened,
}

impl Refused {
    /// How presenting an ended link is refused.
    pub fn from_end(end: &End) -> Refused {
        match end {
            End::Done | End::Failed(_) => Refused::Used,
            End::Expired => Refused::Expired,
            End::Idle => Refused::Idle,
            End::Replaced => Refused::Replaced,
            End::Cancelled => Refused::Cancelled,
        }
    }

    /// A short state name (`unknown`, `used`, `expired`, `idle`, ...).
    pub fn state(&self) -> &'static str {
        match self {
            Refused::Unknown => "unknown",
            Refused::Used => "used",
            Refused::Expired => "expired",
            Refused::Idle => "idle",
            Refused::Replaced => "replaced",
            Refused::Cancelled => "cancelled",
            Refused::NotOpened => "not_opened",
        }
    }

    /// What the person holding the link reads.
    pub fn explain(&self, limits: &Limits) -> String {
        let ttl = humantime::format_duration(limits.ttl);
        let idle = humantime::format_duration(limits.idle);
        match self {
            Refused::Unknown => {
                "unknown sign-in link: check the address, or ask for a new link".into()
            }
            Refused::Used => {
                "this sign-in link was already used (it works once, in one browser); ask for a new link"
                    .into()
            }
            Refused::Expired => format!("link expired: sign-in links last {ttl}; ask for a new link"),
            Refused::Idle => {
                format!("link expired after {idle} without input; ask for a new link")
            }
            Refused::Replaced => "this sign-in link was replaced by a newer one".into(),
            Refused::Cancelled => "this sign-in link was cancelled".into(),
            Refused::NotOpened => "open the sign-in link in a browser first".into(),
        }
    }
}

/// The two limits every link obeys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// From minting, whatever happens.
    pub ttl: Duration,
    /// From the last input, once opened.
    pub idle: Duration,
}

#[derive(Debug)]
enum Phase {
    Pending,
    Open { owner: Secret, last_input: Instant },
    Ended(End),
}

/// One link. `cancel` fires when it ends, for whatever reason: whoever
/// serves it (a live browser) stops on that.
#[derive(Debug)]
pub struct Link<P> {
    token: Secret,
    pub payload: P,
    pub minted: Instant,
    pub expires: Instant,
    limits: Limits,
    phase: Mutex<Phase>,
    pub cancel: CancellationToken,
}

impl<P> Link<P> {
    /// The address secret, for building the address once (never log it).
    pub fn token(&self) -> &Secret {
        &self.token
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The person did something (a tap, a key): resets the idle clock.
    pub fn touch(&self) {
        self.touch_at(Instant::now());
    }

    fn touch_at(&self, now: Instant) {
        if let Phase::Open { last_input, .. } = &mut *self.lock() {
            *last_input = now;
        }
    }

    /// How it ended, if it did.
    pub fn ended(&self) -> Option<End> {
        match &*self.lock() {
            Phase::Ended(end) => Some(end.clone()),
            _ => None,
        }
    }

    pub fn is_open(&self) -> bool {
        matches!(&*self.lock(), Phase::Open { .. })
    }

    /// When it ends unless something happens: the absolute limit, or the
    /// idle limit of an open link, whichever comes first.
    pub fn deadline(&self) -> Instant {
        match &*self.lock() {
            Phase::Open { last_input, .. } => self.expires.min(*last_input + self.limits.idle),
            _ => self.expires,
        }
    }

    /// `Some(Expired)` / `Some(Idle)` when a limit has passed at `now`.
    fn overdue(&self, now: Instant) -> Option<End> {
        if now >= self.expires {
            return Some(End::Expired);
        }
        match &*self.lock() {
            Phase::Open { last_input, .. } if now >= *last_input + self.limits.idle => {
                Some(End::Idle)
            }
            _ => None,
        }
    }
}

/// What [`OneTimeLinks::open`] hands the first browser: the owner secret to
/// set as a cookie.
#[derive(Debug)]
pub struct Opened<P> {
    pub link: Arc<Link<P>>,
    /// `Some` when this request claimed the link (set the cookie).
    pub new_owner: Option<Secret>,
}

/// Why minting was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MintRefused {
    /// A link is open: someone is at a live page.
    Busy { remaining: Duration },
}

struct Remembered {
    token: Secret,
    end: End,
    at: Instant,
}

struct Slots<P> {
    current: Option<Arc<Link<P>>>,
    ended: VecDeque<Remembered>,
}

/// The registry: at most one live link, and the recently ended ones.
pub struct OneTimeLinks<P> {
    limits: Limits,
    slots: Mutex<Slots<P>>,
}

impl<P> OneTimeLinks<P> {
    pub fn new(limits: Limits) -> OneTimeLinks<P> {
        OneTimeLinks {
            limits,
            slots: Mutex::new(Slots {
                current: None,
                ended: VecDeque::new(),
            }),
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slots<P>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new link for `payload`. An unopened link it replaces ends as
    /// [`End::Replaced`]; an open one makes this fail.
    pub fn mint(&self, payload: P) -> Result<Arc<Link<P>>, MintRefused> {
        self.mint_at(payload, Instant::now())
    }

    fn mint_at(&self, payload: P, now: Instant) -> Result<Arc<Link<P>>, MintRefused> {
        let mut slots = self.lock();
        if let Some(current) = slots.current.clone() {
            match current.overdue(now) {
                Some(end) => end_in(&mut slots, &current, end),
                None if current.is_open() => {
                    return Err(MintRefused::Busy {
                        remaining: current.expires.saturating_duration_since(now),
                    })
                }
                None => end_in(&mut slots, &current, End::Replaced),
            }
        }
        let link = Arc::new(Link {
            token: Secret::generate(),
            payload,
            minted: now,
            expires: now + self.limits.ttl,
            limits: self.limits,
            phase: Mutex::new(Phase::Pending),
            cancel: CancellationToken::new(),
        });
        slots.current = Some(Arc::clone(&link));
        Ok(link)
    }

    /// The page request for `token`: claims an unopened link (returning the
    /// owner secret), lets its owner back in (`owner` is the cookie the
    /// request carries), refuses everyone else and says why.
    pub fn open(&self, token: &str, owner: Option<&str>) -> Result<Opened<P>, Refused> {
        self.find(token, owner, true, Instant::now())
    }

    /// Looking without using: the page for a link nobody claimed yet, or
    /// for its owner. A link preview (a chat app fetching the address) gets
    /// the page but does not claim the link; the page's script claims it.
    pub fn peek(&self, token: &str, owner: Option<&str>) -> Result<Arc<Link<P>>, Refused> {
        match self.find(token, owner, false, Instant::now()) {
            Err(Refused::NotOpened) => {
                let current = self.current().filter(|c| c.token.matches(token));
                current.ok_or(Refused::Unknown)
            }
            other => other.map(|o| o.link),
        }
    }

    /// The WebSocket request: only the owner of an opened link.
    pub fn connect(&self, token: &str, owner: Option<&str>) -> Result<Arc<Link<P>>, Refused> {
        self.find(token, owner, false, Instant::now())
            .map(|o| o.link)
    }

    fn find(
        &self,
        token: &str,
        owner: Option<&str>,
        may_claim: bool,
        now: Instant,
    ) -> Result<Opened<P>, Refused> {
        let mut slots = self.lock();
        if let Some(current) = slots.current.clone().filter(|c| c.token.matches(token)) {
            if let Some(end) = current.overdue(now) {
                let refused = Refused::from_end(&end);
                end_in(&mut slots, &current, end);
                return Err(refused);
            }
            let mut phase = current.lock();
            return match &*phase {
                Phase::Pending if may_claim => {
                    let secret = Secret::generate();
                    *phase = Phase::Open {
                        owner: secret.clone(),
                        last_input: now,
                    };
                    drop(phase);
                    Ok(Opened {
                        link: current,
                        new_owner: Some(secret),
                    })
                }
                Phase::Pending => Err(Refused::NotOpened),
                Phase::Open { owner: o, .. } if owner.is_some_and(|c| o.matches(c)) => {
                    drop(phase);
                    Ok(Opened {
                        link: current,
                        new_owner: None,
                    })
                }
                Phase::Open { .. } => Err(Refused::Used),
                Phase::Ended(end) => Err(Refused::from_end(end)),
            };
        }
        forget_old(&mut slots.ended, now);
        match slots.ended.iter().find(|r| r.token.matches(token)) {
            Some(r) => Err(Refused::from_end(&r.end)),
            None => Err(Refused::Unknown),
        }
    }

    /// Ends `link` (if it is still the current one and not ended) and fires
    /// its `cancel`. Returns false when it had already ended.
    pub fn end(&self, link: &Arc<Link<P>>, end: End) -> bool {
        let mut slots = self.lock();
        if link.ended().is_some() {
            return false;
        }
        end_in(&mut slots, link, end);
        true
    }

    /// Ends the current link if a limit has passed; returns how it ended.
    pub fn expire_due(&self) -> Option<End> {
        self.expire_due_at(Instant::now())
    }

    fn expire_due_at(&self, now: Instant) -> Option<End> {
        let mut slots = self.lock();
        let current = slots.current.clone()?;
        let end = current.overdue(now)?;
        end_in(&mut slots, &current, end.clone());
        Some(end)
    }

    /// The current (not ended) link.
    pub fn current(&self) -> Option<Arc<Link<P>>> {
        self.lock().current.clone()
    }
}

fn end_in<P>(slots: &mut Slots<P>, link: &Arc<Link<P>>, end: End) {
    *link.lock() = Phase::Ended(end.clone());
    if slots.current.as_ref().is_some_and(|c| Arc::ptr_eq(c, link)) {
        slots.current = None;
    }
    if slots.ended.len() == REMEMBER {
        slots.ended.pop_front();
    }
    slots.ended.push_back(Remembered {
        token: link.token.clone(),
        end,
        at: Instant::now(),
    });
    link.cancel.cancel();
}

fn forget_old(ended: &mut VecDeque<Remembered>, now: Instant) {
    while ended
        .front()
        .is_some_and(|r| now.saturating_duration_since(r.at) > REMEMBER_FOR)
    {
        ended.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links() -> OneTimeLinks<&'static str> {
        OneTimeLinks::new(Limits {
            ttl: Duration::from_secs(600),
            idle: Duration::from_secs(300),
        })
    }

    #[test]
    fn secrets_are_128_bits_distinct_and_compared_whole() {
        let a = Secret::generate();
        let b = Secret::generate();
        assert_eq!(a.expose().len(), 32);
        assert!(a.expose().chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert!(a.matches(a.expose()));
        assert!(!a.matches(&a.expose()[..31]));
        assert!(!a.matches(&format!("{}0", a.expose())));
        assert!(!a.matches(b.expose()));
        assert!(!format!("{a:?}").contains(a.expose()));
    }

    #[test]
    fn a_link_works_once_for_its_first_browser() {
        let reg = links();
        let link = reg.mint("demo").unwrap();
        let token = link.token().expose().to_string();
        assert_eq!(reg.connect(&token, None).unwrap_err(), Refused::NotOpened);
        let opened = reg.open(&token, None).unwrap();
        let owner = opened.new_owner.unwrap();
        // The owner comes back (a reload); anyone else is refused.
        assert!(reg
            .open(&token, Some(owner.expose()))
            .unwrap()
            .new_owner
            .is_none());
        assert!(reg.connect(&token, Some(owner.expose())).is_ok());
        assert_eq!(reg.open(&token, None).unwrap_err(), Refused::Used);
        let stranger = "0".repeat(32);
        assert_eq!(
            reg.open(&token, Some(stranger.as_str())).unwrap_err(),
            Refused::Used
        );
        assert_eq!(
            reg.open(&"f".repeat(32), None).unwrap_err(),
            Refused::Unknown
        );
        // Open: a new link is refused; done: the old one is "used".
        assert!(matches!(reg.mint("demo"), Err(MintRefused::Busy { .. })));
        assert!(reg.end(&link, End::Done));
        assert!(link.cancel.is_cancelled());
        assert!(!reg.end(&link, End::Cancelled));
        assert_eq!(
            reg.open(&token, Some(owner.expose())).unwrap_err(),
            Refused::Used
        );
        reg.mint("demo").unwrap();
    }

    #[test]
    fn links_expire_absolutely_and_when_idle() {
        let reg = links();
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let a = reg.mint_at("demo", t0).unwrap();
        let b = reg.mint_at("demo", t0).unwrap();
        assert_eq!(a.ended(), Some(End::Replaced));
        assert_eq!(
            reg.find(a.token().expose(), None, true, t0).unwrap_err(),
            Refused::Replaced
        );
        // Unopened: only the absolute limit.
        assert_eq!(reg.expire_due_at(at(400)), None);
        assert_eq!(reg.expire_due_at(at(600)), Some(End::Expired));
        assert_eq!(
            reg.find(b.token().expose(), None, true, at(600))
                .unwrap_err(),
            Refused::Expired
        );
        // Opened: idle after 5 minutes without input; input resets it.
        let c = reg.mint_at("demo", at(1000)).unwrap();
        let tok = c.token().expose().to_string();
        let owner = reg
            .find(&tok, None, true, at(1000))
            .unwrap()
            .new_owner
            .unwrap();
        let owner = Some(owner.expose());
        c.touch_at(at(1200));
        assert_eq!(reg.expire_due_at(at(1400)), None);
        c.touch_at(at(1400));
        assert_eq!(c.deadline(), at(1600), "the absolute limit comes first");
        assert!(reg.find(&tok, owner, false, at(1550)).is_ok());
        assert!(matches!(
            reg.mint_at("x", at(1550)),
            Err(MintRefused::Busy { .. })
        ));
        assert_eq!(
            reg.find(&tok, owner, false, at(1650)).unwrap_err(),
            Refused::Expired
        );
        let e = reg.mint_at("demo", at(2000)).unwrap();
        let tok = e.token().expose().to_string();
        let owner = reg
            .find(&tok, None, true, at(2000))
            .unwrap()
            .new_owner
            .unwrap();
        assert_eq!(
            reg.find(&tok, Some(owner.expose()), false, at(2301))
                .unwrap_err(),
            Refused::Idle
        );
        assert!(e.cancel.is_cancelled());
        let limits = reg.limits();
        assert!(Refused::Idle.explain(&limits).contains("5m without input"));
        assert!(Refused::Expired.explain(&limits).contains("link expired"));
        assert!(Refused::Used.explain(&limits).contains("already used"));
        assert!(Refused::Unknown.explain(&limits).contains("unknown"));
    }
}
