#!/bin/sh
# SPDX-License-Identifier: MIT
# Renders the rpsync XEP to HTML without CMake: sh xep_draft/render.sh [OUTPUT]
# (default OUTPUT: rpsync.html in the current directory). Needs xsltproc.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-rpsync.html}
xsltproc --nonet -o "$out" "$here/xep2html.xsl" "$here/rpsync.xml"
echo "wrote $out"
