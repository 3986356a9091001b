#!/usr/bin/env bash
# Fuzzes what a client or a template controls, each target for a bounded time:
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET]     (default 60)
# - cargo-fuzz (libFuzzer, coverage-guided, on the nightly toolchain) on the emulator:
#   Query-protocol and JSON-protocol requests run against an in-memory emulator, receipt
#   handles, SigV4 headers and query strings;
# - the template loader: its property test with random mutations of template.yaml, run with
#   as many cases as fit in the same time.
# Crashes land in fuzz/artifacts/<target>/; the corpus grows in fuzz/corpus/<target>/ (both
# ignored by git). Figures from a run are in docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "==> installing cargo-fuzz (once)"
    cargo install cargo-fuzz --locked
fi
for target in query_request json_request receipt_handle sigv4; do
    echo "==> $target for ${seconds}s"
    (cd fuzz && cargo +nightly fuzz run "$target" -- -max_total_time="$seconds" -rss_limit_mb=2048 2>&1 |
        grep -E "^#[0-9]+.*(DONE|pulse)|^Done|SUMMARY|panicked|ERROR" | tail -n 3)
done
echo "==> template loader for ${seconds}s"
start=$(date +%s)
cases=0
while [ $(( $(date +%s) - start )) -lt "$seconds" ]; do
    PROPTEST_CASES=2000 cargo test -q -p lockgate-runtime --bin lockgate hostile_input >/dev/null
    cases=$((cases + 2000))
done
echo "template loader: $cases mutated templates, no panic"
