"""Which joint of a motion-capture rig is which of the 22 T2M joints.

Three sources, strongest first:
1. a mapping file (`--mapping map.yaml`: `t2m_joint: source joint name`, or `null` to infer it);
2. a rig preset (`RIGS`: CMU, Mixamo, Bandai-Namco, 3ds Max Biped, CMU ASF, our own export),
   recognised when most of its names occur, and used only if its chains fit the file's hierarchy;
3. hierarchy rules for any other rig: the wrist is the topmost joint named hand/wrist on a side,
   the elbow and the shoulder are the next joints up that are not twist/roll joints and do not
   sit on the joint below, and the joint above the shoulder is the collar only if it is not the
   spine (no other limb below it). That settles the "LeftShoulder" trap: in Mixamo and CMU rigs
   LeftShoulder has LeftArm below it before the elbow, so it is the collarbone; in rigs where it
   is the upper arm, the elbow hangs directly below it. Legs likewise from the foot/ankle up;
   the spine joints are picked along the chain between the pelvis and the joint the arms branch
   from, at the canonical skeleton's height fractions.
Missing spine, neck or collar joints are inferred as the affine combination of present
neighbours that reproduces the canonical skeleton (`INFERABLE`), and reported.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from crossdiff.errors import UserError
from crossdiff.mocap.kinematics import ancestors, depth, is_ancestor, lowest_common_ancestor
from crossdiff.skeleton import SKELETONS

T2M = SKELETONS["t2m"]
T2M_NAMES = T2M.joint_names
# Joints that may be absent: inferred from these present joints (weights fitted on the canonical skeleton).
INFERABLE = {"spine1": ("pelvis", "spine3"), "spine2": ("pelvis", "spine3"), "neck": ("spine3", "head"),
             "left_collar": ("spine3", "neck", "left_shoulder"), "right_collar": ("spine3", "neck", "right_shoulder")}
_TWIST = ("roll", "twist")
_FINGERS = ("finger", "thumb", "index", "middle", "ring", "pinky", "little", "carpal")
_TIPS = ("end", "top", "tip", "nub", "site")
_PARTS = ("hip", "femur", "tibia", "foot", "toe", "clavicle", "humerus", "radius", "wrist", "hand", "finger",
          "thumb", "shoulder", "arm", "forearm", "elbow", "knee", "leg", "upleg", "ankle", "collar", "uparm",
          "thigh", "calf", "shin", "ball", "index", "middle", "ring", "pinky", "eye")


@dataclass(frozen=True)
class RigPreset:
    """Source names of one rig, left side and centre; the right side swaps `left_tag` for `right_tag`."""

    name: str
    joints: dict[str, str]
    left_tag: str
    right_tag: str

    def names(self) -> dict[str, str]:
        full = dict(self.joints)
        for t2m, source in self.joints.items():
            if t2m.startswith("left_"):
                full["right_" + t2m[5:]] = source.replace(self.left_tag, self.right_tag, 1)
        return full


RIGS = {
    # CMU's Neck and LeftShoulder sit on Spine1 (zero offsets): the neck is Neck1, the collars are inferred.
    "cmu": RigPreset("cmu", {"pelvis": "Hips", "left_hip": "LeftUpLeg", "left_knee": "LeftLeg", "left_ankle": "LeftFoot",
                             "left_foot": "LeftToeBase", "spine1": "Spine", "spine3": "Spine1", "neck": "Neck1",
                             "head": "Head", "left_shoulder": "LeftArm",
                             "left_elbow": "LeftForeArm", "left_wrist": "LeftHand",
                             "lower_back": "LowerBack"},           # not a T2M joint: tells CMU from Mixamo
                     "Left", "Right"),
    "mixamo": RigPreset("mixamo", {"pelvis": "Hips", "left_hip": "LeftUpLeg", "left_knee": "LeftLeg",
                                   "left_ankle": "LeftFoot", "left_foot": "LeftToeBase", "spine1": "Spine",
                                   "spine2": "Spine1", "spine3": "Spine2", "neck": "Neck", "head": "Head",
                                   "left_collar": "LeftShoulder", "left_shoulder": "LeftArm",
                                   "left_elbow": "LeftForeArm", "left_wrist": "LeftHand"}, "Left", "Right"),
    "bandai_namco": RigPreset("bandai_namco", {"pelvis": "Hips", "left_hip": "UpperLeg_L", "left_knee": "LowerLeg_L",
                                               "left_ankle": "Foot_L", "left_foot": "Toes_L", "spine1": "Spine",
                                               "spine3": "Chest", "neck": "Neck", "head": "Head",
                                               "left_collar": "Shoulder_L", "left_shoulder": "UpperArm_L",
                                               "left_elbow": "LowerArm_L", "left_wrist": "Hand_L"}, "_L", "_R"),
    "biped": RigPreset("biped", {"pelvis": "Bip01 Pelvis", "left_hip": "Bip01 L Thigh", "left_knee": "Bip01 L Calf",
                                 "left_ankle": "Bip01 L Foot", "left_foot": "Bip01 L Toe0", "neck": "Bip01 Neck",
                                 "head": "Bip01 Head", "left_collar": "Bip01 L Clavicle",
                                 "left_shoulder": "Bip01 L UpperArm", "left_elbow": "Bip01 L Forearm",
                                 "left_wrist": "Bip01 L Hand"}, " L ", " R "),
    "cmu_asf": RigPreset("cmu_asf", {"pelvis": "root", "left_hip": "lfemur", "left_knee": "ltibia", "left_ankle": "lfoot",
                                     "left_foot": "ltoes", "neck": "lowerneck", "head": "head",
                                     "left_collar": "lclavicle", "left_shoulder": "lhumerus", "left_elbow": "lradius",
                                     "left_wrist": "lwrist"}, "l", "r"),
    "t2m": RigPreset("t2m", {name: name for name in T2M_NAMES if not name.startswith("right_")}, "left_", "right_"),
}
# Chains a preset's joints must follow in the file's hierarchy (each an ancestor of the next).
_CHAINS = [("pelvis", "spine1", "spine2", "spine3", "neck", "head")] + [
    tuple(f"{side}_{part}" for part in parts) for side in ("left", "right")
    for parts in (("hip", "knee", "ankle", "foot"), ("collar", "shoulder", "elbow", "wrist"))]


def normalise(name: str) -> str:
    """'mixamorig:LeftArm' -> 'leftarm', 'Bip001 L Thigh' -> 'lthigh', 'Shoulder_L' -> 'shoulderl'."""
    name = re.split(r"[:|]", name)[-1]
    return re.sub(r"^bip0*1", "", re.sub(r"[^a-z0-9]", "", name.lower()))


def side_of(name: str) -> str | None:
    """'left', 'right' or None, from Left/Right words, L/R tokens or an l/r prefix before a body part."""
    raw = re.split(r"[:|]", name)[-1]
    lower = raw.lower()
    for side in ("left", "right"):
        if side in lower:
            return side
    tokens = [t.lower() for t in re.split(r"[\s_.\-]+|(?<=[a-z])(?=[A-Z])", raw) if t]
    for token, side in (("l", "left"), ("r", "right")):
        if token in tokens:
            return side
    flat = normalise(raw)
    if flat[:1] in ("l", "r") and flat[1:].startswith(_PARTS):
        return "left" if flat[0] == "l" else "right"
    return None


@dataclass
class RigMatch:
    """Source joint index of each T2M joint (None: inferred), how it was decided, and notes."""

    indices: list[int | None]
    rig: str
    inferred: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def sources(self, names: list[str]) -> dict[str, str | None]:
        return {t2m: (names[i] if i is not None else None) for t2m, i in zip(T2M_NAMES, self.indices)}


class _Rig:
    """The file's joints (names, parents, positions [T, N, 3]) and the questions the rules ask."""

    def __init__(self, names: list[str], parents: list[int], positions: np.ndarray):
        self.names, self.parents, self.positions = names, parents, positions
        self.flat = [normalise(n) for n in names]
        self.sides = [side_of(n) for n in names]
        extent = np.ptp(positions[0].reshape(-1, 3), axis=0).max()
        self.eps = 1e-3 * max(float(extent), 1e-9)          # joints closer than this coincide

    def named(self, words, side=None, exclude=()) -> list[int]:
        return [j for j, f in enumerate(self.flat) if any(w in f for w in words)
                and not any(x in f for x in exclude) and (side is None or self.sides[j] == side)]

    def topmost(self, joints) -> int | None:
        return min(joints, key=lambda j: depth(self.parents, j)) if joints else None

    def apart(self, a: int, b: int) -> bool:
        return float(np.median(np.linalg.norm(self.positions[:, a] - self.positions[:, b], axis=-1))) > self.eps

    def step_up(self, joint: int | None) -> int | None:
        """The nearest ancestor that is not a twist joint and does not sit on `joint`."""
        if joint is None:
            return None
        for above in ancestors(self.parents, joint):
            if not any(t in self.flat[above] for t in _TWIST) and self.apart(above, joint):
                return above
        return None

    def first_child_down(self, joint: int) -> int | None:
        """The first joint below `joint` (following only children) that does not sit on it."""
        kids = [k for k, p in enumerate(self.parents) if p == joint]
        for kid in kids:
            if self.apart(kid, joint):
                return kid
        for kid in kids:
            found = self.first_child_down(kid)
            if found is not None:
                return found
        return None


def _limbs(rig: _Rig, found: dict[str, int | None], side: str) -> None:
    wrist = rig.topmost(rig.named(("hand", "wrist"), side, _FINGERS + _TIPS))
    if wrist is None:           # an arm that ends at the forearm: its End Site is the wrist
        forearm = rig.topmost(rig.named(("forearm", "lowerarm", "elbow", "radius"), side, _TWIST + _TIPS))
        wrist = rig.first_child_down(forearm) if forearm is not None else None
    elbow = rig.step_up(wrist)
    shoulder = rig.step_up(elbow)
    found.update({f"{side}_wrist": wrist, f"{side}_elbow": elbow, f"{side}_shoulder": shoulder})
    ankle = rig.topmost(rig.named(("foot", "ankle"), side, ("toe", "ball") + _TIPS))
    knee = rig.step_up(ankle)
    found.update({f"{side}_ankle": ankle, f"{side}_knee": knee, f"{side}_hip": rig.step_up(knee)})
    if ankle is not None:
        toes = [j for j in rig.named(("toe", "ball"), side) if is_ancestor(rig.parents, ankle, j)]
        found[f"{side}_foot"] = rig.topmost(toes) if toes else rig.first_child_down(ankle)


def _collar(rig: _Rig, found: dict, side: str, other: str) -> int | None:
    """The joint above the shoulder, unless it is the spine (the other arm or the head hang below it)."""
    above = rig.step_up(found.get(f"{side}_shoulder"))
    if above is None or (found.get("spine3") is not None and not rig.apart(above, found["spine3"])):
        return None             # CMU's LeftShoulder starts on the chest joint: no collar bone to use
    below_it = [found.get(f"{other}_shoulder"), found.get("head")]
    return None if any(j is not None and is_ancestor(rig.parents, above, j) for j in below_it) else above


def _fractions() -> tuple[float, float]:
    """Heights of spine1 and spine2 along pelvis -> spine3 on the canonical skeleton (0..1)."""
    c = T2M.canonical_joints
    pelvis, s1, s2, s3 = (c[T2M_NAMES.index(n)] for n in ("pelvis", "spine1", "spine2", "spine3"))
    total = np.linalg.norm(s1 - pelvis) + np.linalg.norm(s2 - s1) + np.linalg.norm(s3 - s2)
    return float(np.linalg.norm(s1 - pelvis) / total), float((total - np.linalg.norm(s3 - s2)) / total)


def _spine(rig: _Rig, found: dict) -> None:
    pelvis, spine3 = found.get("pelvis"), found.get("spine3")
    if pelvis is None or spine3 is None:
        return
    above = ancestors(rig.parents, spine3)
    path = [j for j in reversed(above[:above.index(pelvis)] if pelvis in above else [])
            if rig.apart(j, pelvis) and rig.apart(j, spine3)]
    if not path:
        return
    points = rig.positions[0, [pelvis] + path + [spine3]]
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=-1))])
    arc = arc[1:-1] / max(arc[-1], 1e-12)
    targets = dict(zip(("spine1", "spine2"), _fractions()))
    for name in sorted(targets, key=lambda n: np.abs(arc - targets[n]).min()):
        if found.get(name) is None:
            free = [k for k, j in enumerate(path) if j not in found.values()]
            if free:
                found[name] = path[min(free, key=lambda k: abs(arc[k] - targets[name]))]


def _by_hierarchy(rig: _Rig) -> dict[str, int | None]:
    found: dict[str, int | None] = {}
    for side in ("left", "right"):
        _limbs(rig, found, side)
    hips = found.get("left_hip"), found.get("right_hip")
    if None not in hips:
        junction = lowest_common_ancestor(rig.parents, *hips)
        # Biped hangs the thighs below its first spine joint: prefer a hips/pelvis joint above the junction.
        named = [j for j in [junction] + ancestors(rig.parents, junction) if rig.flat[j].endswith(("hips", "pelvis"))]
        found["pelvis"] = named[0] if named else junction
    found["head"] = rig.topmost(rig.named(("head",), None, _TIPS + ("forehead",)))
    necks = [j for j in ancestors(rig.parents, found["head"]) if "neck" in rig.flat[j]] if found["head"] is not None else []
    shoulders = found.get("left_shoulder"), found.get("right_shoulder")
    if None not in shoulders:
        branch = lowest_common_ancestor(rig.parents, *shoulders)
        # Biped hangs the clavicles below its neck joint: the chest is then the joint below.
        found["spine3"] = rig.step_up(branch) if "neck" in rig.flat[branch] else branch
    spine3 = found.get("spine3")
    # CMU's "Neck" sits on the chest joint (zero offset); its "Neck1" is the T2M neck.
    necks = [j for j in necks if spine3 is None or (rig.apart(j, spine3) and not is_ancestor(rig.parents, j, spine3))]
    found["neck"] = necks[-1] if necks else None
    found["left_collar"] = _collar(rig, found, "left", "right")
    found["right_collar"] = _collar(rig, found, "right", "left")
    _spine(rig, found)
    return found


def _preset(rig: _Rig) -> tuple[str, dict[str, int]] | None:
    """The preset with the largest share of its names in the file (at least 75 %) whose chains fit the hierarchy."""
    index = {f: j for j, f in enumerate(rig.flat)}
    candidates = []
    for preset in RIGS.values():
        wanted = {t2m: normalise(n) for t2m, n in preset.names().items()}
        hits = {t2m: index[f] for t2m, f in wanted.items() if f in index}
        if len(hits) >= 0.75 * len(wanted):
            candidates.append((len(hits) / len(wanted), len(hits), preset.name, hits))
    for *_, name, hits in sorted(candidates, reverse=True):
        if all(_follows_hierarchy(rig, [hits[n] for n in chain if n in hits]) for chain in _CHAINS):
            return name, {k: v for k, v in hits.items() if k in T2M_NAMES}
    return None


def _follows_hierarchy(rig: _Rig, joints: list[int]) -> bool:
    return all(is_ancestor(rig.parents, a, b) for a, b in zip(joints[:-1], joints[1:]))


def _mapping_indices(names: list[str], mapping: dict) -> dict[str, int | None]:
    indices = {}
    for t2m, source in mapping.items():
        if source is None:
            if t2m not in INFERABLE:
                raise UserError(f"mapping {t2m}: null (infer) is allowed only for {sorted(INFERABLE)}")
            indices[t2m] = None
        elif source not in names:
            raise UserError(f"mapping {t2m}: {source!r} is not a joint of this file; its joints are {names}")
        else:
            indices[t2m] = names.index(source)
    return indices


def match_joints(names: list[str], parents: list[int], positions: np.ndarray, mapping: dict | None = None) -> RigMatch:
    """Map the file's joints (with End Sites) onto the 22 T2M joints; `UserError` lists what is missing."""
    rig = _Rig(names, parents, positions)
    found = _by_hierarchy(rig)
    preset = _preset(rig)
    label = "generic"
    if preset is not None:
        label = preset[0]
        found.update(preset[1])
        found.update({n: None for n in ("spine1", "spine2") if n not in preset[1]})
        _spine(rig, found)                                 # fill spine joints the preset leaves open
    if mapping:
        found.update(_mapping_indices(names, mapping))
        label += " + mapping"
    indices = [found.get(name) for name in T2M_NAMES]
    missing = [n for n, i in zip(T2M_NAMES, indices) if i is None and n not in INFERABLE]
    if missing:
        raise UserError(f"cannot tell which joints are {missing} (rig {label}; joints: {names}); name them in a "
                        f"--mapping file, e.g. '{missing[0]}: <joint name>'")
    match = RigMatch(indices, label, inferred=[n for n, i in zip(T2M_NAMES, indices) if i is None])
    used = [i for i in indices if i is not None]
    if len(set(used)) < len(used):
        doubles = sorted({names[i] for i in used if used.count(i) > 1})
        match.notes.append(f"joints used for two T2M joints: {doubles}")
    return match


def inference_weights(target: str, references: tuple[str, ...]) -> np.ndarray:
    """Weights w (summing to 1) with sum_r w_r * canonical[r] closest to canonical[target]."""
    c = T2M.canonical_joints
    base = c[T2M_NAMES.index(references[0])]
    basis = np.stack([c[T2M_NAMES.index(r)] - base for r in references[1:]], axis=1)     # [3, R-1]
    rest, *_ = np.linalg.lstsq(basis, c[T2M_NAMES.index(target)] - base, rcond=None)
    return np.concatenate([[1.0 - rest.sum()], rest])


def assemble_t2m(positions: np.ndarray, match: RigMatch) -> np.ndarray:
    """[T, N, 3] source positions -> [T, 22, 3] T2M joints, inferring the missing ones in T2M order."""
    joints = np.zeros(positions.shape[:1] + (len(T2M_NAMES), 3))
    for k, (name, source) in enumerate(zip(T2M_NAMES, match.indices)):
        if source is not None:
            joints[:, k] = positions[:, source]
    for name in T2M_NAMES:                                  # neck before the collars that use it
        if name in match.inferred:
            refs = INFERABLE[name]
            weights = inference_weights(name, refs)
            joints[:, T2M_NAMES.index(name)] = np.einsum("r,trd->td", weights,
                                                         joints[:, [T2M_NAMES.index(r) for r in refs]])
    return joints


def read_mapping(path) -> dict[str, str | None]:
    """A `--mapping` YAML file: `t2m_joint: source joint name` (null: infer it); keys are checked."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"--mapping {path}: file not found")
    try:
        mapping = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise UserError(f"--mapping {path}: not valid YAML ({error})") from None
    if not isinstance(mapping, dict):
        raise UserError(f"--mapping {path}: expected lines 't2m_joint: source joint name'")
    for key, value in mapping.items():
        if key not in T2M_NAMES:
            close = difflib.get_close_matches(str(key), T2M_NAMES, n=1)
            raise UserError(f"--mapping {path}: {key!r} is not a T2M joint"
                            + (f" (did you mean {close[0]!r}?)" if close else f"; the joints are {list(T2M_NAMES)}"))
        if value is not None and not isinstance(value, str):
            raise UserError(f"--mapping {path}: {key}: expected a joint name or null, got {value!r}")
    return mapping
