#!/usr/bin/env bash
# Runs the test suite: installs missing Debian packages, builds, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/dev-deps.sh
swift build --build-tests
swift test --skip-build "$@"
