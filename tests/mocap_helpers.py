"""Build motion-capture files of known motion in the conventions real files use.

A `Rig` is a joint tree with per-frame local rotations; it starts as the T2M skeleton driven by a
synthetic clip (rest offsets and IK of crossdiff.motion.bvh) and is edited the way real rigs
differ: renamed, extra static joints inserted, joints removed, another rest pose, Z up, other
units, the root translation on a joint below a static root. `truth()` is its own forward
kinematics (independent of the importer), `write_bvh` and `write_asf_amc` write it with any
rotation orders, 3 or 6 channels, frame rate and line endings.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from crossdiff.geometry import quaternion_to_matrix
from crossdiff.motion.bvh import inverse_kinematics, rest_offsets
from crossdiff.skeleton import SKELETONS

T2M = SKELETONS["t2m"]


@dataclass
class Rig:
    names: list[str]
    parents: list[int]
    offsets: np.ndarray                 # [J, 3]
    local: np.ndarray                   # [T, J, 3, 3]
    root_position: np.ndarray           # [T, 3] position channels of `moving_root`
    moving_root: int = 0                # the joint that carries the translation
    t2m: list[int] = field(default_factory=lambda: list(range(22)))   # rig joint of each T2M joint
    end_sites: dict[int, np.ndarray] = field(default_factory=dict)

    def copy(self) -> "Rig":
        return Rig(list(self.names), list(self.parents), self.offsets.copy(), self.local.copy(),
                   self.root_position.copy(), self.moving_root, list(self.t2m), dict(self.end_sites))

    def positions(self) -> np.ndarray:
        """[T, J, 3] forward kinematics (parents come before children)."""
        frames = len(self.local)
        world = np.zeros_like(self.local)
        pos = np.zeros((frames, len(self.names), 3))
        for j, p in enumerate(self.parents):
            if p < 0:
                world[:, j], pos[:, j] = self.local[:, j], self.offsets[j]
            else:
                world[:, j] = world[:, p] @ self.local[:, j]
                pos[:, j] = pos[:, p] + world[:, p] @ self.offsets[j]
            if j == self.moving_root:            # position channels replace the offset
                pos[:, j] = self.root_position if p < 0 else pos[:, p] + np.einsum("tij,tj->ti", world[:, p],
                                                                                      self.root_position)
        return pos

    def truth(self) -> np.ndarray:
        return self.positions()[:, self.t2m]


def t2m_rig(joints: np.ndarray) -> Rig:
    """The T2M skeleton (metres) driven by joints [T, 22, 3]; its FK reproduces them."""
    offsets = rest_offsets(joints)
    local = quaternion_to_matrix(inverse_kinematics(joints, offsets))
    leaves = [j for j in range(22) if j not in T2M.parents]
    return Rig(list(T2M.joint_names), list(T2M.parents), offsets, local, joints[:, 0].copy(),
               end_sites={j: 0.5 * offsets[j] for j in leaves})


def rename(rig: Rig, names: dict[str, str]) -> Rig:
    rig = rig.copy()
    rig.names = [names.get(n, n) for n in rig.names]
    return rig


def insert_above(rig: Rig, joint_name: str, new_name: str) -> Rig:
    """A static joint (zero offset, no rotation) between `joint_name` and its parent."""
    rig = rig.copy()
    j = rig.names.index(joint_name)
    new = len(rig.names)
    rig.names.append(new_name)
    rig.parents.append(rig.parents[j])
    rig.offsets = np.vstack([rig.offsets, np.zeros(3)])
    rig.local = np.concatenate([rig.local, np.broadcast_to(np.eye(3), rig.local[:, :1].shape)], axis=1)
    rig.parents[j] = new
    return _reorder(rig)


def split_bone(rig: Rig, joint_name: str, new_name: str) -> Rig:
    """A joint halfway along the bone ending at `joint_name` (a twist/roll joint), not rotating."""
    rig = insert_above(rig, joint_name, new_name)
    j, new = rig.names.index(joint_name), rig.names.index(new_name)
    rig.offsets[new] = 0.5 * rig.offsets[j]
    rig.offsets[j] = 0.5 * rig.offsets[j]
    return rig


def add_static_root(rig: Rig, name: str) -> Rig:
    """A new root that never moves; the old root (the hips) keeps the translation channels."""
    rig = rig.copy()
    old = rig.parents.index(-1)
    rig.names.append(name)
    rig.parents.append(-1)
    rig.parents[old] = len(rig.names) - 1
    rig.offsets = np.vstack([rig.offsets, np.zeros(3)])
    rig.local = np.concatenate([rig.local, np.broadcast_to(np.eye(3), rig.local[:, :1].shape)], axis=1)
    rig.moving_root = old
    return _reorder(rig)


def without(rig: Rig, *joint_names: str) -> tuple[Rig, np.ndarray]:
    """(the rig without these joints, the T2M truth of the rig with their rotations set to identity)."""
    rig = rig.copy()
    for name in joint_names:
        rig.local[:, rig.names.index(name)] = np.eye(3)
    truth = rig.truth()
    for name in joint_names:
        j = rig.names.index(name)
        for child, parent in enumerate(rig.parents):
            if parent == j:
                rig.parents[child] = rig.parents[j]
                rig.offsets[child] = rig.offsets[j] + rig.offsets[child]
        keep = [k for k in range(len(rig.names)) if k != j]
        where = {old: new for new, old in enumerate(keep)}
        rig = Rig([rig.names[k] for k in keep], [where.get(rig.parents[k], -1) for k in keep], rig.offsets[keep],
                  rig.local[:, keep], rig.root_position, where[rig.moving_root], [where.get(k, -1) for k in rig.t2m],
                  {where[k]: o for k, o in rig.end_sites.items() if k in where})
    return rig, truth


def rest_turn(rig: Rig, seed: int = 0) -> Rig:
    """Another rest pose: each joint's frame turned by a random constant A_j; the motion is unchanged."""
    rig = rig.copy()
    turns = Rotation.random(len(rig.names), random_state=seed).as_matrix()
    for j, p in enumerate(rig.parents):
        parent_turn = turns[p] if p >= 0 else np.eye(3)
        rig.offsets[j] = parent_turn @ rig.offsets[j]
        rig.local[:, j] = parent_turn @ rig.local[:, j] @ turns[j].T
        if j == rig.moving_root and p >= 0:
            rig.root_position = rig.root_position @ parent_turn.T
    rig.end_sites = {j: turns[j] @ o for j, o in rig.end_sites.items()}
    return rig


def z_up(rig: Rig) -> Rig:
    """The same motion in a Z-up world: (x, y, z) -> (x, -z, y), a turn of the root joint."""
    rig = rig.copy()
    turn = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])
    root = rig.parents.index(-1)
    rig.local[:, root] = turn @ rig.local[:, root]
    if rig.moving_root == root:                  # its translation is in world axes; below a root it turns along
        rig.root_position = rig.root_position @ turn.T
    return rig


def reflected(rig: Rig) -> Rig:
    """The rig written in a left-handed system: every position with x negated (S p, S = diag(-1, 1, 1))."""
    rig = rig.copy()
    flip = np.diag([-1.0, 1.0, 1.0])
    rig.offsets = rig.offsets @ flip
    rig.local = flip @ rig.local @ flip
    rig.root_position = rig.root_position @ flip
    rig.end_sites = {j: o @ flip for j, o in rig.end_sites.items()}
    return rig


def scaled(rig: Rig, metres_per_unit: float) -> Rig:
    rig = rig.copy()
    rig.offsets = rig.offsets / metres_per_unit
    rig.root_position = rig.root_position / metres_per_unit
    rig.end_sites = {j: o / metres_per_unit for j, o in rig.end_sites.items()}
    return rig


def resampled(rig: Rig, fps: float, fps_from: float = 20.0) -> Rig:
    """The rig's motion at `fps` (rotations slerped, translation linear) over the same duration."""
    rig = rig.copy()
    frames = len(rig.local)
    times = np.arange(frames) / fps_from
    new_times = np.arange(int(np.floor((frames - 1) / fps_from * fps + 1e-9)) + 1) / fps
    local = np.stack([Slerp(times, Rotation.from_matrix(rig.local[:, j]))(new_times).as_matrix()
                      for j in range(len(rig.names))], axis=1)
    rig.root_position = np.stack([np.interp(new_times, times, rig.root_position[:, a]) for a in range(3)], -1)
    rig.local = local
    return rig


def _reorder(rig: Rig) -> Rig:
    """Renumber joints depth first so that parents precede children."""
    children = {j: [k for k, p in enumerate(rig.parents) if p == j] for j in range(len(rig.names))}
    order, stack = [], [rig.parents.index(-1)]
    while stack:
        j = stack.pop()
        order.append(j)
        stack.extend(reversed(children[j]))
    where = {old: new for new, old in enumerate(order)}
    return Rig([rig.names[j] for j in order], [where.get(rig.parents[j], -1) for j in order], rig.offsets[order],
               rig.local[:, order], rig.root_position, where[rig.moving_root], [where.get(j, -1) for j in rig.t2m],
               {where[j]: o for j, o in rig.end_sites.items()})


ORDERS = ("ZXY", "XYZ", "ZYX", "YZX", "YXZ", "XZY")


def _numbers(values) -> str:
    return " ".join(f"{v:.6f}" for v in np.ravel(values))


def bvh_text(rig: Rig, fps: float, orders=ORDERS, six_channels: bool = False, crlf: bool = False) -> str:
    """BVH of the rig; joint j uses rotation order orders[j % len(orders)] (R = R_a R_b R_c, degrees)."""
    children = {j: [k for k, p in enumerate(rig.parents) if p == j] for j in range(len(rig.names))}
    lines, columns = ["HIERARCHY"], []

    def emit(j: int, depth: int) -> None:
        pad, order = "\t" * depth, orders[j % len(orders)]
        moving = j == rig.moving_root or six_channels
        channels = (["Xposition", "Yposition", "Zposition"] if moving else []) + [f"{a}rotation" for a in order]
        lines.extend([f"{pad}{'ROOT' if depth == 0 else 'JOINT'} {rig.names[j]}", f"{pad}{{",
                      f"{pad}\tOFFSET {_numbers(rig.offsets[j])}", f"{pad}\tCHANNELS {len(channels)} {' '.join(channels)}"])
        if moving:
            columns.append(rig.root_position if j == rig.moving_root else np.tile(rig.offsets[j], (len(rig.local), 1)))
        with warnings.catch_warnings():          # gimbal lock (e.g. a Z-up root turn): still the same matrix
            warnings.simplefilter("ignore", UserWarning)
            columns.append(Rotation.from_matrix(rig.local[:, j]).as_euler(order, degrees=True))
        for kid in children[j]:
            emit(kid, depth + 1)
        if j in rig.end_sites:
            lines.extend([f"{pad}\tEnd Site", f"{pad}\t{{", f"{pad}\t\tOFFSET {_numbers(rig.end_sites[j])}", f"{pad}\t}}"])
        lines.append(f"{pad}}}")

    emit(rig.parents.index(-1), 0)
    motion = np.concatenate(columns, axis=1)
    lines += ["MOTION", f"Frames: {len(motion)}", f"Frame Time: {1.0 / fps:.7f}"] + [_numbers(row) for row in motion]
    return ("\r\n" if crlf else "\n").join(lines) + "\n"


def asf_amc_texts(rig: Rig, seed: int = 0) -> tuple[str, str]:
    """(ASF, AMC) of a T2M-shaped rig: each joint a zero-length bone with rx ry rz dofs and a random
    `axis`, reached from its parent through a dof-less bone `seg<j>` along the rest offset."""
    axes = np.random.default_rng(seed).uniform(-40, 40, (len(rig.names), 3))
    bones, hierarchy, amc_lines = [], {}, []
    for j, p in enumerate(rig.parents):
        if p < 0:
            continue
        segment = f"seg{j}"
        length = float(np.linalg.norm(rig.offsets[j]))
        direction = rig.offsets[j] / length
        bones.append(f"begin\nname {segment}\ndirection {_numbers(direction)}\nlength {length:.6f}\naxis 0 0 0 XYZ\nend")
        bones.append(f"begin\nname {rig.names[j]}\ndirection 0 1 0\nlength 0\naxis {_numbers(axes[j])} XYZ\n"
                     f"dof rx ry rz\nlimits (-180 180)\n(-180 180)\n(-180 180)\nend")
        hierarchy.setdefault("root" if p == 0 else rig.names[p], []).append(segment)
        hierarchy[segment] = [rig.names[j]]
    asf = (":version 1.10\n:name test\n:units\n  mass 1.0\n  length 0.45\n  angle deg\n:documentation\n  test\n"
           ":root\n  order TX TY TZ RX RY RZ\n  axis XYZ\n  position 0 0 0\n  orientation 0 0 0\n:bonedata\n"
           + "\n".join(bones) + "\n:hierarchy\n  begin\n"
           + "".join(f"  {parent} {' '.join(kids)}\n" for parent, kids in hierarchy.items()) + "  end\n")
    for t in range(len(rig.local)):
        x, y, z = Rotation.from_matrix(rig.local[t, 0]).as_euler("ZYX", degrees=True)[::-1]
        amc_lines += [str(t + 1), f"root {_numbers(rig.root_position[t])} {x:.6f} {y:.6f} {z:.6f}"]
        for j in range(1, len(rig.names)):
            axis = Rotation.from_euler("ZYX", axes[j][::-1], degrees=True).as_matrix()
            motion = axis.T @ rig.local[t, j] @ axis
            amc_lines.append(f"{rig.names[j]} {_numbers(Rotation.from_matrix(motion).as_euler('ZYX', degrees=True)[::-1])}")
    return asf, ":FULLY-SPECIFIED\n:DEGREES\n" + "\n".join(amc_lines) + "\n"
