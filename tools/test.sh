#!/usr/bin/env bash
# Build tortuga and run every test: the release build under ctest, then the AddressSanitizer + UBSan build.
# Usage: tools/test.sh [--no-sanitize]
# Last, when clang is installed, the TIFF reader's fuzz target replays its seed corpus and fuzzes for
# TG_FUZZ_SECONDS (default 60) as a regression check.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"

if [ "${1:-}" != "--no-sanitize" ]; then
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTG_SANITIZE=ON >/dev/null
  cmake --build build-asan -j"$jobs"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j"$jobs"
fi

if [ "${1:-}" != "--no-sanitize" ] && command -v clang >/dev/null 2>&1; then
  CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DTG_FUZZ=ON >/dev/null
  cmake --build build-fuzz --target fuzz_tiff -j"$jobs"
  mkdir -p build-fuzz/corpus
  if build-fuzz/fuzz/fuzz_tiff -max_total_time="${TG_FUZZ_SECONDS:-60}" -print_final_stats=1 \
       build-fuzz/corpus fuzz/corpus/tiff > build-fuzz/fuzz.log 2>&1; then
    grep -E "stat::number_of_executed_units" build-fuzz/fuzz.log
    echo "fuzz_tiff: no crash"
  else
    tail -40 build-fuzz/fuzz.log
    echo "fuzz_tiff found a crash"
    exit 1
  fi
fi
