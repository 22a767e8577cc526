#!/usr/bin/env bash
# CrossDiff's t2m bundle -> data/t2m/: Mean/Std (3D and 2D), mean_eval/std_eval, all/upper/lower.tar evaluators.
KIND=t2m; DEST="${1:-data/t2m}"
source "$(dirname "$0")/download_common.sh"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fetch_gdrive 1rcYjuawHqq5Z229rIR_dgfTmELNgst0O "$tmp/t2m.zip"
"$PY" -m zipfile -e "$tmp/t2m.zip" "$tmp/unzipped"
src=$(dirname "$(find "$tmp/unzipped" -name Mean.npy | head -1)")
install_checked "$src"
