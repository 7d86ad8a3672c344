#!/bin/sh
# SPDX-License-Identifier: MIT
# cmake --install of the build tree into a temporary prefix: the files land where the
# operator and consumers expect them, the installed binaries run without LD_LIBRARY_PATH,
# then consumer_test.sh builds against the prefix.
# usage: install_test.sh BUILD_DIR SOURCE_DIR
set -eu
build="$1"; src="$2"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
p="$tmp/prefix"
cmake --install "$build" --prefix "$p" > "$tmp/install.log" || { cat "$tmp/install.log"; exit 1; }
for f in bin/rpsync-component bin/rpsync-client lib/prosody/modules/mod_rpsync_gate.lua \
         lib/systemd/system/rpsync-component.service etc/rpsync/rpsync.toml \
         share/man/man8/rpsync-component.8 include/rpsync/client_ext/manager.h \
         include/rpsync/protocol/xml.h; do
  [ -e "$p/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done
# The ejabberd module, when this build compiled it: in an app dir <libdir>/rpsync_gate-*/ebin.
if [ -e "$build/ejabberd/mod_rpsync_gate.beam" ]; then
  find "$p" -path '*/rpsync_gate-*/ebin/mod_rpsync_gate.beam' | grep -q . \
    || { echo "FAIL: mod_rpsync_gate.beam not installed in an rpsync_gate-*/ebin app dir"; exit 1; }
  echo "ok: ejabberd module installed"
fi
lib=$(find "$p" -name 'librpsync-client.so.1' | head -n 1)
[ -n "$lib" ] || { echo "FAIL: librpsync-client.so.1 not installed"; exit 1; }
for f in pkgconfig/rpsync-client.pc cmake/rpsyncClient/rpsyncClientConfig.cmake; do
  [ -e "$(dirname "$lib")/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done
echo "ok: binaries, library, headers, gate module, unit, config, man page, .pc, CMake package"
# Both binaries start from the prefix alone (rpsync-client through its RPATH).
env -u LD_LIBRARY_PATH "$p/bin/rpsync-component" --help | grep -q '^Usage: rpsync-component' \
  || { echo "FAIL: installed rpsync-component --help"; exit 1; }
env -u LD_LIBRARY_PATH "$p/bin/rpsync-client" 2>&1 | grep -q '^usage: rpsync-client' \
  || { echo "FAIL: installed rpsync-client does not start"; exit 1; }
echo "ok: installed rpsync-component and rpsync-client run without LD_LIBRARY_PATH"
grep -q "^ExecStart=$p/bin/rpsync-component --config " "$p/lib/systemd/system/rpsync-component.service" \
  || echo "note: the unit names the configure-time prefix (install --prefix differs)"
sh "$(dirname "$0")/consumer_test.sh" "$p" "$src/client_ext/README.md"
