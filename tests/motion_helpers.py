"""Random but plausible joint sequences for the motion tests: FK of a skeleton's canonical rest pose.

Every joint gets a smooth random local rotation (sums of slow sinusoids, about 0.3 rad); the root
walks along a smoothly turning path. The bones keep their canonical lengths exactly.
"""

from __future__ import annotations

import numpy as np

from crossdiff.geometry import qmul, qnormalize, qrot, yaw_quaternion
from crossdiff.skeleton import get_skeleton


def _smooth_signal(rng, frames: int, channels: int, amplitude: float) -> np.ndarray:
    """[frames, channels]: a sum of three random slow sinusoids per channel."""
    t = np.arange(frames)[:, None, None] / 20.0
    freq = rng.uniform(0.2, 1.5, size=(1, channels, 3))
    phase = rng.uniform(0, 2 * np.pi, size=(1, channels, 3))
    return amplitude / 3 * np.sin(2 * np.pi * freq * t + phase).sum(-1)


def _axis_angle_quaternion(rotvec: np.ndarray) -> np.ndarray:
    angle = np.linalg.norm(rotvec, axis=-1, keepdims=True)
    axis = rotvec / np.maximum(angle, 1e-12)
    return qnormalize(np.concatenate([np.cos(angle / 2), np.sin(angle / 2) * axis], axis=-1))


def random_clip(frames: int = 60, seed: int = 0, skeleton: str = "t2m", turn: float = 2.0,
                speed: float = 1.0) -> np.ndarray:
    """[frames, J, 3] joints of the canonical skeleton in the skeleton's units, y up."""
    sk = get_skeleton(skeleton)
    rng = np.random.default_rng(seed)
    rest = np.asarray(sk.canonical_joints, np.float64)
    unit = 1.0 / sk.metres_per_unit
    parents = sk.parents
    local = _axis_angle_quaternion(_smooth_signal(rng, frames, 3 * sk.joints_num, 0.3).reshape(frames, -1, 3))
    yaw = rng.uniform(-np.pi, np.pi) + np.linspace(0, turn, frames)
    heading = yaw_quaternion(yaw / 2)
    step = qrot(heading, np.broadcast_to([0.0, 0.0, speed * unit / 20.0], (frames, 3)))
    root = np.cumsum(step, axis=0) + rest[0] + rng.uniform(-1, 1, 3) * [unit, 0, unit]
    glob = np.zeros((frames, sk.joints_num, 4))
    joints = np.zeros((frames, sk.joints_num, 3))
    glob[:, 0] = qmul(heading, local[:, 0])
    joints[:, 0] = root
    for chain in sk.chains:
        for parent, child in zip(chain[:-1], chain[1:]):
            assert parents[child] == parent
            bone = np.broadcast_to(rest[child] - rest[parent], (frames, 3))
            joints[:, child] = joints[:, parent] + qrot(glob[:, parent], bone)
            glob[:, child] = qmul(glob[:, parent], local[:, child])
    return joints
