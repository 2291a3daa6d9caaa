#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (as root), builds mobix and runs the lab:
# every role on loopback with the embedded store, described by LAB_DIR/lab.json.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/check-deps.sh lab
cmake --preset release >/dev/null
cmake --build --preset release
LAB_DIR=${LAB_DIR:-$PWD/lab}
exec build/release/apps/mobix/mobix lab --dir "$LAB_DIR"
