#!/usr/bin/env bash
# Runs the tap suites against build/ (or $NODEVOY_BUILD) and ends with one line: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
export NODEVOY_BUILD="${NODEVOY_BUILD:-build}"
out=$(mktemp)
npx tap --reporter=tap --disable-coverage --jobs=1 --timeout=300 "${@:-test/*.test.mjs}" 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
passed=$(grep -cE '^ {4}ok [0-9]+' "$out")
failed=$(grep -cE '^ {4}not ok [0-9]+' "$out")
rm -f "$out"
echo "$passed passed, $failed failed"
[ "$status" = 0 ] && [ "$failed" = 0 ]
