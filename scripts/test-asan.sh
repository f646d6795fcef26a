#!/usr/bin/env bash
# The suites against the ASan+UBSan builds: every host suite on the sanitized module and host, then the
# test kit's own suites on its sanitized addon (Node does not carry ASan's runtime: it is preloaded).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh --asan || exit 1
export ASAN_OPTIONS=detect_leaks=0
NODEVOY_BUILD=build-asan NODEVOY_PROXIES=host bash scripts/test.sh
host=$?
LD_PRELOAD=$(gcc -print-file-name=libasan.so) NODEVOY_KIT_ADDON="$PWD/build-asan/kit/build/Release/nodevoy_kit.node" \
  NODEVOY_BUILD=build-asan NODEVOY_PROXIES=host NODEVOY_LABEL="kit (asan)" bash scripts/test.sh test/testkit.*.test.mjs
kit=$?
[ "$host" = 0 ] && [ "$kit" = 0 ]
