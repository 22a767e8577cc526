"""Builders that turn config sections into the training objects (config stops here).

`train.py` reads like a table of contents because the translation from keys to objects lives
in these few functions: data, objective (model + diffusion + text encoder + teacher), trainer.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch

from crossdiff.config import section_kwargs
from crossdiff.errors import UserError
from crossdiff.training.losses import Objective
from crossdiff.training.trainer import LR_SCHEDULES, TrainSettings, Trainer
from crossdiff.weights import build_model_from, find_latest


def build_training_data(cfg, log):
    """`(dataset, collate_fn, worker_init_fn)` for the training split of the configured dataset."""
    from crossdiff.data.collate import train_collate
    from crossdiff.data.registry import build_dataset, worker_init_fn

    data_kwargs = section_kwargs(cfg.data)
    dataset = build_dataset("train", seed=cfg.seed, max_frames=cfg.model.max_frames, **data_kwargs)
    log.info(f"training set: {len(dataset)} samples from {data_kwargs['data_root']} ({data_kwargs['dataset']})")
    return dataset, train_collate, worker_init_fn


def build_text_encoder_from(cfg_text, device: str, log=None):
    from crossdiff.text_encoder import build_text_encoder

    return build_text_encoder(device=device, logger=log, **section_kwargs(cfg_text))


def build_diffusion_from(cfg_diffusion):
    from crossdiff.diffusion import build_diffusion

    return build_diffusion(**section_kwargs(cfg_diffusion))


def build_objective(cfg, rt, log):
    """`(objective, encode_text)`: the mode's loss around the model, and the caption encoder."""
    resume_own = cfg.train.resume == "auto" and find_latest(Path(cfg.save_dir) / cfg.NAME / "checkpoints")
    start_weights = None if resume_own else cfg.train.resume_checkpoint
    model = build_model_from(section_kwargs(cfg.model), start_weights, log=log).to(rt.device)
    log.info(f"model {cfg.model.model_type}: {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters")
    pseudo_label = None
    if cfg.train.mode == "finetune_ucf":
        teacher_weights = cfg.train.teacher_checkpoint or cfg.train.resume_checkpoint
        if teacher_weights:
            teacher = build_model_from(section_kwargs(cfg.model), teacher_weights, log=log)
        else:
            teacher = copy.deepcopy(model)
        pseudo_label = PseudoLabeler(teacher.to(rt.device))
    objective = Objective(model, build_diffusion_from(cfg.diffusion), cfg.train.mode,
                          cfg.train.w_m2j, cfg.train.w_j2m, pseudo_label,
                          w_velocity=cfg.train.w_velocity)
    return objective, build_text_encoder_from(cfg.text_encoder, rt.device, log)


def training_captions(dataset) -> list[str]:
    """Every caption a dataset can draw (`all_captions()`), or none for a dataset without that method."""
    return dataset.all_captions() if hasattr(dataset, "all_captions") else []


def warm_text_cache(encode_text, dataset, log, chunk: int = 256, progress: bool = True) -> None:
    """Encode every caption of `dataset` once, up front, so no training step waits for CLIP."""
    from tqdm import tqdm

    captions = training_captions(dataset)
    if not captions or not hasattr(encode_text, "cache"):
        return
    missing = [c for c in captions if c not in encode_text.cache]
    log.info(f"text cache: {len(captions) - len(missing)} of {len(captions)} captions cached, encoding {len(missing)}")
    for start in tqdm(range(0, len(missing), chunk), desc="encode captions", disable=not progress or not missing):
        encode_text(missing[start:start + chunk])
    if missing and hasattr(encode_text, "flush"):
        encode_text.flush()


def center_text_if_asked(cfg, objective, encode_text, dataset, log) -> None:
    """train.center_text: train embed_text on features centred at the training captions' mean
    (crossdiff.training.text_centering; same function and checkpoint layout)."""
    if not cfg.train.center_text:
        return
    from crossdiff.training.text_centering import caption_mean, center_text_projection

    captions = training_captions(dataset)
    mean = caption_mean(encode_text, captions)
    center_text_projection(objective.model, mean)  # moved to the weights' device and dtype
    log.info(f"train.center_text: embed_text trained on features centred at the mean of {len(set(captions))} "
             f"training captions (mean norm {float(mean.norm()):.2f}); checkpoints keep the official layout")


class PseudoLabeler:
    """3D targets for 2D-only clips from a frozen teacher, smoothed along time per clip (docs/original_code.md §7.4).

    The teacher sees the clean masked 2D at t = 0 without text (as the reference). Unlike the
    reference, the One-Euro state starts fresh for every clip (docs/original_code.md §13.13).
    """

    def __init__(self, teacher: torch.nn.Module):
        self.teacher = teacher.eval().requires_grad_(False)

    @torch.no_grad()
    def __call__(self, batch: dict, text_emb) -> torch.Tensor:
        from crossdiff.motion.filters import one_euro_smooth

        joint = batch["joint"] * batch["joint_mask"]
        t0 = torch.zeros(joint.shape[0], dtype=torch.long, device=joint.device)
        pred = self.teacher(joint, t0, text_emb, force_mask=True, return_m=True, return_j=False)["m"]
        return one_euro_smooth(pred, batch["lengths"])


def build_trainer(cfg, objective, encode_text, dataset, collate_fn, worker_init_fn, rt, run: Path, log,
                  evaluate_fn=None) -> Trainer:
    """The trainer for `cfg.train`; with `resume=auto` it continues from this run's newest checkpoint."""
    t = cfg.train
    if t.resume not in ("auto", "never"):
        raise UserError(f"train.resume must be auto or never, got {t.resume!r}")
    if t.lr_schedule not in LR_SCHEDULES:
        raise UserError(f"train.lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {t.lr_schedule!r}")
    if not 0.0 <= t.low_noise_share <= 1.0:
        raise UserError(f"train.low_noise_share must be a share between 0 and 1, got {t.low_noise_share!r}")
    if t.lr_schedule == "cosine" and not t.max_steps:
        raise UserError("train.lr_schedule=cosine decays towards train.max_steps: set train.max_steps too")
    settings = TrainSettings(
        batch_size=t.batch_size, lr=t.lr, weight_decay=t.weight_decay, num_epochs=t.num_epochs,
        max_steps=t.max_steps, grad_clip=t.grad_clip, warmup_steps=t.warmup_steps,
        lr_schedule=t.lr_schedule, lr_final_ratio=t.lr_final_ratio, ema_decay=t.ema_decay,
        low_noise_share=t.low_noise_share,
        log_interval=t.log_interval, save_interval=t.save_interval, eval_interval=t.eval_interval,
        keep_checkpoints=t.keep_checkpoints, num_workers=t.num_workers, bf16=t.bf16, seed=cfg.seed)
    from omegaconf import OmegaConf

    trainer = Trainer(objective, dataset, collate_fn, encode_text, settings, rt, run,
                      OmegaConf.to_container(cfg, resolve=True), log, evaluate_fn, worker_init_fn)
    latest = find_latest(run / "checkpoints") if t.resume == "auto" else None
    if latest is not None:
        trainer.resume(latest)
    return trainer
