#!/bin/sh
# The CI and test wrapper scripts themselves (TAP):
#   test_scripts.sh SOURCE_ROOT
# .ci/run must set CI=true on its own, and run_minimal_host.sh must fail
# (never skip) when the host fails.
root=${1:?usage: test_scripts.sh SOURCE_ROOT}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "1..3"

# .ci/run execs ./build.sh test from the tree it lives in: give it a stub.
mkdir -p "$tmp/tree/.ci"
cp "$root/.ci/run" "$tmp/tree/.ci/run"
printf '#!/bin/sh\necho "CI=${CI:-unset} $*"\n' > "$tmp/tree/build.sh"
chmod +x "$tmp/tree/.ci/run" "$tmp/tree/build.sh"
out=$(env -u CI "$tmp/tree/.ci/run" 2>&1)
if [ "$out" = "CI=true test" ]; then
    echo "ok 1 - .ci/run exports CI=true and runs build.sh test"
else
    echo "not ok 1 - .ci/run ran build.sh with: $out"
fi

# A host failing with the old "not implemented yet" message is a failure.
printf '#!/bin/sh\necho "create: not implemented yet" >&2\nexit 3\n' > "$tmp/host"
chmod +x "$tmp/host"
"$root/tests/abi/run_minimal_host.sh" "$tmp/host" p m >/dev/null 2>&1
rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
    echo "ok 2 - run_minimal_host.sh fails a failing host (exit $rc)"
else
    echo "not ok 2 - run_minimal_host.sh exit $rc for a failing host"
fi
printf '#!/bin/sh\necho "x c-1: score 3, tier cold"\n' > "$tmp/host"
if "$root/tests/abi/run_minimal_host.sh" "$tmp/host" p m >/dev/null 2>&1; then
    echo "ok 3 - run_minimal_host.sh passes a host that prints a report"
else
    echo "not ok 3 - run_minimal_host.sh failed a good host"
fi
