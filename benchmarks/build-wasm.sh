#!/usr/bin/env bash
# Builds the benchmarks' proxy-wasm peer (benchmarks/wasm/header_rewrite.c) into
# benchmarks/wasm/header_rewrite.wasm with clang's wasm32 target and lld; skips when up to date.
set -euo pipefail
cd "$(dirname "$0")/wasm"
src=header_rewrite.c out=header_rewrite.wasm
if [ -f "$out" ] && [ "$out" -nt "$src" ]; then exit 0; fi
clang --target=wasm32 -O2 -nostdlib -Wall -Wextra -Werror -Wl,--no-entry -Wl,--allow-undefined -Wl,--strip-all -o "$out" "$src"
printf '[bench setup] built %s (%s bytes)\n' "benchmarks/wasm/$out" "$(stat -c %s "$out")" >&2
