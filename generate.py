"""Generate motions from captions: joints (.npy), features, stick-figure videos, optional BVH, a gallery.

    python generate.py --cfg configs/crossdiff_finetune.yaml test_checkpoint=./data/checkpoints/pretrain.pt
    python generate.py --cfg ... --text "a person jumps forward" --text "someone waves" generate.length=4 \
        generate.length_unit=seconds sample_times=3 diffusion.sampler=ddim diffusion.sampling_steps=50 \
        diffusion.guidance_scale=2.5

Without a checkpoint (no test_checkpoint, nothing trained in <save_dir>/<NAME>) the shipped pretrained
model in weights/pretrained_synthetic is used, and the output says so.
Writes `<save_dir>/<NAME>/generate/` (or generate.output_dir): `<i>.npy` joints [L, 22, 3] in metres,
`<i>_features.npy`, `<i>.mp4`, `index.json`, `index.html` and the resolved config.yaml. Lengths in
seconds and video frame rates follow the skeleton (HumanML3D 20 fps; KIT-ML 12.5 fps, [L, 21, 3] in mm).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from crossdiff import runtime
from crossdiff.config import config_parser, load_config, to_yaml
from crossdiff.errors import exit_code
from crossdiff.evaluation.report import guidance_interval
from crossdiff.generation import requests_from_config, run_generation, write_index
from crossdiff.inference import load_sampler, resolve_model, skeleton_for_width


def main(cfg, progress: bool = True) -> Path:
    """Generate every requested sample; returns the output folder."""
    resolved = resolve_model(cfg)            # the shipped model (no checkpoint anywhere) brings its own config
    cfg, gen = resolved.cfg, resolved.cfg.generate
    skeleton = skeleton_for_width(cfg.model.njoints_m)
    requests = requests_from_config(gen, cfg.model.max_frames, skeleton.fps)
    rt = runtime.setup(cfg.device, cfg.seed)
    out_dir = Path(gen.output_dir) if gen.output_dir else runtime.run_dir(cfg.save_dir, cfg.NAME) / "generate"
    out_dir, log = runtime.start_run(out_dir.parent, out_dir.name, to_yaml(cfg), rt.is_main)
    if resolved.note:
        log.info(resolved.note)
    sampler = load_sampler(cfg, rt.device, log)
    d = cfg.diffusion
    log.info(f"{len(requests)} samples from {sampler.checkpoint}: path {gen.path}, {d.sampler} "
             f"{d.sampling_steps} steps, guidance {d.guidance_scale}{guidance_interval(d.guidance_min_timestep)}")
    entries = run_generation(sampler, requests, out_dir, gen, cfg.seed, d.guidance_scale, progress)
    write_index(out_dir, entries, {"checkpoint": sampler.checkpoint, "sampler": d.sampler,
                                   "sampling_steps": d.sampling_steps, "guidance_scale": d.guidance_scale,
                                   "guidance_min_timestep": d.guidance_min_timestep,
                                   "path": gen.path, "fps": skeleton.fps})
    log.info(f"wrote {len(entries)} samples to {out_dir} (open index.html)")
    return out_dir


def cli(argv=None) -> int:
    parser = config_parser(__doc__, "configs/crossdiff_finetune.yaml")
    parser.add_argument("--text", action="append", help="a caption (repeatable); replaces generate.captions")
    args = parser.parse_intermixed_args(argv)  # --text may stand between key=value overrides
    overrides = list(args.overrides)
    if args.text:
        # JSON is valid YAML flow syntax and quotes any caption safely.
        overrides += [f"generate.captions={json.dumps(args.text)}", "generate.captions_file=null"]
    return exit_code(lambda: main(load_config(args.cfg, overrides)))


if __name__ == "__main__":
    sys.exit(cli())
