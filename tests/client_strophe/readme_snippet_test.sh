#!/bin/sh
# SPDX-License-Identifier: MIT
# The first ```c block of client_strophe/README.md, verbatim, compiled as C11 with
# warnings as errors and linked against the library: the README's program builds as
# written. With --pkg-config the flags come from `pkg-config rpsync-strophe` (an installed
# library); otherwise from the build tree.
# usage: readme_snippet_test.sh README (--pkg-config | INCLUDE_DIR LIBRARY_DIR)
set -eu
readme="$1"; shift
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
awk '/^```c$/ {on=1; next} on && /^```$/ {exit} on {print}' "$readme" > "$tmp/snippet.c"
[ -s "$tmp/snippet.c" ] || { echo "FAIL: no \`\`\`c block in $readme"; exit 1; }
if [ "$1" = --pkg-config ]; then
  flags=$(pkg-config --cflags --libs rpsync-strophe) || { echo "FAIL: pkg-config rpsync-strophe"; exit 1; }
else
  flags="-I$1 -L$2 -Wl,-rpath,$2 -lrpsync-strophe $(pkg-config --cflags --libs libstrophe)"
fi
# shellcheck disable=SC2086
cc -std=c11 -Wall -Wextra -Wpedantic -Werror "$tmp/snippet.c" $flags -o "$tmp/snippet" \
  > "$tmp/log" 2>&1 || { echo "FAIL: the README block does not build"; cat "$tmp/log"; exit 1; }
echo "ok: the README's C block compiles as C11 and links"
