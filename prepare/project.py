"""Project every joint file of a HumanML3D (or KIT-ML) folder to four 2D views and 2D features.

The original's cameras and 2D features: docs/original_code.md §4.

    python prepare/project.py --data_root DIR [--workers N] [--kit]

Reads DIR/new_joints/<id>.npy ([T, 22, 3] metres; KIT-ML: [T, 21, 3] millimetres) and DIR/train.txt.
Writes under DIR:
    new_joints2d/<id>-<v>.npy               [T, J, 2] float32 joints seen by camera v = 0..3 (frame-0 root at 0)
    new_joints2d_complicate/<id>-<v>.npy    [T-1, 134] float32 2D features ([T-1, 128] with --kit)
    Mean_complicate2d.npy, Std_complicate2d.npy   [134] float32 statistics of the train ids' four views
                                                  (all ids when there is no train.txt; the output says so)
Clips whose eight files exist are skipped, so an interrupted run resumes. Every bad input file
(unreadable, wrong shape, NaN, fewer than 2 frames) is reported with its reason and skipped; the
command then exits with status 1 and a summary. The statistics are recomputed on every run.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from tqdm import tqdm

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crossdiff.errors import EXIT_USER_ERROR, UserError
from crossdiff.io import save_npy
from crossdiff.motion.features2d import project_clip
from crossdiff.motion.features3d import check_positions
from crossdiff.motion.stats import RunningMoments, statistics_from_moments
from crossdiff.skeleton import SKELETONS, Skeleton

VIEWS = 4


@dataclass
class ClipResult:
    clip_id: str
    status: str                                # "written", "skipped" or "failed"
    reason: str = ""
    moments: RunningMoments | None = None      # of the clip's features, when it counts for statistics


@dataclass
class Summary:
    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    statistics_clips: int = 0                  # clips the Mean/Std were computed from (0: not written)


def available_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def load_joints(path: Path, skeleton: Skeleton) -> np.ndarray:
    """A validated joint file [T, J, 3] (T >= 2) as float64; `UserError` saying what is wrong."""
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise UserError(f"{path}: unreadable ({e})") from None
    return check_positions(array, skeleton.joints_num, source=str(path))


def run_clips(work: Callable[[tuple], ClipResult], jobs: list[tuple], workers: int, progress: bool,
              desc: str) -> list[ClipResult]:
    """Run `work` on every job (in `workers` processes), reporting failures as they happen."""
    results = []
    bar = tqdm(total=len(jobs), desc=desc, unit="clip", disable=not progress)

    def collect(result: ClipResult) -> None:
        if result.status == "failed":
            tqdm.write(f"skipped {result.clip_id}: {result.reason}", file=sys.stderr)
        results.append(result)
        bar.update()

    if workers > 1 and len(jobs) > 1:
        import multiprocessing

        chunksize = max(1, min(32, len(jobs) // (8 * workers)))
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for result in pool.imap_unordered(work, jobs, chunksize=chunksize):
                collect(result)
    else:
        for job in jobs:
            collect(work(job))
    bar.close()
    return results


def summarise(results: list[ClipResult]) -> Summary:
    summary = Summary()
    for result in sorted(results, key=lambda r: r.clip_id):
        if result.status == "failed":
            summary.failed[result.clip_id] = result.reason
        else:
            (summary.written if result.status == "written" else summary.skipped).append(result.clip_id)
    return summary


def output_paths(data_root: Path, clip_id: str) -> tuple[list[Path], list[Path]]:
    """(the four new_joints2d files, the four new_joints2d_complicate files) of one clip."""
    return ([data_root / "new_joints2d" / f"{clip_id}-{v}.npy" for v in range(VIEWS)],
            [data_root / "new_joints2d_complicate" / f"{clip_id}-{v}.npy" for v in range(VIEWS)])


def _saved_features(paths: list[Path], width: int) -> list[np.ndarray] | None:
    """The finished clip's four feature arrays, or None if any is missing or unreadable."""
    try:
        features = [np.load(p, allow_pickle=False) for p in paths]
    except (OSError, ValueError, EOFError):
        return None
    return features if all(f.ndim == 2 and f.shape[1] == width for f in features) else None


def project_one(job: tuple[str, str, str, bool]) -> ClipResult:
    """Write one clip's eight files (unless present); with `for_statistics`, also return its moments."""
    data_root, clip_id, skeleton_name, for_statistics = Path(job[0]), job[1], job[2], job[3]
    skeleton = SKELETONS[skeleton_name]
    joints2d_paths, feature_paths = output_paths(data_root, clip_id)
    status, features = "skipped", None
    done = all(p.is_file() for p in joints2d_paths + feature_paths)
    if done and for_statistics:
        features = _saved_features(feature_paths, skeleton.feature_dim_2d)
    try:
        if not done or (for_statistics and features is None):
            views, features = project_clip(load_joints(data_root / "new_joints" / f"{clip_id}.npy", skeleton), skeleton)
            for path, array in zip(joints2d_paths + feature_paths, list(views) + list(features)):
                save_npy(path, array)
            status = "written"
    except UserError as e:
        return ClipResult(clip_id, "failed", str(e))
    except Exception as e:  # keep going: one broken file must not stop a 29k-file run (docs/original_code.md §13.6)
        return ClipResult(clip_id, "failed", f"unexpected {type(e).__name__}: {e}")
    moments = None
    if for_statistics:
        moments = RunningMoments()
        for view in features:
            moments.add(view)
    return ClipResult(clip_id, status, moments=moments)


def statistics_ids(data_root: Path, ids: list[str]) -> set[str]:
    """The train ids with a joint file (all ids, said so, when there is no train.txt)."""
    split = data_root / "train.txt"
    if not split.is_file():
        print(f"no {split}: computing the 2D statistics over all {len(ids)} clips", file=sys.stderr)
        return set(ids)
    listed = {line.strip() for line in split.read_text().splitlines() if line.strip()}
    missing = listed - set(ids)
    if missing:
        print(f"{len(missing)} of {len(listed)} ids in {split} have no new_joints file "
              f"(e.g. {sorted(missing)[0]}); they are left out of the statistics", file=sys.stderr)
    return listed & set(ids)


def write_statistics(data_root: Path, results: list[ClipResult], joints_num: int) -> int:
    """Mean/Std over the clips that returned moments; returns how many clips that was."""
    moments = RunningMoments()
    counted = [r for r in results if r.moments is not None]
    for result in counted:
        moments.merge(result.moments)
    if not counted:
        print("no clip of the statistics set could be projected: Mean/Std_complicate2d.npy not written",
              file=sys.stderr)
        return 0
    mean, std = statistics_from_moments(moments, joints_num, kind="2d")
    save_npy(data_root / "Mean_complicate2d.npy", mean.astype(np.float32))
    save_npy(data_root / "Std_complicate2d.npy", std.astype(np.float32))
    return len(counted)


def main(data_root, workers: int | None = None, kit: bool = False, progress: bool = True) -> Summary:
    """Project every clip of `data_root`, write the 2D statistics; returns what was done."""
    data_root = Path(data_root)
    joints_dir = data_root / "new_joints"
    if not joints_dir.is_dir():
        raise UserError(f"{joints_dir} not found: --data_root must be a HumanML3D-style folder "
                        f"with new_joints/<id>.npy")
    ids = sorted(p.stem for p in joints_dir.glob("*.npy"))
    if not ids:
        raise UserError(f"no .npy files in {joints_dir}")
    workers = available_cpus() if workers is None else workers
    if workers < 1:
        raise UserError(f"--workers {workers}: must be at least 1")
    skeleton = SKELETONS["kit" if kit else "t2m"]
    for_statistics = statistics_ids(data_root, ids)
    jobs = [(str(data_root), clip_id, skeleton.name, clip_id in for_statistics) for clip_id in ids]
    results = run_clips(project_one, jobs, workers, progress, desc="projecting")
    summary = summarise(results)
    summary.statistics_clips = write_statistics(data_root, results, skeleton.joints_num)
    return summary


def report(summary: Summary, data_root) -> int:
    """Print the summary; the exit status is 1 if any file failed or no statistics were written."""
    total = len(summary.written) + len(summary.skipped) + len(summary.failed)
    print(f"{data_root}: {len(summary.written)} clips projected, {len(summary.skipped)} already done, "
          f"{len(summary.failed)} failed of {total}; 2D statistics over {summary.statistics_clips} clips")
    for clip_id, reason in summary.failed.items():
        print(f"  failed {clip_id}: {reason}", file=sys.stderr)
    return 1 if summary.failed or not summary.statistics_clips else 0


def cli(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data_root", required=True, help="HumanML3D-style folder holding new_joints/")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: all CPUs)")
    parser.add_argument("--kit", action="store_true", help="KIT-ML: 21 joints in millimetres, 128-d features")
    args = parser.parse_args(argv)
    try:
        summary = main(args.data_root, workers=args.workers, kit=args.kit)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    return report(summary, args.data_root)


if __name__ == "__main__":
    sys.exit(cli())
