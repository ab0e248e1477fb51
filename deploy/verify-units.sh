#!/usr/bin/env bash
# Checks the systemd units: `systemd-analyze verify` on each (on a copy whose binaries point at the
# build, so verify can resolve them; the system service together with its socket, which it requires and
# which triggers it) and the system unit's exposure score (fails above the threshold).
#   deploy/verify-units.sh [BUILD_DIR]      (default .build/debug)
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(realpath "${1:-.build/debug}")
threshold=${INSIGHTD_SECURITY_THRESHOLD:-10}
for binary in insightd insightctl; do
    [[ -x $build/$binary ]] || { echo "verify-units: $build/$binary is missing; build first (swift build)" >&2; exit 1; }
done
if ! command -v systemd-analyze >/dev/null; then
    echo "verify-units: systemd-analyze is not installed; skipping the unit checks (apt-get install systemd)" >&2
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/system" "$work/user"
for set in "system deploy/insightd.service deploy/insightd.socket" "user deploy/insightd.user.service"; do
    read -r kind units <<<"$set"
    copies=()
    for unit in $units; do
        copies+=("$work/$kind/$(basename "$unit")")
        sed -e "s|/usr/local/bin/|$build/|g" -e "s|%h/.local/bin/|$build/|g" "$unit" >"${copies[-1]}"
    done
    out=$(systemd-analyze verify --man=no "${copies[@]}" 2>&1) || { echo "$out" >&2; echo "verify-units: $units do not verify" >&2; exit 1; }
    if [[ -n $out ]]; then echo "$out" >&2; echo "verify-units: $units: systemd-analyze verify complained" >&2; exit 1; fi
    echo "verify-units: ${units// / and } verif$( [[ $units == *" "* ]] && echo y || echo ies)"
done
# The socket's settings, which insightctl's access rests on.
for want in "ListenStream=/run/insightd/insightd.sock" "SocketGroup=insightd" "SocketMode=0660"; do
    grep -qx "$want" deploy/insightd.socket || { echo "verify-units: deploy/insightd.socket lacks $want" >&2; exit 1; }
done
score=$(systemd-analyze security --offline=yes --threshold="$threshold" deploy/insightd.service 2>&1) || {
    echo "$score" >&2; echo "verify-units: deploy/insightd.service exposure is above $threshold" >&2; exit 1; }
echo "verify-units: $(echo "$score" | grep -o 'Overall exposure level.*')"
