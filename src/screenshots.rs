//! Screenshot housekeeping: every buy that does not end well saves a PNG
//! (and, when the page did not fit its store definition, the rendered HTML
//! beside it), so the directory would grow forever on a service that runs
//! for years. Both kinds are pruned alike.
//! Pruned at start-up and after each saved screenshot, by age and by count,
//! oldest first. A screenshot named on a recent order is kept by the count
//! rule only as long as it is among the newest.

use std::path::Path;
use std::time::{Duration, SystemTime};

/// Deletes PNGs and saved pages in `dir` older than `max_age`, then the oldest beyond
/// `max_count`. Returns how many were deleted. A missing dir is empty.
pub fn prune(dir: &Path, max_age: Duration, max_count: usize) -> std::io::Result<usize> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut shots: Vec<(SystemTime, std::path::PathBuf)> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "png" || x == "html"))
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .collect();
    shots.sort(); // oldest first
    let cutoff = SystemTime::now()
        .checked_sub(max_age)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let too_many = shots.len().saturating_sub(max_count);
    let mut deleted = 0;
    for (i, (modified, path)) in shots.iter().enumerate() {
        if i < too_many || *modified < cutoff {
            std::fs::remove_file(path)?;
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// [`prune`] off the async runtime, logging instead of failing: housekeeping
/// must never stop a buy.
pub async fn prune_in_background(dir: std::path::PathBuf, max_age: Duration, max_count: usize) {
    let result = tokio::task::spawn_blocking(move || prune(&dir, max_age, max_count)).await;
    match result {
        Ok(Ok(0)) => {}
        Ok(Ok(n)) => tracing::info!(deleted = n, "pruned old screenshots"),
        Ok(Err(e)) => tracing::warn!(error = %e, "could not prune screenshots"),
        Err(e) => tracing::warn!(error = %e, "screenshot pruning task failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shot(dir: &Path, name: &str, age: Duration) {
        let path = dir.join(name);
        let f = std::fs::File::create(&path).unwrap();
        f.set_modified(SystemTime::now() - age).unwrap();
    }

    #[test]
    fn prunes_by_age_then_by_count_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let day = Duration::from_secs(86400);
        shot(dir.path(), "ancient.png", day * 40);
        for (i, days) in [5u32, 4, 3, 2, 1].iter().enumerate() {
            shot(dir.path(), &format!("s{i}.png"), day * *days);
        }
        shot(dir.path(), "notes.txt", day * 90);
        assert_eq!(prune(dir.path(), day * 30, 3).unwrap(), 3);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, vec!["notes.txt", "s2.png", "s3.png", "s4.png"]);
        assert_eq!(prune(&dir.path().join("missing"), day, 1).unwrap(), 0);
    }
}
