#!/usr/bin/env bash
# Installs what is missing, builds and runs the whole test suite:
#   1. release build: unit tests, benchmarks and examples built, the example run
#   2. ASan + UBSan build: every test
#   3. TSan build: the tests that use threads
#   4. the installed package, consumed by tests/install through find_package
#   5. fuzz: the libFuzzer targets (clang-14) on their corpus, 12 s each (scripts/fuzz.sh)
#   6. clang-format (version 14) check
# SLUICE_TEST_STAGES="release asan tsan install fuzz format" narrows it. Builds go through
# ccache: CCACHE_BASEDIR is the checkout, so that a fresh clone elsewhere hits the cache.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

stages=${SLUICE_TEST_STAGES:-release asan tsan install fuzz format}
export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1
# (precompiled headers and __DATE__-free sources: what ccache needs to reuse them)
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
jobs=$(nproc)
step() { printf '\n=== %s\n' "$*"; }
has() { [[ " $stages " == *" $1 "* ]]; }

if has release; then
  step "release: build and test"
  cmake --preset release >/dev/null
  cmake --build --preset release -j "$jobs"
  ctest --preset release -j "$jobs"
  build/release/examples/simulated_api 2000 50 2000
  examples/cli/demo.sh  # the README's main job
fi
if has asan; then
  step "asan+ubsan: build and test"
  cmake --preset asan >/dev/null
  cmake --build --preset asan -j "$jobs"
  ctest --preset asan -j "$jobs"
fi
if has tsan; then
  step "tsan: build and test the thread-using tests"
  cmake --preset tsan >/dev/null
  cmake --build --preset tsan -j "$jobs" --target sluice_thread_tests
  ctest --preset tsan -j "$jobs"
fi
if has install; then
  step "install: find_package(sluice) from a consumer project"
  prefix=$(mktemp -d)
  trap 'rm -rf "$prefix"' EXIT
  cmake --preset release >/dev/null
  cmake --build --preset release -j "$jobs" --target sluice sluice_http sluice_redis sluice_testing
  cmake --install build/release --prefix "$prefix" >/dev/null
  cmake -S tests/install -B "$prefix/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
  cmake --build "$prefix/build"
  "$prefix/build/consumer"
fi
if has fuzz; then
  step "fuzz: libFuzzer targets on their corpus"
  FUZZ_SECONDS=${FUZZ_SECONDS:-12} scripts/fuzz.sh
fi
if has format; then
  step "clang-format-14 check"
  git ls-files '*.hpp' '*.cpp' | xargs clang-format-14 --dry-run --Werror
  echo "format: ok"
fi
step "all stages passed: $stages"
