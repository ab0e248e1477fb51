#!/usr/bin/env bash
# Builds a release and installs insightd as a systemd service, or removes it again.
#   deploy/install.sh --system     binaries in /usr/local/bin, units (service and socket), sysusers groups
#                                  (insightd, insightd-admin), /etc/insightd/insightd.toml (admin_group
#                                  insightd-admin), inbox /srv/insightd/inbox (group insightd); run as root
#   deploy/install.sh --user       binaries in ~/.local/bin, unit in ~/.config/systemd/user,
#                                  ~/.config/insightd/insightd.toml, inbox ~/Insights
#   deploy/install.sh --system|--user --uninstall
#                                  stops and removes the service and binaries; keeps the database,
#                                  the inbox and the config file (it says where they are)
# Options: --bin-dir DIR installs the binaries in DIR instead of building a release; --no-build installs
#          what .build/release already holds; --no-start does not enable or start the service.
set -euo pipefail
cd "$(dirname "$0")/.."

mode="" uninstall=0 build=1 start=1 from=""
while (($#)); do
    arg=$1; shift
    case $arg in
        --bin-dir) from=$(realpath "${1:?--bin-dir needs a folder}"); shift; build=0 ;;
        --system) mode=system ;;
        --user) mode=user ;;
        --uninstall) uninstall=1 ;;
        --no-build) build=0 ;;
        --no-start) start=0 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $arg; use --system or --user, optionally --uninstall" >&2; exit 2 ;;
    esac
done
[[ -n $mode ]] || { echo "install.sh: say --system (as root) or --user" >&2; exit 2; }

if [[ $mode == system ]]; then
    [[ $(id -u) == 0 ]] || { echo "install.sh: --system needs root; run it with sudo" >&2; exit 1; }
    bindir=/usr/local/bin
    unitdir=/etc/systemd/system
    confdir=/etc/insightd
    systemctl=(systemctl)
else
    [[ -z ${SUDO_USER:-} ]] || { echo "install.sh: --user installs for the calling user; run it without sudo" >&2; exit 1; }
    bindir=$HOME/.local/bin
    unitdir=${XDG_CONFIG_HOME:-$HOME/.config}/systemd/user
    confdir=${XDG_CONFIG_HOME:-$HOME/.config}/insightd
    systemctl=(systemctl --user)
fi

if [[ $uninstall == 1 ]]; then
    if [[ $mode == system ]]; then
        # The socket first: a connection to it would start the service again.
        "${systemctl[@]}" disable --now insightd.socket 2>/dev/null || true
        rm -f "$unitdir/insightd.socket"
    fi
    "${systemctl[@]}" disable --now insightd.service 2>/dev/null || true
    rm -f "$unitdir/insightd.service" "$bindir/insightd" "$bindir/insightctl"
    if [[ $mode == system ]]; then share=/usr/local/share; else share=${XDG_DATA_HOME:-$HOME/.local/share}; fi
    rm -f "$share/bash-completion/completions/insightctl" "$share/zsh/site-functions/_insightctl" \
        "$share/fish/vendor_completions.d/insightctl.fish" "$share/man/man1/insightctl.1" "$share/man/man8/insightd.8"
    if [[ $mode == system ]]; then
        rm -rf "$unitdir/insightd.service.d/resolvers.conf"
        rmdir "$unitdir/insightd.service.d" 2>/dev/null || true
        rm -f /usr/lib/sysusers.d/insightd.conf
        rmdir /run/insightd 2>/dev/null || true   # made by insightd.socket
    fi
    "${systemctl[@]}" daemon-reload || true
    echo "insightd is uninstalled. Kept: the config $confdir/insightd.toml and the data"
    if [[ $mode == system ]]; then
        echo "(database /var/lib/private/insightd, inbox /srv/insightd/inbox, groups insightd and insightd-admin). Remove them by hand if you want."
    else
        echo "(database ${XDG_STATE_HOME:-$HOME/.local/state}/insightd, inbox ~/Insights). Remove them by hand if you want."
    fi
    exit 0
fi

if [[ $build == 1 ]]; then
    # The Swift runtime linked in: the binaries need only Debian's shared libraries, not the toolchain's.
    source deploy/release-flags.sh
    swift build "${release_flags[@]}" --product insightd
    swift build "${release_flags[@]}" --product insightctl
fi
release=${from:-$(swift build -c release --show-bin-path 2>/dev/null || echo .build/release)}
for binary in insightd insightctl; do
    [[ -x $release/$binary ]] || { echo "install.sh: $release/$binary is missing; run without --no-build" >&2; exit 1; }
done

install -d "$bindir" "$unitdir" "$confdir"
install -m 0755 "$release/insightd" "$release/insightctl" "$bindir/"
# Shell completions and the man pages, generated from the binaries' own argument parsers.
if [[ $mode == system ]]; then share=/usr/local/share; else share=${XDG_DATA_HOME:-$HOME/.local/share}; fi
docs=$(mktemp -d)
if deploy/generate-docs.sh "$docs" "$bindir/insightctl" >/dev/null; then
    install -D -m 0644 "$docs/bash/insightctl" "$share/bash-completion/completions/insightctl"
    install -D -m 0644 "$docs/zsh/_insightctl" "$share/zsh/site-functions/_insightctl"
    install -D -m 0644 "$docs/fish/insightctl.fish" "$share/fish/vendor_completions.d/insightctl.fish"
    install -D -m 0644 "$docs/man1/insightctl.1" "$share/man/man1/insightctl.1"
    install -D -m 0644 "$docs/man8/insightd.8" "$share/man/man8/insightd.8"
fi
rm -rf "$docs"
# The sentence-embedding model for the semantic features (pinned and hash-checked); without it they stay off.
if [[ $mode == system ]]; then model_args=(--system); else model_args=(); fi
if ! model_dir=$(deploy/fetch-model.sh "${model_args[@]}"); then
    echo "install.sh: the embedding model is not installed; semantic features stay off until deploy/fetch-model.sh ${model_args[*]} succeeds" >&2
    model_dir=""
fi
if [[ $mode == system ]]; then
    install -m 0644 deploy/insightd.service "$unitdir/insightd.service"
    install -m 0644 deploy/insightd.socket "$unitdir/insightd.socket"
    install -D -m 0644 deploy/insightd.sysusers.conf /usr/lib/sysusers.d/insightd.conf
    systemd-sysusers /usr/lib/sysusers.d/insightd.conf
    # The inbox: members of insightd drop files here; setgid keeps new files in the group.
    install -d -m 2770 -g insightd /srv/insightd /srv/insightd/inbox
    default_inbox=/srv/insightd/inbox
    # The unit allows only public addresses; a resolver on a private address must be allowed by name.
    resolvers=$(awk '/^nameserver/ { print $2 }' /etc/resolv.conf 2>/dev/null | tr '\n' ' ')
    if [[ -n ${resolvers// } ]]; then
        install -d "$unitdir/insightd.service.d"
        printf '# Written by install.sh: the DNS resolvers of /etc/resolv.conf.\n[Service]\nIPAddressAllow=%s\n' "$resolvers" \
            >"$unitdir/insightd.service.d/resolvers.conf"
    fi
else
    sed "s|%h/.local/bin/|$bindir/|g" deploy/insightd.user.service >"$unitdir/insightd.service"
    chmod 0644 "$unitdir/insightd.service"
    default_inbox="~/Insights"
fi
if [[ $mode == system ]]; then admin_group=insightd-admin; else admin_group=""; fi
if [[ ! -e $confdir/insightd.toml ]]; then
    sed -e "s|^# inbox = .*|inbox = \"$default_inbox\"|" -e "s|^admin_group = .*|admin_group = \"$admin_group\"|" \
        config/insightd.toml >"$confdir/insightd.toml"
    chmod 0644 "$confdir/insightd.toml"
    echo "wrote the default config $confdir/insightd.toml"
else
    echo "kept the existing config $confdir/insightd.toml"
fi
"${systemctl[@]}" daemon-reload
if [[ $start == 1 ]]; then
    if [[ $mode == system ]]; then
        "${systemctl[@]}" enable --now insightd.socket insightd.service
    else
        "${systemctl[@]}" enable --now insightd.service
    fi
    "${systemctl[@]}" --no-pager status insightd.service | head -5 || true
fi
units=$unitdir/insightd.service
[[ $mode == system ]] && units+=" and insightd.socket"
echo "installed: $bindir/insightd, $bindir/insightctl, $units; inbox $default_inbox${model_dir:+; model $model_dir}"
[[ $mode == system ]] && echo "add people to the group insightd (usermod -aG insightd NAME) so they can use insightctl and the inbox, and to insightd-admin as well to let them change state (pause, reload, ...)"
exit 0
