"""One motion-capture file -> T2M joints [T, 22, 3] in metres, y up, 20 fps, and what was decided.

The steps: read (.bvh, or .amc with its .asf) -> forward kinematics of every joint and End Site
-> match the 22 T2M joints (`rigs`) -> units (`--scale` or detected) -> up axis (`--up` or
detected) -> handedness (a left-handed file is flipped) -> resample to 20 fps. The result is what HumanML3D's pipeline starts from (its
`joints/` folder); `crossdiff.motion.features3d.joints_to_features` does the retarget.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from crossdiff.errors import UserError
from crossdiff.mocap import units
from crossdiff.mocap.asf_amc import asf_amc_to_bvh, asf_for
from crossdiff.mocap.bvh_reader import BvhFile, MocapFileError, read_bvh_file
from crossdiff.mocap.kinematics import with_end_sites, world_positions
from crossdiff.mocap.resample import resample, source_fps
from crossdiff.mocap.rigs import T2M_NAMES, assemble_t2m, match_joints
from crossdiff.skeleton import SKELETONS

SUFFIXES = (".bvh", ".amc")
FPS = SKELETONS["t2m"].fps


@dataclass
class ImportSettings:
    """Choices that apply to every file (None: detect per file)."""

    mapping: dict | None = None         # T2M joint -> source joint name (None value: infer)
    fps_in: float | None = None         # source frame rate
    scale: float | None = None          # metres per file unit
    up: np.ndarray | None = None        # the file's up axis as a unit vector


@dataclass
class ImportedClip:
    path: Path
    joints: np.ndarray                  # [T, 22, 3] metres, y up, 20 fps
    info: dict = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return (len(self.joints) - 1) / FPS


def read_motion_file(path) -> BvhFile:
    path = Path(path)
    if path.suffix.lower() == ".bvh":
        return read_bvh_file(path)
    if path.suffix.lower() == ".amc":
        return asf_amc_to_bvh(asf_for(path), path)
    raise MocapFileError(str(path), 0, f"unknown file type {path.suffix!r}; expected one of {SUFFIXES}")


def import_clip(path, settings: ImportSettings | None = None) -> ImportedClip:
    """Read and convert one file; `MocapFileError`/`UserError` say why it cannot be."""
    settings = settings or ImportSettings()
    path = Path(path)
    parsed = read_motion_file(path)
    bvh = with_end_sites(parsed.bvh)
    names = bvh.names
    positions = world_positions(bvh)                                          # [T, N, 3] file units
    try:
        match = match_joints(names, bvh.parents, positions, settings.mapping)
    except MocapFileError:
        raise
    except UserError as error:              # name the file in the report
        raise MocapFileError(str(path), 0, str(error)) from None
    joints = assemble_t2m(positions, match)
    if settings.scale is not None:
        unit, metres = "--scale", float(settings.scale)
    else:
        unit, metres = units.detect_unit(joints, str(path))
    up = settings.up if settings.up is not None else units.detect_up(joints)
    joints = units.to_y_up(joints * metres, up)
    mirrored = units.is_mirrored(joints)
    if mirrored:                            # a left-handed file: flip x so that left is left again
        joints = joints * np.array([-1.0, 1.0, 1.0])
    fps_in = source_fps(bvh.frame_time, settings.fps_in)
    joints = resample(joints, fps_in, FPS)
    info = {"rig": match.rig, "joints": match.sources(names), "inferred": match.inferred,
            "unit": unit, "metres_per_unit": metres, "up": units.axis_name(up), "fps_in": round(fps_in, 5),
            "frames_in": int(bvh.frames), "left_handed": mirrored, "warnings": parsed.warnings + match.notes}
    if mirrored:
        info["warnings"].append("left-handed coordinates (the body's left was on its right): x negated")
    if match.inferred:
        info["warnings"].append(f"inferred from their neighbours: {match.inferred}")
    return ImportedClip(path, joints, info)


_PAIRS = [(T2M_NAMES.index(n), T2M_NAMES.index("right_" + n[5:])) for n in T2M_NAMES if n.startswith("left_")]


def mirror_joints(joints: np.ndarray) -> np.ndarray:
    """The left-right mirror of T2M joints [T, 22, 3]: x negated, left and right joints swapped."""
    mirrored = joints * np.array([-1.0, 1.0, 1.0])
    order = list(range(len(T2M_NAMES)))
    for left, right in _PAIRS:
        order[left], order[right] = right, left
    return mirrored[:, order]
