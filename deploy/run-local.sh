#!/usr/bin/env bash
# Runs insightd in the foreground on the embedded default: inbox and state folders inside this checkout.
#   deploy/run-local.sh [extra insightd flags]
# Drop .txt or .md files into ./inbox; ask with:  swift run insightctl --socket state/insightd.sock status
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/dev-deps.sh
swift build --product insightd
swift build --product insightctl
mkdir -p inbox state
exec .build/debug/insightd --config config/insightd.toml --inbox inbox --state-dir state --socket state/insightd.sock "$@"
