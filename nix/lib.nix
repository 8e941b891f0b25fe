# Pure helpers for the NixOS module: builtins only, no nixpkgs, so CI can
# evaluate them (and `nix/tests.nix`) offline with `nix-instantiate --eval`.
let
  inherit (builtins) elemAt fromJSON match replaceStrings throw;

  # "0042" -> 42 (fromJSON rejects leading zeros).
  toInt = digits: fromJSON (elemAt (match "0*([0-9]+)" digits) 0);

  # Units humantime (the duration parser restock itself uses) accepts,
  # in milliseconds.
  unitMs = {
    ms = 1; msec = 1; millis = 1;
    s = 1000; sec = 1000; secs = 1000; second = 1000; seconds = 1000;
    m = 60000; min = 60000; mins = 60000; minute = 60000; minutes = 60000;
    h = 3600000; hr = 3600000; hrs = 3600000; hour = 3600000; hours = 3600000;
    d = 86400000; day = 86400000; days = 86400000;
  };
in
rec {
  # A humane duration as restock reads it ("60s", "5m", "1h 30m") in
  # milliseconds. Anything else is an evaluation error that says what to
  # write instead.
  durationMs = text:
    let
      compact = replaceStrings [ " " ] [ "" ] text;
      go = acc: rest:
        if rest == "" then acc
        else
          let m = match "([0-9]+)([a-z]+)(.*)" rest;
          in
          if m == null || !(unitMs ? ${elemAt m 1}) then
            throw "restock: `${text}` is not a duration this module can read; write it like `90s`, `5m` or `1h 30m`"
          else go (acc + toInt (elemAt m 0) * unitMs.${elemAt m 1}) (elemAt m 2);
    in
    if compact == "" then throw "restock: an empty duration; write it like `60s`" else go 0 compact;

  # Whole seconds, rounded up.
  durationSec = text: (durationMs text + 999) / 1000;

  # The port of a listen address: "127.0.0.1:8723", "0.0.0.0:8723",
  # "[::]:8723" -> 8723.
  portOf = listen:
    let m = match ".*:([0-9]+)" listen;
    in
    if m == null then
      throw "restock: settings.listen = `${listen}` has no port; write it like `127.0.0.1:8723`"
    else toInt (elemAt m 0);

  # True when only this machine can reach the address.
  isLoopback = listen:
    match "(127[.][0-9.]+|[[]::1[]]|localhost):[0-9]+" listen != null;

  # systemd's WatchdogSec= for a heartbeat interval (and an optional
  # stall_after): 3 x the interval, and never less than stall_after plus
  # one interval.
  #
  # Why 3x: restock sends WATCHDOG=1 from the same engine-loop tick that
  # sends the heartbeat (and from buy progress during a buy). It counts
  # itself wedged after stall_after (default 2.5 x interval): /health turns
  # 503 and the heartbeat stops. The watchdog fires a little after that, so
  # systemd never kills an engine restock itself still considers alive, and
  # a wedged one is restarted about half an interval after it went silent.
  watchdogSec = { interval, stallAfter ? null }:
    let
      intervalMs = durationMs interval;
      base = 3 * intervalMs;
      floor = if stallAfter == null then 0 else durationMs stallAfter + intervalMs;
      ms = if base > floor then base else floor;
    in
    (ms + 999) / 1000;
}
