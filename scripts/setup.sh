#!/usr/bin/env bash
# One-command set-up: creates .venv and installs the pinned requirements.
# Idempotent: a second run with unchanged requirements returns in well under a second.
#   bash scripts/setup.sh            # Python environment
#   bash scripts/setup.sh --blender  # also Debian's blender + python3-numpy (needs root/apt)
#   bash scripts/setup.sh --browser  # also Debian's chromium for the web demo's browser tests (root/apt)
# The two flags combine: bash scripts/setup.sh --blender --browser
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.requirements.sha256
want=$(cat requirements.txt scripts/setup.sh | sha256sum | cut -d' ' -f1)

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
if [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  echo "[setup] installing pinned requirements into $VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  # torch is pinned to the CPU build; never let the resolver choose a torch on its own.
  "$VENV/bin/pip" install --quiet -r requirements.txt
  # clip-anytorch declares torchvision (and through it another torch); we only need its text tower.
  "$VENV/bin/pip" install --quiet --no-deps clip-anytorch==2.6.0
  "$VENV/bin/pip" install --quiet --no-deps --no-build-isolation -e .
  echo "$want" > "$STAMP"
else
  echo "[setup] $VENV is up to date"
fi

want_blender=no want_browser=no
for flag in "$@"; do
  case "$flag" in
    --blender) want_blender=yes ;;
    --browser) want_browser=yes ;;
    *) echo "[setup] unknown option $flag (use --blender and/or --browser)" >&2; exit 2 ;;
  esac
done

if [ "$want_blender" = yes ]; then
  if command -v blender >/dev/null 2>&1; then
    echo "[setup] blender present: $(blender --version 2>/dev/null | head -1)"
  else
    echo "[setup] installing Debian blender and python3-numpy"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends blender python3-numpy >/dev/null
  fi
fi

# Playwright drives this browser (executable_path=/usr/bin/chromium): `playwright install` needs a
# download site that is unreachable here, Debian's package is not.
if [ "$want_browser" = yes ]; then
  if [ -x /usr/bin/chromium ]; then
    echo "[setup] chromium present: $(/usr/bin/chromium --version 2>/dev/null | head -1)"
  else
    echo "[setup] installing Debian chromium"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends chromium >/dev/null
  fi
fi
