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
         include/rpsync/protocol/xml.h include/rpsync/strophe.h bin/rpsync-strophe-client; do
  [ -e "$p/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done
lib=$(find "$p" -name 'librpsync-client.so.1' | head -n 1)
[ -n "$lib" ] || { echo "FAIL: librpsync-client.so.1 not installed"; exit 1; }
for f in pkgconfig/rpsync-client.pc cmake/rpsyncClient/rpsyncClientConfig.cmake; do
  [ -e "$(dirname "$lib")/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done
slib=$(find "$p" -name 'librpsync-strophe.so.0' | head -n 1)
[ -n "$slib" ] || { echo "FAIL: librpsync-strophe.so.0 not installed"; exit 1; }
[ -e "$(dirname "$slib")/pkgconfig/rpsync-strophe.pc" ] || { echo "FAIL: rpsync-strophe.pc not installed"; exit 1; }
echo "ok: binaries, libraries, headers, gate module, unit, config, man page, .pc, CMake package"
# Both binaries start from the prefix alone (rpsync-client through its RPATH).
env -u LD_LIBRARY_PATH "$p/bin/rpsync-component" --help | grep -q '^Usage: rpsync-component' \
  || { echo "FAIL: installed rpsync-component --help"; exit 1; }
env -u LD_LIBRARY_PATH "$p/bin/rpsync-client" 2>&1 | grep -q '^usage: rpsync-client' \
  || { echo "FAIL: installed rpsync-client does not start"; exit 1; }
env -u LD_LIBRARY_PATH "$p/bin/rpsync-strophe-client" 2>&1 | grep -q '^usage: rpsync-strophe-client' \
  || { echo "FAIL: installed rpsync-strophe-client does not start"; exit 1; }
echo "ok: installed rpsync-component, rpsync-client, rpsync-strophe-client run without LD_LIBRARY_PATH"
grep -q "^ExecStart=$p/bin/rpsync-component --config " "$p/lib/systemd/system/rpsync-component.service" \
  || echo "note: the unit names the configure-time prefix (install --prefix differs)"
sh "$(dirname "$0")/consumer_test.sh" "$p" "$src/client_ext/README.md"
PKG_CONFIG_PATH="$(dirname "$slib")/pkgconfig" \
  sh "$src/tests/client_strophe/readme_snippet_test.sh" "$src/client_strophe/README.md" --pkg-config
