//! `examples/restock.service` as systemd would run it: the binary is started
//! with the unit's `Environment=` lines (specifiers expanded), an
//! `EnvironmentFile=` parsed with systemd's quoting rules and overriding
//! them, `$STATE_DIRECTORY` from `StateDirectory=`, `$NOTIFY_SOCKET` bound
//! to a datagram socket and `$WATCHDOG_USEC` from `WatchdogSec=`. It must
//! come up ready (`READY=1` on the socket, `/health` 200) and stop cleanly
//! on SIGTERM (`STOPPING=1`, exit code 0).
//!
//! Also checked here: the unit's numbers agree with the code's defaults,
//! the NixOS module carries the same hardening, and every value in
//! `examples/restock.env` is one restock accepts.

mod support;

use std::collections::BTreeMap;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::Duration;

use restock::config::Config;
use support::env::{binary, repo_file};
use support::receivers::free_addr;
use support::serve::Serve;
use support::wait::{poll, PATIENCE};

const TOKEN: &str = "s3cret token";

/// The `[Service]` section as (key, value) pairs in file order; a key may
/// repeat (`Environment=`, `SystemCallFilter=`).
fn service_section(unit: &str) -> Vec<(String, String)> {
    let mut section = String::new();
    let mut out = Vec::new();
    for line in unit.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') {
            section = line.to_string();
            continue;
        }
        assert!(
            !line.ends_with('\\'),
            "keep the unit's lines unbroken: {line}"
        );
        if section == "[Service]" {
            let (k, v) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("not Key=value: {line}"));
            out.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    out
}

fn one<'a>(section: &'a [(String, String)], key: &str) -> &'a str {
    let found: Vec<_> = section.iter().filter(|(k, _)| k == key).collect();
    assert_eq!(found.len(), 1, "examples/restock.service: want one {key}=");
    &found[0].1
}

/// systemd's specifiers that matter here: `%S` (the state root) and `%%`.
fn expand(value: &str, state_root: &Path) -> String {
    value
        .replace("%%", "\u{0}")
        .replace("%S", &state_root.display().to_string())
        .replace('\u{0}', "%")
}

/// `Environment=` takes space-separated assignments, each optionally in
/// double quotes.
fn environment_assignments(value: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = value.chars().peekable();
    loop {
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        let Some(&first) = chars.peek() else { break };
        let mut word = String::new();
        if first == '"' {
            chars.next();
            for c in chars.by_ref() {
                if c == '"' {
                    break;
                }
                word.push(c);
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ' ' {
                    break;
                }
                word.push(c);
                chars.next();
            }
        }
        let (k, v) = word.split_once('=').expect("Environment= wants NAME=value");
        out.push((k.to_string(), v.to_string()));
    }
    out
}

/// An `EnvironmentFile=` read the way systemd reads it (env-file.c): `#`
/// and `;` lines are comments, whitespace around the value is dropped,
/// `'...'` is literal, `"..."` takes backslash escapes, and outside quotes
/// a backslash escapes the next character while quotes in the middle of a
/// value are kept as they are.
fn parse_env_file(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let (key, raw) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("env file line without `=`: {line}"));
        let mut value = String::new();
        let mut chars = raw.trim().chars();
        let mut at_start = true;
        while let Some(c) = chars.next() {
            match c {
                '\'' if at_start => {
                    for c in chars.by_ref() {
                        if c == '\'' {
                            break;
                        }
                        value.push(c);
                    }
                }
                '"' if at_start => {
                    while let Some(c) = chars.next() {
                        match c {
                            '"' => break,
                            '\\' => value.extend(chars.next()),
                            c => value.push(c),
                        }
                    }
                }
                '\\' => {
                    value.extend(chars.next());
                    at_start = false;
                }
                c => {
                    value.push(c);
                    at_start = false;
                }
            }
        }
        out.push((key.trim().to_string(), value));
    }
    out
}

/// The binary started as the unit starts it, in a temp "machine".
struct Service {
    dir: tempfile::TempDir,
    serve: Serve,
    state_dir: PathBuf,
    notify: UnixDatagram,
}

impl Service {
    fn start() -> Service {
        let unit = repo_file("examples/restock.service");
        let section = service_section(&unit);
        let dir = tempfile::tempdir().unwrap();
        let state_root = dir.path().join("var-lib");

        // StateDirectory=restock: systemd creates %S/restock (0700) and
        // passes it as $STATE_DIRECTORY.
        assert_eq!(one(&section, "StateDirectory"), "restock");
        let state_dir = state_root.join("restock");
        std::fs::create_dir_all(&state_dir).unwrap();
        std::fs::set_permissions(
            &state_dir,
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();

        // The catalog and env file the admin installed under /etc/restock,
        // here in the temp dir. The env file overrides the unit's
        // Environment=RESTOCK_CATALOG, as systemd's EnvironmentFile= does.
        let catalog = dir.path().join("catalog.toml");
        std::fs::write(&catalog, repo_file("examples/catalog.toml")).unwrap();
        let addr = free_addr();
        let env_file = dir.path().join("restock.env");
        std::fs::write(
            &env_file,
            format!(
                "# /etc/restock/restock.env\n\
                 RESTOCK_LISTEN={addr}\n\
                 RESTOCK_INTAKE_TOKEN=\"{TOKEN}\"\n\
                 RESTOCK_CATALOG='{}'\n\
                 ; a comment in the other style\n\
                 RESTOCK_LOG = warn\n",
                catalog.display()
            ),
        )
        .unwrap();
        assert_eq!(
            one(&section, "EnvironmentFile"),
            "/etc/restock/restock.env",
            "the unit reads the env file the docs tell people to write"
        );

        let socket_path = dir.path().join("notify.sock");
        let notify = UnixDatagram::bind(&socket_path).unwrap();
        notify.set_read_timeout(Some(PATIENCE)).unwrap();

        let watchdog = Duration::from_secs(
            one(&section, "WatchdogSec")
                .parse()
                .expect("WatchdogSec= in whole seconds"),
        );

        let mut env: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in section.iter().filter(|(k, _)| k == "Environment") {
            assert_eq!(k, "Environment");
            for (name, value) in environment_assignments(&expand(v, &state_root)) {
                env.insert(name, value);
            }
        }
        env.extend(parse_env_file(&std::fs::read_to_string(&env_file).unwrap()));
        env.insert("STATE_DIRECTORY".into(), state_dir.display().to_string());
        env.insert("NOTIFY_SOCKET".into(), socket_path.display().to_string());
        env.insert("WATCHDOG_USEC".into(), watchdog.as_micros().to_string());
        env.insert("PATH".into(), std::env::var("PATH").unwrap_or_default());
        assert_eq!(
            env.get("HOME").map(String::as_str),
            Some(state_dir.to_str().unwrap()),
            "HOME=%S/restock is the state dir"
        );
        assert_eq!(
            env.get("RESTOCK_CATALOG").map(String::as_str),
            Some(catalog.to_str().unwrap())
        );

        let exec = one(&section, "ExecStart");
        let mut words = exec.split_whitespace();
        assert_eq!(words.next(), Some("/usr/local/bin/restock"));
        let args: Vec<&str> = words.collect();
        assert_eq!(args, ["serve"]);

        let mut cmd = binary();
        cmd.args(&args).envs(&env);
        let serve = Serve::spawn(cmd, addr, dir.path().join("stderr.log"));
        Service {
            dir,
            serve,
            state_dir,
            notify,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.serve.addr)
    }

    fn stderr(&self) -> String {
        self.serve.log()
    }

    /// Polls `/health` until it answers 200; the process must stay up.
    async fn wait_healthy(&mut self, client: &reqwest::Client) -> serde_json::Value {
        let url = self.url("/health");
        let serve = &mut self.serve;
        poll("/health to answer 200", || {
            if let Some(status) = serve.exited() {
                panic!("restock serve exited early ({status}):\n{}", serve.log());
            }
            let get = client.get(&url).send();
            async move {
                let resp = get.await.ok().filter(|r| r.status() == 200)?;
                Some(resp.json().await.unwrap())
            }
        })
        .await
    }

    /// SIGTERM, as `systemctl stop` sends it (KillMode=mixed: to the main
    /// process only); returns the exit code.
    async fn stop(mut self) -> i32 {
        let status = self.serve.sigterm().await;
        status
            .code()
            .unwrap_or_else(|| panic!("killed by a signal: {status}"))
    }
}

#[tokio::test]
async fn starts_like_the_unit_and_stops_cleanly_on_sigterm() {
    let mut service = Service::start();
    let client = reqwest::Client::new();
    let health = service.wait_healthy(&client).await;
    assert_eq!(health["status"], "ok", "{health}");

    // The env file was read with systemd's quoting: the token is the one
    // inside the quotes, and it is required.
    let no_token = client.get(service.url("/items")).send().await.unwrap();
    assert_eq!(no_token.status(), 401);
    let items = client
        .get(service.url("/items"))
        .header("X-Restock-Token", TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(items.status(), 200);
    let items: serde_json::Value = items.json().await.unwrap();
    assert!(
        items
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == "paper-towels"),
        "the catalog from the env file is served: {items}"
    );
    // $STATE_DIRECTORY is where the state went.
    assert!(service.state_dir.join("restock.db").exists());

    let stderr_path = service.dir.path().join("stderr.log");
    let code = service.stop().await;
    assert_eq!(
        code,
        0,
        "exit code after SIGTERM:\n{}",
        std::fs::read_to_string(stderr_path).unwrap_or_default()
    );
}

#[tokio::test]
async fn sends_ready_on_the_notify_socket() {
    let mut service = Service::start();
    let client = reqwest::Client::new();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let ready = loop {
        match service.notify.recv(&mut buf) {
            Ok(n) => {
                let msg = String::from_utf8_lossy(&buf[..n]).to_string();
                let is_ready = msg.lines().any(|l| l == "READY=1");
                got.push(msg);
                if is_ready {
                    break true;
                }
            }
            Err(_) => break false,
        }
    };
    assert!(
        ready,
        "no READY=1 within {PATIENCE:?}; got {got:?}\n{}",
        service.stderr()
    );
    // Ready means serving.
    let health = client.get(service.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    service.wait_healthy(&client).await;

    // `systemctl stop`: STOPPING=1, then exit 0.
    let notify = service.notify.try_clone().unwrap();
    assert_eq!(service.stop().await, 0);
    notify
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut stopping = false;
    while let Ok(n) = notify.recv(&mut buf) {
        let msg = String::from_utf8_lossy(&buf[..n]).to_string();
        stopping |= msg.lines().any(|l| l == "STOPPING=1");
        got.push(msg);
    }
    assert!(stopping, "no STOPPING=1 on SIGTERM; got {got:?}");
}

#[test]
fn unit_numbers_agree_with_the_code() {
    let section = service_section(&repo_file("examples/restock.service"));
    assert_eq!(one(&section, "Type"), "notify");
    assert_eq!(one(&section, "NotifyAccess"), "main");
    assert_eq!(one(&section, "KillMode"), "mixed");
    assert_eq!(one(&section, "Restart"), "on-failure");
    assert_eq!(one(&section, "RestartPreventExitStatus"), "2");
    assert_eq!(one(&section, "ExecReload"), "/bin/kill -HUP $MAINPID");
    assert_eq!(one(&section, "MemoryDenyWriteExecute"), "no");

    let defaults = Config::default();
    let secs = |key: &str| Duration::from_secs(one(&section, key).parse().unwrap());
    let watchdog = secs("WatchdogSec");
    assert_eq!(
        watchdog,
        defaults.heartbeat_interval * 3,
        "WatchdogSec is 3 x the default heartbeat interval"
    );
    assert!(
        watchdog > defaults.stall_after(),
        "systemd must not kill an engine restock still counts as alive"
    );
    assert!(
        secs("TimeoutStopSec") > defaults.shutdown_grace + Duration::from_secs(5),
        "systemd must wait out the shutdown grace"
    );
}

/// The same hardening in the plain unit and the NixOS module.
#[test]
fn nixos_module_has_the_units_hardening() {
    let section = service_section(&repo_file("examples/restock.service"));
    let module = repo_file("nix/module.nix");
    let keys = [
        "Type",
        "NotifyAccess",
        "WatchdogSec",
        "Restart",
        "RestartPreventExitStatus",
        "KillMode",
        "TimeoutStopSec",
        "DynamicUser",
        "StateDirectory",
        "StateDirectoryMode",
        "UMask",
        "NoNewPrivileges",
        "CapabilityBoundingSet",
        "AmbientCapabilities",
        "ProtectSystem",
        "ProtectHome",
        "PrivateTmp",
        "PrivateDevices",
        "ProtectKernelTunables",
        "ProtectKernelModules",
        "ProtectKernelLogs",
        "ProtectControlGroups",
        "ProtectClock",
        "ProtectHostname",
        "ProtectProc",
        "RestrictSUIDSGID",
        "RestrictRealtime",
        "LockPersonality",
        "RestrictAddressFamilies",
        "MemoryDenyWriteExecute",
        "SystemCallArchitectures",
        "SystemCallFilter",
        "SystemCallErrorNumber",
    ];
    for key in keys {
        assert!(
            section.iter().any(|(k, _)| k == key),
            "examples/restock.service lacks {key}="
        );
        assert!(
            module.contains(&format!("{key} = ")),
            "nix/module.nix lacks {key}"
        );
    }
    let unit_filters: Vec<&str> = section
        .iter()
        .filter(|(k, _)| k == "SystemCallFilter")
        .flat_map(|(_, v)| v.split_whitespace())
        .collect();
    for filter in &unit_filters {
        assert!(
            module.contains(&format!("\"{filter}\"")),
            "nix/module.nix's SystemCallFilter lacks {filter}"
        );
    }
    for family in one(&section, "RestrictAddressFamilies").split_whitespace() {
        assert!(
            module.contains(&format!("\"{family}\"")),
            "nix/module.nix lacks {family}"
        );
    }
}

/// Every `#RESTOCK_X=value` in the env example, uncommented, is a value
/// restock accepts (read with systemd's env-file rules). RESTOCK_CONFIG is
/// left out: it names a file that has to exist.
#[test]
fn env_example_values_are_accepted() {
    let example = repo_file("examples/restock.env");
    let uncommented: String = example
        .lines()
        .filter_map(|l| l.strip_prefix('#'))
        .filter(|l| l.starts_with("RESTOCK_") && !l.starts_with("RESTOCK_CONFIG="))
        .map(|l| format!("{l}\n"))
        .collect();
    let vars = parse_env_file(&uncommented);
    assert!(vars.len() > 20, "{vars:?}");
    let config = Config::load_from(None, &vars).unwrap_or_else(|e| panic!("{e}"));
    let checkout = &config.checkout;
    assert_eq!(
        checkout.get("name").map(String::as_str),
        Some("Ada Lovelace"),
        "the inline table survives systemd's quoting"
    );
}

#[test]
fn env_file_parser_follows_systemd() {
    let parsed = parse_env_file(
        "# comment\n; comment\nA=plain value  \nB=\"quoted \\\"x\\\" \"\nC='single $x \\n'\n\
         D={k=\"v w\"}\n  E = spaced\nF=back\\\\slash\n",
    );
    let want = [
        ("A", "plain value"),
        ("B", "quoted \"x\" "),
        ("C", "single $x \\n"),
        ("D", "{k=\"v w\"}"),
        ("E", "spaced"),
        ("F", "back\\slash"),
    ];
    let got: Vec<(&str, &str)> = parsed
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(got, want);
    assert_eq!(
        environment_assignments("A=1 \"B=two words\" C=%S/x"),
        [
            ("A".to_string(), "1".to_string()),
            ("B".to_string(), "two words".to_string()),
            ("C".to_string(), "%S/x".to_string())
        ]
    );
    assert_eq!(expand("%S/restock %%S", Path::new("/v")), "/v/restock %S");
}

/// The monitoring guide's worked numbers are the defaults' numbers.
#[test]
fn monitoring_guide_numbers_follow_the_defaults() {
    let guide = repo_file("examples/monitoring.md");
    let d = Config::default();
    let grace = d.heartbeat_interval * 2 + d.buy_timeout;
    let minutes = grace.as_secs() / 60;
    assert_eq!(grace.as_secs() % 60, 0);
    assert!(
        guide.contains(&format!("**{minutes} minutes**")),
        "Healthchecks grace = 2 x interval + buy timeout = {minutes} minutes"
    );
    let retries = grace.as_secs().div_ceil(d.heartbeat_interval.as_secs());
    assert!(
        guide.contains(&format!("**{retries}** with the defaults")),
        "Uptime Kuma retries = {retries}"
    );
    let watchdog = (d.heartbeat_interval * 3).as_secs();
    assert!(
        guide.contains(&format!("({watchdog} s by")),
        "WatchdogSec {watchdog} s"
    );
    assert!(guide.contains(&format!("= `{}s`", d.stall_after().as_secs())));
    for var in [
        "RESTOCK_HEARTBEAT_URL",
        "RESTOCK_HEARTBEAT_PAUSED",
        "RESTOCK_ORDER_CHECK_URL",
        "RESTOCK_HEARTBEAT_KIND",
        "RESTOCK_STALL_AFTER",
    ] {
        assert!(
            Config::field_names()
                .contains(&var.trim_start_matches("RESTOCK_").to_lowercase().as_str()),
            "the guide names {var}, which Config lacks"
        );
        assert!(guide.contains(var), "the guide should explain {var}");
    }
}
