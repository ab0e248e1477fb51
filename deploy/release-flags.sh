# Sourced by run-local.sh, install.sh and build-deb.sh: the one set of flags for a release build, so the three
# share one build instead of rebuilding for each other.
# - --static-swift-stdlib: the Swift runtime and Foundation linked in; the binaries need only Debian's libraries.
# - --disable-local-rpath: no RUNPATH ($ORIGIN is of no use in /usr/bin).
# - lld with packed relative relocations (DT_RELR, glibc 2.36): the loader applies 25 KB of relocations instead
#   of 3 MB, which it otherwise reads and writes at every start (about 2.7 MiB of resident memory).
# - --no-export-dynamic: the executables export no symbols; the dynamic symbol table they no longer carry was
#   read at every start (about 2.5 MiB resident). Nothing loads plugins into insightd or looks symbols up by name.
# - -z now: the GOT is read-only after start (BIND_NOW, as Debian's hardening flags ask).
release_flags=(-c release --static-swift-stdlib --disable-local-rpath -Xswiftc -use-ld=lld
    -Xlinker -z -Xlinker now -Xlinker -z -Xlinker pack-relative-relocs -Xlinker --no-export-dynamic)
