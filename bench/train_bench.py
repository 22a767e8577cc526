"""Training throughput (samples/s) of stage I for the demo and the full-size config, with and without the
text-embedding cache. Prints figures; asserts nothing.

    .venv/bin/python bench/train_bench.py [--steps 3] [--full-batch 4] [--threads 2] [--skip-full]

Each measurement times `--steps` optimiser steps of the real Objective (all four cross paths) on
random features after one warm-up step. "no cache" runs CLIP (random ViT-B/32 weights) on every
step's captions, as the reference does; "cache" reads them from the embedding cache.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crossdiff.config import load_config, section_kwargs  # noqa: E402
from crossdiff.diffusion import build_diffusion  # noqa: E402
from crossdiff.model import build_model  # noqa: E402
from crossdiff.text_encoder import build_text_encoder  # noqa: E402
from crossdiff.training.losses import Objective  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def fake_batch(cfg, batch_size: int, step: int) -> dict:
    m, T = cfg.model, cfg.model.max_frames
    lengths = torch.full((batch_size,), T)
    return {"motion": torch.randn(batch_size, m.njoints_m, 1, T), "joint": torch.randn(batch_size, m.njoints_j, 1, T),
            "joint_mask": torch.ones(batch_size, m.njoints_j, 1, T), "motion_mask": torch.ones(batch_size, m.njoints_m, 1, T),
            "mask": torch.ones(batch_size, 1, 1, T, dtype=torch.bool), "lengths": lengths,
            "valid": torch.ones(batch_size, dtype=torch.bool),
            "text": [f"a person walks forward {step * batch_size + i % 7} steps" for i in range(batch_size)]}


def throughput(cfg, batch_size: int, steps: int, encode) -> float:
    torch.manual_seed(0)
    model = build_model(**section_kwargs(cfg.model)).train()
    objective = Objective(model, build_diffusion(**section_kwargs(cfg.diffusion)), "pretrain", 1.0, 1.0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    batches = [fake_batch(cfg, batch_size, s % 2) for s in range(steps + 1)]  # two caption sets, repeated
    start = None
    for step, batch in enumerate(batches):
        if step == 1:
            start = time.perf_counter()  # step 0 warms up (and fills the cache)
        t = torch.randint(0, 1000, (batch_size,))
        loss, _ = objective(batch, t, encode(batch["text"]), torch.randn_like(batch["motion"]),
                            torch.randn_like(batch["joint"]))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return steps * batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--full-batch", type=int, default=4, help="batch of the full-size model (32 in the paper)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--skip-full", action="store_true", help="only the demo config")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as cache_dir:
        cached = build_text_encoder(clip_weights="random", cache_dir=cache_dir)
        print(f"torch {torch.__version__}, {args.threads} threads")
        runs = [("demo_pre", load_config(REPO / "configs" / "demo_pre.yaml"), None)]
        if not args.skip_full:
            runs.append(("full-size", load_config(REPO / "configs" / "crossdiff_pre.yaml"), args.full_batch))
        for name, cfg, batch in runs:
            batch = batch or cfg.train.batch_size
            for label, encode in (("cache", cached), ("no cache", cached.encode_uncached)):
                rate = throughput(cfg, batch, args.steps, encode)
                print(f"{name:10s} batch {batch:3d}  {label:8s}  {rate:7.2f} samples/s  ({batch / rate:.2f} s/step)")


if __name__ == "__main__":
    main()
