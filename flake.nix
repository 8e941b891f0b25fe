{
  description = "restock: reorders household staples through a real browser, safely";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      # Chromium from nixpkgs is the browser restock drives; it is built for
      # these two.
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f system nixpkgs.legacyPackages.${system});
    in
    {
      packages = forAllSystems (
        system: pkgs: {
          restock = pkgs.callPackage ./nix/package.nix { };
          default = self.packages.${system}.restock;
        }
      );

      apps = forAllSystems (
        system: pkgs: {
          default = {
            type = "app";
            program = "${self.packages.${system}.default}/bin/restock";
          };
        }
      );

      devShells = forAllSystems (
        system: pkgs: {
          default = pkgs.mkShell {
            packages = with pkgs; [
              cargo
              rustc
              clippy
              rustfmt
              chromium
              sqlite
            ];
            RESTOCK_CHROME = pkgs.lib.getExe pkgs.chromium;
          };
        }
      );

      # `services.restock`; see nix/module.nix and the README.
      nixosModules.default = ./nix/module.nix;

      overlays.default = final: _prev: {
        restock = final.callPackage ./nix/package.nix { };
      };

      checks = forAllSystems (
        system: pkgs: {
          package = self.packages.${system}.default;
          # The module's pure helpers (durations, ports, the watchdog rule)
          # and the module itself under nixpkgs' module system; both throw
          # at evaluation when a case is wrong.
          nix-lib = pkgs.runCommand "restock-nix-lib-tests" { } ''
            ${if import ./nix/tests.nix then "touch $out" else "exit 1"}
          '';
          module = pkgs.runCommand "restock-module-check" { } ''
            ${if import ./nix/module-check.nix { inherit (nixpkgs) lib; } then "touch $out" else "exit 1"}
          '';
        }
      );
    };
}
