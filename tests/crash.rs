//! Crash-test harness: `restock serve` runs as a real child
//! process against the demo store, a buy is held at a known phase by one of
//! the store's hang faults, and then something is killed with SIGKILL:
//!
//! - `restock serve` itself, at each phase; it is restarted and the end state
//!   is checked: before `submitted` the order is placed exactly once; at
//!   `submitted` boot recovery makes it `needs_review` (the engine paused),
//!   the restarted engine finds it in the store's order history and it ends
//!   `placed` with the store's order number, its pause lifted and exactly
//!   one order in the ledger, never retried; every request accepted before
//!   the kill is terminal (the waiting one placed once), none missing;
//! - the Chromium main process of the buy, with restock left running: the buy
//!   is classified by its phase within the buy timeout (`failed`,
//!   retryable), an automatic retry places it once, and no browser process
//!   is left behind.
//!
//! The cases are one table ([`CASES`]) driving one function ([`run`]), on
//! each layout of the demo store: `classic::` and `spa::` are one test each
//! (they run side by side; within one, the cases run one at a time). On
//! the spa the confirmation never shows an order number, so a buy placed
//! there has none; an order verified from its history has the history's.
//! Each case prints a summary line such as `spa: phase cart (add): killed,
//! restarted, placed once` (shown with `--nocapture`, or by cargo when the
//! test fails).
//!
//! About `claimed`: the engine writes `claimed` in the claim statement and
//! the purchaser writes `browsing` *before* it launches Chromium (see
//! `purchase::flow::buy`), so between the two there is nothing to wait on
//! but a database read and a look-up of the browser binary: nothing outside
//! the process can hold a row at `claimed`. The
//! `claimed` case therefore holds the earliest point that can be held, a
//! Chromium launch that never finishes (`RESTOCK_CHROME` is a script that
//! sleeps), and asserts what the row really shows there, `browsing`. To
//! still send a row that really is at `claimed` through a real restart, the
//! case then claims the waiting order with the engine's own claim statement
//! (`Db::claim_next`) while no server runs: exactly what a server killed
//! right after its claim leaves behind.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use restock::db::{Db, Order};
use restock::demo::{DemoStore, Step};
use restock::model::{Phase, Status};
use serde_json::json;
use support::chromium::{alive, assert_no_chromium, chromium_main};
use support::db::order_until;
use support::demo::{self, fault};
use support::env::Env;
use support::intake::reorder;
use support::layout::Layout;
use support::receivers::free_addr;
use support::serve::Serve;
use support::wait::poll_within;

// Each on both layouts: `classic::NAME` and `spa::NAME` run
// `NAME(Layout::Classic)` and `NAME(Layout::Spa)`.
crate::layout_tests!(sigkill_at_every_phase_never_orders_twice_or_loses_an_order);

/// The item whose buy is held and killed, and its demo-store sku.
const HELD: (&str, &str) = ("soap", "dish-soap");
/// A second order, accepted before the kill and pending while the first is
/// held: it must not go missing.
const WAITING: (&str, &str) = ("coffee", "coffee-beans");

/// The verify window of the restarted server: its first look at the order
/// history comes 2 s after boot recovery.
const VERIFY_WINDOW: &str = "30s";

/// The buy timeout when Chromium is killed: the buy must be classified
/// within it.
const SHORT_BUY_TIMEOUT: Duration = Duration::from_secs(20);

/// How the buy is held at its phase.
#[derive(Debug, Clone, Copy)]
enum Hold {
    /// Chromium's launch never finishes: `RESTOCK_CHROME` is a script that
    /// sleeps. Only for the first run; the restart uses the real Chromium.
    Launch,
    /// The demo store never answers this step for the held item
    /// (`POST /admin/faults {"sku": .., "hang": step}`).
    Hang(Step),
}

/// What is killed once the buy is held.
#[derive(Debug, Clone, Copy)]
enum Kill {
    /// `restock serve`, which is then started again.
    Restock,
    /// The buy's Chromium main process; restock keeps running.
    Chromium { auto_retry: bool },
}

/// The end state the held order must reach.
#[derive(Debug, Clone, Copy, PartialEq)]
enum End {
    /// `placed`, with exactly one order for it in the store's ledger.
    PlacedOnce,
    /// `needs_review` after the restart, then found in the store's order
    /// history: `placed`, the pause lifted, exactly one order in the ledger.
    VerifiedPlaced,
    /// `failed` and retryable, nothing ordered, the engine not paused.
    FailedRetryable,
}

struct Case {
    name: &'static str,
    hold: Hold,
    /// The phase the held row shows when the kill lands.
    at: Phase,
    kill: Kill,
    end: End,
    /// After the kill, leave the waiting order at `claimed` the way a server
    /// killed right after its claim would (see the module docs).
    strand_claimed: bool,
}

const CASES: &[Case] = &[
    Case {
        name: "phase claimed",
        hold: Hold::Launch,
        at: Phase::Browsing,
        kill: Kill::Restock,
        end: End::PlacedOnce,
        strand_claimed: true,
    },
    Case {
        name: "phase browsing",
        hold: Hold::Hang(Step::Product),
        at: Phase::Browsing,
        kill: Kill::Restock,
        end: End::PlacedOnce,
        strand_claimed: false,
    },
    Case {
        name: "phase cart (add)",
        hold: Hold::Hang(Step::Add),
        at: Phase::Cart,
        kill: Kill::Restock,
        end: End::PlacedOnce,
        strand_claimed: false,
    },
    Case {
        name: "phase cart (checkout)",
        hold: Hold::Hang(Step::Checkout),
        at: Phase::Cart,
        kill: Kill::Restock,
        end: End::PlacedOnce,
        strand_claimed: false,
    },
    Case {
        name: "phase submitted (place)",
        hold: Hold::Hang(Step::Place),
        at: Phase::Submitted,
        kill: Kill::Restock,
        end: End::VerifiedPlaced,
        strand_claimed: false,
    },
    Case {
        name: "phase submitted (confirmation)",
        hold: Hold::Hang(Step::Confirmation),
        at: Phase::Submitted,
        kill: Kill::Restock,
        end: End::VerifiedPlaced,
        strand_claimed: false,
    },
    Case {
        name: "chromium killed at browsing",
        hold: Hold::Hang(Step::Product),
        at: Phase::Browsing,
        kill: Kill::Chromium { auto_retry: false },
        end: End::FailedRetryable,
        strand_claimed: false,
    },
    Case {
        name: "chromium killed at cart",
        hold: Hold::Hang(Step::Add),
        at: Phase::Cart,
        kill: Kill::Chromium { auto_retry: true },
        end: End::PlacedOnce,
        strand_claimed: false,
    },
];

async fn sigkill_at_every_phase_never_orders_twice_or_loses_an_order(layout: Layout) {
    // One at a time: each case runs a server and a Chromium, and the phases
    // must not be slowed into their timeouts by a neighbour.
    let mut summary = Vec::new();
    for case in CASES {
        let started = Instant::now();
        let line = run(case, layout).await;
        println!("{line}  [{:.1}s]", started.elapsed().as_secs_f64());
        summary.push(line);
    }
    println!("\ncrash harness summary:\n{}", summary.join("\n"));
}

/// One case on `layout`, start to end; returns its summary line.
async fn run(case: &Case, layout: Layout) -> String {
    let name = format!("{layout}: {}", case.name);
    let name = name.as_str();
    let store = demo::store().await;
    let mut env = Env::new(&[]);
    env.use_layout(
        &store,
        layout,
        &[(HELD.0, &[HELD.1]), (WAITING.0, &[WAITING.1])],
    );
    env.config.listen = free_addr();
    if let Kill::Chromium { .. } = case.kill {
        env.config.buy_timeout = SHORT_BUY_TIMEOUT;
    }
    env.sign_in_layout(layout).await;
    assert_no_chromium(env.path()).await;

    let mut first_env: Vec<(&str, String)> = vec![("RESTOCK_LOG", "info".into())];
    let mut fake = None;
    match case.hold {
        Hold::Launch => {
            let f = FakeChrome::new(env.path());
            first_env.push(("RESTOCK_CHROME", f.script.display().to_string()));
            fake = Some(f);
        }
        Hold::Hang(step) => set_hang(&store, Some(step)).await,
    }
    if let Kill::Chromium { auto_retry } = case.kill {
        first_env.push(("RESTOCK_AUTO_RETRY", auto_retry.to_string()));
        first_env.push(("RESTOCK_AUTO_RETRY_BACKOFF", "1s".into()));
    }

    let mut serve = start(&env, &first_env, "first").await;
    let held = reorder(serve.addr, HELD.0).await;
    let waiting = reorder(serve.addr, WAITING.0).await;
    let db = Db::open(&env.db()).unwrap();
    let c = Check {
        case,
        layout,
        name,
        db: &db,
        store: &store,
        env: &env,
    };

    // Held at the phase, with the step really under way.
    let at_kill = c
        .wait(&serve, held, "the buy to be held at its phase", |o| {
            o.status == Status::InProgress
                && o.phase == Some(case.at)
                && c.step_under_way(fake.as_ref())
        })
        .await;
    assert_eq!(
        c.row(waiting).await.status,
        Status::Pending,
        "{name}: the second order should wait its turn"
    );
    // Place Order reaches the store only after `submitted` is written.
    let expected = usize::from(case.at == Phase::Submitted);
    assert_eq!(c.ledger(HELD.1), expected, "{name}: ledger at the kill");

    let line = match case.kill {
        Kill::Restock => {
            serve.sigkill().await;
            // Nothing more was written: the row stays at the phase the dead
            // process reached, and its browser died with it.
            let row = c.row(held).await;
            assert_eq!(
                (row.status, row.phase),
                (Status::InProgress, Some(case.at)),
                "{name}: {row:?}"
            );
            assert_eq!(c.row(waiting).await.status, Status::Pending);
            assert_no_chromium(env.path()).await;
            if let Some(f) = &fake {
                f.assert_dead().await;
            }
            if let Hold::Hang(_) = case.hold {
                set_hang(&store, None).await;
            }
            if case.strand_claimed {
                let claimed = db.claim_next().await.unwrap().expect("a pending row");
                assert_eq!((claimed.id, claimed.phase), (waiting, Some(Phase::Claimed)));
            }
            let env_vars = [
                ("RESTOCK_LOG", "info".to_string()),
                ("RESTOCK_VERIFY_WINDOW", VERIFY_WINDOW.to_string()),
            ];
            serve = start(&env, &env_vars, "restarted").await;
            c.after_restart(&serve, held, waiting, &at_kill).await
        }
        Kill::Chromium { auto_retry } => {
            let pid = chromium_main(env.path()).expect("the buy's Chromium main process");
            unsafe { libc::kill(pid, libc::SIGKILL) };
            let killed = Instant::now();
            // The store is healthy again; the dead browser cannot go on.
            set_hang(&store, None).await;
            c.after_chromium_kill(&serve, held, waiting, auto_retry, killed)
                .await
        }
    };

    // Every accepted request is accounted for, and nothing was added.
    let rows = db.recent(None, 100).await.unwrap();
    let ids: Vec<i64> = rows.iter().rev().map(|o| o.id).collect();
    assert_eq!(ids, [held, waiting], "{name}: {rows:#?}");
    let status = serve.sigterm().await;
    assert_eq!(status.code(), Some(0), "{status}\n{}", serve.log_tail());
    assert_no_chromium(env.path()).await;
    store.shutdown().await;
    line
}

/// `restock serve` with `vars`, once it listens.
async fn start(env: &Env, vars: &[(&str, String)], label: &str) -> Serve {
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut serve = env.serve(label, &vars);
    serve.listening().await;
    serve
}

/// Checks on one case's database, store and processes.
struct Check<'a> {
    case: &'a Case,
    layout: Layout,
    /// The layout and the case, for messages.
    name: &'a str,
    db: &'a Db,
    store: &'a DemoStore,
    env: &'a Env,
}

impl Check<'_> {
    async fn row(&self, id: i64) -> Order {
        self.db.get(id).await.unwrap().expect("the order exists")
    }

    /// Waits (bounded) until order `id` satisfies `pred`; fails with the row
    /// and the server's log.
    async fn wait(
        &self,
        serve: &Serve,
        id: i64,
        what: &str,
        pred: impl Fn(&Order) -> bool,
    ) -> Order {
        let what = format!("{}: {what}", self.name);
        order_until(self.db, id, &what, pred, || {
            format!("--- server log ---\n{}", serve.log_tail())
        })
        .await
    }

    /// Orders in the store's ledger holding `sku`.
    fn ledger(&self, sku: &str) -> usize {
        self.store
            .ledger()
            .iter()
            .filter(|e| e.items.iter().any(|l| l.sku == sku))
            .count()
    }

    /// The order numbers in the store's ledger, oldest first.
    fn order_numbers(&self) -> Vec<String> {
        self.store
            .ledger()
            .iter()
            .map(|e| e.order_number.clone())
            .collect()
    }

    /// True once the step the case holds is really under way (the store is
    /// holding the request, or the launch is waiting for a browser that
    /// never answers), so the kill lands on it and not on the way there.
    fn step_under_way(&self, fake: Option<&FakeChrome>) -> bool {
        match self.case.hold {
            Hold::Launch => fake.is_some_and(|f| f.pid().is_some()),
            Hold::Hang(step) => self.store.hung().contains(&step),
        }
    }

    /// The restarted server's recovery and what follows it.
    async fn after_restart(
        &self,
        serve: &Serve,
        held: i64,
        waiting: i64,
        at_kill: &Order,
    ) -> String {
        let name = self.name;
        match self.case.end {
            End::PlacedOnce => {
                let row = self
                    .wait(serve, held, "the held order to settle", |o| {
                        o.status.is_terminal()
                    })
                    .await;
                assert_eq!(row.status, Status::Placed, "{name}: {row:#?}");
                assert_eq!(row.recoveries, 1, "{name}: recovered once: {row:#?}");
                assert_eq!(row.attempts, at_kill.attempts + 1, "{name}: {row:#?}");
                assert_eq!(self.ledger(HELD.1), 1, "{name}: exactly one order");
                let numbers = self.order_numbers();
                self.layout.assert_order_ref(
                    &format!("{name}: {row:#?}"),
                    row.order_ref.as_deref(),
                    row.message.as_deref(),
                    &numbers,
                );
                let w = self.waiting_placed(serve, waiting).await;
                let mut line = format!(
                    "{name}: killed at {}, restarted, placed once",
                    at_kill_phase(self.case)
                );
                if self.case.strand_claimed {
                    assert_eq!(
                        w.recoveries, 1,
                        "{name}: the claimed row was recovered: {w:#?}"
                    );
                    line.push_str("; a row left at claimed: recovered, placed once");
                }
                line
            }
            End::VerifiedPlaced => {
                let row = self
                    .wait(serve, held, "the held order to be verified", |o| {
                        o.status.is_terminal() && o.status != Status::NeedsReview
                    })
                    .await;
                assert_eq!(
                    (row.status, row.phase),
                    (Status::Placed, Some(Phase::Submitted)),
                    "{name}: {row:#?}"
                );
                let record = self
                    .db
                    .verification(held)
                    .await
                    .unwrap()
                    .expect("a verification record");
                assert_eq!(
                    record.verdict,
                    Some(restock::model::Verdict::Placed),
                    "{name}: {record:#?}"
                );
                assert_eq!(self.ledger(HELD.1), 1, "{name}: exactly one order");
                let numbers = self.order_numbers();
                assert!(
                    row.order_ref.as_ref().is_some_and(|r| numbers.contains(r)),
                    "{name}: {row:#?} vs {numbers:?}"
                );
                assert!(
                    row.message
                        .as_deref()
                        .is_some_and(|m| m.contains("order history")),
                    "{name}: {row:#?}"
                );
                // The pause boot recovery made for it is lifted with it.
                let status = self.status_json();
                assert!(
                    status["paused"].is_null(),
                    "{name}: no longer paused: {status:#}"
                );
                assert!(
                    self.db.retry(held).await.is_err(),
                    "{name}: an order that reached Place Order is never retried"
                );
                // The order waiting behind the pause is bought, once.
                self.waiting_placed(serve, waiting).await;
                assert_eq!(self.ledger(HELD.1), 1, "{name}: still one order");
                format!(
                    "{name}: killed, restarted, needs_review, found in the order history after {} look(s): placed as {}, pause lifted, ledger 1, other order placed",
                    record.checks,
                    row.order_ref.as_deref().unwrap_or("?")
                )
            }
            End::FailedRetryable => unreachable!("{name}: not a restart case"),
        }
    }

    /// After SIGKILL of the buy's Chromium, restock still running.
    async fn after_chromium_kill(
        &self,
        serve: &Serve,
        held: i64,
        waiting: i64,
        auto_retry: bool,
        killed: Instant,
    ) -> String {
        let name = self.name;
        let at = self.case.at;
        // Classified: settled (no retry) or queued again (retry).
        let row = self
            .wait(serve, held, "the buy to be classified", |o| {
                o.status.is_terminal() || o.retries > 0
            })
            .await;
        let took = killed.elapsed();
        assert!(
            took < SHORT_BUY_TIMEOUT,
            "{name}: classified after {took:?}, over the buy timeout"
        );
        // Classified as what it was: the browser died, not the store.
        let why = row.message.clone().unwrap_or_default();
        let lower = why.to_lowercase();
        assert!(
            lower.contains("browser") || lower.contains("chromium"),
            "{name}: {why}"
        );
        // The browser is gone with the buy: no stray helper either.
        assert_no_chromium(self.env.path()).await;
        let line = if !auto_retry {
            assert_eq!(
                (row.status, row.retryable, row.phase),
                (Status::Failed, true, Some(at)),
                "{name}: {row:#?}"
            );
            let status = self.status_json();
            assert!(
                status["paused"].is_null(),
                "{name}: a retryable failure does not pause: {status:#}"
            );
            assert_eq!(self.ledger(HELD.1), 0, "{name}: nothing ordered");
            format!(
                "{name}: failed (retryable) in {:.1}s, not paused, nothing ordered",
                took.as_secs_f64()
            )
        } else {
            assert!(
                row.retries == 1
                    && row
                        .message
                        .as_deref()
                        .is_some_and(|m| m.contains("retry 1")),
                "{name}: queued again for its first retry: {row:#?}"
            );
            let row = self
                .wait(serve, held, "the retried order to settle", |o| {
                    o.status.is_terminal()
                })
                .await;
            assert_eq!(
                (row.status, row.retries),
                (Status::Placed, 1),
                "{name}: {row:#?}"
            );
            assert_eq!(self.ledger(HELD.1), 1, "{name}: exactly one order");
            format!(
                "{name}: failed (retryable) in {:.1}s, retried, placed once",
                took.as_secs_f64()
            )
        };
        self.waiting_placed(serve, waiting).await;
        line
    }

    /// The order accepted before the kill was not lost: it is bought, once.
    async fn waiting_placed(&self, serve: &Serve, waiting: i64) -> Order {
        let row = self
            .wait(serve, waiting, "the waiting order to settle", |o| {
                o.status.is_terminal()
            })
            .await;
        assert_eq!(row.status, Status::Placed, "{}: {row:#?}", self.name);
        assert_eq!(self.ledger(WAITING.1), 1, "{}", self.name);
        row
    }

    /// `restock status --json`, as the owner would read it.
    fn status_json(&self) -> serde_json::Value {
        let out = self
            .env
            .command()
            .args(["status", "--json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "restock status: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

fn at_kill_phase(case: &Case) -> String {
    match case.hold {
        Hold::Launch => format!("{} while Chromium launched", case.at),
        Hold::Hang(step) => format!(
            "{} (store hangs at {})",
            case.at,
            json!(step).as_str().unwrap()
        ),
    }
}

async fn set_hang(store: &DemoStore, step: Option<Step>) {
    fault(store, json!({"sku": HELD.1, "hang": step})).await;
}

/// A "Chromium" whose launch never finishes: a script that records its pid
/// and sleeps. It never prints a DevTools URL, so the purchaser waits in
/// its launch.
struct FakeChrome {
    script: PathBuf,
    pidfile: PathBuf,
}

impl FakeChrome {
    fn new(dir: &Path) -> FakeChrome {
        let script = dir.join("fake-chrome");
        let pidfile = dir.join("fake-chrome.pid");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\necho $$ > '{}.tmp' && mv '{0}.tmp' '{0}'\nexec sleep 600\n",
                pidfile.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        FakeChrome { script, pidfile }
    }

    fn pid(&self) -> Option<i32> {
        std::fs::read_to_string(&self.pidfile)
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// The parent-death signal reached it too (a zombie waiting for its new
    /// parent to reap it counts as dead).
    async fn assert_dead(&self) {
        let pid = self.pid().expect("the fake browser ran");
        let dead = poll_within(Duration::from_secs(5), || async move {
            (!alive(pid)).then_some(())
        })
        .await;
        assert!(
            dead.is_some(),
            "the hung browser launch {pid} outlived restock"
        );
    }
}
