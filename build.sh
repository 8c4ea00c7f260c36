#!/usr/bin/env bash
# leadscore's one entry point for people and CI.
#
#   ./build.sh example   install what is missing, build, score the example
#   ./build.sh test      install what is missing, build twice (plain and
#                        with ASan+UBSan), run every test suite under both,
#                        the unit suite under valgrind, and the CLI's
#                        threaded feed under TSan (a third build)
#   ./build.sh deps      only install the build dependencies
#
# Debian 12; run as root (or with sudo available) the first time.
set -euo pipefail
cd "$(dirname "$0")"

PKGS=(build-essential meson ninja-build pkg-config libcurl4-openssl-dev
      libjansson-dev libssl-dev libsqlite3-dev libcmocka-dev
      libmicrohttpd-dev zlib1g-dev valgrind curl jq openssl sqlite3 procps)

deps() {
    local missing=()
    for p in "${PKGS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' \
            || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "build.sh: installing ${missing[*]}" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# setup DIR [meson options...]: configure once, reconfigure when options change.
setup() {
    local dir=$1; shift
    if [ -f "$dir/build.ninja" ]; then
        meson configure "$dir" "$@" >/dev/null
    else
        meson setup "$dir" "$@"
    fi
    meson compile -C "$dir"
}

werror=()
[ "${CI:-}" = "true" ] && werror=(-Dwerror=true)

case "${1:-}" in
deps)
    deps
    ;;
example)
    deps
    setup build "${werror[@]}" >/dev/null
    exec ./build/host/cli/leadscore score --format table \
        --model config/models/b2b-saas.json config/events/example.jsonl
    ;;
test)
    deps
    setup build "${werror[@]}"
    meson test -C build --print-errorlogs --num-processes 2
    setup build-san "${werror[@]}" -Db_sanitize=address,undefined -Db_lundef=false
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        meson test -C build-san --print-errorlogs --num-processes 2
    meson test -C build --suite unit --print-errorlogs --num-processes 2 \
        --timeout-multiplier 10 --wrapper 'valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --quiet'
    # The CLI's reader thread under ThreadSanitizer: its own unit test and
    # the CLI suite (--threads 2 against --threads 1).  Without address
    # randomisation: GCC 12's TSan refuses some kernels' mmap layouts.
    setup build-tsan "${werror[@]}" -Db_sanitize=thread -Db_lundef=false
    TSAN_OPTIONS=halt_on_error=1 setarch "$(uname -m)" -R \
        meson test -C build-tsan --print-errorlogs --num-processes 2 cli_feed cli
    ;;
*)
    echo "usage: ./build.sh example|test|deps" >&2
    exit 2
    ;;
esac
