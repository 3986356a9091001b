#!/usr/bin/env python3
"""Checks that packages `lockgate up` builds on their own share the workspace build's artifacts.

cargo builds one package with the features that package's own dependency tree asks for, and
the whole workspace with the union of every member's. When the two differ for a crate, that
crate and everything above it is compiled twice: for `lockgate-wasm-bootstrap` that is wasmtime,
four minutes of every test run. The bootstrap's Cargo.toml therefore turns on what the rest of
the workspace does; this check names any crate that drifts and the features to add.

It compares the features of the crates the bootstrap runs (its target side). Crates compiled
for the build machine only (proc-macros and their dependencies, such as wasmtime's component
macro) are unified separately by cargo and still compile a second time: about a minute.

Usage: python3 scripts/check-features.py  (offline; exits 1 on a drift)
"""

import subprocess
import sys

# Packages built on their own by the tests, whose trees must match the workspace's.
UNIFIED = ["lockgate-wasm-bootstrap"]


def features(*selection: str) -> dict[str, set[str]]:
    """`cargo tree` of the selection: each package (name and version) with its features."""
    out = subprocess.run(
        ["cargo", "tree", "--offline", "--locked", *selection, "-f", "{p} {f}", "--prefix", "none"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    found: dict[str, set[str]] = {}
    for line in out.splitlines():
        words = line.split()
        if len(words) < 2:
            continue
        # A path "(…)" and the repeat mark "(*)" follow the version; the features come last.
        named = [w for w in words[2:] if not (w.startswith("(") or w.endswith(")"))]
        listed = {f for w in named for f in w.split(",") if f}
        found.setdefault(f"{words[0]} {words[1]}", set()).update(listed)
    return found


def main() -> int:
    workspace = features("--workspace", "-e", "normal,build,dev")
    drifted = []
    for package in UNIFIED:
        alone = features("-p", package, "-e", "normal,build")
        for crate, wanted in sorted(alone.items()):
            missing = workspace.get(crate, wanted) - wanted
            extra = wanted - workspace.get(crate, wanted)
            if missing or extra:
                drifted.append(
                    f"{package}: {crate}: the workspace also enables {sorted(missing)}"
                    + (f", the package alone also {sorted(extra)}" if extra else "")
                )
    if drifted:
        print("Built on its own, a package would compile these crates a second time:")
        print("\n".join(f"  {line}" for line in drifted))
        print("Turn the same features on in the package's Cargo.toml (see its comment).")
        return 1
    print(f"feature sets match the workspace's: {', '.join(UNIFIED)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
