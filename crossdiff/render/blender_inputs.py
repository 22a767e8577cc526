"""What the Blender renderer draws, prepared with numpy only (so it also runs inside Blender).

- `load_sequence`: a `_mesh.npy` `[T, V, 3]` with its faces (from the matching `_smpl.npz`, or a
  faces file), or a joints `.npy` `[T, 22, 3]` turned into a stick figure of spheres and cylinders.
- `to_blender_axes`: HumanML3D / SMPL coordinates (metres, y up, facing +z) -> Blender's z up.
- `camera_track`: where the camera looks each frame and how far back it stands to frame the body;
  `field_of_view`: the angle a lens covers at a resolution; `default_output`: output file names.

Only the standard library and numpy are imported here, plus crossdiff.errors and crossdiff.skeleton
(which import nothing else: Blender's Python has no torch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crossdiff.errors import UserError
from crossdiff.skeleton import SKELETONS

T2M_PARENTS = SKELETONS["t2m"].parents     # the 22 HumanML3D joints (joints .npy files)
JOINT_RADIUS = 0.035
BONE_RADIUS = 0.018


@dataclass
class Sequence:
    vertices: np.ndarray      # [T, V, 3] Blender axes (z up), lowest point on z = 0
    faces: np.ndarray         # [F, 3] int
    kind: str                 # "mesh" | "joints"
    fps: float                # frame rate of the video


def to_blender_axes(points: np.ndarray) -> np.ndarray:
    """(x, y up, z forward) -> Blender (x, -z, y): a proper rotation, so nothing is mirrored.

    The body then faces -y, towards a camera placed on Blender's front side.
    """
    return np.stack([points[..., 0], -points[..., 2], points[..., 1]], -1)


def _faces_for(mesh_path: Path, faces_path: Path | None, vertex_count: int) -> np.ndarray:
    """Faces [F, 3] from --faces (.npy, or .npz with `faces`/`f`) or `<stem>_smpl.npz` beside the mesh."""
    stem = mesh_path.name[: -len("_mesh.npy")] if mesh_path.name.endswith("_mesh.npy") else mesh_path.stem
    candidates = [faces_path] if faces_path else [mesh_path.with_name(f"{stem}_smpl.npz")]
    source = candidates[0]
    if not source.is_file():
        raise UserError(f"{mesh_path}: no faces found ({source} is missing); pass --faces FILE "
                        "(the fit's _smpl.npz, a body-model .npz or a faces .npy)")
    if source.suffix == ".npy":
        faces = np.load(source, allow_pickle=False)
    else:
        with np.load(source, allow_pickle=False) as npz:
            key = "faces" if "faces" in npz else "f"
            if key not in npz:
                raise UserError(f"{source}: has no 'faces' or 'f' array")
            faces = npz[key]
    faces = np.asarray(faces, dtype=np.int64)
    if faces.ndim != 2 or faces.shape[1] != 3 or faces.min() < 0 or faces.max() >= vertex_count:
        raise UserError(f"{source}: faces {faces.shape} do not fit a mesh of {vertex_count} vertices")
    return faces


def load_sequence(path: str | Path, faces_path: str | Path | None = None) -> Sequence:
    """Read a `_mesh.npy` [T, V, 3] or joints `.npy` [T, 22, 3]; returns Blender-axis geometry."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"--file {path}: not found")
    data = np.load(path, allow_pickle=False).astype(np.float64)
    if data.ndim != 3 or data.shape[-1] != 3 or len(data) == 0:
        raise UserError(f"{path}: expected [T, V, 3] mesh vertices or [T, 22, 3] joints, got {data.shape}")
    if not np.isfinite(data).all():
        raise UserError(f"{path}: contains NaN or inf values")
    if data.shape[1] == len(T2M_PARENTS):
        vertices, faces, kind = *stick_figure(data), "joints"
    else:
        vertices, faces, kind = data, _faces_for(path, Path(faces_path) if faces_path else None, data.shape[1]), "mesh"
    vertices = to_blender_axes(vertices)
    vertices[..., 2] -= vertices[..., 2].min()
    # Joints files and fit_smpl.py meshes are HumanML3D (T2M) motions.
    return Sequence(vertices, faces, kind, SKELETONS["t2m"].fps)


def _sphere(subdivisions: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Unit UV sphere: vertices [N, 3], outward faces [F, 3]."""
    lat = np.linspace(0, np.pi, subdivisions + 1)[1:-1]
    lon = np.linspace(0, 2 * np.pi, 2 * subdivisions, endpoint=False)
    ring = np.stack([np.sin(lat)[:, None] * np.cos(lon), np.sin(lat)[:, None] * np.sin(lon),
                     np.cos(lat)[:, None] * np.ones_like(lon)], -1).reshape(-1, 3)
    verts = np.concatenate([[[0, 0, 1]], ring, [[0, 0, -1]]])
    n, rings = len(lon), len(lat)
    k = np.arange(n)
    faces = [np.stack([np.zeros(n, int), 1 + k, 1 + (k + 1) % n], -1)]
    for r in range(rings - 1):
        a, b = 1 + r * n + k, 1 + r * n + (k + 1) % n
        faces += [np.stack([a, a + n, b + n], -1), np.stack([a, b + n, b], -1)]
    last = len(verts) - 1
    faces.append(np.stack([np.full(n, last), 1 + (rings - 1) * n + (k + 1) % n, 1 + (rings - 1) * n + k], -1))
    return verts, np.concatenate(faces)


def _cylinders(starts: np.ndarray, ends: np.ndarray, radius: float, sides: int = 10) -> np.ndarray:
    """Side walls of open cylinders, vertices [T, B, 2 * sides, 3] (start ring then end ring)."""
    axis = ends - starts
    axis = axis / np.maximum(np.linalg.norm(axis, axis=-1, keepdims=True), 1e-9)
    helper = np.where(np.abs(axis[..., 2:3]) < 0.9, [0.0, 0.0, 1.0], [1.0, 0.0, 0.0])
    u = np.cross(axis, helper)
    u /= np.linalg.norm(u, axis=-1, keepdims=True)
    v = np.cross(axis, u)
    angle = np.linspace(0, 2 * np.pi, sides, endpoint=False)
    ring = radius * (np.cos(angle)[:, None] * u[..., None, :] + np.sin(angle)[:, None] * v[..., None, :])
    return np.concatenate([starts[..., None, :] + ring, ends[..., None, :] + ring], -2)


def stick_figure(joints: np.ndarray, sides: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Joints [T, 22, 3] -> one mesh per frame: spheres at joints, cylinders along bones.

    Returns vertices [T, V, 3] (same topology every frame) and faces [F, 3].
    """
    frames, count = joints.shape[:2]
    sphere_v, sphere_f = _sphere()
    sphere_verts = joints[:, :, None, :] + JOINT_RADIUS * sphere_v                   # [T, J, S, 3]
    children = np.arange(1, count)
    parents = np.array(T2M_PARENTS[1:count])
    tube_verts = _cylinders(joints[:, parents], joints[:, children], BONE_RADIUS, sides)   # [T, B, 2s, 3]
    k = np.arange(sides)
    tube_f = np.concatenate([np.stack([k, (k + 1) % sides, sides + (k + 1) % sides], -1),
                             np.stack([k, sides + (k + 1) % sides, sides + k], -1)])
    faces = [sphere_f + j * len(sphere_v) for j in range(count)]
    base = count * len(sphere_v)
    faces += [tube_f + base + b * 2 * sides for b in range(len(children))]
    vertices = np.concatenate([sphere_verts.reshape(frames, -1, 3), tube_verts.reshape(frames, -1, 3)], 1)
    return vertices, np.concatenate(faces)


@dataclass
class CameraTrack:
    targets: np.ndarray       # [T, 3] point the camera looks at
    direction: np.ndarray     # [3] unit vector from the target towards the camera
    distance: float           # metres from the target


# The original's view direction (docs/original_code.md §10.3: camera at (7.36, -6.93, 5.6) relative to the body):
# in front of the body, to its left, and above it.
VIEW_DIRECTION = np.array([7.36, -6.93, 5.6]) / np.linalg.norm([7.36, -6.93, 5.6])


def field_of_view(resolution: tuple[int, int], lens_mm: float, sensor_mm: float = 36.0) -> float:
    """The narrower view angle (radians) of a camera whose sensor spans the image's long side."""
    long_side = 2 * math.atan(sensor_mm / 2 / lens_mm)
    return 2 * math.atan(math.tan(long_side / 2) * min(resolution) / max(resolution))


def default_output(file: Path, mode: str) -> Path:
    """`X_mesh.npy` / `X.npy` -> `X_blender.mp4`, `X_sequence.png` or `X_frame.png` beside it."""
    stem = file.name.removesuffix(".npy").removesuffix("_mesh")
    return file.with_name(stem + {"video": "_blender.mp4", "sequence": "_sequence.png", "frame": "_frame.png"}[mode])


def camera_track(vertices: np.ndarray, fov: float, follow: bool = True, smoothing: int = 15) -> CameraTrack:
    """Aim at the body's (smoothed) centre each frame; stand back so its bounding sphere fits `fov`.

    With follow=False one fixed view frames every frame at once (the 'sequence' mode).
    """
    low, high = vertices.min(1), vertices.max(1)                          # [T, 3]
    centres = (low + high) / 2
    if follow:
        kernel = np.ones(min(smoothing, len(centres)))
        padded = np.pad(centres, ((len(kernel) // 2, len(kernel) - 1 - len(kernel) // 2), (0, 0)), mode="edge")
        targets = np.stack([np.convolve(padded[:, i], kernel / len(kernel), mode="valid") for i in range(3)], -1)
        radius = np.max(np.linalg.norm(vertices - targets[:, None], axis=-1))
    else:
        centre = (low.min(0) + high.max(0)) / 2
        targets = np.broadcast_to(centre, centres.shape).copy()
        radius = np.max(np.linalg.norm(vertices - centre, axis=-1))
    distance = 1.05 * radius / math.sin(fov / 2)
    return CameraTrack(targets, VIEW_DIRECTION, float(distance))
