#!/usr/bin/env bash
# Idempotent setup for the benchmarks (called by `npm run bench`; CI can call it directly):
# wrk, nginx with njs (Debian packages nginx + libnginx-mod-http-js) as the measured outside peer, and
# clang + lld to build the proxy-wasm peer (benchmarks/wasm/header_rewrite.c) that Envoy runs on V8, and
# valgrind, whose callgrind counts Envoy's instructions per request (the repeatable CPU figure).
# The nginx package's service is never started: the benchmark runs its own nginx in the foreground.
set -euo pipefail
say() { printf '[bench setup] %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

PKGS=(wrk nginx libnginx-mod-http-js clang lld valgrind)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  # Keep the packaged nginx service from starting (port 80) while installing, unless a policy exists.
  guard=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    guard=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$guard" >/dev/null
    as_root chmod +x "$guard"
  fi
  trap '[ -n "$guard" ] && as_root rm -f "$guard"' EXIT
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
test -x /usr/sbin/nginx || { say "nginx missing after install"; exit 1; }
ls /usr/lib/nginx/modules/ngx_http_js_module.so >/dev/null || { say "njs module missing after install"; exit 1; }
bash "$(dirname "$0")/build-wasm.sh"
say "ok: $(/usr/sbin/nginx -v 2>&1), $(command -v wrk), $(clang --version | head -1)"
