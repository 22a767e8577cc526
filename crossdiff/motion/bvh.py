"""Joint positions to BVH (and back): a rest skeleton from the motion, local rotations by IK.

`joints_to_bvh(joints)` turns `[T, 22, 3]` joints (metres, y up, 20 fps, as generate.py writes them;
or KIT-ML's 21 joints in millimetres at 12.5 fps) into BVH text that Blender (File > Import > Motion
Capture, Scale 0.01 for centimetres) and other tools read; `parse_bvh` / `read_bvh` and
`bvh_positions` read any BVH file back and run its forward kinematics, which is how the tests check
that the export reproduces the joints.

The file:
- Joints keep the skeleton's names; the hierarchy is walked depth first from the pelvis. Each
  leaf (head, wrists, toes) ends in an `End Site` that continues its bone for half its length.
- Units: centimetres by default (`units="cm"`, the BVH habit of MotionBuilder, Maya and game
  engines), or metres (`units="m"`, Blender's own unit). The reader takes the same argument,
  since BVH files cannot say which unit they use.
- The root has `OFFSET 0 0 0` and the channels `Xposition Yposition Zposition Zrotation
  Xrotation Yrotation`; every other joint has the three rotation channels. With a zero root
  offset, readers that add the position channels to the offset and readers that replace it
  (Blender) agree. Rotation channels are applied left to right: R = Rz · Rx · Ry (degrees).

The rest pose (all rotations zero) stands upright: each bone that is its parent's only child
points as in the skeleton's canonical pose (the raw IK directions of docs/original_code.md §3.3 would put the
shoulders straight below the collars and the head in front of the neck), with the median length
the bone has in the motion. A joint with several children (pelvis: hips and spine; spine3: neck
and collars) cannot bend its children independently, so their offsets are the median of where
they sit in that joint's own frame (x from the right child to the left one, y towards the child
that points up). For motion whose bone lengths are constant this reproduces the joints exactly
(to the 1e-6 printed digits); where the lengths vary (generated motion), each bone keeps its
direction and the error is the accumulated length difference along the chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crossdiff.errors import UserError
from crossdiff.geometry import matrix_to_quaternion, qbetween, qinv, qmul, qrot, quaternion_to_matrix
from crossdiff.io import save_text
from crossdiff.skeleton import Skeleton, get_skeleton

UNITS = {"cm": 100.0, "m": 1.0}          # file units per metre
ROTATION_ORDER = "ZXY"                   # the channel order written for every joint
_AXES = {"X": 0, "Y": 1, "Z": 2}
_DEGENERATE = 1e-9                       # metres: shorter "directions" have none


@dataclass
class Bvh:
    """A parsed BVH file. Joints are in file order; lengths and positions in the file's units."""

    names: list[str]
    parents: list[int]                   # -1 for the root
    offsets: np.ndarray                  # [J, 3]
    channels: list[tuple[str, ...]]      # per joint, e.g. ("Zrotation", "Xrotation", "Yrotation")
    end_sites: dict[int, np.ndarray]     # joint index -> [3] End Site offset
    frame_time: float                    # seconds
    motion: np.ndarray                   # [T, C] channel values, C = total channel count

    @property
    def frames(self) -> int:
        return self.motion.shape[0]


# ---------------------------------------------------------------- rest skeleton and IK


def _children(parents) -> list[list[int]]:
    children = [[] for _ in parents]
    for joint, parent in enumerate(parents):
        if parent >= 0:
            children[parent].append(joint)
    return children


def _depth_first(children, root: int = 0) -> list[int]:
    order, stack = [], [root]
    while stack:
        joint = stack.pop()
        order.append(joint)
        stack.extend(reversed(children[joint]))
    return order


def _frame_children(sk: Skeleton, joint: int) -> tuple[int, int, int]:
    """(left, right, up) children of a branching joint, recognised by their raw directions ±x, +y."""
    kids = _children(sk.parents)[joint]
    by_direction = {tuple(sk.raw_offsets[k]): k for k in kids}
    try:
        return by_direction[(1.0, 0.0, 0.0)], by_direction[(-1.0, 0.0, 0.0)], by_direction[(0.0, 1.0, 0.0)]
    except KeyError:
        raise AssertionError(f"{sk.name}: joint {joint} branches without ±x and +y children") from None


def _branch_frames(joints: np.ndarray, sk: Skeleton, joint: int) -> np.ndarray:
    """[T, 3, 3] orthonormal frames (columns x, y, z) of a branching joint: x right->left child, y up."""
    left, right, up = _frame_children(sk, joint)
    across = joints[:, left] - joints[:, right]
    upward = joints[:, up] - joints[:, joint]
    x_len = np.linalg.norm(across, axis=-1, keepdims=True)
    x = across / np.maximum(x_len, _DEGENERATE)
    y = upward - (upward * x).sum(-1, keepdims=True) * x
    y_len = np.linalg.norm(y, axis=-1, keepdims=True)
    bad = np.flatnonzero((x_len[:, 0] < _DEGENERATE) | (y_len[:, 0] < _DEGENERATE))
    if bad.size:
        names = sk.joint_names
        raise UserError(f"frame {bad[0]}: {names[left]} and {names[right]} coincide, or {names[up]} lies on "
                        f"their line, so the orientation of {names[joint]} is undefined; check the joints")
    y = y / y_len
    return np.stack([x, y, np.cross(x, y)], axis=-1)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def rest_offsets(joints: np.ndarray, skeleton: str | Skeleton = "t2m") -> np.ndarray:
    """[J, 3] rest offsets (metres) of the BVH skeleton for joints [T, J, 3] in metres; root zero."""
    sk = get_skeleton(skeleton)
    parents = sk.parents
    children = _children(parents)
    canonical = np.asarray(sk.canonical_joints, np.float64)
    offsets = np.zeros((sk.joints_num, 3))
    for parent, kids in enumerate(children):
        if len(kids) == 1:
            (kid,) = kids
            length = np.median(np.linalg.norm(joints[:, kid] - joints[:, parent], axis=-1))
            offsets[kid] = _unit(canonical[kid] - canonical[parent]) * length
        elif len(kids) > 1:
            frames = _branch_frames(joints, sk, parent)                       # [T, 3, 3]
            local = np.einsum("tji,tkj->tki", frames, joints[:, kids] - joints[:, parent:parent + 1])
            offsets[kids] = np.median(local, axis=0)
    return offsets


def inverse_kinematics(joints: np.ndarray, offsets: np.ndarray, skeleton: str | Skeleton = "t2m") -> np.ndarray:
    """Local rotations [T, J, 4] (w, x, y, z) whose FK from `offsets` [J, 3] follows joints [T, J, 3].

    A branching joint turns its rest frame onto the observed one; a joint with one child takes the
    minimal rotation from the rest bone direction to the observed one, seen from its parent (so it
    adds no twist); a leaf keeps its parent's orientation.
    """
    sk = get_skeleton(skeleton)
    parents, children = sk.parents, _children(sk.parents)
    frames = joints.shape[0]
    identity = np.broadcast_to([1.0, 0.0, 0.0, 0.0], (frames, 4))
    world = [identity] * sk.joints_num                                        # global rotations
    local = np.tile(identity[:, None], (1, sk.joints_num, 1))
    for joint in _depth_first(children):
        parent_rot = world[parents[joint]] if parents[joint] >= 0 else identity
        kids = children[joint]
        if len(kids) > 1:
            # `rest_offsets` gives these children in the joint's own frame, so the rest frame is the
            # identity and the world rotation is the observed frame itself.
            world[joint] = matrix_to_quaternion(_branch_frames(joints, sk, joint))
            local[:, joint] = qmul(qinv(parent_rot), world[joint])
        elif len(kids) == 1:
            bone = qrot(qinv(parent_rot), joints[:, kids[0]] - joints[:, joint])
            swing = qbetween(np.broadcast_to(_unit(offsets[kids[0]]), bone.shape), bone)
            # A bone of zero length in this frame has no direction: keep the parent's orientation.
            short = np.linalg.norm(bone, axis=-1) < _DEGENERATE
            local[:, joint] = np.where(short[:, None], identity, swing)
            world[joint] = qmul(parent_rot, local[:, joint])
        else:
            world[joint] = parent_rot
    return local


# ---------------------------------------------------------------- Euler angles


def _axis_rotation(axis: str, radians: np.ndarray) -> np.ndarray:
    """[..., 3, 3] rotations about one coordinate axis."""
    c, s = np.cos(radians), np.sin(radians)
    i, j = [(1, 2), (2, 0), (0, 1)][_AXES[axis]]
    m = np.zeros(radians.shape + (3, 3))
    m[..., _AXES[axis], _AXES[axis]] = 1.0
    m[..., i, i], m[..., i, j], m[..., j, i], m[..., j, j] = c, -s, s, c
    return m


def euler_to_matrix(degrees: np.ndarray, order: str) -> np.ndarray:
    """[..., 3] angles in channel order (e.g. "ZXY": Z, X, Y) -> [..., 3, 3] = R_Z · R_X · R_Y."""
    radians = np.deg2rad(np.asarray(degrees, np.float64))
    m = np.broadcast_to(np.eye(3), radians.shape[:-1] + (3, 3))
    for k, axis in enumerate(order):
        m = m @ _axis_rotation(axis, radians[..., k])
    return m


def matrix_to_euler_zxy(m: np.ndarray) -> np.ndarray:
    """[..., 3, 3] -> [..., 3] radians (z, x, y) with m = Rz(z) · Rx(x) · Ry(y), x in [-90°, 90°].

    Expanded, m[2,1] = sin x, (m[0,1], m[1,1]) = cos x · (-sin z, cos z) and
    (m[2,0], m[2,2]) = cos x · (-sin y, cos y). At x = ±90° (gimbal lock) only z ± y is defined:
    y is set to 0 and z read from the first column, (m[0,0], m[1,0]) = (cos z, sin z).
    """
    cos_x = np.hypot(m[..., 0, 1], m[..., 1, 1])
    x = np.arctan2(m[..., 2, 1], cos_x)
    locked = cos_x < 1e-9
    z = np.where(locked, np.arctan2(m[..., 1, 0], m[..., 0, 0]), np.arctan2(-m[..., 0, 1], m[..., 1, 1]))
    y = np.where(locked, 0.0, np.arctan2(-m[..., 2, 0], m[..., 2, 2]))
    return np.stack([z, x, y], axis=-1)


# ---------------------------------------------------------------- writing


def _check_joints(joints, sk: Skeleton, what: str) -> np.ndarray:
    joints = np.asarray(joints)
    if joints.ndim != 3 or joints.shape[1:] != (sk.joints_num, 3) or joints.shape[0] < 1:
        raise UserError(f"{what}: expected joints [T, {sk.joints_num}, 3] ({sk.name} skeleton) with T >= 1, "
                        f"got shape {list(joints.shape)}")
    if not np.issubdtype(joints.dtype, np.number) or not np.isfinite(joints).all():
        raise UserError(f"{what}: joints must be finite numbers (found NaN, inf or non-numeric values)")
    return joints.astype(np.float64) * sk.metres_per_unit


def _hierarchy_lines(sk: Skeleton, offsets: np.ndarray, end_sites: dict[int, np.ndarray]) -> list[str]:
    children = _children(sk.parents)
    rotations = " ".join(f"{axis}rotation" for axis in ROTATION_ORDER)
    lines = ["HIERARCHY"]

    def emit(joint: int, depth: int) -> None:
        pad = "  " * depth
        head = "ROOT" if depth == 0 else "JOINT"
        channels = f"6 Xposition Yposition Zposition {rotations}" if depth == 0 else f"3 {rotations}"
        lines.extend([f"{pad}{head} {sk.joint_names[joint]}", f"{pad}{{",
                      f"{pad}  OFFSET {_numbers(offsets[joint])}", f"{pad}  CHANNELS {channels}"])
        for kid in children[joint]:
            emit(kid, depth + 1)
        if joint in end_sites:
            lines.extend([f"{pad}  End Site", f"{pad}  {{", f"{pad}    OFFSET {_numbers(end_sites[joint])}",
                          f"{pad}  }}"])
        lines.append(f"{pad}}}")

    emit(0, 0)
    return lines


def _numbers(values) -> str:
    return " ".join(f"{v:.6f}" for v in np.asarray(values).ravel())


def joints_to_bvh(joints, fps: float | None = None, skeleton: str | Skeleton = "t2m", units: str = "cm",
                  what: str = "joints") -> str:
    """BVH text of joints [T, J, 3] (the skeleton's units: metres for t2m; y up) at `fps` (None: the skeleton's).

    `units` is the file's unit ("cm" or "m"); `what` names the input in error messages.
    """
    sk = get_skeleton(skeleton)
    scale = _scale(units)
    fps = sk.fps if fps is None else fps
    if not fps > 0:
        raise UserError(f"fps {fps}: must be a positive number")
    joints = _check_joints(joints, sk, what)
    offsets = rest_offsets(joints, sk)
    local = inverse_kinematics(joints, offsets, sk)                           # [T, J, 4]
    order = _depth_first(_children(sk.parents))
    # np.unwrap keeps each angle curve continuous (a 2π jump is the same rotation, but tools that
    # interpolate between frames would spin the joint around).
    angles = np.rad2deg(np.unwrap(matrix_to_euler_zxy(quaternion_to_matrix(local[:, order])), axis=0))
    rows = np.concatenate([joints[:, 0] * scale, angles.reshape(len(joints), -1)], axis=1)
    leaves = [j for j, kids in enumerate(_children(sk.parents)) if not kids]
    end_sites = {j: 0.5 * offsets[j] * scale for j in leaves}
    lines = _hierarchy_lines(sk, offsets * scale, end_sites)
    lines += ["MOTION", f"Frames: {len(joints)}", f"Frame Time: {1.0 / fps:.8f}"]
    lines += [_numbers(row) for row in rows]
    return "\n".join(lines) + "\n"


def write_bvh(path, joints, fps: float | None = None, skeleton: str | Skeleton = "t2m", units: str = "cm") -> Path:
    """Write `joints_to_bvh(joints, ...)` to `path` atomically; returns the path."""
    path = Path(path)
    save_text(path, joints_to_bvh(joints, fps=fps, skeleton=skeleton, units=units, what=str(path)))
    return path


def _scale(units: str) -> float:
    if units not in UNITS:
        raise UserError(f"units {units!r}: choose one of {sorted(UNITS)}")
    return UNITS[units]


# ---------------------------------------------------------------- reading and FK


class _Tokens:
    def __init__(self, text: str, source: str):
        self.items, self.at, self.source = text.split(), 0, source

    def next(self, expected: str | None = None) -> str:
        if self.at >= len(self.items):
            raise UserError(f"{self.source}: the file ends early" + (f" (expected {expected!r})" if expected else ""))
        token = self.items[self.at]
        self.at += 1
        if expected is not None and token != expected:
            raise UserError(f"{self.source}: expected {expected!r}, found {token!r} (token {self.at})")
        return token

    def numbers(self, count: int) -> np.ndarray:
        words = [self.next() for _ in range(count)]
        try:
            return np.array([float(w) for w in words])
        except ValueError:
            raise UserError(f"{self.source}: expected {count} numbers near token {self.at}, found {words}") from None


def _parse_joint(tokens: _Tokens, bvh: Bvh, parent: int) -> None:
    index = len(bvh.names)
    bvh.names.append(tokens.next())
    bvh.parents.append(parent)
    tokens.next("{")
    tokens.next("OFFSET")
    offset = tokens.numbers(3)
    tokens.next("CHANNELS")
    count = tokens.next()
    if not count.isdigit():
        raise UserError(f"{tokens.source}: joint {bvh.names[index]!r} has a bad channel count {count!r}")
    channels = tuple(tokens.next() for _ in range(int(count)))
    unknown = [c for c in channels if c[:1] not in _AXES or c[1:] not in ("position", "rotation")]
    if unknown:
        raise UserError(f"{tokens.source}: joint {bvh.names[index]!r} has unknown channels {unknown}")
    bvh.offsets = np.vstack([bvh.offsets, offset])
    bvh.channels.append(channels)
    while (word := tokens.next()) != "}":
        if word == "JOINT":
            _parse_joint(tokens, bvh, index)
        elif word == "End":
            tokens.next("Site")
            tokens.next("{")
            tokens.next("OFFSET")
            bvh.end_sites[index] = tokens.numbers(3)
            tokens.next("}")
        else:
            raise UserError(f"{tokens.source}: unexpected {word!r} inside joint {bvh.names[index]!r}")


def parse_bvh(text: str, source: str = "<bvh text>") -> Bvh:
    """Parse BVH text; `source` names it in error messages."""
    tokens = _Tokens(text, source)
    tokens.next("HIERARCHY")
    tokens.next("ROOT")
    bvh = Bvh([], [], np.zeros((0, 3)), [], {}, 0.0, np.zeros((0, 0)))
    _parse_joint(tokens, bvh, -1)
    tokens.next("MOTION")
    tokens.next("Frames:")
    frames = tokens.next()
    if not frames.isdigit():
        raise UserError(f"{source}: 'Frames: {frames}' is not a frame count")
    tokens.next("Frame")
    tokens.next("Time:")
    bvh.frame_time = float(tokens.numbers(1)[0])
    width = sum(len(c) for c in bvh.channels)
    values = len(tokens.items) - tokens.at
    if values != int(frames) * width:
        raise UserError(f"{source}: {frames} frames of {width} channels need {int(frames) * width} values, "
                        f"found {values}")
    bvh.motion = tokens.numbers(values).reshape(int(frames), width)
    if not np.isfinite(bvh.motion).all():
        raise UserError(f"{source}: the motion contains NaN or inf values")
    return bvh


def read_bvh(path) -> Bvh:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: BVH file not found")
    return parse_bvh(path.read_text(encoding="utf-8", errors="replace"), source=str(path))


def bvh_positions(bvh: Bvh, units: str = "cm", names=None) -> np.ndarray:
    """Forward kinematics: joint positions [T, J, 3] in metres (file order, or the given `names`).

    Each joint's rotation multiplies its rotation channels in the order listed; position channels
    replace the joint's offset (as Blender and most readers do; the two agree for a zero offset).
    """
    scale = _scale(units)
    frames, column = bvh.frames, 0
    world = [None] * len(bvh.names)
    positions = np.zeros((frames, len(bvh.names), 3))
    for joint, channels in enumerate(bvh.channels):
        values = bvh.motion[:, column:column + len(channels)]
        column += len(channels)
        axes = "".join(c[0] for c in channels if c.endswith("rotation"))
        rotation = euler_to_matrix(values[:, [k for k, c in enumerate(channels) if c.endswith("rotation")]], axes)
        offset = np.tile(bvh.offsets[joint], (frames, 1))
        for k, c in enumerate(channels):
            if c.endswith("position"):
                offset[:, _AXES[c[0]]] = values[:, k]
        parent = bvh.parents[joint]
        if parent < 0:
            world[joint], positions[:, joint] = rotation, offset
        else:
            world[joint] = world[parent] @ rotation
            positions[:, joint] = positions[:, parent] + np.einsum("tij,tj->ti", world[parent], offset)
    positions /= scale
    if names is None:
        return positions
    missing = [n for n in names if n not in bvh.names]
    if missing:
        raise UserError(f"the BVH has no joints named {missing}; it has {bvh.names}")
    return positions[:, [bvh.names.index(n) for n in names]]
