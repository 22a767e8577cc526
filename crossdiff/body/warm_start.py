"""Analytic initial guess for fitting: betas from bone lengths, then IK from bone directions.

IK walks the SMPL tree from the pelvis. A joint's world rotation turns its rest bone(s) onto the
target bone(s): joints with several children (pelvis, spine3) take the best rotation for all of
them (Kabsch); joints with one child take the minimal "swing" from where the parent leaves that
bone to where the target has it. A swing leaves the twist about the bone open; for hips and
shoulders it is chosen so the knee or elbow below bends about its hinge axis. Joints whose
children are not observed (feet, head, wrists, hands) keep the parent's rotation.
"""

from __future__ import annotations

import math

import numpy as np

from crossdiff.body.kinematics import (NUM_BODY_JOINTS, SMPL_PARENTS, kabsch, matrix_to_axis_angle,
                                       rotation_about, rotation_between)

MULTI_CHILD = {0: (1, 2, 3), 9: (12, 13, 14)}
SINGLE_CHILD = {1: 4, 2: 5, 3: 6, 4: 7, 5: 8, 6: 9, 7: 10, 8: 11, 12: 15, 13: 16, 14: 17, 16: 18,
                17: 19, 18: 20, 19: 21}
# joint -> (its hinge child, the child's flexion axis in the rest frame, flexing positively)
HINGE_OF = {1: (4, (1.0, 0.0, 0.0)), 2: (5, (1.0, 0.0, 0.0)),
            16: (18, (0.0, -1.0, 0.0)), 17: (19, (0.0, 1.0, 0.0))}
FULL_HINGE_TWIST_BEND = math.radians(25)   # below this bend the hinge plane is only partly trusted


def bone_pairs() -> list[tuple[int, int]]:
    """(parent, child) for the 21 bones among the 22 observed joints."""
    return [(SMPL_PARENTS[j], j) for j in range(1, NUM_BODY_JOINTS)]


def estimate_betas(rest_template: np.ndarray, rest_dirs: np.ndarray, targets: np.ndarray,
                   ridge: float = 1e-3, steps: int = 3) -> np.ndarray:
    """Betas [B] whose rest bone lengths best match the targets' median bone lengths.

    rest_template [24, 3] and rest_dirs [24, 3, B] give rest joints = template + dirs @ betas;
    targets [T, 22, 3]. A few Gauss-Newton steps with a small ridge (lengths are nearly linear).
    """
    bones = bone_pairs()
    parents, children = (np.array(x) for x in zip(*bones))
    wanted = np.median(np.linalg.norm(targets[:, children] - targets[:, parents], axis=-1), axis=0)   # [21]
    betas = np.zeros(rest_dirs.shape[-1])
    for _ in range(steps):
        joints = rest_template + rest_dirs @ betas
        vec = joints[children] - joints[parents]                                       # [21, 3]
        length = np.linalg.norm(vec, axis=-1)
        jac = np.einsum("bc,bck->bk", vec / length[:, None], rest_dirs[children] - rest_dirs[parents])
        lhs = jac.T @ jac + ridge * np.eye(len(betas))
        betas = betas + np.linalg.solve(lhs, jac.T @ (wanted - length) - ridge * betas)
    return betas


def _hinge_twist(world_rot: np.ndarray, targets: np.ndarray, joint: int) -> np.ndarray:
    """Rotations [T, 3, 3] about the upper bone that put the child's hinge axis on the limb's bend plane."""
    child, axis = HINGE_OF[joint]
    grandchild = SINGLE_CHILD[child]
    upper = targets[:, child] - targets[:, joint]
    upper /= np.linalg.norm(upper, axis=-1, keepdims=True)
    lower = targets[:, grandchild] - targets[:, child]
    lower /= np.linalg.norm(lower, axis=-1, keepdims=True)
    bend_normal = np.cross(upper, lower)                                # |.| = sin(bend angle)
    current = world_rot @ np.asarray(axis)
    current = current - np.sum(current * upper, -1, keepdims=True) * upper
    wanted = bend_normal - np.sum(bend_normal * upper, -1, keepdims=True) * upper
    angle = np.arctan2(np.sum(upper * np.cross(current, wanted), -1), np.sum(current * wanted, -1))
    # More than a quarter turn means the limb bends backwards; twisting the whole limb round would
    # be worse than a slightly hyper-extended knee, so aim for the opposite side instead.
    angle = np.where(np.abs(angle) > np.pi / 2, angle - np.pi * np.sign(angle), angle)
    trust = np.clip(np.linalg.norm(bend_normal, axis=-1) / math.sin(FULL_HINGE_TWIST_BEND), 0.0, 1.0)
    return rotation_about(upper, trust * angle)


def inverse_kinematics(rest_joints: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rest joints [24, 3] and target joints [T, 22, 3] -> (poses [T, 72] axis-angle, trans [T, 3])."""
    frames = len(targets)
    offsets = rest_joints - rest_joints[list(SMPL_PARENTS)]
    offsets[0] = 0.0
    world = [np.eye(3)] * len(SMPL_PARENTS)
    for joint, parent in enumerate(SMPL_PARENTS):
        parent_rot = np.broadcast_to(np.eye(3), (frames, 3, 3)) if parent < 0 else world[parent]
        if joint in MULTI_CHILD:
            kids = list(MULTI_CHILD[joint])
            world[joint] = kabsch(offsets[kids], targets[:, kids] - targets[:, joint:joint + 1])
        elif joint in SINGLE_CHILD:
            child = SINGLE_CHILD[joint]
            swing = rotation_between(parent_rot @ offsets[child], targets[:, child] - targets[:, joint])
            world[joint] = swing @ parent_rot
            if joint in HINGE_OF:
                world[joint] = _hinge_twist(world[joint], targets, joint) @ world[joint]
        else:
            world[joint] = parent_rot
    world = np.stack(world, 1)                                           # [T, 24, 3, 3]
    parent_world = np.concatenate([np.broadcast_to(np.eye(3), (frames, 1, 3, 3)), world[:, list(SMPL_PARENTS[1:])]], 1)
    local = np.swapaxes(parent_world, -1, -2) @ world
    poses = matrix_to_axis_angle(local).reshape(frames, -1)
    trans = targets[:, 0] - rest_joints[0]
    return poses, trans
