"""Units and up axis of a motion-capture file, read off the body itself.

BVH files do not say which unit they use. The body does: the chain ankle-knee-hip-pelvis-spine-
neck-head has a length that does not depend on the pose, about 1.6 m for the canonical adult.
Each candidate unit (`UNITS`: metres, centimetres, millimetres, inches, and CMU's ASF unit of
1/0.45 inch that its BVH conversions keep) turns that length into metres; the unit giving the
length closest to the canonical one is chosen, and a body outside 0.5 to 1.5 times the canonical
size in every unit is an error that asks for `--scale`. The up axis is the axis along which the
head stands above the ankles in most frames (+y, +z, and even -y or x are recognised). A file
written in a left-handed system shows a body whose toes point backwards relative to its left and
up: `is_mirrored` finds it, and negating x repairs it.
"""

from __future__ import annotations

import numpy as np

from crossdiff.errors import UserError
from crossdiff.mocap.bvh_reader import MocapFileError
from crossdiff.geometry import qbetween, qrot
from crossdiff.skeleton import SKELETONS

T2M = SKELETONS["t2m"]
UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001, "inch": 0.0254, "cmu": 0.0254 / 0.45}   # metres per file unit
STATURE_CHAIN = ("left_ankle", "left_knee", "left_hip", "pelvis", "spine1", "spine2", "spine3", "neck", "head")
CANONICAL_STATURE = 1.75      # metres; the canonical skeleton's head joint is at 1.636 m
PLAUSIBLE = (0.5, 1.5)        # body sizes accepted, relative to the canonical skeleton


def chain_length(joints: np.ndarray) -> float:
    """Median length of the ankle-to-head chain of T2M joints [T, 22, 3], in their units."""
    index = [T2M.joint_names.index(n) for n in STATURE_CHAIN]
    bones = np.linalg.norm(np.diff(joints[:, index], axis=1), axis=-1)       # [T, 8]
    return float(np.median(bones, axis=0).sum())


CANONICAL_CHAIN = chain_length(np.asarray(T2M.canonical_joints)[None])


def stature(joints_metres: np.ndarray) -> float:
    """Body height in metres estimated from the chain length (pose independent)."""
    return chain_length(joints_metres) * CANONICAL_STATURE / CANONICAL_CHAIN


def detect_unit(joints: np.ndarray, source: str) -> tuple[str, float]:
    """(unit name, metres per unit) for T2M joints [T, 22, 3] in file units."""
    length = chain_length(joints)
    ratios = {name: length * metres / CANONICAL_CHAIN for name, metres in UNITS.items()}
    name = min(ratios, key=lambda n: abs(np.log(max(ratios[n], 1e-12))))
    if not PLAUSIBLE[0] <= ratios[name] <= PLAUSIBLE[1]:
        raise MocapFileError(source, 0, f"the body's ankle-to-head chain is {length:.4g} file units, which is no human "
                        f"size in {sorted(UNITS)}; pass --scale METRES_PER_UNIT")
    return name, UNITS[name]


def detect_up(joints: np.ndarray) -> np.ndarray:
    """Unit axis vector [3] (±x, ±y or ±z) along which the head stands above the ankles."""
    head = joints[:, T2M.joint_names.index("head")]
    ankles = joints[:, [T2M.joint_names.index("left_ankle"), T2M.joint_names.index("right_ankle")]].mean(axis=1)
    direction = np.median(head - ankles, axis=0)
    axis = int(np.argmax(np.abs(direction)))
    up = np.zeros(3)
    up[axis] = np.sign(direction[axis]) or 1.0
    return up


def axis_name(up: np.ndarray) -> str:
    axis = int(np.argmax(np.abs(up)))
    return ("+" if up[axis] > 0 else "-") + "xyz"[axis]


def to_y_up(positions: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Rotate [..., 3] positions so that `up` becomes +y (a proper rotation: left stays left)."""
    turn = qbetween(np.asarray(up, np.float64), np.array([0.0, 1.0, 0.0]))
    return qrot(np.broadcast_to(turn, positions.shape[:-1] + (4,)), positions)


def parse_up(value: str) -> np.ndarray | None:
    """'auto' -> None; 'y', '+z', '-y', 'x' ... -> the axis vector; anything else is a UserError."""
    if value == "auto":
        return None
    sign, letter = (-1.0 if value.startswith("-") else 1.0), value.lstrip("+-")
    if letter not in ("x", "y", "z"):
        raise UserError(f"--up {value!r}: choose auto, y, z, -y, -z, x or -x")
    up = np.zeros(3)
    up["xyz".index(letter)] = sign
    return up


def is_mirrored(joints: np.ndarray) -> bool:
    """True when the body's left is on its right: a left-handed file (y up, T2M joints [T, 22, 3]).

    In a right-handed world the toes point along cross(left, up), left being left hip minus right
    hip; a file written in a left-handed system (or with one axis negated) has them point against it.
    """
    names = T2M.joint_names
    left = joints[:, names.index("left_hip")] - joints[:, names.index("right_hip")]
    toes = sum(joints[:, names.index(f"{s}_foot")] - joints[:, names.index(f"{s}_ankle")] for s in ("left", "right"))
    forward = np.cross(left, np.array([0.0, 1.0, 0.0]))
    return bool(np.median((forward * toes).sum(-1)) < 0)
