"""Evaluate a checkpoint with the T2M protocol: R-Precision, FID, MM-Dist, Diversity, MultiModality, FID-U/L.

    python test.py --cfg configs/crossdiff_finetune.yaml [key=value ...]
    python test.py --cfg configs/crossdiff_finetune.yaml test_checkpoint=data/checkpoints/crossdiff.pt \\
        test.eval_part=[all,upper,lower]                      # the paper's table with FID-U and FID-L
    python test.py --cfg configs/demo_finetune.yaml test.evaluator_dir=save/evaluator  # synthetic data

The checkpoint is `test_checkpoint`, else the newest of `<save_dir>/<NAME>`, else the shipped pretrained
model (weights/pretrained_synthetic, evaluated on data/synthetic). Evaluators come from
`test.evaluator_dir` (null: data.meta_dir): the official ones (`bash prepare/download_t2m_evaluators.sh`)
or ones trained with train_evaluator.py. The paper's protocol is the default `test:` section
(20 replications x 20 batches of 32, docs/original_code.md §9.4); `test.test_limit=full` evaluates the whole split.
Writes `<save_dir>/<NAME>/eval/<tag or timestamp>.json` and `.md` (metrics, sampler settings,
checkpoint, resolved config) and prints the table.
"""

from __future__ import annotations

import sys

from crossdiff import runtime
from crossdiff.config import config_parser, load_config, section_kwargs, to_yaml
from crossdiff.errors import UserError, exit_code
from crossdiff.evaluation.family_fidelity import configured_cases, family_fidelity, fidelity_markdown, sampler_joints
from crossdiff.evaluation.protocol import build_protocol, sampler_generate
from crossdiff.evaluation.report import build_report, save_report
from crossdiff.inference import load_sampler, resolve_model


def sampler_settings(cfg) -> dict:
    """What generated the motions: the diffusion sampler and the sampling path of `test:`."""
    d = cfg.diffusion
    return {"sampler": d.sampler, "sampling_steps": d.sampling_steps, "diffusion_steps": d.diffusion_steps,
            "ddim_eta": d.ddim_eta, "guidance_scale": d.guidance_scale,
            "guidance_min_timestep": d.guidance_min_timestep, "precision": d.precision,
            "path": cfg.test.path, "change_idx": cfg.test.change_idx}


def family_rows(cfg, sampler, cases, family_root, log) -> list[dict]:
    """The per-family fidelity rows of `cases` (configured_cases: synthetic data's meta.json names each clip's
    family); [] without cases (HumanML3D, or test.family_clips=0)."""
    if not cases:
        return []
    log.info(f"per-family fidelity: {len(cases)} clips of {family_root} x {cfg.test.family_samples} samples")
    generate = sampler_joints(sampler, cfg.test.batch_size, cfg.seed, cfg.test.path)
    return family_fidelity(cases, family_root, generate, cfg.test.family_samples)


def main(cfg) -> dict:
    """Evaluate the configured checkpoint; returns the report (also saved in <save_dir>/<NAME>/eval/)."""
    rt = runtime.setup(cfg.device, cfg.seed)
    if rt.distributed:
        raise UserError("test.py evaluates in one process; start it with python, not torchrun")
    log = runtime.get_logger()
    resolved = resolve_model(cfg)                           # the shipped model brings its own config
    cfg = resolved.cfg
    if resolved.note:
        log.info(resolved.note)
    protocol = build_protocol(cfg, rt.device, log)          # data and evaluators first: fail before the model
    sampler = load_sampler(cfg, rt.device, log)
    cases, family_root, family_split = configured_cases(cfg.test, cfg.data.data_root, sampler.frames)  # fail early
    out_dir, log = runtime.start_run(cfg.save_dir, cfg.NAME, to_yaml(cfg), subdir="eval")  # inputs are fine now
    settings = sampler_settings(cfg)
    log.info(f"evaluating {sampler.checkpoint} with {settings}")
    generate = sampler_generate(sampler, cfg.test.path, cfg.test.change_idx, seed=cfg.seed)
    results = protocol.run(generate)
    report = build_report(results, name=cfg.NAME, checkpoint=sampler.checkpoint, sampler=settings,
                          config=section_kwargs(cfg), tag=cfg.test.tag)
    report["families"] = family_rows(cfg, sampler, cases, family_root, log)
    if report["families"]:
        report["families_from"] = f"the {family_split} split of {family_root}"
    json_path, md_path = save_report(report, out_dir, cfg.test.tag)
    log.info(f"results ({results['seconds']:.0f} s) in {json_path} and {md_path}:\n{report['table']}")
    if report["families"]:
        log.info(f"per-family fidelity (the statistic that defines each family, real vs generated):\n"
                 f"{fidelity_markdown(report['families'])}")
    runtime.teardown()
    return report


def cli(argv=None) -> int:
    args = config_parser(__doc__, "configs/crossdiff_finetune.yaml").parse_args(argv)
    return exit_code(lambda: main(load_config(args.cfg, args.overrides)))


if __name__ == "__main__":
    sys.exit(cli())
