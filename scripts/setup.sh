#!/usr/bin/env bash
# Installs the Debian 12 packages edgefarm builds with, only those that are missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libzmq3-dev cppzmq-dev libprotobuf-dev protobuf-compiler
  libyaml-cpp-dev libgit2-dev libsqlite3-dev libspdlog-dev libfmt-dev
  libboost-dev libboost-filesystem-dev nlohmann-json3-dev libcpp-httplib-dev
  libssl-dev libsodium-dev libjemalloc-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # the NEON kernel test: cross-compiled for AArch64, run under qemu (scripts/cross-arm64-test.sh)
  g++-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
