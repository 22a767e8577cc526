"""Does the denoiser keep a family's motion that is already there? Where along the sampling chain generated
motion loses a family's statistic, measured on real clips.

    python experiments/denoiser_drift.py [--cfg configs/pretrained_synthetic.yaml] [--family clap]
        [--data data/synthetic_fidelity] [--split train] [--clips 24] [--passes 3]
        [--starts 0,100,300,600,900] [key=value ...]

On the first --clips single-action clips of the family in --data (a window of the model's frame count from
the middle of each clip; shorter clips repeat their last frame, and only their own frames are measured) it
prints the family's statistic (crossdiff/motion/family_stats.py), as a ratio to the real windows', of
  - k passes of the guided x0 prediction at timestep 0 (the network applied to clean motion, then to its
    own output): a denoiser that keeps clean motion gives 1.00 at every k;
  - the configured sampler run from the real windows noised to each timestep of --starts (SDEdit): the
    smallest starts show what the chain's low-noise steps alone do to the statistic.
The model is resolved as in generate.py (test_checkpoint, the run's newest, else the shipped model) and
sampled with its diffusion settings (guidance scale and interval included). Writes the rows to
<save_dir>/<NAME>/eval/drift_<family>.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from crossdiff import runtime  # noqa: E402
from crossdiff.config import load_config  # noqa: E402
from crossdiff.diffusion.guidance import GuidedModel, head_denoiser  # noqa: E402
from crossdiff.diffusion.sampling import ancestral_step, ddim_step, run_steps  # noqa: E402
from crossdiff.errors import UserError, exit_code  # noqa: E402
from crossdiff.evaluation.family_fidelity import fidelity_cases  # noqa: E402
from crossdiff.evaluation.report import guidance_interval  # noqa: E402
from crossdiff.inference import load_sampler, resolve_model  # noqa: E402
from crossdiff.io import save_json  # noqa: E402
from crossdiff.motion.family_stats import family_statistic  # noqa: E402


class _NoBar:
    def update(self) -> None:
        pass


def middle_windows(data: Path, cases, frames: int, normalizer) -> torch.Tensor:
    """`[N, C, 1, frames]` normalised features: each clip's middle window, padded with its last frame."""
    windows = []
    for case in cases:
        features = np.load(data / "new_joint_vecs" / f"{case.clip_id}.npy")
        start = max(0, (len(features) - frames) // 2)
        window = features[start:start + frames]
        window = np.concatenate([window, np.repeat(window[-1:], frames - len(window), axis=0)])
        windows.append(normalizer.transform(window))
    return torch.tensor(np.stack(windows), dtype=torch.float32).permute(0, 2, 1).unsqueeze(2)


def mean_statistic(sampler, family: str, motion: torch.Tensor, lengths: list[int]) -> float:
    return float(np.mean([family_statistic(family, joints) for _, joints in sampler.to_joints(motion, lengths)]))


def drift_rows(sampler, family: str, windows: torch.Tensor, text_emb: torch.Tensor, lengths: list[int],
               passes: int, starts: list[int], seed: int = 0) -> list[dict]:
    """[{"label", "statistic", "ratio"}]: the real windows, k passes at timestep 0, the sampler from each start."""
    d = sampler.diffusion
    model = GuidedModel(sampler.model, d.guidance_scale, d.guidance_min_timestep)
    denoise = head_denoiser(model, text_emb, "m")
    process = d.sampling
    step = ddim_step(process, d.ddim_eta) if d.sampler == "ddim" else ancestral_step(process)
    timesteps = [int(t) for t in process.timestep_map]
    generator = torch.Generator().manual_seed(seed)
    real = mean_statistic(sampler, family, windows, lengths)
    rows = [("real clips", real)]
    with torch.no_grad():
        x, zero = windows, torch.zeros(len(windows), dtype=torch.long)
        for k in range(1, passes + 1):
            x = denoise(x, zero)
            rows.append((f"{k} pass{'es' if k > 1 else ''} at timestep 0", mean_statistic(sampler, family, x, lengths)))
        for start in starts:
            index = max(i for i, t in enumerate(timesteps) if t <= start)
            t = torch.full((len(windows),), timesteps[index], dtype=torch.long)
            noise = torch.randn(windows.shape, generator=generator)
            out = run_steps(denoise, step, process, d.q_sample(windows, t, noise), range(index, -1, -1),
                            generator, _NoBar())
            rows.append((f"sampler from timestep {timesteps[index]} ({index + 1} steps)",
                         mean_statistic(sampler, family, out, lengths)))
    return [{"label": label, "statistic": value, "ratio": value / real if real else float("nan")}
            for label, value in rows]


def main(cfg, family: str, data: Path, split: str, clips: int, passes: int, starts: list[int]) -> list[dict]:
    cfg = resolve_model(cfg).cfg
    rt = runtime.setup(cfg.device, cfg.seed)
    sampler = load_sampler(cfg, rt.device, runtime.get_logger())
    cases = [c for c in fidelity_cases(data, split, sampler.frames, clips) if c.family == family]
    if not cases:
        raise UserError(f"--data {data} has no single-action '{family}' clip in its {split} split "
                        f"(meta.json names each clip's family; make the folder with prepare/synthetic.py)")
    windows = middle_windows(data, cases, sampler.frames, sampler.normalizer).to(rt.device)
    text_emb = sampler.encode_text([c.caption for c in cases]).to(rt.device)
    rows = drift_rows(sampler, family, windows, text_emb, [c.length for c in cases], passes, starts, cfg.seed)
    d = cfg.diffusion
    print(f"{family}: {len(cases)} clips of the {split} split of {data}, {sampler.checkpoint}, {d.sampler}-"
          f"{d.sampling_steps}, guidance {d.guidance_scale}{guidance_interval(d.guidance_min_timestep)}")
    for row in rows:
        print(f"  {row['label']:<42} {row['statistic']:9.3f}  {row['ratio']:.2f}x")
    out = runtime.run_dir(cfg.save_dir, cfg.NAME) / "eval" / f"drift_{family}.json"
    save_json(out, {"checkpoint": sampler.checkpoint, "family": family, "clips": [c.clip_id for c in cases],
                    "rows": rows})
    return rows


def cli(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--cfg", default="configs/pretrained_synthetic.yaml")
    parser.add_argument("--family", default="clap")
    parser.add_argument("--data", type=Path, default=Path("data/synthetic_fidelity"))
    parser.add_argument("--split", default="train")
    parser.add_argument("--clips", type=int, default=24)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--starts", default="0,100,300,600,900", help="timesteps to start the sampler from")
    parser.add_argument("overrides", nargs="*", help="key=value config overrides")
    args = parser.parse_args(argv)

    def run():
        try:
            starts = [int(s) for s in args.starts.split(",") if s.strip()]
        except ValueError:
            raise UserError(f"--starts {args.starts!r}: give comma-separated integer timesteps, e.g. 0,100,300")
        return main(load_config(args.cfg, args.overrides), args.family, args.data, args.split, args.clips,
                    args.passes, starts)

    return exit_code(run)


if __name__ == "__main__":
    sys.exit(cli())
