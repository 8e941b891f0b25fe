//! restock's benchmarks, one command:
//!
//! ```sh
//! cargo run --release --example bench               # full counts (a few minutes)
//! cargo run --release --example bench -- --quick    # small counts, for a smoke run
//! cargo run --release --example bench -- --out perf.md --only engine,wake
//! cargo run --release --example bench -- --quick --only page
//! ```
//!
//! Runs, in order: engine overhead, intake (POST /reorder, GET /items),
//! wake latency, idle footprint (builds and spawns the `restock` binary
//! with `cargo build --bin restock`, same profile), the browser path on
//! both demo layouts (needs Chromium), the home page (`GET /`, 2,000
//! items) and the peak memory of one buy (the built binary's `restock
//! dry-run` and its Chromium). Each prints its figure next to a raw
//! reference measured in the same run; the Markdown table goes to stdout
//! and to `--out` (default: `bench.md` in the target directory).
//!
//! Everything runs on loopback, every loop is bounded in count and time,
//! and nothing here is a timed assertion: a missed target is a row that
//! says **no**.

mod browser;
mod engine;
mod idle;
mod intake;
mod memory;
mod page;
mod table;
mod wake;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use table::Row;

struct Args {
    quick: bool,
    out: Option<PathBuf>,
    only: Option<Vec<String>>,
}

fn args() -> Result<Args> {
    let mut a = Args {
        quick: false,
        out: None,
        only: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => a.quick = true,
            "--out" => a.out = Some(it.next().context("--out needs a path")?.into()),
            "--only" => {
                a.only = Some(
                    it.next()
                        .with_context(|| format!("--only needs a list: {}", names()))?
                        .split(',')
                        .map(str::to_string)
                        .collect(),
                )
            }
            "-h" | "--help" => {
                println!("usage: bench [--quick] [--out PATH] [--only {}]", names());
                std::process::exit(0);
            }
            other => anyhow::bail!("unknown argument `{other}`; try --help"),
        }
    }
    if let Some(unknown) = a
        .only
        .iter()
        .flatten()
        .find(|n| !BENCHES.iter().any(|b| b.name == n.as_str()))
    {
        anyhow::bail!(
            "--only: no benchmark named `{unknown}`; the names are {}",
            names()
        );
    }
    Ok(a)
}

/// Sizes of every run: full, or `--quick`.
struct Counts {
    engine_orders: usize,
    post_rounds: usize,
    gets: usize,
    wake_samples: usize,
    idle_window: Duration,
    browser_runs: usize,
    page_gets: usize,
    memory_runs: usize,
}

impl Counts {
    fn new(quick: bool) -> Counts {
        if quick {
            Counts {
                engine_orders: 2_000,
                post_rounds: 1,
                gets: 200,
                wake_samples: 100,
                idle_window: Duration::from_secs(10),
                browser_runs: 2,
                page_gets: 200,
                memory_runs: 1,
            }
        } else {
            Counts {
                engine_orders: 20_000,
                post_rounds: 5,
                gets: 2_000,
                wake_samples: 1_000,
                idle_window: Duration::from_secs(60),
                browser_runs: 5,
                page_gets: 2_000,
                memory_runs: 3,
            }
        }
    }
}

fn load1() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU", |(_, m)| m.trim())
        .to_string();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse::<f64>().ok())
        .map_or("?".into(), |k| format!("{:.1}", k / 1024.0 / 1024.0));
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} cores (nproc), {model}, {mem_gib} GiB RAM")
}

fn default_out() -> PathBuf {
    // target/<profile>/examples/bench -> target/bench.md
    std::env::current_exe()
        .ok()
        .and_then(|e| Some(e.parent()?.parent()?.parent()?.join("bench.md")))
        .unwrap_or_else(|| PathBuf::from("target/bench.md"))
}

/// What one benchmark gives the table: its rows and notes under it.
struct Ran {
    rows: Vec<Row>,
    notes: Vec<String>,
}

/// Each benchmark's `run` returns its rows in the shape it has; these make
/// them all a `Ran`.
impl From<(Vec<Row>, Vec<String>)> for Ran {
    fn from((rows, notes): (Vec<Row>, Vec<String>)) -> Ran {
        Ran { rows, notes }
    }
}

impl From<(Row, Vec<String>)> for Ran {
    fn from((row, notes): (Row, Vec<String>)) -> Ran {
        Ran::from((vec![row], notes))
    }
}

impl From<Vec<Row>> for Ran {
    fn from(rows: Vec<Row>) -> Ran {
        Ran::from((rows, Vec::new()))
    }
}

impl From<Row> for Ran {
    fn from(row: Row) -> Ran {
        Ran::from(vec![row])
    }
}

/// One benchmark: its `--only` name, the row title and target shown when
/// it cannot run, and how it runs. The table is the order they run in.
struct Bench {
    name: &'static str,
    title: &'static str,
    target: &'static str,
    run: fn(&tokio::runtime::Runtime, &Counts) -> Result<Ran>,
}

const BENCHES: &[Bench] = &[
    Bench {
        name: "engine",
        title: "1. Engine overhead",
        target: ">= 5,000 orders/s and >= 50% of raw",
        run: |rt, c| rt.block_on(engine::run(c.engine_orders)).map(Ran::from),
    },
    Bench {
        name: "intake",
        title: "2. Intake",
        target: ">= 10,000 req/s, p99 < 5 ms (POST); p99 < 20 ms (GET /items); p99 < 5 ms (POST, engine draining)",
        run: |rt, c| rt.block_on(intake::run(c.post_rounds, c.gets)).map(Ran::from),
    },
    Bench {
        name: "wake",
        title: "3. Wake latency",
        target: "p99 < 50 ms",
        run: |rt, c| rt.block_on(wake::run(c.wake_samples)).map(Ran::from),
    },
    Bench {
        name: "idle",
        title: "4. Idle footprint",
        target: "RSS < 15 MB, CPU < 0.1% of one core",
        run: |rt, c| rt.block_on(idle::run(c.idle_window)).map(Ran::from),
    },
    Bench {
        name: "browser",
        title: "5. Browser path",
        target: browser::TARGET,
        run: |rt, c| rt.block_on(browser::run(c.browser_runs)).map(Ran::from),
    },
    Bench {
        name: "page",
        title: "6. Home page",
        target: "p99 < 20 ms",
        run: |rt, c| rt.block_on(page::run(c.page_gets)).map(Ran::from),
    },
    Bench {
        name: "memory",
        title: "7. Peak memory of one dry-run buy",
        target: memory::TARGET,
        run: |rt, c| rt.block_on(memory::run(c.memory_runs)).map(Ran::from),
    },
];

fn names() -> String {
    BENCHES.iter().map(|b| b.name).collect::<Vec<_>>().join(",")
}

fn main() -> Result<()> {
    let args = args()?;
    let counts = Counts::new(args.quick);
    let wanted = |name: &str| {
        args.only
            .as_ref()
            .is_none_or(|o| o.iter().any(|x| x == name))
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let mut rows: Vec<Row> = Vec::new();
    let mut loads: Vec<String> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let step = |name: &str, loads: &mut Vec<String>| {
        eprintln!("bench: {name} (1-min load {})", load1());
        loads.push(format!("{} before {name}", load1()));
    };

    for bench in BENCHES.iter().filter(|b| wanted(b.name)) {
        step(bench.name, &mut loads);
        match (bench.run)(&runtime, &counts) {
            Ok(Ran { rows: r, notes: n }) => {
                rows.extend(r);
                notes.extend(n);
            }
            Err(e) => rows.push(Row::skipped(bench.title, bench.target, &format!("{e:#}"))),
        }
    }
    loads.push(format!("{} at the end", load1()));
    drop(runtime);

    let mut out = String::new();
    out.push_str(&table::markdown(&rows));
    out.push('\n');
    out.push_str(&format!(
        "Machine: {}. Mode: {}. 1-minute load: {}.\n",
        machine(),
        if args.quick { "--quick" } else { "full" },
        loads.join(", ")
    ));
    for n in notes {
        out.push_str(&format!("\n{n}\n"));
    }
    print!("{out}");
    let path = args.out.unwrap_or_else(default_out);
    std::fs::write(&path, &out).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("bench: table written to {}", path.display());
    Ok(())
}
