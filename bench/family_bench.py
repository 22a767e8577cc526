"""Per-family fidelity of a model on the synthetic test split, without the rest of the T2M protocol.

    python bench/family_bench.py [--cfg configs/pretrained_synthetic.yaml] [key=value ...]
    python bench/family_bench.py --cfg configs/demo_finetune.yaml test.family_clips=6 test.family_samples=3

For each motion family, the statistic that defines it (root rise for jumps and hops, foot lift for
kicks, wrist above shoulder for waves, ...; crossdiff/motion/family_stats.py) on real test clips and
on motions generated for their captions, with the pass mark (generated within 30% of real). The
checkpoint is resolved as in generate.py (test_checkpoint, else the run's newest, else the shipped
model). Prints the table and writes it to <save_dir>/<NAME>/eval/families.{md,json}.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crossdiff import runtime  # noqa: E402
from crossdiff.config import config_parser, load_config  # noqa: E402
from crossdiff.errors import UserError, exit_code  # noqa: E402
from crossdiff.evaluation.family_fidelity import (configured_cases, family_fidelity, fidelity_markdown,  # noqa: E402
                                                  sampler_joints)
from crossdiff.inference import load_sampler, resolve_model  # noqa: E402
from crossdiff.io import save_json, save_text  # noqa: E402


def main(cfg) -> list[dict]:
    cfg = resolve_model(cfg).cfg
    rt = runtime.setup(cfg.device, cfg.seed)
    log = runtime.get_logger()
    sampler = load_sampler(cfg, rt.device, log)
    if cfg.test.family_clips < 1:
        raise UserError(f"test.family_clips={cfg.test.family_clips}: the bench needs at least 1 clip a family")
    cases, root, split = configured_cases(cfg.test, cfg.data.data_root, sampler.frames)
    if not cases:
        raise UserError(f"data.data_root={cfg.data.data_root} names no clip's family (no meta.json with clips_meta): "
                        f"make it with python prepare/synthetic.py --out {cfg.data.data_root}")
    started = time.perf_counter()
    generate = sampler_joints(sampler, cfg.test.batch_size, cfg.seed, cfg.test.path)
    rows = family_fidelity(cases, root, generate, cfg.test.family_samples)
    table = fidelity_markdown(rows)
    out = runtime.run_dir(cfg.save_dir, cfg.NAME) / "eval"
    save_json(out / "families.json", {"checkpoint": sampler.checkpoint, "rows": rows,
                                      "seconds": time.perf_counter() - started})
    source = f"the {split} split of {root}"
    save_text(out / "families.md", f"checkpoint `{sampler.checkpoint}`, clips of {source}\n\n{table}\n")
    print(f"{len(cases)} clips of {source} x {cfg.test.family_samples} samples from {sampler.checkpoint} "
          f"in {time.perf_counter() - started:.0f} s\n\n{table}")
    return rows


def cli(argv=None) -> int:
    args = config_parser(__doc__, "configs/pretrained_synthetic.yaml").parse_args(argv)
    return exit_code(lambda: main(load_config(args.cfg, args.overrides)))


if __name__ == "__main__":
    sys.exit(cli())
