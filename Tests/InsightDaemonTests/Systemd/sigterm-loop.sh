#!/usr/bin/env bash
# Soak: SIGTERM while 8 clients hammer the socket and a burst is ingesting, RUNS times (default 100).
#   Tests/InsightDaemonTests/Systemd/sigterm-loop.sh [RUNS]
# Prints how many runs exited 0 and the stop times; the normal test suite runs the same test 3 times.
set -euo pipefail
cd "$(dirname "$0")/../../.."
swift build --build-tests >/dev/null
INSIGHTD_SOAK=1 INSIGHTD_SOAK_RUNS=${1:-100} swift test --skip-build --filter SigtermUnderLoadTests 2>&1 | grep -E "SIGTERM under load|passed|failed|error|Issue|recorded" | head -50
