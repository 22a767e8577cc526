"""Device, seeding, distributed set-up and logging, decided once per process.

Nothing else in the package reads `RANK`/`LOCAL_RANK` or calls `torch.cuda` to pick a device:
entry scripts call `setup()` and pass the resulting `Runtime` down.
"""

from __future__ import annotations

import logging
import os
import random
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crossdiff.errors import UserError


@dataclass(frozen=True)
class Runtime:
    device: str          # "cpu" or "cuda:<local_rank>"
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def resolve_device(device: str) -> str:
    """`auto` -> cuda when available else cpu; `cuda` without a GPU is a UserError."""
    import torch

    if device not in ("auto", "cpu", "cuda"):
        raise UserError(f"device must be auto, cpu or cuda, got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError("device=cuda was requested but no CUDA device is available; use device=cpu or device=auto")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def setup(device: str = "auto", seed: int | None = None) -> Runtime:
    """Initialise torchrun/DDP when launched by torchrun (gloo on CPU, nccl on CUDA), pick the device, seed.

    Rank r is seeded with `seed + r` so that data augmentation and noise differ across ranks.
    """
    import torch
    import torch.distributed as dist

    kind = resolve_device(device)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if kind == "cuda" else "gloo")
    if kind == "cuda":
        torch.cuda.set_device(local_rank)
        dev = f"cuda:{local_rank}"
    else:
        dev = "cpu"
        # Subnormal floats (e.g. tiny gradients late in training) run ~100x slower on x86 CPUs;
        # flushing them to zero changes values below 1e-38 only.
        torch.set_flush_denormal(True)
    if seed is not None:
        seed_everything(seed + rank)
    return Runtime(device=dev, rank=rank, local_rank=local_rank, world_size=world_size)


def teardown() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def get_logger(run_dir: str | Path | None = None, is_main: bool = True, name: str = "crossdiff") -> logging.Logger:
    """One logger: rank 0 writes to stdout and `<run_dir>/log.txt`; other ranks stay silent."""
    logger = logging.getLogger(name)
    logger.handlers.clear()
    logger.propagate = False
    if not is_main:
        logger.addHandler(logging.NullHandler())
        return logger
    fmt = logging.Formatter("[%(asctime)s] %(message)s", datefmt="%H:%M:%S")
    stream = logging.StreamHandler(sys.stdout)
    stream.setFormatter(fmt)
    logger.addHandler(stream)
    if run_dir is not None:
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        file = logging.FileHandler(Path(run_dir) / "log.txt")
        file.setFormatter(fmt)
        logger.addHandler(file)
    logger.setLevel(logging.INFO)
    return logger


def run_dir(save_dir: str | Path, name: str) -> Path:
    """`<save_dir>/<NAME>`: the run directory (config.yaml, log.txt, events, checkpoints/, eval/, generate/)."""
    return Path(save_dir) / name


def start_run(save_dir: str | Path, name: str, config_yaml: str, is_main: bool = True,
              subdir: str | None = None) -> tuple[Path, logging.Logger]:
    """Create `<save_dir>/<name>[/<subdir>]`, write the resolved `config.yaml` there, return it and the logger."""
    from crossdiff.io import save_text

    folder = run_dir(save_dir, name) / subdir if subdir else run_dir(save_dir, name)
    if is_main:
        folder.mkdir(parents=True, exist_ok=True)
        save_text(folder / "config.yaml", config_yaml)
    return folder, get_logger(folder if is_main else None, is_main)
