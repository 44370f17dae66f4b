#!/usr/bin/env bash
# Sets up and runs a local coordha HA cluster on Debian 12:
#   1. installs the Debian packages it needs (scripts/install-deps.sh),
#   2. builds coordha (build/, reused between runs),
#   3. runs `coordha up`: a local etcd, two replicas of each coordinator, a live status table.
# Ctrl-C stops everything. Arguments go to `coordha up` (e.g. --dir /tmp/coordha).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
echo "building coordha (log: build.log) ..."
if ! { cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
       cmake --build build -j"$(nproc)" --target coordha; } >build.log 2>&1; then
  grep -E "error" build.log | head -20 || true
  echo "build failed; full log: build.log" >&2
  exit 1
fi
exec build/src/cli/coordha up "$@"
