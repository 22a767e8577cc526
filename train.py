"""Train CrossDiff: stage I (`pretrain`), stage II (`finetune`) or 2D-only data (`finetune_ucf`).

    python train.py --cfg configs/crossdiff_pre.yaml [key=value ...]
    torchrun --nproc_per_node=N train.py --cfg ...          # multi-GPU / multi-node (DDP)

Writes `<save_dir>/<NAME>/`: config.yaml, log.txt, TensorBoard events, checkpoints/stepXXXXXXXX.pt.
A killed run continues where its newest checkpoint left off (`train.resume=auto`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from crossdiff import runtime
from crossdiff.config import config_parser, load_config, to_yaml
from crossdiff.errors import exit_code
from crossdiff.evaluation.protocol import training_evaluate_fn
from crossdiff.inference import build_sampler
from crossdiff.training.setup import (build_objective, build_trainer, build_training_data, center_text_if_asked,
                                     warm_text_cache)


def main(cfg) -> Path:
    """Run training for the config `cfg`; returns the run directory."""
    rt = runtime.setup(cfg.device, cfg.seed)
    run, log = runtime.start_run(cfg.save_dir, cfg.NAME, to_yaml(cfg), rt.is_main)
    log.info(f"run {run} on {rt.device} (world size {rt.world_size}), mode {cfg.train.mode}")
    dataset, collate_fn, worker_init_fn = build_training_data(cfg, log)
    objective, encode_text = build_objective(cfg, rt, log)
    warm_text_cache(encode_text, dataset, log, progress=rt.is_main)
    center_text_if_asked(cfg, objective, encode_text, dataset, log)
    evaluate_fn = quick_evaluation(cfg, rt, encode_text, log) if cfg.train.eval_interval > 0 and rt.is_main else None
    trainer = build_trainer(cfg, objective, encode_text, dataset, collate_fn, worker_init_fn, rt, run, log,
                            evaluate_fn)
    step = trainer.fit()
    log.info(f"finished at step {step}; checkpoints in {run / 'checkpoints'}")
    runtime.teardown()
    return run


def quick_evaluation(cfg, rt, encode_text, log):
    """`evaluate_fn(model, step)`: one short replication of the T2M protocol (test.quick_batches batches)."""
    def sampler_for(model):
        return build_sampler(cfg, model, rt.device, log, encode_text)

    return training_evaluate_fn(cfg, rt.device, sampler_for, log)


def cli(argv=None) -> int:
    args = config_parser(__doc__, "configs/crossdiff_pre.yaml").parse_args(argv)
    return exit_code(lambda: main(load_config(args.cfg, args.overrides)))


if __name__ == "__main__":
    sys.exit(cli())
