"""Locomotion families: walk, jog, run, walk backwards, side-step, turn, spin, crouch-walk.

Each family has `sample_*(rng) -> params` (plain floats and strings, stored in meta.json) and
`build_*(params, body) -> BodyPlan`. All of them share `_locomotion`: the body moves along a path
with a smooth speed profile while `gait` places the footsteps.
"""

from __future__ import annotations

import numpy as np

from crossdiff.synthetic.body import ABD, LEFT, RIGHT, BodyPlan, RestBody
from crossdiff.synthetic.curves import FPS, frame_times, min_jerk, neutral_plan
from crossdiff.synthetic.gait import Gait, place_steps, schedule_steps, swing_arms

SIDES = ("left", "right")
# Travel direction relative to the facing direction.
TRAVEL = {"forward": 0.0, "backward": np.pi, "left": np.pi / 2, "right": -np.pi / 2}


def _side_index(name: str) -> int:
    return LEFT if name == "left" else RIGHT


def _turn_sign(direction: str) -> float:
    """Positive yaw turns left (counter-clockwise from above)."""
    return 1.0 if direction in ("left", "counterclockwise") else -1.0


def _locomotion(body: RestBody, gait: Gait, *, speed: float, duration: float, travel: float = 0.0,
                turn: float = 0.0, first_side: int = LEFT, ramp: float = 0.6, lead_in: float = 0.3,
                hold: float = 0.35) -> tuple[BodyPlan, np.ndarray]:
    """Stand `lead_in` s, move for `duration` s (speed m/s, turning `turn` rad in total), step to a stop.

    Returns the plan and a [T] activity envelope (0 standing .. 1 full speed / turning rate).
    """
    start, stop = lead_in, lead_in + duration
    schedule = schedule_steps(start, stop, gait, first_side)
    frames = int(round((schedule.end + hold) * FPS)) + 1
    plan = neutral_plan(frames, body)
    t = frame_times(frames)
    envelope = min_jerk((t - start) / ramp) * min_jerk((stop - t) / ramp)
    if speed > 0:
        distance = np.cumsum(speed * envelope) / FPS
        plan.yaw = turn * distance / max(distance[-1], 1e-9)
        heading = plan.yaw + travel
        step = speed * envelope / FPS
        plan.base_xz = np.cumsum(np.stack([step * np.sin(heading), step * np.cos(heading)], -1), 0)
        plan.base_xz -= plan.base_xz[0]
    else:
        plan.yaw = turn * min_jerk((t - start) / duration)
        envelope = np.clip(np.abs(np.gradient(plan.yaw, 1 / FPS)) / max(abs(turn) / duration, 1e-9), 0, 1)
    place_steps(plan, body, schedule, gait, stop)
    return plan, envelope


def sample_walk(rng) -> dict:
    path = rng.choice(["straight", "straight", "curve", "circle"])
    speed = rng.uniform(0.65, 1.5) if path != "circle" else rng.uniform(0.8, 1.1)
    params = {"speed": float(speed), "path": str(path), "direction": str(rng.choice(SIDES))}
    if path == "circle":
        params["radius"] = float(rng.uniform(0.7, 1.0))
        params["duration"] = float(2 * np.pi * params["radius"] / speed)
    else:
        params["duration"] = float(rng.uniform(2.0, 5.0))
        params["turn"] = float(rng.uniform(0.7, 1.5)) if path == "curve" else 0.0
    return params


def _walk_gait(speed: float, slower: float = 0.0) -> Gait:
    period = 1.0 / (1.45 + 0.45 * speed - slower)
    return Gait(step_period=period, swing=0.8 * period, clearance=0.05 + 0.03 * speed, heel_rise=0.25 + 0.15 * speed)


def build_walk(p: dict, body: RestBody) -> BodyPlan:
    turn = {"straight": 0.0, "curve": p.get("turn", 0.0), "circle": 2 * np.pi}[p["path"]] * _turn_sign(p["direction"])
    plan, env = _locomotion(body, _walk_gait(p["speed"]), speed=p["speed"], duration=p["duration"], turn=turn,
                            first_side=_side_index(p["direction"]))
    swing_arms(plan, gain=0.9, elbow=0.3, weight=env)
    return plan


def sample_jog(rng) -> dict:
    return {"speed": float(rng.uniform(1.8, 2.5)), "duration": float(rng.uniform(2.0, 4.5)),
            "lead_foot": str(rng.choice(SIDES))}


def sample_run(rng) -> dict:
    return {"speed": float(rng.uniform(2.8, 3.8)), "duration": float(rng.uniform(2.0, 4.0)),
            "lead_foot": str(rng.choice(SIDES))}


def _run_plan(p: dict, body: RestBody, cadence: float, swing_ratio: float, clearance: float, lean: float) -> BodyPlan:
    period = 1.0 / cadence
    gait = Gait(step_period=period, swing=swing_ratio * period, clearance=clearance, heel_rise=0.55)
    plan, env = _locomotion(body, gait, speed=p["speed"], duration=p["duration"], ramp=0.9,
                            first_side=_side_index(p["lead_foot"]))
    plan.spine[:, 0] += lean * env
    plan.pelvis_height -= 0.04 * env
    swing_arms(plan, gain=1.1, elbow=1.45, weight=env)
    return plan


def build_jog(p: dict, body: RestBody) -> BodyPlan:
    return _run_plan(p, body, cadence=2.55 + 0.1 * p["speed"], swing_ratio=1.2, clearance=0.14, lean=0.1)


def build_run(p: dict, body: RestBody) -> BodyPlan:
    return _run_plan(p, body, cadence=2.8 + 0.1 * p["speed"], swing_ratio=1.35, clearance=0.26, lean=0.22)


def sample_walk_backward(rng) -> dict:
    return {"speed": float(rng.uniform(0.5, 1.0)), "duration": float(rng.uniform(2.0, 4.5)),
            "lead_foot": str(rng.choice(SIDES))}


def build_walk_backward(p: dict, body: RestBody) -> BodyPlan:
    plan, env = _locomotion(body, _walk_gait(p["speed"], slower=0.1), speed=p["speed"], duration=p["duration"],
                            travel=TRAVEL["backward"], first_side=_side_index(p["lead_foot"]))
    plan.spine[:, 0] -= 0.05 * env
    swing_arms(plan, gain=0.6, elbow=0.35, weight=env)
    return plan


def sample_side_step(rng) -> dict:
    return {"speed": float(rng.uniform(0.25, 0.45)), "duration": float(rng.uniform(2.0, 4.0)),
            "direction": str(rng.choice(SIDES))}


def build_side_step(p: dict, body: RestBody) -> BodyPlan:
    gait = Gait(step_period=0.5, swing=0.36, clearance=0.05, heel_rise=0.1, width=0.05)
    plan, env = _locomotion(body, gait, speed=p["speed"], duration=p["duration"], travel=TRAVEL[p["direction"]],
                            first_side=_side_index(p["direction"]))
    for side in (LEFT, RIGHT):
        plan.arms[:, side, ABD] += 0.15 * env
    return plan


def sample_turn(rng) -> dict:
    around = bool(rng.random() < 0.5)
    angle = rng.uniform(160, 200) if around else rng.uniform(75, 105)
    return {"angle_deg": float(angle), "direction": str(rng.choice(SIDES)),
            "duration": float(np.radians(angle) / np.radians(rng.uniform(70, 110)))}


def build_turn(p: dict, body: RestBody) -> BodyPlan:
    gait = Gait(step_period=0.55, swing=0.4, clearance=0.05, heel_rise=0.1)
    turn = np.radians(p["angle_deg"]) * _turn_sign(p["direction"])
    plan, env = _locomotion(body, gait, speed=0.0, duration=p["duration"], turn=turn,
                            first_side=_side_index(p["direction"]))
    plan.head[:, 1] += 0.25 * np.sign(turn) * env
    return plan


def sample_spin(rng) -> dict:
    turns = int(rng.choice([1, 1, 2]))
    angle = 360.0 * turns + rng.uniform(-20, 20)
    return {"turns": turns, "angle_deg": float(angle), "direction": str(rng.choice(["clockwise", "counterclockwise"])),
            "duration": float(angle / rng.uniform(300, 420))}


def build_spin(p: dict, body: RestBody) -> BodyPlan:
    gait = Gait(step_period=0.3, swing=0.24, clearance=0.06, heel_rise=0.15)
    turn = np.radians(p["angle_deg"]) * _turn_sign(p["direction"])
    side = LEFT if turn > 0 else RIGHT
    plan, env = _locomotion(body, gait, speed=0.0, duration=p["duration"], turn=turn, first_side=side, lead_in=0.4)
    for arm in (LEFT, RIGHT):
        plan.arms[:, arm, ABD] += 0.9 * env
    return plan


def sample_crouch_walk(rng) -> dict:
    return {"speed": float(rng.uniform(0.4, 0.8)), "duration": float(rng.uniform(2.5, 5.0)),
            "depth": float(rng.uniform(0.2, 0.32)), "lead_foot": str(rng.choice(SIDES))}


def build_crouch_walk(p: dict, body: RestBody) -> BodyPlan:
    gait = Gait(step_period=1.0 / (1.3 + 0.4 * p["speed"]), swing=0.8 / (1.3 + 0.4 * p["speed"]),
                clearance=0.07, heel_rise=0.25)
    plan, env = _locomotion(body, gait, speed=p["speed"], duration=p["duration"], ramp=0.8,
                            first_side=_side_index(p["lead_foot"]), lead_in=0.8, hold=0.9)
    t = frame_times(plan.frames)
    down = min_jerk((t - 0.1) / 0.6) * min_jerk((t[-1] - 0.1 - t) / 0.6)
    plan.pelvis_height -= p["depth"] * down
    plan.spine[:, 0] += 0.5 * down
    plan.head[:, 0] -= 0.3 * down
    swing_arms(plan, gain=0.5, elbow=0.9, weight=down)
    for side in (LEFT, RIGHT):
        plan.arms[:, side, 0] += 0.35 * down
    return plan
