"""Readers of per-video 2D keypoint files from ViTPose / MMPose (COCO keypoint order, image pixels).

`read_keypoints(path)` returns `[T, P, K, 3]` float64: T frames, P person slots (the detections of
a frame, in file order), K keypoints and (x, y, score) in image pixels, y pointing down. Empty
person slots and frames without detections have score 0 and NaN coordinates. K is one of
`KEYPOINT_LAYOUTS`: 17 (COCO body), 23 or 133 (COCO-WholeBody: body, then 6 foot points, ...) or
26 (Halpe-26: body, head, neck, hip, then 6 foot points); the first 17 are the COCO body keypoints
in every layout.

Formats, chosen by the suffix and, for JSON, by the structure:

    <video>.npy   [T, K, 3] one person, or [T, P, K, 3] several; (x, y, score) per keypoint.
                  [T, K, 2] or [T, P, K, 2] without scores: finite points count as detected
                  (score 1), NaN points as missing.
    <video>.json  MMPose 1.x, either the demo's `--save-predictions` file
                      {"meta_info": {...}, "instance_info": [FRAME, ...]}     (frame_id from 1)
                  or the inferencer's `pred_out_dir` file
                      [FRAME, ...]                                            (frame_id from 0)
                  with FRAME = {"frame_id": int, "instances": [{"keypoints": [[x, y], ...],
                  "keypoint_scores": [s, ...], "bbox": ..., "bbox_score": ...}, ...]};
                  or COCO keypoint results, as ViTPose and MMPose 0.x evaluation write them:
                      [{"image_id": int, "keypoints": [x1, y1, s1, x2, y2, s2, ...], "score": s}, ...]
                  with image_id the frame number (one entry per detected person).
Frames are counted from the smallest frame number in the file; frame numbers missing in between
are frames without detections. `video_name` strips the demo's `results_` prefix.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from crossdiff.errors import UserError

KEYPOINT_LAYOUTS = {17: "COCO-17", 23: "COCO-WholeBody (body and feet)", 26: "Halpe-26", 133: "COCO-WholeBody"}
SUFFIXES = (".npy", ".json")
DEMO_PREFIX = "results_"       # MMPose's topdown demo names its file results_<video>.json


def video_name(path: Path) -> str:
    """'results_v_Biking_g01_c01.json' -> 'v_Biking_g01_c01' (the stem, without the demo's prefix)."""
    stem = Path(path).stem
    return stem[len(DEMO_PREFIX):] if stem.startswith(DEMO_PREFIX) else stem


def find_keypoint_files(folder: Path, exclude: Path | None = None) -> dict[str, Path]:
    """Video name -> keypoint file for every .npy/.json file below `folder` (sub-folders included).

    Files inside `exclude` (e.g. an output folder placed inside `folder`) are left out.
    """
    found: dict[str, Path] = {}
    excluded = Path(exclude).resolve() if exclude is not None else None
    for path in sorted(p for p in Path(folder).rglob("*") if p.suffix in SUFFIXES and p.is_file()):
        if excluded is not None and path.resolve().is_relative_to(excluded):
            continue
        name = video_name(path)
        if name in found:
            raise UserError(f"two keypoint files for video {name!r}: {found[name]} and {path}; keep one")
        found[name] = path
    return found


def read_keypoints(path) -> np.ndarray:
    """The keypoints of one video file, [T, P, K, 3] float64 (x, y, score); `UserError` if malformed."""
    path = Path(path)
    if path.suffix == ".npy":
        array = _read_npy(path)
    elif path.suffix == ".json":
        array = _read_json(path)
    else:
        raise UserError(f"{path}: unknown keypoint file type {path.suffix!r}; use {' or '.join(SUFFIXES)}")
    if array.shape[2] not in KEYPOINT_LAYOUTS:
        raise UserError(f"{path}: {array.shape[2]} keypoints per person; expected one of "
                        + ", ".join(f"{k} ({name})" for k, name in KEYPOINT_LAYOUTS.items()))
    return array


def _read_npy(path: Path) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise UserError(f"{path}: unreadable ({e})") from None
    if array.ndim == 3:
        array = array[:, None]
    if array.ndim != 4 or array.shape[-1] not in (2, 3) or not np.issubdtype(array.dtype, np.number):
        raise UserError(f"{path}: array of shape {list(array.shape)} ({array.dtype}); expected numbers "
                        f"[T, K, 3] or [T, P, K, 3] with (x, y, score) per keypoint")
    array = array.astype(np.float64)
    if array.shape[-1] == 2:
        detected = np.isfinite(array).all(-1, keepdims=True)
        array = np.concatenate([array, detected.astype(np.float64)], -1)
    missing = ~np.isfinite(array).all(-1)
    array[missing] = (np.nan, np.nan, 0.0)
    return array


def _read_json(path: Path) -> np.ndarray:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"{path}: not readable JSON ({e})") from None
    try:
        if isinstance(data, dict) and "instance_info" in data:
            frames = _mmpose_frames(data["instance_info"])
        elif isinstance(data, list) and data and isinstance(data[0], dict) and "image_id" in data[0]:
            frames = _coco_result_frames(data)
        elif isinstance(data, list):
            frames = _mmpose_frames(data)
        else:
            raise ValueError("expected MMPose predictions or COCO keypoint results")
        return _stack_frames(frames)
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise UserError(f"{path}: not an MMPose prediction file or COCO keypoint result list "
                        f"(see crossdiff/keypoints/formats.py for the formats): {type(e).__name__}: {e}") from None


def _person(keypoints, scores=None) -> np.ndarray:
    """One detection as [K, 3]: keypoints [[x, y], ...] + scores, [[x, y, s], ...] or flat [x, y, s, ...]."""
    points = np.asarray(keypoints, dtype=np.float64)
    if points.ndim == 1:
        if len(points) % 3:
            raise ValueError(f"a flat keypoint list needs 3 numbers per keypoint, got {len(points)}")
        points = points.reshape(-1, 3)
    if points.ndim != 2 or points.shape[1] not in (2, 3):
        raise ValueError(f"keypoints of shape {list(points.shape)}; expected [K, 2] or [K, 3]")
    if scores is not None:
        points = np.concatenate([points[:, :2], np.asarray(scores, dtype=np.float64).reshape(-1, 1)], 1)
    elif points.shape[1] == 2:
        points = np.concatenate([points, np.ones((len(points), 1))], 1)
    return points


def _mmpose_frames(frames: list) -> dict[int, list[np.ndarray]]:
    out: dict[int, list[np.ndarray]] = {}
    for frame in frames:
        people = [_person(i["keypoints"], i.get("keypoint_scores")) for i in frame["instances"]]
        out.setdefault(int(frame["frame_id"]), []).extend(people)
    return out


def _coco_result_frames(results: list) -> dict[int, list[np.ndarray]]:
    out: dict[int, list[np.ndarray]] = {}
    for result in results:
        out.setdefault(int(result["image_id"]), []).append(_person(result["keypoints"]))
    return out


def _stack_frames(frames: dict[int, list[np.ndarray]]) -> np.ndarray:
    """{frame number: detections [K, 3]} -> [T, P, K, 3] with empty slots (NaN, NaN, 0)."""
    sizes = {len(p) for people in frames.values() for p in people}
    if len(sizes) > 1:
        raise ValueError(f"persons with different keypoint counts {sorted(sizes)}")
    keypoints = sizes.pop() if sizes else 17
    first = min(frames, default=0)
    count = max(frames, default=-1) - first + 1
    slots = max((len(people) for people in frames.values()), default=0)
    array = np.full((count, max(slots, 1), keypoints, 3), np.nan)
    array[..., 2] = 0.0
    for number, people in frames.items():
        for slot, person in enumerate(people):
            array[number - first, slot] = person
    missing = ~np.isfinite(array).all(-1)
    array[missing] = (np.nan, np.nan, 0.0)
    return array
