"""Benchmark one replication of the T2M protocol with the demo-size model: DDPM-1000 against DDIM-50.

    python bench/eval_bench.py [--batches 2] [--batch-size 32] [--data data/synthetic] [--threads 1]
                               [--samplers ddpm-1000,ddim-50]

Random weights everywhere (model from configs/demo_finetune.yaml, random CLIP text tower, a random
`all` evaluator): the figures are times, not scores. For each sampler it runs one replication of
`--batches` batches on the synthetic test split (generated into a temporary folder when --data is
missing or too small) and prints the wall time split into sampling, evaluator + data loading (per
batch) and metrics (per replication; FID's 512 x 512 matrix square root dominates), and the projection
to the paper's replication (test_limit=20 batches) and to the whole protocol (20 replications).
DDPM-1000 at batch 32 takes many minutes per batch on a CPU: `--batches 1` is enough to see it.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crossdiff.config import CONFIG_DIR, load_config, section_kwargs  # noqa: E402
from crossdiff.evaluation.evaluator import T2MEvaluator  # noqa: E402
from crossdiff.evaluation.protocol import build_protocol, sampler_generate  # noqa: E402
from crossdiff.inference import build_sampler  # noqa: E402
from crossdiff.model import build_model  # noqa: E402
from crossdiff.text_encoder import build_text_encoder  # noqa: E402

DEMO_CONFIG = CONFIG_DIR / "demo_finetune.yaml"
FALLBACK_MODEL = ["model.latent_dim=128", "model.layers=2", "model.layers2=2"]
PAPER_BATCHES, PAPER_REPLICATIONS = 20, 20
TEST_SHARE = 0.15          # prepare/synthetic.py puts 15% of the clips (and their mirrors) in the test split


def synthetic_folder(data: Path | None, items: int, scratch: Path) -> Path:
    """`data` when its test split has `items` ids, else a fresh synthetic folder large enough."""
    if data is not None and (data / "test.txt").is_file():
        if len((data / "test.txt").read_text().split()) >= items:
            return data
        print(f"{data} has fewer than {items} test items; generating a larger synthetic folder")
    from prepare.synthetic import make_tiny_dataset

    clips = math.ceil(items / 2 / TEST_SHARE) + 4
    print(f"generating {clips} synthetic clips in {scratch} ...", flush=True)
    return make_tiny_dataset(scratch / "synthetic", clips=clips, seed=0)


def bench_config(folder: Path, evaluators: Path, args, sampler: str, steps: int):
    stage = DEMO_CONFIG if DEMO_CONFIG.is_file() else None
    overrides = [] if stage else list(FALLBACK_MODEL)
    overrides += [f"data.data_root={folder}", f"data.meta_dir={folder}", f"data.glove_dir={folder / 'glove'}",
                  "device=cpu", "text_encoder.clip_weights=random", "text_encoder.cache_dir=null",
                  f"diffusion.sampler={sampler}", f"diffusion.sampling_steps={steps}", "diffusion.guidance_scale=1.0",
                  "test.replications=1", f"test.test_limit={args.batches}", f"test.batch_size={args.batch_size}",
                  f"test.evaluator_dir={evaluators}", "test.eval_part=all"]
    return load_config(stage, overrides)


def timed(fn):
    """Wrap `fn` so that the time spent inside it accumulates in `.seconds`."""
    def wrapped(*args):
        start = time.perf_counter()
        out = fn(*args)
        wrapped.seconds += time.perf_counter() - start
        return out

    wrapped.seconds = 0.0
    return wrapped


def run_one(cfg, model, encode_text) -> dict:
    """Wall time of one replication, split into sampling, metrics (FID's sqrtm, once per replication) and
    the rest (data loading and the evaluator, per batch)."""
    protocol = build_protocol(cfg, "cpu", progress=False)
    sampler = build_sampler(cfg, model, "cpu", encode_text=encode_text)
    generate = timed(sampler_generate(sampler, cfg.test.path, cfg.test.change_idx, seed=0))
    protocol.metrics = timed(protocol.metrics)
    start = time.perf_counter()
    protocol.run(generate, progress=True)
    wall = time.perf_counter() - start
    return {"wall": wall, "sampling": generate.seconds, "metrics": protocol.metrics.seconds}


def main(args) -> None:
    torch.set_num_threads(args.threads)
    samplers = [(name.split("-")[0], int(name.split("-")[1])) for name in args.samplers.split(",")]
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        folder = synthetic_folder(args.data, args.batches * args.batch_size, scratch)
        torch.manual_seed(0)
        T2MEvaluator("all").save(scratch / "all.tar")
        first = bench_config(folder, scratch, args, *samplers[0])
        model = build_model(**section_kwargs(first.model)).eval()
        encode_text = build_text_encoder(device="cpu", **section_kwargs(first.text_encoder))
        params = sum(p.numel() for p in model.parameters()) / 1e6
        print(f"model {'configs/demo_finetune.yaml' if DEMO_CONFIG.is_file() else ' '.join(FALLBACK_MODEL)}: "
              f"{params:.2f}M parameters, {first.model.max_frames} frames; {args.batches} batches of "
              f"{args.batch_size}; {args.threads} torch thread(s)")
        rows = []
        for sampler, steps in samplers:
            found = run_one(bench_config(folder, scratch, args, sampler, steps), model, encode_text)
            rows.append((f"{sampler.upper()}-{steps}", found))
    print(f"\n| sampler | replication of {args.batches} batch(es) (s) | sampling | evaluator + data | metrics "
          f"| paper replication, {PAPER_BATCHES} batches (min) | {PAPER_REPLICATIONS} replications (h) |")
    print("|---|---|---|---|---|---|---|")
    for name, t in rows:
        per_batch = (t["wall"] - t["metrics"]) / args.batches
        projected = per_batch * PAPER_BATCHES + t["metrics"]
        print(f"| {name} | {t['wall']:.1f} | {t['sampling']:.1f} s ({100 * t['sampling'] / t['wall']:.0f}%) "
              f"| {t['wall'] - t['sampling'] - t['metrics']:.1f} s | {t['metrics']:.1f} s | {projected / 60:.1f} "
              f"| {projected * PAPER_REPLICATIONS / 3600:.2f} |")


def cli(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=2, help="batches in the measured replication")
    parser.add_argument("--batch-size", type=int, default=32, help="texts per batch (the paper: 32)")
    parser.add_argument("--data", type=Path, default=Path("data/synthetic"), help="synthetic folder to reuse")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (others may share the CPU)")
    parser.add_argument("--samplers", default="ddpm-1000,ddim-50", help="comma list of SAMPLER-STEPS")
    main(parser.parse_args(argv))


if __name__ == "__main__":
    cli()
