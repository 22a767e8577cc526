"""The four-camera 2D projection and the 134-d 2D feature vector (128-d for KIT-ML).

The original's cameras and layout: docs/original_code.md §4.1, §4.3.

`project_views` turns joints [T, J, 3] into four views [4, T, J, 2]; `features_2d` turns 2D joints
into features [T-1, 134]; `recover_2d` inverts the positions; `project_clip` is what
`prepare/project.py` writes for one clip. Golden case 2 pins all of it.

Feature layout per frame t = 0..T-2 with J joints and P the 2D joints minus the frame-0 root:
    [0:2]                 P_root[t+1] - P_root[0]   ("root_v": a position one frame ahead, not a velocity)
    [2 : 2+2(J-1)]        P_j[t] - P_root[t] for joints 1..J-1
    [.. : +2(J-1)]        2D bone rotations of joints 1..J-1: (cos Δ, -sin Δ) of the angle to the previous bone
    [.. : +2J]            P[t+1] - P[t] for all joints
    [-4:-2], [-2:]        contacts of the left, then the right foot joints (squared 2D step < threshold)

The "root_v" columns are kept as the reference has them (docs/original_code.md §13.7): the official 2D statistics and
checkpoints were made with them. Row t therefore pairs the root of frame t+1 with the pose of frame t.
"""

from __future__ import annotations

import math

import numpy as np

from crossdiff.errors import UserError
from crossdiff.geometry import ops_for
from crossdiff.skeleton import Skeleton, get_skeleton

# Rotations about +y by 0°, 90°, 180° and 270°, applied as X' = R X (docs/original_code.md §4.1).
VIEW_ROTATIONS = np.array([
    [[1, 0, 0], [0, 1, 0], [0, 0, 1]],
    [[0, 0, 1], [0, 1, 0], [-1, 0, 0]],
    [[-1, 0, 0], [0, 1, 0], [0, 0, -1]],
    [[0, 0, -1], [0, 1, 0], [1, 0, 0]],
], dtype=np.float64)
FOV_DEGREES = 10.0
TAN_HALF_FOV = math.tan(math.radians(FOV_DEGREES / 2))          # 0.0874886635...
# The camera sits 10 m behind the distance at which the FOV spans ±1, 1 m below the body: a
# near-orthographic view (1 m at depth 0 is about 0.533 units).
CAMERA_TRANSLATION = np.array([0.0, -1.0, -1.0 / TAN_HALF_FOV - 10.0])
CONTACT_THRESHOLD_2D = 0.002                                     # squared 2D units per frame


def project_views(positions, metres_per_unit: float = 1.0) -> np.ndarray:
    """The four camera views of a joint sequence, [T, J, 3] -> [4, T, J, 2] (float64).

    Each view's points are translated so that the root of frame 0 is at the origin. Positions are
    in metres; for other units (KIT-ML's millimetres) pass `metres_per_unit`.
    """
    points = np.asarray(positions, dtype=np.float64) * metres_per_unit
    rotated = np.einsum("vpk,tjk->vtjp", VIEW_ROTATIONS, points)
    camera = rotated + CAMERA_TRANSLATION
    projected = -camera[..., :2] / (camera[..., 2:] * TAN_HALF_FOV)
    return projected - projected[:, :1, :1]


def _bone_directions(points: np.ndarray, parent: int, child: int) -> np.ndarray:
    """Unit 2D bone vectors [..., T, 2]; a zero-length bone gives (0, 0) instead of NaN."""
    bone = points[..., child, :] - points[..., parent, :]
    length = np.linalg.norm(bone, axis=-1, keepdims=True)
    return bone / np.maximum(length, 1e-12)


def bone_rotations_2d(points: np.ndarray, skeleton: str | Skeleton = "t2m") -> np.ndarray:
    """(cos Δ, -sin Δ) per joint 1..J-1, [..., T, J, 2] -> [..., T, J-1, 2].

    Δ is a bone's angle relative to the previous bone of its chain, or to +x for a chain's first
    bone (also for the arm chains, which start at the upper spine). The pair is the first *row* of
    the relative rotation R_prevᵀ·M(v), M(v) = [[vx, -vy], [vy, vx]], hence the minus sign.
    """
    sk = get_skeleton(skeleton)
    out = np.zeros(points.shape[:-2] + (sk.joints_num - 1, 2))
    for chain in sk.chains:
        previous = np.zeros(points.shape[:-2] + (2,))
        previous[..., 0] = 1.0
        for parent, child in zip(chain[:-1], chain[1:]):
            v = _bone_directions(points, parent, child)
            cos = previous[..., 0] * v[..., 0] + previous[..., 1] * v[..., 1]
            minus_sin = previous[..., 1] * v[..., 0] - previous[..., 0] * v[..., 1]
            out[..., child - 1, :] = np.stack([cos, minus_sin], axis=-1)
            previous = v
    return out


def features_2d(joints2d, skeleton: str | Skeleton = "t2m") -> np.ndarray:
    """2D features of 2D joints, [..., T, J, 2] -> [..., T-1, D] (D = 134 or 128), float64; T >= 2."""
    sk = get_skeleton(skeleton)
    p = np.asarray(joints2d, dtype=np.float64)
    p = p - p[..., :1, :1, :]
    frames = p.shape[-3]
    lead = p.shape[:-3]
    root_ahead = p[..., 1:, 0, :] - p[..., :1, 0, :]
    relative = (p[..., :-1, 1:, :] - p[..., :-1, :1, :]).reshape(lead + (frames - 1, -1))
    rotations = bone_rotations_2d(p[..., :-1, :, :], sk).reshape(lead + (frames - 1, -1))
    step = p[..., 1:, :, :] - p[..., :-1, :, :]
    squared = (step ** 2).sum(-1)
    left = (squared[..., list(sk.foot_joints_left)] < CONTACT_THRESHOLD_2D).astype(np.float64)
    right = (squared[..., list(sk.foot_joints_right)] < CONTACT_THRESHOLD_2D).astype(np.float64)
    features = np.concatenate([root_ahead, relative, rotations, step.reshape(lead + (frames - 1, -1)), left, right], -1)
    assert features.shape[-1] == sk.feature_dim_2d, features.shape
    return features


def recover_2d(features, joints_num: int):
    """2D joints from 2D features, [..., T, D] -> [..., T, J, 2]; numpy or torch, same type out.

    joints = concat(root, root + relative). Kept quirk (docs/original_code.md §4.3, §13.7): the root columns hold
    the root of frame t+1, so row t puts the pose of frame t at the root of frame t+1.
    """
    ops = ops_for(features)
    f = ops.asfloat(features)
    root = f[..., :2]
    relative = f[..., 2:2 * joints_num].reshape(tuple(f.shape[:-1]) + (joints_num - 1, 2))
    return ops.xp.concatenate([root[..., None, :], relative + root[..., None, :]], axis=-2)


def project_clip(positions, skeleton: str | Skeleton = "t2m") -> tuple[np.ndarray, np.ndarray]:
    """What prepare/project.py stores for one clip: ([4, T, J, 2], [4, T-1, D]), both float32.

    The features are computed from the float32 views, as the reference computes them from its
    saved files. positions: [T, J, 3] in the skeleton's units, T >= 2.
    """
    sk = get_skeleton(skeleton)
    with np.errstate(divide="ignore", invalid="ignore"):   # checked just below
        views = project_views(positions, sk.metres_per_unit).astype(np.float32)
        features = features_2d(views, sk).astype(np.float32)
    if not (np.isfinite(views).all() and np.isfinite(features).all()):
        raise UserError("the projection is not finite: are the joints within 20 m of the origin and in "
                        f"{'millimetres' if sk.metres_per_unit == 0.001 else 'metres'}?")
    return views, features
