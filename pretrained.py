"""Train, evaluate and export the shipped pretrained model (`make pretrained`), resumably.

    python pretrained.py [--steps N] [--pre-steps N] [--data data/synthetic_large] [--out weights/pretrained_synthetic]
    python pretrained.py --evaluate     # evaluate the exported model again (after changing the recipe's sampling)

Steps (each resumes or is skipped when its output exists):
    1. synthetic dataset    prepare/synthetic.py --clips 1280                 -> data/synthetic_large/
    2. evaluator            train_evaluator.py configs/pretrained_evaluator.yaml -> data/synthetic_large/all.tar
    3. stage I              train.py configs/pretrained_synthetic_pre.yaml   -> save/pretrained_synthetic_pre/
    4. stage II             train.py configs/pretrained_synthetic.yaml       -> save/pretrained_synthetic/
    5. evaluation           test.py (whole test split, 3 replications, per-family table)
    6. export               the EMA weights in bfloat16 + config + statistics + manifest (sha256) + README
                            -> weights/pretrained_synthetic/ (what generate.py, test.py and the web demo
                            use when no checkpoint is given)
`--steps` / `--pre-steps` shorten the stages (the full recipe takes about 2 hours on 2 idle cores: the evaluator
~15 min, stage II ~75 min at ~7 steps/s).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

import torch
from omegaconf import OmegaConf

from crossdiff.config import load_config, to_yaml
from crossdiff.errors import UserError, exit_code
from crossdiff.evaluation.family_fidelity import fidelity_markdown
from crossdiff.evaluation.report import report_markdown
from crossdiff.inference import MANIFEST
from crossdiff.io import atomic_path, save_json, save_text, torch_load, torch_save
from crossdiff.weights import resolve_checkpoint, sha256_of, state_dict_of

REPO = Path(__file__).resolve().parent
CLIPS = 1280                 # synthetic clips before mirroring: 4x the demo's (walks had 9 training clips there)
EVAL = ["test.replications=3", "test.test_limit=full", "test.tag=pretrained", "test.family_clips=16"]
STATISTICS = ("Mean.npy", "Std.npy", "Mean_complicate2d.npy", "Std_complicate2d.npy")
WEIGHTS, CONFIG, DTYPE = "model.pt", "config.yaml", torch.bfloat16
_LOG_LINE = re.compile(r"step (\d+) epoch \d+ (.*?) lr=")


def half_state_dict(checkpoint: Path) -> tuple[dict, dict]:
    """(the EMA weights, else the model's, in bfloat16; the raw checkpoint)."""
    ckpt = torch_load(checkpoint)
    state = state_dict_of(ckpt, checkpoint, prefer_ema=True)
    return {k: v.detach().to(DTYPE).contiguous() if v.is_floating_point() else v for k, v in state.items()}, ckpt


def training_summary(run: Path, last_step: int | None = None) -> str:
    """Every 10th logged step of the run's log.txt up to `last_step` (step, loss terms) and the last one, as Markdown."""
    log = run / "log.txt"
    lines = [m for m in map(_LOG_LINE.search, log.read_text().splitlines() if log.is_file() else []) if m]
    lines = [m for m in lines if last_step is None or int(m.group(1)) <= last_step]
    keep = lines[::10] + lines[-1:] if lines else []
    rows = ["| step | losses |", "| --- | --- |"] + [f"| {m.group(1)} | {m.group(2)} |" for m in keep]
    return "\n".join(rows) if keep else "(no training log found)"


def export_pretrained(run: Path, cfg, report: dict | None, out: Path) -> Path:
    """Write the shipped-model folder `out` from the newest checkpoint of `run` (see the module docstring)."""
    checkpoint = resolve_checkpoint(run)
    state, ckpt = half_state_dict(checkpoint)
    out.mkdir(parents=True, exist_ok=True)
    torch_save(out / WEIGHTS, state)
    for name in STATISTICS:
        source = Path(cfg.data.meta_dir) / name
        if not source.is_file():
            raise UserError(f"{source} is missing: the shipped model needs the statistics it was trained with")
        with atomic_path(out / name) as tmp:
            shutil.copyfile(source, tmp)
    save_text(out / CONFIG, to_yaml(cfg))
    step = ckpt.get("step") if isinstance(ckpt, dict) else None
    save_text(out / "training.md", f"# Training log of {checkpoint}\n\n{training_summary(Path(run), step)}\n")
    if report is not None:
        save_text(out / "evaluation.md", report_markdown(report))
    ema = isinstance(ckpt, dict) and ckpt.get("ema") is not None
    manifest = {"weights": WEIGHTS, "sha256": sha256_of(out / WEIGHTS), "dtype": str(DTYPE).removeprefix("torch."),
                "config": CONFIG, "statistics": list(STATISTICS), "source": str(checkpoint),
                "step": step, "ema": ema,
                "parameters": sum(v.numel() for v in state.values()), "bytes": (out / WEIGHTS).stat().st_size}
    save_json(out / MANIFEST, manifest)
    save_text(out / "README.md", shipped_readme(manifest, cfg, report))
    return out


def shipped_readme(manifest: dict, cfg, report: dict | None) -> str:
    """The folder's README: what the files are, how they are used and checked, and the evaluation."""
    m = cfg.model
    lines = [
        "# Shipped pretrained CrossDiff (synthetic dataset)", "",
        "`generate.py`, `test.py` and the web demo use this model when no checkpoint is given and the run "
        "has none (`pretrained_dir` in configs/base.yaml); their output says so. Made by "
        f"`python pretrained.py --steps {manifest['step']}` (`make pretrained` runs the whole recipe); see the main "
        "README's \"Shipped pretrained model\".", "",
        f"- `{manifest['weights']}`: {'EMA ' if manifest['ema'] else ''}weights after {manifest['step']} stage-II steps, "
        f"{manifest['dtype']}, {manifest['parameters']:,} values, {manifest['bytes'] / 2**20:.1f} MiB; "
        f"sha256 `{manifest['sha256']}` (checked on every load, which uses `torch.load(weights_only=True)`)",
        f"- `{manifest['config']}`: the resolved stage-II config (latent {m.latent_dim}, {m.layers}+{m.layers2} layers, "
        f"{m.max_frames} frames, random CLIP text tower; sampling {cfg.diffusion.sampler}-{cfg.diffusion.sampling_steps}, "
        f"guidance {cfg.diffusion.guidance_scale})",
        "- `Mean.npy`, `Std.npy`, `Mean_complicate2d.npy`, `Std_complicate2d.npy`: the statistics it was trained with",
        "- `training.md`: the training log (loss every few hundred steps); `evaluation.md`: the full evaluation report",
        "- `manifest.json`: the file names, sha256, step and sizes", ""]
    if report is not None:
        lines += ["## Evaluation", "", f"Synthetic test split, {report['protocol']['replications']} replications of the "
                  f"whole split, {report['sampler']['sampler']}-{report['sampler']['sampling_steps']}, guidance "
                  f"{report['sampler']['guidance_scale']}:", "", report["table"], ""]
        if report.get("families"):
            lines += ["Per-family fidelity (the statistic that defines each family, real test clips vs motions "
                      "generated for their captions):", "", fidelity_markdown(report["families"]), ""]
    return "\n".join(lines)


def _config(name: str, data: Path, extra: list[str]):
    paths = [f"data.data_root={data}", f"data.meta_dir={data}", f"data.glove_dir={data / 'glove'}"]
    return load_config(REPO / "configs" / name, paths + extra)


def make_dataset(data: Path) -> None:
    from prepare.synthetic import main as generate

    if (data / "meta.json").is_file() and (data / "Mean_complicate2d.npy").is_file():
        return print(f"[pretrained] 1. dataset: {data} exists")
    generate(data, clips=CLIPS, seed=0, workers=2, overwrite=True)


def make_evaluator(data: Path) -> None:
    import train_evaluator

    if (data / "all.tar").is_file():
        return print(f"[pretrained] 2. evaluator: {data / 'all.tar'} exists")
    train_evaluator.main(_config("pretrained_evaluator.yaml", data, []))


def main(data: Path, out: Path, steps: int | None, pre_steps: int | None) -> Path:
    import test
    import train

    make_dataset(data)
    make_evaluator(data)
    pre = train.main(_config("pretrained_synthetic_pre.yaml", data, [f"train.max_steps={pre_steps}"] if pre_steps else []))
    stage2 = [f"train.resume_checkpoint={pre}"] + ([f"train.max_steps={steps}"] if steps else [])
    cfg = _config("pretrained_synthetic.yaml", data, stage2)
    run = train.main(cfg)
    report = test.main(_config("pretrained_synthetic.yaml", data, stage2 + EVAL))
    folder = export_pretrained(run, cfg, report, out)
    print(f"\n{report['table']}\n\nshipped model written to {folder}")
    return folder


SAMPLING = ("sampler", "sampling_steps", "guidance_scale", "guidance_min_timestep")


def reevaluate(data: Path, out: Path) -> Path:
    """Evaluate the shipped folder `out` again with the recipe's sampling settings (e.g. after a guidance sweep):
    its config.yaml takes configs/pretrained_synthetic.yaml's sampler, steps and guidance scale, and its
    evaluation.md and README.md are rewritten; the weights and manifest stay as they are."""
    import test

    if not (out / MANIFEST).is_file():
        raise UserError(f"{out / MANIFEST} is missing: --evaluate needs an exported model folder (--out)")
    make_dataset(data)
    make_evaluator(data)
    manifest = json.loads((out / MANIFEST).read_text())
    recipe = _config("pretrained_synthetic.yaml", data, [])
    shipped = OmegaConf.load(out / manifest["config"])
    shipped.diffusion.update({key: recipe.diffusion[key] for key in SAMPLING})
    save_text(out / manifest["config"], to_yaml(shipped))
    report = test.main(_config("pretrained_synthetic.yaml", data, EVAL + [
        f"pretrained_dir={out.resolve()}", f"test_checkpoint={(out / manifest['weights']).resolve()}"]))
    checkpoint = Path(report["checkpoint"])
    if checkpoint.is_relative_to(REPO):                     # the committed page names no machine's paths
        report["checkpoint"] = str(checkpoint.relative_to(REPO))
    save_text(out / "evaluation.md", report_markdown(report))
    save_text(out / "README.md", shipped_readme(manifest, shipped, report))
    print(f"\n{report['table']}\n\n{out} re-evaluated")
    return out


def cli(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, help="stage-II steps (default: the config's train.max_steps)")
    parser.add_argument("--pre-steps", type=int, help="stage-I steps (default: the config's train.max_steps)")
    parser.add_argument("--data", type=Path, default=Path("data/synthetic_large"), help="the synthetic dataset folder")
    parser.add_argument("--out", type=Path, default=REPO / "weights" / "pretrained_synthetic", help="export folder")
    parser.add_argument("--evaluate", action="store_true",
                        help="only evaluate the exported folder again with the recipe's sampling settings")
    args = parser.parse_args(argv)
    if args.evaluate:
        return exit_code(lambda: reevaluate(args.data, args.out))
    return exit_code(lambda: main(args.data, args.out, args.steps, args.pre_steps))


if __name__ == "__main__":
    sys.exit(cli())
