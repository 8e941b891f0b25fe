//! The binary's edge: parse arguments, load config, set up logs, map errors
//! to exit codes (0 ok, 1 refused, 2 usage/config). `restock doctor` is the
//! exception to "a bad config exits 2": it reports the config as a failed
//! check and exits 1.

mod cli;

use clap::Parser;
use cli::{Cli, CliError};
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
fn init_logs(config: &Config, quiet: bool) {
    let directives = log_directives(&config.log, quiet);
    let filter = tracing_subscriber::EnvFilter::try_new(&directives)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,restock=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match config.log_format {
        LogFormat::Json => builder.json().with_current_span(true).init(),
        LogFormat::Text => builder.init(),
    }
}

/// The tracing filter for `RESTOCK_LOG`. A bare level (`info`, `debug`)
/// is restock's own level: other crates stay at `warn`, so the service's
/// journal is not filled with their start-up chatter (the cron scheduler's
/// `Job creator created`, ...). A filter that names targets is taken as
/// written. chromiumoxide logs every CDP event newer than its protocol
/// bindings as a warning; those are noise unless the owner names its
/// handler. Its connection's message trace is never let through.
fn log_directives(log: &str, quiet: bool) -> String {
    let log = log.trim();
    let mut directives = if quiet {
        "warn".to_string()
    } else if log.contains('=') || log.contains('[') {
        log.to_string()
    } else {
        let level = if log.is_empty() { "info" } else { log };
        format!("warn,restock={level}")
    };
    if !directives.contains("chromiumoxide::handler") {
        directives.push_str(",chromiumoxide::handler=error");
    }
    // chromiumoxide::conn traces every CDP message, which carries what an
    // owner types on the sign-in page and imported cookies: never logged,
    // whatever the filter asks for (src/signin).
    let kept: Vec<&str> = directives
        .split(',')
        .filter(|d| !d.trim().starts_with("chromiumoxide::conn"))
        .collect();
    format!("{},chromiumoxide::conn=error", kept.join(","))
}

#[cfg(test)]
mod tests {
    use super::log_directives;

    #[test]
    fn a_bare_level_is_restocks_own_and_other_crates_stay_at_warn() {
        assert_eq!(
            log_directives("info", false),
            "warn,restock=info,chromiumoxide::handler=error,chromiumoxide::conn=error"
        );
        assert!(log_directives("debug", false).starts_with("warn,restock=debug,"));
        assert!(log_directives("info,reqwest=debug", false).starts_with("info,reqwest=debug,"));
        assert!(log_directives("chromiumoxide=debug", false)
            .starts_with("chromiumoxide=debug,chromiumoxide::handler=error,"));
        assert!(log_directives("chromiumoxide::conn=trace", false)
            .ends_with(",chromiumoxide::conn=error"));
        assert!(!log_directives("chromiumoxide::conn=trace", false).contains("trace"));
        assert!(log_directives("debug", true).starts_with("warn,"));
    }
}
