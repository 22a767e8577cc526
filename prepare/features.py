"""Turn any folder of joint sequences into HumanML3D feature files (the HumanML3D preprocessing).

    python prepare/features.py --joints_dir DIR --out OUT [--target_skeleton FILE] [--kit] [--workers N]

Reads DIR/<id>.npy: [T, 22, 3] joint positions in the T2M joint order, metres, y up, 20 fps
(with --kit: [T, 21, 3] KIT-ML joints in millimetres, 12.5 fps).
Writes under OUT:
    new_joint_vecs/<id>.npy   [T-1, 263] float32 features ([T-1, 251] with --kit)
    new_joints/<id>.npy       [T-1, 22, 3] float32 joints recovered from those features, as in HumanML3D
Every clip is retargeted onto one skeleton: frame 0 of --target_skeleton (a joints file [T, J, 3] or
[J, 3]; HumanML3D uses its clip 000021, KIT-ML its clip 03950) sets the bone lengths. Without it the
built-in canonical skeleton is used, and the output says so. Clips whose two files exist are
skipped (re-running resumes); bad input files are reported with their reason and skipped, and the
command then exits with status 1. Then run prepare/project.py --data_root OUT for the 2D files.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crossdiff.errors import EXIT_USER_ERROR, UserError
from crossdiff.io import save_npy
from crossdiff.motion.features3d import joints_to_features, recover_from_ric
from crossdiff.skeleton import SKELETONS, Skeleton, canonical_offsets, offsets_from_joints
from prepare.project import ClipResult, Summary, available_cpus, load_joints, run_clips, summarise


def target_offsets(path, skeleton: Skeleton) -> np.ndarray:
    """[J, 3] offsets from frame 0 of a target skeleton file, or the canonical ones when `path` is None."""
    if path is None:
        print(f"no --target_skeleton: retargeting onto the built-in canonical {skeleton.name} skeleton "
              f"(HumanML3D used clip {skeleton.target_id}; results differ slightly from its files)", file=sys.stderr)
        return canonical_offsets(skeleton)
    path = Path(path)
    try:
        joints = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise UserError(f"--target_skeleton {path}: unreadable ({e})") from None
    first = joints[0] if joints.ndim == 3 else joints
    if first.shape != (skeleton.joints_num, 3) or not np.isfinite(first).all():
        raise UserError(f"--target_skeleton {path}: expected finite joints [T, {skeleton.joints_num}, 3] or "
                        f"[{skeleton.joints_num}, 3], got shape {list(joints.shape)}")
    offsets = offsets_from_joints(first, skeleton)
    if np.linalg.norm(offsets[list(skeleton.leg_joints)], axis=-1).min() <= 0:
        raise UserError(f"--target_skeleton {path}: the first frame's leg bones have zero length")
    return offsets


def output_paths(out: Path, clip_id: str) -> tuple[Path, Path]:
    return out / "new_joint_vecs" / f"{clip_id}.npy", out / "new_joints" / f"{clip_id}.npy"


def features_one(job: tuple[str, str, str, str, np.ndarray]) -> ClipResult:
    """Write one clip's features and recovered joints, unless both files exist."""
    joints_dir, out, clip_id, skeleton_name, offsets = Path(job[0]), Path(job[1]), job[2], job[3], job[4]
    skeleton = SKELETONS[skeleton_name]
    vecs_path, joints_path = output_paths(out, clip_id)
    if vecs_path.is_file() and joints_path.is_file():
        return ClipResult(clip_id, "skipped")
    try:
        features, _ = joints_to_features(load_joints(joints_dir / f"{clip_id}.npy", skeleton), offsets, skeleton)
        features = features.astype(np.float32)
        save_npy(vecs_path, features)
        save_npy(joints_path, recover_from_ric(features, skeleton.joints_num).astype(np.float32))
    except UserError as e:
        return ClipResult(clip_id, "failed", str(e))
    except Exception as e:  # keep going over the other files; the summary lists this one
        return ClipResult(clip_id, "failed", f"unexpected {type(e).__name__}: {e}")
    return ClipResult(clip_id, "written")


def main(joints_dir, out, target_skeleton=None, kit: bool = False, workers: int | None = None,
         progress: bool = True) -> Summary:
    """Convert every <id>.npy of `joints_dir`; returns what was done."""
    joints_dir, out = Path(joints_dir), Path(out)
    if not joints_dir.is_dir():
        raise UserError(f"--joints_dir {joints_dir} is not a folder")
    ids = sorted(p.stem for p in joints_dir.glob("*.npy"))
    if not ids:
        raise UserError(f"no .npy files in {joints_dir}")
    workers = available_cpus() if workers is None else workers
    if workers < 1:
        raise UserError(f"--workers {workers}: must be at least 1")
    skeleton = SKELETONS["kit" if kit else "t2m"]
    offsets = target_offsets(target_skeleton, skeleton)
    jobs = [(str(joints_dir), str(out), clip_id, skeleton.name, offsets) for clip_id in ids]
    return summarise(run_clips(features_one, jobs, workers, progress, desc="features"))


def cli(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--joints_dir", required=True, help="folder of <id>.npy joint sequences [T, 22, 3]")
    parser.add_argument("--out", required=True, help="dataset folder to write new_joints/ and new_joint_vecs/ into")
    parser.add_argument("--target_skeleton", default=None, help="joints file whose first frame sets the bone lengths")
    parser.add_argument("--kit", action="store_true", help="KIT-ML: 21 joints in millimetres, 251-d features")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: all CPUs)")
    args = parser.parse_args(argv)
    try:
        summary = main(args.joints_dir, args.out, args.target_skeleton, args.kit, args.workers)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    print(f"{args.out}: {len(summary.written)} clips converted, {len(summary.skipped)} already done, "
          f"{len(summary.failed)} failed")
    for clip_id, reason in summary.failed.items():
        print(f"  failed {clip_id}: {reason}", file=sys.stderr)
    return 1 if summary.failed else 0


if __name__ == "__main__":
    sys.exit(cli())
