"""Start Blender from plain Python: find the executable, pass an ffmpeg binary, explain what is missing.

`python render_blender.py --file X` (no bpy in this interpreter) re-runs the same script as
`blender --background --python render_blender.py -- --file X --ffmpeg <path>`. Blender's own
Python has no imageio, so the ffmpeg binary of imageio-ffmpeg is located here and handed over.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from crossdiff.errors import UserError

INSTALL_HELP = (
    "Blender was not found. Install it with one of:\n"
    "  Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y --no-install-recommends blender python3-numpy\n"
    "  any OS:        download Blender 3.4 or newer from https://www.blender.org/download/ and pass --blender PATH\n"
    "  pip:           pip install bpy  (the wheel needs the matching Python version, e.g. 3.11 for bpy 4.x),\n"
    "                 then run `python render_blender.py ...` with that Python"
)
# Where installers put Blender when it is not on PATH.
COMMON_LOCATIONS = (
    "/usr/bin/blender", "/snap/bin/blender", "/opt/blender/blender",
    "/Applications/Blender.app/Contents/MacOS/Blender",
    "C:/Program Files/Blender Foundation/Blender/blender.exe",
)


def find_blender(explicit: str | None = None) -> str:
    """Path of the Blender executable: `explicit`, else PATH, else common install locations."""
    if explicit:
        if shutil.which(explicit) is None and not Path(explicit).is_file():
            raise UserError(f"--blender {explicit}: no such executable.\n{INSTALL_HELP}")
        return explicit
    found = shutil.which("blender") or next((p for p in COMMON_LOCATIONS if Path(p).is_file()), None)
    if found is None:
        raise UserError(INSTALL_HELP)
    return found


def find_ffmpeg() -> str | None:
    """An ffmpeg binary: on PATH, else the one shipped with imageio-ffmpeg, else None."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    return imageio_ffmpeg.get_ffmpeg_exe()


def blender_command(script: str | Path, args: list[str], blender: str) -> list[str]:
    """The command line that runs `script` with `args` inside Blender, headless."""
    return [blender, "--background", "--factory-startup", "--python-exit-code", "2",
            "--python", str(script), "--", *args]


def run_in_blender(script: str | Path, args: list[str], blender: str | None = None) -> int:
    """Run `script` under Blender with `args` (plus --ffmpeg when one is found); returns its exit code."""
    executable = find_blender(blender)
    if "--ffmpeg" not in args and not any(a.startswith("--ffmpeg=") for a in args):
        ffmpeg = find_ffmpeg()
        args = [*args, "--ffmpeg", ffmpeg] if ffmpeg else args
    result = subprocess.run(blender_command(script, args, executable))
    if result.returncode != 0:
        print(f"render_blender: Blender exited with code {result.returncode}", file=sys.stderr)
    return result.returncode
