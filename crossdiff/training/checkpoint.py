"""Checkpoints that describe themselves, resume exactly and hold only safe types.

A training checkpoint (`<run>/checkpoints/step00001234.pt`) is a dict of tensors and plain
containers, loadable with `weights_only=True`:

    {"format": "crossdiff-train-1", "model": state_dict, "ema": state_dict | None,
     "optimizer": state_dict, "step": int, "epoch": int, "batch_in_epoch": int,
     "rng": {"torch": ByteTensor, "cuda": [ByteTensor] }, "config": plain dict}

Reading weights out of either kind of checkpoint lives in `crossdiff.weights`.
"""

from __future__ import annotations

from pathlib import Path

import torch

from crossdiff.errors import UserError
from crossdiff.io import torch_load, torch_save
from crossdiff.weights import FORMAT


def checkpoint_path(checkpoint_dir: str | Path, step: int) -> Path:
    return Path(checkpoint_dir) / f"step{step:08d}.pt"


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_training_checkpoint(path, *, model, optimizer, ema, step: int, epoch: int, batch_in_epoch: int, config: dict) -> None:
    """Write atomically (temp file + rename), so a kill never leaves a truncated checkpoint."""
    torch_save(path, {
        "format": FORMAT,
        "model": model.state_dict(),
        "ema": ema.state_dict() if ema is not None else None,
        "optimizer": optimizer.state_dict(),
        "step": step,
        "epoch": epoch,
        "batch_in_epoch": batch_in_epoch,
        "rng": rng_state(),
        "config": config,
    })


def load_training_checkpoint(path) -> dict:
    ckpt = torch_load(path)
    if not (isinstance(ckpt, dict) and ckpt.get("format") == FORMAT):
        raise UserError(f"{path}: not a CrossDiff training checkpoint (to start from plain weights use train.resume_checkpoint)")
    return ckpt


