#!/usr/bin/env bash
# The three released CrossDiff checkpoints -> data/checkpoints/ (bare state_dicts; names as downloaded).
KIND=checkpoints; DEST="${1:-data/checkpoints}"
source "$(dirname "$0")/download_common.sh"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
n=0
for id in 1pKSpIuYES6-ToJPPowwps9LIb_xzTMLE 13C26tAg2aBU60mwU63DR4dbU_bWvLDWP 1oMdt1Z8jBulXTqjm8y9or5jBx0IMmzwp; do
  n=$((n + 1))
  fetch_gdrive "$id" "$tmp/checkpoint$n.download"
  # A torch checkpoint is itself a zip (with a data.pkl entry); anything else zipped is an archive to unpack.
  if "$PY" -m zipfile -l "$tmp/checkpoint$n.download" 2>/dev/null | grep -q 'data.pkl'; then
    mv "$tmp/checkpoint$n.download" "$tmp/checkpoint$n.pt"
  elif "$PY" -m zipfile -l "$tmp/checkpoint$n.download" >/dev/null 2>&1; then
    "$PY" -m zipfile -e "$tmp/checkpoint$n.download" "$tmp/" && rm "$tmp/checkpoint$n.download"
  else
    mv "$tmp/checkpoint$n.download" "$tmp/checkpoint$n.pt"
  fi
done
install_checked "$tmp"
