//! Launching and always closing Chromium on a store's persistent profile.
//!
//! We start the Chromium process ourselves (rather than through
//! `chromiumoxide::Browser::launch`) so that one guard, [`BrowserSession`],
//! owns the child process and its whole process group: dropping the session
//! (a finished buy, an error, a timeout, or a cancelled buy future) kills
//! every Chromium process it started and reaps the main one. chromiumoxide
//! only speaks CDP over the websocket the process prints on start.
//!
//! Decisions worth knowing:
//! - Chromium runs in its own process group, so one `killpg` reaches its
//!   renderers and helpers too, and a Ctrl-C meant for restock's terminal is
//!   handled by restock, not by the browser mid-checkout.
//! - The main process gets `PR_SET_PDEATHSIG(SIGKILL)`: if restock itself is
//!   killed, Chromium does not live on holding the profile. (The signal
//!   fires when the *thread* that spawned it exits; launches run on runtime
//!   worker threads, which live as long as the runtime.)
//! - A profile is used by one restock browser at a time (an `flock` on
//!   `restock.lock` inside it): a second user fails fast with
//!   [`BrowserError::ProfileBusy`] instead of two browsers corrupting one
//!   profile. Holding that lock, restock removes a stale `SingletonLock`
//!   left by a killed Chromium (it names a host and pid that may be reused
//!   after a container restart), unless a live Chromium on this host really
//!   uses the profile.
//! - A clean [`BrowserSession::close`] asks Chromium to quit first, because
//!   Chromium writes cookies to disk lazily: killing it right after a sign-in
//!   would lose the session.
//! - `--no-sandbox` is passed only when running as root, because Chromium
//!   refuses to start as root with its sandbox on. Run the service as its own
//!   unprivileged user (the NixOS module does) to keep the sandbox.

use std::collections::VecDeque;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chromiumoxide::handler::HandlerConfig;
use chromiumoxide::{Browser, Page};
use futures::StreamExt;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStderr, Command};
use tokio::task::JoinHandle;

/// Names tried on `PATH`, in order, when no path is configured.
pub const CHROME_NAMES: [&str; 3] = ["chromium", "chromium-browser", "google-chrome"];

/// Flags for a long-lived service: no first-run UI, no background traffic
/// that is not the store's, no GPU (headless servers have none), no QUIC
/// (some stores' bot defences treat it oddly), and no desktop keyring prompt.
const SERVICE_FLAGS: [&str; 11] = [
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-sync",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-gpu",
    "--disable-quic",
    "--password-store=basic",
    // Containers give /dev/shm 64 MB; Chromium crashes tabs when it fills.
    "--disable-dev-shm-usage",
    // Screenshots for the owner should show what a desktop user sees.
    "--window-size=1280,1000",
];

/// Files Chromium uses to keep one browser per profile.
const SINGLETON_FILES: [&str; 3] = ["SingletonLock", "SingletonSocket", "SingletonCookie"];

/// How long a clean close may take before the session is killed anyway.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// How long a Chromium that still holds a profile may take to exit (it was
/// killed a moment ago) before the profile counts as in use.
const OWNER_EXIT_GRACE: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    #[error(
        "no Chromium found: looked for {} on PATH. Install it (Debian/Ubuntu: \
         `apt-get install chromium`; Nix: the `chromium` package) or set the \
         browser path in the config", CHROME_NAMES.join(", ")
    )]
    ChromeNotFound,
    #[error("the configured browser `{0}` does not exist or is not a file")]
    ChromeMissing(PathBuf),
    #[error("cannot prepare the browser profile {path}: {source}")]
    Profile {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the browser profile {0} is in use by another restock browser (a buy, the probe, or `restock login`); try again when it is done")]
    ProfileBusy(PathBuf),
    #[error(
        "the browser profile {path} is in use by Chromium process {pid}; close that browser first"
    )]
    ProfileInUse { path: PathBuf, pid: i32 },
    #[error("cannot start {chrome}: {source}")]
    Spawn {
        chrome: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("Chromium did not start within {timeout:?}; its last output:\n{stderr}")]
    LaunchTimeout { timeout: Duration, stderr: String },
    #[error("Chromium exited while starting; its last output:\n{stderr}")]
    LaunchExited { stderr: String },
    #[error("cannot talk to Chromium over CDP: {0}")]
    Cdp(#[source] chromiumoxide::error::CdpError),
    #[error("a browser set-up task failed: {0}")]
    Task(#[source] tokio::task::JoinError),
    #[error("Chromium did not answer within {0:?}")]
    Timeout(Duration),
}

impl BrowserError {
    /// Worth an automatic retry (the machine was slow, the profile briefly
    /// busy), as opposed to something the owner must fix.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            BrowserError::ProfileBusy(_)
                | BrowserError::LaunchTimeout { .. }
                | BrowserError::LaunchExited { .. }
                | BrowserError::Cdp(_)
                | BrowserError::Task(_)
                | BrowserError::Timeout(_)
        )
    }
}

/// The configured browser, or the first of [`CHROME_NAMES`] on `PATH`.
pub fn find_chrome(explicit: Option<&Path>) -> Result<PathBuf, BrowserError> {
    if let Some(path) = explicit {
        return if path.is_file() {
            Ok(path.to_path_buf())
        } else {
            Err(BrowserError::ChromeMissing(path.to_path_buf()))
        };
    }
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    CHROME_NAMES
        .iter()
        .flat_map(|name| std::env::split_paths(&path_var).map(move |dir| dir.join(name)))
        .find(|candidate| is_executable(candidate))
        .ok_or(BrowserError::ChromeNotFound)
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `<profiles_dir>/<store>`, created private (0700), or made private if it
/// exists with a looser mode: it holds the store's session cookies.
pub fn prepare_profile(profiles_dir: &Path, store: &str) -> Result<PathBuf, BrowserError> {
    let profile = profiles_dir.join(store);
    let err = |source| BrowserError::Profile {
        path: profile.clone(),
        source,
    };
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&profile)
        .map_err(err)?;
    let mode = fs::metadata(&profile).map_err(err)?.permissions().mode();
    if mode & 0o077 != 0 {
        fs::set_permissions(&profile, fs::Permissions::from_mode(0o700)).map_err(err)?;
    }
    Ok(profile)
}

/// What to launch.
#[derive(Debug, Clone)]
pub struct LaunchOptions {
    pub chrome: PathBuf,
    pub profile: PathBuf,
    pub headless: bool,
    /// Bounds starting the process and connecting to it.
    pub launch_timeout: Duration,
    /// Bounds each CDP request inside chromiumoxide.
    pub request_timeout: Duration,
}

/// The exclusive right to use one profile directory; released on drop
/// (closing the file releases the `flock`).
#[derive(Debug)]
struct ProfileLock {
    _file: File,
}

impl ProfileLock {
    fn acquire(profile: &Path) -> Result<ProfileLock, BrowserError> {
        let path = profile.join("restock.lock");
        let err = |source| BrowserError::Profile {
            path: path.clone(),
            source,
        };
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(err)?;
        // SAFETY: flock on a file descriptor we own; no memory is involved.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::EWOULDBLOCK) => Err(BrowserError::ProfileBusy(profile.to_path_buf())),
                _ => Err(err(e)),
            };
        }
        Ok(ProfileLock { _file: file })
    }
}

/// Removes Chromium's singleton files left by a browser that was killed,
/// unless a live Chromium on this host still uses the profile. A browser
/// that was just killed (a cancelled buy) gets [`OWNER_EXIT_GRACE`] to
/// finish exiting. Blocking: call it off the runtime, holding the
/// [`ProfileLock`].
fn clear_stale_singleton(profile: &Path) -> Result<(), BrowserError> {
    if let Ok(target) = fs::read_link(profile.join("SingletonLock")) {
        let target = target.to_string_lossy();
        let deadline = std::time::Instant::now() + OWNER_EXIT_GRACE;
        while let Some(pid) = live_owner(&target, profile) {
            if std::time::Instant::now() >= deadline {
                return Err(BrowserError::ProfileInUse {
                    path: profile.to_path_buf(),
                    pid,
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    for name in SINGLETON_FILES {
        match fs::remove_file(profile.join(name)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(BrowserError::Profile {
                    path: profile.join(name),
                    source: e,
                })
            }
            _ => {}
        }
    }
    Ok(())
}

/// The pid in a `SingletonLock` target (`<hostname>-<pid>`) if it is this
/// host's, alive, and a browser using `profile`.
fn live_owner(target: &str, profile: &Path) -> Option<i32> {
    let (host, pid) = target.rsplit_once('-')?;
    let pid: i32 = pid.parse().ok()?;
    if host != hostname()? {
        return None;
    }
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let needle = profile.to_string_lossy();
    String::from_utf8_lossy(&cmdline)
        .contains(needle.as_ref())
        .then_some(pid)
}

fn hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its whole length; gethostname writes at
    // most that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    Some(String::from_utf8_lossy(&buf[..end]).into_owned())
}

fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn chrome_command(opts: &LaunchOptions) -> Command {
    let mut cmd = Command::new(&opts.chrome);
    cmd.args(SERVICE_FLAGS)
        .arg(format!("--user-data-dir={}", opts.profile.display()))
        .arg("--remote-debugging-port=0")
        .arg("--remote-debugging-address=127.0.0.1");
    if opts.headless {
        cmd.arg("--headless=new");
    }
    if running_as_root() {
        cmd.arg("--no-sandbox");
    }
    cmd.arg("about:blank")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    cmd
}

/// A running Chromium with one open tab. Dropping it kills the browser;
/// prefer [`BrowserSession::close`] when you can await.
#[derive(Debug)]
pub struct BrowserSession {
    browser: Option<Browser>,
    page: Page,
    handler: JoinHandle<()>,
    child: Option<Child>,
    pgid: i32,
    _lock: ProfileLock,
}

impl BrowserSession {
    /// Starts Chromium on `opts.profile` and opens a blank tab, all within
    /// `opts.launch_timeout`.
    pub async fn launch(opts: &LaunchOptions) -> Result<BrowserSession, BrowserError> {
        let profile = opts.profile.clone();
        let lock = tokio::task::spawn_blocking(move || {
            let lock = ProfileLock::acquire(&profile)?;
            clear_stale_singleton(&profile)?;
            Ok::<_, BrowserError>(lock)
        })
        .await
        .map_err(BrowserError::Task)??;
        let mut child = chrome_command(opts)
            .spawn()
            .map_err(|source| BrowserError::Spawn {
                chrome: opts.chrome.clone(),
                source,
            })?;
        let pgid = child.id().map(|id| id as i32).unwrap_or(0);
        // From here on `child` is killed on every early return (kill_on_drop)
        // and its group by `Orphan`.
        let orphan = Orphan(pgid);
        let stderr = child.stderr.take().expect("stderr is piped");
        let ws = debugger_url(stderr, opts.launch_timeout).await?;
        let (browser, handler, page) =
            tokio::time::timeout(opts.launch_timeout, connect(&ws, opts.request_timeout))
                .await
                .map_err(|_| BrowserError::Timeout(opts.launch_timeout))??;
        std::mem::forget(orphan);
        Ok(BrowserSession {
            browser: Some(browser),
            page,
            handler,
            child: Some(child),
            pgid,
            _lock: lock,
        })
    }

    /// The tab the flow drives.
    pub fn page(&self) -> &Page {
        &self.page
    }

    /// Asks Chromium to quit (so it writes cookies to disk), waits a bounded
    /// time, then kills whatever is left.
    pub async fn close(mut self) {
        if let Some(browser) = self.browser.as_mut() {
            let _ = tokio::time::timeout(CLOSE_GRACE, browser.close()).await;
        }
        if let Some(child) = self.child.as_mut() {
            if tokio::time::timeout(CLOSE_GRACE, child.wait())
                .await
                .is_ok()
            {
                // Reaped: its helpers may outlive it for a moment.
                kill_group(self.pgid);
                self.child = None;
            }
        }
        // Drop does the rest (kill and reap if the clean exit timed out).
    }
}

impl Drop for BrowserSession {
    fn drop(&mut self) {
        self.handler.abort();
        self.browser = None;
        let Some(mut child) = self.child.take() else {
            return;
        };
        kill_group(self.pgid);
        let _ = child.start_kill();
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        // Reap without blocking the runtime; with no runtime left, tokio's
        // kill_on_drop reaps it in the background.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = child.wait().await;
            });
        }
    }
}

/// Kills a process group if launching fails after the spawn.
struct Orphan(i32);

impl Drop for Orphan {
    fn drop(&mut self) {
        kill_group(self.0);
    }
}

fn kill_group(pgid: i32) {
    if pgid > 1 {
        // SAFETY: sends a signal; no memory is involved. The group is ours
        // (process_group(0) made the child its leader).
        unsafe {
            libc::killpg(pgid, libc::SIGKILL);
        }
    }
}

/// Reads Chromium's stderr until it prints its DevTools websocket URL, then
/// keeps draining it in the background (a full pipe would stall Chromium).
async fn debugger_url(stderr: ChildStderr, timeout: Duration) -> Result<String, BrowserError> {
    let mut lines = BufReader::new(stderr).lines();
    let mut tail: VecDeque<String> = VecDeque::new();
    let found = tokio::time::timeout(timeout, async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some((_, ws)) = line.rsplit_once("listening on ") {
                if ws.starts_with("ws://") {
                    return Some(ws.trim().to_string());
                }
            }
            if tail.len() == 20 {
                tail.pop_front();
            }
            tail.push_back(line);
        }
        None
    })
    .await;
    let stderr = || Vec::from(tail.clone()).join("\n");
    match found {
        Ok(Some(ws)) => {
            tokio::spawn(drain(lines));
            Ok(ws)
        }
        Ok(None) => Err(BrowserError::LaunchExited { stderr: stderr() }),
        Err(_) => Err(BrowserError::LaunchTimeout {
            timeout,
            stderr: stderr(),
        }),
    }
}

async fn drain(mut lines: tokio::io::Lines<BufReader<ChildStderr>>) {
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::trace!(target: "restock::chromium", "{line}");
    }
}

/// Connects chromiumoxide to the websocket, runs its handler as a task, and
/// opens the tab.
async fn connect(
    ws: &str,
    request_timeout: Duration,
) -> Result<(Browser, JoinHandle<()>, Page), BrowserError> {
    let config = HandlerConfig {
        // The window size applies; no device emulation.
        viewport: None,
        request_timeout,
        ..HandlerConfig::default()
    };
    let (browser, mut handler) = Browser::connect_with_config(ws, config)
        .await
        .map_err(BrowserError::Cdp)?;
    let task = tokio::spawn(async move {
        while let Some(event) = handler.next().await {
            if let Err(e) = event {
                tracing::debug!(error = %e, "chromium CDP handler stopped");
                break;
            }
        }
    });
    match browser.new_page("about:blank").await {
        Ok(page) => Ok((browser, task, page)),
        Err(e) => {
            task.abort();
            Err(BrowserError::Cdp(e))
        }
    }
}

/// Launches Chromium on the store's profile (blocking file-system work off
/// the runtime).
pub(crate) async fn open(
    settings: &super::BrowserSettings,
    store: &str,
    headless: bool,
) -> Result<BrowserSession, BrowserError> {
    let chrome = settings.chrome.clone();
    let profiles = settings.profiles_dir.clone();
    let name = store.to_string();
    let prepared = tokio::task::spawn_blocking(move || {
        Ok::<_, BrowserError>((
            find_chrome(chrome.as_deref())?,
            prepare_profile(&profiles, &name)?,
        ))
    })
    .await
    .map_err(BrowserError::Task)??;
    let (chrome, profile) = prepared;
    let opts = LaunchOptions {
        chrome,
        profile,
        headless,
        launch_timeout: settings.launch_timeout,
        request_timeout: settings.step_timeout,
    };
    BrowserSession::launch(&opts).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_is_private_even_if_it_existed_loose() {
        let dir = tempfile::tempdir().unwrap();
        let loose = dir.path().join("shop");
        fs::create_dir(&loose).unwrap();
        fs::set_permissions(&loose, fs::Permissions::from_mode(0o755)).unwrap();
        let profile = prepare_profile(dir.path(), "shop").unwrap();
        assert_eq!(
            fs::metadata(&profile).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let fresh = prepare_profile(dir.path(), "other").unwrap();
        assert_eq!(
            fs::metadata(fresh).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }

    #[test]
    fn explicit_missing_browser_is_named() {
        let err = find_chrome(Some(Path::new("/nonexistent/chrome"))).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/chrome"), "{err}");
    }

    #[test]
    fn not_found_says_how_to_install() {
        let msg = BrowserError::ChromeNotFound.to_string();
        assert!(
            msg.contains("apt-get install chromium") && msg.contains("chromium"),
            "{msg}"
        );
    }

    #[test]
    fn second_lock_on_a_profile_is_busy() {
        let dir = tempfile::tempdir().unwrap();
        let first = ProfileLock::acquire(dir.path()).unwrap();
        assert!(matches!(
            ProfileLock::acquire(dir.path()),
            Err(BrowserError::ProfileBusy(_))
        ));
        drop(first);
        ProfileLock::acquire(dir.path()).unwrap();
    }

    #[test]
    fn stale_singleton_lock_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join("SingletonLock");
        // A dead pid on this host, as a killed Chromium leaves it.
        std::os::unix::fs::symlink(format!("{}-999999999", hostname().unwrap()), &lock).unwrap();
        std::os::unix::fs::symlink("/tmp/gone", dir.path().join("SingletonSocket")).unwrap();
        clear_stale_singleton(dir.path()).unwrap();
        assert!(fs::symlink_metadata(&lock).is_err());
        // A live pid that is not a browser on this profile (a reused pid).
        std::os::unix::fs::symlink(
            format!("{}-{}", hostname().unwrap(), std::process::id()),
            &lock,
        )
        .unwrap();
        clear_stale_singleton(dir.path()).unwrap();
        assert!(fs::symlink_metadata(&lock).is_err());
        assert!(fs::symlink_metadata(dir.path().join("SingletonSocket")).is_err());
    }
}
