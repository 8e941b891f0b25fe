//! Benchmark 7, Peak memory of one buy: the proportional set size (PSS) of
//! one dry-run buy on the demo store, summed over the whole process tree:
//! restock's purchaser process and every Chromium process it starts.
//!
//! The purchaser runs in a child process of its own, the built binary's
//! `restock dry-run ITEM` (as an owner runs it) against a demo store served
//! by this process, on a profile signed in beforehand (untimed), so its
//! memory is measured apart from the benchmark's. While it runs, every
//! [`POLL`] the tree is walked (every descendant by `/proc/<pid>/stat`'s
//! parent, and every process in the process group of one of them, which
//! catches Chromium helpers that re-parent) and each process's
//! `/proc/<pid>/smaps_rollup` `Pss:` is read; the figure is the peak of
//! the sum.
//!
//! The reference is a bare headless Chromium: the very command line the
//! purchaser's Chromium was started with (read from its
//! `/proc/<pid>/cmdline` during the buy: same binary, same flags), on a
//! signed-in profile of its own, with the product page the buy opens first
//! as its start page instead of `about:blank`, measured the same way over
//! a window as long as that run's buy took, then asked to quit. Buys and
//! references alternate (never side by side: PSS divides pages shared
//! between processes, so a Chromium running alongside would halve both);
//! each figure is the median of the runs' peaks.
//!
//! PSS counts a shared page once in all, split between the processes that
//! map it; other Chromiums on the machine (other test runs) lower both
//! figures alike. `smaps_rollup` of a sandboxed Chromium process is only
//! readable with the right to ptrace it (root, or no sandbox): a process
//! whose figure cannot be read makes the row "not measured" rather than
//! a figure that leaves it out.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use restock::demo::{DemoStore, DEMO_EMAIL, DEMO_PASSWORD};
use restock::model::SessionState;
use restock::purchase::{browser::find_chrome, sign_in_with_form, BrowserSettings, StoreRegistry};
use std::os::unix::process::CommandExt;
use url::Url;

use crate::idle::{restock_binary, restock_command, Proc};
use crate::table::{ratio, Row};

const SKU: &str = "paper-towels";
/// How often the tree is read.
const POLL: Duration = Duration::from_millis(25);
const RUN_LIMIT: Duration = Duration::from_secs(120);
pub const TARGET: &str = "<= 1.2x the bare Chromium";

/// One process tree's peak.
#[derive(Clone, Copy, Default)]
struct Peak {
    /// The sum at its largest, KiB.
    total_kib: u64,
    /// The root process's own PSS at that moment, KiB.
    root_kib: u64,
    /// Processes in the tree at that moment.
    processes: usize,
}

pub async fn run(runs: usize) -> Result<Row> {
    let bin = tokio::task::spawn_blocking(restock_binary).await??;
    let chrome = find_chrome(None)?;
    let store = DemoStore::spawn("127.0.0.1:0".parse()?).await?;
    let result = measure(runs, &bin, &chrome, &store).await;
    store.shutdown().await;
    let (buys, bare) = result?;
    let median = |v: &[Peak]| {
        let mut v = v.to_vec();
        v.sort_by_key(|p| p.total_kib);
        v[(v.len() - 1) / 2]
    };
    let range = |v: &[Peak]| {
        let lo = v.iter().map(|p| p.total_kib).min().unwrap_or(0);
        let hi = v.iter().map(|p| p.total_kib).max().unwrap_or(0);
        format!("{}-{}", mib(lo), mib(hi))
    };
    let (b, r) = (median(&buys), median(&bare));
    Ok(Row {
        figure: format!(
            "peak PSS {} MiB, median of {} buys (range {} MiB); restock's own process {} MiB of it, {} processes",
            mib(b.total_kib),
            buys.len(),
            range(&buys),
            mib(b.root_kib),
            b.processes
        ),
        reference: format!(
            "bare headless Chromium, same binary and flags, the product page: peak PSS {} MiB (range {} MiB), {} processes",
            mib(r.total_kib),
            range(&bare),
            r.processes
        ),
        ratio: ratio(b.total_kib as f64, r.total_kib as f64),
        target: TARGET.into(),
        met: Some(b.total_kib as f64 <= 1.2 * r.total_kib as f64),
        ..Row::new("7. Peak memory of one dry-run buy (PSS of restock's process and every Chromium process it starts)")
    })
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

async fn measure(
    runs: usize,
    bin: &Path,
    chrome: &Path,
    store: &DemoStore,
) -> Result<(Vec<Peak>, Vec<Peak>)> {
    let dir = tempfile::tempdir()?;
    let state = dir.path().join("state");
    let catalog = dir.path().join("catalog.toml");
    std::fs::write(
        &catalog,
        format!(
            "[[item]]\nid = \"{SKU}\"\nname = \"Paper towels\"\n[[item.source]]\nstore = \"demo\"\nurl = \"{}\"\n",
            store.product_url(SKU)
        ),
    )?;
    let checkout = [
        ("name", "Ada Lovelace"),
        ("address", "12 Analytical Street"),
        ("postal_code", "10115"),
    ];
    let env: Vec<(String, String)> = vec![
        ("RESTOCK_STATE_DIR".into(), state.display().to_string()),
        ("RESTOCK_CATALOG".into(), catalog.display().to_string()),
        ("RESTOCK_CHROME".into(), chrome.display().to_string()),
        (
            "RESTOCK_STORE_URLS".into(),
            format!("{{demo=\"{}\"}}", store.base_url()),
        ),
        (
            "RESTOCK_CHECKOUT".into(),
            format!(
                "{{{}}}",
                checkout
                    .iter()
                    .map(|(k, v)| format!("{k}=\"{v}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        ("RESTOCK_LOG".into(), "warn".into()),
        // No config or store files of the machine's own.
        (
            "XDG_CONFIG_HOME".into(),
            dir.path().join("config").display().to_string(),
        ),
        (
            "XDG_STATE_HOME".into(),
            dir.path().join("xdg-state").display().to_string(),
        ),
    ];

    // Untimed: sign in the purchaser's profile (where `restock dry-run`
    // finds it) and the reference's.
    let bare_profiles = dir.path().join("bare-profiles");
    for profiles in [state.join("profiles"), bare_profiles.clone()] {
        let mut overrides = BTreeMap::new();
        overrides.insert("demo".to_string(), Url::parse(&store.base_url())?);
        let mut settings = BrowserSettings::new(
            profiles,
            dir.path().join("shots"),
            Arc::new(StoreRegistry::load(None, &overrides)?),
        );
        settings.chrome = Some(chrome.to_path_buf());
        let signed = sign_in_with_form(&settings, "demo", DEMO_EMAIL, DEMO_PASSWORD).await?;
        if signed != SessionState::SignedIn {
            bail!("a profile did not sign in: {signed:?}");
        }
    }

    let (mut buys, mut bare) = (Vec::new(), Vec::new());
    for i in 0..runs {
        let out = dir.path().join(format!("dry-run-{i}.log"));
        let (peak, took, chromium) = tokio::task::spawn_blocking({
            let (bin, env, out) = (bin.to_path_buf(), env.clone(), out.clone());
            move || buy(&bin, &env, &out)
        })
        .await??;
        buys.push(peak);
        let argv = chromium.context("saw no Chromium under `restock dry-run`")?;
        let argv = bare_command(&argv, &bare_profiles.join("demo"), &store.product_url(SKU))?;
        bare.push(tokio::task::spawn_blocking(move || reference(&argv, took)).await??);
    }
    Ok((buys, bare))
}

/// `restock dry-run` in a process group of its own, its tree read every
/// [`POLL`] until it exits: the peak, how long it took, and the command
/// line its Chromium was started with.
fn buy(
    bin: &Path,
    env: &[(String, String)],
    out: &Path,
) -> Result<(Peak, Duration, Option<Vec<String>>)> {
    let log = std::fs::File::create(out)?;
    let mut cmd = restock_command(bin);
    cmd.args(["dry-run", SKU])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0);
    let start = Instant::now();
    let mut child = cmd.spawn().context("starting `restock dry-run`")?;
    let root = child.id();
    let mut peak = Peak::default();
    let mut chromium = None;
    let mut groups = HashSet::new();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if start.elapsed() > RUN_LIMIT {
            kill_groups(&groups);
            let _ = child.kill();
            let _ = child.wait();
            bail!("`restock dry-run` took over {RUN_LIMIT:?}");
        }
        let tree = Tree::read(root);
        groups.extend(tree.groups.iter().copied());
        if chromium.is_none() {
            chromium = tree.child_cmdline(root, "chrom");
        }
        peak = peak.max_with(tree.pss(root)?);
        std::thread::sleep(POLL);
    };
    let took = start.elapsed();
    // Every Chromium it started is gone with it (restock kills its
    // browser's group); make sure.
    kill_groups(&groups);
    if !status.success() {
        let said = std::fs::read_to_string(out).unwrap_or_default();
        bail!("`restock dry-run` exited with {status}: {said}");
    }
    Ok((peak, took, chromium))
}

/// The purchaser's Chromium command line, on `profile`, opening `url`.
fn bare_command(argv: &[String], profile: &Path, url: &str) -> Result<Vec<String>> {
    let mut argv = argv.to_vec();
    let dir = argv
        .iter_mut()
        .find(|a| a.starts_with("--user-data-dir="))
        .context("the purchaser's Chromium has no --user-data-dir")?;
    *dir = format!("--user-data-dir={}", profile.display());
    // Where the start page stands depends on when the command line was
    // read: Chromium rewrites its own (its switches first) once running.
    let mut start_pages = argv.iter_mut().filter(|a| *a == "about:blank");
    match (start_pages.next(), start_pages.next()) {
        (Some(page), None) => *page = url.to_string(),
        _ => bail!("the purchaser's Chromium does not start on one about:blank: {argv:?}"),
    }
    Ok(argv)
}

/// The bare Chromium, read every [`POLL`] for `window`, then asked to
/// quit (SIGTERM, SIGKILL after 10 s) and its groups killed.
fn reference(argv: &[String], window: Duration) -> Result<Peak> {
    let (program, args) = argv.split_first().context("empty command line")?;
    let mut bare = Proc {
        child: Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {program}"))?,
    };
    let root = bare.child.id();
    let start = Instant::now();
    let mut peak = Peak::default();
    let mut groups = HashSet::from([root as i32]);
    let result = loop {
        if start.elapsed() >= window {
            break Ok(peak);
        }
        if let Some(status) = bare.child.try_wait()? {
            break Err(anyhow::anyhow!("the bare Chromium exited early: {status}"));
        }
        let tree = Tree::read(root);
        groups.extend(tree.groups.iter().copied());
        match tree.pss(root) {
            Ok(p) => peak = peak.max_with(p),
            Err(e) => break Err(e),
        }
        std::thread::sleep(POLL);
    };
    bare.stop();
    kill_groups(&groups);
    result
}

fn kill_groups(groups: &HashSet<i32>) {
    for &g in groups {
        if g > 1 {
            // SAFETY: sends a signal; the groups are the children's own
            // (process_group(0) made each leader of one).
            unsafe { libc::killpg(g, libc::SIGKILL) };
        }
    }
}

impl Peak {
    fn max_with(self, other: Peak) -> Peak {
        if other.total_kib > self.total_kib {
            other
        } else {
            self
        }
    }
}

/// A process tree as `/proc` shows it now.
struct Tree {
    /// pid -> parent pid.
    parent: HashMap<u32, u32>,
    /// The tree: the root, its descendants, and the members of their
    /// process groups.
    members: Vec<u32>,
    /// Their process groups, except the benchmark's own.
    groups: HashSet<i32>,
}

impl Tree {
    fn read(root: u32) -> Tree {
        let mut parent = HashMap::new();
        let mut group = HashMap::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // After the command name's closing parenthesis: state, ppid, pgrp.
            let Some((_, rest)) = stat.rsplit_once(')') else {
                continue;
            };
            let f: Vec<&str> = rest.split_whitespace().collect();
            if let (Some(ppid), Some(pgrp)) = (
                f.get(1).and_then(|s| s.parse::<u32>().ok()),
                f.get(2).and_then(|s| s.parse::<i32>().ok()),
            ) {
                parent.insert(pid, ppid);
                group.insert(pid, pgrp);
            }
        }
        let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
        for (&pid, &ppid) in &parent {
            children.entry(ppid).or_default().push(pid);
        }
        let mut seen = HashSet::from([root]);
        let mut todo = vec![root];
        while let Some(p) = todo.pop() {
            for &c in children.get(&p).into_iter().flatten() {
                if seen.insert(c) {
                    todo.push(c);
                }
            }
        }
        // SAFETY: getpgrp has no preconditions.
        let ours = unsafe { libc::getpgrp() };
        let groups: HashSet<i32> = seen
            .iter()
            .filter_map(|p| group.get(p).copied())
            .filter(|&g| g != ours)
            .collect();
        for (&pid, g) in &group {
            if groups.contains(g) {
                seen.insert(pid);
            }
        }
        Tree {
            parent,
            members: seen.into_iter().collect(),
            groups,
        }
    }

    /// The command line of `root`'s first child whose name contains `name`.
    fn child_cmdline(&self, root: u32, name: &str) -> Option<Vec<String>> {
        self.members
            .iter()
            .filter(|p| self.parent.get(p) == Some(&root))
            .find_map(|p| {
                let comm = std::fs::read_to_string(format!("/proc/{p}/comm")).ok()?;
                if !comm.contains(name) {
                    return None;
                }
                let raw = std::fs::read(format!("/proc/{p}/cmdline")).ok()?;
                let argv: Vec<String> = raw
                    .split(|&b| b == 0)
                    .filter(|a| !a.is_empty())
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect();
                (!argv.is_empty()).then_some(argv)
            })
    }

    /// The sum of the members' PSS. A process that exited meanwhile counts
    /// nothing; one whose figure cannot be read is an error.
    fn pss(&self, root: u32) -> Result<Peak> {
        let mut peak = Peak::default();
        for &pid in &self.members {
            let kib = match std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) {
                Ok(text) => text
                    .lines()
                    .find(|l| l.starts_with("Pss:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|k| k.parse::<u64>().ok())
                    .unwrap_or(0),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => continue,
                Err(e) => bail!(
                    "cannot read /proc/{pid}/smaps_rollup ({e}); run the benchmark as a user allowed to \
                     ptrace the browser's processes"
                ),
            };
            peak.total_kib += kib;
            peak.processes += 1;
            if pid == root {
                peak.root_kib = kib;
            }
        }
        Ok(peak)
    }
}
