"""Smooth time curves for the synthetic actions: minimum-jerk easing, key-frame tracks, neutral plans."""

from __future__ import annotations

import numpy as np

from crossdiff.skeleton import SKELETONS
from crossdiff.synthetic.body import LEFT, RIGHT, BodyPlan, RestBody, local_to_world_xz

FPS = SKELETONS["t2m"].fps        # the synthetic dataset is a HumanML3D-format (T2M) folder
# Arm angles of a relaxed standing pose: hanging, slightly away from the hips, elbows soft.
NEUTRAL_ARM = np.array([0.05, 0.12, 0.0, 0.0, 0.2])


def min_jerk(u: np.ndarray) -> np.ndarray:
    """Minimum-jerk easing 10u^3 - 15u^4 + 6u^5 of u clipped to [0, 1] (zero velocity and acceleration at both ends)."""
    u = np.clip(u, 0.0, 1.0)
    return u**3 * (10 - 15 * u + 6 * u**2)


def frame_times(frames: int) -> np.ndarray:
    return np.arange(frames) / FPS


def keyframes(t: np.ndarray, times, values) -> np.ndarray:
    """Piecewise minimum-jerk interpolation through keys; holds the first/last value outside them.

    t [T] seconds, times [K] increasing, values [K] or [K, D] -> [T] or [T, D].
    """
    times = np.asarray(times, float)
    values = np.asarray(values, float)
    seg = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 2)
    span = np.maximum(times[seg + 1] - times[seg], 1e-9)
    s = min_jerk((t - times[seg]) / span)
    if values.ndim > 1:
        s = s[:, None]
    return values[seg] + s * (values[seg + 1] - values[seg])


def bump(t: np.ndarray, start: float, rise: float, hold: float, fall: float) -> np.ndarray:
    """0 -> 1 over `rise` s from `start`, hold, back to 0 over `fall` s: a smooth envelope [T]."""
    return keyframes(t, [start, start + rise, start + rise + hold, start + rise + hold + fall], [0, 1, 1, 0])


def neutral_plan(frames: int, body: RestBody) -> BodyPlan:
    """A person standing still at the origin facing +z for `frames` frames."""
    zeros = np.zeros(frames)
    feet_xz = local_to_world_xz(body.neutral_feet, np.zeros(2))
    ankles = np.zeros((frames, 2, 3))
    for side in (LEFT, RIGHT):
        ankles[:, side] = [feet_xz[side, 0], body.ankle_height(side), feet_xz[side, 1]]
    return BodyPlan(
        base_xz=np.zeros((frames, 2)), yaw=zeros.copy(), pelvis_height=np.full(frames, body.standing_height()),
        pelvis_shift=np.zeros((frames, 2)), pelvis_rot=np.zeros((frames, 3)), spine=np.zeros((frames, 3)),
        head=np.zeros((frames, 2)), arms=np.broadcast_to(NEUTRAL_ARM, (frames, 2, 5)).copy(),
        ankles=ankles, foot_yaw=np.zeros((frames, 2)), toe_down=np.zeros((frames, 2)),
        contact=np.ones((frames, 2), bool),
    )


def set_arm(plan: BodyPlan, side: int, channel: int, weight: np.ndarray, target) -> None:
    """Blend arm channel(s) of one arm from their current value towards `target` by weight [T] in [0, 1]."""
    current = plan.arms[:, side, channel]
    w = weight if np.ndim(current) == 1 else weight[:, None]
    plan.arms[:, side, channel] = current + w * (np.asarray(target, float) - current)

