"""Shared builders for the body tests: a T2M-like rest skeleton, a synthetic SMPL-layout model
written as an official-style `.pkl` (chumpy + scipy.sparse) and as `.npz`, and smooth motions."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from crossdiff.body.kinematics import SMPL_PARENTS, forward_kinematics, rodrigues

# T2M raw directions (docs/original_code.md §3.3) with plausible bone lengths (metres): an arms-down rest skeleton.
RAW_DIRECTIONS = np.array([
    (0, 0, 0), (1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, -1, 0), (0, 1, 0), (0, -1, 0), (0, -1, 0),
    (0, 1, 0), (0, 0, 1), (0, 0, 1), (0, 1, 0), (1, 0, 0), (-1, 0, 0), (0, 0, 1), (0, -1, 0), (0, -1, 0),
    (0, -1, 0), (0, -1, 0), (0, -1, 0), (0, -1, 0)], float)
BONE_LENGTHS = np.array([0, .11, .11, .12, .38, .38, .13, .40, .40, .06, .14, .14, .22, .14, .14, .11,
                         .12, .12, .27, .27, .26, .26])


def t2m_like_joints() -> np.ndarray:
    """[22, 3] rest joints, pelvis at 0.93 m; hips and feet drop a little like a real skeleton."""
    offsets = RAW_DIRECTIONS * BONE_LENGTHS[:, None]
    offsets[[1, 2], 1] -= 0.08                                    # hips sit below the pelvis joint
    offsets[[10, 11], 1] -= 0.06                                  # toes below the ankles
    offsets[15] = [0.0, 0.09, 0.05]                               # the head sits above the neck
    offsets[[16, 17], 0] = [0.12, -0.12]                          # shoulders out to the side
    offsets[[16, 17], 1] = 0.02
    joints = np.zeros((22, 3))
    joints[0] = [0.0, 0.93, 0.0]
    for j in range(1, 22):
        joints[j] = joints[SMPL_PARENTS[j]] + offsets[j]
    return joints


def synthetic_smpl_arrays(seed: int = 0, per_joint: int = 12) -> dict[str, np.ndarray]:
    """A small SMPL-layout model: `per_joint` vertices around each of 24 T-pose joints."""
    rng = np.random.default_rng(seed)
    joints = np.zeros((24, 3))
    joints[:22] = t2m_like_joints()
    joints[[18, 20]] = joints[16] + [[0.27, 0, 0], [0.53, 0, 0]]
    joints[[19, 21]] = joints[17] + [[-0.27, 0, 0], [-0.53, 0, 0]]
    joints[22], joints[23] = joints[20] + [0.08, 0, 0], joints[21] - [0.08, 0, 0]
    spread = rng.normal(scale=0.04, size=(24, per_joint // 2, 3))
    vertices = (joints[:, None] + np.concatenate([spread, -spread], 1)).reshape(-1, 3)   # ring means = joints
    owner = np.repeat(np.arange(24), per_joint)
    regressor = np.zeros((24, len(vertices)))
    regressor[owner, np.arange(len(vertices))] = 1.0 / per_joint
    weights = np.eye(24)[owner] * 0.8 + np.eye(24)[np.array(SMPL_PARENTS)[owner].clip(0)] * 0.2
    faces = rng.integers(0, len(vertices), size=(300, 3))
    kintree = np.stack([np.array(SMPL_PARENTS) % 2**32, np.arange(24)])
    return {"v_template": vertices, "shapedirs": rng.normal(scale=0.01, size=(len(vertices), 3, 10)),
            "posedirs": rng.normal(scale=0.001, size=(len(vertices), 3, 207)), "J_regressor": regressor,
            "kintree_table": kintree, "weights": weights, "f": faces.astype(np.uint32)}


def write_official_style_pkl(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """Pickle like the official SMPL file: chumpy arrays and a scipy.sparse regressor, protocol 2."""
    import chumpy
    import scipy.sparse

    data = dict(arrays)
    data["v_template"] = chumpy.Ch(arrays["v_template"])
    data["shapedirs"] = chumpy.Ch(arrays["shapedirs"])
    data["J_regressor"] = scipy.sparse.csc_matrix(arrays["J_regressor"])
    data["bs_style"] = "lbs"
    with open(path, "wb") as f:
        pickle.dump(data, f, protocol=2)
    return path


def smooth_curves(rng, frames: int, dims: int, scale: float, harmonics: int = 5) -> np.ndarray:
    """[frames, dims] sums of a few random sines: smooth, bounded motion curves."""
    t = np.linspace(0, 1, frames)[:, None]
    out = np.zeros((frames, dims))
    for k in range(1, harmonics + 1):
        out += rng.normal(size=dims) / k * np.sin(2 * np.pi * k * t + rng.uniform(0, 2 * np.pi, dims))
    return out * scale


def plausible_poses(rng, frames: int) -> np.ndarray:
    """[frames, 24, 3] smooth poses: knees and elbows bend only their natural way; the body turns."""
    poses = smooth_curves(rng, frames, 72, 0.2).reshape(frames, 24, 3)
    poses[:, 0, 1] += np.linspace(0, 2.5, frames)
    for joint, axis, sign in ((4, 0, 1), (5, 0, 1), (18, 1, -1), (19, 1, 1)):
        bend = np.abs(smooth_curves(rng, frames, 1, 0.7)[:, 0])
        poses[:, joint] = 0.0
        poses[:, joint, axis] = sign * bend
    return poses


def motion_from_body(body, frames: int, seed: int, betas_scale: float = 0.8):
    """Joints [T, 22, 3] posed by `body` itself, with the poses [T, 24, 3] and betas used."""
    rng = np.random.default_rng(seed)
    poses = plausible_poses(rng, frames)
    betas = rng.normal(scale=betas_scale, size=body.num_betas)
    trans = np.cumsum(smooth_curves(rng, frames, 3, 0.01), 0)
    rest = torch.as_tensor(body.rest_joints(betas))
    joints = forward_kinematics(rodrigues(torch.as_tensor(poses)), rest).numpy() + trans[:, None]
    return joints[:, :22], poses, betas
