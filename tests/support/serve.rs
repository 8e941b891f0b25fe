//! `restock serve` as a child process: its stderr in a log file, signals,
//! and a bounded wait for its exit. Dropping it kills the process, so a
//! failing test leaves nothing running.

use std::net::SocketAddr;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use super::env::Env;
use super::wait::{poll_within, PATIENCE};

pub struct Serve {
    child: Option<Child>,
    /// Where it listens.
    pub addr: SocketAddr,
    log: PathBuf,
}

impl Env {
    /// `restock serve` with this env's settings and `vars` on top, its
    /// stderr in `serve-<label>.log` in the env's dir. Returns once it is
    /// started; [`Serve::listening`] waits for it to accept connections.
    pub fn serve(&self, label: &str, vars: &[(&str, &str)]) -> Serve {
        let mut cmd = self.command();
        cmd.arg("serve").envs(vars.iter().copied());
        Serve::spawn(
            cmd,
            self.config.listen,
            self.path().join(format!("serve-{label}.log")),
        )
    }
}

impl Serve {
    /// Starts `cmd`, its stdout discarded and its stderr written to `log`.
    pub fn spawn(mut cmd: Command, addr: SocketAddr, log: PathBuf) -> Serve {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Serve {
            child: Some(child),
            addr,
            log,
        }
    }

    /// Waits until it accepts connections on its address; fails with its
    /// log if it exits first or takes longer than [`PATIENCE`].
    pub async fn listening(&mut self) {
        let addr = self.addr;
        let child = self.child.as_mut().expect("running");
        let up = poll_within(PATIENCE, || {
            let exited = child.try_wait().unwrap();
            async move {
                match exited {
                    Some(status) => Some(Err(status)),
                    None => std::net::TcpStream::connect(addr).ok().map(|_| Ok(())),
                }
            }
        })
        .await;
        match up {
            Some(Ok(())) => {}
            Some(Err(status)) => panic!("restock serve exited: {status}\n{}", self.log_tail()),
            None => panic!(
                "restock serve did not listen on {addr}\n{}",
                self.log_tail()
            ),
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("running").id() as i32
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(self.pid(), signal) };
    }

    /// Its exit status if it has exited (reaped), else `None`.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        let status = self.child.as_mut().expect("running").try_wait().unwrap();
        if status.is_some() {
            self.child = None;
        }
        status
    }

    /// SIGKILL, and reap it.
    pub async fn sigkill(&mut self) {
        self.signal(libc::SIGKILL);
        let status = self.exit(Duration::from_secs(10)).await;
        assert_eq!(status.signal(), Some(libc::SIGKILL), "{status}");
    }

    /// SIGTERM, as `systemctl stop` sends it; its exit status.
    pub async fn sigterm(&mut self) -> ExitStatus {
        self.signal(libc::SIGTERM);
        self.exit(PATIENCE).await
    }

    /// Waits (bounded by `limit`) for it to exit and reaps it.
    pub async fn exit(&mut self, limit: Duration) -> ExitStatus {
        let child = self.child.as_mut().expect("running");
        let status = poll_within(limit, || {
            let status = child.try_wait().unwrap();
            async move { status }
        })
        .await;
        let status =
            status.unwrap_or_else(|| panic!("restock serve did not exit\n{}", self.log_tail()));
        self.child = None;
        status
    }

    /// Everything it wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last 60 lines of [`Serve::log`].
    pub fn log_tail(&self) -> String {
        let text = self.log();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
