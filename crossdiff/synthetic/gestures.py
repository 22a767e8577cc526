"""Standing families: squat, kick, punch, wave, raise both arms, clap, bow.

The feet stay on their neutral footprints (except the kicking foot); repetitions are laid out on a
regular beat after a short lead-in, and every action returns to the neutral standing pose.
"""

from __future__ import annotations

import numpy as np

from crossdiff.synthetic.body import ABD, ELBOW_FLEX, FLEX, HIP, HORIZ, LEFT, RIGHT, TWIST, BodyPlan, RestBody, rot_x
from crossdiff.synthetic.curves import FPS, bump, frame_times, keyframes, neutral_plan, set_arm

SIDES = ("left", "right")
LEAD_IN = 0.4


def _side(name: str) -> int:
    return LEFT if name == "left" else RIGHT


def _frames(duration: float) -> int:
    return int(round(duration * FPS)) + 1


def sample_squat(rng) -> dict:
    return {"repetitions": int(rng.integers(1, 4)), "depth": float(rng.uniform(0.2, 0.42)),
            "period": float(rng.uniform(1.4, 2.2)), "arms_forward": bool(rng.random() < 0.5)}


def build_squat(p: dict, body: RestBody) -> BodyPlan:
    period = p["period"]
    plan = neutral_plan(_frames(LEAD_IN + p["repetitions"] * period + 0.4), body)
    t = frame_times(plan.frames)
    down = sum(bump(t, LEAD_IN + k * period, 0.45 * period, 0.1 * period, 0.45 * period) for k in range(p["repetitions"]))
    plan.pelvis_height -= p["depth"] * down
    plan.pelvis_shift[:, 1] -= 0.45 * p["depth"] * down
    plan.pelvis_rot[:, 0] += 0.9 * p["depth"] * down
    plan.spine[:, 0] += 0.5 * p["depth"] * down
    arms = 1.5 if p["arms_forward"] else 0.25
    for side in (LEFT, RIGHT):
        plan.arms[:, side, FLEX] += arms * down
    return plan


def sample_kick(rng) -> dict:
    return {"leg": str(rng.choice(SIDES)), "repetitions": int(rng.integers(1, 4)),
            "height": float(rng.uniform(0.9, 1.5))}


def build_kick(p: dict, body: RestBody) -> BodyPlan:
    """Weight onto the standing leg, then chamber - extend - retract - put down, `repetitions` times.

    `height` is the hip angle of the extended leg from vertical (radians).
    """
    kicking = _side(p["leg"])
    stance = 1 - kicking
    period = 1.1
    end = LEAD_IN + 0.3 + p["repetitions"] * period + 0.5
    plan = neutral_plan(_frames(end), body)
    t = frame_times(plan.frames)
    weight = keyframes(t, [0.0, LEAD_IN, end - 0.5, end - 0.1], [0, 1, 1, 0])
    plan.pelvis_shift[:, 0] += 0.7 * body.neutral_feet[stance, 0] * weight
    plan.spine[:, 0] -= 0.15 * weight
    plan.spine[:, 1] += 0.08 * weight * (1 if stance == LEFT else -1)
    for side in (LEFT, RIGHT):
        plan.arms[:, side, ABD] += 0.45 * weight

    leg = body.thigh(kicking) + body.shin(kicking)
    keys, angle, reach, blend = [0.0], [0.0], [0.97], [0.0]
    for k in range(p["repetitions"]):
        s = LEAD_IN + 0.3 + k * period
        keys += [s, s + 0.3, s + 0.45, s + 0.7, s + 1.0]
        angle += [0.0, 0.6 * p["height"], p["height"], 0.5 * p["height"], 0.0]
        reach += [0.97, 0.6, 0.97, 0.6, 0.97]
        blend += [0.0, 1.0, 1.0, 1.0, 0.0]
    track = keyframes(t, keys, np.stack([angle, reach, blend], -1))
    hip = np.stack([plan.pelvis_shift[:, 0], np.full(len(t), body.standing_height()), plan.pelvis_shift[:, 1]], -1)
    hip = hip + body.offsets[HIP[kicking]]
    target = hip + leg * track[:, 1:2] * np.stack([np.zeros(len(t)), -np.cos(track[:, 0]), np.sin(track[:, 0])], -1)
    w = track[:, 2:3]
    plan.ankles[:, kicking] = (1 - w) * plan.ankles[:, kicking] + w * target
    plan.contact[:, kicking] = track[:, 2] == 0
    plan.toe_down[:, kicking] += 0.5 * track[:, 0] / p["height"]
    # Pointing the toes must not push them through the floor.
    toe_drop = (rot_x(plan.toe_down[:, kicking]) @ body.toe(kicking))[:, 1]
    plan.ankles[:, kicking, 1] = np.maximum(plan.ankles[:, kicking, 1], -toe_drop)
    return plan


def sample_punch(rng) -> dict:
    return {"hand": str(rng.choice(["left", "right", "both"])), "repetitions": int(rng.integers(1, 7)),
            "period": float(rng.uniform(0.45, 0.8))}


def build_punch(p: dict, body: RestBody) -> BodyPlan:
    """Guard up, then jabs on a beat (alternating hands for 'both'), guard down."""
    period = p["period"]
    guard_end = LEAD_IN + 0.4 + p["repetitions"] * period
    plan = neutral_plan(_frames(guard_end + 0.6), body)
    t = frame_times(plan.frames)
    guard = bump(t, LEAD_IN - 0.2, 0.4, guard_end - LEAD_IN, 0.5)
    for side in (LEFT, RIGHT):
        set_arm(plan, side, [FLEX, ABD, HORIZ, ELBOW_FLEX], guard, [0.7, 0.25, -0.4, 2.2])
    for k in range(p["repetitions"]):
        side = _side(p["hand"]) if p["hand"] != "both" else (RIGHT, LEFT)[k % 2]
        strike = bump(t, LEAD_IN + 0.3 + k * period, 0.14, 0.06, 0.22)
        set_arm(plan, side, [FLEX, ABD, HORIZ, ELBOW_FLEX], strike, [1.45, 0.1, -0.25, 0.05])
        plan.spine[:, 2] += 0.3 * strike * (-1 if side == LEFT else 1)
    return plan


def sample_wave(rng) -> dict:
    return {"hand": str(rng.choice(SIDES)), "repetitions": int(rng.integers(2, 6)),
            "amplitude": float(rng.uniform(0.25, 0.55)), "period": float(rng.uniform(0.35, 0.6))}


def build_wave(p: dict, body: RestBody) -> BodyPlan:
    """Raise the hand above the shoulder, forearm up, and swing the forearm side to side."""
    side = _side(p["hand"])
    period = p["period"]
    wave_time = p["repetitions"] * period
    plan = neutral_plan(_frames(LEAD_IN + 0.5 + wave_time + 0.6), body)
    t = frame_times(plan.frames)
    raised = bump(t, LEAD_IN - 0.1, 0.5, wave_time, 0.5)
    set_arm(plan, side, [FLEX, ABD, TWIST, ELBOW_FLEX], raised, [0.3, 1.9, 1.3, 1.1])
    phase = np.clip(t - (LEAD_IN + 0.4), 0, wave_time)
    plan.arms[:, side, ELBOW_FLEX] += raised * p["amplitude"] * np.sin(2 * np.pi * phase / period)
    plan.head[:, 1] += 0.2 * raised * (1 if side == LEFT else -1)
    return plan


def sample_raise_arms(rng) -> dict:
    return {"style": str(rng.choice(["overhead", "forward", "sideways"])), "hold": float(rng.uniform(0.4, 1.5)),
            "repetitions": int(rng.integers(1, 3))}


RAISED_ARMS = {  # flex, abd, horiz, twist, elbow
    "overhead": [2.9, 0.2, 0.0, 0.0, 0.1],
    "forward": [1.55, 0.05, -0.05, 0.0, 0.05],
    "sideways": [0.0, 1.55, 0.0, 0.0, 0.05],
}


def build_raise_arms(p: dict, body: RestBody) -> BodyPlan:
    period = 1.6 + p["hold"]
    plan = neutral_plan(_frames(LEAD_IN + p["repetitions"] * period + 0.3), body)
    t = frame_times(plan.frames)
    raised = sum(bump(t, LEAD_IN + k * period, 0.75, p["hold"], 0.75) for k in range(p["repetitions"]))
    for side in (LEFT, RIGHT):
        set_arm(plan, side, slice(0, 5), raised, RAISED_ARMS[p["style"]])
    plan.head[:, 0] -= 0.25 * raised * (p["style"] == "overhead")
    return plan


def sample_clap(rng) -> dict:
    return {"repetitions": int(rng.integers(2, 9)), "period": float(rng.uniform(0.3, 0.6))}


def build_clap(p: dict, body: RestBody) -> BodyPlan:
    """Hands in front of the chest; each clap brings the palms together and apart."""
    period = p["period"]
    clap_time = p["repetitions"] * period
    plan = neutral_plan(_frames(LEAD_IN + 0.5 + clap_time + 0.6), body)
    t = frame_times(plan.frames)
    ready = bump(t, LEAD_IN - 0.1, 0.5, clap_time, 0.5)
    phase = np.clip(t - (LEAD_IN + 0.4), 0, clap_time)
    together = 0.5 - 0.5 * np.cos(2 * np.pi * phase / period)
    for side in (LEFT, RIGHT):
        set_arm(plan, side, [FLEX, ABD, HORIZ, TWIST, ELBOW_FLEX], ready, [0.75, 0.2, -0.15, 0.9, 1.35])
        plan.arms[:, side, HORIZ] -= ready * 0.42 * together
    return plan


def sample_bow(rng) -> dict:
    return {"depth": float(rng.uniform(0.45, 1.1)), "hold": float(rng.uniform(0.3, 1.2))}


def build_bow(p: dict, body: RestBody) -> BodyPlan:
    """Bend forward at the hips and waist, hold, straighten up; arms hang along the body."""
    plan = neutral_plan(_frames(LEAD_IN + 1.6 + p["hold"] + 0.3), body)
    t = frame_times(plan.frames)
    bent = bump(t, LEAD_IN, 0.8, p["hold"], 0.8)
    plan.pelvis_rot[:, 0] += 0.6 * p["depth"] * bent
    plan.spine[:, 0] += 0.4 * p["depth"] * bent
    plan.pelvis_shift[:, 1] -= 0.12 * p["depth"] * bent
    plan.head[:, 0] += 0.2 * bent
    for side in (LEFT, RIGHT):
        plan.arms[:, side, ABD] -= 0.08 * bent
    return plan
