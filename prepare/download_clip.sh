#!/usr/bin/env bash
# CLIP ViT-B/32 weights -> data/clip/ViT-B-32.pt (text_encoder.clip_path). Checked by sha256.
KIND=clip; DEST="${1:-data/clip}"
source "$(dirname "$0")/download_common.sh"
# The URL and its sha256 come from the installed `clip` package's own model table.
url=$(grep -o 'https://[^"]*ViT-B-32.pt' "$("$PY" -c 'import importlib.util as u; print(u.find_spec("clip").submodule_search_locations[0])')/clip.py")
sha=$(echo "$url" | awk -F/ '{print $(NF-1)}')
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fetch "$url" "$tmp/ViT-B-32.pt"
sha256_is "$tmp/ViT-B-32.pt" "$sha"
install_checked "$tmp"
