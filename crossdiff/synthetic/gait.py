"""Footstep planning for the synthetic locomotion actions (walk, run, side-step, turn, ...).

Given where the body goes (`plan.base_xz`, `plan.yaw`), feet take alternating steps on a fixed
cadence: each footprint is the foot's neutral place relative to the body at a moment inside its
coming stance, so the body travels over planted feet. Late in stance the heel lifts while the toe
stays put (it lends the leg the reach a real ankle gives); the swing lifts the foot over a smooth
arc. The final two steps land after the body has stopped, so every walk ends standing neutrally.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crossdiff.synthetic.body import ELBOW_FLEX, FLEX, LEFT, RIGHT, BodyPlan, RestBody, local_to_world_xz, rot_x, rot_y
from crossdiff.synthetic.curves import frame_times, min_jerk


@dataclass(frozen=True)
class Gait:
    """Timing and shape of a gait; times in seconds."""

    step_period: float      # time between two landings (one foot, then the other)
    swing: float            # time a foot is in the air (> step_period: a flight phase, i.e. running)
    clearance: float        # peak height of the swinging ankle above its flat height
    heel_rise: float = 0.35  # foot pitch at toe-off (radians)
    width: float = 0.0      # extra stance width on each side (side-steps)
    footprint_at: float = 0.45  # where in its stance the foot sits under the body (0 = landing)

    @property
    def stance(self) -> float:
        return 2 * self.step_period - self.swing


@dataclass(frozen=True)
class StepSchedule:
    lift: np.ndarray        # [N] seconds
    land: np.ndarray        # [N] seconds
    side: np.ndarray        # [N] LEFT/RIGHT

    @property
    def end(self) -> float:
        return float(self.land[-1]) if len(self.land) else 0.0


def schedule_steps(start: float, stop: float, gait: Gait, first_side: int) -> StepSchedule:
    """Alternating steps from `start` until the last two land at or after `stop` (the body's stop time)."""
    lands = [start + gait.swing]
    while len(lands) < 2 or lands[-2] < stop:
        lands.append(lands[-1] + gait.step_period)
    land = np.array(lands)
    side = (first_side + np.arange(len(land))) % 2
    return StepSchedule(lift=land - gait.swing, land=land, side=side)


def _interp_pose(t: np.ndarray, plan: BodyPlan, when: np.ndarray):
    """Base xz [N, 2] and yaw [N] of the plan at times `when` [N] (linear between frames)."""
    xz = np.stack([np.interp(when, t, plan.base_xz[:, k]) for k in range(2)], -1)
    return xz, np.interp(when, t, plan.yaw)


def place_steps(plan: BodyPlan, body: RestBody, schedule: StepSchedule, gait: Gait, stop: float) -> None:
    """Fill plan.ankles, foot_yaw, toe_down and contact from the schedule (in place)."""
    t = frame_times(plan.frames)
    stance_at = np.minimum(schedule.land + gait.footprint_at * gait.stance, stop)
    centre, yaw = _interp_pose(t, plan, stance_at)
    for side in (LEFT, RIGHT):
        mine = schedule.side == side
        offset = body.neutral_feet[side] + [gait.width * (1 if side == LEFT else -1), 0.0]
        start_xz, start_yaw = _interp_pose(t, plan, np.zeros(1))
        prints_yaw = np.concatenate([start_yaw, yaw[mine]])
        prints_xz = np.concatenate([start_xz, centre[mine]]) + local_to_world_xz(
            np.broadcast_to(offset, (mine.sum() + 1, 2)), prints_yaw)
        _foot_track(plan, body, side, t, prints_xz, prints_yaw, schedule.lift[mine], gait)


def _foot_track(plan, body, side, t, prints_xz, prints_yaw, lifts, gait: Gait) -> None:
    """One foot: stands on footprint i until lift i, then swings to footprint i+1.

    prints_xz [N+1, 2] flat-ankle positions, prints_yaw [N+1], lifts [N] seconds.
    """
    flat = body.ankle_height(side)
    done = np.searchsorted(lifts, t, side="right")          # swings started so far, per frame
    u = np.where(done > 0, (t - lifts[np.maximum(done - 1, 0)]) / gait.swing, 1.0)
    swinging = (done > 0) & (u < 1.0)
    stand_idx = np.where(swinging, done - 1, done)         # footprint the foot stands on (or left)
    # Heel rise in late stance, until the next lift (none after the last footprint).
    next_lift = np.where(done < len(lifts), lifts[np.minimum(done, len(lifts) - 1)], np.inf)
    rise_time = 0.35 * gait.stance
    rise = gait.heel_rise * np.clip(1 - (next_lift - t) / rise_time, 0, 1) ** 2
    stance_ankle = _ankle_under_toe(body, side, prints_xz[stand_idx], prints_yaw[stand_idx], rise, flat)
    # Swing from the (heel-raised) lift-off ankle to the flat landing ankle.
    src = np.maximum(done - 1, 0)
    dst = np.minimum(src + 1, len(prints_yaw) - 1)
    s = min_jerk(u)[:, None]
    lift_ankle = _ankle_under_toe(body, side, prints_xz[src], prints_yaw[src], np.full(len(t), gait.heel_rise), flat)
    land_ankle = _ankle_under_toe(body, side, prints_xz[dst], prints_yaw[dst], np.zeros(len(t)), flat)
    swing_ankle = lift_ankle + s * (land_ankle - lift_ankle)
    swing_ankle[:, 1] += gait.clearance * np.sin(np.pi * np.clip(u, 0, 1))
    swing_yaw = prints_yaw[src] + s[:, 0] * (prints_yaw[dst] - prints_yaw[src])

    plan.ankles[:, side] = np.where(swinging[:, None], swing_ankle, stance_ankle)
    plan.foot_yaw[:, side] = np.where(swinging, swing_yaw, prints_yaw[stand_idx])
    plan.toe_down[:, side] = np.where(swinging, gait.heel_rise * (1 - s[:, 0]), rise)
    plan.contact[:, side] = ~swinging


def _ankle_under_toe(body: RestBody, side: int, ankle_xz, yaw, pitch, flat: float) -> np.ndarray:
    """Ankle [N, 3] for a foot whose flat ankle would be at ankle_xz, pitched about its (fixed) toe."""
    toe = body.toe(side)
    flat_ankle = np.stack([ankle_xz[:, 0], np.full(len(yaw), flat), ankle_xz[:, 1]], -1)
    toe_world = flat_ankle + rot_y(yaw) @ toe
    return toe_world - rot_y(yaw) @ rot_x(pitch) @ toe


def swing_arms(plan: BodyPlan, gain: float, elbow: float, weight: np.ndarray) -> None:
    """Arms swing against the legs: the left arm goes forward with the right foot, by `gain` rad/m."""
    facing = np.stack([np.sin(plan.yaw), np.cos(plan.yaw)], -1)
    ahead = np.einsum("tsk,tk->ts", plan.ankles[:, :, [0, 2]], facing)
    lead = ahead[:, RIGHT] - ahead[:, LEFT]
    for side, sign in ((LEFT, 1.0), (RIGHT, -1.0)):
        swing = np.clip(gain * sign * lead, -0.7, 0.9)
        plan.arms[:, side, FLEX] += weight * swing
        plan.arms[:, side, ELBOW_FLEX] += weight * (elbow - plan.arms[:, side, ELBOW_FLEX] + 0.25 * np.maximum(swing, 0))
