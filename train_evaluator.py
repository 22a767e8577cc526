"""Train a T2M text-motion evaluator (Guo et al., CVPR 2022) on a HumanML3D-format folder.

    python train_evaluator.py --cfg configs/demo_evaluator.yaml [key=value ...]
    python train_evaluator.py --cfg CONFIG evaluator.part=lower data.data_root=... data.meta_dir=...

Stage 1 fits the movement auto-encoder, stage 2 the text/motion co-embedding with the contrastive
margin loss; the weights with the best validation R-precision are written in the official layout to
`evaluator.out_path` (default `<data.meta_dir>/<part>.tar`, where evaluation looks for them).
The run folder `<save_dir>/<NAME>/evaluator_<part>/` holds config.yaml, log.txt, the per-stage
resume states, best_<part>.tar and summary.json; a killed run continues at its next epoch.
"""

from __future__ import annotations

import sys

import torch

from crossdiff import runtime
from crossdiff.config import config_parser, load_config, section_kwargs, to_yaml
from crossdiff.data.registry import build_dataset
from crossdiff.errors import exit_code
from crossdiff.evaluation.training import EvaluatorTrainingSettings, fit_evaluator


def build_splits(cfg, settings: EvaluatorTrainingSettings, log):
    """(train, validation, test or None) datasets of evaluation items (captions with GloVe arrays)."""
    data, built = section_kwargs(cfg.data), {}

    def split(name):
        if name not in built:   # a split named twice (e.g. val_split=train) is read once
            built[name] = build_dataset(name, seed=cfg.seed, max_frames=cfg.model.max_frames, kind="eval",
                                        progress=settings.progress, **data)
            log.info(f"{name} split: {len(built[name])} items")
        return built[name]

    test = split(settings.test_split) if settings.test_split else None
    return split("train"), split(settings.val_split), test


def main(cfg) -> dict:
    """Train the evaluator for `cfg`; returns the summary (also written to summary.json)."""
    settings = EvaluatorTrainingSettings(seed=cfg.seed, **section_kwargs(cfg.evaluator))
    threads = torch.get_num_threads()
    if settings.torch_threads:
        torch.set_num_threads(settings.torch_threads)
    try:
        rt = runtime.setup(cfg.device, cfg.seed)
        run, log = runtime.start_run(cfg.save_dir, cfg.NAME, to_yaml(cfg), rt.is_main,
                                     subdir=f"evaluator_{settings.part}")
        log.info(f"run {run} on {rt.device}")
        train_set, val_set, test_set = build_splits(cfg, settings, log)
        summary = fit_evaluator(train_set, val_set, test_set, settings, run, log, rt.device)
        runtime.teardown()
    finally:
        torch.set_num_threads(threads)  # callers in the same process (demo.py) keep their own setting
    return summary


def cli(argv=None) -> int:
    args = config_parser(__doc__, "configs/demo_evaluator.yaml").parse_args(argv)
    return exit_code(lambda: main(load_config(args.cfg, args.overrides)))


if __name__ == "__main__":
    sys.exit(cli())
