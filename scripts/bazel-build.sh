#!/usr/bin/env bash
# Builds libnodevoy.so with Bazel (offline) and copies it to build-bazel/libnodevoy.so.
# Installs Debian's bazel-bootstrap (Bazel 4.2) if missing. Assumes scripts/setup.sh has run (libnode 18 in
# /opt/nodevoy/libnode18, node_modules/). See bazel/README.md.
# Usage: scripts/bazel-build.sh [--keep-server] [extra bazel build flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
say() { printf '[bazel-build] %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

keep_server=0
if [ "${1:-}" = "--keep-server" ]; then keep_server=1; shift; fi

if ! dpkg-query -W -f='${Status}' bazel-bootstrap 2>/dev/null | grep -q 'install ok installed'; then
  say "installing Debian package: bazel-bootstrap"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends bazel-bootstrap >/dev/null
fi
for need in /opt/nodevoy/libnode18/.complete node_modules/node-addon-api/napi.h; do
  [ -e "$need" ] || { say "missing $need: run scripts/setup.sh first"; exit 1; }
done

# Bazel's output tree stays inside the checkout (build-bazel/ is git- and bazel-ignored), not in ~/.cache.
out_root="${NODEVOY_BAZEL_OUTPUT_ROOT:-$repo/build-bazel/cache}"
mkdir -p "$out_root"
bazel_cmd=(bazel --output_user_root="$out_root")
# .bazelrc: --compilation_mode=opt, --jobs=2, --experimental_repository_disable_download, sandboxed actions.
status=0
"${bazel_cmd[@]}" build //:libnodevoy.so "$@" || status=$?
bin=
if [ "$status" = 0 ]; then bin=$("${bazel_cmd[@]}" info "$@" bazel-bin) || status=$?; fi
if [ "$keep_server" = 0 ]; then "${bazel_cmd[@]}" shutdown >/dev/null 2>&1 || true; fi
[ "$status" = 0 ] || { say "bazel build failed ($status)"; exit "$status"; }

# A copy, not a link into Bazel's output tree: the module finds dist/lib/bootstrap.js at
# <dir of the .so>/../dist/lib/bootstrap.js, i.e. <repo>/dist/lib/bootstrap.js from build-bazel/.
install -m 0755 "$bin/libnodevoy.so" build-bazel/libnodevoy.so.tmp
mv -f build-bazel/libnodevoy.so.tmp build-bazel/libnodevoy.so
say "built $repo/build-bazel/libnodevoy.so (from $bin)"
