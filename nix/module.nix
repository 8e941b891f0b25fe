# services.restock: the intake API and the engine as a hardened systemd
# service, plus a `restock` command that runs the CLI as the service does.
#
# What goes where:
# - `settings` is rendered to TOML in the Nix store and passed as
#   RESTOCK_CONFIG. The store is world-readable: secrets (the intake token,
#   monitor URLs, notification URLs) are refused here and belong in
#   `environmentFile`, a file outside the store that systemd reads as root.
# - `catalog` and `stores` are data without secrets: paths, or attribute
#   sets rendered to TOML.
# - The state (database, browser profiles, screenshots) lives in
#   StateDirectory=restock, i.e. /var/lib/restock (restock reads
#   $STATE_DIRECTORY), owned by a DynamicUser unless `user` names another.
{
  config,
  lib,
  pkgs,
  ...
}:

let
  cfg = config.services.restock;
  helpers = import ./lib.nix;
  toml = pkgs.formats.toml { };
  inherit (lib)
    mkOption
    mkEnableOption
    mkIf
    types
    literalExpression
    optional
    optionalAttrs
    ;

  stateDir = "/var/lib/restock";

  # A path, a string path or a derivation is used as it is; an attribute set
  # is rendered to TOML.
  isFile = v: !(builtins.isAttrs v) || lib.isDerivation v;
  tomlFile = name: v: if isFile v then v else toml.generate name v;
  fileOrToml = types.either types.path toml.type;

  # TOML has no null: unset options are left out, so restock's own default
  # applies.
  settings = lib.filterAttrsRecursive (_: v: v != null) cfg.settings;
  configFile = toml.generate "restock.toml" settings;

  catalogFile = if cfg.catalog == null then null else tomlFile "restock-catalog.toml" cfg.catalog;

  storesDir = pkgs.linkFarm "restock-stores" (
    lib.mapAttrsToList (name: v: {
      name = "${name}.toml";
      path = tomlFile "restock-store-${name}.toml" v;
    }) cfg.stores
  );

  dynamicUser = cfg.user == "restock";

  port = if cfg.port != null then cfg.port else helpers.portOf cfg.settings.listen;

  watchdogSec =
    if cfg.watchdogSec != null then
      cfg.watchdogSec
    else
      helpers.watchdogSec {
        interval = cfg.settings.heartbeat_interval;
        stallAfter = cfg.settings.stall_after or null;
      };

  # restock's shutdown: no new claims, a buy before Place Order is abandoned
  # at once, a submitted one gets shutdown_grace to read its confirmation,
  # the intake a few seconds to close. systemd must wait longer than that.
  stopTimeoutSec = helpers.durationSec (cfg.settings.shutdown_grace or "30s") + 30;

  # The environment both the service and the `restock` wrapper get. HOME
  # points into the state dir so Chromium's own dot-files (NSS database,
  # fontconfig cache) land somewhere writable instead of failing on `/`.
  environment =
    {
      RESTOCK_CONFIG = "${configFile}";
      HOME = stateDir;
    }
    // optionalAttrs (catalogFile != null) { RESTOCK_CATALOG = "${catalogFile}"; }
    // optionalAttrs (cfg.stores != { }) { RESTOCK_STORES_DIR = "${storesDir}"; };

  # Settings that are secrets (or personal data) and must not be written to
  # the world-readable store.
  secretKeys = [
    "intake_token"
    "heartbeat_url"
    "order_check_url"
    "notify"
    "checkout"
  ];

  # `restock ...` as root: the CLI as the service's user, with the service's
  # state dir, config and environment file, in a transient unit.
  #
  # Why systemd-run: with DynamicUser the service's user exists only while a
  # unit using it runs, so `sudo -u restock` has no user to switch to.
  # A transient unit with DynamicUser=yes and the same User= name shares the
  # running service's UID (systemd allocates one dynamic user per name); when
  # the service is stopped it gets a fresh UID and systemd re-owns
  # /var/lib/private/restock for it, and back again when the service starts.
  # StateDirectory=restock gives it the same $STATE_DIRECTORY. Exit codes
  # are passed through (--wait); on a terminal it gets a pty, otherwise its
  # output is piped, so `restock status --json | jq` works.
  #
  # Signing in works through it too: the unit has no display, so
  # `restock login STORE` prints a one-time sign-in address for a phone. It
  # asks the running service for it (POST /stores/STORE/login on the
  # service's listen address, with the token from the environment file),
  # so the browser runs inside the service as its user on its profiles;
  # with the service stopped, the command serves the sign-in page itself on
  # that address, as the same user on the same profiles. When the command
  # ends, systemd stops the unit and whatever it started (Chromium too).
  cli = pkgs.writeShellScriptBin "restock" ''
    set -eu
    if [ -t 0 ] && [ -t 1 ]; then io=--pty; else io=--pipe; fi
    exec ${config.systemd.package}/bin/systemd-run \
      --quiet --collect --wait "$io" \
      --service-type=exec \
      --description="restock CLI" \
      ${lib.concatMapStringsSep " \\\n  " lib.escapeShellArg (
        (
          if dynamicUser then
            [
              "--property=DynamicUser=yes"
              "--property=User=restock"
              "--property=Group=restock"
            ]
          else
            [
              "--property=User=${cfg.user}"
              "--property=Group=${cfg.group}"
            ]
        )
        ++ [
          "--property=StateDirectory=restock"
          "--property=StateDirectoryMode=0700"
          "--property=UMask=0077"
        ]
        ++ optional (cfg.environmentFile != null) "--property=EnvironmentFile=${cfg.environmentFile}"
        ++ lib.mapAttrsToList (k: v: "--setenv=${k}=${v}") environment
      )} \
      ${lib.getExe cfg.package} "$@"
  '';
in
{
  options.services.restock = {
    enable = mkEnableOption "restock, the household-staples order robot";

    package = mkOption {
      type = types.package;
      default = pkgs.callPackage ./package.nix { };
      defaultText = literalExpression "pkgs.callPackage ./package.nix { }";
      description = "The restock package (wrapped to find nixpkgs' Chromium).";
    };

    settings = mkOption {
      default = { };
      description = ''
        restock's configuration, rendered to TOML and passed as
        RESTOCK_CONFIG. Keys are the lower-case names of the RESTOCK_*
        variables (see examples/restock.env). Secrets are refused here: put
        RESTOCK_INTAKE_TOKEN, RESTOCK_HEARTBEAT_URL, RESTOCK_ORDER_CHECK_URL,
        RESTOCK_NOTIFY and RESTOCK_CHECKOUT in `environmentFile`. The state
        directory is fixed to /var/lib/restock (StateDirectory=restock).
      '';
      example = literalExpression ''
        {
          listen = "0.0.0.0:8723";
          public_url = "https://restock.home.example";
          dry_run = false;
          daily_cap = "60.00";
          heartbeat_interval = "60s";
          session_check = "3h";
        }
      '';
      type = types.submodule {
        freeformType = toml.type;
        # The two settings the unit itself derives something from.
        options.listen = mkOption {
          type = types.str;
          default = "127.0.0.1:8723";
          description = "Intake address; its port is what `openFirewall` opens.";
        };
        options.heartbeat_interval = mkOption {
          type = types.str;
          default = "60s";
          description = "Heartbeat interval; WatchdogSec= is derived from it (see `watchdogSec`).";
        };
      };
    };

    environmentFile = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "/run/secrets/restock.env";
      description = ''
        An env file (KEY=value lines, as examples/restock.env) with the
        secrets: RESTOCK_INTAKE_TOKEN, RESTOCK_HEARTBEAT_URL,
        RESTOCK_ORDER_CHECK_URL, RESTOCK_NOTIFY, RESTOCK_CHECKOUT. A string
        path outside the Nix store (e.g. from agenix or sops-nix), read by
        systemd as root; a Nix path literal would be copied into the
        world-readable store, so it is not accepted. Its variables override
        `settings`.
      '';
    };

    catalog = mkOption {
      type = types.nullOr fileOrToml;
      default = null;
      example = literalExpression ''
        {
          item = [{
            id = "paper-towels";
            name = "Paper towels, 8 rolls";
            cooldown = "7d";
            source = [{ store = "demo"; url = "http://127.0.0.1:8724/product/paper-towels"; }];
          }];
        }
      '';
      description = ''
        The catalog: a path to a TOML file (see examples/catalog.toml) or an
        attribute set rendered to one. `null` leaves RESTOCK_CATALOG to
        `settings.catalog` or the environment file.
      '';
    };

    stores = mkOption {
      type = types.attrsOf fileOrToml;
      default = { };
      example = literalExpression ''{ mystore = ./stores/mystore.toml; }'';
      description = ''
        Store definitions by name: each a path to a store TOML file or an
        attribute set rendered to one. They are linked into one directory
        as NAME.toml and passed as RESTOCK_STORES_DIR.
      '';
    };

    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = ''
        Open the intake port in the firewall, for buttons on other machines
        (Home Assistant). Also set `settings.listen` to a non-loopback
        address and RESTOCK_INTAKE_TOKEN in `environmentFile`.
      '';
    };

    port = mkOption {
      type = types.nullOr types.port;
      default = null;
      description = "The port `openFirewall` opens; `null` takes the port of `settings.listen`.";
    };

    watchdogSec = mkOption {
      type = types.nullOr types.ints.unsigned;
      default = null;
      description = ''
        systemd's WatchdogSec=: restock sends WATCHDOG=1 from its engine
        loop (and from progress during a buy); if none arrives for this
        long, systemd kills and restarts it. `null` derives it: 3 x
        `settings.heartbeat_interval`, and at least `settings.stall_after`
        plus one interval, so systemd acts shortly after restock itself has
        stopped its heartbeat and turned /health to 503. `0` turns the
        watchdog off.
      '';
    };

    user = mkOption {
      type = types.str;
      default = "restock";
      description = ''
        The service's user. The default, `restock`, is a DynamicUser
        allocated by systemd. Any other name must be a user you declare
        (users.users), e.g. to share the profiles with a desktop login.
      '';
    };

    group = mkOption {
      type = types.str;
      default = "restock";
      description = "The service's group (dynamic with the default user).";
    };
  };

  config = mkIf cfg.enable {
    assertions =
      map (key: {
        assertion = !(cfg.settings ? ${key});
        message = "services.restock.settings.${key} would land in the world-readable Nix store; set RESTOCK_${lib.toUpper key} in services.restock.environmentFile instead.";
      }) secretKeys
      ++ [
        {
          assertion = !(cfg.settings ? state_dir);
          message = "services.restock.settings.state_dir: the state lives in /var/lib/restock (StateDirectory=restock), the only writable place under the service's ProtectSystem=strict; leave state_dir unset.";
        }
        {
          assertion =
            cfg.environmentFile == null
            || (lib.hasPrefix "/" cfg.environmentFile && !lib.hasPrefix builtins.storeDir cfg.environmentFile);
          message = "services.restock.environmentFile must be an absolute path outside the Nix store (it holds secrets).";
        }
      ];

    warnings =
      optional (cfg.openFirewall && helpers.isLoopback cfg.settings.listen)
        "services.restock.openFirewall is set, but settings.listen = ${cfg.settings.listen} only accepts connections from this machine; set it to e.g. 0.0.0.0:${toString port}."
      ++ optional (cfg.openFirewall && cfg.environmentFile == null)
        "services.restock.openFirewall is set without an environmentFile: restock refuses to serve an address other machines reach without RESTOCK_INTAKE_TOKEN (set it in an environmentFile, or settings.intake_open = true to serve it open).";

    environment.systemPackages = [ cli ];

    networking.firewall.allowedTCPPorts = mkIf cfg.openFirewall [ port ];

    systemd.services.restock = {
      description = "restock: reorders household staples through a real browser";
      wantedBy = [ "multi-user.target" ];
      wants = [ "network-online.target" ];
      after = [ "network-online.target" ];
      # A changed config, catalog or store set changes these store paths,
      # so a rebuild restarts the service (a gentle restart: see KillMode).
      # `systemctl reload restock` re-reads the catalog file in place.
      inherit environment;

      serviceConfig =
        {
          # READY=1 once the intake listens and the engine loop has ticked;
          # WATCHDOG=1 from that loop. Only restock itself may notify, not the
          # Chromium processes it starts.
          Type = "notify";
          NotifyAccess = "main";
          WatchdogSec = watchdogSec;
          ExecStart = "${lib.getExe cfg.package} serve";
          ExecReload = "${pkgs.coreutils}/bin/kill -HUP $MAINPID";
          Restart = "on-failure";
          RestartSec = "10s";
          # Exit 2 is a configuration error: restarting will not fix it.
          RestartPreventExitStatus = 2;
          # SIGTERM goes to restock alone, which closes the browser it
          # started; a submitted buy gets its grace period to read the
          # confirmation instead of losing Chromium to the same signal.
          # Whatever is left after restock exits is SIGKILLed.
          KillMode = "mixed";
          TimeoutStopSec = stopTimeoutSec;

          User = cfg.user;
          Group = cfg.group;
          DynamicUser = dynamicUser;
          StateDirectory = "restock";
          StateDirectoryMode = "0700";
          UMask = "0077";

          # --- hardening, keeping what Chromium needs ---
          NoNewPrivileges = true;
          CapabilityBoundingSet = "";
          AmbientCapabilities = "";
          ProtectSystem = "strict";
          ProtectHome = true;
          PrivateTmp = true;
          # A /dev with only the pseudo devices (null, zero, urandom, tty,
          # pts) plus /dev/shm, which is what headless Chromium uses for its
          # shared memory. No GPU nodes: restock runs Chromium with
          # --disable-gpu and software rendering.
          PrivateDevices = true;
          ProtectKernelTunables = true;
          ProtectKernelModules = true;
          ProtectKernelLogs = true;
          ProtectControlGroups = true;
          ProtectClock = true;
          ProtectHostname = true;
          ProtectProc = "invisible";
          # Not ProcSubset=pid: Chromium reads /proc/meminfo, /proc/stat and
          # /proc/sys/... to size itself.
          RestrictSUIDSGID = true;
          RestrictRealtime = true;
          LockPersonality = true;
          # Chromium's network stack watches interfaces over netlink.
          RestrictAddressFamilies = [
            "AF_UNIX"
            "AF_INET"
            "AF_INET6"
            "AF_NETLINK"
          ];
          # Not RestrictNamespaces: Chromium's sandbox (kept, since restock
          # runs unprivileged) puts each renderer in new user, PID and
          # network namespaces.
          # V8's JIT maps memory writable and executable: W^X enforcement
          # would stop every page's JavaScript.
          MemoryDenyWriteExecute = false;
          SystemCallArchitectures = "native";
          # @system-service plus the two calls Chromium's sandbox makes that
          # it lacks: seccomp(2), to install its own seccomp-bpf filters,
          # and chroot(2), to drop its renderers' file-system view (inside
          # their user namespace; it grants nothing outside it).
          SystemCallFilter = [
            "@system-service"
            "seccomp"
            "chroot"
          ];
          # A call outside the list fails with EPERM instead of killing the
          # process with SIGSYS: Chromium probes optional calls (memory
          # protection keys, ptrace for crash reports) and copes with EPERM.
          SystemCallErrorNumber = "EPERM";
        }
        // optionalAttrs (cfg.environmentFile != null) {
          EnvironmentFile = cfg.environmentFile;
        };
    };
  };
}
