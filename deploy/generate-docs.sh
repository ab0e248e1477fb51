#!/usr/bin/env bash
# Writes insightctl's shell completions and the man pages into a folder, generated from the argument parsers:
#   deploy/generate-docs.sh OUT [INSIGHTCTL]
# OUT/bash/insightctl, OUT/zsh/_insightctl, OUT/fish/insightctl.fish, OUT/man1/insightctl.1, and
# OUT/man8/insightd.8 from the insightd beside INSIGHTCTL.
# INSIGHTCTL defaults to .build/release/insightctl, else .build/debug/insightctl.
set -euo pipefail
out=${1:?usage: deploy/generate-docs.sh OUT [INSIGHTCTL]}
cd "$(dirname "$0")/.."
ctl=${2:-}
if [[ -z "$ctl" ]]; then
    for candidate in .build/release/insightctl .build/debug/insightctl; do
        if [[ -x "$candidate" ]]; then ctl=$candidate; break; fi
    done
fi
if [[ -z "$ctl" || ! -x "$ctl" ]]; then
    echo "generate-docs: no built insightctl; run 'swift build -c release --product insightctl' first or pass its path" >&2
    exit 1
fi
mkdir -p "$out/bash" "$out/zsh" "$out/fish" "$out/man1" "$out/man8"
"$ctl" --generate-completion-script bash > "$out/bash/insightctl"
"$ctl" --generate-completion-script zsh > "$out/zsh/_insightctl"
"$ctl" --generate-completion-script fish > "$out/fish/insightctl.fish"
"$ctl" generate-manual > "$out/man1/insightctl.1"
daemon=$(dirname "$ctl")/insightd
if [[ ! -x $daemon ]]; then
    echo "generate-docs: no insightd beside $ctl" >&2
    exit 1
fi
"$daemon" generate-manual > "$out/man8/insightd.8"
echo "wrote completions and the man pages to $out"
