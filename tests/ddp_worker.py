"""Run by torchrun in test_train.py: train like train.main, then dump this rank's weights."""

import os
import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

import torch  # noqa: E402

from crossdiff import runtime  # noqa: E402
from crossdiff.config import load_config, to_yaml  # noqa: E402
from crossdiff.training.setup import build_objective, build_trainer, build_training_data  # noqa: E402

cfg = load_config(None, sys.argv[1:])
rt = runtime.setup(cfg.device, cfg.seed)
run, log = runtime.start_run(cfg.save_dir, cfg.NAME, to_yaml(cfg), rt.is_main)
dataset, collate_fn, worker_init_fn = build_training_data(cfg, log)
objective, encode_text = build_objective(cfg, rt, log)
trainer = build_trainer(cfg, objective, encode_text, dataset, collate_fn, worker_init_fn, rt, run, log)
trainer.fit()
torch.save(trainer.model.state_dict(), Path(os.environ["CROSSDIFF_RANK_DUMP"]) / f"rank{rt.rank}.pt")
runtime.teardown()
