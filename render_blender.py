"""Render a fitted body (`_mesh.npy`) or a joints `.npy` with Blender.

    blender --background --python render_blender.py -- --file=OUT/0_mesh.npy [--mode video]
    python render_blender.py --file OUT/0_mesh.npy     # finds Blender itself (or uses the bpy wheel)

Only the arguments after `--` are read (Blender's own flags come before it; docs/original_code.md §13.21).
Writes `<stem>_blender.mp4` (video), `<stem>_sequence.png` or `<stem>_frame.png` beside the input
unless --out is given. Works with Blender 3.4+ and 4.x and with the `bpy` wheel.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

# Blender's Python does not know this repository: make `crossdiff` importable from here.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from crossdiff.errors import EXIT_USER_ERROR, UserError  # noqa: E402

LENS_MM = 50.0


def _resolution(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT, e.g. 1280x1024") from None
    if width < 16 or height < 16:
        raise argparse.ArgumentTypeError(f"{text!r}: at least 16x16 pixels")
    return width, height


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="render_blender.py", description=__doc__.split("\n")[0])
    parser.add_argument("--file", required=True, type=Path, help="a _mesh.npy [T,V,3] or joints .npy [T,22,3]")
    parser.add_argument("--out", type=Path, help="output .mp4 (video) or .png (sequence, frame)")
    parser.add_argument("--mode", choices=("video", "sequence", "frame"), default="video")
    parser.add_argument("--resolution", type=_resolution, default=(1280, 1024), help="WIDTHxHEIGHT")
    parser.add_argument("--samples", type=int, default=64, help="render samples per pixel")
    parser.add_argument("--engine", choices=("CYCLES", "EEVEE"), default="CYCLES",
                        help="EEVEE needs a GPU/display; headless servers use CYCLES")
    parser.add_argument("--device", choices=("CPU", "GPU"), default="CPU", help="Cycles device")
    parser.add_argument("--faces", type=Path, help="faces for a _mesh.npy (default: the matching _smpl.npz)")
    parser.add_argument("--frame", type=int, default=0, help="frame index for --mode frame")
    parser.add_argument("--ffmpeg", help="ffmpeg binary for the mp4 (default: PATH, else Blender's encoder)")
    parser.add_argument("--keep_frames", action="store_true", help="keep the PNG frames in <stem>_frames/")
    parser.add_argument("--blender", help="Blender executable (only when started from plain Python)")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    """Render inside Blender / with bpy; from plain Python, re-run this script under Blender."""
    args = parse_args(argv)
    try:
        import bpy  # noqa: F401  (only present inside Blender or with the bpy wheel)
    except ImportError:
        from crossdiff.render.blender_inputs import load_sequence
        from crossdiff.render.blender_launch import run_in_blender

        load_sequence(args.file, args.faces)            # report bad input before starting Blender
        forwarded = [a for a in argv if not a.startswith("--blender")]
        if args.blender and args.blender in forwarded:
            forwarded.remove(args.blender)
        return run_in_blender(Path(__file__).resolve(), forwarded, args.blender)
    return render_here(args)


def render_here(args: argparse.Namespace) -> int:
    """Check and prepare the input with numpy, then build and render the Blender scene."""
    from crossdiff.render.blender_inputs import camera_track, default_output, field_of_view, load_sequence
    from crossdiff.render.blender_scene import RenderOptions, render

    sequence = load_sequence(args.file, args.faces)
    if args.mode == "frame" and not 0 <= args.frame < len(sequence.vertices):
        raise UserError(f"--frame {args.frame}: {args.file} has frames 0..{len(sequence.vertices) - 1}")
    if args.samples < 1:
        raise UserError(f"--samples {args.samples}: must be at least 1")
    if args.ffmpeg and shutil.which(args.ffmpeg) is None:
        raise UserError(f"--ffmpeg {args.ffmpeg}: not an executable (omit it to use ffmpeg on PATH or Blender's encoder)")
    track = camera_track(sequence.vertices, field_of_view(args.resolution, LENS_MM), follow=args.mode != "sequence")
    out = (args.out or default_output(args.file, args.mode)).resolve()
    options = RenderOptions(out=out, fps=sequence.fps, mode=args.mode, resolution=args.resolution,
                            samples=args.samples, engine=args.engine, device=args.device, lens_mm=LENS_MM, frame=args.frame,
                            ffmpeg=args.ffmpeg, keep_frames=args.keep_frames)
    print(f"render_blender: wrote {render(sequence, track, options)}")
    return 0


def cli() -> int:
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]
    try:
        return main(argv)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(cli())
