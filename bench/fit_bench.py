"""Benchmark fit_smpl's fitting: time and mean joint error for 196-frame synthetic motions.

    python bench/fit_bench.py [--frames 196] [--iterations 200] [--clips 3] [--noise 0.005] [--device cpu]

Each clip is posed by the mannequin itself (smooth random poses, bent knees and elbows, a turn,
random body shape) plus Gaussian joint noise of --noise metres, like a generator's jitter. The fit
starts from the analytic guess and sees only the joints. Prints one line per clip and a summary.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crossdiff.body.body_model import load_body_model  # noqa: E402
from crossdiff.body.fitting import fit_joints  # noqa: E402
from tests.body_helpers import motion_from_body  # noqa: E402


def main(frames: int = 196, iterations: int = 200, clips: int = 3, noise: float = 0.005, device: str = "cpu") -> list[dict]:
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as folder:
        body = load_body_model(None, folder, device)
        rows = []
        for seed in range(clips):
            joints, _, _ = motion_from_body(body, frames, seed)
            joints = joints + np.random.default_rng(seed).normal(scale=noise, size=joints.shape)
            start = time.perf_counter()
            fit = fit_joints(joints, body, iterations=iterations, device=device, progress=False)
            fitted = time.perf_counter()
            body.vertices(fit.poses, fit.betas, fit.trans)
            done = time.perf_counter()
            rows.append({"seed": seed, "fit_s": fitted - start, "mesh_s": done - fitted,
                         "error_cm": fit.mean_joint_error * 100, "max_cm": float(fit.joint_error.max() * 100)})
            print(f"clip {seed}: {frames} frames, fit {rows[-1]['fit_s']:.2f} s + mesh {rows[-1]['mesh_s']:.2f} s, "
                  f"mean joint error {rows[-1]['error_cm']:.2f} cm (max {rows[-1]['max_cm']:.2f} cm)")
    total = np.mean([r["fit_s"] + r["mesh_s"] for r in rows])
    print(f"mean over {clips} clips: {total:.2f} s per {frames}-frame clip, "
          f"mean joint error {np.mean([r['error_cm'] for r in rows]):.2f} cm "
          f"(goal: < 60 s and < 2 cm; joint noise {noise * 100:.1f} cm, {body.name}, {device})")
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=196)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--clips", type=int, default=3)
    parser.add_argument("--noise", type=float, default=0.005, help="joint noise std in metres")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    main(args.frames, args.iterations, args.clips, args.noise, args.device)
