"""Feature statistics read from `meta_dir` and the normalisation helpers (docs/original_code.md §2.8).

Files (all float, one value per feature column):
    Mean.npy, Std.npy                        [263] (KIT: [251])  normalise the 3D features
    Mean_complicate2d.npy, Std_complicate2d.npy  [134] (KIT: [128])  normalise the 2D features
    mean_eval.npy, std_eval.npy              [263] optional: the T2M evaluator's own statistics

The reference reads the 3D and HumanML3D-2D statistics from `./data/t2m` but the in-the-wild 2D
statistics from its `data_root` (docs/original_code.md §13.10); here every dataset reads them from one `meta_dir`.
All helpers act on the LAST axis: pass features as `[..., C]` (a model tensor `[B, C, 1, T]` must be
permuted first). They accept numpy arrays or torch tensors and return the same kind.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crossdiff.errors import UserError

log = logging.getLogger(__name__)

HOW_TO_MAKE = {
    "Mean.npy": "it comes with the HumanML3D/KIT folder or t2m.zip (bash prepare/download_t2m_evaluators.sh)",
    "Mean_complicate2d.npy": "python prepare/project.py --data_root DATA_ROOT writes it into DATA_ROOT "
                             "(or take it from t2m.zip: bash prepare/download_t2m_evaluators.sh)",
}
HOW_TO_MAKE["Std.npy"] = HOW_TO_MAKE["Mean.npy"]
HOW_TO_MAKE["Std_complicate2d.npy"] = HOW_TO_MAKE["Mean_complicate2d.npy"]


def load_statistic(meta_dir: str | Path, name: str, width: int, positive: bool = False) -> np.ndarray:
    """`meta_dir/name` as float32 `[width]`; a missing or malformed file is a UserError saying how to fix it."""
    path = Path(meta_dir) / name
    if not path.is_file():
        raise UserError(f"statistics file {path} not found (data.meta_dir={meta_dir}): "
                        f"{HOW_TO_MAKE.get(name, 'copy it into data.meta_dir')}, or set data.meta_dir "
                        f"to the folder that holds it")
    try:
        values = np.load(path, allow_pickle=False).astype(np.float32).reshape(-1)
    except (ValueError, OSError) as e:
        raise UserError(f"statistics file {path} is not a readable .npy array: {e}") from e
    if values.shape != (width,):
        raise UserError(f"statistics file {path} has {values.size} values, expected {width}; "
                        f"it belongs to another dataset or feature layout")
    if not np.all(np.isfinite(values)) or (positive and np.any(values <= 0)):
        raise UserError(f"statistics file {path} holds non-finite{' or non-positive' if positive else ''} "
                        f"values; recompute it")
    return values


def _like(stat: np.ndarray, x):
    """`stat` as the same kind (numpy / torch, dtype, device) as `x`."""
    if isinstance(x, np.ndarray):
        return stat.astype(x.dtype, copy=False)
    import torch

    return torch.as_tensor(stat, dtype=x.dtype, device=x.device)


@dataclass(frozen=True)
class Normalizer:
    """The dataset's statistics and the transforms between raw and normalised features.

    `mean_eval`/`std_eval` are the T2M evaluator's statistics. When `meta_dir` has none (e.g. a
    synthetic dataset with an evaluator trained on its own Mean/Std), `renorm4t2m` falls back to
    the training statistics, which makes it the identity on normalised input.
    """

    mean: np.ndarray        # [263]
    std: np.ndarray         # [263]
    mean2d: np.ndarray      # [134]
    std2d: np.ndarray       # [134]
    mean_eval: np.ndarray   # [263]
    std_eval: np.ndarray    # [263]

    @classmethod
    def load(cls, meta_dir: str | Path, feature_dim: int = 263, feature_dim_2d: int = 134) -> "Normalizer":
        mean = load_statistic(meta_dir, "Mean.npy", feature_dim)
        std = load_statistic(meta_dir, "Std.npy", feature_dim, positive=True)
        mean2d = load_statistic(meta_dir, "Mean_complicate2d.npy", feature_dim_2d)
        std2d = load_statistic(meta_dir, "Std_complicate2d.npy", feature_dim_2d, positive=True)
        if (Path(meta_dir) / "mean_eval.npy").is_file():
            mean_eval = load_statistic(meta_dir, "mean_eval.npy", feature_dim)
            std_eval = load_statistic(meta_dir, "std_eval.npy", feature_dim, positive=True)
        else:
            log.info(f"no mean_eval.npy in {meta_dir}: the evaluator normalisation falls back to Mean/Std")
            mean_eval, std_eval = mean, std
        return cls(mean, std, mean2d, std2d, mean_eval, std_eval)

    def transform(self, x):
        """Raw 3D features `[..., 263]` -> normalised."""
        return (x - _like(self.mean, x)) / _like(self.std, x)

    def inv_transform(self, x):
        """Normalised 3D features `[..., 263]` -> raw."""
        return x * _like(self.std, x) + _like(self.mean, x)

    def transform2d(self, x):
        """Raw 2D features `[..., 134]` -> normalised."""
        return (x - _like(self.mean2d, x)) / _like(self.std2d, x)

    def inv_transform2d(self, x):
        """Normalised 2D features `[..., 134]` -> raw."""
        return x * _like(self.std2d, x) + _like(self.mean2d, x)

    def renorm4t2m(self, x):
        """Normalised 3D features `[..., 263]` -> the evaluator's normalisation (mean_eval/std_eval)."""
        return (self.inv_transform(x) - _like(self.mean_eval, x)) / _like(self.std_eval, x)
