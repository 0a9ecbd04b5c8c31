#!/usr/bin/env bash
# Install what tortuga needs to build and test, from Debian 12 packages. Idempotent and non-interactive:
# packages already present are not fetched again. Run as root (or with sudo).
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang libclang-rt-14-dev libomp-dev
  liblua5.4-dev lua5.4 lua-filesystem lua-cjson lua-busted
  libtiff-dev libpng-dev libreadline-dev libssl-dev
  libfftw3-dev libopenblas-dev liblapacke-dev libzmq3-dev
  tmux gnuplot-nox chromium python3-jupyter-client python3-nbclient python3-nbformat jupyter-nbconvert
  imagej xvfb xauth
)
if [ "${TG_WITH_PEERS:-0}" = 1 ]; then
  # only for the benchmarks in bench/ (peer tools measured in the same run)
  packages+=(python3-numpy python3-tifffile python3-scipy python3-skimage python3-sklearn)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -q
  $sudo_cmd apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
