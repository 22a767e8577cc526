"""The synthetic body: a pose plan over time -> joint orientations -> joint positions by FK.

An action (see `synthetic_actions*.py`) fills a `BodyPlan`: where the body stands and faces, how
high the pelvis should be, torso and head angles, arm angles, and world targets for the ankles.
`solve_body` turns it into joint orientations (analytic two-bone IK for the legs, Euler angles for
the rest) and runs forward kinematics over the T2M tree, so bone lengths are constant by
construction and a planted ankle target is reached exactly.

Conventions: metres, y up, the character faces +z at yaw 0 with its left side on +x; positive yaw
turns left (counter-clockwise seen from above). Feet index 0 = left, 1 = right. Arm angles are
given in the left arm's convention (abduction = outwards) and mirrored for the right arm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

LEFT, RIGHT = 0, 1
# Joint ids on the T2M tree (docs/original_code.md §3.3) that the plan drives directly.
HIP, KNEE, ANKLE, TOE = (1, 2), (4, 5), (7, 8), (10, 11)
SHOULDER, ELBOW, COLLAR = (16, 17), (18, 19), (13, 14)
SPINE, NECK = (3, 6, 9), 12
# Arm channels of BodyPlan.arms[..., k].
FLEX, ABD, HORIZ, TWIST, ELBOW_FLEX = range(5)
# Fraction of the full leg length the IK may use: a locked knee looks robotic and is singular.
MAX_REACH = 0.985


def rot_x(a: np.ndarray) -> np.ndarray:
    """[T] angles -> [T, 3, 3] rotations about +x (positive tips +z towards -y)."""
    c, s, z, o = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
    return np.stack([o, z, z, z, c, -s, z, s, c], -1).reshape(*np.shape(a), 3, 3)


def rot_y(a: np.ndarray) -> np.ndarray:
    """[T] angles -> [T, 3, 3] rotations about +y (positive turns +z towards +x, i.e. left)."""
    c, s, z, o = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
    return np.stack([c, z, s, z, o, z, -s, z, c], -1).reshape(*np.shape(a), 3, 3)


def rot_z(a: np.ndarray) -> np.ndarray:
    """[T] angles -> [T, 3, 3] rotations about +z (positive turns -y towards +x)."""
    c, s, z, o = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
    return np.stack([c, -s, z, s, c, z, z, z, o], -1).reshape(*np.shape(a), 3, 3)


def _normalise(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _basis(direction: np.ndarray, hint: np.ndarray) -> np.ndarray:
    """Orthonormal frame [..., 3, 3] whose columns are (direction, hint made orthogonal, their cross)."""
    e1 = _normalise(direction)
    e2 = _normalise(hint - np.sum(hint * e1, -1, keepdims=True) * e1)
    return np.stack([e1, e2, np.cross(e1, e2)], -1)


def frame_from(rest_dir, rest_hint, direction, hint) -> np.ndarray:
    """The rotation [T, 3, 3] taking `rest_dir` to `direction` and `rest_hint` into the (direction, hint) plane."""
    rest = _basis(np.asarray(rest_dir, float), np.asarray(rest_hint, float))
    return _basis(direction, hint) @ np.swapaxes(rest, -1, -2)


def yaw_vector(yaw: np.ndarray) -> np.ndarray:
    """[...] yaw -> [..., 3] horizontal facing direction."""
    return np.stack([np.sin(yaw), np.zeros_like(yaw), np.cos(yaw)], -1)


def local_to_world_xz(xz_local: np.ndarray, yaw: np.ndarray) -> np.ndarray:
    """Rotate body-frame (x = left, z = forward) offsets [..., 2] by yaw [...] into world xz."""
    c, s = np.cos(yaw), np.sin(yaw)
    x, z = xz_local[..., 0], xz_local[..., 1]
    return np.stack([c * x + s * z, -s * x + c * z], -1)


@dataclass
class BodyPlan:
    """Everything an action specifies, frame by frame (T frames at the T2M skeleton's 20 fps)."""

    base_xz: np.ndarray          # [T, 2] where the body stands (footprints are relative to it)
    yaw: np.ndarray              # [T] facing angle of the body
    pelvis_height: np.ndarray    # [T] wanted pelvis height (np.inf: as high as the legs allow)
    pelvis_shift: np.ndarray     # [T, 2] pelvis offset from base_xz in the body frame (x left, z fwd)
    pelvis_rot: np.ndarray       # [T, 3] pelvis pitch (forward), roll (lean left), twist (left)
    spine: np.ndarray            # [T, 3] total spine pitch, roll, twist (split over the 3 spine joints)
    head: np.ndarray             # [T, 2] neck pitch (nod down), yaw (look left)
    arms: np.ndarray             # [T, 2, 5] flex, abd, horiz, twist, elbow flexion per arm
    ankles: np.ndarray           # [T, 2, 3] world ankle targets
    foot_yaw: np.ndarray         # [T, 2] facing of each foot
    toe_down: np.ndarray         # [T, 2] foot pitch (positive: heel up / toes down)
    contact: np.ndarray          # [T, 2] bool, foot planted (its toe joint is still and on the floor)

    @property
    def frames(self) -> int:
        return len(self.yaw)


def arm_rotation(angles: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
    """[T, 5] arm angles -> (upper-arm rotation, forearm rotation relative to the upper arm), each [T, 3, 3].

    upper = Ry(horiz) Rz(abd) Rx(-flex) Ry(twist); mirrored for the right arm (abd, horiz, twist negated).
    """
    sign = 1.0 if side == LEFT else -1.0
    upper = (rot_y(sign * angles[:, HORIZ]) @ rot_z(sign * angles[:, ABD])
             @ rot_x(-angles[:, FLEX]) @ rot_y(sign * angles[:, TWIST]))
    return upper, rot_x(-angles[:, ELBOW_FLEX])


def _split_euler(angles: np.ndarray, parts: int) -> np.ndarray:
    """[T, 3] (pitch, roll, twist) -> one joint's share [T, 3, 3] = Ry(twist/n) Rx(pitch/n) Rz(-roll/n)."""
    share = angles / parts
    return rot_y(share[:, 2]) @ rot_x(share[:, 0]) @ rot_z(-share[:, 1])


@dataclass(frozen=True)
class RestBody:
    """Bone offsets of the rest pose and the leg measurements the planners need."""

    parents: tuple[int, ...]     # [22] parent of each joint (-1 for the root)
    offsets: np.ndarray          # [22, 3] joint minus parent in the rest pose (root: its rest position)
    neutral_feet: np.ndarray     # [2, 2] standing ankle xz in the body frame (x left, z forward)

    @classmethod
    def from_joints(cls, rest_joints: np.ndarray, parents, stance_widening: float = 0.02) -> "RestBody":
        """Build from rest positions [22, 3] (the canonical skeleton, so retargeting is the identity)."""
        rest_joints = np.asarray(rest_joints, float)
        offsets = rest_joints - rest_joints[[max(p, 0) for p in parents]]
        offsets[0] = rest_joints[0]
        feet = rest_joints[list(ANKLE)][:, [0, 2]] - rest_joints[0, [0, 2]]
        feet[:, 0] += np.array([stance_widening, -stance_widening])
        return cls(tuple(int(p) for p in parents), offsets, feet)

    def thigh(self, side: int) -> float:
        return float(np.linalg.norm(self.offsets[KNEE[side]]))

    def shin(self, side: int) -> float:
        return float(np.linalg.norm(self.offsets[ANKLE[side]]))

    def toe(self, side: int) -> np.ndarray:
        """[3] ankle -> toe offset of the rest (flat) foot."""
        return self.offsets[TOE[side]]

    def ankle_height(self, side: int) -> float:
        """Ankle height when the foot is flat and its toe joint touches the floor (y = 0)."""
        return float(-self.toe(side)[1])

    def standing_height(self, reach: float = 0.97) -> float:
        """Pelvis height standing on the neutral footprints with slightly soft knees."""
        heights = []
        for side in (LEFT, RIGHT):
            hip = self.offsets[HIP[side]]
            horizontal = np.linalg.norm(self.neutral_feet[side] - hip[[0, 2]])
            leg = reach * (self.thigh(side) + self.shin(side))
            heights.append(self.ankle_height(side) - hip[1] + np.sqrt(leg**2 - horizontal**2))
        return float(min(heights))


def _leg_ik(hip, ankle, pole, thigh: float, shin: float):
    """Two-bone IK. hip, ankle, pole [T, 3] -> (knee [T, 3], reached ankle [T, 3]).

    The knee bends towards `pole` (the foot's forward direction); an out-of-reach target is
    approached along the hip->target line.
    """
    reach = ankle - hip
    dist = np.linalg.norm(reach, axis=-1, keepdims=True)
    dist_c = np.clip(dist, abs(thigh - shin) + 1e-3, (thigh + shin) * 0.999)
    u = reach / np.maximum(dist, 1e-9)
    w = _normalise(pole - np.sum(pole * u, -1, keepdims=True) * u)
    cos_a = np.clip((thigh**2 + dist_c**2 - shin**2) / (2 * thigh * dist_c), -1.0, 1.0)
    knee = hip + thigh * (cos_a * u + np.sqrt(1 - cos_a**2) * w)
    return knee, hip + dist_c * u


def _pelvis_heights(plan: BodyPlan, body: RestBody, pelvis_xz, hip_rel) -> np.ndarray:
    """[T] pelvis heights: the plan's wish, lowered where a foot target would be out of reach."""
    limits = [np.asarray(plan.pelvis_height, float)]
    for side in (LEFT, RIGHT):
        leg = MAX_REACH * (body.thigh(side) + body.shin(side))
        horizontal = np.linalg.norm(plan.ankles[:, side, [0, 2]] - (pelvis_xz + hip_rel[side][:, [0, 2]]), axis=-1)
        vertical = np.sqrt(np.maximum(leg**2 - horizontal**2, 0.0))
        reachable = horizontal < leg
        limits.append(np.where(reachable, plan.ankles[:, side, 1] - hip_rel[side][:, 1] + vertical, np.inf))
    limit = np.minimum.reduce(limits)
    limit = np.where(np.isfinite(limit), limit, body.standing_height())
    # Smooth the kinks the min() makes, then re-apply the hard reach limits.
    return np.minimum.reduce([gaussian_filter1d(limit, 1.5, mode="nearest")] + limits[1:])


def solve_body(plan: BodyPlan, body: RestBody) -> np.ndarray:
    """Joint orientations from the plan, then FK -> positions [T, 22, 3] (float64, metres)."""
    frames = plan.frames
    glob = np.broadcast_to(np.eye(3), (frames, 22, 3, 3)).copy()
    pitch, roll, twist = plan.pelvis_rot.T
    glob[:, 0] = rot_y(plan.yaw + twist) @ rot_x(pitch) @ rot_z(-roll)
    pelvis_xz = plan.base_xz + local_to_world_xz(plan.pelvis_shift, plan.yaw)
    hip_rel = [glob[:, 0] @ body.offsets[HIP[s]] for s in (LEFT, RIGHT)]
    height = _pelvis_heights(plan, body, pelvis_xz, hip_rel)
    root = np.stack([pelvis_xz[:, 0], height, pelvis_xz[:, 1]], -1)

    spine_share = _split_euler(plan.spine, len(SPINE))
    parent_rot = glob[:, 0]
    for joint in SPINE:
        glob[:, joint] = parent_rot = parent_rot @ spine_share
    glob[:, NECK] = parent_rot @ rot_y(plan.head[:, 1]) @ rot_x(plan.head[:, 0])
    for side in (LEFT, RIGHT):
        glob[:, COLLAR[side]] = parent_rot
        upper, fore = arm_rotation(plan.arms[:, side], side)
        glob[:, SHOULDER[side]] = parent_rot @ upper
        glob[:, ELBOW[side]] = glob[:, SHOULDER[side]] @ fore

        hip = root + hip_rel[side]
        pole = yaw_vector(plan.foot_yaw[:, side])
        knee, ankle = _leg_ik(hip, plan.ankles[:, side], pole, body.thigh(side), body.shin(side))
        forward = np.array([0.0, 0.0, 1.0])
        glob[:, HIP[side]] = frame_from(body.offsets[KNEE[side]], forward, knee - hip, pole)
        glob[:, KNEE[side]] = frame_from(body.offsets[ANKLE[side]], forward, ankle - knee, pole)
        glob[:, ANKLE[side]] = rot_y(plan.foot_yaw[:, side]) @ rot_x(plan.toe_down[:, side])
    return forward_kinematics(glob, root, body)


def forward_kinematics(glob: np.ndarray, root: np.ndarray, body: RestBody) -> np.ndarray:
    """Global joint rotations [T, 22, 3, 3] and root positions [T, 3] -> positions [T, 22, 3].

    joint = parent + R_parent @ offset: each joint's rotation moves the bones to its children.
    """
    positions = np.zeros(glob.shape[:2] + (3,))
    positions[:, 0] = root
    for joint in range(1, len(body.parents)):
        parent = body.parents[joint]
        positions[:, joint] = positions[:, parent] + glob[:, parent] @ body.offsets[joint]
    return positions
