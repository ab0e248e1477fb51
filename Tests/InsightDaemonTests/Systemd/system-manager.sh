#!/usr/bin/env bash
# The Debian package under a real systemd system manager. Boots Debian 12 in a systemd-nspawn container
# (systemd as its PID 1, a private network, a throwaway tmpfs overlay on a cached root folder that has no
# Swift toolchain), installs the .deb there with apt-get and checks the service through systemctl.
#   system-manager.sh REPO_DIR [DEB]
# DEB defaults to $INSIGHTD_DEB, else deploy/build-deb.sh builds one (a release build). The root folder is
# made once with debootstrap in ${INSIGHTD_CT_CACHE:-/var/cache/insightd-ct} and made again when missing;
# the container writes only to its overlay, so every run starts from the same root.
# Exit 0: every check passed; 77: skipped (not root, or systemd-nspawn missing); anything else: failed.
set -euo pipefail
repo=$(realpath "${1:?usage: system-manager.sh REPO_DIR [DEB]}")
deb=${2:-${INSIGHTD_DEB:-}}
t0=${EPOCHREALTIME/./}

skip() { echo "SKIP: $*"; exit 77; }
[[ $(id -u) == 0 ]] || skip "not root: booting a container needs root"
command -v systemd-nspawn >/dev/null || skip "systemd-nspawn is not installed (apt-get install systemd-container)"
command -v debootstrap >/dev/null || { echo "FAIL: debootstrap is not installed (apt-get install debootstrap)"; exit 1; }

elapsed() { local now=${EPOCHREALTIME/./}; printf '%d.%d' $(((now - t0) / 1000000)) $((((now - t0) / 100000) % 10)); }
ok() { echo "ok: $* [$(elapsed)s]"; }
note() { echo "-- $* [$(elapsed)s]"; }

cache=${INSIGHTD_CT_CACHE:-/var/cache/insightd-ct}
root=$cache/bookworm
# What the root folder holds; a different recipe makes it again.
recipe="debian 12 bookworm, minbase + systemd systemd-sysv dbus iproute2, apt lists, timers masked: 1"
work= nspawn= cgroups=()

teardown() {
    local status=$?
    if [[ -n $nspawn ]] && kill -0 "$nspawn" 2>/dev/null; then
        kill -TERM "$nspawn" 2>/dev/null || true      # nspawn halts the container (about 3 s)
        for _ in $(seq 150); do kill -0 "$nspawn" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$nspawn" 2>/dev/null || true
    fi
    local cg pids
    for cg in "${cgroups[@]}"; do                     # whatever is left in the container's cgroups, then the cgroups
        [[ -d $cg ]] || continue
        for _ in 1 2 3; do
            pids=$(find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null | tr '\n' ' ')
            [[ -n ${pids// } ]] || break
            kill -KILL $pids 2>/dev/null || true
            sleep 0.3
        done
        find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null || true
        [[ ! -d $cg ]] || echo "warning: could not remove the cgroup $cg" >&2
    done
    [[ -n $work ]] && rm -rf "$work"
    exit "$status"
}
trap teardown EXIT
trap 'exit 143' TERM INT   # so that teardown runs on a signal too

# The package: given, or built from this checkout.
if [[ -z $deb ]]; then
    note "no DEB given: building one with deploy/build-deb.sh"
    deb=$("$repo/deploy/build-deb.sh" --out "$repo/.build/deb" | tail -1)
fi
deb=$(realpath "$deb")
[[ -f $deb ]] || { echo "FAIL: $deb does not exist"; exit 1; }
debname=$(basename "$deb")

# The root folder: made once (about 2 minutes), shared by concurrent runs under a lock.
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock -x 9
if [[ ! -f $root/.insightd-ct || $(cat "$root/.insightd-ct") != "$recipe" ]]; then
    note "making the container root $root with debootstrap (once)"
    rm -rf "$root" "$root.new"
    if ! debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,iproute2 bookworm "$root.new" \
            "${INSIGHTD_CT_MIRROR:-http://deb.debian.org/debian}" >"$cache/debootstrap.log" 2>&1; then
        tail -20 "$cache/debootstrap.log"; echo "FAIL: debootstrap failed (log: $cache/debootstrap.log)"; exit 1
    fi
    for timer in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer dpkg-db-backup.timer; do
        ln -sf /dev/null "$root.new/etc/systemd/system/$timer"
    done
    chroot "$root.new" apt-get update -q >>"$cache/debootstrap.log" 2>&1 || { echo "FAIL: apt-get update in the new root failed"; exit 1; }
    chroot "$root.new" apt-get clean
    echo "$recipe" >"$root.new/.insightd-ct"
    mv "$root.new" "$root"
    ok "container root made: $(du -sh "$root" | cut -f1) in $root"
fi
[[ ! -e $root/opt/swift ]] && ! chroot "$root" sh -c 'command -v swift swiftc' >/dev/null || { echo "FAIL: the container root has a Swift toolchain"; exit 1; }
# The packages the .deb depends on, downloaded (not installed) into the root's apt cache with the host's
# network: inside, the container has no network, and apt-get resolves Depends from that cache.
cp "$deb" "$root/root/$debname"
download() { chroot "$root" apt-get install --download-only -y -q --no-install-recommends "/root/$debname" >"$cache/download.log" 2>&1; }
if ! download; then
    chroot "$root" apt-get update -q >>"$cache/download.log" 2>&1 || true
    download || { rm -f "$root/root/$debname"; tail -20 "$cache/download.log"; echo "FAIL: cannot download the package's dependencies into the root"; exit 1; }
fi
rm -f "$root/root/$debname"
flock -s 9   # other runs may boot the same root meanwhile; none remakes it
ok "container root ready (no Swift toolchain); dependencies of $debname in its apt cache"

# What the container sees, read-only, at /mnt/test: the package, its binaries unpacked (for install.sh
# --bin-dir), the deploy scripts and config of this checkout, the test notes.
work=$(mktemp -d /var/tmp/insightd-ct-run.XXXXXX)
mnt=$work/mnt
mkdir -p "$mnt/repo" "$mnt/fixtures"
cp "$deb" "$mnt/"
dpkg-deb -x "$deb" "$mnt/unpacked"
cp -r "$repo/deploy" "$repo/config" "$mnt/repo/"
cp "$repo/Tests/InsightDaemonTests/Fixtures/inbox/"{a.txt,b.md} "$mnt/fixtures/"
chmod -R a+rX "$mnt"

# Boot: the container gets cgroups of its own (removed at the end), its own mount namespace with a tmpfs
# /run, no machined or D-Bus on the host (--register=no --keep-unit), bpf() so IPAddressDeny= works, only
# a loopback network, and --volatile=overlay so the cached root is never written.
name=insightd-ct-$$
if [[ -d /sys/fs/cgroup/systemd ]]; then
    for h in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified; do [[ -d $h ]] && cgroups+=("$h/$name"); done
else
    cgroups+=("/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/self/cgroup | sed 's|/$||')/$name")
fi
boot() {
    for cg in "${cgroups[@]}"; do mkdir -p "$cg" && echo "$BASHPID" >"$cg/cgroup.procs"; done
    exec unshare --mount --propagation private sh -c '
        mount -t tmpfs -o mode=755 tmpfs /run &&
        exec systemd-nspawn --quiet --register=no --keep-unit --system-call-filter=bpf --private-network \
            --volatile=overlay --machine=insightd-ct --bind-ro="$1:/mnt/test" -D "$0" -b --console=pipe' "$root" "$mnt"
}
( boot ) </dev/null >"$work/nspawn.log" 2>&1 &
nspawn=$!
# The container's PID 1 is nspawn's child once it runs systemd (an intermediate child comes and goes first).
leader=
for _ in $(seq 300); do
    leader=$(awk '{print $1}' "/proc/$nspawn/task/$nspawn/children" 2>/dev/null || true)
    [[ -n $leader && $(cat "/proc/$leader/comm" 2>/dev/null) == systemd ]] && break
    leader=
    kill -0 "$nspawn" 2>/dev/null || break
    sleep 0.1
done
[[ -n $leader ]] || { cat "$work/nspawn.log"; echo "FAIL: the container did not start"; exit 1; }

# c CMD...: run CMD in the container as root; as USER CMD...: as USER with USER's groups.
c() { nsenter -t "$leader" -a env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
as() { local user=$1; shift; c setpriv --reuid="$(c id -u "$user")" --regid="$(c id -g "$user")" --init-groups env HOME=/ "$@"; }
prop() { c systemctl show -P "$1" insightd.service; }
sprop() { c systemctl show -P "$1" insightd.socket; }
fail() {
    echo "FAIL: $*"
    if [[ -n $leader ]]; then
        echo "--- systemctl status"; c systemctl --no-pager status insightd.service 2>&1 | head -15 || true
        echo "--- journal of insightd.service"; c journalctl --no-pager -u insightd.service -n 40 2>&1 || true
    fi
    echo "--- container console (last lines)"; tail -15 "$work/nspawn.log" || true
    exit 1
}
wait_for() {  # wait_for SECONDS WHAT COMMAND...
    local seconds=$1 what=$2; shift 2
    for _ in $(seq $((seconds * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
    fail "timed out after ${seconds}s waiting until $what"
}
json_number() { grep -o "\"$1\" *: *[0-9]*" | head -1 | grep -o '[0-9]*$'; }
ingested() { c insightctl status --json | json_number ingested; }
unique() { c insightctl status --json | tr -d '\n ' | grep -o '"insights":{[^}]*}' | json_number unique; }
has_ingested() { [[ $(ingested) == "$1" ]]; }

# The manager's private bus comes up a moment after PID 1 starts; until then systemctl answers "offline"
# (or nothing) at once instead of waiting, so ask again for up to a minute.
state=
for _ in $(seq 120); do
    state=$(c timeout 60 systemctl is-system-running --wait 2>/dev/null || true)
    [[ -n $state && $state != offline ]] && break
    kill -0 "$nspawn" 2>/dev/null || break
    sleep 0.5
done
[[ $state == running || $state == degraded ]] || fail "the container's systemd is $state"
ok "container booted: systemd $(c systemctl --version | head -1 | awk '{print $2}') is PID 1, system state $state"

# --- the package installs offline, with its dependencies ----------------------------------------------
! grep -q "install ok" <<<"$(c dpkg-query -W -f='${Status}' libcurl4 2>/dev/null)" || fail "libcurl4 is installed before the package"
out=$(c apt-get install -y -q --no-install-recommends "/mnt/test/$debname" 2>&1) || { echo "$out" | tail -20; fail "apt-get install $debname failed"; }
grep -q "install ok installed" <<<"$(c dpkg-query -W -f='${Status}' insightd)" || fail "insightd is not installed"
new=$(echo "$out" | grep -oE '^[0-9]+ upgraded, [0-9]+ newly installed' | grep -oE '[0-9]+ newly' | grep -oE '[0-9]+')
grep -q "install ok installed" <<<"$(c dpkg-query -W -f='${Status}' libcurl4)" || fail "apt-get did not install libcurl4 from Depends"
ok "apt-get install ./$debname without network: $new packages newly installed (insightd and its Depends, libcurl4 among them)"

[[ $(c stat -c '%a %G' /srv/insightd/inbox) == "2770 insightd" ]] || fail "inbox: $(c stat -c '%a %G' /srv/insightd/inbox)"
c getent group insightd >/dev/null || fail "the group insightd was not made"
c getent group insightd-admin >/dev/null || fail "the group insightd-admin was not made"
[[ $(c systemctl is-enabled insightd.service) == enabled ]] || fail "the unit is not enabled after installation"
[[ $(c systemctl is-enabled insightd.socket) == enabled ]] || fail "the socket unit is not enabled after installation"
[[ $(prop ActiveState) == active ]] || fail "the service was not started by the installation"
[[ $(sprop ActiveState) == active ]] || fail "the socket unit was not started by the installation"
ok "postinst: groups insightd and insightd-admin (sysusers), inbox /srv/insightd/inbox 2770 root:insightd, insightd.socket and insightd.service enabled and started"

libs=$(c ldd /usr/bin/insightd /usr/bin/insightctl)
! grep -q "not found" <<<"$libs" || fail "unresolved libraries: $(grep "not found" <<<"$libs")"
! grep -qE 'libswift|libFoundation|lib_Foundation|libdispatch|libBlocksRuntime|/opt/swift' <<<"$libs" || fail "a toolchain library is linked: $libs"
! c sh -c 'command -v swift swiftc' >/dev/null && ! c test -e /opt/swift || fail "the container has a Swift toolchain"
direct=$(for b in insightd insightctl; do LANG=C readelf -d "$mnt/unpacked/usr/bin/$b" 2>/dev/null; done | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | sort -u | tr '\n' ' ')
ok "ldd of /usr/bin/insightd and insightctl: $(grep -c '=>' <<<"$libs") entries, every library found, none of the Swift toolchain${direct:+; NEEDED: ${direct% }}"

for f in /usr/share/man/man8/insightd.8.gz /usr/share/man/man1/insightctl.1.gz /usr/share/bash-completion/completions/insightctl \
         /usr/share/zsh/vendor-completions/_insightctl /usr/share/fish/vendor_completions.d/insightctl.fish /usr/share/insightd/fetch-model.sh \
         /usr/share/doc/insightd/copyright /usr/share/doc/insightd/changelog.gz /usr/lib/sysusers.d/insightd.conf /lib/systemd/system/insightd.socket; do
    c test -s "$f" || fail "$f is missing"
done
ok "man pages, completions, copyright, changelog, sysusers file, socket unit and fetch-model.sh installed"

# --- hardening of the running process ------------------------------------------------------------------
pid=$(prop MainPID)
status=$(c cat "/proc/$pid/status")
grep -q "^NoNewPrivs:[[:space:]]*1" <<<"$status" || fail "NoNewPrivs is not set"
grep -q "^Seccomp:[[:space:]]*2" <<<"$status" || fail "no seccomp filter"
grep -q "^CapEff:[[:space:]]*0000000000000000" <<<"$status" || fail "capabilities left: $(grep ^CapEff <<<"$status")"
probe=$(c nsenter -t "$pid" -m sh -c 'touch /usr/.insightd-probe' 2>&1) && fail "the service could write to /usr"
[[ $probe == *"Read-only file system"* ]] || fail "writing to /usr failed otherwise than read-only: $probe"
c touch /usr/.insightd-probe && c rm /usr/.insightd-probe || fail "control: root outside the service cannot write /usr either"
ok "process $pid: NoNewPrivs 1, Seccomp 2, no capabilities; /usr read-only in its mount namespace (writable outside it)"

# IPAddressDeny= is a BPF filter on the unit's cgroup: connect from a shell moved into that cgroup. A private
# and a public address on the container's loopback link give it more to connect to than 127.0.0.1. Nothing
# listens, so where the filter lets a SYN through the kernel answers at once with "Connection refused"; where
# it drops it, no answer ever comes and the connect is cut off after 2 s (exit 124).
c ip addr add 192.168.77.1/32 dev lo && c ip addr add 1.1.1.1/32 dev lo || fail "cannot add addresses to lo"
cgroup_dir=$(c findmnt -n -t cgroup2 -o TARGET | head -1)$(c sed -n 's/^0:://p' "/proc/$pid/cgroup")
probe='timeout 2 bash -c "exec 3<>/dev/tcp/$0/$1" 2>&1; echo "exit $?"'
in_unit() { c bash -c "echo \$\$ >'$cgroup_dir/cgroup.procs' && exec bash -c '$probe' $1 $2" 2>&1 || true; }
outside() { c bash -c "$probe" "$1" "$2" 2>&1 || true; }
for address in 127.0.0.1 192.168.77.1; do
    inside=$(in_unit $address 9) control=$(outside $address 9)
    [[ $inside == *"exit 124"* && $inside != *refused* ]] || fail "a connect to $address:9 from the service's cgroup was not blocked: $inside"
    [[ $control == *"Connection refused"* ]] || fail "control: a connect to $address:9 from outside the service's cgroup: $control"
done
public=$(in_unit 1.1.1.1 443)
[[ $public == *"Connection refused"* ]] || fail "a connect to the public 1.1.1.1:443 from the service's cgroup: $public"
ok "TCP from the service's cgroup: 127.0.0.1 and 192.168.77.1 blocked (no answer, cut off after 2 s; from outside the cgroup: Connection refused at once); the public 1.1.1.1 let through (refused at once: nothing listens)"

security=$(c systemd-analyze security --no-pager insightd.service 2>&1)
exposure=$(grep -oE 'Overall exposure level for insightd.service: [0-9.]+' <<<"$security" | grep -oE '[0-9.]+$')
[[ -n $exposure ]] || fail "systemd-analyze security gave no exposure: $security"
awk -v e="$exposure" 'BEGIN { exit !(e <= 1.0) }' || fail "exposure $exposure is above 1.0: $(grep -E '✗' <<<"$security" | head -20)"
ok "systemd-analyze security insightd.service (the running unit): exposure $exposure"

# --- start, ingest, state, socket ----------------------------------------------------------------------
c systemctl stop insightd.service || fail "stop failed"
c systemctl start insightd.service || fail "start failed"
c insightctl status >/dev/null || fail "insightctl status failed right after start returned"
[[ $(prop ActiveState) == active ]] || fail "not active after start"
pid=$(prop MainPID)
[[ $(prop StatusText) == "watching /srv/insightd/inbox · 0 insights" ]] || fail "status text after start: $(prop StatusText)"
ok "systemctl start returned after READY=1: the socket answered at once; STATUS=$(prop StatusText)"
meaning=$(c insightctl status 2>&1)
[[ $meaning == *"/usr/share/insightd/models/all-MiniLM-L6-v2 does not exist"* && $meaning == *"/usr/share/insightd/fetch-model.sh --system"* ]] \
    || fail "status does not name the system model folder and the packaged fetch script: $meaning"
ok "without the model, status names the system folder and the packaged script: $(grep -o 'the model folder [^;]*; install it with [^;)]*' <<<"$meaning" | head -1))"

# insightd-admin is the package's (sysusers), the service's own group and the packaged admin_group.
c useradd -M -G insightd,insightd-admin ada   # may change state
c useradd -M -G insightd rita                 # may read
c useradd -M olga                             # not in the group
as ada cp /mnt/test/fixtures/a.txt /mnt/test/fixtures/b.md /srv/insightd/inbox/ || fail "a member of insightd cannot drop files"
wait_for 30 "the dropped files are ingested" has_ingested 2
first_unique=$(unique)
ok "files dropped into /srv/insightd/inbox by a member of insightd: 2 files ingested, $first_unique unique insights"

uid=$(awk '/^Uid:/ {print $2}' <<<"$(c cat "/proc/$pid/status")")
(( uid >= 61184 && uid <= 65519 )) || fail "the service runs as uid $uid, not a dynamic user"
! c grep -q "^[^:]*:[^:]*:$uid:" /etc/passwd || fail "uid $uid is in /etc/passwd"
[[ $(c readlink /var/lib/insightd) == private/insightd ]] || fail "/var/lib/insightd is not the dynamic user's private state folder"
[[ $(c stat -c %u /var/lib/private/insightd/insights.sqlite) == "$uid" ]] || fail "the database belongs to $(c stat -c %u /var/lib/private/insightd/insights.sqlite)"
[[ $(c stat -c %a /var/lib/private) == 700 ]] || fail "/var/lib/private is not 0700"
[[ $(c readlink /run/systemd/dynamic-uid/direct:insightd-daemon) == "$uid" ]] || fail "systemd has no dynamic user insightd-daemon for uid $uid"
ok "state /var/lib/insightd -> private/insightd, insights.sqlite owned by the dynamic user insightd-daemon (uid $uid, not in /etc/passwd)"
# The socket is systemd's (insightd.socket), passed to the daemon: root's, group insightd, 0660, whatever user
# namespace the service runs in.
sock=$(c stat -c '%A %U %G' /run/insightd/insightd.sock)
[[ $sock == "srw-rw---- root insightd" ]] || fail "socket: $sock"
[[ $(c stat -c '%a %U' /run/insightd) == "755 root" ]] || fail "/run/insightd: $(c stat -c '%a %U' /run/insightd)"
[[ $(sprop Listen) == "/run/insightd/insightd.sock (Stream)" ]] || fail "insightd.socket listens on $(sprop Listen)"
grep -q "serving on the socket passed by the service manager: /run/insightd/insightd.sock" <<<"$(c journalctl --no-pager -u insightd.service -o cat)" \
    || fail "the daemon did not log that it serves on the socket systemd passed"
ok "socket /run/insightd/insightd.sock made by insightd.socket: $sock (folder 0755 root); the daemon serves on the socket systemd passed"

# --- who may do what -------------------------------------------------------------------------------------
# The shipped unit has PrivateUsers=yes: inside its user namespace only root, the service's user and its group
# (Group=insightd-admin) are mapped. admin_group is that group, so its members are recognised; insightd, the
# socket's and inbox's group, is a supplementary group of the service and shows as unmapped.
[[ $(prop PrivateUsers) == yes && $(prop Group) == insightd-admin ]] || fail "the unit runs with PrivateUsers=$(prop PrivateUsers), Group=$(prop Group)"
admin_gid=$(c getent group insightd-admin | cut -d: -f3) readers_gid=$(c getent group insightd | cut -d: -f3)
gid_map=$(c cat "/proc/$pid/gid_map" | awk '{print $1 ":" $3}' | tr '\n' ' ')
[[ $gid_map == "0:1 $admin_gid:1 " || $gid_map == "$admin_gid:1 0:1 " ]] || fail "the service's gid map is $gid_map, not root and insightd-admin ($admin_gid) only"
grep -qE "^Groups:.*\b$readers_gid\b" <<<"$(c cat "/proc/$pid/status")" || fail "the service does not have insightd ($readers_gid) as a supplementary group"
grep -q '^admin_group = "insightd-admin"$' <<<"$(c cat /etc/insightd/insightd.toml)" || fail "the packaged config does not set admin_group = \"insightd-admin\""
! grep -q 'admin_group has no effect' <<<"$(c journalctl --no-pager -u insightd.service -o cat)" || fail "the daemon warned that admin_group has no effect"
ok "PrivateUsers=yes: gid map ${gid_map% } (root and insightd-admin), supplementary group insightd ($readers_gid) unmapped; admin_group = \"insightd-admin\" in the packaged config, no warning"

as ada insightctl pause >/dev/null || fail "a member of admin_group cannot pause: $(as ada insightctl pause 2>&1)"
grep -q '"state" *: *"paused"' <<<"$(c insightctl status --json)" || fail "not paused after ada's pause"
reply=$(as ada insightctl reload 2>&1) || fail "a member of admin_group cannot reload: $reply"
as ada insightctl resume >/dev/null || fail "a member of admin_group cannot resume"
grep -q '"state" *: *"running"' <<<"$(c insightctl status --json)" || fail "not running after ada's resume"
ok "ada (insightd, insightd-admin) under the shipped unit: pause, reload, resume accepted"
as rita insightctl status >/dev/null || fail "a member of insightd cannot read status: $(as rita insightctl status 2>&1)"
set +e; refused=$(as rita insightctl pause 2>&1); code=$?; set -e
[[ $code == 4 && $refused == *'group "insightd-admin" (admin_group)'* && $refused != *PrivateUsers* ]] || fail "rita's pause: exit $code, $refused"
ok "rita (insightd only): status read; pause refused (exit 4): ${refused#*: }"
set +e; outsider=$(as olga insightctl status 2>&1); code=$?; set -e
[[ $code != 0 && $outsider == *ermission* ]] || fail "olga (no group) could connect: exit $code, $outsider"
ok "olga (not in insightd): cannot connect (exit $code: $outsider)"
c insightctl pause >/dev/null && c insightctl resume >/dev/null || fail "root cannot pause and resume"

# --- reload through systemctl ----------------------------------------------------------------------------
pid=$(prop MainPID)
c sed -i 's/^log_level = .*/log_level = "debug"/; s/^min_words = .*/min_words = 5/' /etc/insightd/insightd.toml
c systemctl reload insightd.service || fail "systemctl reload with a good config failed"
[[ $(prop MainPID) == "$pid" ]] || fail "the daemon was restarted by a reload"
grep -q "configuration reloaded; applied log_level, min_words" <<<"$(c journalctl --no-pager -u insightd.service -o cat)" || fail "the reload was not logged as applied"
ok "systemctl reload with a good config: applied log_level, min_words; same pid $pid"
c insightctl rescan >/dev/null || fail "rescan failed"   # logs "scanning the inbox" and each unchanged file at debug
has_debug_lines() { [[ -n $(c journalctl --no-pager -u insightd.service -o cat -p debug..debug) ]]; }
wait_for 10 "the rescan is logged at debug" has_debug_lines
c sed -i 's/^min_words = .*/min_words = "many"/' /etc/insightd/insightd.toml
c systemctl reload insightd.service 2>/dev/null && fail "systemctl reload with a bad config succeeded"
[[ $(prop ActiveState) == active && $(prop MainPID) == "$pid" ]] || fail "a failed reload stopped or restarted the daemon"
set +e; message=$(c insightctl reload 2>&1); code=$?; set -e
[[ $code == 1 && $message == *"invalid setting min_words"* ]] || fail "insightctl reload with a bad config: exit $code, $message"
grep -q "the configuration was not reloaded, the running one stays" <<<"$(c journalctl --no-pager -u insightd.service -o cat)" || fail "the failed reload was not logged"
ok "systemctl reload with a bad config fails; the daemon keeps running (same pid) and its config: ${message%%$'\n'*}"
c sed -i 's/^min_words = .*/min_words = 6/; s/^log_level = .*/log_level = "info"/' /etc/insightd/insightd.toml
c systemctl reload insightd.service || fail "reload back to the default config failed"

# --- the journal ---------------------------------------------------------------------------------------
# The daemon's own lines (not systemd's about the unit, nor insightctl's from ExecReload=).
journal() { c journalctl --no-pager -u insightd.service SYSLOG_IDENTIFIER=insightd -o cat "$@"; }
grep -q "the configuration was not reloaded, the running one stays" <<<"$(journal -p warning)" || fail "the failed reload is not logged at warning or above"
! grep -q "configuration reloaded; applied" <<<"$(journal -p warning)" || fail "an info line is logged at warning or above"
grep -q "configuration reloaded; applied" <<<"$(journal -p info)" || fail "the applied reload is not at info"
grep -q "scanning the inbox" <<<"$(journal -p debug..debug)" || fail "the rescan's debug line is not at debug"
! grep -qE '^<[0-7]>' <<<"$(journal)" || fail "priority prefixes left in the messages"
priorities=$(c journalctl --no-pager -u insightd.service SYSLOG_IDENTIFIER=insightd -o export | sed -n 's/^PRIORITY=//p' | sort | uniq -c | awk '{printf "%s×%s ", $2, $1}')
ok "journald: the daemon's <N> prefixes became priorities (its lines by PRIORITY: ${priorities% }); failed reload at warning, applied reload at info, rescan at debug"

# --- stop, and start again -------------------------------------------------------------------------------
clean_stops=$(journal | grep -c "stopped cleanly" || true)
c systemctl stop insightd.service || fail "stop failed"
[[ $(prop Result) == success && $(prop ExecMainStatus) == 0 ]] || fail "stop: result $(prop Result), exit status $(prop ExecMainStatus)"
(( $(journal | grep -c "stopped cleanly") > clean_stops )) || fail "no clean stop in the journal"
! c test -e /run/systemd/dynamic-uid/direct:insightd-daemon || fail "the dynamic user is still allocated after stop"
# The socket is insightd.socket's: the daemon leaves it in place, and systemd keeps listening on it.
[[ $(sprop ActiveState) == active && $(c stat -c '%A %U %G' /run/insightd/insightd.sock) == "srw-rw---- root insightd" ]] \
    || fail "after stop the socket unit is $(sprop ActiveState), the socket $(c stat -c '%A %U %G' /run/insightd/insightd.sock 2>&1)"
ok "systemctl stop: exit status 0, result success, dynamic user released; the socket stays, systemd listening on it"
# A connection to the socket starts the service again (socket activation): rita's status is answered.
activated=$(as rita insightctl status --json) || fail "a connection while the service was stopped did not start it: $activated"
[[ $(prop ActiveState) == active && $(json_number ingested <<<"$activated") == 2 ]] || fail "after activation by a connection: $(prop ActiveState), $activated"
ok "a connection to the stopped service's socket started it (pid $(prop MainPID)) and was answered: 2 files"
c systemctl stop insightd.service || fail "stop failed"
c systemctl start insightd.service || fail "second start failed"
[[ $(ingested) == 2 && $(unique) == "$first_unique" ]] || fail "after the restart: $(ingested) files, $(unique) unique"
ok "systemctl start again: 2 files and $first_unique unique insights found"

# --- the watchdog --------------------------------------------------------------------------------------
c mkdir -p /etc/systemd/system/insightd.service.d
c sh -c 'printf "[Service]\nWatchdogSec=2s\nEnvironment=INSIGHTD_TEST_WEDGE_FILE=wedge.txt\n" >/etc/systemd/system/insightd.service.d/test-watchdog.conf'
c systemctl daemon-reload
c systemctl restart insightd.service || fail "restart with the watchdog drop-in failed"
pid=$(prop MainPID); restarts=$(prop NRestarts)
sleep 3   # longer than WatchdogSec: an idle daemon keeps pinging
[[ $(prop MainPID) == "$pid" && $(prop ActiveState) == active ]] || fail "an idle daemon was killed by the watchdog"
as ada sh -c 'echo "Pinging the watchdog proves nothing if the pipeline is stuck on this file." >/srv/insightd/inbox/wedge.txt'
restarted() { (( $(prop NRestarts) > restarts )); }
wait_for 20 "systemd restarts the wedged service" restarted
grep -q "test hook INSIGHTD_TEST_WEDGE_FILE" <<<"$(journal)" || fail "the pipeline was not wedged by the test hook"
grep -q "Watchdog timeout" <<<"$(c journalctl --no-pager -u insightd.service)" || fail "no watchdog timeout in the journal"
ok "wedged pipeline: watchdog timeout after 2 s, systemd restarted the service (NRestarts $(prop NRestarts))"
c rm -f /srv/insightd/inbox/wedge.txt /etc/systemd/system/insightd.service.d/test-watchdog.conf
c rmdir /etc/systemd/system/insightd.service.d 2>/dev/null || true
c systemctl daemon-reload
c systemctl kill --signal=SIGKILL insightd.service || true   # a wedged daemon cannot stop gracefully
c systemctl stop insightd.service || true
c systemctl reset-failed insightd.service 2>/dev/null || true
c systemctl start insightd.service || fail "start after the watchdog test failed"

# --- remove keeps data; install.sh --system finds it; uninstall.sh --system ------------------------------
c apt-get remove -y -q insightd >/dev/null 2>&1 || fail "apt-get remove failed"
[[ $(prop LoadState) == not-found ]] || fail "the unit is still loaded after remove: $(prop LoadState)/$(prop ActiveState)"
[[ $(sprop LoadState) == not-found ]] || fail "the socket unit is still loaded after remove: $(sprop LoadState)/$(sprop ActiveState)"
! c test -e /usr/bin/insightd && ! c test -e /usr/bin/insightctl && ! c test -e /lib/systemd/system/insightd.service \
    && ! c test -e /lib/systemd/system/insightd.socket && ! c test -e /run/insightd/insightd.sock || fail "remove left binaries, the units or the socket"
c test -f /var/lib/private/insightd/insights.sqlite && c test -f /etc/insightd/insightd.toml && c test -f /srv/insightd/inbox/a.txt \
    && c getent group insightd >/dev/null || fail "remove did not keep the database, config, inbox and group"
ok "apt-get remove: units, socket and binaries gone; database, config, inbox and groups kept"

c bash /mnt/test/repo/deploy/install.sh --system --bin-dir /mnt/test/unpacked/usr/bin --no-build >"$work/install.log" 2>&1 \
    || { cat "$work/install.log"; fail "install.sh --system failed"; }
[[ $(prop ActiveState) == active && $(prop FragmentPath) == /etc/systemd/system/insightd.service ]] || fail "install.sh --system: $(prop ActiveState) from $(prop FragmentPath)"
[[ $(sprop ActiveState) == active && $(sprop FragmentPath) == /etc/systemd/system/insightd.socket && $(c systemctl is-enabled insightd.socket) == enabled ]] \
    || fail "install.sh --system: the socket unit is $(sprop ActiveState) from $(sprop FragmentPath)"
[[ $(c stat -c '%A %U %G' /run/insightd/insightd.sock) == "srw-rw---- root insightd" ]] || fail "install.sh --system: socket $(c stat -c '%A %U %G' /run/insightd/insightd.sock)"
[[ $(ingested) == 2 && $(unique) == "$first_unique" ]] || fail "install.sh --system: $(ingested) files, $(unique) unique"
as ada insightctl pause >/dev/null && as ada insightctl resume >/dev/null || fail "install.sh --system: a member of insightd-admin cannot pause (the kept config has admin_group $(c grep '^admin_group' /etc/insightd/insightd.toml))"
ok "install.sh --system (binaries in /usr/local/bin): socket and service started, found the 2 files and $first_unique insights the package left; ada may pause"
c bash /mnt/test/repo/deploy/uninstall.sh --system >"$work/uninstall.log" 2>&1 || { cat "$work/uninstall.log"; fail "uninstall.sh --system failed"; }
[[ $(prop LoadState) == not-found && $(sprop LoadState) == not-found ]] || fail "uninstall.sh left the units: $(prop LoadState), $(sprop LoadState)"
! c test -e /usr/local/bin/insightd && ! c test -e /etc/systemd/system/insightd.service && ! c test -e /etc/systemd/system/insightd.socket \
    && ! c test -e /usr/lib/sysusers.d/insightd.conf && ! c test -e /run/insightd || fail "uninstall.sh left binaries, the units, /run/insightd or the sysusers file"
c test -f /var/lib/private/insightd/insights.sqlite || fail "uninstall.sh removed the database"
ok "uninstall.sh --system: units, socket, binaries and sysusers file gone; database kept"

# --- purge -----------------------------------------------------------------------------------------------
# The package is removed but not purged: purge finishes the job (its config files, its postrm purge).
c apt-get purge -y -q insightd >"$work/purge.log" 2>&1 || { cat "$work/purge.log"; fail "apt-get purge failed"; }
leftovers() {
    for f in /usr/bin/insightd /usr/bin/insightctl /lib/systemd/system/insightd.service /etc/systemd/system/insightd.service \
             /etc/systemd/system/multi-user.target.wants/insightd.service /etc/systemd/system/insightd.service.d \
             /var/lib/systemd/deb-systemd-helper-enabled/insightd.service.dsh-also /usr/lib/sysusers.d/insightd.conf \
             /lib/systemd/system/insightd.socket /etc/systemd/system/insightd.socket /etc/systemd/system/sockets.target.wants/insightd.socket \
             /var/lib/systemd/deb-systemd-helper-enabled/insightd.socket.dsh-also \
             /var/lib/insightd /var/lib/private/insightd /etc/insightd /run/insightd; do
        c test -e "$f" -o -L "$f" && echo "$f"
    done
    c test -e /run/systemd/dynamic-uid/direct:insightd-daemon && echo "dynamic user insightd-daemon"
    c getent group insightd-admin
    c grep -h insightd /etc/passwd
    return 0
}
left=$(leftovers)
[[ -z $left ]] || fail "purge left: $left"
[[ $(prop LoadState) == not-found && $(sprop LoadState) == not-found ]] || fail "the units are still known after purge"
c test -f /srv/insightd/inbox/a.txt && c getent group insightd >/dev/null || fail "purge removed an inbox that still held notes"
grep -q "kept /srv/insightd" "$work/purge.log" || fail "purge did not say it kept the inbox"
ok "apt-get purge: units, binaries, database, config, state, dynamic user and group insightd-admin gone; the inbox with notes kept, and its group insightd"
c rm -f /srv/insightd/inbox/a.txt /srv/insightd/inbox/b.md
c apt-get install -y -q --no-install-recommends "/mnt/test/$debname" >/dev/null 2>&1 || fail "apt-get install after purge failed"
[[ $(prop ActiveState) == active && $(ingested) == 0 ]] || fail "after purge a fresh install should start empty: $(prop ActiveState), $(ingested) files"
c apt-get purge -y -q insightd >/dev/null 2>&1 || fail "second purge failed"
left=$(leftovers)
[[ -z $left ]] || fail "purge left: $left"
! c test -e /srv/insightd && ! c getent group insightd >/dev/null || fail "purge with an empty inbox left the inbox or the group"
ok "install after purge starts empty; apt-get purge with an empty inbox leaves no unit, user, group, binary or data"

echo "PASS in $(elapsed)s"
