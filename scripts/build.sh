#!/usr/bin/env bash
# Generates the binding, compiles the TypeScript, runs CMake and builds the test kit's addon. --asan builds
# the module and host into build-asan/.
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
# The test kit's addon (native/kit: the module's C++ against the kit's fake Envoy), built with node-gyp
# for the tooling Node that runs the tests; --asan: its sanitized build in build-asan/kit.
node scripts/build-kit.mjs ${1:+"$1"} >/dev/null
