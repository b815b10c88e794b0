#!/usr/bin/env bash
# Cross-compiles the engine's kernels and tests/engine/kernels_neon_test.cc for AArch64 and runs
# the test under qemu-aarch64 twice: as a Cortex-A53 (ARMv8.0, no dotprod: the plain NEON
# variant) and as `max` (dotprod: both variants, which must agree bit for bit). On an AArch64
# host it builds natively and runs once on the real CPU.
#
#   scripts/cross-arm64-test.sh [BUILD_DIR]      (default: build-cross-arm64)
#
# Exit 0: passed; 1: a build or a check failed; 77: the toolchain or qemu is missing (CTest
# reports the test as skipped; scripts/setup.sh installs g++-aarch64-linux-gnu and qemu-user).
# The objects are rebuilt only when a source, header or flag changed (a hash of all of them).
# qemu's speed says nothing about ARM hardware: this checks correctness only.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$root/build-cross-arm64}
skip() {
  echo "SKIP: $*"
  exit 77
}

if [[ $(uname -m) == aarch64 ]]; then
  cxx=${CXX:-g++}
  runs=("")
else
  cxx=aarch64-linux-gnu-g++
  sysroot=/usr/aarch64-linux-gnu
  command -v "$cxx" >/dev/null || skip "$cxx not found (apt-get install g++-aarch64-linux-gnu)"
  command -v qemu-aarch64 >/dev/null || skip "qemu-aarch64 not found (apt-get install qemu-user)"
  [[ -d $sysroot/lib ]] || skip "$sysroot/lib missing (apt-get install libc6-dev-arm64-cross)"
  runs=("qemu-aarch64 -L $sysroot -cpu cortex-a53 @--expect-dotprod=0"
        "qemu-aarch64 -L $sysroot -cpu max @--expect-dotprod=1")
fi

# The kernel sources with the per-file flags of engine/kernels.cmake's AArch64 branch.
flags=(-std=c++20 -O2 -Wall -Wextra -Wpedantic -Wno-missing-field-initializers
       -I"$root/engine/include" -I"$root/engine/src" -I"$root/tests/engine")
declare -A extra=(
  [engine/src/kernels_neon.cc]="-O3"
  [engine/src/kernels_neon_dotprod.cc]="-O3 -march=armv8.2-a+dotprod"
)
sources=(engine/src/kernels_scalar.cc engine/src/kernels_neon.cc
         engine/src/kernels_neon_dotprod.cc engine/src/kernels_nosimd.cc engine/src/matmul.cc
         engine/src/cpu_features.cc engine/src/thread_pool.cc tests/engine/kernels_neon_test.cc)

mkdir -p "$out"
cd "$root"
stamp=$( { "$cxx" --version | head -1; echo "${flags[*]}"; declare -p extra;
           cat "${sources[@]}" engine/src/*.h engine/include/edgefarm/engine/*.h \
               tests/engine/kernels_test_util.h; } | sha256sum | cut -d' ' -f1)
exe=$out/kernels_neon_test
if [[ ! -x $exe || $(cat "$out/stamp" 2>/dev/null) != "$stamp" ]]; then
  rm -f "$out/stamp"
  objs=()
  pids=()
  for src in "${sources[@]}"; do
    obj=$out/$(basename "${src%.cc}").o
    objs+=("$obj")
    # shellcheck disable=SC2086  # extra flags are a word list on purpose
    "$cxx" "${flags[@]}" ${extra[$src]:-} -c "$src" -o "$obj" &
    pids+=($!)
    if ((${#pids[@]} == 2)); then
      wait "${pids[0]}"
      pids=("${pids[1]}")
    fi
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
  "$cxx" "${objs[@]}" -pthread -o "$exe"
  echo "$stamp" >"$out/stamp"
fi

status=0
for run in "${runs[@]}"; do
  runner=${run%@*}
  args=${run#*@}
  echo "== ${runner:-native} $args"
  # shellcheck disable=SC2086
  $runner "$exe" $args || status=1
done
exit $status
