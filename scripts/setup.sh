#!/usr/bin/env bash
# Installs the Debian packages lsm4kv builds with (as root, or through sudo),
# and any more named as arguments (scripts/fuzz.sh adds clang).
set -euo pipefail
pkgs=(meson ninja-build pkg-config g++ liburing-dev libxxhash-dev liblz4-dev catch2 libcli11-dev gnuplot-nox python3
      python3-dev pybind11-dev python3-pybind11 python3-numpy python3-pytest "$@")
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
