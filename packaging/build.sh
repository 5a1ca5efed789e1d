#!/usr/bin/env bash
# Builds the release binaries once (LTO, stripped: the workspace's release profile) and packages both as .deb and
# .rpm into $CARGO_TARGET_DIR/packages (target/packages by default), named as Debian and RPM name them. Extra
# arguments go to cargo deb, e.g. --maintainer "Your Name <you@example.org>".
set -euo pipefail
cd "$(dirname "$0")/.."

out=${CARGO_TARGET_DIR:-target}/packages
mkdir -p "$out"
cargo build --release --locked -p lifeline-agent -p lifeline-server
for name in agent server; do
    cargo deb --no-build --locked -p "lifeline-$name" -o "$out/" "$@"
    cargo generate-rpm -p "$name" -o "$out/"
done
