"""The statistic that defines each synthetic motion family, measured on joints `[T, 22, 3]` (metres, y up, 20 fps).

`FAMILY_STATISTICS[family]` names the statistic of a family (e.g. "kick" -> foot lift) and
`family_statistic(family, joints)` measures it, so real and generated motions for the same caption
can be compared number to number (`crossdiff.evaluation.family_fidelity`). Every statistic is a
plain function of the joints of one motion on the T2M skeleton; none looks at captions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

FPS = 20
PELVIS, L_HIP, R_HIP, L_ANKLE, R_ANKLE, SPINE3, NECK, HEAD = 0, 1, 2, 7, 8, 9, 12, 15
L_FOOT, R_FOOT, L_SHOULDER, R_SHOULDER, L_WRIST, R_WRIST = 10, 11, 16, 17, 20, 21
# Heights of the canonical T2M skeleton standing upright (crossdiff.skeleton), feet on the floor.
STANDING_PELVIS, STANDING_HEAD = 0.976, 1.636
ARM_LENGTH = 0.548                   # shoulder to wrist of the canonical skeleton
CHEST_BELOW_SPINE3 = 0.1            # wrists above spine3 - 0.1 m count as "at chest height"


@dataclass(frozen=True)
class Statistic:
    name: str                         # what is measured, for tables
    unit: str
    measure: Callable[[np.ndarray], float]


def _horizontal(joints: np.ndarray, joint: int) -> np.ndarray:
    return joints[:, joint][:, [0, 2]]


def root_rise(joints: np.ndarray) -> float:
    """Highest pelvis height above its median (the standing height of a clip that jumps now and then)."""
    height = joints[:, PELVIS, 1]
    return float(height.max() - np.median(height))


def foot_lift(joints: np.ndarray) -> float:
    """Highest foot height above the lowest foot height of the clip."""
    feet = joints[:, [L_ANKLE, R_ANKLE, L_FOOT, R_FOOT], 1]
    return float(feet.max() - feet.min())


def wrist_above_shoulder(joints: np.ndarray) -> float:
    """How far the higher wrist gets above its own shoulder (negative: it never reaches the shoulder)."""
    rise = joints[:, [L_WRIST, R_WRIST], 1] - joints[:, [L_SHOULDER, R_SHOULDER], 1]
    return float(rise.max())


def arms_raised(joints: np.ndarray) -> float:
    """Peak lift of the lower wrist above where a hanging arm puts it (0 at rest, ~0.55 at shoulder height)."""
    rise = joints[:, [L_WRIST, R_WRIST], 1] - joints[:, [L_SHOULDER, R_SHOULDER], 1] + ARM_LENGTH
    return float(rise.min(axis=1).max())


def hand_distance_oscillation(joints: np.ndarray) -> float:
    """How fast the distance between the wrists changes (m/s, mean over the motion), counted only while both
    wrists are at least at chest height: claps open and close the hands there, arm swings and punches
    stay lower or move one hand."""
    distance = np.linalg.norm(joints[:, L_WRIST] - joints[:, R_WRIST], axis=-1)
    raised = joints[:, [L_WRIST, R_WRIST], 1].min(axis=1) > joints[:, SPINE3, 1] - CHEST_BELOW_SPINE3
    counted = raised[1:] & raised[:-1]
    return float(np.abs(np.diff(distance))[counted].sum() * FPS / max(len(distance) - 1, 1))


def facing_yaw(joints: np.ndarray) -> np.ndarray:
    """[T] unwrapped heading angle (radians) of the hips' across vector in the floor plane."""
    across = _horizontal(joints, L_HIP) - _horizontal(joints, R_HIP)
    return np.unwrap(np.arctan2(across[:, 1], across[:, 0]))


def yaw_turned(joints: np.ndarray) -> float:
    """Net heading change over the motion, in degrees (sign ignored)."""
    yaw = facing_yaw(joints)
    return float(np.degrees(abs(yaw[-1] - yaw[0])))


def speed(joints: np.ndarray) -> float:
    """Mean horizontal speed of the pelvis along its path (m/s)."""
    steps = np.diff(_horizontal(joints, PELVIS), axis=0)
    return float(np.linalg.norm(steps, axis=-1).sum() * FPS / max(len(steps), 1))


def sideways_speed(joints: np.ndarray) -> float:
    """Mean pelvis speed along the hips' across direction (m/s): what a side step covers."""
    steps = np.diff(_horizontal(joints, PELVIS), axis=0)
    across = _horizontal(joints, L_HIP) - _horizontal(joints, R_HIP)
    across = across[:-1] / np.maximum(np.linalg.norm(across[:-1], axis=-1, keepdims=True), 1e-6)
    return float(np.abs((steps * across).sum(-1)).sum() * FPS / max(len(steps), 1))


def head_drop(joints: np.ndarray) -> float:
    """How far the head gets below its standing height (5th percentile of the head height)."""
    return float(STANDING_HEAD - np.percentile(joints[:, HEAD, 1], 5))


def pelvis_drop(joints: np.ndarray) -> float:
    """How far the pelvis gets below its standing height (5th percentile of the pelvis height)."""
    return float(STANDING_PELVIS - np.percentile(joints[:, PELVIS, 1], 5))


def facing(joints: np.ndarray) -> np.ndarray:
    """[T, 2] unit forward direction in the floor plane (the hips' across vector turned by 90 degrees)."""
    across = _horizontal(joints, L_HIP) - _horizontal(joints, R_HIP)
    forward = np.stack([-across[:, 1], across[:, 0]], -1)
    return forward / np.maximum(np.linalg.norm(forward, axis=-1, keepdims=True), 1e-6)


def hand_reach(joints: np.ndarray) -> float:
    """Farthest a wrist gets in front of the neck along the facing direction (a punch extends the arm)."""
    forward = facing(joints)
    reach = [((_horizontal(joints, w) - _horizontal(joints, NECK)) * forward).sum(-1) for w in (L_WRIST, R_WRIST)]
    return float(np.max(reach))


_ROOT_RISE = Statistic("root rise", "m", root_rise)
_SPEED = Statistic("speed", "m/s", speed)
_YAW = Statistic("yaw turned", "deg", yaw_turned)
_HEAD_DROP = Statistic("head drop", "m", head_drop)
FAMILY_STATISTICS: dict[str, Statistic] = {
    "walk": _SPEED, "jog": _SPEED, "run": _SPEED, "walk_backward": _SPEED,
    "side_step": Statistic("sideways speed", "m/s", sideways_speed),
    "turn": _YAW, "spin": _YAW,
    "crouch_walk": _HEAD_DROP, "bow": _HEAD_DROP,
    "jump_in_place": _ROOT_RISE, "jump_forward": _ROOT_RISE, "hop": _ROOT_RISE,
    "squat": Statistic("pelvis drop", "m", pelvis_drop),
    "kick": Statistic("foot lift", "m", foot_lift),
    "punch": Statistic("hand reach", "m", hand_reach),
    "wave": Statistic("wrist above shoulder", "m", wrist_above_shoulder),
    "raise_arms": Statistic("both arms raised", "m", arms_raised),
    "clap": Statistic("hand distance oscillation", "m/s", hand_distance_oscillation),
}


def family_statistic(family: str, joints: np.ndarray) -> float:
    """The defining statistic of `family` measured on one motion `[T, 22, 3]`."""
    if family not in FAMILY_STATISTICS:
        raise KeyError(f"no statistic for motion family {family!r}; known: {', '.join(sorted(FAMILY_STATISTICS))}")
    return FAMILY_STATISTICS[family].measure(np.asarray(joints, dtype=np.float64))


def within(real: float, generated: float, tolerance: float = 0.3) -> bool:
    """The pass mark: `generated` is within `tolerance` (a fraction) of `real`."""
    return abs(generated - real) <= tolerance * abs(real)
