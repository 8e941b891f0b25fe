//! How the release `restock` binary is laid out by the linker, so that an
//! idle service keeps little of it in memory.
//!
//! An idle `restock serve` is mostly its own code: its resident set is the
//! pages of the binary it has touched, and the kernel maps a file in 64 KiB
//! runs around each page a process touches (fault-around). The ~2,000
//! functions that start-up, the engine's idle turn and the heartbeat run lie
//! scattered over 15 MiB of text, so about 10 MiB of it stayed resident
//! (the benchmark's row 4a). Two link options fix the layout, not the code:
//!
//! - **Function order.** `link/restock.order` names those functions
//!   (written by `link/order-symbols`, which runs the binary under
//!   callgrind as the benchmark runs it); the linker puts them first in
//!   `.text`, together, in about 3 MiB. A name the list no longer matches
//!   (code changed since it was written) is skipped: a stale list costs
//!   memory, never correctness.
//! - **Packed relative relocations** (`-z pack-relative-relocs`, DT_RELR):
//!   a position-independent binary carries a table of addresses to fix up
//!   at start, read whole by the loader and resident afterwards; packed, it
//!   is a few KiB instead of 620 KiB. The binary stays position-independent
//!   (ASLR), which a non-PIE build would give up for the same saving.
//!
//! Each is asked for only when a probe shows that the linker takes it and
//! the loader runs the result: rustc links with its own LLD on x86_64 Linux
//! (since 1.90), but a toolchain that links with GNU ld, an older rustc or
//! a distribution's build that turns rust-lld off, has no
//! `--symbol-ordering-file`, and a C library older than glibc 2.36 cannot
//! load DT_RELR. Without them the binary is the same program, larger in
//! memory. Only release builds are probed: tests and debug builds do not
//! care about the layout.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const ORDER: &str = "link/restock.order";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={ORDER}");
    if std::env::var("PROFILE").as_deref() != Ok("release") {
        return;
    }
    // The probe runs what it links, which needs the build machine to be
    // the target.
    if std::env::var("TARGET").ok() != std::env::var("HOST").ok() {
        return;
    }
    let Some(out) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        return;
    };
    let order = Path::new(env!("CARGO_MANIFEST_DIR")).join(ORDER);
    let mut layouts = vec![(
        "packed relocations",
        vec!["-Wl,-z,pack-relative-relocs".to_string()],
    )];
    if order.exists() {
        layouts.push((
            "function order",
            vec![
                format!("-Wl,--symbol-ordering-file={}", order.display()),
                "-Wl,--no-warn-symbol-ordering".to_string(),
            ],
        ));
    } else {
        println!("cargo:warning=restock: {ORDER} is missing (link/order-symbols writes it); the binary works, with a larger idle footprint");
    }
    for (what, args) in layouts {
        if links_and_runs(&out, &args) {
            for arg in args {
                println!("cargo:rustc-link-arg-bins={arg}");
            }
        } else {
            println!("cargo:warning=restock: the linker or C library here does not take the {what} layout; the binary works, with a larger idle footprint");
        }
    }
}

/// Builds an empty program with `link_args` the way cargo will link
/// restock (same rustc, linker and flags), and runs it.
fn links_and_runs(out: &Path, link_args: &[String]) -> bool {
    let src = out.join("layout_probe.rs");
    let exe = out.join("layout_probe");
    if std::fs::write(&src, "fn main() {}\n").is_err() {
        return false;
    }
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let mut cmd = Command::new(rustc);
    cmd.args(["--edition=2021", "--crate-type=bin", "-o"])
        .arg(&exe)
        .arg(&src);
    if let Ok(linker) = std::env::var("RUSTC_LINKER") {
        cmd.arg(format!("-Clinker={linker}"));
    }
    if let Ok(flags) = std::env::var("CARGO_ENCODED_RUSTFLAGS") {
        cmd.args(flags.split('\x1f').filter(|f| !f.is_empty()));
    }
    for arg in link_args {
        cmd.arg(format!("-Clink-arg={arg}"));
    }
    let quiet = |c: &mut Command| {
        c.stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let ok = quiet(&mut cmd) && quiet(&mut Command::new(&exe));
    let _ = std::fs::remove_file(&exe);
    ok
}
