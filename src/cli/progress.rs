//! Progress for long CLI work (`login`, `probe`, `dry-run`, `doctor`): an
//! indicatif spinner on stderr when stderr is a terminal, plain lines on
//! stderr when it is not (logs, CI, tests), so a slow step shows where it
//! is either way. Results still go to stdout through [`Progress::println`],
//! which keeps a spinner from tearing them; `--json` output stays clean.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

pub struct Progress {
    /// `None` when stderr is not a terminal: plain lines instead.
    bar: Option<ProgressBar>,
    total: Option<u64>,
    done: AtomicU64,
}

impl Progress {
    /// A spinner for work of unknown length.
    pub fn spinner() -> Progress {
        Progress::make(None)
    }

    /// `[n/total]` steps.
    pub fn steps(total: u64) -> Progress {
        Progress::make(Some(total))
    }

    fn make(total: Option<u64>) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let (bar, template) = match total {
                Some(n) => (ProgressBar::new(n), "{spinner} [{pos}/{len}] {msg}"),
                None => (ProgressBar::new_spinner(), "{spinner} {msg}"),
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        Progress {
            bar,
            total,
            done: AtomicU64::new(0),
        }
    }

    /// A new step begins: the spinner's message, or one plain line.
    pub fn step(&self, what: &str) {
        let n = self.done.fetch_add(1, Ordering::SeqCst) + 1;
        match (&self.bar, self.total) {
            (Some(bar), Some(_)) => {
                bar.set_position(n - 1);
                bar.set_message(what.to_string());
            }
            (Some(bar), None) => bar.set_message(what.to_string()),
            (None, Some(total)) => eprintln!("[{n}/{total}] {what}"),
            (None, None) => eprintln!("... {what}"),
        }
    }

    /// Only the spinner's message (no plain line): for detail that the
    /// command prints anyway.
    pub fn status(&self, what: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(what.to_string());
        }
    }

    /// A result line on stdout.
    pub fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| println!("{line}")),
            None => println!("{line}"),
        }
    }

    /// Clears the spinner (also done on drop).
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
