# Evaluates nix/module.nix with nixpkgs' real module system but stand-in
# packages, so the options, types, assertions and the generated unit can be
# checked without building anything or fetching nixpkgs' package set:
#
#   nix-instantiate --eval --strict nix/module-check.nix --arg lib 'import <nixpkgs/lib>'
#   nix-instantiate --eval --strict nix/module-check.nix --arg lib 'import /path/to/nixpkgs.lib/lib'
#
# Evaluates to true, or fails naming the first wrong case. The flake runs it
# as `checks.<system>.module` with its nixpkgs.
{ lib }:

let
  inherit (lib) types mkOption;

  fake = name: "/nix/store/00000000000000000000000000000000-${name}";
  # The shape of pkgs.formats.toml's value type.
  tomlValue =
    types.oneOf [
      types.bool
      types.int
      types.float
      types.str
      types.path
      (types.attrsOf tomlValue)
      (types.listOf tomlValue)
    ]
    // {
      description = "TOML value";
    };
  pkgs = {
    formats.toml = _: {
      type = tomlValue;
      generate = name: value: fake name;
    };
    linkFarm = name: entries: {
      outPath = fake name;
      inherit entries;
    };
    writeShellScriptBin = name: text: {
      outPath = fake name;
      inherit name text;
    };
    callPackage = _: _: {
      type = "derivation";
      name = "restock-0.1.0";
      outPath = fake "restock-0.1.0";
      meta.mainProgram = "restock";
    };
    coreutils = fake "coreutils";
  };

  # The few NixOS options the module sets, declared loosely.
  nixosStubs = {
    options = {
      assertions = mkOption {
        type = types.listOf types.unspecified;
        default = [ ];
      };
      warnings = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      environment.systemPackages = mkOption {
        type = types.listOf types.unspecified;
        default = [ ];
      };
      networking.firewall.allowedTCPPorts = mkOption {
        type = types.listOf types.port;
        default = [ ];
      };
      systemd.package = mkOption { default = fake "systemd"; };
      systemd.services = mkOption {
        type = types.attrsOf (types.attrsOf types.unspecified);
        default = { };
      };
    };
  };

  evaluate =
    restock:
    let
      c =
        (lib.evalModules {
          modules = [
            nixosStubs
            ./module.nix
            { services.restock = restock; }
          ];
          specialArgs = { inherit pkgs; };
        }).config;
    in
    {
      failed = map (a: a.message) (lib.filter (a: !a.assertion) c.assertions);
      inherit (c) warnings;
      ports = c.networking.firewall.allowedTCPPorts;
      unit = c.systemd.services.restock or { };
      cli = lib.concatMapStrings (p: p.text or "") c.environment.systemPackages;
    };

  check =
    name: got: want:
    if got == want then
      true
    else
      throw "nix/module-check.nix: ${name}: got ${builtins.toJSON got}, want ${builtins.toJSON want}";
  has = name: haystack: needle: check "${name} contains ${needle}" (lib.hasInfix needle haystack) true;

  plain = evaluate { enable = true; };
  sc = plain.unit.serviceConfig;

  full = evaluate {
    enable = true;
    environmentFile = "/run/secrets/restock.env";
    openFirewall = true;
    settings = {
      listen = "0.0.0.0:9000";
      stall_after = "5m";
      shutdown_grace = "2m";
      dry_run = false;
    };
    catalog.item = [
      {
        id = "soap";
        source = [
          {
            store = "demo";
            url = "http://127.0.0.1:8724/product/soap";
          }
        ];
      }
    ];
    stores.mystore = "/etc/restock/mystore.toml";
  };

  static = evaluate {
    enable = true;
    user = "alice";
    group = "users";
    watchdogSec = 0;
    port = 1234;
    openFirewall = true;
  };

  secrets = evaluate {
    enable = true;
    environmentFile = "/nix/store/x-restock.env";
    settings = {
      intake_token = "t";
      heartbeat_url = [ "https://hc-ping.com/x" ];
      state_dir = "/srv/restock";
    };
  };

  cases = [
    (check "disabled: no unit" (evaluate { }).unit { })
    (check "no failed assertions" plain.failed [ ])
    (check "no warnings" plain.warnings [ ])
    (check "Type" sc.Type "notify")
    (check "NotifyAccess" sc.NotifyAccess "main")
    (check "WatchdogSec = 3 x 60s" sc.WatchdogSec 180)
    (check "TimeoutStopSec = grace + 30" sc.TimeoutStopSec 60)
    (check "KillMode" sc.KillMode "mixed")
    (check "DynamicUser" sc.DynamicUser true)
    (check "StateDirectory" sc.StateDirectory "restock")
    (check "MemoryDenyWriteExecute" sc.MemoryDenyWriteExecute false)
    (check "ExecStart" sc.ExecStart "${fake "restock-0.1.0"}/bin/restock serve")
    (check "no EnvironmentFile" (sc ? EnvironmentFile) false)
    (check "firewall closed" plain.ports [ ])
    (check "environment" (builtins.attrNames plain.unit.environment) [
      "HOME"
      "RESTOCK_CONFIG"
    ])
    (has "cli" plain.cli "--property=DynamicUser=yes")
    (has "cli" plain.cli "--property=StateDirectory=restock")
    (has "cli" plain.cli "'--setenv=RESTOCK_CONFIG=${fake "restock.toml"}'")

    (check "full: no failed assertions" full.failed [ ])
    (check "full: port from listen" full.ports [ 9000 ])
    (check "full: watchdog from stall_after" full.unit.serviceConfig.WatchdogSec 360)
    (check "full: stop timeout" full.unit.serviceConfig.TimeoutStopSec 150)
    (check "full: EnvironmentFile" full.unit.serviceConfig.EnvironmentFile "/run/secrets/restock.env")
    (check "full: catalog rendered" full.unit.environment.RESTOCK_CATALOG (fake "restock-catalog.toml"))
    (check "full: stores linked" full.unit.environment.RESTOCK_STORES_DIR (fake "restock-stores"))
    (has "full: cli" full.cli "--property=EnvironmentFile=/run/secrets/restock.env")
    (has "full: cli" full.cli "--setenv=RESTOCK_STORES_DIR=")

    (check "static: user" static.unit.serviceConfig.User "alice")
    (check "static: not dynamic" static.unit.serviceConfig.DynamicUser false)
    (check "static: watchdog off" static.unit.serviceConfig.WatchdogSec 0)
    (check "static: explicit port" static.ports [ 1234 ])
    (check "static: loopback + firewall warns" (builtins.length static.warnings) 2)
    (check "static: cli has no DynamicUser" (lib.hasInfix "DynamicUser" static.cli) false)

    (check "secrets: refused" (builtins.length secrets.failed) 4)
  ];
in
builtins.all (x: x) cases
