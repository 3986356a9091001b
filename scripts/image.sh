#!/usr/bin/env bash
# Builds the container image of the emulator from the repository's Dockerfile (FROM scratch:
# nothing is pulled): the static lockgate-emulator (scripts/release.sh, reused when built) in
# an image that runs it as an unprivileged user with its state in the /data volume.
#   bash scripts/image.sh [TAG]     (default lockgate:latest)
set -euo pipefail
cd "$(dirname "$0")/.."
tag="${1:-lockgate:latest}"
[ -x target/dist/lockgate-emulator ] || bash scripts/release.sh lockgate-emulator
context=target/image
rm -rf "$context"
mkdir -p "$context/rootfs/data" "$context/rootfs/tmp"
chmod 0755 "$context/rootfs/data"
chmod 1777 "$context/rootfs/tmp"
cp target/dist/lockgate-emulator Dockerfile "$context/"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
revision=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
# The classic builder: BuildKit comes as a separate package and is not needed for this file.
DOCKER_BUILDKIT=0 docker build --quiet \
    --build-arg "VERSION=$version" --build-arg "REVISION=$revision" \
    -t "$tag" "$context" >/dev/null
echo "$tag: $(docker image inspect "$tag" --format '{{.Size}}') bytes"
