"""Joint positions <-> the HumanML3D feature vector (263-d for T2M, 251-d for KIT-ML), docs/original_code.md §3.

`joints_to_features` is the HumanML3D preprocessing (retarget onto a target skeleton, put on the
floor, face +z at frame 0, extract features); golden case 1 pins it. `recover_from_ric` is the
inverse used at generation time: numpy or torch, any leading batch axes, differentiable.

Feature layout per frame t = 0..T-2, with J joints (docs/original_code.md §3.1):
    [0]                          root angular velocity about +y (half the yaw increment)
    [1:3]                        root linear velocity (x, z) in the facing frame of t+1
    [3]                          root height
    [4 : 4+3(J-1)]               joints 1..J-1 relative to the root, facing +z ("ric")
    [.. : +6(J-1)]               local rotations of joints 1..J-1, 6D (first two matrix columns)
    [.. : +3J]                   joint velocities in the facing frame of t
    [-4:-2], [-2:]               contacts of the left, then the right foot joints

A kept quirk of the format: root rotations are quaternions with w >= 0, so when the heading passes
180° from frame 0 the relative rotation of that one frame has the wrong sign and its angular
velocity (arcsin of its y part) flips sign. Recovery after that frame is off by twice that yaw step.
HumanML3D's files and statistics contain this; golden case 1 pins it at frame 68.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

from crossdiff.errors import UserError
from crossdiff.geometry import ops_for, qbetween, qinv, qmul, qrot, quaternion_to_cont6d, yaw_quaternion
from crossdiff.skeleton import Skeleton, bone_lengths, get_skeleton

UP = np.array([0.0, 1.0, 0.0])
FORWARD = np.array([0.0, 0.0, 1.0])
HEADING_SMOOTHING_SIGMA = 20.0   # frames; the reference smooths the per-frame heading with this Gaussian


def check_positions(positions, joints_num: int, source: str = "positions", min_frames: int = 2) -> np.ndarray:
    """Validate a joint sequence [T, J, 3] and return it as float64; `UserError` naming `source` otherwise."""
    array = np.asarray(positions)
    if not np.issubdtype(array.dtype, np.number):
        raise UserError(f"{source}: expected numbers, got an array of {array.dtype}")
    if array.ndim != 3 or array.shape[1:] != (joints_num, 3):
        raise UserError(f"{source}: expected joint positions [T, {joints_num}, 3], got shape {list(array.shape)}")
    if array.shape[0] < min_frames:
        raise UserError(f"{source}: too short, {array.shape[0]} frame(s); at least {min_frames} are needed")
    finite = np.isfinite(array).all(axis=(1, 2))
    if not finite.all():
        raise UserError(f"{source}: NaN or infinite values (first at frame {int(np.argmin(finite))})")
    return array.astype(np.float64)


def _unit(vectors: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Normalise [..., 3]; zero-length vectors take the `fallback` direction instead of NaN."""
    length = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return np.where(length > 1e-12, vectors / np.maximum(length, 1e-12), fallback)


def retarget(positions: np.ndarray, target_offsets: np.ndarray, skeleton: str | Skeleton = "t2m") -> np.ndarray:
    """Give every bone its target length, keeping its per-frame direction, [T, J, 3] -> [T, J, 3].

    This is the net effect of the reference's IK-then-FK `uniform_skeleton` (golden §1 step 1). The
    root trajectory is scaled by (target leg length) / (source leg length at frame 0), the leg being
    the two bones ending at `skeleton.leg_joints`.
    """
    sk = get_skeleton(skeleton)
    target_lengths = np.linalg.norm(np.asarray(target_offsets, np.float64), axis=-1)
    leg = list(sk.leg_joints)
    source_leg = bone_lengths(positions[0], sk)[leg].sum()
    if source_leg <= 0:
        raise UserError(f"the first frame's leg bones (joints {leg}) have zero length; cannot scale the skeleton")
    out = np.empty_like(positions)
    out[:, 0] = positions[:, 0] * (target_lengths[leg].sum() / source_leg)
    for chain in sk.chains:
        for parent, child in zip(chain[:-1], chain[1:]):
            direction = _unit(positions[:, child] - positions[:, parent], sk.raw_offsets[child])
            out[:, child] = out[:, parent] + target_lengths[child] * direction
    return out


def _across(positions: np.ndarray, sk: Skeleton) -> np.ndarray:
    """Unit left-to-right body axis from hips and shoulders, [..., J, 3] -> [..., 3]."""
    r_hip, l_hip, r_shoulder, l_shoulder = sk.face_joints
    hips = positions[..., r_hip, :] - positions[..., l_hip, :]
    across = hips + positions[..., r_shoulder, :] - positions[..., l_shoulder, :]
    return across / np.linalg.norm(across, axis=-1, keepdims=True)


def place_at_origin(positions: np.ndarray, skeleton: str | Skeleton = "t2m") -> np.ndarray:
    """Lowest point on the floor, frame-0 root above the origin, frame 0 facing +z, [T, J, 3] -> [T, J, 3]."""
    sk = get_skeleton(skeleton)
    positions = positions - [0.0, positions[..., 1].min(), 0.0]
    positions = positions - positions[0, 0] * [1.0, 0.0, 1.0]
    forward = np.cross(UP, _across(positions[0], sk))
    facing = qbetween(forward / np.linalg.norm(forward), FORWARD)
    return qrot(np.broadcast_to(facing, positions.shape[:-1] + (4,)), positions)


def root_rotations(positions: np.ndarray, skeleton: str | Skeleton = "t2m") -> np.ndarray:
    """Per-frame rotation taking the smoothed heading to +z, [T, J, 3] -> [T, 4] (w, x, y, z).

    Frame 0 is forced to the identity, as in the reference, so the first angular velocity also
    carries the gap between the smoothed and the raw heading of frame 0 (golden §1 step 6).
    """
    sk = get_skeleton(skeleton)
    forward = np.cross(UP, _across(positions, sk))
    forward = gaussian_filter1d(forward, HEADING_SMOOTHING_SIGMA, axis=0, mode="nearest")
    rotations = qbetween(forward / np.linalg.norm(forward, axis=-1, keepdims=True), FORWARD)
    rotations[0] = [1.0, 0.0, 0.0, 0.0]
    return rotations


def local_rotations(positions: np.ndarray, root_quat: np.ndarray, skeleton: str | Skeleton = "t2m") -> np.ndarray:
    """Swing-only IK rotations, [T, J, 3] x [T, 4] -> [T, J, 4]; joint 0 holds the root rotation.

    Along each chain, a bone's global rotation takes its raw direction to its current direction;
    the stored rotation is relative to the previous bone's. Every chain, also those starting at the
    upper spine, starts from the root rotation (the reference's behaviour).
    """
    sk = get_skeleton(skeleton)
    rotations = np.zeros(positions.shape[:-1] + (4,))
    rotations[:, 0] = root_quat
    for chain in sk.chains:
        previous = root_quat
        for parent, child in zip(chain[:-1], chain[1:]):
            raw = sk.raw_offsets[child]
            direction = _unit(positions[:, child] - positions[:, parent], raw)
            bone = qbetween(np.broadcast_to(raw, direction.shape), direction)
            rotations[:, child] = qmul(qinv(previous), bone)
            previous = bone
    return rotations


def foot_contacts(positions: np.ndarray, skeleton: str | Skeleton = "t2m") -> tuple[np.ndarray, np.ndarray]:
    """1 where a foot joint's squared displacement to the next frame is below the threshold, [T, J, D] -> 2 x [T-1, 2].

    Works for 3D and 2D positions (D = 3 or 2) alike.
    """
    sk = get_skeleton(skeleton)
    squared = ((positions[1:] - positions[:-1]) ** 2).sum(-1)
    left = (squared[:, list(sk.foot_joints_left)] < sk.contact_threshold).astype(np.float64)
    right = (squared[:, list(sk.foot_joints_right)] < sk.contact_threshold).astype(np.float64)
    return left, right


def root_relative(positions: np.ndarray, root_quat: np.ndarray) -> np.ndarray:
    """Rotation-invariant positions: root xz removed, then turned by the root rotation, [T, J, 3] -> [T, J, 3]."""
    centred = positions - positions[:, :1] * [1.0, 0.0, 1.0]
    return qrot(np.broadcast_to(root_quat[:, None], centred.shape[:-1] + (4,)), centred)


def extract_features(positions: np.ndarray, skeleton: str | Skeleton = "t2m") -> np.ndarray:
    """Features of already retargeted and placed positions, [T, J, 3] -> [T-1, D] (D = 263 or 251)."""
    sk = get_skeleton(skeleton)
    frames = len(positions)
    root_quat = root_rotations(positions, sk)
    relative_turn = qmul(root_quat[1:], qinv(root_quat[:-1]))
    angular_velocity = np.arcsin(np.clip(relative_turn[:, 2:3], -1.0, 1.0))
    linear_velocity = qrot(root_quat[1:], positions[1:, 0] - positions[:-1, 0])[:, [0, 2]]
    ric = root_relative(positions, root_quat)
    rot6d = quaternion_to_cont6d(local_rotations(positions, root_quat, sk)[:, 1:]).reshape(frames, -1)
    step = positions[1:] - positions[:-1]
    local_velocity = qrot(np.broadcast_to(root_quat[:-1, None], step.shape[:-1] + (4,)), step).reshape(frames - 1, -1)
    feet_left, feet_right = foot_contacts(positions, sk)
    root_height, positions_ric = ric[:-1, 0, 1:2], ric[:-1, 1:].reshape(frames - 1, -1)
    features = np.concatenate([angular_velocity, linear_velocity, root_height, positions_ric,
                               rot6d[:-1], local_velocity, feet_left, feet_right], axis=-1)
    assert features.shape[-1] == sk.feature_dim, features.shape
    return features


def joints_to_features(positions, target_offsets, skeleton: str | Skeleton = "t2m") -> tuple[np.ndarray, np.ndarray]:
    """The HumanML3D pipeline: [T, J, 3] joints -> (features [T-1, D], processed positions [T, J, 3]).

    positions: metres (millimetres for KIT-ML), y up, T >= 2. target_offsets: [J, 3], e.g.
    `skeleton.offsets_from_joints(target_frame0)` or `skeleton.canonical_offsets()`. The processed
    positions are retargeted, on the floor, with the frame-0 root above the origin and facing +z;
    `recover_from_ric(features)` gives them back (without their last frame). Both are float64.
    """
    sk = get_skeleton(skeleton)
    positions = check_positions(positions, sk.joints_num)
    target_offsets = np.asarray(target_offsets, dtype=np.float64)
    if target_offsets.shape != (sk.joints_num, 3):
        raise UserError(f"target_offsets must be [{sk.joints_num}, 3] for {sk.name!r}, "
                        f"got {list(target_offsets.shape)}")
    with np.errstate(divide="ignore", invalid="ignore"):   # checked just below
        processed = place_at_origin(retarget(positions, target_offsets, sk), sk)
        features = extract_features(processed, sk)
    if not np.isfinite(features).all():
        raise UserError("the body's heading is undefined (hips and shoulders coincide or point straight up)")
    return features, processed


def recover_root(features):
    """Root rotation and position from features, [..., T, D] -> ([..., T, 4], [..., T, 3]); numpy or torch.

    The yaw is the cumulative sum of column 0, shifted by one frame, used directly as the quaternion
    half-angle; the root steps (columns 1:3 of the previous frame) are turned back into the world
    frame and summed; the height is column 3 (docs/original_code.md §3.2).
    """
    ops = ops_for(features)
    xp, f = ops.xp, ops.asfloat(features)
    half_yaw = xp.concatenate([0 * f[..., :1, 0], xp.cumsum(f[..., :-1, 0], axis=-1)], axis=-1)
    root_quat = yaw_quaternion(half_yaw)
    step_x, step_z = f[..., :-1, 1], f[..., :-1, 2]
    steps = qrot(qinv(root_quat[..., 1:, :]), xp.stack([step_x, 0 * step_x, step_z], axis=-1))
    xz = xp.concatenate([0 * steps[..., :1, :], xp.cumsum(steps, axis=-2)], axis=-2)
    root_pos = xp.stack([xz[..., 0], f[..., 3], xz[..., 2]], axis=-1)
    return root_quat, root_pos


def recover_from_ric(features, joints_num: int):
    """Joint positions from features, [..., T, D] -> [..., T, J, 3]; numpy in, numpy out; torch in, torch out.

    Uses only the root columns and the root-relative positions (docs/original_code.md §3.2). numpy results are
    float64; torch results keep the input's dtype and device and carry gradients.
    """
    width = 4 + 3 * (joints_num - 1)
    if features.shape[-1] < width:
        raise UserError(f"features with {features.shape[-1]} columns cannot hold {joints_num} joints "
                        f"(need at least {width})")
    ops = ops_for(features)
    f = ops.asfloat(features)
    root_quat, root_pos = recover_root(f)
    relative = f[..., 4:width].reshape(tuple(f.shape[:-1]) + (joints_num - 1, 3))
    unturn = qinv(root_quat)[..., None, :]
    joints = qrot(unturn, relative) + (root_pos * ops.constant([1.0, 0.0, 1.0], root_pos))[..., None, :]
    return ops.xp.concatenate([root_pos[..., None, :], joints], axis=-2)
