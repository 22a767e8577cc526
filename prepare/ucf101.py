"""Per-video 2D keypoints (ViTPose / MMPose, COCO order) -> the in-the-wild 2D training folder.

The original's folder layout: docs/original_code.md §2.9.

    python prepare/ucf101.py --keypoints DIR --out DIR [--classes TAG ...] [--captions FILE] [--fps 25]
                             [--min_score 0.3] [--max_gap 0.4] [--no_smooth] [--workers N] [--overwrite]

Reads every <video>.npy and <video>.json below --keypoints, one file per video: [T, 17, 3] or
[T, P, 17, 3] arrays of (x, y, score) in pixels, MMPose 1.x prediction files (MMPose's demo names
them results_<video>.json) or COCO keypoint results; crossdiff/keypoints/formats.py describes the
formats. Video names follow UCF101, v_<ClassTag>_gGG_cCC: the class tag is the second '_' field.
Writes under --out:
    complicate_2d/<video>.npy   [N, 268] float32, 40 <= N <= 196 rows at 20 fps: the 134 2D features
                                (docs/original_code.md §4.3) in prepare/project.py's projected units, then a 134-d mask
                                (1 where every joint the feature reads was detected). A video with more
                                rows is cut into near-equal pieces <video>-0.npy, <video>-1.npy, ...
    text.json                   {"<ClassTag>": [caption, ...]} for the selected classes (all 101 by default);
                                --captions FILE (JSON of the same form) replaces our UCF101 captions with
                                your own classes, for other in-the-wild video collections
    report.json                 the settings, the counts and every dropped or failed video with its reason
crossdiff/keypoints/processing.py describes the processing (main person, gaps, 20 fps, joint mapping,
normalisation, mask). Videos with an output are skipped, so an interrupted run resumes (a cut
video's piece 0 is written last); --overwrite redoes them. A video whose motion cannot make a
clip (nobody detected, hips hidden, too short, ...) is dropped with its reason; a file that
cannot be read fails. Exit status 1 when a file failed or no clip exists at all, 2 for usage errors.
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crossdiff.data.inthewild import FEATURES_DIR, TEXT_FILE, class_tag
from crossdiff.keypoints.processing import KeypointSettings, UnusableClip, keypoints_to_clips
from crossdiff.keypoints.formats import find_keypoint_files, read_keypoints
from crossdiff.keypoints.ucf101_captions import UCF101_CAPTIONS, resolve_classes
from crossdiff.errors import EXIT_USER_ERROR, UserError
from crossdiff.io import save_json, save_npy
from prepare import project

REPORT_FILE = "report.json"
EXAMPLES_PER_REASON = 5


@dataclass
class VideoResult:
    clip_id: str                 # the video name (project.run_clips reports by clip_id)
    status: str                  # "written", "skipped", "dropped" or "failed"
    reason: str = ""
    pieces: int = 0


@dataclass
class Summary:
    written: dict[str, int] = field(default_factory=dict)      # video -> clip files written
    skipped: list[str] = field(default_factory=list)           # already done
    dropped: dict[str, str] = field(default_factory=dict)      # video -> why it gives no clip
    failed: dict[str, str] = field(default_factory=dict)       # video -> why its file could not be read
    not_selected: int = 0                                      # videos of classes left out by --classes


def output_files(folder: Path, video: str) -> list[Path]:
    """The clip files of `video` present in `folder` (<video>.npy or its pieces <video>-<i>.npy)."""
    pattern = glob.escape(video)
    return sorted(set(folder.glob(f"{pattern}.npy")) | set(folder.glob(f"{pattern}-*.npy")))


def is_done(folder: Path, video: str) -> bool:
    return (folder / f"{video}.npy").is_file() or (folder / f"{video}-0.npy").is_file()


def write_clips(folder: Path, video: str, clips: list) -> None:
    """One file, or pieces <video>-<i>.npy with piece 0 last: its presence marks the video done."""
    if len(clips) == 1:
        save_npy(folder / f"{video}.npy", clips[0])
        return
    for index in list(range(1, len(clips))) + [0]:
        save_npy(folder / f"{video}-{index}.npy", clips[index])


def prepare_one(job: tuple[str, str, str, KeypointSettings, bool]) -> VideoResult:
    """Write one video's clips (unless done); report why it gives none."""
    path, folder, video, settings, overwrite = Path(job[0]), Path(job[1]), job[2], job[3], job[4]
    if overwrite:
        for stale in output_files(folder, video):
            stale.unlink()
    elif is_done(folder, video):
        return VideoResult(video, "skipped")
    try:
        clips = keypoints_to_clips(read_keypoints(path), settings)
    except UnusableClip as e:
        return VideoResult(video, "dropped", str(e))
    except UserError as e:
        return VideoResult(video, "failed", str(e))
    except Exception as e:  # keep going: one odd file must not stop a 13k-video run
        return VideoResult(video, "failed", f"unexpected {type(e).__name__}: {e}")
    write_clips(folder, video, clips)
    return VideoResult(video, "written", pieces=len(clips))


def _check_settings(settings: KeypointSettings, workers: int) -> None:
    if settings.fps <= 0:
        raise UserError(f"--fps {settings.fps}: the frame rate of the keypoint files must be positive")
    if not 0 <= settings.min_score <= 1:
        raise UserError(f"--min_score {settings.min_score}: a confidence threshold lies in [0, 1]")
    if settings.max_gap < 0:
        raise UserError(f"--max_gap {settings.max_gap}: seconds, at least 0")
    if workers < 1:
        raise UserError(f"--workers {workers}: must be at least 1")


def find_videos(keypoints: Path, out: Path) -> dict[str, Path]:
    """The keypoint files below `keypoints`, leaving out anything inside `out`."""
    if not keypoints.is_dir():
        raise UserError(f"--keypoints {keypoints}: not a folder")
    files = find_keypoint_files(keypoints, exclude=out)
    if not files:
        raise UserError(f"no .npy or .json keypoint files below {keypoints}")
    return files


def read_captions(path) -> dict[str, list[str]]:
    """A --captions file: JSON {"<ClassTag>": ["caption", ...], ...}; errors name the file and the tag."""
    path = Path(path)
    try:
        captions = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"--captions {path}: cannot read it as JSON ({e})") from None
    if not isinstance(captions, dict) or not captions:
        raise UserError(f"--captions {path}: expected an object mapping class tags to caption lists")
    for tag, texts in captions.items():
        if not tag or "_" in tag:
            raise UserError(f"--captions {path}: class tag {tag!r} must be non-empty without '_' "
                            "(it is the second '_' field of v_<ClassTag>_gGG_cCC)")
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t.strip() for t in texts):
            raise UserError(f"--captions {path}: class {tag!r} needs a non-empty list of non-empty captions")
    return captions


def select_classes(classes, captions: dict[str, list[str]] | None) -> list[str]:
    """The selected tags: every class by default; without a --captions file, UCF101 names may be aliases."""
    if captions is None:
        return resolve_classes(classes) if classes else list(UCF101_CAPTIONS)
    unknown = [c for c in classes if c not in captions]
    if unknown:
        raise UserError(f"--classes {' '.join(unknown)}: not in the --captions file (its classes: "
                        f"{', '.join(sorted(captions))})")
    return list(dict.fromkeys(classes)) if classes else list(captions)


def main(keypoints, out, classes=(), settings: KeypointSettings = KeypointSettings(), workers: int = 1,
         overwrite: bool = False, progress: bool = True, captions: dict[str, list[str]] | None = None) -> Summary:
    """Prepare every selected video below `keypoints` into `out`; returns what was done.

    `captions` (class tag -> captions) replaces the UCF101 catalogue.
    """
    keypoints, out = Path(keypoints), Path(out)
    _check_settings(settings, workers)
    catalogue = UCF101_CAPTIONS if captions is None else captions
    selected = select_classes(classes, captions)
    files = find_videos(keypoints, out)
    folder = out / FEATURES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    summary, jobs = Summary(), []
    for video, path in files.items():
        tag = class_tag(Path(video))
        if tag not in catalogue:
            known = "a UCF101 class" if captions is None else "in the --captions file"
            summary.dropped[video] = (f"unknown class: tag {tag!r} is not {known} "
                                      f"(videos are named v_<ClassTag>_gGG_cCC)")
        elif tag not in selected:
            summary.not_selected += 1
        else:
            jobs.append((str(path), str(folder), video, settings, overwrite))
    for result in project.run_clips(prepare_one, jobs, workers, progress, desc="keypoints"):
        if result.status == "written":
            summary.written[result.clip_id] = result.pieces
        elif result.status == "skipped":
            summary.skipped.append(result.clip_id)
        else:
            getattr(summary, result.status)[result.clip_id] = result.reason
    save_json(out / TEXT_FILE, {tag: list(catalogue[tag]) for tag in selected})
    save_json(out / REPORT_FILE, {"settings": asdict(settings), "classes": selected,
                                  "counts": counts(summary), "dropped": dict(sorted(summary.dropped.items())),
                                  "failed": dict(sorted(summary.failed.items()))})
    return summary


def counts(summary: Summary) -> dict[str, int]:
    return {"written": len(summary.written), "clips_written": sum(summary.written.values()),
            "already_done": len(summary.skipped), "dropped": len(summary.dropped),
            "failed": len(summary.failed), "not_selected": summary.not_selected}


def report(summary: Summary, out) -> int:
    """Print the summary (drop reasons grouped); status 1 if a file failed or no clip exists."""
    c = counts(summary)
    print(f"{out}: {c['written']} videos prepared ({c['clips_written']} clips), {c['already_done']} already done, "
          f"{c['dropped']} dropped, {c['failed']} failed, {c['not_selected']} not selected")
    by_reason: dict[str, list[str]] = defaultdict(list)
    for video, reason in sorted(summary.dropped.items()):
        by_reason[reason.split(":")[0]].append(video)
    for reason, videos in sorted(by_reason.items(), key=lambda item: -len(item[1])):
        more = ", ..." if len(videos) > EXAMPLES_PER_REASON else ""
        print(f"  dropped {len(videos)} x {reason}: {', '.join(videos[:EXAMPLES_PER_REASON])}{more}")
    for video, reason in sorted(summary.failed.items()):
        print(f"  failed {video}: {reason}", file=sys.stderr)
    if summary.dropped or summary.failed:
        print(f"  every reason is listed in {Path(out) / REPORT_FILE}")
    return 1 if summary.failed or not (summary.written or summary.skipped) else 0


def cli(argv=None) -> int:
    defaults = KeypointSettings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keypoints", required=True, help="folder with one keypoint file per video")
    parser.add_argument("--out", required=True, help="output folder (data.ucf_root)")
    parser.add_argument("--classes", nargs="+", default=(), help="class tags to prepare (default: all 101)")
    parser.add_argument("--captions", default=None, help="JSON {ClassTag: [captions]} replacing the UCF101 captions")
    parser.add_argument("--fps", type=float, default=defaults.fps, help="frame rate of the keypoint files")
    parser.add_argument("--min_score", type=float, default=defaults.min_score, help="keypoint confidence threshold")
    parser.add_argument("--max_gap", type=float, default=defaults.max_gap, help="seconds of missed detections to fill")
    parser.add_argument("--no_smooth", action="store_true", help="no One-Euro smoothing")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: all CPUs)")
    parser.add_argument("--overwrite", action="store_true", help="redo videos that already have clips")
    args = parser.parse_args(argv)
    settings = KeypointSettings(fps=args.fps, min_score=args.min_score, max_gap=args.max_gap, smooth=not args.no_smooth)
    try:
        captions = None if args.captions is None else read_captions(args.captions)
        summary = main(args.keypoints, args.out, args.classes, settings, overwrite=args.overwrite,
                       workers=project.available_cpus() if args.workers is None else args.workers,
                       captions=captions)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    return report(summary, args.out)


if __name__ == "__main__":
    sys.exit(cli())
