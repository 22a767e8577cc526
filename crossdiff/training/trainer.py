"""The training loop: AdamW on the mode's objective, interval logging, exact resume, evaluation hook.

Determinism and exact resume: every epoch reseeds python/numpy and the sampler from
`(seed, rank, epoch)`, so a resumed run rebuilds the same batch order, skips the batches the
checkpoint had already consumed, and then restores the torch RNG saved at that step. A run killed
after a checkpoint and resumed ends with the same weights as an uninterrupted run (tested).
"""

from __future__ import annotations

import contextlib
import copy
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler
from tqdm import tqdm

from crossdiff.errors import UserError
from crossdiff.modes import module_mode
from crossdiff.runtime import Runtime
from crossdiff.training import checkpoint as ckpt_io
from crossdiff.training.logging import IntervalLog
from crossdiff.weights import load_strict


@dataclass(frozen=True)
class TrainSettings:
    """Loop settings (the `train:` config section minus the objective's own keys)."""

    batch_size: int
    lr: float
    weight_decay: float
    num_epochs: int
    max_steps: int | None
    grad_clip: float
    warmup_steps: int
    lr_schedule: str
    lr_final_ratio: float
    ema_decay: float
    low_noise_share: float
    log_interval: int
    save_interval: int
    eval_interval: int
    keep_checkpoints: int
    num_workers: int
    bf16: bool
    seed: int


LR_SCHEDULES = ("constant", "cosine")


def lr_scale(step: int, warmup_steps: int, schedule: str, max_steps: int | None, final_ratio: float) -> float:
    """The learning rate of optimiser step `step` (0-based) as a fraction of train.lr: a linear warm-up over
    `warmup_steps`, then constant, or (cosine) a half cosine from 1 down to `final_ratio` at `max_steps`.
    A pure function of the step, so a resumed run continues the same curve."""
    warm = min(1.0, (step + 1) / warmup_steps) if warmup_steps > 0 else 1.0
    if schedule != "cosine" or not max_steps:
        return warm
    progress = min(1.0, max(0.0, (step - warmup_steps) / max(1, max_steps - warmup_steps)))
    return warm * (final_ratio + (1.0 - final_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress)))


def with_low_noise_share(t: torch.Tensor, num_steps: int, share: float) -> torch.Tensor:
    """`t` with each entry, with probability `share`, redrawn from the lowest tenth of the timesteps: more of
    the loss where the network must keep clean motion as it is (experiments/denoiser_drift.py)."""
    low = torch.rand(t.shape, device=t.device) < share
    return torch.where(low, torch.randint(0, max(1, num_steps // 10), t.shape, device=t.device), t)


def build_optimizer(params: list, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """The stage's AdamW (betas 0.9/0.999, eps 1e-8, as the reference: docs/original_code.md §7.1).

    fused: one kernel over all parameters instead of about ten tensor operations per parameter; the
    same update to float32 rounding, and the same state_dict (checkpoints resume either way).
    """
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=True)


class EMA:
    """Exponential moving average of the trainable weights (decay 0 disables it)."""

    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = decay
        self.shadow = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        for ema_p, p in zip(self.shadow.parameters(), model.parameters()):
            if p.requires_grad:
                ema_p.lerp_(p.detach(), 1 - self.decay)

    def state_dict(self):
        return self.shadow.state_dict()

    def load_state_dict(self, state):
        self.shadow.load_state_dict(state)


class Trainer:
    """Runs `objective` (a `losses.Objective`) over `dataset` until `num_epochs` or `max_steps`."""

    def __init__(self, objective, dataset, collate_fn, encode_text: Callable, settings: TrainSettings,
                 runtime: Runtime, run_dir: Path, config: dict, logger,
                 evaluate_fn: Callable | None = None, worker_init_fn: Callable | None = None):
        self.objective = objective.to(runtime.device)
        self.model = objective.model
        self.dataset, self.collate_fn, self.worker_init_fn = dataset, collate_fn, worker_init_fn
        self.encode_text = encode_text
        self.s, self.rt, self.run_dir, self.config = settings, runtime, Path(run_dir), config
        self.log, self.evaluate_fn = logger, evaluate_fn
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = build_optimizer(params, settings.lr, settings.weight_decay)
        self.ema = EMA(self.model, settings.ema_decay) if settings.ema_decay > 0 else None
        self.wrapped = self._wrap(objective)
        self.step, self.epoch, self.batch_in_epoch = 0, 0, 0
        self._resume_rng = None
        self.checkpoint_dir = self.run_dir / "checkpoints"
        self.writer = self._tensorboard()

    # ---- set-up -------------------------------------------------------------------------
    def _wrap(self, objective):
        if not self.rt.distributed:
            return objective
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.rt.local_rank] if self.rt.device.startswith("cuda") else None
        # Stage II and the UCF mode leave 2D-only parameters unused (docs/original_code.md §7.3).
        return DistributedDataParallel(objective, device_ids=ids, find_unused_parameters=objective.mode != "pretrain")

    def _tensorboard(self):
        if not self.rt.is_main:
            return None
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter(log_dir=str(self.run_dir))

    def resume(self, path) -> None:
        """Continue exactly from a training checkpoint of this run."""
        state = ckpt_io.load_training_checkpoint(path)
        load_strict(self.model, state["model"], path)
        self.optimizer.load_state_dict(state["optimizer"])
        if self.ema is not None and state["ema"] is not None:
            self.ema.load_state_dict(state["ema"])
        self.step, self.epoch, self.batch_in_epoch = state["step"], state["epoch"], state["batch_in_epoch"]
        self._resume_rng = state["rng"]
        self.log.info(f"resumed from {path} at step {self.step} (epoch {self.epoch}, batch {self.batch_in_epoch})")

    # ---- loop ---------------------------------------------------------------------------
    def fit(self) -> int:
        """Train; returns the final step. Saves a checkpoint every `save_interval` steps and at the end."""
        total = self._total_steps()
        bar = tqdm(total=total, initial=self.step, desc="train", disable=not self.rt.is_main, dynamic_ncols=True)
        interval = IntervalLog()
        with module_mode(self.model, training=True):
            while self.step < total:
                for batch in self._epoch_batches():
                    self._train_step(batch, interval)
                    self.batch_in_epoch += 1
                    bar.update(1)
                    self._after_step(interval, bar)
                    if self.step >= total:
                        break
                else:
                    self.epoch, self.batch_in_epoch = self.epoch + 1, 0
        bar.close()
        if self.step % self.s.save_interval != 0:
            self.save()
        if self.writer is not None:
            self.writer.close()
        return self.step

    def _total_steps(self) -> int:
        per_epoch = len(self._loader())
        if per_epoch == 0:
            raise UserError(f"the training set has {len(self.dataset)} samples, fewer than "
                            f"batch_size={self.s.batch_size}; lower train.batch_size")
        by_epochs = per_epoch * self.s.num_epochs
        return min(by_epochs, self.s.max_steps) if self.s.max_steps else by_epochs

    def _epoch_seed(self) -> int:
        return (self.s.seed * 1_000_003 + self.rt.rank * 7919 + self.epoch) % 2**32

    def _loader(self) -> DataLoader:
        """The current epoch's loader; its order depends only on (seed, rank, epoch)."""
        generator = torch.Generator().manual_seed(self._epoch_seed())
        if self.rt.distributed:
            sampler = DistributedSampler(self.dataset, seed=self.s.seed, drop_last=True)
            sampler.set_epoch(self.epoch)
        else:
            sampler = RandomSampler(self.dataset, generator=generator)
        return DataLoader(self.dataset, batch_size=self.s.batch_size, sampler=sampler, drop_last=True,
                          num_workers=self.s.num_workers, collate_fn=self.collate_fn,
                          worker_init_fn=self.worker_init_fn, generator=generator)

    def _epoch_batches(self):
        """Yield the current epoch's batches, skipping those a resumed checkpoint had consumed.

        python, numpy and the dataset's generator are reseeded per epoch so the skipped batches replay
        the same draws; the torch
        RNG saved in the checkpoint is restored once the skipping is done.
        """
        random.seed(self._epoch_seed())
        np.random.seed(self._epoch_seed())
        reseed = getattr(self.dataset, "reseed", None)
        if reseed is not None:  # the dataset's own generator (workers reseed their copies themselves)
            reseed(self._epoch_seed())
        skip = self.batch_in_epoch
        for index, batch in enumerate(self._loader()):
            if index < skip:
                continue
            self._restore_resume_rng()
            yield batch
        self._restore_resume_rng()

    def _restore_resume_rng(self) -> None:
        if self._resume_rng is not None:
            ckpt_io.set_rng_state(self._resume_rng)
            self._resume_rng = None

    def _train_step(self, batch: dict, interval: IntervalLog) -> None:
        batch = {k: v.to(self.rt.device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}
        text_emb = self.encode_text(batch["text"]).to(self.rt.device)
        B = batch["motion"].shape[0]
        num_steps = self.objective.diffusion.num_timesteps
        # One t for both modalities (docs/original_code.md §7.2).
        t = torch.randint(0, num_steps, (B,), device=self.rt.device)
        if self.s.low_noise_share > 0:
            t = with_low_noise_share(t, num_steps, self.s.low_noise_share)
        noise3d, noise2d = torch.randn_like(batch["motion"]), torch.randn_like(batch["joint"])
        self._set_lr()
        with self._autocast():
            loss, terms = self.wrapped(batch, t, text_emb, noise3d, noise2d)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.s.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.s.grad_clip)
        self.optimizer.step()
        if self.ema is not None:
            self.ema.update(self.model)
        self.step += 1
        interval.add(loss=loss.detach(), **terms)

    def _autocast(self):
        """bf16 autocast of the forward pass (CUDA, or CPUs with AVX512-BF16/AMX); weights stay float32."""
        if self.s.bf16:
            return torch.autocast(torch.device(self.rt.device).type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _set_lr(self) -> None:
        s = self.s
        scale = lr_scale(self.step, s.warmup_steps, s.lr_schedule, s.max_steps, s.lr_final_ratio)
        for group in self.optimizer.param_groups:
            group["lr"] = s.lr * scale

    def _after_step(self, interval: IntervalLog, bar) -> None:
        if self.step % self.s.log_interval == 0:
            self._log(interval, bar)
        if self.step % self.s.save_interval == 0:
            self.save()
        if self.evaluate_fn is not None and self.s.eval_interval > 0 and self.step % self.s.eval_interval == 0:
            self._evaluate()

    def _log(self, interval: IntervalLog, bar) -> None:
        means, steps_per_s = interval.flush()
        lr = self.optimizer.param_groups[0]["lr"]
        if self.writer is not None:
            for key, value in means.items():
                self.writer.add_scalar(f"train/{key}", value, self.step)
            self.writer.add_scalar("train/lr", lr, self.step)
            self.writer.add_scalar("train/steps_per_s", steps_per_s, self.step)
        terms = " ".join(f"{k}={v:.4f}" for k, v in means.items())
        self.log.info(f"step {self.step} epoch {self.epoch} {terms} lr={lr:.2e} {steps_per_s:.2f} steps/s")
        bar.set_postfix(loss=f"{means.get('loss', float('nan')):.4f}")

    def _evaluate(self) -> None:
        # Evaluation samples noise; fork every RNG so training continues exactly as without it
        # (and as a run resumed from this step's checkpoint does). Eval mode inside, train mode again after
        # (the reference stayed in eval mode: docs/original_code.md §13.2).
        py_state, np_state = random.getstate(), np.random.get_state()
        with torch.random.fork_rng(devices=[]), module_mode(self.model, training=False):
            metrics = self.evaluate_fn(self.model, self.step)
        random.setstate(py_state)
        np.random.set_state(np_state)
        if self.writer is not None and metrics:
            for key, value in metrics.items():
                self.writer.add_scalar(f"eval/{key}", value, self.step)
        self.log.info(f"eval at step {self.step}: " + " ".join(f"{k}={v:.4f}" for k, v in (metrics or {}).items()))

    def save(self) -> Path | None:
        """Checkpoint the current state (rank 0 only)."""
        if not self.rt.is_main:
            return None
        path = ckpt_io.checkpoint_path(self.checkpoint_dir, self.step)
        ckpt_io.save_training_checkpoint(path, model=self.model, optimizer=self.optimizer, ema=self.ema,
                                         step=self.step, epoch=self.epoch, batch_in_epoch=self.batch_in_epoch,
                                         config=self.config)
        flush = getattr(self.encode_text, "flush", None)
        if flush is not None:  # keep the caption-embedding cache on disk in step with the checkpoints
            flush()
        self._prune()
        return path

    def _prune(self) -> None:
        if self.s.keep_checkpoints <= 0:
            return
        files = sorted(self.checkpoint_dir.glob("step*.pt"))
        for old in files[: -self.s.keep_checkpoints]:
            old.unlink()
