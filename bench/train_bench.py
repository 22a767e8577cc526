"""Stage-I training step, ours against the original's, side by side in one process. Prints; asserts nothing.

    .venv/bin/python bench/train_bench.py [--sizes full small] [--repeats 5] [--threads 2]
                                          [--variants original original+ours ours] [--dropout 0.1] [--floor] [--profile]
                                          [--cache-throughput] [--text]

For each size (full: latent 512, 4/6 layers, batch 8; small: latent 128, 2/2 layers, batch 32; both
HumanML3D widths, 196 frames, default config otherwise, dropout 0.1) it builds one CrossDiff and
times, alternating in one process after a warm-up step each, --repeats steps of (--variants)
  * original: the original's step (bench/original_step.py: one full forward pass per modality, each
    returning both heads, torch's own layers and dropout, AdamW as the original builds it);
  * original+ours: the same structure with our layers (two `model.forward` calls; not by default);
  * ours: the trainer's step (Objective + the trainer's optimizer);
and prints the median seconds and the ratios. Each step is zero_grad, forward, backward, optimizer
step on random data. Before timing it checks, in eval mode, that the three give the same losses.
Every variant has its own copy of the weights and its own optimizer.

--text adds the caption encoding each step pays: the original encodes its batch's captions with CLIP on
every step (docs/original_code.md §7.1), here the CLIP text tower in float32 on fresh captions; ours
looks them up in the caption cache the trainer fills before its first step. The model-only ratios are
printed as well.
--profile prints torch.profiler's top operators of one step of each variant (--repeats 0: only that).
--floor counts the step's FLOPs (torch.utils.flop_counter) and prints the time this CPU's best float32
GEMM rate would need for them. --dropout overrides model.dropout (0 gives the deterministic step the original actually ran after its
first epoch, docs/original_code.md §7.1). --cache-throughput adds
the older figure: samples/s of the demo config with and without the caption-embedding cache.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from crossdiff.config import load_config, section_kwargs  # noqa: E402
from crossdiff.diffusion import build_diffusion  # noqa: E402
from crossdiff.model import CrossDiff, build_model  # noqa: E402
from crossdiff.training.losses import Objective  # noqa: E402
from crossdiff.training.trainer import build_optimizer  # noqa: E402
from original_step import original_losses, original_step  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FRAMES = 196
SIZES = {"full": (dict(latent_dim=512, layers=4, layers2=6), 8),
         "small": (dict(latent_dim=128, layers=2, layers2=2), 32)}
VARIANTS = ("original", "original+ours", "ours")


def random_batch(batch_size: int, frames: int = FRAMES, seed: int = 0) -> dict:
    gen = torch.Generator().manual_seed(seed)
    return {"motion": torch.randn(batch_size, 263, 1, frames, generator=gen),
            "joint": torch.randn(batch_size, 134, 1, frames, generator=gen),
            "mask": torch.ones(batch_size, 1, 1, frames, dtype=torch.bool),
            "joint_mask": (torch.rand(batch_size, 134, 1, frames, generator=gen) > 0.1).float(),
            "valid": torch.arange(batch_size) % 4 != 3,  # a few 2D-only samples, as in a mixed batch
            "t": torch.randint(0, 1000, (batch_size,), generator=gen),
            "text_emb": torch.randn(batch_size, 512, generator=gen),
            "noise3d": torch.randn(batch_size, 263, 1, frames, generator=gen),
            "noise2d": torch.randn(batch_size, 134, 1, frames, generator=gen)}


def captions(batch_size: int, round_: int) -> list[str]:
    """A batch of distinct captions, new every round (so nothing the original encodes is ever cached)."""
    return [f"a person walks forward {round_} times then turns left {i} times" for i in range(batch_size)]


def step_functions(model: CrossDiff, diffusion, batch: dict, variants, lr: float = 1e-4, text_encoder=None) -> dict:
    """variant -> (model copy, step closure): every variant trains its own copy of the same weights.

    With `text_encoder` each step first gets its captions' features as that variant's training loop does
    (the original: CLIP on the batch's captions; ours: the caption cache, filled beforehand) and trains on them.
    """
    b = batch["t"].shape[0]
    rounds = iter(range(10**9))
    if text_encoder is not None:
        text_encoder([c for r in range(64) for c in captions(b, r)])  # the trainer caches every caption up front
    steps = {}
    for variant in variants:
        net = copy.deepcopy(model)
        if variant == "ours":
            objective = Objective(net, diffusion, "pretrain", 1.0, 1.0)
            optimizer = build_optimizer([p for p in net.parameters() if p.requires_grad], lr, 0.0)

            def step(objective=objective, optimizer=optimizer):
                text = batch["text_emb"] if text_encoder is None else text_encoder(captions(b, next(rounds) % 64))
                loss, _ = objective(batch, batch["t"], text, batch["noise3d"], batch["noise2d"])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
        else:
            optimizer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.0)  # docs/original_code.md §7.1

            def step(net=net, optimizer=optimizer, torch_layers=variant == "original"):
                text = batch["text_emb"]
                if text_encoder is not None:
                    text = text_encoder.encode_uncached(captions(b, 64 + next(rounds)))
                original_step(net, optimizer, diffusion, batch, batch["t"], text, batch["noise3d"], batch["noise2d"],
                              torch_layers=torch_layers)
        steps[variant] = (net, step)
    return steps


def eval_losses(steps: dict, diffusion, batch: dict) -> dict:
    """variant -> the four eval-mode losses (deterministic: no dropout) of its weights before training."""
    t, y = batch["t"], batch["text_emb"]
    m_t = diffusion.q_sample(batch["motion"], t, batch["noise3d"])
    j_t = diffusion.q_sample(batch["joint"], t, batch["noise2d"])
    out = {}
    with torch.no_grad():
        for variant, (net, _) in steps.items():
            net.eval()
            if variant == "ours":
                _, terms = Objective(net, diffusion, "pretrain", 1.0, 1.0)(batch, t, y, batch["noise3d"],
                                                                           batch["noise2d"])
            else:
                terms = {k: v.mean() for k, v in original_losses(net, batch, m_t, j_t, t, y,
                                                                  variant == "original").items()}
            out[variant] = torch.stack([terms[k] for k in sorted(terms)])
            net.train()
    return out


def alternate(steps: dict, repeats: int) -> dict:
    """variant -> median seconds per step, the variants alternating, after one warm-up step each."""
    for _, step in steps.values():
        step()
    times = {v: [] for v in steps}
    for round_ in range(repeats):
        for variant, (_, step) in steps.items():
            start = time.perf_counter()
            step()
            times[variant].append(time.perf_counter() - start)
        print(f"  round {round_ + 1}: " + ", ".join(f"{v} {ts[-1]:.2f} s" for v, ts in times.items()), flush=True)
    for variant in list(times)[1:]:  # paired: each round's ratio cancels load that changes between rounds
        paired = statistics.median(a / b for a, b in zip(times["original"], times[variant]))
        print(f"  {variant}: median of the per-round ratios original / {variant}: {paired:.2f}x")
    return {v: statistics.median(ts) for v, ts in times.items()}


def profile_steps(steps: dict, rows: int) -> None:
    from torch.profiler import ProfilerActivity, profile

    for variant, (_, step) in steps.items():
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            step()
        print(f"--- {variant}: one step under torch.profiler")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows))


def step_gflop(model: CrossDiff, diffusion, batch_size: int) -> float:
    """FLOPs of one stage-I forward + backward (ours; the original's is the same arithmetic), GFLOP.

    Counted at batch 1 and scaled: every operation is per sample (the weight updates are not
    counted). Attention runs its math kernel so the counter sees it.
    """
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    net = copy.deepcopy(model)
    batch = random_batch(1)
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        loss, _ = Objective(net, diffusion, "pretrain", 1.0, 1.0)(batch, batch["t"], batch["text_emb"],
                                                                   batch["noise3d"], batch["noise2d"])
        loss.backward()
    return counter.get_total_flops() * batch_size / 1e9


def print_floor(model: CrossDiff, diffusion, batch_size: int) -> None:
    from model_bench import gemm_gflops

    gflop, peak = step_gflop(model, diffusion, batch_size), gemm_gflops(torch.float32)
    print(f"arithmetic: {gflop:.0f} GFLOP per step; at this CPU's best float32 GEMM now ({peak:.0f} GFLOP/s, "
          f"1024x1024) no float32 implementation of this step takes less than {gflop / peak:.1f} s")


def bench_size(name: str, variants, repeats: int, profile: bool, rows: int, dropout: float,
               floor: bool = False, text_encoder=None) -> dict:
    dims, batch_size = SIZES[name]
    torch.manual_seed(0)
    model = CrossDiff(**dims, dropout=dropout).train()  # every other key at its configs/base.yaml default
    diffusion = build_diffusion(**section_kwargs(load_config(None).diffusion))
    batch = random_batch(batch_size)
    steps = step_functions(model, diffusion, batch, variants)
    losses = eval_losses(steps, diffusion, batch)
    if text_encoder is not None:
        steps = step_functions(model, diffusion, batch, variants, text_encoder=text_encoder)
    diff = max(float((losses[v] - losses["original"]).abs().max()) for v in variants)
    print(f"{name}: {dims}, dropout {dropout}, batch {batch_size}; eval-mode losses {losses['original'].tolist()}, "
          f"max difference between variants {diff:.2g}")
    if floor:
        print_floor(model, diffusion, batch_size)
    if profile:
        profile_steps(steps, rows)
    if repeats < 1:
        return {}
    seconds = alternate(steps, repeats)
    base = seconds["original"]
    text = ", with each loop's caption encoding" if text_encoder is not None else ""
    print(f"{name}: median of {repeats} alternating steps{text}: "
          + ", ".join(f"{v} {s:.2f} s ({base / s:.2f}x)" for v, s in seconds.items()))
    return seconds


def caption_encoder():
    """The CLIP text tower (random weights: the same cost as ViT-B/32's) with a caption cache in a temp folder."""
    from crossdiff.text_encoder import build_text_encoder

    return build_text_encoder(clip_weights="random", cache_dir=tempfile.mkdtemp(prefix="bench_text_"))


def cache_throughput(steps: int = 3) -> None:
    """Samples/s of the demo config's stage-I step with the caption cache and with CLIP every step."""
    from crossdiff.text_encoder import build_text_encoder

    cfg = load_config(REPO / "configs" / "demo_pre.yaml")
    with tempfile.TemporaryDirectory() as cache_dir:
        cached = build_text_encoder(clip_weights="random", cache_dir=cache_dir)
        for label, encode in (("cache", cached), ("no cache", cached.encode_uncached)):
            torch.manual_seed(0)
            model = build_model(**section_kwargs(cfg.model)).train()
            objective = Objective(model, build_diffusion(**section_kwargs(cfg.diffusion)), "pretrain", 1.0, 1.0)
            optimizer = build_optimizer(list(model.parameters()), 1e-4, 0.0)
            b, frames = cfg.train.batch_size, cfg.model.max_frames
            batch = random_batch(b, frames)
            start = None
            for step in range(steps + 1):
                if step == 1:
                    start = time.perf_counter()  # step 0 warms up (and fills the cache)
                texts = [f"a person walks forward {(step % 2) * b + i % 7} steps" for i in range(b)]
                loss, _ = objective(batch, batch["t"], encode(texts), batch["noise3d"], batch["noise2d"])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            rate = steps * b / (time.perf_counter() - start)
            print(f"demo_pre batch {b}  {label:8s}  {rate:7.2f} samples/s  ({b / rate:.2f} s/step)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", choices=list(SIZES), default=list(SIZES))
    parser.add_argument("--repeats", type=int, default=5, help="timed steps per variant (median)")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=["original", "ours"],
                        help="steps to time (original is always included: the ratios are against it)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--dropout", type=float, default=load_config(None).model.dropout,
                        help="model.dropout (default: configs/base.yaml's)")
    parser.add_argument("--profile", action="store_true", help="print torch.profiler tables of one step each")
    parser.add_argument("--floor", action="store_true",
                        help="also count the step's FLOPs and the time the CPU's best GEMM rate allows")
    parser.add_argument("--rows", type=int, default=25, help="operators per profiler table")
    parser.add_argument("--cache-throughput", action="store_true", help="also the caption-cache figure")
    parser.add_argument("--text", action="store_true",
                        help="also time whole steps with each loop's caption encoding (CLIP every step vs the cache)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads")
    variants = ["original"] + [v for v in VARIANTS if v in args.variants and v != "original"]
    for name in args.sizes:
        bench_size(name, variants, args.repeats, args.profile, args.rows, args.dropout, args.floor)
        if args.text:
            bench_size(name, variants, args.repeats, False, args.rows, args.dropout, text_encoder=caption_encoder())
    if args.cache_throughput:
        cache_throughput()


if __name__ == "__main__":
    main()
