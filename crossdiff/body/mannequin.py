"""The built-in mannequin: a procedural body model in SMPL layout, for users without SMPL files.

It has SMPL's 24 joints and kinematic tree, a T-pose rest skeleton whose bone lengths are the T2M
canonical skeleton's (so HumanML3D joints fit it exactly), and a closed surface of tapered
capsules (about 5,000 vertices) with smooth skinning weights. Its arrays use the SMPL file layout
(`v_template`, `shapedirs`, `posedirs`, `J_regressor`, `kintree_table`, `weights`, `f`), so the
same smplx code poses it. Pose blend shapes are zero; the 10 shape directions are simple length
and girth changes (`SHAPE_DIRECTIONS`), each exactly linear in its beta.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crossdiff.body.capsules import CapsuleMesh, body_ring_count, capsule, merge
from crossdiff.body.kinematics import SMPL_PARENTS
from crossdiff.io import atomic_path
from crossdiff.skeleton import SKELETONS

MANNEQUIN_VERSION = 1
HAND_LENGTH = 0.085           # wrist -> hand joint, as in SMPL's template
BETA_STEP = 0.05              # one unit of beta = a 5% change
SKIN_SIGMA = 0.025            # metres: how far skinning blends across a joint
LEFT_ARM, RIGHT_ARM = (16, 18, 20, 22), (17, 19, 21, 23)


@dataclass(frozen=True)
class Segment:
    """One capsule: end points (point specs, see `_point`), radii (e1, e2) at each end, skin joint."""

    name: str
    start: object
    end: object
    radius_start: tuple[float, float]
    radius_end: tuple[float, float]
    skin_joint: int
    part: str                   # "torso" | "limb" | "head": which girth direction scales it


def _limb(name: str, start, end, radius_start, radius_end, skin_joint: int) -> Segment:
    return Segment(name, start, end, radius_start, radius_end, skin_joint, "limb")


def segments() -> list[Segment]:
    """The capsule layout. Radii are (e1, e2) semi-axes in metres (see capsules.cross_section_frame)."""
    segs = [
        Segment("pelvis", 1, 2, (0.085, 0.095), (0.085, 0.095), 0, "torso"),
        Segment("abdomen", 0, 3, (0.135, 0.095), (0.13, 0.09), 0, "torso"),
        Segment("waist", 3, 6, (0.13, 0.09), (0.135, 0.095), 3, "torso"),
        Segment("chest", 6, 9, (0.135, 0.095), (0.15, 0.10), 6, "torso"),
        Segment("upper_chest", 9, ("lerp", 9, 12, 0.7), (0.15, 0.10), (0.10, 0.07), 9, "torso"),
        Segment("neck", 12, 15, (0.05, 0.055), (0.05, 0.055), 12, "torso"),
        Segment("head", 15, ("offset", 15, "head_top"), (0.075, 0.09), (0.078, 0.09), 15, "head"),
    ]
    for side, (shoulder, elbow, wrist, hand), collar in (("left", LEFT_ARM, 13), ("right", RIGHT_ARM, 14)):
        segs += [
            _limb(f"{side}_collar", collar, shoulder, (0.055, 0.055), (0.055, 0.055), collar),
            _limb(f"{side}_upper_arm", shoulder, elbow, (0.05, 0.05), (0.04, 0.04), shoulder),
            _limb(f"{side}_forearm", elbow, wrist, (0.04, 0.04), (0.03, 0.032), elbow),
            _limb(f"{side}_palm", wrist, hand, (0.02, 0.035), (0.016, 0.042), wrist),
            _limb(f"{side}_fingers", hand, ("extend", wrist, hand, 0.06), (0.014, 0.04), (0.01, 0.035), hand),
        ]
    for side, (hip, knee, ankle, foot) in (("left", (1, 4, 7, 10)), ("right", (2, 5, 8, 11))):
        segs += [
            _limb(f"{side}_thigh", hip, knee, (0.085, 0.085), (0.055, 0.055), hip),
            _limb(f"{side}_shin", knee, ankle, (0.052, 0.055), (0.038, 0.04), knee),
            _limb(f"{side}_foot", ("offset", ankle, f"{side}_heel"), foot, (0.042, 0.03), (0.045, 0.022), ankle),
            _limb(f"{side}_toes", foot, ("offset", foot, f"{side}_toe_tip"), (0.045, 0.022), (0.035, 0.015), foot),
        ]
    return segs


# The joint each regressor row averages: the ring of this segment's start or end that is centred
# exactly on the joint (a symmetric ring's mean is its centre, also after shape changes).
REGRESSOR_RINGS = {
    0: ("abdomen", "start"), 1: ("left_thigh", "start"), 2: ("right_thigh", "start"),
    3: ("waist", "start"), 4: ("left_shin", "start"), 5: ("right_shin", "start"), 6: ("chest", "start"),
    7: ("left_shin", "end"), 8: ("right_shin", "end"), 9: ("upper_chest", "start"),
    10: ("left_toes", "start"), 11: ("right_toes", "start"), 12: ("neck", "start"),
    13: ("left_collar", "start"), 14: ("right_collar", "start"), 15: ("head", "start"),
    16: ("left_upper_arm", "start"), 17: ("right_upper_arm", "start"),
    18: ("left_forearm", "start"), 19: ("right_forearm", "start"),
    20: ("left_palm", "start"), 21: ("right_palm", "start"),
    22: ("left_fingers", "start"), 23: ("right_fingers", "start"),
}

# (joints whose bone to the parent is stretched, radius scale per part) for one unit of each beta.
SHAPE_DIRECTIONS = (
    ("height", tuple(range(1, 24)), {"torso": 1, "limb": 1, "head": 1}),
    ("leg_length", (4, 5, 7, 8), {}),
    ("arm_length", (18, 19, 20, 21, 22, 23), {}),
    ("torso_length", (3, 6, 9, 12), {}),
    ("shoulder_width", (13, 14, 16, 17), {}),
    ("hip_width", (1, 2), {}),
    ("torso_girth", (), {"torso": 1}),
    ("limb_girth", (), {"limb": 1}),
    ("head_size", (15,), {"head": 1}),
    ("foot_length", (10, 11), {}),
)


def tpose_skeleton(canonical_joints: np.ndarray) -> np.ndarray:
    """T2M canonical joints [22, 3] (arms down) -> SMPL-layout T-pose rest joints [24, 3].

    Every bone keeps its canonical length; elbows, wrists and hands point straight out sideways
    (+x on the left), as in SMPL's rest pose, so SMPL pose conventions and priors carry over.
    """
    joints = np.zeros((24, 3))
    joints[:22] = canonical_joints
    for arm, sign in ((LEFT_ARM, 1.0), (RIGHT_ARM, -1.0)):
        for parent, child in zip(arm[:-1], arm[1:]):
            length = HAND_LENGTH if child >= 22 else np.linalg.norm(canonical_joints[child] - canonical_joints[parent])
            joints[child] = joints[parent] + [sign * length, 0.0, 0.0]
    return joints


def fixed_offsets(joints: np.ndarray) -> dict[str, np.ndarray]:
    """Offsets tied to the rest skeleton: top of the head, heels level with the soles, toe tips."""
    offsets = {"head_top": np.array([0.0, 0.04, 0.01])}
    for side, ankle, foot in (("left", 7, 10), ("right", 8, 11)):
        forward = joints[foot] - joints[ankle]
        forward[1] = 0.0
        forward /= np.linalg.norm(forward)
        offsets[f"{side}_heel"] = np.array([0.0, joints[foot, 1] - joints[ankle, 1], 0.0]) - 0.035 * forward
        offsets[f"{side}_toe_tip"] = 0.05 * forward
    return offsets


def _point(spec, joints: np.ndarray, offsets: dict[str, np.ndarray]) -> np.ndarray:
    """A joint id, ("lerp", a, b, alpha), ("extend", a, b, metres beyond b) or ("offset", j, name)."""
    if isinstance(spec, int):
        return joints[spec]
    kind, a, *rest = spec
    if kind == "lerp":
        return joints[a] + rest[1] * (joints[rest[0]] - joints[a])
    if kind == "extend":
        direction = joints[rest[0]] - joints[a]
        return joints[rest[0]] + rest[1] * direction / np.linalg.norm(direction)
    return joints[a] + offsets[rest[0]]


def build_surface(joints: np.ndarray, offsets: dict[str, np.ndarray], radius_scale: dict[str, float] | None = None,
                  layout_joints: np.ndarray | None = None):
    """Capsule surface for rest joints [24, 3]: (vertices [V, 3], faces [F, 3], meshes by segment).

    Ring counts follow the bone lengths of `layout_joints` (default: `joints`), so a shape variant
    built with the rest skeleton as layout has the same vertices in the same order.
    """
    radius_scale = radius_scale or {}
    layout = joints if layout_joints is None else layout_joints
    meshes: dict[str, CapsuleMesh] = {}
    for seg in segments():
        scale = radius_scale.get(seg.part, 1.0)
        start, end = _point(seg.start, joints, offsets), _point(seg.end, joints, offsets)
        rings = body_ring_count(np.linalg.norm(_point(seg.end, layout, offsets) - _point(seg.start, layout, offsets)))
        meshes[seg.name] = capsule(start, end, np.multiply(seg.radius_start, scale),
                                   np.multiply(seg.radius_end, scale), rings)
    vertices, faces = merge(list(meshes.values()))
    return vertices, faces, meshes


def stretch_bones(joints: np.ndarray, bones, factor: float) -> np.ndarray:
    """Rest joints [24, 3] with the bones ending at `bones` scaled by `factor` (descendants follow)."""
    out = joints.copy()
    for j in range(1, len(joints)):
        p = SMPL_PARENTS[j]
        out[j] = out[p] + (joints[j] - joints[p]) * (factor if j in bones else 1.0)
    return out


def joint_regressor(meshes: dict[str, CapsuleMesh], num_vertices: int) -> np.ndarray:
    """[24, V]: each joint is the mean of the vertex ring centred on it (see REGRESSOR_RINGS)."""
    starts = np.cumsum([0] + [len(m.vertices) for m in meshes.values()])
    first_vertex = dict(zip(meshes, starts))
    regressor = np.zeros((24, num_vertices))
    for joint, (name, end) in REGRESSOR_RINGS.items():
        ring = meshes[name].start_ring if end == "start" else meshes[name].end_ring
        regressor[joint, first_vertex[name] + ring] = 1.0 / len(ring)
    return regressor


def _distance_to_capsules(points: np.ndarray, starts: np.ndarray, ends: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """[V, S] distance from points [V, 3] to capsules (axis starts/ends [S, 3], mean radii [S, 2]), 0 inside."""
    axis = ends - starts                                                 # [S, 3]
    t = np.einsum("vsc,sc->vs", points[:, None] - starts[None], axis) / np.sum(axis * axis, -1)
    t = np.clip(t, 0.0, 1.0)
    closest = starts[None] + t[..., None] * axis[None]                   # [V, S, 3]
    radius = (1 - t) * radii[:, 0] + t * radii[:, 1]
    return np.maximum(np.linalg.norm(points[:, None] - closest, axis=-1) - radius, 0.0)


def skinning_weights(vertices: np.ndarray, part: np.ndarray, joints: np.ndarray,
                     offsets: dict[str, np.ndarray]) -> np.ndarray:
    """[V, 24] smooth weights: a vertex blends the joints of capsules near it, tree neighbours only.

    Restricting the blend to the own joint, its parent and its children keeps touching but
    unrelated parts (the two thighs, an arm resting on the hip) from dragging each other along.
    """
    segs = segments()
    starts = np.stack([_point(s.start, joints, offsets) for s in segs])
    ends = np.stack([_point(s.end, joints, offsets) for s in segs])
    radii = np.array([[np.mean(s.radius_start), np.mean(s.radius_end)] for s in segs])
    skin = np.array([s.skin_joint for s in segs])
    closeness = np.exp(-(_distance_to_capsules(vertices, starts, ends, radii) / SKIN_SIGMA) ** 2)   # [V, S]
    parents = np.array(SMPL_PARENTS)
    own = skin[part]                                                     # [V] the vertex's own joint
    related = (skin[None] == own[:, None]) | (skin[None] == parents[own][:, None]) | (parents[skin][None] == own[:, None])
    weights = np.zeros((len(vertices), 24))
    np.add.at(weights, (np.repeat(np.arange(len(vertices)), len(segs)), np.tile(skin, len(vertices))),
              (closeness * related).ravel())
    weights[weights < 1e-3 * weights.max(1, keepdims=True)] = 0.0
    return weights / weights.sum(1, keepdims=True)


def shape_directions(joints: np.ndarray, offsets: dict[str, np.ndarray], template: np.ndarray) -> np.ndarray:
    """[V, 3, 10]: vertex displacement per unit beta (one `BETA_STEP` change), exactly linear."""
    dirs = []
    for _, bones, parts in SHAPE_DIRECTIONS:
        stretched = stretch_bones(joints, set(bones), 1.0 + BETA_STEP)
        scales = {part: 1.0 + BETA_STEP for part in parts}
        dirs.append(build_surface(stretched, offsets, scales, layout_joints=joints)[0] - template)
    return np.stack(dirs, -1)


def build_mannequin(canonical_joints: np.ndarray) -> dict[str, np.ndarray]:
    """All arrays of the mannequin model file (SMPL layout) for T2M canonical joints [22, 3]."""
    joints = tpose_skeleton(np.asarray(canonical_joints, dtype=np.float64))
    offsets = fixed_offsets(joints)
    vertices, faces, meshes = build_surface(joints, offsets)
    part = np.repeat(np.arange(len(meshes)), [len(m.vertices) for m in meshes.values()])
    kintree = np.stack([np.array(SMPL_PARENTS), np.arange(24)]).astype(np.int64)
    kintree[0, 0] = 2**32 - 1                      # SMPL files store the root's parent like this
    return {
        "v_template": vertices,
        "shapedirs": shape_directions(joints, offsets, vertices),
        "posedirs": np.zeros((len(vertices), 3, 207)),
        "J_regressor": joint_regressor(meshes, len(vertices)),
        "kintree_table": kintree,
        "weights": skinning_weights(vertices, part, joints, offsets),
        "f": faces,
        "model_name": np.asarray("mannequin"),
        "version": np.asarray(MANNEQUIN_VERSION),
        "rest_joints": joints,
    }


def default_canonical_joints() -> np.ndarray:
    """The rest skeleton [22, 3] the default mannequin is built on: the T2M canonical skeleton, so
    that HumanML3D joints match the mannequin's bones exactly."""
    return np.array(SKELETONS["t2m"].canonical_joints, dtype=np.float64)


def ensure_mannequin(path: str | Path, canonical_joints: np.ndarray | None = None) -> Path:
    """Write the mannequin to `path` (atomically) unless a file of the current version is there."""
    path = Path(path)
    if path.is_file():
        with np.load(path) as existing:
            if "version" in existing and int(existing["version"]) == MANNEQUIN_VERSION:
                return path
    joints = default_canonical_joints() if canonical_joints is None else canonical_joints
    arrays = {k: v.astype(np.float32) if v.dtype == np.float64 else v for k, v in build_mannequin(joints).items()}
    # Compressed: the all-zero pose blend shapes would otherwise take 12 MB.
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez_compressed(tmp, **arrays)
    return path
