"""In-the-wild 2D keypoints (COCO order, image pixels) -> 2D training features with a confidence mask.

`keypoints_to_clips(keypoints [T, P, K, 3], settings)` is what prepare/ucf101.py does per video:

 1. main person (`timing.select_main_person`); keypoints below `min_score` are missing;
 2. short detection gaps are interpolated (`fill_gaps`) and count as observed;
 3. COCO -> the 22 T2M joints (`coco_to_t2m`): hips, knees, ankles, shoulders, elbows, wrists are
    copied; the head comes from the face points; pelvis, neck, spine, collars (and feet when the
    layout has none) are affine combinations of other joints, fitted to the canonical skeleton;
 4. the longest stretch in which both hips are seen is kept;
 5. image coordinates -> the projected HumanML3D coordinates of docs/original_code.md §4.1 (`to_projected_units`):
    y flipped to point up, scaled so that a robust body size at the clip's start (`body_scale`: a
    high percentile of the torso, thigh and shin lengths over the first 2 s) matches the canonical
    skeleton seen by the reference camera at depth 0 (about 0.533 units per metre), frame-0 root
    at the origin;
 6. zero-lag One-Euro smoothing, resampling to 20 fps;
 7. the 134-d features of `crossdiff.motion.features2d.features_2d` and a 134-d mask
    (`feature_mask`): 1 where every joint the feature is computed from was observed. Spine and
    collar joints are never observed, so their columns (and rotations that start from them) are 0.
A clip longer than `max_frames` rows is cut into near-equal pieces. A clip that cannot be used
raises `UnusableClip` with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from crossdiff.keypoints import timing
from crossdiff.motion.features2d import features_2d, project_views
from crossdiff.skeleton import SKELETONS

T2M = SKELETONS["t2m"]
TARGET_FPS = T2M.fps

# T2M joint -> the COCO body keypoint it is copied from (the joints a detector reports).
DIRECT = {1: 11, 2: 12, 4: 13, 5: 14, 7: 15, 8: 16, 16: 5, 17: 6, 18: 7, 19: 8, 20: 9, 21: 10}
FACE, EARS = (0, 1, 2, 3, 4), (3, 4)                      # nose, eyes, ears
COCO_TORSO = (5, 6, 11, 12)                               # shoulders and hips
# (big toe, small toe) of the left and right foot in the layouts that have feet.
FEET = {17: None, 23: ((17, 18), (20, 21)), 133: ((17, 18), (20, 21)), 26: ((20, 22), (21, 23))}
# Joints no detector reports, from joints computed before them (in this order). An affine
# combination (weights summing to 1) of 3D points projects to the same combination of their
# near-orthographic projections, so weights fitted in 3D hold in every view.
# The anchor sets were picked on synthetic clips seen from the four cameras (neck: 0.002 units, 4 mm, mean error).
DERIVED = ((0, (1, 2, 16, 17)), (12, (0, 16, 17, 15)), (3, (0, 12)), (6, (0, 12)), (9, (0, 12)),
           (13, (9, 12, 16)), (14, (9, 12, 17)), (10, (4, 7)), (11, (5, 8)))
NEVER_OBSERVED = (3, 6, 9, 13, 14)                        # spine and collars
TORSO = (1, 2, 16, 17)
# Body-size segments: (start joints, end joints); a segment runs between the means of its joints.
SEGMENTS = (((1, 2), (16, 17)), ((1,), (4,)), ((2,), (5,)), ((4,), (7,)), ((5,), (8,)))
LENGTH_FILTER = 0.5                                       # seconds: median filter of the segment lengths


class UnusableClip(Exception):
    """The keypoints of a video cannot make a training clip; the message says why."""


@dataclass(frozen=True)
class KeypointSettings:
    fps: float = 25.0                 # frame rate of the keypoint files (UCF101 videos: 25 fps)
    min_score: float = 0.3            # keypoints with a lower confidence count as not detected
    max_gap: float = 0.4              # seconds: shorter detection gaps are interpolated and count as observed
    smooth: bool = True               # zero-lag One-Euro smoothing of the joints
    # One-Euro settings chosen on the synthetic test bed (1.5-3 px noise on a 230 px person):
    min_cutoff: float = 1.5           # cutoff at rest, Hz
    beta: float = 3.0                 # cutoff increase per projected unit per second of speed
    d_cutoff: float = 1.0             # cutoff of the speed estimate, Hz
    scale_percentile: float = 90.0    # body size: this percentile over frames of each segment's length,
    scale_window: float = 2.0         # over the first this many seconds of the clip
    min_observed: float = 0.5         # share of the observable feature values a clip must have
    min_frames: int = 40              # feature rows a clip needs (the dataset's shortest, docs/original_code.md §2.4)
    max_frames: int = 196             # longer clips are cut into pieces of at most this many rows


@lru_cache(maxsize=None)
def affine_weights(target: int, anchors: tuple[int, ...]) -> np.ndarray:
    """Weights w (sum 1) with canonical[target] ≈ sum_i w_i canonical[anchors_i] (minimum norm)."""
    rest = np.asarray(T2M.canonical_joints, np.float64)
    # The sum row is weighted heavily, so it holds where the positions can only be approximated.
    system = np.vstack([rest[list(anchors)].T, np.full(len(anchors), 1e3)])
    rhs = np.concatenate([rest[target], [1e3]])
    weights = np.linalg.lstsq(system, rhs, rcond=None)[0]
    return weights / weights.sum()


def _head(points: np.ndarray, observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Head joint [T, 2] and its flag [T]: the ears' midpoint, else the mean of the seen face points."""
    face, seen = points[:, FACE], observed[:, FACE]
    weights = seen.astype(np.float64)
    both_ears = seen[:, EARS[0]] & seen[:, EARS[1]]
    weights[both_ears] = [0, 0, 0, 1, 1]
    unseen = weights.sum(1) == 0
    weights[unseen] = np.isfinite(face[unseen]).all(-1)      # no face point seen: held values, unobserved
    total = weights.sum(1, keepdims=True)
    head = (np.nan_to_num(face) * weights[..., None]).sum(1) / np.where(total > 0, total, np.nan)
    return head, ~unseen


def coco_to_t2m(points: np.ndarray, observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """COCO-layout keypoints [T, K, 2] + flags [T, K] -> T2M joints [T, 22, 2] + flags [T, 22].

    Joints that are NaN (never detected) get the canonical rest position relative to the torso
    (`TORSO` must be finite); they stay unobserved.
    """
    frames = len(points)
    joints = np.full((frames, T2M.joints_num, 2), np.nan)
    flags = np.zeros((frames, T2M.joints_num), bool)
    for joint, keypoint in DIRECT.items():
        joints[:, joint], flags[:, joint] = points[:, keypoint], observed[:, keypoint]
    joints[:, 15], flags[:, 15] = _head(points, observed)
    feet = FEET[points.shape[1]]
    for joint, anchors in DERIVED:
        joints[:, joint] = np.einsum("a,tac->tc", affine_weights(joint, anchors), joints[:, list(anchors)])
    flags[:, 0] = flags[:, 1] & flags[:, 2]                  # the shoulders only nudge the pelvis up
    flags[:, 12] = flags[:, 16] & flags[:, 17] & flags[:, 15]
    if feet is not None:                                     # toes never detected: keep the derived foot
        for joint, toes in zip((10, 11), feet):
            detected = points[:, list(toes)].mean(1)
            joints[:, joint] = np.where(np.isfinite(detected), detected, joints[:, joint])
            flags[:, joint] = observed[:, list(toes)].all(1)
    rest = np.stack([np.einsum("a,tac->tc", affine_weights(j, TORSO), joints[:, list(TORSO)])
                     for j in range(T2M.joints_num)], 1)
    missing = ~np.isfinite(joints).all(-1)
    joints[missing] = rest[missing]
    flags[missing] = False
    return joints, flags


def segment_lengths(joints: np.ndarray, observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lengths [T, S] of the body-size `SEGMENTS` and whether both ends were observed [T, S]."""
    lengths, seen = [], []
    for start, end in SEGMENTS:
        ends = joints[:, list(end)].mean(1) - joints[:, list(start)].mean(1)
        lengths.append(np.linalg.norm(ends, axis=-1))
        seen.append(observed[:, list(start + end)].all(1))
    return np.stack(lengths, 1), np.stack(seen, 1)


@lru_cache(maxsize=None)
def reference_lengths() -> np.ndarray:
    """[S] segment lengths of the canonical skeleton seen by the reference front camera at depth 0."""
    rest = np.asarray(T2M.canonical_joints, np.float64)
    rest = rest - rest[0] * [1, 0, 1]                          # root above the origin, like frame 0 of a clip
    front = project_views(rest[None])[0]
    return segment_lengths(front, np.ones(front.shape[:2], bool))[0][0]


def body_scale(joints: np.ndarray, observed: np.ndarray, fps: float, percentile: float, window: float,
               min_share: float = 0.1) -> float | None:
    """Image length per projected unit at the start of a clip (None if the body is hardly seen).

    Each body segment's length series (over frames where both ends are seen) is median-filtered
    over `LENGTH_FILTER` seconds against noise; its `percentile` over the first `window` seconds,
    divided by the reference length, is that segment's scale, and the scale is the median over
    the segments seen in at least `min_share` of those frames. A 2D bone is never longer than its
    3D length times the projection scale (foreshortening only shortens it), hence a high
    percentile. Only the start counts: HumanML3D clips start at depth 0 of the reference camera
    and then grow or shrink with perspective, and so do the videos' people with this scale.
    """
    frames = min(len(joints), max(int(round(window * fps)), 1))
    lengths, seen = segment_lengths(joints, observed)
    lengths = timing.running_nanmedian(np.where(seen, lengths, np.nan), int(round(LENGTH_FILTER * fps)))[:frames]
    seen = seen[:frames]
    needed = max(3, int(np.ceil(min_share * frames)))
    ratios = [np.percentile(lengths[seen[:, s], s], percentile) / reference_lengths()[s]
              for s in range(len(SEGMENTS)) if seen[:, s].sum() >= needed]
    ratios = [r for r in ratios if r > 0]
    return float(np.median(ratios)) if ratios else None


def to_projected_units(joints: np.ndarray, scale: float) -> np.ndarray:
    """Image pixels (y down) -> projected units (y up), frame-0 root at the origin; [T, J, 2] -> same."""
    units = joints * np.array([1.0, -1.0]) / scale
    return units - units[:1, :1]


@lru_cache(maxsize=None)
def feature_dependencies() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which joints each 2D feature column reads: (frame t [D, J], frame t+1 [D, J], frame-0 root [D]).

    Follows the layout of `features_2d` (docs/original_code.md §4.3) for the T2M skeleton.
    """
    joints, width = T2M.joints_num, T2M.feature_dim_2d
    now, ahead, first_root = np.zeros((width, joints), bool), np.zeros((width, joints), bool), np.zeros(width, bool)
    ahead[0:2, 0], first_root[0:2] = True, True                         # root of frame t+1 minus root of frame 0
    for j in range(1, joints):
        now[2 * j:2 * j + 2, [0, j]] = True                              # P_j[t] - P_root[t]
    rotations = 2 + 2 * (joints - 1)
    for chain in T2M.chains:
        for k in range(1, len(chain)):                                   # bone chain[k-1] -> chain[k]
            columns = slice(rotations + 2 * (chain[k] - 1), rotations + 2 * chain[k])
            now[columns, list(chain[max(k - 2, 0):k + 1])] = True       # this bone and the previous one
    velocities = rotations + 2 * (joints - 1)
    for j in range(joints):
        now[velocities + 2 * j:velocities + 2 * j + 2, j] = ahead[velocities + 2 * j:velocities + 2 * j + 2, j] = True
    contacts = velocities + 2 * joints
    for column, j in enumerate(T2M.foot_joints_left + T2M.foot_joints_right):
        now[contacts + column, j] = ahead[contacts + column, j] = True
    return now, ahead, first_root


def feature_mask(observed: np.ndarray) -> np.ndarray:
    """[T, 22] joint flags -> [T-1, 134] float32: 1 where every joint a feature reads was observed."""
    now, ahead, first_root = feature_dependencies()
    missing = (~observed).astype(np.float64)
    bad = missing[:-1] @ now.T + missing[1:] @ ahead.T + first_root * missing[0, 0]     # [T-1, D]
    return (bad == 0).astype(np.float32)


@lru_cache(maxsize=None)
def observable_columns(has_feet: bool) -> np.ndarray:
    """[134] bool: the columns a clip can observe at all (all detectable joints seen)."""
    flags = np.ones((2, T2M.joints_num), bool)
    flags[:, list(NEVER_OBSERVED)] = False
    if not has_feet:
        flags[:, [10, 11]] = False
    return feature_mask(flags)[0] > 0


def _main_person(keypoints: np.ndarray, settings: KeypointSettings) -> tuple[np.ndarray, np.ndarray]:
    """Steps 1-2: the main person's keypoints [T, K, 2] (gaps filled) and flags [T, K]."""
    if len(keypoints) == 0:
        raise UnusableClip("no frames: the keypoint file is empty")
    person = timing.select_main_person(keypoints, settings.min_score, settings.fps)
    seen = (person[..., 2] >= settings.min_score) & np.isfinite(person[..., :2]).all(-1)
    if not seen.any():
        raise UnusableClip(f"no person detected: no keypoint has a score >= {settings.min_score}")
    unseen = [name for name, k in zip(("left shoulder", "right shoulder", "left hip", "right hip"), COCO_TORSO)
              if not seen[:, k].any()]
    if unseen:
        raise UnusableClip(f"torso never detected: no frame shows the {', '.join(unseen)}")
    return timing.fill_gaps(person[..., :2], seen, int(round(settings.max_gap * settings.fps)))


def _visible_stretch(joints: np.ndarray, flags: np.ndarray, settings: KeypointSettings):
    """Step 4: the longest stretch with both hips seen, if it lasts long enough for one clip."""
    start, stop = timing.longest_run(flags[:, 0])
    rows = int(np.floor((stop - start - 1) * TARGET_FPS / settings.fps + 1e-9)) if stop > start else 0
    if rows < settings.min_frames:
        raise UnusableClip(f"too short: the longest stretch with both hips seen lasts "
                           f"{(stop - start) / settings.fps:.1f} s ({max(rows, 0)} feature frames at "
                           f"{TARGET_FPS:g} fps, {settings.min_frames} needed)")
    return joints[start:stop], flags[start:stop]


def split_rows(rows: int, max_rows: int) -> list[tuple[int, int]]:
    """[start, stop) feature rows of the fewest near-equal pieces of at most `max_rows` rows."""
    pieces = -(-rows // max_rows)
    bounds = np.round(np.linspace(0, rows, pieces + 1)).astype(int)
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))


def keypoints_to_joints(keypoints: np.ndarray, settings: KeypointSettings) -> tuple[np.ndarray, np.ndarray]:
    """Steps 1-6: [T, P, K, 3] image keypoints -> T2M joints [N, 22, 2] in projected units at 20 fps + flags."""
    points, seen = _main_person(keypoints, settings)
    joints, flags = _visible_stretch(*coco_to_t2m(points, seen), settings)
    scale = body_scale(joints, flags, settings.fps, settings.scale_percentile, settings.scale_window)
    if scale is None:
        raise UnusableClip(f"body size unknown: torso, thighs and shins are each seen in too few of the "
                           f"first {settings.scale_window:g} s")
    units = to_projected_units(joints, scale)
    if settings.smooth:
        units = timing.smooth(units, settings.fps, settings.min_cutoff, settings.beta, settings.d_cutoff)
    return timing.resample(units, flags, settings.fps, TARGET_FPS)


def keypoints_to_clips(keypoints: np.ndarray, settings: KeypointSettings = KeypointSettings()) -> list[np.ndarray]:
    """One video's keypoints [T, P, K, 3] -> training clips [N, 268] float32 (features, then mask).

    Raises `UnusableClip` (with the reason) when the video gives no clip.
    """
    joints, flags = keypoints_to_joints(keypoints, settings)
    observable = observable_columns(FEET[keypoints.shape[2]] is not None)
    share = feature_mask(flags)[:, observable].mean()
    if share < settings.min_observed:
        raise UnusableClip(f"mostly unobserved: {share:.0%} of the observable feature values are seen "
                           f"({settings.min_observed:.0%} needed)")
    clips = []
    for start, stop in split_rows(len(joints) - 1, settings.max_frames):
        piece, piece_flags = joints[start:stop + 1], flags[start:stop + 1]
        clips.append(np.concatenate([features_2d(piece), feature_mask(piece_flags)], 1).astype(np.float32))
    return clips
