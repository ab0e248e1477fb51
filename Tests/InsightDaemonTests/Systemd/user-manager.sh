#!/usr/bin/env bash
# End-to-end check of deploy/insightd.user.service under a real systemd user manager, in a private mount
# namespace with its own tmpfs /run, so nothing reaches the host's /run or its service manager.
#   user-manager.sh BIN_DIR FIXTURES_DIR REPO_DIR
# Exit 0: every check passed; 77: skipped (unshare or systemd not available here); anything else: failed.
set -euo pipefail
bin=$(realpath "$1") fixtures=$(realpath "$2") repo=$(realpath "$3")

if ! command -v systemctl >/dev/null || [[ ! -x /lib/systemd/systemd ]]; then
    echo "SKIP: systemd is not installed"; exit 77
fi
if ! unshare --mount --propagation private true 2>/dev/null; then
    echo "SKIP: unshare --mount is not permitted here (needs root or user namespaces)"; exit 77
fi

# Where no system manager runs (a container), every user manager started from here would put its
# insightd.service in the same cgroup (…/init.scope/app.slice/insightd.service), so one manager stopping its
# service would kill another run'"'"'s daemon. Give this run a cgroup of its own; removed at the end.
isolate=0
[[ ! -d /run/systemd/system && -w /sys/fs/cgroup ]] && isolate=1

exec unshare --mount --propagation private bash -euo pipefail -c '
bin=$1 fixtures=$2 repo=$3 isolate=$4
own_cgroups=()
if [[ $isolate == 1 ]]; then
    join() {  # join HIERARCHY CGROUP-PATH: a child cgroup of our own in that hierarchy
        local own=$1${2%/}/insightd-test-$$
        mkdir -p "$own" 2>/dev/null && echo $$ >"$own/cgroup.procs" 2>/dev/null && own_cgroups+=("$own") || true
    }
    unified_path=$(sed -n "s/^0:://p" /proc/self/cgroup)
    if [[ -f /sys/fs/cgroup/systemd/cgroup.procs ]]; then  # v1 or hybrid
        join /sys/fs/cgroup/systemd "$(sed -n "s/^[0-9]*:name=systemd://p" /proc/self/cgroup)"
        [[ -f /sys/fs/cgroup/unified/cgroup.procs ]] && join /sys/fs/cgroup/unified "$unified_path"
    elif [[ -f /sys/fs/cgroup/cgroup.procs ]]; then        # pure v2
        join /sys/fs/cgroup "$unified_path"
    fi
fi
mount -t tmpfs tmpfs /run                      # private /run: nothing leaks to the host
mkdir -p /run/systemd/system                   # makes systemd believe it was booted with systemd
export XDG_RUNTIME_DIR=/run/user/$(id -u); mkdir -m 700 -p "$XDG_RUNTIME_DIR"
export HOME=$(mktemp -d /run/insightd-um-XXXXXX)  # on the private /run: visible despite PrivateTmp=
unset INSIGHTD_SOCKET INSIGHTD_CONFIG NOTIFY_SOCKET WATCHDOG_USEC WATCHDOG_PID RUNTIME_DIRECTORY STATE_DIRECTORY XDG_STATE_HOME XDG_CONFIG_HOME
manager_pid=
cleanup() {
    systemctl --user exit >/dev/null 2>&1 || true
    [[ -n $manager_pid ]] && { for _ in $(seq 50); do kill -0 "$manager_pid" 2>/dev/null || break; sleep 0.1; done; kill -9 "$manager_pid" 2>/dev/null || true; }
    rm -rf "$HOME"
    for own in "${own_cgroups[@]}"; do  # leave our cgroups and remove them, children first
        echo $$ >"$(dirname "$own")/cgroup.procs" 2>/dev/null || true
        find "$own" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*"
    echo "--- insightctl status now"; timeout 10 "$bin/insightctl" status 2>&1 || true
    echo "--- unit: $(systemctl --user show -P ActiveState insightd.service 2>/dev/null)/$(systemctl --user show -P SubState insightd.service 2>/dev/null), NRestarts $(systemctl --user show -P NRestarts insightd.service 2>/dev/null)"
    local main; main=$(systemctl --user show -P MainPID insightd.service 2>/dev/null || echo 0)
    if [[ $main != 0 ]] && command -v gdb >/dev/null; then
        echo "--- threads of $main"; gdb -p "$main" -batch -ex "thread apply all bt 12" 2>&1 | grep -E "^#|^Thread" | grep -v "in ?? ()" | head -120 || true
    fi
    echo "--- service log"; cat "$HOME/insightd.log" 2>/dev/null | tail -40 || true
    echo "--- manager log"; tail -40 "$HOME/manager.log" || true
    exit 1
}
ok() { echo "ok: $*"; }
ctl() { "$bin/insightctl" "$@"; }
prop() { systemctl --user show -P "$1" insightd.service; }
ingested() { ctl status --json | grep -o "\"ingested\" *: *[0-9]*" | grep -o "[0-9]*$"; }
unique() { ctl status --json | tr -d "\n " | grep -o "\"insights\":{[^}]*}" | grep -o "\"unique\":[0-9]*" | grep -o "[0-9]*$"; }
wait_for() {  # wait_for SECONDS WHAT COMMAND...
    local seconds=$1 what=$2; shift 2
    for _ in $(seq $((seconds * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
    fail "timed out after ${seconds}s waiting until $what"
}

/lib/systemd/systemd --user >"$HOME/manager.log" 2>&1 &
manager_pid=$!
wait_for 10 "the user manager runs" systemctl --user is-system-running
# The user manager runs as whoever runs the test: a root user manager may apply more of the sandbox.

units=$HOME/.config/systemd/user
# Installed the way people install it, with the binaries under test.
"$repo/deploy/install.sh" --user --bin-dir "$bin" --no-start >"$HOME/install.log" 2>&1 || { cat "$HOME/install.log"; fail "install.sh --user failed"; }
[[ -x $HOME/.local/bin/insightd && -x $HOME/.local/bin/insightctl && -f $units/insightd.service ]] || fail "install.sh --user did not install binaries and unit"
grep -q "^inbox = \"~/Insights\"" "$HOME/.config/insightd/insightd.toml" || fail "install.sh --user did not write the default config"
[[ -s $HOME/.local/share/man/man1/insightctl.1 && -s $HOME/.local/share/man/man8/insightd.8 && -s $HOME/.local/share/bash-completion/completions/insightctl \
   && -s $HOME/.local/share/zsh/site-functions/_insightctl && -s $HOME/.local/share/fish/vendor_completions.d/insightctl.fish ]] \
   || fail "install.sh --user did not install the man pages and completions"
ok "install.sh --user installed binaries, unit, default config, man pages and completions"
mkdir -p "$units/insightd.service.d"
cat >"$units/insightd.service.d/test.conf" <<UNIT
[Service]
StandardOutput=append:$HOME/insightd.log
StandardError=append:$HOME/insightd.log
UNIT
good_config() { printf "settle_ms = 20\nlog_level = \"%s\"\nmin_words = %s\n" "$1" "$2" >"$HOME/.config/insightd/insightd.toml"; }
good_config info 6
systemctl --user daemon-reload

# Start: returns once READY=1 was sent, which is after the socket listens.
systemctl --user start insightd.service || fail "systemctl --user start failed"
ctl status >/dev/null || fail "insightctl status failed right after start returned"
[[ $(prop ActiveState) == active ]] || fail "not active after start"
pid=$(prop MainPID)
ok "start returned after READY; the socket answered at once (pid $pid)"
[[ $(prop StatusText) == "watching ~/Insights · 0 insights" ]] || fail "status text after start: $(prop StatusText)"
ok "STATUS= $(prop StatusText)"
grep -q "^NoNewPrivs:[[:space:]]*1" /proc/$pid/status || fail "NoNewPrivileges is not in effect"
grep -q "^Seccomp:[[:space:]]*2" /proc/$pid/status || fail "the system call filter is not in effect"
ok "runs with NoNewPrivileges, a seccomp filter and MemoryDenyWriteExecute"

# Files dropped into the inbox are ingested.
cp "$fixtures/a.txt" "$fixtures/b.md" "$HOME/Insights/"
has_ingested() { [[ $(ingested) == "$1" ]]; }  # evaluated on every try, unlike an argument
wait_for 30 "two files are ingested" has_ingested 2
first_unique=$(unique)
ok "dropped files ingested: 2 files, $first_unique unique insights"
wait_for 5 "the status text counts them (now: $(prop StatusText))" bash -c "[[ \$(systemctl --user show -P StatusText insightd.service) == \"watching ~/Insights · $first_unique insights\" ]]"
ok "STATUS= $(prop StatusText)"

# A good reload applies at runtime.
! grep -q " DEBUG " "$HOME/insightd.log" || fail "debug lines before log_level = debug"
good_config debug 3
systemctl --user reload insightd.service || fail "reload with a good config failed"
[[ $(prop MainPID) == "$pid" ]] || fail "the daemon was restarted by a reload"
grep -q "configuration reloaded; applied log_level, min_words" "$HOME/insightd.log" || fail "the reload was not logged as applied"
ok "reload with a good config: applied log_level, min_words, same pid"

# A setting that needs a restart is reported as such.
printf "settle_ms = 20\nlog_level = \"debug\"\nmin_words = 3\ninbox = \"%s\"\n" "$HOME/Elsewhere" >"$HOME/.config/insightd/insightd.toml"
reply=$(ctl reload) || fail "insightctl reload failed"
[[ $reply == *"inbox changed but takes effect only after a restart"* ]] || fail "restart-only setting not reported: $reply"
ok "insightctl reload: $reply"

# A bad reload fails and keeps the running configuration.
printf "min_words = \"many\"\n" >"$HOME/.config/insightd/insightd.toml"
if systemctl --user reload insightd.service 2>/dev/null; then fail "reload with a bad config succeeded"; fi
[[ $(prop ActiveState) == active ]] || fail "not active after a failed reload: $(prop ActiveState)"
[[ $(prop MainPID) == "$pid" ]] || fail "the daemon was restarted by a failed reload"
ctl status >/dev/null || fail "the daemon does not answer after a failed reload"
set +e; message=$(ctl reload 2>&1); code=$?; set -e
[[ $code == 1 && $message == *"invalid setting min_words"* ]] || fail "insightctl reload with a bad config: exit $code, $message"
grep -q "the configuration was not reloaded, the running one stays" "$HOME/insightd.log" || fail "the failed reload was not logged"
ok "reload with a bad config fails (insightctl exit 1: ${message%%$'\''\n'\''*}); the daemon keeps running, same pid"
good_config info 6

# Stop: exits 0, removes the socket.
stop_started=$(date +%s.%N)
systemctl --user stop insightd.service || fail "stop failed"
stop_took=$(echo "$(date +%s.%N) - $stop_started" | bc 2>/dev/null || echo "?")
[[ $(prop Result) == success ]] || fail "stop result $(prop Result) after ${stop_took}s (reload result $(prop ReloadResult), main exit $(prop ExecMainCode)/$(prop ExecMainStatus))"
[[ $(prop ExecMainStatus) == 0 ]] || fail "exit status $(prop ExecMainStatus)"
[[ ! -e $XDG_RUNTIME_DIR/insightd/insightd.sock ]] || fail "the socket was left behind"
grep -q "stopped cleanly" "$HOME/insightd.log" || fail "no clean stop in the log"
grep -q " DEBUG " "$HOME/insightd.log" || fail "no debug lines after the reload to log_level = debug"
ok "stop in ${stop_took}s: exit status 0, result success, socket removed; debug lines appeared after the reload"

# A second start finds everything stored.
systemctl --user start insightd.service || fail "second start failed"
[[ $(ingested) == 2 && $(unique) == "$first_unique" ]] || fail "after restart: $(ingested) files, $(unique) unique"
ok "second start finds 2 files and $first_unique unique insights"

# The watchdog: a wedged pipeline stops the pings, and systemd restarts the service.
cat >"$units/insightd.service.d/watchdog.conf" <<UNIT
[Service]
WatchdogSec=2s
Environment=INSIGHTD_TEST_WEDGE_FILE=wedge.txt
UNIT
systemctl --user daemon-reload
systemctl --user restart insightd.service || fail "restart with the watchdog drop-in failed"
old_pid=$(prop MainPID)
restarts=$(prop NRestarts)
sleep 3  # longer than WatchdogSec: a healthy daemon keeps pinging from its idle loop
[[ $(prop MainPID) == "$old_pid" && $(prop ActiveState) == active ]] || fail "an idle daemon was killed by the watchdog"
ok "an idle daemon keeps the 2 s watchdog fed for 3 s"
echo "Pinging the watchdog proves nothing if the pipeline is stuck on this file." >"$HOME/Insights/wedge.txt"
wait_for 20 "systemd restarts the wedged service" bash -c "(( \$(systemctl --user show -P NRestarts insightd.service) > $restarts ))"
grep -q "test hook INSIGHTD_TEST_WEDGE_FILE" "$HOME/insightd.log" || fail "the pipeline was not wedged by the test hook"
ok "wedged pipeline: watchdog timeout, systemd restarted the service (NRestarts $(prop NRestarts))"
# The restarted daemon takes the wedge file again; a wedged daemon cannot stop gracefully, so kill it.
systemctl --user kill --signal=SIGKILL insightd.service || true
systemctl --user stop insightd.service || true
rm -f "$HOME/Insights/wedge.txt" "$units/insightd.service.d/watchdog.conf"

"$repo/deploy/uninstall.sh" --user >"$HOME/uninstall.log" 2>&1 || { cat "$HOME/uninstall.log"; fail "uninstall.sh --user failed"; }
[[ ! -e $units/insightd.service && ! -e $HOME/.local/bin/insightd ]] || fail "uninstall.sh left the unit or the binary"
[[ -f $HOME/.local/state/insightd/insights.sqlite && -f $HOME/.config/insightd/insightd.toml ]] || fail "uninstall.sh removed data or config"
ok "uninstall.sh --user removed unit and binaries, kept database and config"
# The system unit'"'"'s sandbox, as far as a user manager in this environment can apply it: the same unit file
# without the dynamic user and its groups (a user manager can neither allocate a user nor set groups) and
# without insightd.socket: the daemon binds its own socket in a RuntimeDirectory= (the drop-in), which
# ProtectSystem=strict leaves writable. Directives the environment refuses
# (226/NAMESPACE) are dropped one by one and reported; ProtectHome= always fails here because it hides
# /run/user, which holds a user manager'"'"'s RuntimeDirectory.
mkdir -p "$HOME/hardened-inbox" "$HOME/hardened-bin"
# PrivateTmp= in the unit hides /tmp, where a checkout (and so its build folder) may live: run copies.
cp "$bin/insightd" "$bin/insightctl" "$HOME/hardened-bin/"
install_hardened() {
    local expr="s|/usr/local/bin/|$HOME/hardened-bin/|g; /^DynamicUser=/d; /^User=/d; /^Group=/d; /^SupplementaryGroups=/d"
    expr="$expr; /^Requires=insightd.socket/d; s/^After=\(.*\) insightd.socket$/After=\1/; /^Also=/d"
    for d in "$@"; do expr="$expr; /^$d=/d"; done
    sed -e "$expr" "$repo/deploy/insightd.service" >"$units/insightd-hardened.service"
    mkdir -p "$units/insightd-hardened.service.d"
    printf "[Service]\nRuntimeDirectory=insightd\nEnvironment=INSIGHTD_INBOX=%s\nStandardOutput=append:%s\nStandardError=append:%s\nRestart=no\n" \
        "$HOME/hardened-inbox" "$HOME/hardened.log" "$HOME/hardened.log" >"$units/insightd-hardened.service.d/test.conf"
    systemctl --user daemon-reload
}
dropped=(ProtectHome)
install_hardened "${dropped[@]}"
for candidate in PrivateMounts ProtectKernelTunables ProtectKernelLogs PrivateUsers ProtectProc ProcSubset PrivateDevices; do
    systemctl --user start insightd-hardened.service 2>/dev/null && break
    status=$(systemctl --user show -P ExecMainStatus insightd-hardened.service)
    [[ $status == 226 ]] || fail "the hardened unit failed to start (exit status $status): $(tail -5 "$HOME/hardened.log")"
    dropped+=("$candidate"); install_hardened "${dropped[@]}"
done
[[ $(systemctl --user show -P ActiveState insightd-hardened.service) == active ]] || systemctl --user start insightd-hardened.service || fail "the hardened unit does not start even without ${dropped[*]}"
cp "$fixtures/c.txt" "$HOME/hardened-inbox/"
wait_for 30 "the hardened daemon stores c.txt" has_ingested 1
hpid=$(systemctl --user show -P MainPID insightd-hardened.service)
grep -q "^Seccomp:[[:space:]]*2" /proc/$hpid/status || fail "no system call filter in the hardened unit"
grep -q "^CapBnd:[[:space:]]*0000000000000000" /proc/$hpid/status || fail "capabilities left in the hardened unit"
[[ $(stat -c %a "$XDG_RUNTIME_DIR/insightd/insightd.sock") == 660 ]] || fail "socket mode $(stat -c %a "$XDG_RUNTIME_DIR/insightd/insightd.sock") under UMask=0077"
systemctl --user reload insightd-hardened.service || fail "reload of the hardened unit failed"
systemctl --user stop insightd-hardened.service
[[ $(systemctl --user show -P Result insightd-hardened.service) == success ]] || fail "the hardened unit did not stop cleanly"
ok "system unit sandbox (MemoryDenyWriteExecute, @system-service minus @privileged @resources, no capabilities, UMask 0077 with a 0660 socket): start, ingest, reload, stop work; not applicable here: ${dropped[*]}"
echo "PASS"
' bash "$bin" "$fixtures" "$repo" "$isolate"
