# Sourced by run-local.sh, install.sh and build-deb.sh: the one set of flags for a release build, so the three
# share one build instead of rebuilding for each other.
# - --static-swift-stdlib: the Swift runtime and Foundation linked in; the binaries need only Debian's libraries.
# - --disable-local-rpath: no RUNPATH ($ORIGIN is of no use in /usr/bin).
# - lld with packed relative relocations (DT_RELR, glibc 2.36): the loader applies 25 KB of relocations instead
#   of 3 MB, which it otherwise reads and writes at every start (about 2.7 MiB of resident memory).
# - --no-export-dynamic: the executables export no symbols; the dynamic symbol table they no longer carry was
#   read at every start (about 2.5 MiB resident). Nothing loads plugins into insightd or looks symbols up by name.
# - -z now: the GOT is read-only after start (BIND_NOW, as Debian's hardening flags ask).
# - Every function in a section of its own (Swift and C), and deploy/insightd.order: the functions a daemon runs
#   while it starts, idles and ingests its first files go side by side at the start of the code, so it touches a
#   few MiB of its code rather than pages all over it (deploy/make-order.sh writes the list; names not found are
#   skipped, so a stale list costs memory, never correctness).
release_flags=(-c release --static-swift-stdlib --disable-local-rpath -Xswiftc -use-ld=lld
    -Xlinker -z -Xlinker now -Xlinker -z -Xlinker pack-relative-relocs -Xlinker --no-export-dynamic
    -Xswiftc -Xfrontend -Xswiftc -function-sections -Xcc -ffunction-sections
    -Xlinker "--symbol-ordering-file=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/insightd.order"
    -Xlinker --no-warn-symbol-ordering)
