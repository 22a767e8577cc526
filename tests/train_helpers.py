"""A tiny training config on a tiny synthetic folder, and a fixed-batch loss to compare weights by."""

from __future__ import annotations

from pathlib import Path

import torch

from crossdiff.config import load_config, section_kwargs


def tiny_overrides(tmp_path: Path, data_root: Path, name: str = "tiny") -> list[str]:
    return [
        f"save_dir={tmp_path / 'save'}", f"NAME={name}", "device=cpu", "seed=7",
        "model.latent_dim=32", "model.ff_size=64", "model.layers=1", "model.layers2=2", "model.num_heads=2",
        "model.max_frames=48",
        "text_encoder.clip_weights=random", f"text_encoder.cache_dir={tmp_path / 'clip_cache'}",
        f"data.data_root={data_root}", f"data.meta_dir={data_root}", f"data.glove_dir={data_root / 'glove'}",
        "train.batch_size=4", "train.max_steps=6", "train.num_workers=0", "train.log_interval=2",
        "train.save_interval=3", "train.lr=1e-3",
        "diffusion.sampler=ddim", "diffusion.sampling_steps=2",
    ]


def tiny_config(tmp_path: Path, data_root: Path, *extra: str, stage: str | None = None, name: str = "tiny"):
    return load_config(stage, tiny_overrides(tmp_path, data_root, name) + list(extra))


def random_tiny_checkpoint(tmp_path_factory, data_root: Path) -> Path:
    """An official-layout bare state_dict of a random tiny CrossDiff (seed 0) in a fresh temporary folder."""
    from crossdiff.io import torch_save
    from crossdiff.model import build_model

    cfg = tiny_config(tmp_path_factory.mktemp("ckpt"), data_root)
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "random.pt"
    torch_save(path, build_model(**section_kwargs(cfg.model)).state_dict())
    return path


def fixed_batch_loss(cfg, weights, batch_items: int = 8, teacher=None) -> float:
    """The mode's loss of `weights` on the first training items, with fixed t and noise, in eval mode.

    finetune_ucf needs the frozen `teacher` weights that give the pseudo 3D labels.
    """
    import logging
    import random

    import numpy as np

    from crossdiff.diffusion import build_diffusion
    from crossdiff.text_encoder import build_text_encoder
    from crossdiff.training.losses import Objective
    from crossdiff.training.setup import PseudoLabeler, build_training_data
    from crossdiff.weights import build_model_from

    dataset, collate, _ = build_training_data(cfg, logging.getLogger("test"))
    random.seed(0)  # the items draw a view, a caption and a crop
    np.random.seed(0)
    generator = torch.Generator().manual_seed(0)
    batch = collate([dataset[i] for i in range(batch_items)])
    model = build_model_from(section_kwargs(cfg.model), weights).eval()
    diffusion = build_diffusion(**section_kwargs(cfg.diffusion))
    pseudo = PseudoLabeler(build_model_from(section_kwargs(cfg.model), teacher)) if teacher else None
    objective = Objective(model, diffusion, cfg.train.mode, cfg.train.w_m2j, cfg.train.w_j2m, pseudo)
    encode = build_text_encoder(device="cpu", **section_kwargs(cfg.text_encoder))
    t = torch.linspace(0, diffusion.num_timesteps - 1, batch_items).long()
    noise3d = torch.randn(batch["motion"].shape, generator=generator)
    noise2d = torch.randn(batch["joint"].shape, generator=generator)
    with torch.no_grad():
        loss, _ = objective(batch, t, encode(batch["text"]), noise3d, noise2d)
    return float(loss)
