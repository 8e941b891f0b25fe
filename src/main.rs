//! The binary's edge: parse arguments, load config, set up logs, map errors
//! to exit codes (0 ok, 1 refused, 2 usage/config). `restock doctor` is the
//! exception to "a bad config exits 2": it reports the config as a failed
//! check and exits 1.

use clap::Parser;
use restock::cli::{self, Cli, CliError};
use restock::config::{Config, LogFormat};

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            if let cli::Command::Doctor { json, .. } = cli.command {
                let code = match cli::doctor_bad_config(&e, json) {
                    Ok(()) => 0,
                    Err(e) => {
                        eprintln!("restock: {e:#}");
                        e.exit_code()
                    }
                };
                std::process::exit(code);
            }
            eprintln!("restock: {e}");
            std::process::exit(2);
        }
    };
    // The demo and the doctor print their own story; their logs only speak
    // up for problems.
    let quiet = matches!(
        cli.command,
        cli::Command::Demo | cli::Command::Doctor { .. }
    );
    init_logs(&config, quiet);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("restock: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let result: Result<(), CliError> = runtime.block_on(cli::run(cli, config));
    if let Err(e) = result {
        eprintln!("restock: {e:#}");
        std::process::exit(e.exit_code());
    }
}

/// Logs go to stderr so `--json` output on stdout stays clean.
/// chromiumoxide logs every CDP event newer than its protocol bindings as a
/// warning; those are noise unless the owner asks for chromiumoxide logs.
fn init_logs(config: &Config, quiet: bool) {
    let mut directives = if quiet {
        "warn".to_string()
    } else {
        config.log.clone()
    };
    if !directives.contains("chromiumoxide") {
        directives.push_str(",chromiumoxide::handler=error");
    }
    // chromiumoxide::conn traces every CDP message, which carries what an
    // owner types on the sign-in page and imported cookies: never logged,
    // whatever the filter asks for (src/signin).
    let directives: Vec<&str> = directives
        .split(',')
        .filter(|d| !d.trim().starts_with("chromiumoxide::conn"))
        .collect();
    let directives = format!("{},chromiumoxide::conn=error", directives.join(","));
    let filter = tracing_subscriber::EnvFilter::try_new(&directives)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match config.log_format {
        LogFormat::Json => builder.json().with_current_span(true).init(),
        LogFormat::Text => builder.init(),
    }
}
