#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds consumers of the installed client library with no flags of their own, through the
# CMake package (find_package(rpsyncClient), target rpsync::client) and through pkg-config
# (rpsync-client): the program in consumer/ (then runs it) and the usage block of
# client_ext/README.md (compiled and linked as written).
# usage: consumer_test.sh PREFIX|--system README
#   PREFIX    an install prefix (cmake --install --prefix PREFIX was run)
#   --system  the library installed in the system's directories (the -dev package)
set -eu
where="$1"; readme="$2"
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
if [ "$where" != --system ]; then
  libdir=$(dirname "$(find "$where" -name 'librpsync-client.so' | head -n 1)")
  export CMAKE_PREFIX_PATH="$where" PKG_CONFIG_PATH="$libdir/pkgconfig"
  export LD_LIBRARY_PATH="$libdir"
fi

# The first ```cpp block of the README, verbatim.
awk '/^```cpp$/ {on=1; next} on && /^```$/ {exit} on {print}' "$readme" > "$tmp/readme_snippet.cpp"
[ -s "$tmp/readme_snippet.cpp" ] || { echo "FAIL: no \`\`\`cpp block in $readme"; exit 1; }

fail() { echo "FAIL: $*"; [ ! -f "$tmp/log" ] || cat "$tmp/log"; exit 1; }
cmake -S "$here/consumer" -B "$tmp/cmake" -DREADME_SNIPPET="$tmp/readme_snippet.cpp" \
  > "$tmp/log" 2>&1 || fail "find_package(rpsyncClient) configure"
cmake --build "$tmp/cmake" > "$tmp/log" 2>&1 || fail "build with rpsync::client"
"$tmp/cmake/consumer" | grep -q "phase=0" || fail "CMake-built consumer did not run"
echo "ok: find_package(rpsyncClient) + rpsync::client: consumer built and ran, README block built"

cflags=$(pkg-config --cflags rpsync-client) || fail "pkg-config rpsync-client"
case "$cflags" in *include/rpsync*) fail "pkg-config puts include/rpsync on the path: $cflags";; esac
# shellcheck disable=SC2046
c++ "$here/consumer/main.cpp" $(pkg-config --cflags --libs rpsync-client) -o "$tmp/pc-consumer" \
  > "$tmp/log" 2>&1 || fail "pkg-config build of consumer/main.cpp"
"$tmp/pc-consumer" | grep -q "phase=0" || fail "pkg-config-built consumer did not run"
# shellcheck disable=SC2046
c++ "$tmp/readme_snippet.cpp" $(pkg-config --cflags --libs rpsync-client) -o "$tmp/pc-readme" \
  > "$tmp/log" 2>&1 || fail "pkg-config build of the README block"
echo "ok: pkg-config rpsync-client: consumer built and ran, README block built"

# Generic header names stay off the include path.
printf '#include <protocol/xml.h>\nint main() {}\n' > "$tmp/generic.cpp"
# shellcheck disable=SC2046
if c++ -fsyntax-only "$tmp/generic.cpp" $(pkg-config --cflags rpsync-client) 2>/dev/null; then
  fail "<protocol/xml.h> resolves with the pkg-config flags"
fi
echo "ok: <protocol/xml.h> is not on the include path; <rpsync/protocol/xml.h> is"
