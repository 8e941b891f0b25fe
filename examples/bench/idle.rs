//! Benchmark 4, Idle footprint: the built `restock serve` binary, idle, with a
//! heartbeat every second to a local receiver (`RESTOCK_HEARTBEAT_INTERVAL`
//! and `RESTOCK_POLL_INTERVAL` both 1 s: the idle loop beats when it turns),
//! default logging (info, to a file). RSS from
//! `/proc/<pid>/status` (VmRSS at the end, VmHWM the peak) and CPU time
//! from `/proc/<pid>/stat` (utime + stime, in clock ticks) over the window,
//! as a share of one core.
//!
//! The reference is `sleep`, spawned alongside and measured over the same
//! window: the floor any idle process pays on this machine. A minimal
//! tokio + axum server would be a closer reference but needs a binary of
//! its own, which the bench does not build.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use axum::routing::any;

use crate::table::{ratio, Row};

/// `target/<profile>/restock`, next to `target/<profile>/examples/bench`,
/// built first with cargo so it matches the sources.
pub fn restock_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .context("cannot locate the target directory")?;
    let target_dir = profile_dir
        .parent()
        .context("cannot locate the target directory")?;
    let bin = profile_dir.join("restock");
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "--bin", "restock", "--target-dir"])
        .arg(target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if release {
        cmd.arg("--release");
    }
    eprintln!("bench: building the restock binary ({})", bin.display());
    match cmd.status() {
        Ok(s) if s.success() => {}
        Ok(s) => bail!("`cargo build --bin restock` failed ({s})"),
        Err(e) if bin.exists() => {
            eprintln!(
                "bench: cannot run cargo ({e}); using the existing {}",
                bin.display()
            )
        }
        Err(e) => bail!("cannot run cargo to build the restock binary: {e}"),
    }
    Ok(bin)
}

/// The built binary with none of this process's `RESTOCK_*` settings:
/// the caller passes every one it wants.
pub fn restock_command(bin: &Path) -> Command {
    let mut cmd = Command::new(bin);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("RESTOCK_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// A child process the benchmark stops itself.
pub struct Proc {
    pub child: Child,
}

impl Proc {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then SIGKILL after 10 s.
    pub fn stop(mut self) {
        // SAFETY: signalling a child we spawned and have not reaped.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// utime + stime in seconds.
fn cpu_s(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = stat
        .rsplit_once(')')
        .context("malformed /proc/<pid>/stat")?
        .1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: u64 = fields.get(11).context("no utime")?.parse()?;
    let stime: u64 = fields.get(12).context("no stime")?.parse()?;
    Ok((utime + stime) as f64 / ticks_per_s())
}

/// `/proc` counts CPU time in clock ticks (usually 100 per second).
fn ticks_per_s() -> f64 {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64
}

/// (VmRSS, VmHWM) in KiB.
fn rss_kib(pid: u32) -> Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> Result<u64> {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .with_context(|| format!("no {name} in /proc/{pid}/status"))?;
        Ok(line
            .split_whitespace()
            .nth(1)
            .context("malformed status line")?
            .parse()?)
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

fn free_port() -> Result<SocketAddr> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

pub async fn run(window: Duration) -> Result<Vec<Row>> {
    let bin = tokio::task::spawn_blocking(restock_binary).await??;
    let dir = tempfile::tempdir()?;
    let catalog = dir.path().join("catalog.toml");
    std::fs::write(&catalog, crate::intake::catalog_toml("idle", 20))?;

    // The heartbeat receiver: counts every request on any path.
    let pings = Arc::new(AtomicUsize::new(0));
    let counter = pings.clone();
    let app = axum::Router::new().route(
        "/{*path}",
        any(move || {
            let c = counter.clone();
            async move {
                c.fetch_add(1, Ordering::SeqCst);
                "OK"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let hb_addr = listener.local_addr()?;
    let receiver = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    let listen = free_port()?;
    let mut cmd = restock_command(&bin);
    cmd.arg("serve")
        .env("RESTOCK_STATE_DIR", dir.path().join("state"))
        .env("RESTOCK_CATALOG", &catalog)
        .env("RESTOCK_LISTEN", listen.to_string())
        .env("RESTOCK_HEARTBEAT_URL", format!("http://{hb_addr}/beat"))
        .env("RESTOCK_HEARTBEAT_INTERVAL", "1s")
        // The idle loop turns (and so beats) once per poll interval; the
        // 5 s default would space the pings 5 s apart.
        .env("RESTOCK_POLL_INTERVAL", "1s")
        .env("RESTOCK_SESSION_CHECK", "off")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("serve.log"))?);
    let serve = Proc {
        child: cmd
            .spawn()
            .with_context(|| format!("spawning {}", bin.display()))?,
    };
    let result = measure(&serve, listen, window, &pings).await;
    serve.stop();
    receiver.abort();
    let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default();
    let m = result.with_context(|| format!("restock serve log:\n{log}"))?;

    let cpu_pct = 100.0 * m.serve_cpu_s / m.window_s;
    let sleep_pct = 100.0 * m.sleep_cpu_s / m.window_s;
    Ok(vec![
        Row {
            figure: format!(
                "VmRSS {} (VmHWM {}) after {:.0} s idle; {} heartbeat pings received in the window",
                mib(m.serve_rss.0),
                mib(m.serve_rss.1),
                m.window_s,
                m.pings,
            ),
            reference: format!(
                "`sleep`: VmRSS {} (VmHWM {})",
                mib(m.sleep_rss.0),
                mib(m.sleep_rss.1)
            ),
            ratio: ratio(m.serve_rss.0 as f64, m.sleep_rss.0 as f64),
            target: "RSS < 15 MB".into(),
            met: Some((m.serve_rss.0 * 1024) < 15_000_000),
            ..Row::new("4a. Idle RSS, `restock serve`, heartbeat every 1 s")
        },
        Row {
            figure: format!(
                "{:.3}% of one core ({:.2} s CPU in {:.0} s; /proc counts {:.0} ms ticks)",
                cpu_pct,
                m.serve_cpu_s,
                m.window_s,
                1000.0 / ticks_per_s()
            ),
            reference: format!("`sleep`: {:.3}% ({:.2} s CPU)", sleep_pct, m.sleep_cpu_s),
            ratio: "n/a (reference ~0)".into(),
            target: "CPU < 0.1% of one core".into(),
            met: Some(cpu_pct < 0.1),
            ..Row::new("4b. Idle CPU, same run")
        },
    ])
}

struct Measured {
    window_s: f64,
    serve_cpu_s: f64,
    serve_rss: (u64, u64),
    sleep_cpu_s: f64,
    sleep_rss: (u64, u64),
    pings: usize,
}

async fn measure(
    serve: &Proc,
    listen: SocketAddr,
    window: Duration,
    pings: &AtomicUsize,
) -> Result<Measured> {
    // Up means the intake answers (200, or 503 while the engine counts as
    // silent); give it 20 s.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .no_proxy()
        .build()?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if client
            .get(format!("http://{listen}/health"))
            .send()
            .await
            .is_ok()
        {
            break;
        }
        if Instant::now() > deadline {
            bail!("restock serve did not answer /health within 20 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(client);
    // Settle after start-up before the window opens.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let secs = (window.as_secs() + 30).to_string();
    let sleep = Proc {
        child: Command::new("sleep")
            .arg(&secs)
            .stdin(Stdio::null())
            .spawn()
            .context("spawning sleep")?,
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (s0, z0, p0) = (
        cpu_s(serve.pid())?,
        cpu_s(sleep.pid())?,
        pings.load(Ordering::SeqCst),
    );
    let t0 = Instant::now();
    tokio::time::sleep(window).await;
    let (s1, z1, p1) = (
        cpu_s(serve.pid())?,
        cpu_s(sleep.pid())?,
        pings.load(Ordering::SeqCst),
    );
    let window_s = t0.elapsed().as_secs_f64();
    let serve_rss = rss_kib(serve.pid())?;
    let sleep_rss = rss_kib(sleep.pid())?;
    sleep.stop();
    Ok(Measured {
        window_s,
        serve_cpu_s: s1 - s0,
        serve_rss,
        sleep_cpu_s: z1 - z0,
        sleep_rss,
        pings: p1 - p0,
    })
}
