#!/usr/bin/env bash
# Builds release binaries, installs moto_server (the peer we compare against) into a venv
# under target/, and runs the benchmark. Extra arguments go to lockgate-bench.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x target/bench-venv/bin/moto_server ]; then
    python3 -m venv target/bench-venv
    target/bench-venv/bin/pip install --quiet --disable-pip-version-check 'moto[server]==5.2.5'
fi
cargo build --release -p lockgate-runtime -p lockgate-bench
exec target/release/lockgate-bench "$@"
