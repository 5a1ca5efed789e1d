#!/usr/bin/env bash
# Builds the release binaries once (LTO, stripped: the workspace's release profile) and packages the agent, the server
# and the desktop program as .deb and .rpm into $CARGO_TARGET_DIR/packages (target/packages by default), named as
# Debian and RPM name them. Extra arguments go to cargo deb, e.g. --maintainer "Your Name <you@example.org>".
set -euo pipefail
cd "$(dirname "$0")/.."

out=${CARGO_TARGET_DIR:-target}/packages
mkdir -p "$out"
cargo build --release --locked -p lifeline-agent -p lifeline-server
# A build of its own: built together, Cargo would unify the features of the dependencies the three share, and the
# daemons would no longer be the binaries a plain `cargo build --release` makes.
cargo build --release --locked -p lifeline-help
for name in agent server help; do
    cargo deb --no-build --locked -p "lifeline-$name" -o "$out/" "$@"
    cargo generate-rpm -p "$name" -o "$out/"
done
