#!/usr/bin/env bash
# SMPL body files (licence: register at the SMPL website first) -> data/body_models/smpl/ (SMPL_NEUTRAL.pkl, ...).
KIND=smpl; DEST="${1:-data/body_models/smpl}"
source "$(dirname "$0")/download_common.sh"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fetch_gdrive 1INYlGA76ak_cKGzvpOV2Pe6RkYTlXTW2 "$tmp/smpl.zip"
"$PY" -m zipfile -e "$tmp/smpl.zip" "$tmp/unzipped"
src=$(dirname "$(find "$tmp/unzipped" -name 'SMPL_NEUTRAL.pkl' | head -1)")
install_checked "$src"
