#!/usr/bin/env bash
# Runs the tap suites against build/ (or $NODEVOY_BUILD) and ends with one line: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
export NODEVOY_BUILD="${NODEVOY_BUILD:-build}"
out=$(mktemp)
npx tap --reporter=tap --disable-coverage --jobs=1 --timeout=300 "${@:-test/*.test.mjs}" 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
# Count the top-level subtests of each file (4-space indent in tap's TAP output); a file that failed
# without any failing subtest (crash, syntax error, timeout) counts as one failure.
read -r passed failed < <(awk '
  /^# Subtest: /            { sub_fail = 0 }
  /^    ok [0-9]+/          { p++ }
  /^    not ok [0-9]+/      { f++; sub_fail++ }
  /^not ok [0-9]+/          { if (sub_fail == 0) f++ }
  END                       { print p + 0, f + 0 }' "$out")
rm -f "$out"
echo "$passed passed, $failed failed"
[ "$status" = 0 ] && [ "$failed" = 0 ]
