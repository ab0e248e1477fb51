#!/usr/bin/env bash
# Writes deploy/insightd.order: the functions of insightd that run while it starts, idles, answers status and
# ingests a few files, as valgrind's callgrind sees them. release-flags.sh hands the list to the linker, which
# puts those functions side by side at the start of the code. A fresh daemon then touches a few MiB of its code
# instead of pages all over the 28 MB, and the kernel maps 64 KiB around every page it touches, so this is what
# keeps its resident memory small. Run it again after large changes; a name that is gone is skipped by the linker.
#   deploy/make-order.sh            (INSIGHTD_BUILD_PATH: the build folder, .build by default)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || EXTRA_PACKAGES="valgrind ${EXTRA_PACKAGES:-}" deploy/dev-deps.sh
source deploy/release-flags.sh
build=${INSIGHTD_BUILD_PATH:-.build}
swift build "${release_flags[@]}" --build-path "$build" --product insightd
work=$(mktemp -d)
pid=
trap '[[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null; rm -rf "$work"' EXIT
# valgrind cannot read this toolchain's DWARF; the symbol table is all it needs.
objcopy --strip-debug "$build/release/insightd" "$work/insightd"
mkdir "$work/inbox" "$work/state"
valgrind --tool=callgrind --demangle=no --callgrind-out-file="$work/profile" \
    "$work/insightd" run --inbox "$work/inbox" --state-dir "$work/state" --socket "$work/insightd.sock" >"$work/log" 2>&1 &
pid=$!
status() { curl -sf --max-time 30 --unix-socket "$work/insightd.sock" http://insightd/v1/status; }
for _ in $(seq 600); do status >/dev/null 2>&1 && break; sleep 0.5; done
status >/dev/null || { cat "$work/log"; echo "make-order.sh: the daemon did not answer" >&2; exit 1; }
cp Tests/InsightDaemonTests/Fixtures/inbox/* "$work/inbox/"
files=$(ls "$work/inbox" | wc -l)
for _ in $(seq 600); do [[ $(status | grep -o '"ingested":[0-9]*') == "\"ingested\":$files" ]] && break; sleep 0.5; done
sleep 5
callgrind_control -d "$pid" >/dev/null
kill -KILL "$pid"; wait "$pid" 2>/dev/null || true; pid=
# Names are compressed: "fn=(12) name" the first time, "fn=(12)" after; cfn=/cob= lines name callees. A function
# ran if it has a fn= context of its own inside insightd's object.
awk '
    match($0, /^c?ob=\([0-9]+\)/) { id = substr($0, 1, RLENGTH); sub(/^c?ob=/, "", id); name = substr($0, RLENGTH + 2)
        if (name != "") object[id] = name; if ($0 ~ /^ob=/) current = object[id]; next }
    match($0, /^c?fn=\([0-9]+\)/) { id = substr($0, 1, RLENGTH); sub(/^c?fn=/, "", id); name = substr($0, RLENGTH + 2)
        if (name != "") function_[id] = name
        if ($0 ~ /^fn=/ && current ~ /\/insightd$/) ran[function_[id]] = 1; next }
    END { for (f in ran) print f }' "$work"/profile.* \
    | sed "s/'[0-9]*\$//" | grep -v '^0x' | LC_ALL=C sort -u >deploy/insightd.order
echo "deploy/insightd.order: $(wc -l <deploy/insightd.order) functions"
