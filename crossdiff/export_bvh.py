"""Joints .npy -> BVH: `python -m crossdiff.export_bvh JOINTS.npy [-o OUT.bvh] [--fps FPS] [--units cm]`.

Reads joint positions `[T, 22, 3]` (metres, y up; generate.py's `.npy` files; a 21-joint KIT-ML
file in millimetres works too), writes a BVH file beside them (or at `-o`) with
`crossdiff.motion.bvh`, and says how closely the BVH's forward kinematics follows the joints: exactly
(< 0.001 mm) when the bone lengths are constant, less so for generated motion whose bones stretch.
Blender: File > Import > Motion Capture (.bvh) with Scale 0.01 for the default centimetres. (Debian's
Blender 3.4 on Python 3.11 fails in its importer's `open(path, 'rU')`; tests/test_bvh.py shows a shim.)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from crossdiff.errors import EXIT_USER_ERROR, UserError
from crossdiff.io import save_text
from crossdiff.motion.bvh import UNITS, bvh_positions, joints_to_bvh, parse_bvh
from crossdiff.skeleton import SKELETONS, skeleton_for_joints


def load_joints(path: Path) -> np.ndarray:
    """The array of a joints .npy file; a missing or unreadable file is a `UserError`."""
    if not path.is_file():
        raise UserError(f"{path}: joints file not found")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise UserError(f"{path}: not a readable .npy array ({error})") from None


def main(joints_path, out=None, fps: float | None = None, units: str = "cm") -> tuple[Path, float]:
    """Write the BVH of `joints_path`; returns (BVH path, max FK deviation from the joints in metres)."""
    joints_path = Path(joints_path)
    joints = load_joints(joints_path)
    skeleton = skeleton_for_joints(joints.shape[1]) if joints.ndim == 3 else SKELETONS["t2m"]
    fps = skeleton.fps if fps is None else fps
    out = joints_path.with_suffix(".bvh") if out is None else Path(out)
    text = joints_to_bvh(joints, fps=fps, skeleton=skeleton, units=units, what=str(joints_path))
    save_text(out, text)
    replayed = bvh_positions(parse_bvh(text, source=str(out)), units=units, names=skeleton.joint_names)
    deviation = float(np.abs(replayed - joints * skeleton.metres_per_unit).max())
    return out, deviation


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m crossdiff.export_bvh", description=__doc__.splitlines()[0])
    parser.add_argument("joints", help="joint positions .npy [T, 22, 3] in metres, y up")
    parser.add_argument("-o", "--out", help="BVH file to write (default: JOINTS with .bvh)")
    parser.add_argument("--fps", type=float, help="frame rate (default: the skeleton's: HumanML3D 20, KIT-ML 12.5)")
    parser.add_argument("--units", choices=sorted(UNITS), default="cm",
                        help="file unit (default cm; import into Blender with Scale 0.01)")
    args = parser.parse_args(argv)
    try:
        out, deviation = main(args.joints, args.out, args.fps, args.units)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    print(f"wrote {out}; its forward kinematics is within {deviation * 1000:.3f} mm of the joints"
          + (" (the bone lengths vary over the motion; a BVH bone cannot stretch)" if deviation > 1e-5 else ""))
    return 0


if __name__ == "__main__":
    sys.exit(cli(sys.argv[1:]))
