"""Synthetic detector output from 3D joints: the test bed of the in-the-wild path (prepare/ucf101.py).

`hml3d_positions(seed, index)` is a synthetic clip in HumanML3D's `new_joints` convention (the
joints the 2D training data are projected from). `coco_points_3d` places the COCO-17 body points a
detector would report on such joints (the face points around the head joint, from the body's
heading). `synthetic_detections` turns a clip into the keypoint file of a "video": resampled to
the video frame rate, seen by camera `view` of docs/original_code.md §4.1, in image pixels with y down, with
position noise, low-confidence misses, frames without any detection, a limb keypoint hidden
for a while and an optional second, smaller person. The features of the clean projection,
`features_2d(project_views(positions)[view])`, are then the ground truth for what
prepare/ucf101.py recovers from the detections.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crossdiff.keypoints.processing import DIRECT
from crossdiff.keypoints.timing import resample
from crossdiff.motion.features2d import project_views
from crossdiff.motion.features3d import joints_to_features, recover_from_ric
from crossdiff.skeleton import SKELETONS
from crossdiff.synthetic.generator import generate_clip, target_offsets

LIMB_KEYPOINTS = (7, 8, 9, 10, 13, 14, 15, 16)           # COCO elbows, wrists, knees, ankles
# Face points in metres in the head's frame (forward, up, left); the ears' midpoint is the head joint.
FACE_OFFSETS = np.array([(0.10, 0.00, 0.0), (0.08, 0.035, 0.032), (0.08, 0.035, -0.032),
                         (0.0, 0.0, 0.075), (0.0, 0.0, -0.075)])


@dataclass(frozen=True)
class DetectorModel:
    """How the synthetic detections differ from the truth."""

    pixels_per_unit: float = 250.0          # image scale: a 1.75 m person is about 230 px tall
    image_centre: tuple[float, float] = (320.0, 240.0)
    noise_px: float = 1.5                   # Gaussian position noise of detected keypoints
    miss_rate: float = 0.05                 # share of keypoints reported with a low score at a wrong place
    dropped_runs: int = 2                   # interior runs of frames in which nobody is detected
    dropped_length: int = 3                 # frames per run
    occluded: float = 1.0                   # seconds during which one limb keypoint is hidden (too long to fill)
    distractor: bool = True                 # a second, smaller person in every frame


def hml3d_positions(seed: int, index: int) -> np.ndarray:
    """Synthetic clip `index` as HumanML3D new_joints [T, 22, 3] (frame-0 root above the origin, facing +z)."""
    clip = generate_clip(seed, index)
    features, _ = joints_to_features(clip.positions, target_offsets())
    return recover_from_ric(features, SKELETONS["t2m"].joints_num)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def coco_points_3d(positions: np.ndarray) -> np.ndarray:
    """COCO-17 body points of T2M joints, [T, 22, 3] -> [T, 17, 3]."""
    sk = SKELETONS["t2m"]
    r_hip, l_hip, r_shoulder, l_shoulder = sk.face_joints
    across = positions[:, r_hip] - positions[:, l_hip] + positions[:, r_shoulder] - positions[:, l_shoulder]
    up = _unit(positions[:, 15] - positions[:, 12])
    forward = _unit(np.cross(-across, up))
    left = np.cross(up, forward)
    points = np.zeros((len(positions), 17, 3))
    for joint, keypoint in DIRECT.items():
        points[:, keypoint] = positions[:, joint]
    frame = np.stack([forward, up, left], 1)                              # [T, 3 axes, 3]
    points[:, :5] = positions[:, 15:16] + np.einsum("fa,tac->tfc", FACE_OFFSETS, frame)
    return points


def _to_pixels(points: np.ndarray, view: int, model: DetectorModel, scale: float = 1.0,
               shift: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """3D points [T, N, 3] -> image pixels [T, N, 2] of camera `view` (y down)."""
    uv = project_views(points)[view] * scale + np.asarray(shift)
    return np.asarray(model.image_centre) + model.pixels_per_unit * uv * np.array([1.0, -1.0])


def synthetic_detections(positions: np.ndarray, view: int, fps: float, rng: np.random.Generator,
                         model: DetectorModel = DetectorModel()) -> np.ndarray:
    """The keypoint file of a video of `positions [T, 22, 3]` (20 fps): [T', P, 17, 3] (x, y, score).

    Misses and dropped frames spare the first and last frames, so the whole clip stays usable.
    """
    source_fps = SKELETONS["t2m"].fps
    flat = positions.reshape(len(positions), -1)
    moved, _ = resample(flat, np.ones(flat.shape, bool), source_fps, fps)
    points = coco_points_3d(moved.reshape(len(moved), -1, 3))
    frames = len(points)
    person = np.concatenate([_to_pixels(points, view, model), rng.uniform(0.6, 1.0, (frames, 17, 1))], -1)
    person[..., :2] += rng.normal(0.0, model.noise_px, (frames, 17, 2))
    missed = rng.random((frames, 17)) < model.miss_rate
    missed[[0, -1]] = False
    person[missed, 2] = rng.uniform(0.0, 0.2, missed.sum())
    person[missed, :2] += rng.normal(0.0, 20.0, (missed.sum(), 2))
    for start in rng.integers(1, max(frames - model.dropped_length - 1, 2), model.dropped_runs):
        person[start:start + model.dropped_length] = (np.nan, np.nan, 0.0)
    hidden = int(round(model.occluded * fps))
    if 0 < hidden < frames - 2:
        start = rng.integers(1, frames - hidden - 1)
        person[start:start + hidden, rng.choice(LIMB_KEYPOINTS), 2] = 0.05
    people = [person]
    if model.distractor:
        other = _to_pixels(points[::-1], (view + 2) % 4, model, scale=0.7, shift=(1.2, 0.0))
        people.append(np.concatenate([other, rng.uniform(0.5, 0.9, (frames, 17, 1))], -1))
    stacked = np.stack(people, 1)
    order = np.argsort(rng.random((frames, len(people))), axis=1)          # detections come in any order
    return np.take_along_axis(stacked, order[:, :, None, None], axis=1)
