"""The two skeletons of the field: T2M/HumanML3D (22 joints, SMPL order) and KIT-ML (21 joints, MMM).

`SKELETONS["t2m"]` and `SKELETONS["kit"]` hold everything the motion representations need: joint
names, parents, kinematic chains, the raw offset directions of the reference's IK, the foot, facing
and leg-length joint indices (docs/original_code.md §2.10, §3.3), the frame rate, the 3D/2D feature widths, and a
built-in canonical rest skeleton used for retargeting when no target skeleton file is given.

Conventions: y is up; a T2M rest skeleton faces +z with its left side on +x (metres). KIT-ML joint
files are in millimetres (the MMM convention), so the KIT canonical skeleton is too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crossdiff.errors import UserError


def _frozen(rows) -> np.ndarray:
    array = np.array(rows, dtype=np.float64)
    array.flags.writeable = False
    return array


def _parents_from_chains(chains, joints_num: int) -> tuple[int, ...]:
    """Each joint's parent is its predecessor in its chain; the root has parent -1."""
    parents = [-1] * joints_num
    for chain in chains:
        for parent, child in zip(chain[:-1], chain[1:]):
            parents[child] = parent
    return tuple(parents)


@dataclass(frozen=True, eq=False)
class Skeleton:
    """One skeleton preset. Index lists follow the reference's settings for that dataset verbatim."""

    name: str
    joint_names: tuple[str, ...]
    chains: tuple[tuple[int, ...], ...]        # kinematic chains; the 2D/3D rotation features walk these
    raw_offsets: np.ndarray                    # [J, 3] unit rest direction of each bone (root: zeros)
    canonical_joints: np.ndarray               # [J, 3] built-in rest skeleton (target of retargeting)
    foot_joints_left: tuple[int, int]          # contact features [.., :2] (the reference's `fid_l`)
    foot_joints_right: tuple[int, int]         # contact features [.., 2:] (`fid_r`)
    face_joints: tuple[int, int, int, int]     # (r_hip, l_hip, r_shoulder, l_shoulder) for the heading
    leg_joints: tuple[int, int]                # the two bones ending here set the retargeting scale
    lower_body: frozenset[int]                 # joints of the lower-body evaluator part
    fps: float
    feature_dim: int                           # 3D features per frame (263 / 251)
    feature_dim_2d: int                        # 2D features per frame (134 / 128)
    contact_threshold: float                   # squared per-frame foot displacement below = contact
    metres_per_unit: float                     # 1 for T2M (metres), 0.001 for KIT-ML (millimetres)
    target_id: str                             # the dataset clip whose frame 0 is the target skeleton

    @property
    def joints_num(self) -> int:
        return len(self.joint_names)

    @property
    def parents(self) -> tuple[int, ...]:
        return _parents_from_chains(self.chains, self.joints_num)


_T2M_CHAINS = ((0, 2, 5, 8, 11), (0, 1, 4, 7, 10), (0, 3, 6, 9, 12, 15), (9, 14, 17, 19, 21), (9, 13, 16, 18, 20))

_T2M = Skeleton(
    name="t2m",
    joint_names=("pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
                 "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
                 "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
                 "left_wrist", "right_wrist"),
    chains=_T2M_CHAINS,
    raw_offsets=_frozen([(0, 0, 0), (1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, -1, 0), (0, 1, 0),
                         (0, -1, 0), (0, -1, 0), (0, 1, 0), (0, 0, 1), (0, 0, 1), (0, 1, 0), (1, 0, 0),
                         (-1, 0, 0), (0, 0, 1), (0, -1, 0), (0, -1, 0), (0, -1, 0), (0, -1, 0), (0, -1, 0),
                         (0, -1, 0)]),
    # A left/right-symmetric adult of about 1.75 m (head joint 1.64 m), arms down, toes on the floor.
    canonical_joints=_frozen([
        (0.000, 0.976, 0.000), (0.064, 0.880, 0.003), (-0.064, 0.880, 0.003), (0.000, 1.098, -0.023),
        (0.076, 0.473, 0.005), (-0.076, 0.473, 0.005), (0.000, 1.236, -0.010), (0.069, 0.056, -0.029),
        (-0.069, 0.056, -0.029), (0.000, 1.296, 0.013), (0.091, 0.000, 0.103), (-0.091, 0.000, 0.103),
        (0.000, 1.535, -0.021), (0.078, 1.414, 0.001), (-0.078, 1.414, 0.001), (0.000, 1.636, 0.032),
        (0.204, 1.455, -0.011), (-0.204, 1.455, -0.011), (0.235, 1.177, -0.022), (-0.235, 1.177, -0.022),
        (0.248, 0.909, -0.001), (-0.248, 0.909, -0.001)]),
    foot_joints_left=(7, 10),
    foot_joints_right=(8, 11),
    face_joints=(2, 1, 17, 16),
    leg_joints=(5, 8),
    lower_body=frozenset({0, 1, 2, 4, 5, 7, 8, 10, 11}),
    fps=20.0,
    feature_dim=263,
    feature_dim_2d=134,
    contact_threshold=0.002,
    metres_per_unit=1.0,
    target_id="000021",
)

# KIT-ML (MMM joint names). The reference labels joint 11 "r_hip" and [14, 15] "fid_r" although MMM
# calls them LH and LMrot/LF; the index lists are kept as the reference has them (docs/original_code.md §2.10).
_KIT = Skeleton(
    name="kit",
    joint_names=("root", "BP", "BT", "BLN", "BUN", "LS", "LE", "LW", "RS", "RE", "RW", "LH", "LK", "LA",
                 "LMrot", "LF", "RH", "RK", "RA", "RMrot", "RF"),
    chains=((0, 11, 12, 13, 14, 15), (0, 16, 17, 18, 19, 20), (0, 1, 2, 3, 4), (3, 5, 6, 7), (3, 8, 9, 10)),
    raw_offsets=_frozen([(0, 0, 0), (0, 1, 0), (0, 1, 0), (0, 1, 0), (0, 1, 0), (1, 0, 0), (0, -1, 0),
                         (0, -1, 0), (-1, 0, 0), (0, -1, 0), (0, -1, 0), (1, 0, 0), (0, -1, 0), (0, -1, 0),
                         (0, 0, 1), (0, 0, 1), (-1, 0, 0), (0, -1, 0), (0, -1, 0), (0, 0, 1), (0, 0, 1)]),
    # Millimetres, the same adult proportions as the T2M skeleton.
    canonical_joints=_frozen([
        (0, 965, 0), (0, 1065, -10), (0, 1240, -10), (0, 1460, -15), (0, 1620, 20),
        (185, 1430, -10), (230, 1165, -20), (245, 905, 0), (-185, 1430, -10), (-230, 1165, -20),
        (-245, 905, 0), (85, 930, 0), (80, 480, 5), (70, 70, -30), (80, 25, 75), (90, 0, 160),
        (-85, 930, 0), (-80, 480, 5), (-70, 70, -30), (-80, 25, 75), (-90, 0, 160)]),
    foot_joints_left=(19, 20),
    foot_joints_right=(14, 15),
    face_joints=(11, 16, 5, 8),
    leg_joints=(17, 18),
    lower_body=frozenset({0, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}),
    fps=12.5,
    feature_dim=251,
    feature_dim_2d=128,
    contact_threshold=0.05,
    metres_per_unit=0.001,
    target_id="03950",
)


class _Registry(dict):
    """A dict whose unknown keys raise a `UserError` that lists the choices."""

    def __missing__(self, name):
        raise UserError(f"unknown skeleton {name!r}; choose one of {sorted(self)}")


SKELETONS: dict[str, Skeleton] = _Registry(t2m=_T2M, kit=_KIT)


def get_skeleton(skeleton: str | Skeleton) -> Skeleton:
    """A preset by name (`"t2m"`, `"kit"`), or the given `Skeleton` unchanged."""
    return skeleton if isinstance(skeleton, Skeleton) else SKELETONS[skeleton]


def skeleton_for_joints(joints_num: int) -> Skeleton:
    """The preset with `joints_num` joints (22 -> t2m, 21 -> kit)."""
    for skeleton in SKELETONS.values():
        if skeleton.joints_num == joints_num:
            return skeleton
    raise UserError(f"no built-in skeleton has {joints_num} joints; "
                    f"known: {', '.join(f'{s.name} ({s.joints_num})' for s in SKELETONS.values())}")


def bone_lengths(joints: np.ndarray, skeleton: str | Skeleton = "t2m") -> np.ndarray:
    """Distances joint-to-parent of one pose: [J, 3] -> [J] (the root's length is 0)."""
    parents = np.array(get_skeleton(skeleton).parents)
    joints = np.asarray(joints, dtype=np.float64)
    return np.linalg.norm(joints - joints[np.maximum(parents, 0)], axis=-1)


def offsets_from_joints(joints_frame0: np.ndarray, skeleton: str | Skeleton = "t2m") -> np.ndarray:
    """Target offsets of a retargeting skeleton: raw direction times bone length, [J, 3] -> [J, 3].

    `joints_frame0` is one pose (HumanML3D uses frame 0 of clip 000021); the root's offset is zero.
    """
    sk = get_skeleton(skeleton)
    joints = np.asarray(joints_frame0, dtype=np.float64)
    if joints.shape != (sk.joints_num, 3):
        raise UserError(f"a target skeleton pose must be [{sk.joints_num}, 3] for {sk.name!r}, "
                        f"got {list(joints.shape)}")
    return sk.raw_offsets * bone_lengths(joints, sk)[:, None]


def canonical_offsets(skeleton: str | Skeleton = "t2m") -> np.ndarray:
    """[J, 3] target offsets of the built-in canonical skeleton."""
    sk = get_skeleton(skeleton)
    return offsets_from_joints(sk.canonical_joints, sk)
