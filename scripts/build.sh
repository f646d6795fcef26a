#!/usr/bin/env bash
# Generates the binding, compiles the TypeScript and runs CMake. --asan builds into build-asan/.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build; type=Release; extra=()
if [ "${1:-}" = "--asan" ]; then dir=build-asan; type=Debug; extra=(-DNODEVOY_SANITIZE=ON); fi
node scripts/gen-binding.mjs
npx tsc -p tsconfig.json
node examples/build.mjs --if-stale  # the example filters (examples/*/filter.ts)
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="$type" "${extra[@]}" >/dev/null
# Progress lines filtered out; a failed build fails this script (pipefail: cmake's status, not grep's).
cmake --build "$dir" -j2 2>&1 | { grep -vE '^\[ *[0-9]+%\]|^-- ' || true; }
