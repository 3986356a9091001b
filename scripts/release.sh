#!/usr/bin/env bash
# Builds the release binaries as fully static x86_64 Linux executables (musl) into target/dist/,
# with their SHA-256 sums:
#   lockgate            the whole tool (lockgate up, the emulator, the CLI)
#   lockgate-emulator   the emulator alone (no wasmtime, no AWS SDK, no function runtime)
#   bash scripts/release.sh [lockgate|lockgate-emulator]...   (default: both)
# Needs the musl target (rustup target add x86_64-unknown-linux-musl) and a musl C compiler
# (Debian's musl-tools) for the C the binaries embed (SQLite, AWS-LC, mimalloc); it installs
# the target when rustup is there and says what else is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=x86_64-unknown-linux-musl
what=("$@")
[ ${#what[@]} -gt 0 ] || what=(lockgate lockgate-emulator)

rustup target list --installed 2>/dev/null | grep -qx "$TARGET" || rustup target add "$TARGET"
if ! command -v musl-gcc >/dev/null; then
    echo "musl-gcc is missing: install Debian's musl-tools (apt-get install musl-tools)" >&2
    exit 1
fi
export CC_x86_64_unknown_linux_musl=musl-gcc

mkdir -p target/dist
for binary in "${what[@]}"; do
    case "$binary" in
        lockgate) package=lockgate-runtime ;;
        lockgate-emulator) package=lockgate-emulator ;;
        *) echo "unknown binary $binary (lockgate or lockgate-emulator)" >&2; exit 2 ;;
    esac
    echo "==> $binary (static, $TARGET)"
    started=$(date +%s)
    cargo build --locked --profile dist --target "$TARGET" -p "$package" --bin "$binary"
    cp "target/$TARGET/dist/$binary" "target/dist/$binary"
    echo "    built in $(( $(date +%s) - started )) s, $(stat -c %s "target/dist/$binary") bytes"
done
(cd target/dist && sha256sum "${what[@]}" > SHA256SUMS.tmp && mv SHA256SUMS.tmp SHA256SUMS)
cat target/dist/SHA256SUMS
