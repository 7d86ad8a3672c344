#!/bin/sh
# SPDX-License-Identifier: MIT
# systemd-analyze verify on examples/systemd/rpsync-component.service (the unit the Debian
# package installs), with ExecStart pointed at the built binary, and its security
# exposure (systemd-analyze security --offline) checked against a bound.
# usage: systemd_unit_test.sh UNIT BINARY [MAX_EXPOSURE_TENTHS]   exit 77 = skipped
set -eu
unit="$1"; bin="$2"; max="${3:-40}"
if ! command -v systemd-analyze >/dev/null; then
  echo "SKIP: systemd-analyze is not installed (package systemd)"; exit 77
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
sed "s|/usr/bin/rpsync-component|$bin|" "$unit" > "$tmp/rpsync-component.service"
# --man=no: the man page is checked by the package test, where it is installed.
systemd-analyze verify --man=no "$tmp/rpsync-component.service"
echo "ok: systemd-analyze verify found nothing"
out=$(systemd-analyze security --offline=true --threshold="$max" "$tmp/rpsync-component.service") \
  || { echo "$out"; echo "FAIL: exposure above $max/10"; exit 1; }
echo "$out" | grep 'Overall exposure'
echo "ok: exposure within $max/10"
