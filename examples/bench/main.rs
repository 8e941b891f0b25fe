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
                        .context(
                            "--only needs a list: engine,intake,wake,idle,browser,page,memory",
                        )?
                        .split(',')
                        .map(str::to_string)
                        .collect(),
                )
            }
            "-h" | "--help" => {
                println!(
                    "usage: bench [--quick] [--out PATH] [--only engine,intake,wake,idle,browser,page,memory]"
                );
                std::process::exit(0);
            }
            other => anyhow::bail!("unknown argument `{other}`; try --help"),
        }
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

    if wanted("engine") {
        step("engine", &mut loads);
        match runtime.block_on(engine::run(counts.engine_orders)) {
            Ok((r, n)) => {
                rows.extend(r);
                notes.extend(n);
            }
            Err(e) => rows.push(Row::skipped(
                "1. Engine overhead",
                ">= 5,000 orders/s and >= 50% of raw",
                &format!("{e:#}"),
            )),
        }
    }
    if wanted("intake") {
        step("intake", &mut loads);
        match runtime.block_on(intake::run(counts.post_rounds, counts.gets)) {
            Ok((r, n)) => {
                rows.extend(r);
                notes.extend(n);
            }
            Err(e) => rows.push(Row::skipped(
                "2. Intake",
                ">= 10,000 req/s, p99 < 5 ms (POST); p99 < 20 ms (GET /items); p99 < 5 ms (POST, engine draining)",
                &format!("{e:#}"),
            )),
        }
    }
    if wanted("wake") {
        step("wake", &mut loads);
        match runtime.block_on(wake::run(counts.wake_samples)) {
            Ok(r) => rows.push(r),
            Err(e) => rows.push(Row::skipped(
                "3. Wake latency",
                "p99 < 50 ms",
                &format!("{e:#}"),
            )),
        }
    }
    if wanted("idle") {
        step("idle", &mut loads);
        match runtime.block_on(idle::run(counts.idle_window)) {
            Ok(r) => rows.extend(r),
            Err(e) => rows.push(Row::skipped(
                "4. Idle footprint",
                "RSS < 15 MB, CPU < 0.1% of one core",
                &format!("{e:#}"),
            )),
        }
    }
    if wanted("browser") {
        step("browser", &mut loads);
        match runtime.block_on(browser::run(counts.browser_runs)) {
            Ok(r) => rows.extend(r),
            Err(e) => rows.push(Row::skipped(
                "5. Browser path",
                browser::TARGET,
                &format!("{e:#}"),
            )),
        }
    }
    if wanted("page") {
        step("page", &mut loads);
        match runtime.block_on(page::run(counts.page_gets)) {
            Ok((r, n)) => {
                rows.push(r);
                notes.extend(n);
            }
            Err(e) => rows.push(Row::skipped(
                "6. Home page",
                "p99 < 20 ms",
                &format!("{e:#}"),
            )),
        }
    }
    if wanted("memory") {
        step("memory", &mut loads);
        match runtime.block_on(memory::run(counts.memory_runs)) {
            Ok(r) => rows.push(r),
            Err(e) => rows.push(Row::skipped(
                "7. Peak memory of one dry-run buy",
                memory::TARGET,
                &format!("{e:#}"),
            )),
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
