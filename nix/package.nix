# The restock binary, built from Cargo.lock, wrapped so that it finds
# nixpkgs' Chromium without any configuration.
{
  lib,
  rustPlatform,
  makeWrapper,
  chromium,
}:

let
  cargoToml = lib.importTOML ../Cargo.toml;
in
rustPlatform.buildRustPackage {
  pname = "restock";
  inherit (cargoToml.package) version;

  # Only what the build reads: a README or test edit does not rebuild.
  # examples/ is in because store definitions there are compiled in;
  # build.rs and link/ lay the binary out (probed, see build.rs).
  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [
      ../Cargo.toml
      ../Cargo.lock
      ../build.rs
      ../link
      ../src
      ../examples
    ];
  };

  # Every dependency is a crates.io release pinned by Cargo.lock, so no
  # outputHashes are needed. A git dependency would need one here.
  cargoLock.lockFile = ../Cargo.lock;

  nativeBuildInputs = [ makeWrapper ];

  # The test suite is not run in the sandbox: most tests bind HTTP servers
  # on 127.0.0.1 (the intake, the demo storefront, fake monitors) and the
  # end-to-end ones drive a real headless Chromium, neither of which the
  # Nix build sandbox offers. CI (`.ci/run`) runs the whole suite instead.
  doCheck = false;

  # --set-default: an explicit RESTOCK_CHROME (env file, settings) still wins.
  postInstall = ''
    wrapProgram $out/bin/restock \
      --set-default RESTOCK_CHROME ${lib.getExe chromium}
  '';

  meta = {
    description = cargoToml.package.description;
    license = with lib.licenses; [ mit asl20 ];
    mainProgram = "restock";
    platforms = lib.platforms.linux;
  };
}
