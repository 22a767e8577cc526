"""Rotations and forward kinematics of an SMPL-layout skeleton (24 joints), in numpy and torch.

SMPL's convention, which every function here follows: a pose is one axis-angle vector per joint,
each a rotation *relative to the parent joint's frame*, and the zero pose is the model's rest pose.
Posed joint positions come from the rest joints alone (pose blend shapes move vertices, never
joints), so fitting can optimise this cheap 24-joint FK and build the mesh only once at the end.
"""

from __future__ import annotations

import numpy as np
import torch

from crossdiff.skeleton import SKELETONS

# SMPL's kinematic tree: parent of each of the 24 joints (-1 for the pelvis). Joints 0..21 are the
# 22 HumanML3D joints with the T2M skeleton's parents; 22 and 23 are the hands, children of the wrists.
SMPL_PARENTS = SKELETONS["t2m"].parents + (20, 21)
SMPL_JOINT_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle",
    "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hand", "right_hand",
)
NUM_SMPL_JOINTS = 24
NUM_BODY_JOINTS = 22  # the joints HumanML3D provides


def rodrigues(axis_angle: torch.Tensor) -> torch.Tensor:
    """Axis-angle [..., 3] -> rotation matrices [..., 3, 3] (differentiable, also at zero).

    Uses the series forms of sin(a)/a and (1-cos(a))/a^2 near a = 0, so the gradient at the rest
    pose is exact rather than NaN.
    """
    sq = (axis_angle * axis_angle).sum(-1, keepdim=True)[..., None]       # [..., 1, 1]
    small = sq < 1e-8
    safe_sq = torch.where(small, torch.ones_like(sq), sq)
    angle = safe_sq.sqrt()
    sin_term = torch.where(small, 1 - sq / 6, torch.sin(angle) / angle)
    cos_term = torch.where(small, 0.5 - sq / 24, (1 - torch.cos(angle)) / safe_sq)
    x, y, z = axis_angle.unbind(-1)
    zero = torch.zeros_like(x)
    skew = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1).reshape(*axis_angle.shape[:-1], 3, 3)
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device).expand_as(skew)
    return eye + sin_term * skew + cos_term * (skew @ skew)


def forward_kinematics(rotations: torch.Tensor, rest_joints: torch.Tensor, parents=SMPL_PARENTS) -> torch.Tensor:
    """Posed joints [B, J, 3] from local rotations [B, J, 3, 3] and rest joints [J, 3] or [B, J, 3].

    The root rotates about its own rest position (as smplx's `lbs`); add the translation outside.
    """
    rest_joints = rest_joints.expand(rotations.shape[0], -1, -1) if rest_joints.dim() == 2 else rest_joints
    world_rot = [rotations[:, 0]]
    posed = [rest_joints[:, 0]]
    for j in range(1, len(parents)):
        p = parents[j]
        offset = rest_joints[:, j] - rest_joints[:, p]                    # [B, 3]
        posed.append(posed[p] + (world_rot[p] @ offset[..., None])[..., 0])
        world_rot.append(world_rot[p] @ rotations[:, j])
    return torch.stack(posed, 1)


def matrix_to_axis_angle(rot: np.ndarray) -> np.ndarray:
    """Rotation matrices [..., 3, 3] -> axis-angle [..., 3], robust for angles up to pi.

    Goes through a unit quaternion (Shepperd's choice of the largest diagonal term), then
    axis-angle = 2 atan2(|v|, w) v / |v| with w >= 0.
    """
    rot = np.asarray(rot, dtype=np.float64)
    m = rot.reshape(-1, 3, 3)
    trace = np.trace(m, axis1=1, axis2=2)
    diag = np.stack([m[:, 0, 0], m[:, 1, 1], m[:, 2, 2]], -1)
    candidates = np.stack([
        np.stack([1 + trace, m[:, 2, 1] - m[:, 1, 2], m[:, 0, 2] - m[:, 2, 0], m[:, 1, 0] - m[:, 0, 1]], -1),
        np.stack([m[:, 2, 1] - m[:, 1, 2], 1 + 2 * diag[:, 0] - trace, m[:, 0, 1] + m[:, 1, 0], m[:, 0, 2] + m[:, 2, 0]], -1),
        np.stack([m[:, 0, 2] - m[:, 2, 0], m[:, 0, 1] + m[:, 1, 0], 1 + 2 * diag[:, 1] - trace, m[:, 1, 2] + m[:, 2, 1]], -1),
        np.stack([m[:, 1, 0] - m[:, 0, 1], m[:, 0, 2] + m[:, 2, 0], m[:, 1, 2] + m[:, 2, 1], 1 + 2 * diag[:, 2] - trace], -1),
    ], 1)                                                                # [N, 4 choices, 4 (w,x,y,z)]
    choice = np.argmax(np.concatenate([trace[:, None], diag], -1), -1)
    quat = candidates[np.arange(len(m)), choice]
    quat = quat / np.linalg.norm(quat, axis=-1, keepdims=True)
    quat = np.where(quat[:, :1] < 0, -quat, quat)
    vec_norm = np.linalg.norm(quat[:, 1:], axis=-1, keepdims=True)
    angle = 2 * np.arctan2(vec_norm, quat[:, :1])
    scale = np.where(vec_norm > 1e-12, angle / np.maximum(vec_norm, 1e-12), 2.0)
    return (quat[:, 1:] * scale).reshape(*rot.shape[:-2], 3)


def axis_angle_to_matrix(axis_angle: np.ndarray) -> np.ndarray:
    """Axis-angle [..., 3] -> rotation matrices [..., 3, 3] (numpy, float64)."""
    return rodrigues(torch.as_tensor(np.asarray(axis_angle, dtype=np.float64))).numpy()


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Minimal rotations [..., 3, 3] taking directions a [..., 3] to b [..., 3] (the "swing").

    For opposite directions any perpendicular axis works; one is chosen deterministically.
    """
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    axis = np.cross(a, b)
    sin = np.linalg.norm(axis, axis=-1, keepdims=True)
    cos = np.sum(a * b, -1, keepdims=True)
    fallback = np.cross(a, np.where(np.abs(a[..., :1]) < 0.9, [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]))
    axis = np.where(sin > 1e-9, axis, fallback)
    axis = axis / np.linalg.norm(axis, axis=-1, keepdims=True)
    return axis_angle_to_matrix(axis * np.arctan2(sin, cos))


def rotation_about(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotations [..., 3, 3] by `angle` [...] about unit `axis` [..., 3]."""
    return axis_angle_to_matrix(axis * np.asarray(angle)[..., None])


def kabsch(source: np.ndarray, target: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Best rotations R [B, 3, 3] with R @ source[k] ~ target[b, k]; source [K, 3], target [B, K, 3]."""
    w = np.ones(source.shape[0]) if weights is None else weights
    cov = np.einsum("k,bki,kj->bij", w, target, source)                # sum_k w t s^T
    u, _, vt = np.linalg.svd(cov)
    det = np.sign(np.linalg.det(u @ vt))
    fix = np.ones((len(cov), 3))
    fix[:, 2] = det
    return (u * fix[:, None, :]) @ vt
