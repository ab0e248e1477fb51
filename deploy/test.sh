#!/usr/bin/env bash
# Runs the test suite: installs missing Debian packages, builds, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
# The tests start throwaway PostgreSQL servers for the shared store, so they need the server packages too;
# the system-manager test builds the Debian package (dpkg-dev) and boots it in a container (systemd-container,
# debootstrap).
EXTRA_PACKAGES="postgresql dpkg-dev binutils systemd-container debootstrap ${EXTRA_PACKAGES:-}" deploy/dev-deps.sh
# The semantic tests need the embedding model: fetched once, then found (hash-checked) in the user data folder.
if [[ -n ${INSIGHTD_MODEL_DIR:-} ]]; then deploy/fetch-model.sh --dir "$INSIGHTD_MODEL_DIR" >/dev/null; else deploy/fetch-model.sh >/dev/null; fi
swift build --build-tests
deploy/verify-units.sh
# The Debian package for the system-manager test: a release build (the longest step on a fresh clone; later
# runs rebuild only what changed), packed with gzip rather than xz to save minutes. Only where that test can
# run: it boots a container, which needs root.
if [[ -z ${INSIGHTD_DEB:-} && $(id -u) == 0 ]]; then
    INSIGHTD_DEB=$(deploy/build-deb.sh --out .build/deb --fast | tail -1)
    export INSIGHTD_DEB
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
swift test --skip-build "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One plain summary line for tools that read the last lines.
passed=$(grep -oE 'Test run with [0-9]+ tests? .*passed' "$log" | grep -oE '[0-9]+' | head -1 || true)
failed=$(grep -cE '^✘ Test .* failed' "$log" || true)
echo "tests: ${passed:-0} passed, ${failed:-0} failed"
exit "$status"
