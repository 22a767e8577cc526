"""`DATASETS`: the named datasets, and `build_dataset(split, **data_section)` (config stops here).

    humanml  HumanML3D folder (t2m skeleton, 263-d 3D / 134-d 2D)
    kit      KIT-ML folder in the same layout (251-d / 128-d)
    ucf      in-the-wild 2D-only clips (train split only)
    multi    HumanML3D + in-the-wild 2D mixed by ucf_ratio (train); HumanML3D for val/test

`build_dataset` takes the keys of the config's `data:` section as keyword arguments, plus `seed`,
`max_frames` (the model's frame count), `kind` ("train" / "eval"; default: train items for the
train split, evaluation items otherwise) and `progress`. Use `worker_init_fn` in every DataLoader.
"""

from __future__ import annotations

from crossdiff.data.base import worker_init_fn
from crossdiff.data.humanml3d import HumanML3DDataset
from crossdiff.data.inthewild import InTheWildDataset
from crossdiff.data.mixture import MixtureDataset
from crossdiff.errors import UserError

__all__ = ["DATASETS", "build_dataset", "worker_init_fn"]


def _folder(skeleton: str):
    def build(split, *, data_root, meta_dir, glove_dir, min_motion_len, max_motion_len, normalize_2d,
              motion_ratio, cut_2d, joint_mask_ratio, reference_mask_indices, seed, max_frames, kind, progress,
              **_unused):
        return HumanML3DDataset(data_root, meta_dir, split, kind, skeleton, glove_dir, max_frames, min_motion_len,
                                max_motion_len, normalize_2d, motion_ratio, cut_2d, joint_mask_ratio,
                                reference_mask_indices, seed, progress)
    return build


def _inthewild(split, *, ucf_root, meta_dir, ucf_keys, min_motion_len, normalize_2d, seed, max_frames, kind,
               progress, **_unused):
    if split != "train" or kind == "eval":
        raise UserError(f"the in-the-wild dataset (data.dataset=ucf) has train items only, not {split}/{kind}: "
                        f"evaluate on a HumanML3D folder (data.dataset=humanml)")
    return InTheWildDataset(ucf_root, meta_dir, ucf_keys or (), "t2m", max_frames, min_motion_len, normalize_2d,
                            seed, progress)


def _multi(split, **kwargs):
    motion3d = _folder("t2m")(split, **kwargs)
    if split != "train" or kwargs["kind"] == "eval":
        return motion3d
    return MixtureDataset(motion3d, _inthewild(split, **kwargs), kwargs["ucf_ratio"], kwargs["seed"])


DATASETS = {"humanml": _folder("t2m"), "kit": _folder("kit"), "ucf": _inthewild, "multi": _multi}
# The keys of the config's data: section besides `dataset` (each builder reads the ones it needs).
DATA_KEYS = {"data_root", "meta_dir", "glove_dir", "min_motion_len", "max_motion_len", "normalize_2d",
             "motion_ratio", "cut_2d", "joint_mask_ratio", "reference_mask_indices", "ucf_root", "ucf_keys",
             "ucf_ratio"}


def build_dataset(split: str, dataset: str = "humanml", seed: int = 0, max_frames: int = 196,
                  kind: str | None = None, progress: bool = True, **data_section):
    """The `dataset` named in the config, for `split` (train | val | test)."""
    if dataset not in DATASETS:
        raise UserError(f"unknown data.dataset {dataset!r}; choose one of {sorted(DATASETS)}")
    if set(data_section) != DATA_KEYS:
        unknown, missing = sorted(set(data_section) - DATA_KEYS), sorted(DATA_KEYS - set(data_section))
        raise TypeError(f"build_dataset needs exactly the data keys {sorted(DATA_KEYS)}; "
                        f"unknown {unknown}, missing {missing}")
    return DATASETS[dataset](split, seed=seed, max_frames=max_frames, kind=kind, progress=progress,
                             **data_section)
