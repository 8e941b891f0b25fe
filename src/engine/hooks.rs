//! The loop's two hooks, fixed call sites with pluggable bodies: the
//! dead-man's switch and the session-freshness probe.

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::Activity;

/// Why the heartbeat is being ticked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// The top of a loop turn.
    Turn,
    /// A buy made progress (a phase began or a step finished).
    Progress,
}

/// The dead-man's switch. Called from the loop and from buy progress only,
/// never from a timer, so a wedged engine stops beating. Must return at once:
/// any network send is spawned and bounded by its own timeout.
pub trait Heartbeat: Send + Sync {
    fn tick(&self, why: Liveness, activity: &Activity);
}

/// The session-freshness probe, run between claims when due.
#[async_trait]
pub trait Probe: Send + Sync {
    async fn run_if_due(&self, shutdown: &CancellationToken);
}

pub struct NoHeartbeat;

impl Heartbeat for NoHeartbeat {
    fn tick(&self, _: Liveness, _: &Activity) {}
}

pub struct NoProbe;

#[async_trait]
impl Probe for NoProbe {
    async fn run_if_due(&self, _: &CancellationToken) {}
}
