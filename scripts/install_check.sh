#!/usr/bin/env bash
# Installs a built tree (meson install) into a scratch root and builds
# test/install/consumer.cc against it with pkg-config alone (no -I or -L of
# the source or build tree), then runs it. Usage: install_check.sh BUILD_DIR.
# Checks that the installed headers are the public ones and are enough.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
meson install -C "$build" --destdir "$root" --quiet >/dev/null
pc=$(find "$root" -name lsm4kv.pc | head -n 1)
[ -n "$pc" ] || { echo "install_check: no lsm4kv.pc installed"; exit 1; }
echo "install_check: installed headers:"
(cd "$root" && find . -name '*.h' | sort | sed 's/^/  /')
# The .pc names the configured prefix: point it at the scratch root.
prefix=$(PKG_CONFIG_PATH="$(dirname "$pc")" pkg-config --variable=prefix lsm4kv)
flags=$(PKG_CONFIG_PATH="$(dirname "$pc")" pkg-config --define-variable=prefix="$root$prefix" \
        --cflags --libs --static lsm4kv)
g++ -std=c++20 -Wall -Wextra -Werror test/install/consumer.cc -o "$root/consumer" $flags
"$root/consumer" "$root/store"
