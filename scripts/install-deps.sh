#!/usr/bin/env bash
# Installs what sluice needs to build, test and benchmark, from Debian 12 packages only.
# Idempotent and quiet when everything is already present.
#   scripts/install-deps.sh            build + test dependencies
#   scripts/install-deps.sh --bench    also what the side-by-side benchmarks need
set -euo pipefail

pkgs=(
  g++ cmake ninja-build        # toolchain and build
  ccache                       # rebuilds reuse objects (CMake uses it when present)
  clang-14 libclang-rt-14-dev  # the libFuzzer targets (scripts/fuzz.sh)
  libboost1.81-dev             # Boost.Asio (coroutines, timers, cancellation), Boost.Process v2
  libboost-filesystem1.81-dev  # Boost.Filesystem, which Boost.Process v2 links in Boost 1.81
  libboost-json1.81-dev        # Boost.JSON: JSON Lines rows (parse, serialize)
  libboost-url1.81-dev         # Boost.URL: parsing and resolving the HTTP client's URLs
  libssl-dev                   # OpenSSL: TLS for the HTTP client (verified against the system store)
  ca-certificates              # the system store itself
  libcli11-dev                 # CLI11: the command line of the sluice tool
  libfmt-dev                   # fmt: the CLI's messages, progress line and job log
  libjemalloc-dev              # jemalloc: the sluice tool's allocator (docs/benchmarks.md)
  libxxhash-dev                # xxHash (XXH3-128, header-only): fingerprints of done tasks on resume
  python3                      # the tests' strict JSON judge (json.loads of results rows)
  libgtest-dev libgmock-dev    # tests
  clang-format-14              # format check
  time                         # /usr/bin/time for peak RSS in benchmarks and tests
  nginx-light curl             # the real HTTP server of the HTTP tests (scripts/nginx.sh)
  redis-server                 # the real Redis of the shared-limit and queue tests (scripts/redis.sh)
  libhiredis-dev               # hiredis: the Redis protocol (RESP) for sluice::redis
  openssl                      # the TLS test of the Redis client makes its own CA with it
  pkg-config                   # finds hiredis
  parallel                     # GNU parallel: the CLI's parity peer (tests/cli/parallel_parity_test.cpp)
  mandoc bsdextrautils         # the manual page's lint and rendering (mandoc, col) in its test
  bash-completion zsh          # the completions' test loads them as the shells would
  dpkg-dev file lintian        # the Debian packages: CPack's shlibdeps, and their lint
)
if [[ ${1:-} == --bench ]]; then
  pkgs+=(wrk python3-aiohttp)  # the HTTP benchmark's ceiling and its Python peer
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

sudo=""
[[ $(id -u) == 0 ]] || sudo=sudo
echo "install-deps: installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
