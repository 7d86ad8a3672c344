#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs rpsync_client from the build tree into a temp prefix, then builds and runs a
# consumer through the CMake package (find_package(rpsyncClient)) and through pkg-config.
# usage: install_consumer_test.sh BUILD_DIR SOURCE_DIR
set -eu
build="$1"; src="$2"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cmake --install "$build/client_ext" --prefix "$tmp/prefix" >/dev/null
cmake -S "$src" -B "$tmp/cmake-consumer" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/cmake-consumer" >/dev/null
LD_LIBRARY_PATH="$tmp/prefix/lib" "$tmp/cmake-consumer/consumer" | grep -q "phase=0"
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig"
# shellcheck disable=SC2046
c++ "$src/main.cpp" $(pkg-config --cflags --libs rpsync-client) -o "$tmp/pc-consumer"
LD_LIBRARY_PATH="$tmp/prefix/lib" "$tmp/pc-consumer" | grep -q "phase=0"
echo "installed package and pkg-config file both work"
