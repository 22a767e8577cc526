"""Benchmark the preparation steps on a generated folder: prints clips per second.

    python bench/prepare_bench.py [--clips 300] [--workers 2] [--frames 100 196]

Generates --clips random but plausible clips (FK of the canonical skeleton with smooth random joint
rotations, lengths drawn from --frames) as new_joints/<id>.npy in a temporary folder, then times
    * prepare/project.py's main (4 views + 2D features + statistics), first run and resumed run;
    * joints_to_features + recover_from_ric per clip (the work of prepare/features.py), one process.
The full HumanML3D (about 29k clips with mirrors) in under 10 minutes needs about 50 clips/s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from crossdiff.io import save_npy, save_text  # noqa: E402
from crossdiff.motion.features3d import joints_to_features, recover_from_ric  # noqa: E402
from crossdiff.skeleton import canonical_offsets  # noqa: E402
from motion_helpers import random_clip  # noqa: E402
from prepare import project  # noqa: E402


def make_folder(root: Path, clips: int, frames: tuple[int, int]) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    motions = []
    for i in range(clips):
        joints = random_clip(int(rng.integers(frames[0], frames[1] + 1)), seed=i, turn=float(rng.uniform(-3, 3)))
        save_npy(root / "new_joints" / f"{i:06d}.npy", joints.astype(np.float32))
        motions.append(joints)
    save_text(root / "train.txt", "\n".join(f"{i:06d}" for i in range(int(clips * 0.8))) + "\n")
    return motions


def main(clips: int = 300, workers: int = 2, frames: tuple[int, int] = (100, 196)) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        motions = make_folder(root, clips, frames)
        timings = {}
        for run in ("first", "resumed"):
            start = time.perf_counter()
            summary = project.main(root, workers=workers, progress=False)
            timings[run] = time.perf_counter() - start
            assert not summary.failed
        offsets = canonical_offsets()
        start = time.perf_counter()
        for joints in motions:
            features, _ = joints_to_features(joints, offsets)
            recover_from_ric(features.astype(np.float32), 22)
        timings["features"] = time.perf_counter() - start
    mean_frames = float(np.mean([len(m) for m in motions]))
    print(f"{clips} clips, {mean_frames:.0f} frames on average, {workers} workers")
    print(f"prepare/project.py first run : {clips / timings['first']:7.1f} clips/s ({timings['first']:.2f} s)")
    print(f"prepare/project.py resumed   : {clips / timings['resumed']:7.1f} clips/s ({timings['resumed']:.2f} s)")
    print(f"joints_to_features + recover : {clips / timings['features']:7.1f} clips/s in one process")
    return timings


def cli(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--frames", type=int, nargs=2, default=(100, 196), metavar=("MIN", "MAX"))
    args = parser.parse_args(argv)
    main(args.clips, args.workers, tuple(args.frames))
    return 0


if __name__ == "__main__":
    sys.exit(cli())
