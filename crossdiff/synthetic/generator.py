"""Procedural text-annotated human motion on the T2M skeleton: the embedded default dataset.

`generate_clip(seed, index)` draws one clip: a single action of one of the families below, or two
in sequence (about a third of the clips), with continuous parameters (speed, direction, count,
amplitude, side, duration), solved into joint positions by IK + forward kinematics at 20 fps, and
three captions. Everything depends only on (seed, index), so clips can be made in any order or in
parallel and the dataset is reproducible. `prepare/synthetic.py` writes the HumanML3D folder.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from crossdiff.synthetic import gestures
from crossdiff.synthetic import jumps
from crossdiff.synthetic import locomotion
from crossdiff.synthetic.body import BodyPlan, RestBody, local_to_world_xz, solve_body
from crossdiff.synthetic.captions import MIRROR_WORDS, Part, make_captions, mirror_caption
from crossdiff.skeleton import SKELETONS

# Joint frames per clip: the 263-d features then have 40..196 frames (HumanML3D's range, docs/original_code.md §2.4).
MIN_FRAMES, MAX_FRAMES = 41, 197
COMPOSITION_RATE = 0.35

# family name -> (draw its parameters, solve them into a body plan)
FAMILIES = {
    "walk": (locomotion.sample_walk, locomotion.build_walk),
    "jog": (locomotion.sample_jog, locomotion.build_jog),
    "run": (locomotion.sample_run, locomotion.build_run),
    "walk_backward": (locomotion.sample_walk_backward, locomotion.build_walk_backward),
    "side_step": (locomotion.sample_side_step, locomotion.build_side_step),
    "turn": (locomotion.sample_turn, locomotion.build_turn),
    "spin": (locomotion.sample_spin, locomotion.build_spin),
    "crouch_walk": (locomotion.sample_crouch_walk, locomotion.build_crouch_walk),
    "jump_in_place": (jumps.sample_jump_in_place, jumps.build_jump_in_place),
    "jump_forward": (jumps.sample_jump_forward, jumps.build_jump_forward),
    "hop": (jumps.sample_hop, jumps.build_hop),
    "squat": (gestures.sample_squat, gestures.build_squat),
    "kick": (gestures.sample_kick, gestures.build_kick),
    "punch": (gestures.sample_punch, gestures.build_punch),
    "wave": (gestures.sample_wave, gestures.build_wave),
    "raise_arms": (gestures.sample_raise_arms, gestures.build_raise_arms),
    "clap": (gestures.sample_clap, gestures.build_clap),
    "bow": (gestures.sample_bow, gestures.build_bow),
}


@dataclass
class SyntheticClip:
    positions: np.ndarray                    # [T, 22, 3] metres, y up, T in [41, 197]
    contact: np.ndarray                      # [T, 2] bool: left/right toe planted on the floor
    parts: list[Part]                        # the actions in order, with their frame ranges
    captions: list[tuple[str, float, float]]  # (caption, from_s, to_s); (0, 0) = whole clip
    plan: BodyPlan                           # what was solved into `positions`


def rest_body(skeleton: str = "t2m") -> RestBody:
    """The synthetic body has the canonical skeleton's bones, so retargeting it changes nothing."""
    sk = SKELETONS[skeleton]
    return RestBody.from_joints(sk.canonical_joints, sk.parents)


def target_offsets(skeleton: str = "t2m") -> np.ndarray:
    """[J, 3] offsets of the retargeting skeleton: each raw direction times its canonical bone length."""
    sk = SKELETONS[skeleton]
    joints = np.asarray(sk.canonical_joints, np.float32)
    lengths = np.linalg.norm(joints - joints[[max(p, 0) for p in sk.parents]], axis=-1)
    return np.asarray(sk.raw_offsets, np.float32) * lengths[:, None]


def _map_plan(plan: BodyPlan, fn) -> BodyPlan:
    return BodyPlan(**{f.name: fn(f.name, getattr(plan, f.name)) for f in dataclasses.fields(plan)})


def hold_until(plan: BodyPlan, frames: int) -> BodyPlan:
    """Extend a plan by holding its last frame up to `frames` frames."""
    extra = frames - plan.frames
    return _map_plan(plan, lambda _, a: np.concatenate([a, np.repeat(a[-1:], extra, 0)]) if extra > 0 else a)


def concat_plans(first: BodyPlan, second: BodyPlan) -> BodyPlan:
    """`second` continues where `first` ends: moved to its final place and turned to its final facing."""
    yaw0, base0 = first.yaw[-1], first.base_xz[-1]

    def place(name, a):
        if name in ("yaw", "foot_yaw"):
            return a + yaw0
        if name == "base_xz":
            return base0 + local_to_world_xz(a, yaw0)
        if name == "ankles":
            xz = base0 + local_to_world_xz(a[..., [0, 2]], yaw0)
            return np.stack([xz[..., 0], a[..., 1], xz[..., 1]], -1)
        return a

    moved = _map_plan(second, place)
    return _map_plan(first, lambda name, a: np.concatenate([a, getattr(moved, name)]))


def _sample_action(rng, family: str, body: RestBody, max_frames: int):
    """(params, plan) of `family` with at most max_frames frames (None if the draws keep being too long)."""
    sample, build = FAMILIES[family]
    for _ in range(20):
        params = sample(rng)
        plan = build(params, body)
        if plan.frames <= max_frames:
            return params, plan
    return None


def generate_clip(seed: int, index: int, body: RestBody | None = None) -> SyntheticClip:
    """Clip `index` of the dataset with this `seed` (independent of every other clip)."""
    body = body or rest_body()
    rng = np.random.default_rng([seed, index])
    names = list(FAMILIES)
    while True:
        chosen = list(rng.choice(names, size=2, replace=False)) if rng.random() < COMPOSITION_RATE else [rng.choice(names)]
        actions, frames = [], 0
        for family in chosen:
            drawn = _sample_action(rng, str(family), body, MAX_FRAMES - frames)
            if drawn is None:
                break
            actions.append((str(family), *drawn))
            frames += drawn[1].frames
        if len(actions) == len(chosen):
            break
    plan, parts = actions[0][2], [Part(actions[0][0], actions[0][1], 0, actions[0][2].frames)]
    for family, params, next_plan in actions[1:]:
        parts.append(Part(family, params, plan.frames, plan.frames + next_plan.frames))
        plan = concat_plans(plan, next_plan)
    plan = hold_until(plan, MIN_FRAMES)
    positions = solve_body(plan, body)
    return SyntheticClip(positions, plan.contact.copy(), parts, make_captions(parts, plan.frames, rng), plan)


def mirror_params(params: dict) -> dict:
    return {k: MIRROR_WORDS.get(v, v) if isinstance(v, str) else v for k, v in params.items()}


def mirror_plan(plan: BodyPlan) -> BodyPlan:
    """The plan reflected through the x = 0 plane: left and right swap, yaw/roll/twist change sign."""
    flip_x = np.array([-1.0, 1.0])
    return BodyPlan(
        base_xz=plan.base_xz * flip_x, yaw=-plan.yaw, pelvis_height=plan.pelvis_height.copy(),
        pelvis_shift=plan.pelvis_shift * flip_x, pelvis_rot=plan.pelvis_rot * [1.0, -1.0, -1.0],
        spine=plan.spine * [1.0, -1.0, -1.0], head=plan.head * [1.0, -1.0],
        # Arm angles are already stated in each arm's own (mirrored) convention: only the sides swap.
        arms=plan.arms[:, ::-1].copy(), ankles=plan.ankles[:, ::-1] * [-1.0, 1.0, 1.0],
        foot_yaw=-plan.foot_yaw[:, ::-1], toe_down=plan.toe_down[:, ::-1].copy(), contact=plan.contact[:, ::-1].copy(),
    )


def mirror_clip(clip: SyntheticClip, body: RestBody | None = None) -> SyntheticClip:
    """The left-right mirror of a clip; captions and parameters swap sides too.

    The mirrored plan is solved again rather than the joints reflected: the result is the joints'
    mirror when the body is symmetric, and when the canonical skeleton is not, the feet still stay
    planted after retargeting onto it (a reflected asymmetric body would change leg lengths).
    """
    plan = mirror_plan(clip.plan)
    parts = [dataclasses.replace(p, params=mirror_params(p.params)) for p in clip.parts]
    captions = [(mirror_caption(c), a, b) for c, a, b in clip.captions]
    return SyntheticClip(solve_body(plan, body or rest_body()), plan.contact.copy(), parts, captions, plan)
