//! A purchaser that follows a script instead of a browser.
//!
//! Used by the engine's tests and benchmarks: it can succeed, end in any
//! status, hang or stall at any phase on command, and counts how many
//! purchasers were made (a stand-in for "browsers launched").

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;

use super::{BuyProgress, BuyRequest, PurchaseError, Purchaser, PurchaserFactory};
use crate::model::{Money, OrderHistory, Phase, Status};
use crate::model::{Outcome, SessionCheck, SessionState};

/// One thing the scripted buy does, in order.
#[derive(Debug, Clone)]
pub enum Step {
    Enter(Phase),
    Progress,
    /// Ask the engine to approve this total (as the real flow does at review).
    Approve(Money),
    /// Never return: the buy only ends by timeout or cancellation.
    Hang,
    /// Wait until the notify fires (a test holds the buy at a known point).
    WaitFor(Arc<Notify>),
    /// Sleep without reporting progress: a stalled buy.
    Stall(Duration),
}

#[derive(Debug, Clone)]
pub struct Script {
    pub steps: Vec<Step>,
    pub outcome: Outcome,
}

impl Script {
    /// The happy path through every phase; `placed` (or `dry_run` when the
    /// request says so) with the given total.
    pub fn placed(total: Money) -> Script {
        Script {
            steps: vec![
                Step::Enter(Phase::Browsing),
                Step::Progress,
                Step::Enter(Phase::Cart),
                Step::Progress,
                Step::Approve(total),
                Step::Enter(Phase::Submitted),
                Step::Progress,
            ],
            outcome: Outcome::new(Status::Placed).total(total).order_ref("S-1"),
        }
    }

    /// Ends in `status` after browsing, before any cart step.
    pub fn ends(outcome: Outcome) -> Script {
        Script {
            steps: vec![Step::Enter(Phase::Browsing), Step::Progress],
            outcome,
        }
    }

    /// Walks the phases up to and including `phase`, then hangs.
    pub fn hang_at(phase: Phase) -> Script {
        Script::until(phase, Step::Hang)
    }

    /// Walks the phases up to and including `phase`, then runs `step`, then
    /// ends as placed.
    pub fn until(phase: Phase, step: Step) -> Script {
        let mut steps = Vec::new();
        for p in [Phase::Browsing, Phase::Cart, Phase::Submitted] {
            if p > phase {
                break;
            }
            steps.push(Step::Enter(p));
            steps.push(Step::Progress);
        }
        steps.push(step);
        Script {
            steps,
            outcome: Outcome::new(Status::Placed).order_ref("S-1"),
        }
    }
}

/// Scripts per store, taken in order; when a store's queue is empty the
/// default script runs.
pub struct ScriptedFactory {
    scripts: Mutex<HashMap<String, VecDeque<Script>>>,
    default: Mutex<Script>,
    sessions: Mutex<HashMap<String, SessionState>>,
    histories: Mutex<HashMap<String, OrderHistory>>,
    history_reads: AtomicUsize,
    made: AtomicUsize,
}

impl ScriptedFactory {
    pub fn new(default: Script) -> Arc<ScriptedFactory> {
        Arc::new(ScriptedFactory {
            scripts: Mutex::new(HashMap::new()),
            default: Mutex::new(default),
            sessions: Mutex::new(HashMap::new()),
            histories: Mutex::new(HashMap::new()),
            history_reads: AtomicUsize::new(0),
            made: AtomicUsize::new(0),
        })
    }

    /// A factory whose buys succeed at once with no phase pauses: the
    /// engine-overhead benchmark's purchaser.
    pub fn noop() -> Arc<ScriptedFactory> {
        ScriptedFactory::new(Script::placed(Money(100)))
    }

    pub fn push(&self, store: &str, script: Script) {
        lock(&self.scripts)
            .entry(store.to_string())
            .or_default()
            .push_back(script);
    }

    pub fn set_default(&self, script: Script) {
        *lock(&self.default) = script;
    }

    pub fn set_session(&self, store: &str, state: SessionState) {
        lock(&self.sessions).insert(store.to_string(), state);
    }

    /// What `store`'s order history shows from now on (default:
    /// [`OrderHistory::Unsupported`], a store that cannot be verified).
    pub fn set_history(&self, store: &str, history: OrderHistory) {
        lock(&self.histories).insert(store.to_string(), history);
    }

    /// How many times an order history was read.
    pub fn history_reads(&self) -> usize {
        self.history_reads.load(Ordering::SeqCst)
    }

    /// How many purchasers were made (each stands for a browser launch).
    pub fn made(&self) -> usize {
        self.made.load(Ordering::SeqCst)
    }

    fn next_script(&self, store: &str) -> Script {
        lock(&self.scripts)
            .get_mut(store)
            .and_then(VecDeque::pop_front)
            .unwrap_or_else(|| lock(&self.default).clone())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl PurchaserFactory for Arc<ScriptedFactory> {
    fn purchaser(&self, store: &str) -> Result<Box<dyn Purchaser>, PurchaseError> {
        self.made.fetch_add(1, Ordering::SeqCst);
        Ok(Box::new(ScriptedPurchaser {
            factory: Arc::clone(self),
            store: store.to_string(),
        }))
    }
}

struct ScriptedPurchaser {
    factory: Arc<ScriptedFactory>,
    store: String,
}

#[async_trait]
impl Purchaser for ScriptedPurchaser {
    async fn buy(&mut self, req: &BuyRequest, progress: &dyn BuyProgress) -> Outcome {
        let script = self.factory.next_script(&self.store);
        for step in script.steps {
            if let Err(outcome) = run_step(step, req, progress).await {
                return outcome;
            }
        }
        script.outcome
    }

    async fn check_session(&mut self) -> SessionCheck {
        let state = lock(&self.factory.sessions)
            .get(&self.store)
            .copied()
            .unwrap_or(SessionState::SignedIn);
        SessionCheck::known(state)
    }

    async fn order_history(&mut self) -> OrderHistory {
        self.factory.history_reads.fetch_add(1, Ordering::SeqCst);
        lock(&self.factory.histories)
            .get(&self.store)
            .cloned()
            .unwrap_or(OrderHistory::Unsupported)
    }
}

/// Runs one step; `Err` carries the outcome that ends the buy early (a
/// refused total, a dry run stopping before submit, a failed phase write).
async fn run_step(step: Step, req: &BuyRequest, progress: &dyn BuyProgress) -> Result<(), Outcome> {
    match step {
        Step::Enter(Phase::Submitted) if req.dry_run => Err(Outcome::new(Status::DryRun)),
        Step::Enter(phase) => progress
            .enter(phase)
            .await
            .map_err(|e| Outcome::failed(e.to_string(), true)),
        Step::Progress => {
            progress.step("scripted step");
            Ok(())
        }
        Step::Approve(total) => progress
            .approve_total(total)
            .await
            .map_err(|r| Outcome::new(r.status).message(r.reason).total(total)),
        Step::Hang => std::future::pending().await,
        Step::WaitFor(notify) => {
            notify.notified().await;
            Ok(())
        }
        Step::Stall(d) => {
            tokio::time::sleep(d).await;
            Ok(())
        }
    }
}
