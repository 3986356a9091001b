#!/usr/bin/env bash
# Runs every test from a fresh clone, installing what the tests need first.
# Build outputs and the Python venvs live under target/ (ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p target

echo "==> toolchain targets (WASM handlers build for wasm32-wasip2)"
rustup target add wasm32-wasip2

echo "==> Debian's packages: Chromium and ChromeDriver (the console's browser test), tmux (the terminal display test), docker.io (the container image's tests), musl-tools (the static emulator in the image)"
sudo_if_needed() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null || ! command -v tmux >/dev/null \
    || ! command -v dockerd >/dev/null || ! command -v musl-gcc >/dev/null; then
    sudo_if_needed apt-get update -qq
    DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq chromium chromium-driver tmux docker.io musl-tools >/dev/null
fi
rustup target add x86_64-unknown-linux-musl

echo "==> the Docker daemon (root, as the machine allows; base images are never pulled)"
if ! docker info >/dev/null 2>&1; then
    sudo_if_needed sh -c 'dockerd >target/dockerd.log 2>&1 &'
    for _ in $(seq 1 120); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
    docker info >/dev/null || { cat target/dockerd.log; exit 1; }
fi

# venv DIR REQUIREMENTS: a venv with exactly the packages of a lock file (rebuilt when it
# changes). Each requirements.txt is compiled from its requirements.in by pip-compile and pins
# every package, dependencies included; --no-deps installs nothing else, pip check proves the
# set complete.
venv() {
    if ! cmp -s "$2" "$1/.requirements"; then
        rm -rf "$1"
        python3 -m venv "$1"
        "$1/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$2"
        "$1/bin/pip" check --disable-pip-version-check >/dev/null
        cp "$2" "$1/.requirements"
    fi
}
# What the tests install, fetched from lock files while cargo builds (network and pip, not the
# compiler's cores): the Python venvs, the Node.js packages, and what lockgate installs for the
# functions the tests run. Its log is target/fetch.log; the script waits for it before any test.
fetch_packages() {
    echo "==> Python venvs from the tests' lock files"
    venv target/venv tests/python/requirements.txt
    venv target/venv-query tests/python-query/requirements.txt
    venv target/venv-cli tests/cli/requirements.txt
    venv target/venv-wasm tests/wasm/requirements.txt   # componentize-py: the Python guest
    venv target/venv-console tests/console/requirements.txt   # Selenium, Prometheus's parser
    venv target/venv-container tests/container/requirements.txt   # Testcontainers, boto3

    echo "==> Node.js test dependencies (@aws-sdk/client-sqs, from tests/node/package-lock.json)"
    (cd tests/node && npm ci --no-audit --no-fund --loglevel=error)

    echo "==> the packages lockgate installs for the Node.js functions the tests run, into npm's cache (from their lock files)"
    for lock in functions/*/package-lock.json; do
        scratch=$(mktemp -d)
        cp "$(dirname "$lock")"/package.json "$lock" "$scratch"/
        (cd "$scratch" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
        rm -rf "$scratch"
    done

    echo "==> wheels for the Python functions the tests run: AWS's runtime interface client for each Python present, the functions' requirements"
    ric=$(sed -n 's/^pub const RUNTIME_CLIENT: &str = "\(.*\)";/\1/p' runtime/src/builder/python.rs)
    ric_3_9=$(sed -n 's/^pub const RUNTIME_CLIENT_PYTHON_3_9: &str = "\(.*\)";/\1/p' runtime/src/builder/python.rs)
    mkdir -p target/wheels
    for version in 3.9 3.10 3.11 3.12 3.13; do
        # As lockgate finds an interpreter: python3.X on PATH if it runs as that version, else pyenv's.
        python=
        for candidate in "python$version" "${PYENV_ROOT:-$HOME/.pyenv}/versions/$version".*/bin/python3; do
            if "$candidate" --version 2>/dev/null | grep -q "^Python $version\."; then python=$candidate; break; fi
        done
        [ -n "$python" ] || continue
        client=$ric; [ "$version" = 3.9 ] && client=$ric_3_9
        "$python" -m pip download --quiet --disable-pip-version-check --only-binary=:all: --dest target/wheels \
            --constraint tests/function-wheels.txt "$client" $(printf -- '-r %s ' functions/*/requirements.txt)
    done

    echo "==> esbuild, pinned as lockgate installs it for a TypeScript function without its own (downloaded here, before any test)"
    esbuild_version=$(sed -n 's/^pub const ESBUILD_VERSION: &str = "\(.*\)";/\1/p' runtime/src/builder/node.rs)
    if [ ! -x "$LOCKGATE_TOOLS_DIR/esbuild-$esbuild_version/node_modules/.bin/esbuild" ]; then
        npm install --prefix "$LOCKGATE_TOOLS_DIR/esbuild-$esbuild_version" "esbuild@$esbuild_version" \
            --no-audit --no-fund --no-save --loglevel=error
    fi
}
echo "==> fetching the tests' packages in the background (target/fetch.log)"
export LOCKGATE_TOOLS_DIR="$PWD/target/tools"   # where lockgate keeps the esbuild it installs
fetch_packages >target/fetch.log 2>&1 &
fetch_pid=$!

echo "==> build (once for every test), linted by Clippy as it compiles (cargo clippy --workspace --all-targets -- -D warnings)"
# Clippy's driver as the workspace's compiler (what `cargo clippy` runs, as a check) lints each
# member while building it, so the lint costs no second pass over the dependencies. It stays
# set for the whole run: the tests' own builds (cargo test, lockgate up building functions)
# then reuse these artifacts.
export RUSTC_WORKSPACE_WRAPPER="$(rustup which clippy-driver)"
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
cargo build --workspace --all-targets --locked
echo "==> packages lockgate builds on their own share the workspace's features (no second wasmtime build)"
python3 scripts/check-features.py
# The functions the end-to-end tests run, built the way `lockgate up --build-profile dev` builds them
# (one package at a time, so with that package's own features): the tests then start at once.
cargo build --locked --manifest-path functions/probe/Cargo.toml --bin probe
cargo build --locked --manifest-path functions/orders/Cargo.toml --bin orders
cargo build --locked --manifest-path runtime/wasm-bootstrap/Cargo.toml --bin lockgate-wasm-bootstrap
for guest in wasm-probe webhooks; do
    cargo build --locked --manifest-path "functions/$guest/Cargo.toml" --lib --target wasm32-wasip2
done

echo "==> the tests' packages (fetched while building)"
wait "$fetch_pid" || { cat target/fetch.log; echo "fetching the tests' packages failed"; exit 1; }
cat target/fetch.log

echo "==> the crates a user installs package cleanly (cargo package, offline, without building them again)"
packaged=$(cargo package --offline --allow-dirty --no-verify -p lockgate-sdk -p lockgate-guest \
    -p lockgate-wasm-host -p lockgate-emulator -p lockgate-runtime 2>&1) || { echo "$packaged"; exit 1; }
if grep -qi "warning" <<<"$packaged"; then echo "$packaged"; exit 1; fi

echo "==> the emulator's container image (static lockgate-emulator, FROM scratch)"
rm -f target/dist/lockgate-emulator   # built from this checkout, never a stale one
bash scripts/image.sh lockgate:test

echo "==> formatting (cargo fmt --check) and the README's and docs' links"
cargo fmt --all --check
python3 scripts/check-links.py

echo "==> from here on nothing is downloaded: cargo, pip and npm work offline (the tests' installs come from what was fetched above)"
export CARGO_NET_OFFLINE=true PIP_NO_INDEX=1 PIP_FIND_LINKS="$PWD/target/wheels" npm_config_offline=true

echo "==> Rust tests (aws-sdk-sqs against the emulator, crash test, lockgate up end to end with Rust, Python, Node.js and C functions, WASM host and guests)"
cargo test --workspace --locked

export LOCKGATE_BIN="$PWD/target/debug/lockgate"
echo "==> Python tests: boto3 (JSON protocol), SAM translator and cfn-lint"
target/venv/bin/pytest -q tests/python
echo "==> Python tests: boto3 1.26 (Query protocol)"
target/venv-query/bin/pytest -q tests/python-query
echo "==> the web console in headless Chromium, /metrics through Prometheus's parser"
target/venv-console/bin/pytest -q tests/console
echo "==> AWS CLI v1 tests"
target/venv-cli/bin/pytest -q tests/cli
echo "==> the container image: docker run, boto3, the AWS CLI, Testcontainers, a restart on its volume"
TESTCONTAINERS_RYUK_DISABLED=true LOCKGATE_IMAGE=lockgate:test LOCKGATE_AWS_CLI="$PWD/target/venv-cli/bin/aws" \
    target/venv-container/bin/pytest -q tests/container
echo "==> AWS SDK for JavaScript v3 tests"
(cd tests/node && node --test)
