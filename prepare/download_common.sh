# Shared helpers for prepare/download_*.sh (sourced, not run).
# Downloads go to a temporary folder first; files are moved into place only after they were
# fetched completely and passed the layout check, so an interrupted download leaves nothing half-written.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PY:-$REPO/.venv/bin/python}"
[ -x "$PY" ] || PY=python3
TIMEOUT="${CROSSDIFF_DOWNLOAD_TIMEOUT:-30}"

fail() { echo "error: $*" >&2; exit 1; }

# fetch URL OUT: download with curl; a clear message when offline.
fetch() {
  local url="$1" out="$2"
  echo "  downloading $(basename "$out") ..."
  if ! curl -fsSL --retry 1 --connect-timeout "$TIMEOUT" -o "$out" "$url"; then
    rm -f "$out"
    fail "could not download $url
       This machine may be offline. Download the file on a connected machine and place it as
       described in data/README.md, then run: $PY -m prepare.check_assets $KIND $DEST"
  fi
}

# fetch_gdrive ID OUT: a public Google Drive file by id (large files need the confirm flag).
fetch_gdrive() {
  fetch "https://drive.usercontent.google.com/download?id=$1&export=download&confirm=t" "$2"
}

# sha256_is FILE HEX
sha256_is() {
  local got
  got=$(sha256sum "$1" | cut -d' ' -f1)
  [ "$got" = "$2" ] || fail "$1: sha256 $got does not match the expected $2 (corrupt or changed download; delete it and retry)"
}

# install_checked TMPDIR: check the layout in TMPDIR, then move its files into $DEST.
install_checked() {
  "$PY" -m prepare.check_assets "$KIND" "$1" || fail "the downloaded $KIND files do not have the expected layout"
  mkdir -p "$DEST"
  cp -r "$1"/. "$DEST"/
  "$PY" -m prepare.check_assets "$KIND" "$DEST"
  echo "done: $KIND files are in $DEST"
}
