"""Benchmark the full-size CrossDiff denoiser on the CPU: training step, sampling step, memory.

    python bench/model_bench.py [--threads N] [--batch 8] [--repeats 3] [--train-repeats 1]
                                [--skip-naive] [--bf16-train]

Prints (random weights, HumanML3D widths, 196 frames):
* one denoiser evaluation (3D head, inference mode) at batch 1 and at batch 2 (cond + uncond
  of guided sampling, batched), in float32, under torch.autocast("cpu", bfloat16) per call, and
  inside one autocast region as the sampler runs it (diffusion.precision=bfloat16: weights cast
  once), with the max abs difference of the bf16 outputs from float32;
* the projected per-caption sampling time of DDPM-1000, DDIM-100 and DDIM-50 with guidance
  (one batch-2 evaluation per step), and one caption actually sampled with DDIM-50 and guidance
  through Diffusion.sample in float32 and with diffusion.precision=bfloat16;
* forward + backward of one stage-I training step (all four cross paths, both modalities) via
  the fused `forward_both`, and via the naive two `forward` calls for comparison (with
  --bf16-train also the fused step under bf16 autocast);
* the arithmetic floor: FLOPs of one batch-2 evaluation (attention counted through the math
  kernel), the best matmul throughput of this CPU (a 1024x1024 GEMM, float32 and bf16), and the
  DDIM-50-with-guidance time that throughput allows, i.e. what no implementation of this network can beat;
* peak RSS (resource.getrusage) after the inference part and after the training part.
Inference times are the median of --repeats runs after one warm-up run; a training time is the
median of --train-repeats steps after a warm-up step at the same batch (the first step pays for
first-touching gigabytes of activations; a full-size step takes tens of seconds on two cores, so
the default run takes about five minutes).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crossdiff.model import CrossDiff  # noqa: E402

FRAMES = 196
SAMPLERS = {"DDPM-1000": 1000, "DDIM-100": 100, "DDIM-50": 50}


def timed(fn, repeats: int, warmup=None) -> float:
    """Median wall time of fn() in seconds, after one warm-up call of `warmup` (default: fn)."""
    (warmup or fn)()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def bench_inference(model: CrossDiff, repeats: int) -> dict:
    """Seconds per 3D-head evaluation at batch 1 and 2, fp32 and bf16 autocast."""
    model.eval()
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, model.njoints["m"], 1, FRAMES, generator=gen)
    t = torch.tensor([500, 500])
    y = torch.randn(2, 512, generator=gen)
    results = {}
    for dtype in ("fp32", "bf16"):
        def run(b, dtype=dtype):
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == "bf16"):
                return model(x[:b], t[:b], y[:b], force_mask=False, return_m=True)["m"].float()

        for b in (1, 2):
            results[(dtype, b)] = timed(lambda b=b: run(b), repeats)
        results[(dtype, "out")] = run(2)
    # What the sampler does with diffusion.precision=bfloat16: every step inside one autocast region,
    # so the bf16 copies of the weights are made once instead of at every call. Under no_grad, as
    # MotionSampler.sample: inference_mode would disable autocast's weight cache.
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        for b in (1, 2):
            results[("bf16 region", b)] = timed(lambda b=b: model(x[:b], t[:b], y[:b])["m"].float(), repeats)
    results["bf16_maxabs"] = float((results[("bf16", "out")] - results[("fp32", "out")]).abs().max())
    results["fp32_maxabs_out"] = float(results[("fp32", "out")].abs().max())
    return results


def bench_caption(model: CrossDiff) -> dict:
    """Seconds to sample one caption with DDIM-50 and guidance 2.5 through Diffusion.sample, per precision."""
    from crossdiff.diffusion import build_diffusion

    y, seconds = torch.randn(1, 512, generator=torch.Generator().manual_seed(3)), {}
    for precision in ("float32", "bfloat16"):
        diffusion = build_diffusion(sampler="ddim", sampling_steps=50, guidance_scale=2.5, precision=precision)
        with torch.no_grad():
            start = time.perf_counter()
            diffusion.sample(model, (1, model.njoints["m"], 1, FRAMES), y, progress=False,
                             generator=torch.Generator().manual_seed(0))
            seconds[precision] = time.perf_counter() - start
    return seconds


def gemm_gflops(dtype: torch.dtype, n: int = 1024, repeats: int = 10) -> float:
    """Best-of-`repeats` throughput of an n x n x n matmul in `dtype`, GFLOP/s."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    best = min(timed(lambda: a @ b, 1) for _ in range(repeats))
    return 2 * n ** 3 / best / 1e9


def evaluation_gflop(model: CrossDiff, batch: int = 2) -> float:
    """FLOPs of one 3D-head evaluation at `batch`, GFLOP; SDPA runs its math kernel so the counter sees it."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.randn(batch, model.njoints["m"], 1, FRAMES)
    t, y = torch.full((batch,), 500), torch.randn(batch, 512)
    trainable = [p for p in model.parameters() if p.requires_grad]
    try:  # the counter's module tracker needs weights without grad under no_grad
        for p in trainable:
            p.requires_grad_(False)
        with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
            model(x, t, y)
    finally:
        for p in trainable:
            p.requires_grad_(True)
    return counter.get_total_flops() / 1e9


def bench_floor(model: CrossDiff) -> dict:
    """GFLOP per guided step, the CPU's GEMM peak per dtype, and the DDIM-50 time that peak allows."""
    flop = evaluation_gflop(model)
    peaks = {"float32": gemm_gflops(torch.float32), "bfloat16": gemm_gflops(torch.bfloat16)}
    return {"gflop": flop, "peaks": peaks, "ddim50_floor_s": {k: 50 * flop / v for k, v in peaks.items()}}


def training_step(model: CrossDiff, batch: int, fused: bool, bf16: bool = False):
    """One stage-I forward + backward on random data; returns a closure for timing."""
    gen = torch.Generator().manual_seed(2)
    m_t = torch.randn(batch, model.njoints["m"], 1, FRAMES, generator=gen)
    j_t = torch.randn(batch, model.njoints["j"], 1, FRAMES, generator=gen)
    t = torch.randint(0, 1000, (batch,), generator=gen)
    y = torch.randn(batch, 512, generator=gen)

    def step():
        model.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            if fused:
                out = model.forward_both(m_t, j_t, t, y)
            else:
                a = model(m_t, t, y, return_m=True, return_j=True)
                b = model(j_t, t, y, return_m=True, return_j=True)
                out = {"m_from_m": a["m"], "j_from_m": a["j"], "m_from_j": b["m"], "j_from_j": b["j"]}
        # Targets are the inputs (any fixed target gives the same cost).
        loss = sum(((out[k].float() - (m_t if k[0] == "m" else j_t)) ** 2).mean() for k in out)
        loss.backward()

    return step


def bench_training(model: CrossDiff, batch: int, repeats: int, fused: bool, bf16: bool = False) -> float:
    model.train()
    return timed(training_step(model, batch, fused, bf16), repeats)  # warm-up at the same batch: first-touch of GBs of activations


def main(threads: int, batch: int, repeats: int, train_repeats: int, skip_naive: bool, bf16_train: bool) -> dict:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = CrossDiff()
    print(f"CrossDiff full size: {sum(p.numel() for p in model.parameters()):,} parameters, "
          f"{threads} torch threads, {os.cpu_count()} CPUs, torch {torch.__version__}")
    inf = bench_inference(model, repeats)
    for dtype in ("fp32", "bf16", "bf16 region"):
        print(f"denoiser eval {dtype}: batch 1 {inf[(dtype, 1)] * 1e3:.0f} ms, "
              f"batch 2 (cond+uncond) {inf[(dtype, 2)] * 1e3:.0f} ms")
    print(f"bf16 vs fp32 outputs: max abs diff {inf['bf16_maxabs']:.3g} (outputs up to {inf['fp32_maxabs_out']:.3g})")
    for dtype in ("fp32", "bf16 region"):
        per_step = inf[(dtype, 2)]
        projected = ", ".join(f"{name} {steps * per_step:.0f} s" for name, steps in SAMPLERS.items())
        print(f"projected per caption with guidance ({dtype}): {projected}")
    caption = bench_caption(model)
    print(f"measured: one caption, DDIM-50, guidance 2.5: {caption['float32']:.1f} s float32, "
          f"{caption['bfloat16']:.1f} s with diffusion.precision=bfloat16")
    floor = bench_floor(model)
    print(f"arithmetic floor: {floor['gflop']:.1f} GFLOP per guided step (batch 2); best GEMM here "
          + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in floor["peaks"].items())
          + " -> DDIM-50 with guidance cannot take less than "
          + ", ".join(f"{v:.1f} s in {k}" for k, v in floor["ddim50_floor_s"].items()))
    print(f"peak RSS after inference: {peak_rss_mb():.0f} MB")
    fused = bench_training(model, batch, train_repeats, fused=True)
    print(f"stage-I train step (forward + backward), batch {batch}, forward_both: {fused:.2f} s")
    naive = None if skip_naive else bench_training(model, batch, train_repeats, fused=False)
    if naive is not None:
        print(f"stage-I train step, batch {batch}, two forward calls: {naive:.2f} s "
              f"(fused speed-up x{naive / fused:.2f})")
    bf16 = bench_training(model, batch, train_repeats, fused=True, bf16=True) if bf16_train else None
    if bf16 is not None:
        print(f"stage-I train step, batch {batch}, forward_both under bf16 autocast: {bf16:.2f} s")
    print(f"peak RSS after training: {peak_rss_mb():.0f} MB")
    return {"inference": inf, "caption_s": caption, "floor": floor, "train_fused_s": fused, "train_naive_s": naive, "train_bf16_s": bf16}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads (default: all cores)")
    parser.add_argument("--batch", type=int, default=8, help="training batch size")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per inference figure")
    parser.add_argument("--train-repeats", type=int, default=1, help="timed steps per training figure")
    parser.add_argument("--skip-naive", action="store_true", help="skip the two-call training comparison")
    parser.add_argument("--bf16-train", action="store_true", help="also time the fused step under bf16 autocast")
    args = parser.parse_args()
    main(args.threads, args.batch, args.repeats, args.train_repeats, args.skip_naive, args.bf16_train)
