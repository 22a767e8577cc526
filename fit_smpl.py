"""Fit an SMPL body (or the built-in mannequin) to generated joints and save the meshes.

    python fit_smpl.py -f save/NAME/generate/0.npy [--body_model PATH] [--iterations N]
                       [--device cpu|cuda|auto] [--obj] [--gmm gmm_08.pkl]

Reads joints [T, 22, 3] (metres, y up; what generate.py writes). Writes FILE_mesh.npy [T, V, 3],
FILE_smpl.npz (poses, betas, trans, faces, body model) and, with --obj, FILE_obj/frame_XXXX.obj.
The body is --body_model, else data/body_models/smpl/SMPL_NEUTRAL.{npz,pkl}, else the mannequin.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from crossdiff.body.body_model import find_gmm_file, load_body_model
from crossdiff.body.fitting import FitResult, check_joints, fit_joints
from crossdiff.body.outputs import output_stem, save_fit
from crossdiff.body.priors import GMMPosePrior
from crossdiff.errors import EXIT_USER_ERROR, UserError
from crossdiff.runtime import get_logger, resolve_device


def load_joints(path: str | Path) -> np.ndarray:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"-f {path}: file not found")
    try:
        joints = np.load(path, allow_pickle=False)
    except ValueError as e:
        raise UserError(f"{path}: not a plain .npy array of joints ({e})") from e
    return check_joints(joints, str(path))


def main(file: str | Path, body_model: str | Path | None = None, body_folder: str | Path = "data/body_models",
         iterations: int = 200, device: str = "auto", obj: bool = False, gmm: str | Path | None = None,
         progress: bool = True) -> FitResult:
    """Fit, save the meshes and parameters, print the mean joint error; returns the fit."""
    if iterations < 0:
        raise UserError(f"--iterations {iterations}: must be 0 or more")
    log = get_logger()
    joints = load_joints(file)
    device = resolve_device(device)
    body = load_body_model(body_model, body_folder, device, log)
    gmm_path = gmm or find_gmm_file(body_folder)
    prior = GMMPosePrior.load(gmm_path) if gmm_path else None
    log.info("pose prior: %s", f"GMM {gmm_path}" if prior else "joint-angle limits (no gmm_08.pkl)")
    fit = fit_joints(joints, body, iterations=iterations, prior=prior, device=device, progress=progress)
    vertices = body.vertices(fit.poses, fit.betas, fit.trans)
    for path in save_fit(output_stem(file), fit, vertices, body, write_obj=obj, progress=progress):
        log.info("wrote %s", path)
    print(f"mean joint error: {fit.mean_joint_error * 100:.2f} cm over {len(joints)} frames "
          f"(max {fit.joint_error.max() * 100:.2f} cm)")
    return fit


def cli(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-f", "--file", required=True, help="joints .npy [T, 22, 3]")
    parser.add_argument("--body_model", help="SMPL .pkl/.npz (default: search data/body_models, else the mannequin)")
    parser.add_argument("--body_folder", default="data/body_models", help="where SMPL files and the mannequin live")
    parser.add_argument("--iterations", type=int, default=200, help="L-BFGS iterations (0: analytic guess only)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--obj", action="store_true", help="also write one .obj per frame")
    parser.add_argument("--gmm", help="SMPLify's gmm_08.pkl pose prior (default: looked up in --body_folder)")
    args = parser.parse_args(argv)
    try:
        main(args.file, args.body_model, args.body_folder, args.iterations, args.device, args.obj, args.gmm)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(cli())
