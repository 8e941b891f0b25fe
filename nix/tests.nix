# Offline checks of nix/lib.nix, run by .ci/run:
#   nix-instantiate --eval --strict nix/tests.nix
# Evaluates to true, or fails naming the first wrong case.
let
  lib = import ./lib.nix;
  check = name: got: want:
    if got == want then true
    else throw "nix/tests.nix: ${name}: got ${builtins.toJSON got}, want ${builtins.toJSON want}";
  fails = expr: !(builtins.tryEval expr).success;
  cases = [
    (check "60s" (lib.durationMs "60s") 60000)
    (check "1h 30m" (lib.durationMs "1h 30m") 5400000)
    (check "2min" (lib.durationMs "2min") 120000)
    (check "500ms" (lib.durationMs "500ms") 500)
    (check "90 seconds" (lib.durationMs "90 seconds") 90000)
    (check "durationSec rounds up" (lib.durationSec "1500ms") 2)
    (check "bad duration" (fails (lib.durationMs "soon")) true)
    (check "bad unit" (fails (lib.durationMs "5 fortnights")) true)
    (check "empty duration" (fails (lib.durationMs "")) true)
    (check "port v4" (lib.portOf "127.0.0.1:8723") 8723)
    (check "port any" (lib.portOf "0.0.0.0:9000") 9000)
    (check "port v6" (lib.portOf "[::]:8724") 8724)
    (check "no port" (fails (lib.portOf "localhost")) true)
    (check "loopback v4" (lib.isLoopback "127.0.0.1:8723") true)
    (check "loopback v6" (lib.isLoopback "[::1]:8723") true)
    (check "not loopback" (lib.isLoopback "0.0.0.0:8723") false)
    (check "not loopback v6" (lib.isLoopback "[::]:8723") false)
    (check "watchdog default" (lib.watchdogSec { interval = "60s"; }) 180)
    (check "watchdog short" (lib.watchdogSec { interval = "10s"; }) 30)
    (check "watchdog stall_after wins" (lib.watchdogSec { interval = "60s"; stallAfter = "5m"; }) 360)
    (check "watchdog stall_after below 3x" (lib.watchdogSec { interval = "60s"; stallAfter = "90s"; }) 180)
  ];
in
builtins.all (x: x) cases
