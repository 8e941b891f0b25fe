//! Chromium processes seen from /proc: the ones on a test's profiles, the
//! browser's main process, and the proof that none outlived the test.

use std::path::Path;
use std::time::Duration;

use super::wait::poll_within;

/// How long a killed browser may take to be gone.
const REAPED_WITHIN: Duration = Duration::from_secs(10);

/// Whether `pid` is a live process (a zombie waiting to be reaped is dead).
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // `pid (comm) state ...`; comm may hold spaces, so split after ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Every live process but this test's own whose command line names `dir`
/// (a browser's `--user-data-dir=<dir>/...`, its helpers' paths), with
/// that command line.
pub fn processes_under(dir: &Path) -> Vec<(i32, String)> {
    let needle = dir.display().to_string();
    let me = std::process::id() as i32;
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if pid != me && names(&cmdline, &needle) && alive(pid) {
            found.push((pid, cmdline));
        }
    }
    found
}

/// Whether `cmdline` holds the path `dir` whole (followed by `/`, a space
/// or its end), not as the prefix of a longer name.
fn names(cmdline: &str, dir: &str) -> bool {
    cmdline.match_indices(dir).any(|(i, _)| {
        matches!(
            cmdline[i + dir.len()..].chars().next(),
            None | Some('/' | ' ')
        )
    })
}

/// [`processes_under`] for a failure message: `pid: command line` (cut).
pub fn chromium_under(dir: &Path) -> Vec<String> {
    processes_under(dir)
        .into_iter()
        .map(|(pid, cmd)| format!("{pid}: {}", cmd.chars().take(120).collect::<String>()))
        .collect()
}

/// Fails unless every Chromium under `dir` is gone within a few seconds (a
/// killed process needs a moment to exit and be reaped).
pub async fn assert_no_chromium(dir: &Path) {
    let gone = poll_within(REAPED_WITHIN, || async {
        processes_under(dir).is_empty().then_some(())
    })
    .await;
    if gone.is_none() {
        panic!("Chromium processes left behind: {:#?}", chromium_under(dir));
    }
}

/// The Chromium browser process (not a helper, which carries `--type=`, and
/// not a launcher script before it execs) using a profile under `dir`.
pub fn chromium_main(dir: &Path) -> Option<i32> {
    processes_under(dir)
        .into_iter()
        .find(|(pid, cmd)| {
            let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
            let is_chromium = exe
                .file_name()
                .is_some_and(|n| n.to_string_lossy().contains("chrom"));
            is_chromium && !cmd.contains("--type=")
        })
        .map(|(pid, _)| pid)
}
