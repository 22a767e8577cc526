#!/usr/bin/env bash
# GloVe vocabulary of the T2M evaluators -> data/glove/{our_vab_data.npy,our_vab_words.pkl,our_vab_idx.pkl}.
KIND=glove; DEST="${1:-data/glove}"
source "$(dirname "$0")/download_common.sh"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fetch_gdrive 1cmXKUT31pqd7_XpJAiWEo1K81TMYHA5n "$tmp/glove.zip"
"$PY" -m zipfile -e "$tmp/glove.zip" "$tmp/unzipped"
src=$(dirname "$(find "$tmp/unzipped" -name our_vab_data.npy | head -1)")
install_checked "$src"
