#!/usr/bin/env bash
# Short, bounded fuzzing run for CI: builds every fuzz target, then fuzzes each one for FUZZ_SECONDS, starting from
# its committed seeds in seeds/<target>/. Exits non-zero if any target crashes, hangs or runs out of memory; the input
# that did it is saved under fuzz/artifacts/<target>/ (see FUZZING.md).
#
# Environment:
#   FUZZ_SECONDS    seconds per target (default 20)
#   FUZZ_TIMEOUT    seconds one input may take before it counts as a hang (default 10)
#   FUZZ_SANITIZER  address (default) or none; passed to `cargo fuzz --sanitizer`
#
# Needs a C++ compiler (libfuzzer-sys builds libFuzzer) and crates.io; nothing else from the network.
set -euo pipefail
cd "$(dirname "$0")"

seconds="${FUZZ_SECONDS:-20}"
timeout="${FUZZ_TIMEOUT:-10}"
sanitizer="${FUZZ_SANITIZER:-address}"

# cargo-fuzz builds with nightly-only flags (-Zsanitizer=address and friends). RUSTC_BOOTSTRAP=1 makes a stable
# compiler accept them, so CI needs no nightly toolchain; on nightly it changes nothing.
export RUSTC_BOOTSTRAP=1
# Cargo caches what rustc answered when probing the target, keyed without RUSTC_BOOTSTRAP: one earlier build without it
# leaves a cached "-Z is only accepted on nightly" failure behind. Never trust that cache here.
export CARGO_CACHE_RUSTC_INFO=0

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

# -O: a release build whose debug assertions and overflow checks come from Cargo.toml's profile, which keeps them for
# everything but mail-parser (see there). Without it cargo-fuzz forces them on for every crate.
start=$SECONDS
cargo fuzz build -O --sanitizer "$sanitizer"
echo "built all targets in $((SECONDS - start)) s"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

failed=()
for target in $(cargo fuzz list); do
    # The first corpus directory is the scratch one libFuzzer adds new inputs to; seeds/<target> is only read.
    corpora=("$work/corpus/$target")
    mkdir -p "${corpora[0]}"
    if [[ -d "seeds/$target" ]]; then
        corpora+=("seeds/$target")
    fi
    log="$work/$target.log"
    echo "fuzzing $target for $seconds s"
    if cargo fuzz run -O --sanitizer "$sanitizer" "$target" "${corpora[@]}" -- \
        -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout="$timeout" \
        -print_final_stats=1 >"$log" 2>&1; then
        grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units)' "$log" || true
    else
        echo "FAILED: $target; last lines of its log:"
        tail -n 60 "$log"
        failed+=("$target")
    fi
done

echo "total $((SECONDS - start)) s"
if ((${#failed[@]} > 0)); then
    echo "crashing targets: ${failed[*]}; reproducers are under fuzz/artifacts/<target>/" >&2
    exit 1
fi
echo "no crashes"
