#!/usr/bin/env bash
# Runs the tap suites once per proxy and ends with one line: "N passed, N failed" (all proxies together).
#   host           every suite, on nodevoy-host (the strict test host; ASan builds run here)
#   envoy@<ver>    the suites about the module (runtime.*, examples, fuzz replay, envoy.*, conformance),
#                  on each real Envoy that scripts/envoy.mjs installed
# NODEVOY_PROXIES (e.g. "host" or "envoy@1.40") picks the passes; arguments pick the files of every pass;
# NODEVOY_LABEL names the pass in the summary instead of the proxy.
set -uo pipefail
cd "$(dirname "$0")/.."
export NODEVOY_BUILD="${NODEVOY_BUILD:-build}"

proxies=${NODEVOY_PROXIES:-}
if [ -z "$proxies" ]; then
  proxies=host
  for v in $(node -e 'import("./scripts/envoy.mjs").then(m => console.log(m.PINNED.join(" ")))'); do
    if node scripts/envoy.mjs path "$v" >/dev/null 2>&1; then
      proxies="$proxies envoy@$v"
    else
      printf '\n!!! WARNING: Envoy %s is not installed: its suites are NOT run; only the test host covers them. !!!\n\n' "$v" >&2
    fi
  done
fi

# Which files a pass runs: the host runs everything; Envoy runs what is about the module.
files_for() {
  if [ $# -gt 1 ]; then shift; printf '%s\n' "$@"; return; fi
  if [ "$1" = host ]; then ls test/*.test.mjs; return; fi
  ls test/runtime.*.test.mjs test/examples.test.mjs test/fuzz.replay.test.mjs test/envoy.*.test.mjs test/conformance.*.test.mjs 2>/dev/null
}

# A file may run 10 min (cli.addons compiles better-sqlite3: 3.5-5 min on a busy 2-core machine).
# Counts the top-level subtests of each file (4-space indent in tap's TAP output); a file that failed
# without any failing subtest (crash, syntax error, timeout) counts as one failure.
# failures() names them, "file > subtest", so the last lines of a CI log say what failed.
count() {
  awk '
    /^# Subtest: /            { sub_fail = 0 }
    /^    ok [0-9]+/          { p++ }
    /^    not ok [0-9]+/      { f++; sub_fail++ }
    /^not ok [0-9]+/          { if (sub_fail == 0) f++ }
    END                       { print p + 0, f + 0 }' "$1"
}

failures() {
  awk '
    /^# Subtest: /            { file = substr($0, 12); sub_fail = 0 }
    /^    not ok [0-9]+/      { name = $0; sub(/^    not ok [0-9]+ - /, "", name); sub(/ # time=.*$/, "", name)
                                print "  FAILED " file " > " name; sub_fail++ }
    /^not ok [0-9]+/          { if (sub_fail == 0) print "  FAILED " file }' "$1"
}

total_p=0; total_f=0; status=0; summary=()
for proxy in $proxies; do
  out=$(mktemp)
  mapfile -t files < <(files_for "$proxy" "$@")
  printf '\n=== suites on %s (%d files) ===\n' "$proxy" "${#files[@]}"
  NODEVOY_PROXY=$proxy npx tap --reporter=tap --disable-coverage --jobs=1 --timeout=600 "${files[@]}" 2>&1 | tee "$out"
  s=${PIPESTATUS[0]}
  read -r p f < <(count "$out")
  summary+=("${NODEVOY_LABEL:-$proxy}: $p passed, $f failed")
  while IFS= read -r line; do summary+=("$line"); done < <(failures "$out")
  rm -f "$out"
  total_p=$((total_p + p)); total_f=$((total_f + f))
  if [ "$s" != 0 ] || [ "$f" != 0 ]; then status=1; fi
done
printf '\n'
for line in "${summary[@]}"; do echo "$line"; done
echo "$total_p passed, $total_f failed"
exit $status
