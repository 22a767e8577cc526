"""Captions -> motion: the sampling glue shared by generate.py, test.py and evaluation during training.

    sampler = load_sampler(cfg, device, log)            # model + diffusion + CLIP + statistics
    out = sampler.sample(["a person jumps"], path="3d") # {"motion": [B, 263, 1, T] normalised, ...}
    clips = sampler.to_joints(out["motion"], lengths)   # [(features [L, 263], joints [L, 22, 3]), ...]

Checkpoints (`resolve_model`, used by generate.py, test.py and the web demo): `checkpoint`, else
`test_checkpoint`, else the newest checkpoint of `<save_dir>/<NAME>`, else the shipped pretrained model
(`pretrained_dir`, weights/pretrained_synthetic: a small CrossDiff trained on the synthetic dataset).
The shipped weights are sha256-checked, and their model, text encoder and statistics replace the
config's; so do its sampling settings (the diffusion section) unless the command line sets them, since a
stage file's were chosen for its own model, and data keys left at their base.yaml defaults.

Paths (the original's: docs/original_code.md §8.1-§8.3):
    3d       3D→3D denoising (the standard sampler)
    2d       sample 2D, then lift it to 3D with one t = 0 call (the original generate.py's 2D path)
    mixture  2D→2D down to `change_idx`, map to 3D, continue 3D→3D (mixture sampling)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from omegaconf import DictConfig, OmegaConf

from crossdiff.config import command_line_keys, keep_command_line, load_config, section_kwargs
from crossdiff.data.normalization import Normalizer
from crossdiff.errors import UserError
from crossdiff.modes import module_mode
from crossdiff.motion.features3d import recover_from_ric
from crossdiff.skeleton import SKELETONS, Skeleton
from crossdiff.weights import build_model_from, resolve_checkpoint, verify_sha256

PATHS = ("3d", "2d", "mixture")
REPO = Path(__file__).resolve().parents[1]
MANIFEST = "manifest.json"          # in pretrained_dir: weights file, its sha256, config file
# Keys that take the shipped model's value unless the command line sets them (None: the whole section), and
# whether a stage file's value that differs from base.yaml's also keeps it (the data folders: yes).
SHIPPED_DEFAULTS = {"diffusion": (None, False), "data": (("data_root", "glove_dir"), True)}


@dataclass
class MotionSampler:
    """A network with its diffusion, text encoder and statistics, ready to sample."""

    model: torch.nn.Module
    diffusion: object            # crossdiff.diffusion.Diffusion
    encode_text: Callable        # list[str] -> [B, 512]
    normalizer: Normalizer
    njoints_m: int               # 263 / 251
    njoints_j: int               # 134 / 128
    frames: int                  # the model's frame count (196 for official weights)
    device: str = "cpu"
    checkpoint: str | None = None
    note: str | None = None      # set when the shipped pretrained model stands in for a missing checkpoint

    @property
    def skeleton(self) -> Skeleton:
        """The skeleton of the 3D features (t2m or kit): joint count, frame rate."""
        return skeleton_for_width(self.njoints_m)

    @property
    def joints_num(self) -> int:
        return self.skeleton.joints_num

    @torch.no_grad()  # not inference_mode: it would disable autocast's cache of bf16 weights (precision=bfloat16)
    def sample(self, captions: Sequence[str] | None = None, text_emb: torch.Tensor | None = None, *,
               path: str = "3d", scale: float | None = None, change_idx: int = 300,
               generator: torch.Generator | None = None, progress: bool = True,
               on_step: Callable[[int, int], None] | None = None) -> dict:
        """Sample one motion per caption (or per row of `text_emb`).

        on_step(step_index, total_steps) is called after every diffusion step (a UI's progress bar;
        an exception raised in it stops the sampling).

        Returns {"motion": [B, njoints_m, 1, T] normalised 3D features,
                 "motion2d": [B, njoints_j, 1, T] normalised 2D sample (path "2d") or None}.
        """
        if path not in PATHS:
            raise UserError(f"unknown sampling path {path!r}; choose one of {', '.join(PATHS)}")
        if text_emb is None:
            text_emb = self.encode_text(list(captions))
        text_emb = text_emb.to(self.device)
        B = text_emb.shape[0]
        shape_3d, shape_2d = (B, self.njoints_m, 1, self.frames), (B, self.njoints_j, 1, self.frames)
        options = dict(scale=scale, generator=generator, progress=progress, on_step=on_step)
        with module_mode(self.model, training=False):  # no dropout, no condition dropout while sampling
            if path == "3d":
                return {"motion": self.diffusion.sample(self.model, shape_3d, text_emb, head="m", **options),
                        "motion2d": None}
            if path == "2d":
                sample_2d, motion = self.diffusion.sample_2d_then_lift(self.model, shape_2d, text_emb, **options)
                return {"motion": motion, "motion2d": sample_2d}
            motion = self.diffusion.sample_mixture(self.model, shape_3d, shape_2d, text_emb, change_idx, **options)
            return {"motion": motion, "motion2d": None}

    def to_joints(self, motion: torch.Tensor, lengths: Sequence[int]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Normalised `[B, C, 1, T]` features -> per sample (raw features [L, C], joints [L, J, 3]) in the
        skeleton's units (metres for t2m, millimetres for kit)."""
        frames_first = motion[:, :, 0].permute(0, 2, 1).float().cpu().numpy()   # [B, T, C]
        raw = self.normalizer.inv_transform(frames_first)
        joints = recover_from_ric(raw, self.joints_num)                         # [B, T, J, 3]
        return [(raw[i, :n].astype(np.float32), joints[i, :n].astype(np.float32)) for i, n in enumerate(lengths)]

    def to_joints_2d(self, motion2d: torch.Tensor, lengths: Sequence[int]) -> list[np.ndarray]:
        """Normalised `[B, C2, 1, T]` 2D features -> per sample 2D joints [L, J, 2] (the projected plane)."""
        from crossdiff.motion.features2d import recover_2d

        frames_first = motion2d[:, :, 0].permute(0, 2, 1).float().cpu().numpy()
        raw = self.normalizer.inv_transform2d(frames_first)
        return [np.asarray(recover_2d(raw[i, :n], self.joints_num), dtype=np.float32) for i, n in enumerate(lengths)]


def skeleton_for_width(njoints_m: int) -> Skeleton:
    """The skeleton whose 3D features are `njoints_m` wide (263 -> t2m, 251 -> kit)."""
    for skeleton in SKELETONS.values():
        if skeleton.feature_dim == njoints_m:
            return skeleton
    raise UserError(f"model.njoints_m={njoints_m} matches no skeleton; use 263 (HumanML3D) or 251 (KIT-ML)")


@dataclass(frozen=True)
class ResolvedModel:
    cfg: DictConfig              # the config to build and sample the model with
    checkpoint: Path
    shipped: bool                # the shipped pretrained model (sha256-checked)
    note: str | None = None      # what to tell the user about the choice


def pretrained_folder(cfg) -> Path | None:
    """`pretrained_dir` (relative paths are relative to the repository), or None when it is off or absent."""
    if not cfg.pretrained_dir:
        return None
    folder = Path(cfg.pretrained_dir)
    folder = folder if folder.is_absolute() else REPO / folder
    return folder if (folder / MANIFEST).is_file() else None


def _own_checkpoint(cfg, checkpoint) -> Path | None:
    chosen = checkpoint or cfg.test_checkpoint
    if chosen:
        try:
            return resolve_checkpoint(chosen)
        except UserError as e:
            raise UserError(f"{e}; set test_checkpoint=PATH (a .pt file, ours or official) or train this run "
                            f"first (python train.py --cfg ... NAME={cfg.NAME})") from None
    try:
        return resolve_checkpoint(Path(cfg.save_dir) / cfg.NAME)
    except UserError:
        return None


def shipped_config(cfg, folder: Path, manifest: dict) -> DictConfig:
    """`cfg` with the shipped model's model, text encoder and statistics, and its values of SHIPPED_DEFAULTS
    that the command line does not set (even to the default value); `test.evaluator_dir` null becomes the
    shipped data folder."""
    shipped, base = OmegaConf.load(folder / manifest["config"]), load_config()
    changes = {"test_checkpoint": str(folder / manifest["weights"]), "model": shipped.model,
               "text_encoder": {k: v for k, v in shipped.text_encoder.items() if k != "cache_dir"}}
    chosen = command_line_keys(cfg)
    for section, (keys, stage_files_win) in SHIPPED_DEFAULTS.items():
        # a key newer than the shipped config takes base.yaml's value
        changes[section] = {k: shipped[section].get(k, base[section][k]) for k in keys or base[section]
                            if f"{section}.{k}" not in chosen
                            and not (stage_files_win and cfg[section][k] != base[section][k])}
    changes["data"]["meta_dir"] = str(folder)
    changes["test"] = {"evaluator_dir": cfg.test.evaluator_dir or changes["data"].get("data_root", cfg.data.data_root)}
    merged = OmegaConf.merge(cfg, changes)
    OmegaConf.set_readonly(merged, True)
    return keep_command_line(cfg, merged)     # resolving the result again must not undo the user's settings


def resolve_model(cfg, checkpoint: str | Path | None = None) -> ResolvedModel:
    """Which weights to load and the config to load them with (see the module docstring for the order)."""
    folder = pretrained_folder(cfg)
    path = _own_checkpoint(cfg, checkpoint)
    manifest = json.loads((folder / MANIFEST).read_text()) if folder else None
    shipped_path = folder / manifest["weights"] if folder else None
    if path is None and shipped_path is None:
        raise UserError(f"no checkpoint found in {Path(cfg.save_dir) / cfg.NAME} and no shipped model in "
                        f"pretrained_dir={cfg.pretrained_dir}; set test_checkpoint=PATH (a .pt file, ours or "
                        f"official) or train this run first (python train.py --cfg ... NAME={cfg.NAME})")
    if path is not None and (shipped_path is None or path.resolve() != shipped_path.resolve()):
        return ResolvedModel(cfg, path, shipped=False)
    verify_sha256(shipped_path, manifest["sha256"])
    note = None if path is not None else (
        f"no checkpoint given and {Path(cfg.save_dir) / cfg.NAME} has none: using the shipped pretrained model "
        f"{shipped_path} (trained on the synthetic dataset; see {folder / 'README.md'})")
    return ResolvedModel(shipped_config(cfg, folder, manifest), shipped_path, shipped=True, note=note)


def checkpoint_for(cfg, checkpoint: str | Path | None = None) -> Path:
    """The checkpoint `resolve_model` picks (the shipped model's when nothing else exists)."""
    return resolve_model(cfg, checkpoint).checkpoint


def build_sampler(cfg, model: torch.nn.Module, device: str, log=None, encode_text: Callable | None = None,
                  checkpoint: str | None = None, note: str | None = None) -> MotionSampler:
    """A sampler around an existing `model` (e.g. the one being trained), built from the config."""
    from crossdiff.diffusion import build_diffusion
    from crossdiff.text_encoder import build_text_encoder

    m = cfg.model
    if encode_text is None:
        encode_text = build_text_encoder(device=device, logger=log, **section_kwargs(cfg.text_encoder))
    normalizer = Normalizer.load(cfg.data.meta_dir, m.njoints_m, m.njoints_j)
    skeleton_for_width(m.njoints_m)  # validates the feature width before anything heavy is built
    return MotionSampler(model=model, diffusion=build_diffusion(**section_kwargs(cfg.diffusion)),
                         encode_text=encode_text, normalizer=normalizer, njoints_m=m.njoints_m,
                         njoints_j=m.njoints_j, frames=m.max_frames, device=device, checkpoint=checkpoint, note=note)


def load_sampler(cfg, device: str, log=None, checkpoint: str | Path | None = None) -> MotionSampler:
    """Load the network `resolve_model` picks (EMA weights when present) and wrap it for sampling.

    With the shipped model the sampler's config is the shipped one; callers that read `cfg` themselves
    (frames, guidance) should pass `resolve_model(cfg).cfg`."""
    resolved = resolve_model(cfg, checkpoint)
    if resolved.note and log is not None:
        log.info(resolved.note)
    cfg = resolved.cfg
    model = build_model_from(section_kwargs(cfg.model), resolved.checkpoint, prefer_ema=True, log=log).to(device).eval()
    return build_sampler(cfg, model, device, log, checkpoint=str(resolved.checkpoint), note=resolved.note)
