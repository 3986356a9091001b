#!/usr/bin/env bash
# Fuzzes what a client or a template controls, each target for a bounded time:
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET [TARGET...]]   (default 60 s, every target)
# Targets: query_request json_request receipt_handle sigv4 (cargo-fuzz) and template.
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
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(query_request json_request receipt_handle sigv4 template)
for target in "${targets[@]}"; do
    [ "$target" = template ] && continue
    if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
        echo "==> installing cargo-fuzz (once)"
        cargo install cargo-fuzz --locked
    fi
    echo "==> $target for ${seconds}s"
    (cd fuzz && cargo +nightly fuzz run "$target" -- -max_total_time="$seconds" -rss_limit_mb=2048 2>&1 |
        grep -E "^#[0-9]+.*(DONE|pulse)|^Done|SUMMARY|panicked|ERROR" | tail -n 3)
done
case " ${targets[*]} " in *" template "*) ;; *) exit 0 ;; esac
echo "==> template loader for ${seconds}s"
# The property test runs PROPTEST_CASES cases per round; a round counts only when the test ran
# and passed (cargo's own summary says so), so the total is cases actually checked.
batch=2000
cargo test -q --locked -p lockgate-runtime --lib --no-run
start=$(date +%s)
cases=0
while [ $(( $(date +%s) - start )) -lt "$seconds" ]; do
    out=$(PROPTEST_CASES=$batch cargo test -q --locked -p lockgate-runtime --lib \
        template::tests::hostile_input::mutated_templates_never_panic -- --exact 2>&1) || {
        echo "$out"; exit 1; }
    case "$out" in
        *"test result: ok. 1 passed"*) cases=$((cases + batch)) ;;
        *) echo "the property test did not run:"; echo "$out"; exit 1 ;;
    esac
done
echo "template loader: $cases mutated templates in $(( $(date +%s) - start )) s, no panic"
