"""CMU's own format, ASF (skeleton) + AMC (motion), converted to the `Bvh` record the rest reads.

ASF bone b has a rest `direction` and `length` in world axes, an `axis` frame C_b (angles applied
in the listed order, e.g. `XYZ`: C = Rz Ry Rx) and degrees of freedom; AMC gives per frame the
root's translation and rotation and each bone's dof values, which make M_b (again in listed
order). The bone's rotation relative to its parent is L_b = C_b M_b C_b^-1 (the Acclaim
convention). As a BVH joint, bone b sits at its start (its parent bone's end), its offset is the
parent bone's direction times length, and its channels hold L_b as Z-X-Y Euler angles; a bone
without children gets an End Site at its end. Lengths stay in the ASF's units (CMU: 1/0.45 inch),
which the unit detection recognises. `:units angle rad` and `:RADIANS` are honoured.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from crossdiff.mocap.bvh_reader import BvhFile, MocapFileError
from crossdiff.motion.bvh import Bvh, euler_to_matrix, matrix_to_euler_zxy

_DOF_AXES = {"rx": "X", "ry": "Y", "rz": "Z"}


@dataclass
class Bone:
    name: str
    direction: np.ndarray = field(default_factory=lambda: np.zeros(3))
    length: float = 0.0
    axis: np.ndarray = field(default_factory=lambda: np.zeros(3))
    axis_order: str = "XYZ"
    dofs: tuple[str, ...] = ()
    parent: int = -1


@dataclass
class Asf:
    bones: list[Bone]                       # bones[0] is the root
    degrees: bool = True
    root_order: tuple[str, ...] = ("TX", "TY", "TZ", "RX", "RY", "RZ")


def _lines(path: Path) -> list[tuple[int, list[str]]]:
    if not path.is_file():
        raise MocapFileError(str(path), 0, "file not found")
    text = path.read_text(encoding="utf-8", errors="replace")
    return [(n, line.split()) for n, line in enumerate(text.splitlines(), 1)
            if line.strip() and not line.lstrip().startswith("#")]


def _floats(words: list[str], path: Path, number: int) -> np.ndarray:
    try:
        return np.array([float(w) for w in words])
    except ValueError:
        raise MocapFileError(str(path), number, f"expected numbers, found {' '.join(words)!r}") from None


def _bone_field(bone: Bone, words: list[str], path: Path, number: int) -> None:
    key = words[0].lower()
    if key == "name":
        bone.name = words[1]
    elif key == "direction":
        bone.direction = _floats(words[1:4], path, number)
    elif key == "length":
        bone.length = float(_floats(words[1:2], path, number)[0])
    elif key == "axis":
        bone.axis, bone.axis_order = _floats(words[1:4], path, number), words[4].upper() if len(words) > 4 else "XYZ"
    elif key == "dof":
        unknown = [w for w in words[1:] if w.lower() not in _DOF_AXES]
        if unknown:
            raise MocapFileError(str(path), number, f"bone {bone.name!r}: only rotational dofs rx ry rz are "
                                 f"supported, found {unknown}")
        bone.dofs = tuple(w.lower() for w in words[1:])


def read_asf(path) -> Asf:
    """Parse an .asf skeleton; `MocapFileError` names the line of a problem."""
    path = Path(path)
    asf, section, bone = Asf([Bone("root")]), "", None
    names: dict[str, int] = {"root": 0}
    for number, words in _lines(path):
        if words[0].startswith(":"):
            section = words[0].lower()
            continue
        key = words[0].lower()
        if section == ":units" and key == "angle":
            asf.degrees = words[1].lower().startswith("deg")
        elif section == ":root" and key == "order":
            asf.root_order = tuple(w.upper() for w in words[1:])
        elif section == ":root" and key == "axis":
            asf.bones[0].axis_order = words[1].upper()
        elif section == ":bonedata" and key == "begin":
            bone = Bone(f"bone{len(asf.bones)}")
        elif section == ":bonedata" and key == "end" and bone is not None:
            names[bone.name] = len(asf.bones)
            asf.bones.append(bone)
            bone = None
        elif section == ":bonedata" and bone is not None:
            _bone_field(bone, words, path, number)
        elif section == ":hierarchy" and key not in ("begin", "end"):
            missing = [w for w in words if w not in names]
            if missing:
                raise MocapFileError(str(path), number, f"the hierarchy names unknown bones {missing}")
            for child in words[1:]:
                asf.bones[names[child]].parent = names[words[0]]
    orphans = [b.name for b in asf.bones[1:] if b.parent < 0]
    if len(asf.bones) < 2 or orphans:
        raise MocapFileError(str(path), 0, f"no bone hierarchy (bones without a parent: {orphans[:5]})"
                             if orphans else "no bones in :bonedata")
    return _parents_first(asf)


def _parents_first(asf: Asf) -> Asf:
    """The bones reordered depth first from the root (the forward kinematics needs parents first)."""
    order, stack = [], [0]
    while stack:
        bone = stack.pop()
        order.append(bone)
        stack.extend(reversed([k for k, b in enumerate(asf.bones) if b.parent == bone]))
    where = {old: new for new, old in enumerate(order)}
    bones = [asf.bones[k] for k in order]
    for bone in bones:
        bone.parent = where.get(bone.parent, -1)
    asf.bones = bones
    return asf


def read_amc(path, asf: Asf) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(root values [T, len(root_order)], {bone: dof values [T, len(dofs)]}) of an .amc file."""
    path = Path(path)
    dofs = {b.name: len(b.dofs) for b in asf.bones[1:]}
    frames: list[dict[str, np.ndarray]] = []
    degrees = asf.degrees
    for number, words in _lines(path):
        if words[0].startswith(":"):
            degrees = False if words[0].upper() == ":RADIANS" else degrees if words[0].upper() != ":DEGREES" else True
        elif len(words) == 1 and words[0].isdigit():
            frames.append({})
        elif not frames:
            raise MocapFileError(str(path), number, f"expected a frame number, found {' '.join(words)!r}")
        else:
            width = len(asf.root_order) if words[0] == "root" else dofs.get(words[0])
            if width is None:
                raise MocapFileError(str(path), number, f"bone {words[0]!r} is not in the skeleton (.asf)")
            if len(words) - 1 != width:
                raise MocapFileError(str(path), number, f"{words[0]} needs {width} values, found {len(words) - 1}")
            frames[-1][words[0]] = _floats(words[1:], path, number)
    if not frames:
        raise MocapFileError(str(path), 0, "no frames")
    to_degrees = 1.0 if degrees else 180.0 / np.pi
    root = np.stack([f.get("root", np.zeros(len(asf.root_order))) for f in frames])
    root[:, [k for k, c in enumerate(asf.root_order) if c.startswith("R")]] *= to_degrees
    bones = {b.name: np.stack([f.get(b.name, np.zeros(len(b.dofs))) for f in frames]) * to_degrees
             for b in asf.bones[1:]}
    return root, bones


def _in_applied_order(angles: np.ndarray, order: str) -> np.ndarray:
    """Acclaim 'XYZ' applies X first: R = Rz Ry Rx, i.e. the BVH-style product in reversed order."""
    return euler_to_matrix(angles[..., ::-1], order[::-1])


def _local_rotations(asf: Asf, root: np.ndarray, bones: dict[str, np.ndarray]) -> np.ndarray:
    """[T, B, 3, 3] rotations L_b = C_b M_b C_b^-1 of every bone (root included)."""
    frames = len(root)
    local = np.zeros((frames, len(asf.bones), 3, 3))
    rotation_keys = [c for c in asf.root_order if c.startswith("R")]
    root_angles = root[:, [asf.root_order.index(c) for c in rotation_keys]]
    local[:, 0] = _in_applied_order(root_angles, "".join(c[1] for c in rotation_keys))
    for b, bone in enumerate(asf.bones[1:], 1):
        axis = _in_applied_order(bone.axis, bone.axis_order)
        motion = (_in_applied_order(bones[bone.name], "".join(_DOF_AXES[d] for d in bone.dofs)) if bone.dofs
                  else np.broadcast_to(np.eye(3), (frames, 3, 3)))
        local[:, b] = axis @ motion @ axis.T
    return local


def asf_amc_to_bvh(asf_path, amc_path) -> BvhFile:
    """The ASF/AMC pair as a `Bvh` (joints = bones at their start, Z-X-Y rotation channels)."""
    asf = read_asf(asf_path)
    root, bones = read_amc(amc_path, asf)
    local = _local_rotations(asf, root, bones)
    angles = np.rad2deg(np.unwrap(matrix_to_euler_zxy(local), axis=0))                 # [T, B, 3]
    translation = np.stack([root[:, asf.root_order.index(f"T{a}")] if f"T{a}" in asf.root_order
                            else np.zeros(len(root)) for a in "XYZ"], axis=-1)
    offsets = np.stack([np.zeros(3) if b.parent <= 0 else
                        asf.bones[b.parent].direction * asf.bones[b.parent].length for b in asf.bones])
    rotation = ("Zrotation", "Xrotation", "Yrotation")
    channels = [("Xposition", "Yposition", "Zposition") + rotation] + [rotation] * (len(asf.bones) - 1)
    leaves = set(range(1, len(asf.bones))) - {b.parent for b in asf.bones}
    end_sites = {b: asf.bones[b].direction * asf.bones[b].length for b in sorted(leaves)}
    motion = np.concatenate([translation, angles.reshape(len(root), -1)], axis=1)
    bvh = Bvh([b.name for b in asf.bones], [b.parent for b in asf.bones], offsets, channels, end_sites,
              1.0 / 120.0, motion)
    return BvhFile(bvh, ["ASF/AMC files carry no frame rate: 120 fps assumed (CMU's rate; --fps_in to change)"])


def asf_for(amc_path) -> Path:
    """The skeleton of an .amc: <stem>.asf, CMU's <subject>.asf for <subject>_<trial>.amc, or the folder's only .asf."""
    amc_path = Path(amc_path)
    candidates = [amc_path.with_suffix(".asf"), amc_path.with_name(amc_path.stem.split("_")[0] + ".asf")]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    others = sorted(amc_path.parent.glob("*.asf"))
    if len(others) == 1:
        return others[0]
    raise MocapFileError(str(amc_path), 0, f"no skeleton file for it: put {candidates[1].name} (or "
                         f"{candidates[0].name}) next to it")
