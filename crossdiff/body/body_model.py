"""The SMPL body through smplx, read from an official `.pkl`, a converted `.npz` or the mannequin.

File formats (both hold the same arrays; `prepare/convert_smpl.py` turns a `.pkl` into a `.npz`):
- official `SMPL_NEUTRAL.pkl`: a Python-2 pickle with chumpy arrays and a scipy.sparse
  `J_regressor`. It is read with a restricted unpickler that allows only those classes, never with
  plain `pickle.load` (smplx would do that when given only a path).
- `.npz`: `v_template [V,3]`, `shapedirs [V,3,B]`, `posedirs [V,3,207]`, `J_regressor [24,V]`,
  `kintree_table [2,24]`, `weights [V,24]`, `f [F,3]`, optional `model_name` (a 0-d string).

`find_body_model` prefers a licensed SMPL file and falls back to the built-in mannequin
(`crossdiff.body.mannequin`), building it under the body-model folder on first use.
"""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path

import numpy as np
import torch

from crossdiff.errors import UserError
from crossdiff.io import NUMPY_CLASSES, restricted_pickle_load

REQUIRED_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "kintree_table", "weights", "f")
# What an official SMPL pickle needs beyond numpy: chumpy arrays, a sparse regressor, and the
# Python-2 object-reconstruction helpers (names as written by Python 2 and as mapped by Python 3).
SMPL_PICKLE_CLASSES = NUMPY_CLASSES | {
    ("chumpy.ch", "Ch"),
    ("scipy.sparse.csc", "csc_matrix"), ("scipy.sparse._csc", "csc_matrix"),
    ("scipy.sparse.csr", "csr_matrix"), ("scipy.sparse._csr", "csr_matrix"),
    ("copy_reg", "_reconstructor"), ("copyreg", "_reconstructor"),
    ("__builtin__", "object"), ("builtins", "object"),
    ("__builtin__", "set"), ("builtins", "set"),
    ("_codecs", "encode"),
}
SMPL_FILE_NAMES = ("SMPL_NEUTRAL.npz", "SMPL_NEUTRAL.pkl")
MANNEQUIN_FILE = "mannequin.npz"
GMM_FILE = "gmm_08.pkl"
SMPL_VERTEX_COUNT = 6890


def _to_numpy(value) -> np.ndarray:
    """chumpy array, scipy.sparse matrix or ndarray -> dense ndarray."""
    if hasattr(value, "toarray"):
        return value.toarray()
    if type(value).__module__.startswith("chumpy"):
        return np.asarray(value.r)
    return np.asarray(value)


def read_model_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """Read an SMPL-layout model file (`.pkl` or `.npz`) into dense numpy arrays (the keys above)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"body model file not found: {path}")
    if path.suffix == ".pkl":
        raw = restricted_pickle_load(path, SMPL_PICKLE_CLASSES)
        if not isinstance(raw, dict):
            raise UserError(f"{path}: expected a dict of SMPL arrays, found {type(raw).__name__}")
    elif path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as npz:
            raw = dict(npz)
    else:
        raise UserError(f"{path}: a body model must be a .pkl (official SMPL) or .npz file")
    missing = [k for k in REQUIRED_KEYS if k not in raw]
    if missing:
        raise UserError(f"{path}: not an SMPL-layout model, missing {missing}")
    arrays = {k: _to_numpy(raw[k]) for k in REQUIRED_KEYS}
    arrays["model_name"] = np.asarray(str(raw["model_name"]) if "model_name" in raw else path.stem)
    _check_layout(arrays, path)
    return arrays


def _check_layout(arrays: dict[str, np.ndarray], path: Path) -> None:
    verts = arrays["v_template"].shape[0]
    expected = {
        "v_template": (verts, 3), "J_regressor": (24, verts), "kintree_table": (2, 24),
        "weights": (verts, 24),
    }
    for key, shape in expected.items():
        if arrays[key].shape != shape:
            raise UserError(f"{path}: {key} has shape {arrays[key].shape}, expected {shape}")
    if arrays["shapedirs"].shape[:2] != (verts, 3) or arrays["posedirs"].shape != (verts, 3, 207):
        raise UserError(f"{path}: shapedirs/posedirs do not match {verts} vertices")
    faces = arrays["f"]
    if faces.ndim != 2 or faces.shape[1] != 3 or faces.min() < 0 or faces.max() >= verts:
        raise UserError(f"{path}: faces f must be [F, 3] indices below {verts}")


def _vertex_ids(num_vertices: int) -> dict[str, int] | None:
    """smplx picks 5 face keypoints by vertex id; for a non-SMPL mesh point them all at vertex 0.

    Only joints 0..23 are used here, so these extra keypoints are never read.
    """
    if num_vertices == SMPL_VERTEX_COUNT:
        return None
    return dict.fromkeys(("nose", "reye", "leye", "rear", "lear"), 0)


class BodyModel:
    """An SMPL-layout body: rest joints as a linear function of betas, and posed vertices.

    `name` is the model's name (e.g. "SMPL_NEUTRAL" or "mannequin"), `faces` [F, 3] int64.
    """

    def __init__(self, arrays: dict[str, np.ndarray], path: Path, device: str = "cpu"):
        import smplx
        from smplx.utils import Struct

        self.path = Path(path)
        self.name = str(arrays["model_name"])
        self.device = torch.device(device)
        self.faces = arrays["f"].astype(np.int64)
        self.num_betas = min(10, arrays["shapedirs"].shape[-1])
        # smplx warns on stdout that SMPL has only 10 betas; that is expected here.
        with contextlib.redirect_stdout(io.StringIO()):
            self.smpl = smplx.SMPL(
                model_path=str(path), data_struct=Struct(**arrays), num_betas=self.num_betas,
                create_betas=False, create_global_orient=False, create_body_pose=False,
                create_transl=False, vertex_ids=_vertex_ids(len(arrays["v_template"])),
                use_hands=False, use_feet_keypoints=False,
            ).to(self.device)
        regressor = arrays["J_regressor"].astype(np.float64)
        shapedirs = arrays["shapedirs"][..., : self.num_betas].astype(np.float64)
        self.rest_joints_template = regressor @ arrays["v_template"].astype(np.float64)     # [24, 3]
        self.rest_joints_dirs = np.einsum("jv,vcb->jcb", regressor, shapedirs)             # [24, 3, B]

    @property
    def is_mannequin(self) -> bool:
        return self.name == "mannequin"

    @property
    def num_vertices(self) -> int:
        return int(self.smpl.v_template.shape[0])

    def rest_joints(self, betas: np.ndarray) -> np.ndarray:
        """Rest-pose joints [24, 3] for betas [B] (numpy, float64)."""
        return self.rest_joints_template + self.rest_joints_dirs @ np.asarray(betas, dtype=np.float64)

    def rest_joints_torch(self, betas: torch.Tensor) -> torch.Tensor:
        """Differentiable rest-pose joints [24, 3] for betas [B]."""
        template = torch.as_tensor(self.rest_joints_template, dtype=betas.dtype, device=betas.device)
        dirs = torch.as_tensor(self.rest_joints_dirs, dtype=betas.dtype, device=betas.device)
        return template + dirs @ betas

    @torch.no_grad()
    def vertices(self, poses: np.ndarray, betas: np.ndarray, trans: np.ndarray, chunk: int = 64) -> np.ndarray:
        """Posed vertices [T, V, 3] float32 from poses [T, 72] axis-angle, betas [B], trans [T, 3]."""
        out = []
        for start in range(0, len(poses), chunk):
            pose = torch.as_tensor(poses[start:start + chunk], dtype=torch.float32, device=self.device)
            shift = torch.as_tensor(trans[start:start + chunk], dtype=torch.float32, device=self.device)
            shape = torch.as_tensor(betas, dtype=torch.float32, device=self.device).expand(len(pose), -1)
            result = self.smpl(betas=shape, global_orient=pose[:, :3], body_pose=pose[:, 3:], transl=shift)
            out.append(result.vertices.cpu().numpy())
        return np.concatenate(out).astype(np.float32)


def find_smpl_file(folder: str | Path) -> Path | None:
    """The first SMPL file in `folder/smpl/` or `folder/` (npz preferred), or None."""
    folder = Path(folder)
    for sub in (folder / "smpl", folder):
        for name in SMPL_FILE_NAMES:
            if (sub / name).is_file():
                return sub / name
    return None


def find_gmm_file(folder: str | Path) -> Path | None:
    """`gmm_08.pkl` (the SMPLify pose prior) in `folder/smpl/` or `folder/`, or None."""
    folder = Path(folder)
    return next((p for p in (folder / "smpl" / GMM_FILE, folder / GMM_FILE) if p.is_file()), None)


def find_body_model(path: str | Path | None = None, folder: str | Path = "data/body_models") -> Path:
    """An explicit `path`, else a licensed SMPL file in `folder`, else the mannequin (built if missing)."""
    if path is not None:
        if not Path(path).is_file():
            raise UserError(f"--body_model {path}: file not found (give an SMPL .pkl/.npz or omit it)")
        return Path(path)
    smpl_file = find_smpl_file(folder)
    if smpl_file is not None:
        return smpl_file
    from crossdiff.body.mannequin import ensure_mannequin

    return ensure_mannequin(Path(folder) / MANNEQUIN_FILE)


def load_body_model(path: str | Path | None = None, folder: str | Path = "data/body_models",
                    device: str = "cpu", logger: logging.Logger | None = None) -> BodyModel:
    """Resolve (see `find_body_model`) and load the body model; the log says which body is used."""
    resolved = find_body_model(path, folder)
    body = BodyModel(read_model_arrays(resolved), resolved, device)
    log = logger or logging.getLogger("crossdiff")
    if body.is_mannequin:
        log.info("body model: the built-in mannequin (%s); no SMPL file in %s/smpl (see data/README.md)",
                 resolved, folder)
    else:
        log.info("body model: %s (%s, %d vertices)", body.name, resolved, body.num_vertices)
    return body
