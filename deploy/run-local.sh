#!/usr/bin/env bash
# Runs insightd in the foreground on the embedded default: inbox and state folders inside this checkout.
#   deploy/run-local.sh [extra insightd flags]
# Drop .txt or .md files into ./inbox; ask with:  .build/release/insightctl --socket state/insightd.sock status
# A release build: the first one takes about 10 minutes on two cores, later ones only rebuild what changed.
# (The tests use the debug build; INSIGHTD_BUILD=debug runs that one here instead.)
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/dev-deps.sh
configuration=${INSIGHTD_BUILD:-release}
# A release is built as install.sh and build-deb.sh build it (one shared build); the debug build uses the
# toolchain's runtime.
source deploy/release-flags.sh
flags=(-c debug)
[[ $configuration == release ]] && flags=("${release_flags[@]}")
swift build "${flags[@]}" --product insightd
swift build "${flags[@]}" --product insightctl
mkdir -p inbox state
exec ".build/$configuration/insightd" --config config/insightd.toml --inbox inbox --state-dir state --socket state/insightd.sock "$@"
