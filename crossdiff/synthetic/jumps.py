"""Jumping families: jump in place, jump forward, hop on one leg.

A jump is crouch -> push (constant acceleration) -> ballistic flight -> landing that absorbs the
take-off speed -> recovery, so the pelvis height and its velocity are continuous. Feet leave the
floor only in flight (they are planted, and flagged as contacts, otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crossdiff.synthetic.body import ABD, FLEX, LEFT, RIGHT, BodyPlan, RestBody
from crossdiff.synthetic.curves import FPS, frame_times, keyframes, min_jerk, neutral_plan

GRAVITY = 9.81
SIDES = ("left", "right")


@dataclass(frozen=True)
class Jump:
    start: float            # seconds: the crouch begins
    height: float           # apex of the pelvis above standing height (m)
    crouch: float = 0.15    # depth of the crouch before take-off and after landing (m)
    crouch_time: float = 0.35
    recover_time: float = 0.45

    @property
    def speed(self) -> float:
        return float(np.sqrt(2 * GRAVITY * self.height))

    @property
    def takeoff(self) -> float:
        return self.start + self.crouch_time + 2 * self.crouch / self.speed

    @property
    def touchdown(self) -> float:
        return self.takeoff + 2 * self.speed / GRAVITY

    @property
    def end(self) -> float:
        return self.touchdown + 2 * self.crouch / self.speed + self.recover_time


def jump_height_curve(t: np.ndarray, jump: Jump) -> np.ndarray:
    """[T] pelvis height offset from standing (0 outside the jump)."""
    c, v = jump.crouch, jump.speed
    push_start, land_end = jump.start + jump.crouch_time, jump.touchdown + 2 * c / v
    y = np.zeros_like(t)
    down = (t >= jump.start) & (t < push_start)
    y[down] = -c * min_jerk((t[down] - jump.start) / jump.crouch_time)
    push = (t >= push_start) & (t < jump.takeoff)
    y[push] = -c + c * ((t[push] - push_start) / (jump.takeoff - push_start)) ** 2
    flight = (t >= jump.takeoff) & (t < jump.touchdown)
    tau = t[flight] - jump.takeoff
    y[flight] = v * tau - 0.5 * GRAVITY * tau**2
    land = (t >= jump.touchdown) & (t < land_end)
    tau = t[land] - jump.touchdown
    y[land] = -v * tau + 0.5 * (v**2 / (2 * c)) * tau**2
    rec = (t >= land_end) & (t < jump.end)
    y[rec] = -c * (1 - min_jerk((t[rec] - land_end) / jump.recover_time))
    return y


def _apply_jumps(plan: BodyPlan, jumps: list[Jump], feet: tuple[int, ...], distance: float = 0.0,
                 arm_swing: float = 2.2) -> None:
    """Pelvis, feet, arms and torso for a series of jumps (in place); `distance` metres forward per jump.

    The feet travel only in flight; the body's base starts moving during the push and settles in
    the recovery, so the pelvis leads the feet at take-off and catches up after landing.
    """
    t = frame_times(plan.frames)
    arms_up = np.zeros_like(t)
    for jump in jumps:
        y = jump_height_curve(t, jump)
        plan.pelvis_height += y
        airborne = (t >= jump.takeoff) & (t < jump.touchdown)
        # Tuck: the feet rise a little more than the pelvis, so the legs bend in the air.
        lift = np.where(airborne, 1.25 * np.maximum(y, 0), 0.0)
        feet_travel = distance * min_jerk((t - jump.takeoff) / (jump.touchdown - jump.takeoff))
        body_start = jump.start + 0.5 * jump.crouch_time
        plan.base_xz[:, 1] += distance * min_jerk((t - body_start) / (jump.end - body_start))
        for side in feet:
            plan.ankles[:, side, 1] += lift
            plan.ankles[:, side, 2] += feet_travel
            plan.contact[airborne, side] = False
        crouched = np.clip(-y / jump.crouch, 0, 1)
        plan.spine[:, 0] += np.where(t < jump.takeoff, 0.6, 0.3) * crouched
        arms_up += keyframes(t, [jump.start, jump.start + jump.crouch_time, jump.takeoff + 0.1, jump.touchdown, jump.end],
                             [0.0, -0.35, 1.0, 0.5, 0.0])
    for side in (LEFT, RIGHT):
        plan.arms[:, side, FLEX] += arm_swing * np.maximum(arms_up, 0) + 1.8 * np.minimum(arms_up, 0)


def _jump_series(count: int, height: float, crouch: float, first: float = 0.4, gap: float = 0.0) -> list[Jump]:
    jumps = [Jump(start=first, height=height, crouch=crouch)]
    for _ in range(count - 1):
        jumps.append(Jump(start=jumps[-1].end + gap, height=height, crouch=crouch))
    return jumps


def _frames_for(end: float, hold: float = 0.3) -> int:
    return int(round((end + hold) * FPS)) + 1


def sample_jump_in_place(rng) -> dict:
    return {"repetitions": int(rng.integers(1, 4)), "height": float(rng.uniform(0.12, 0.4))}


def build_jump_in_place(p: dict, body: RestBody) -> BodyPlan:
    jumps = _jump_series(p["repetitions"], p["height"], crouch=0.1 + 0.25 * p["height"])
    plan = neutral_plan(_frames_for(jumps[-1].end), body)
    _apply_jumps(plan, jumps, (LEFT, RIGHT), arm_swing=1.2 + 3 * p["height"])
    return plan


def sample_jump_forward(rng) -> dict:
    return {"repetitions": int(rng.integers(1, 3)), "distance": float(rng.uniform(0.4, 1.0)),
            "height": float(rng.uniform(0.15, 0.3))}


def build_jump_forward(p: dict, body: RestBody) -> BodyPlan:
    jumps = _jump_series(p["repetitions"], p["height"], crouch=0.18)
    plan = neutral_plan(_frames_for(jumps[-1].end), body)
    _apply_jumps(plan, jumps, (LEFT, RIGHT), distance=p["distance"], arm_swing=1.6)
    return plan


def sample_hop(rng) -> dict:
    return {"leg": str(rng.choice(SIDES)), "repetitions": int(rng.integers(2, 7)), "height": float(rng.uniform(0.06, 0.14))}


def build_hop(p: dict, body: RestBody) -> BodyPlan:
    """Shift the weight over the hopping leg, lift the other foot behind, hop, put it down."""
    stance = LEFT if p["leg"] == "left" else RIGHT
    free = 1 - stance
    hops = [Jump(start=0.9, height=p["height"], crouch=0.06, crouch_time=0.15, recover_time=0.08)]
    for _ in range(p["repetitions"] - 1):
        hops.append(Jump(start=hops[-1].end, height=p["height"], crouch=0.06, crouch_time=0.15, recover_time=0.08))
    plan = neutral_plan(_frames_for(hops[-1].end + 0.8), body)
    t = frame_times(plan.frames)
    lifted = keyframes(t, [0.3, 0.8, hops[-1].end + 0.1, hops[-1].end + 0.6], [0, 1, 1, 0])
    shifted = keyframes(t, [0.0, 0.5, hops[-1].end + 0.3, hops[-1].end + 0.8], [0, 1, 1, 0])
    plan.pelvis_shift[:, 0] += 0.8 * body.neutral_feet[stance, 0] * shifted
    _apply_jumps(plan, hops, (stance,), arm_swing=0.4)
    # The free foot rides along with the pelvis, bent back at the knee.
    plan.ankles[:, free, 1] += lifted * (0.3 + np.maximum(plan.pelvis_height - body.standing_height(), -0.1))
    plan.ankles[:, free, 2] -= 0.22 * lifted
    plan.contact[:, free] &= lifted == 0
    plan.toe_down[:, free] += 0.5 * lifted
    for side in (LEFT, RIGHT):
        plan.arms[:, side, ABD] += 0.5 * lifted
    return plan
