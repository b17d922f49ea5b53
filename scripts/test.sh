#!/usr/bin/env bash
# Installs what is missing, builds and runs the whole test suite:
#   1. release build: unit tests, benchmarks and examples built, the example run
#   2. ASan + UBSan build: every test
#   3. TSan build: the tests that use threads
#   4. the Debian packages (CPack): unpacked into a scratch root, the tool run from there, the
#      find_package consumer (tests/install) built against it, both linted by lintian
#   5. fuzz: the libFuzzer targets (clang-14) on their corpus, 12 s each (scripts/fuzz.sh)
#   6. clang-format (version 14) check
# SLUICE_TEST_STAGES="release asan tsan package fuzz format" narrows it. Builds go through
# ccache: CCACHE_BASEDIR is the checkout, so that a fresh clone elsewhere hits the cache.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

stages=${SLUICE_TEST_STAGES:-release asan tsan package fuzz format}
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
if has package; then
  step "package: the Debian packages, unpacked, run, built against, linted"
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  cmake --preset release >/dev/null
  cmake --build --preset release -j "$jobs" --target sluice sluice_http sluice_redis \
    sluice_testing sluice_cli sluice_package_files
  (cd build/release && rm -f ./*.deb && cpack -G DEB >/dev/null)
  for deb in build/release/*.deb; do
    dpkg-deb --info "$deb" | grep -E '^ (Package|Version|Depends):'
    dpkg -x "$deb" "$root"
  done
  # The tool from the scratch root, its manual page and completions where Debian looks.
  [[ $("$root/usr/bin/sluice" run -k echo {1}{2} ::: a b ::: 1) == $'a1\nb1' ]]
  "$root/usr/bin/sluice" --version
  zcat "$root/usr/share/man/man1/sluice.1.gz" | mandoc -Tlint -Wwarning
  test -s "$root/usr/share/bash-completion/completions/sluice"
  test -s "$root/usr/share/zsh/vendor-completions/_sluice"
  # find_package(sluice) from a consumer project, against the unpacked libsluice-dev.
  cmake -S tests/install -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$root/usr" >/dev/null
  cmake --build "$root/build"
  "$root/build/consumer"
  # (lintian's informational tags are explained in README "Packages")
  if ! lint=$(lintian --fail-on error,warning build/release/*.deb 2>&1); then
    echo "$lint" >&2
    exit 1
  fi
  echo "package: ok, lintian clean"
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
