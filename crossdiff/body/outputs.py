"""Files a fit writes next to its input `FILE.npy`.

- `FILE_mesh.npy`: float32 `[T, V, 3]` posed vertices (the original's output, read by the renderer);
- `FILE_smpl.npz`: `poses [T, 72]` axis-angle, `betas [B]`, `trans [T, 3]`, `faces [F, 3]`,
  `joints [T, 24, 3]`, `joint_error [T, 22]` (metres), `body_model` (name) and `body_model_path`;
- optionally `FILE_obj/frame_XXXX.obj`, one Wavefront mesh per frame.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm

from crossdiff.body.body_model import BodyModel
from crossdiff.body.fitting import FitResult
from crossdiff.io import save_npy, save_npz, save_text


def output_stem(joints_file: str | Path) -> Path:
    """`dir/name.npy` -> `dir/name` (outputs append `_mesh.npy`, `_smpl.npz`, `_obj/`)."""
    path = Path(joints_file)
    return path.with_suffix("") if path.suffix == ".npy" else path


def obj_text(vertices: np.ndarray, faces: np.ndarray) -> str:
    """Wavefront OBJ of vertices [V, 3] and faces [F, 3] (0-based in, 1-based out)."""
    lines = [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in vertices]
    lines += [f"f {a} {b} {c}" for a, b, c in faces + 1]
    return "\n".join(lines) + "\n"


def save_fit(stem: str | Path, fit: FitResult, vertices: np.ndarray, body: BodyModel,
             write_obj: bool = False, progress: bool = True) -> list[Path]:
    """Write the fit's files (atomically); returns their paths."""
    stem = Path(stem)
    mesh_path, params_path = Path(f"{stem}_mesh.npy"), Path(f"{stem}_smpl.npz")
    save_npy(mesh_path, vertices.astype(np.float32))
    save_npz(params_path, poses=fit.poses.astype(np.float32), betas=fit.betas.astype(np.float32),
             trans=fit.trans.astype(np.float32), faces=body.faces.astype(np.int32),
             joints=fit.joints.astype(np.float32), joint_error=fit.joint_error.astype(np.float32),
             body_model=np.asarray(body.name), body_model_path=np.asarray(str(body.path)))
    written = [mesh_path, params_path]
    if write_obj:
        folder = Path(f"{stem}_obj")
        for index in tqdm(range(len(vertices)), desc="writing .obj", disable=not progress, leave=False):
            save_text(folder / f"frame_{index:04d}.obj", obj_text(vertices[index], body.faces))
        written.append(folder)
    return written
