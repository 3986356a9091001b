#!/usr/bin/env bash
# Runs every test from a fresh clone, installing what the tests need first.
# Build outputs and the Python venv live under target/ (ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> toolchain targets"
rustup target add wasm32-wasip2 >/dev/null 2>&1 || echo "warning: could not add wasm32-wasip2 (not needed yet)"

echo "==> Python venv with pinned test dependencies"
if [ ! -x target/venv/bin/pytest ] || ! cmp -s tests/python/requirements.txt target/venv/.requirements; then
    mkdir -p target
    python3 -m venv target/venv
    target/venv/bin/pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt
    cp tests/python/requirements.txt target/venv/.requirements
fi

echo "==> build (once for every test)"
cargo build --workspace --all-targets --locked

echo "==> Rust tests (aws-sdk-sqs against the emulator, crash test against the binary)"
cargo test --workspace --locked

echo "==> Python tests (boto3 against the lockgate binary)"
LOCKGATE_BIN="$PWD/target/debug/lockgate" target/venv/bin/pytest -q tests/python
