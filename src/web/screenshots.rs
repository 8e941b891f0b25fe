//! `GET /screenshots/{name}`: the screenshot of a failed or paused order,
//! for a signed-in browser, from the screenshots directory and nowhere
//! else.
//!
//! The page links a screenshot by its file name only, and only when the
//! order's stored path is a file directly in the screenshots directory. A
//! request is served when every one of these holds:
//! - the name is a plain file name: 1 to 200 of `A-Z a-z 0-9 . _ -`, not
//!   starting with a dot, ending `.png`, `.jpg`, `.jpeg` or `.webp` (so no
//!   `/`, no `..`, and never the HTML pages saved beside screenshots, which
//!   would run as restock's own origin);
//! - the file, with every symlink resolved, is inside the resolved
//!   directory, is a regular file, and is at most [`MAX_BYTES`].
//!
//! Anything else is `404` (a refused name says nothing about what exists).
//! Answers carry `nosniff`, `no-store` and a `sandbox` CSP.

use std::path::{Path, PathBuf};

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// The largest screenshot served.
pub const MAX_BYTES: u64 = 20 * 1024 * 1024;

/// Is `name` a screenshot's plain file name?
pub fn safe_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    (1..=200).contains(&name.len())
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && [".png", ".jpg", ".jpeg", ".webp"]
            .iter()
            .any(|ext| lower.ends_with(ext))
}

/// The name to link an order's stored screenshot `path` by: its file name
/// when it lies directly in `dir` and is a safe name, else `None` (the
/// page then shows no link).
pub fn link_name<'a>(dir: &Path, path: &'a str) -> Option<&'a str> {
    let p = Path::new(path);
    let name = p.file_name()?.to_str()?;
    (p.parent()? == dir && safe_name(name)).then_some(name)
}

/// The file `name` names in `dir`, if it may be served.
pub fn resolve(dir: &Path, name: &str) -> Option<PathBuf> {
    if !safe_name(name) {
        return None;
    }
    let root = std::fs::canonicalize(dir).ok()?;
    let file = std::fs::canonicalize(root.join(name)).ok()?;
    let meta = std::fs::metadata(&file).ok()?;
    (file.parent() == Some(root.as_path()) && meta.is_file() && meta.len() <= MAX_BYTES)
        .then_some(file)
}

/// The answer for `name` in `dir` (the caller has checked who asks).
pub async fn serve(dir: PathBuf, name: String) -> Response {
    let found = tokio::task::spawn_blocking(move || {
        let file = resolve(&dir, &name)?;
        std::fs::read(file).ok().map(|bytes| (name, bytes))
    })
    .await
    .ok()
    .flatten();
    let Some((name, bytes)) = found else {
        return (StatusCode::NOT_FOUND, "no such screenshot").into_response();
    };
    let lower = name.to_ascii_lowercase();
    let mime = if lower.ends_with(".png") {
        "image/png"
    } else if lower.ends_with(".webp") {
        "image/webp"
    } else {
        "image/jpeg"
    };
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    crate::signin::page::secure_headers(headers);
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_image_names_in_the_directory_are_served() {
        for ok in ["order-12-1764-challenge.png", "a.PNG", "s_1.jpeg", "x.webp"] {
            assert!(safe_name(ok), "{ok}");
        }
        for bad in [
            "",
            ".png",
            "../x.png",
            "a/b.png",
            "a\\b.png",
            "..",
            "page.html",
            "x.png.html",
            "x.svg",
            "a b.png",
            "%2e%2e.png",
            &format!("{}.png", "a".repeat(200)),
        ] {
            assert!(!safe_name(bad), "{bad}");
        }
        let dir = tempfile::tempdir().unwrap();
        let shots = dir.path().join("screenshots");
        std::fs::create_dir(&shots).unwrap();
        std::fs::write(shots.join("ok.png"), b"png").unwrap();
        std::fs::write(dir.path().join("secret.png"), b"secret").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.png"), shots.join("link.png")).unwrap();
        std::fs::create_dir(shots.join("sub.png")).unwrap();
        assert!(resolve(&shots, "ok.png").is_some());
        assert!(resolve(&shots, "link.png").is_none(), "a symlink out");
        assert!(resolve(&shots, "sub.png").is_none(), "a directory");
        assert!(resolve(&shots, "missing.png").is_none());
        let stored = shots.join("ok.png").display().to_string();
        assert_eq!(link_name(&shots, &stored), Some("ok.png"));
        assert_eq!(link_name(&shots, "/etc/passwd"), None);
        assert_eq!(
            link_name(&shots, &dir.path().join("secret.png").display().to_string()),
            None
        );
    }
}
