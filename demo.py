"""The whole system on the embedded synthetic dataset, in one resumable command (`make demo`).

    python demo.py [--quick] [--out save] [--data data/synthetic]

Steps (each skipped when its output already exists, so an interrupted demo continues where it stopped):
    1. synthetic dataset          prepare/synthetic.py            -> data/synthetic/
    2. evaluator                  train_evaluator.py              -> data/synthetic/all.tar
    3. stage I  (4 cross paths)   train.py configs/demo_pre.yaml  -> save/demo_pre/
    4. stage II (3D fine-tune)    train.py configs/demo_finetune.yaml -> save/demo_finetune/
    5. evaluation                 test.py                         -> save/demo_finetune/eval/demo.{json,md}
    6. generation (held-out captions)  generate.py               -> save/demo_finetune/generate/
    7. SMPL fitting of the first sample (the built-in mannequin unless SMPL files exist)  fit_smpl.py -> 0_mesh.npy
    8. Blender rendering of it, when Blender is installed         render_blender.py -> 0_blender.mp4
and a summary: the metrics table and where every output is.
`--quick` shrinks every step (a smoke test of the pipeline in a few minutes; numbers meaningless).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from crossdiff.config import load_config
from crossdiff.errors import UserError, exit_code

REPO = Path(__file__).resolve().parent
HELD_OUT_CAPTIONS = 4
QUICK = {  # --quick: every step tiny
    "clips": 128,
    "evaluator": ["evaluator.movement_epochs=1", "evaluator.coemb_epochs=1", "evaluator.val_rounds=1",
                  "evaluator.pairs_per_batch=8", "evaluator.val_split=test", "evaluator.test_split=null"],
    "train": ["train.max_steps=4", "train.save_interval=4", "train.batch_size=8", "model.max_frames=48"],
    "test": ["test.replications=1", "test.test_limit=2", "test.batch_size=8", "diffusion.sampling_steps=2",
             "model.max_frames=48"],
    "generate": ["diffusion.sampling_steps=2", "model.max_frames=48"],
    "fit_iterations": 5,
}


def _config(name: str, data: Path, save: Path, extra: list[str]):
    paths = [f"data.data_root={data}", f"data.meta_dir={data}", f"data.glove_dir={data / 'glove'}",
             f"save_dir={save}"]
    return load_config(REPO / "configs" / name, paths + extra)


def step_dataset(data: Path, quick: bool) -> None:
    from prepare.synthetic import DEFAULT_CLIPS, main as make_dataset

    if (data / "meta.json").is_file() and (data / "Mean_complicate2d.npy").is_file():
        return print(f"[demo] 1. dataset: {data} exists")
    make_dataset(data, clips=QUICK["clips"] if quick else DEFAULT_CLIPS, seed=0, workers=2, overwrite=True)


def step_evaluator(data: Path, save: Path, quick: bool) -> None:
    import train_evaluator

    if (data / "all.tar").is_file():
        return print(f"[demo] 2. evaluator: {data / 'all.tar'} exists")
    train_evaluator.main(_config("demo_evaluator.yaml", data, save, QUICK["evaluator"] if quick else []))


def step_train(stage: str, data: Path, save: Path, quick: bool) -> Path:
    import train

    extra = list(QUICK["train"]) if quick else []
    if stage == "finetune":
        extra.append(f"train.resume_checkpoint={save / 'demo_pre'}")
    return train.main(_config(f"demo_{stage}.yaml", data, save, extra))  # resumes; returns at once when done


def step_test(data: Path, save: Path, quick: bool) -> dict:
    import json

    import test

    result = save / "demo_finetune" / "eval" / "demo.json"
    if result.is_file():
        print(f"[demo] 5. evaluation: {result} exists")
        return json.loads(result.read_text())
    extra = ["test.tag=demo", "test.replications=3", "test.test_limit=full"]
    return test.main(_config("demo_finetune.yaml", data, save, extra + (QUICK["test"] if quick else [])))


def held_out_captions(data: Path, count: int) -> list[tuple[str, int]]:
    """The first whole-clip caption of the first test clips, with each clip's length in frames."""
    import numpy as np

    chosen = []
    for clip_id in (data / "test.txt").read_text().split():
        if clip_id.startswith("M"):
            continue
        caption = (data / "texts" / f"{clip_id}.txt").read_text().splitlines()[0].split("#")[0]
        chosen.append((caption, len(np.load(data / "new_joint_vecs" / f"{clip_id}.npy"))))
        if len(chosen) == count:
            break
    return chosen


def step_generate(data: Path, save: Path, quick: bool) -> Path:
    import generate

    out = save / "demo_finetune" / "generate"
    if (out / "index.json").is_file():
        print(f"[demo] 6. generation: {out} exists")
        return out
    captions_file = save / "demo_captions.txt"
    cfg = _config("demo_finetune.yaml", data, save, (QUICK["generate"] if quick else []) +
                  [f"generate.captions_file={captions_file}", "generate.bvh=true"])
    frames = cfg.model.max_frames  # the file is read when generation starts, so it may follow the config
    captions_file.parent.mkdir(parents=True, exist_ok=True)
    captions_file.write_text("".join(f"{c}|{min(n, frames)}\n" for c, n in held_out_captions(data, HELD_OUT_CAPTIONS)))
    return generate.main(cfg)


def step_fit_and_render(gen_dir: Path, quick: bool, samples: int = 1) -> list[Path]:
    import fit_smpl
    from crossdiff.render.blender_inputs import default_output
    from crossdiff.render.blender_launch import find_blender

    outputs = []
    joints_files = sorted(p for p in gen_dir.glob("*.npy") if p.stem.isdigit())[:samples]
    for joints in joints_files:
        mesh = joints.with_name(f"{joints.stem}_mesh.npy")
        if not mesh.is_file():
            fit_smpl.main(joints, iterations=QUICK["fit_iterations"] if quick else 100)
        outputs.append(mesh)
        try:
            blender = find_blender()
        except UserError:
            print("[demo] 8. Blender is not installed: skipping the mesh render (stick-figure videos are there)")
            continue
        video = default_output(mesh, "video")
        if not video.is_file():
            size = ["--resolution", "160x120", "--samples", "4"] if quick else ["--resolution", "320x256", "--samples", "8"]
            subprocess.run([blender, "--background", "--python", str(REPO / "render_blender.py"), "--",
                            f"--file={mesh}", *size], check=True, stdout=subprocess.DEVNULL)
        outputs.append(video)
    return outputs


def main(out: Path, data: Path, quick: bool = False) -> None:
    start = time.time()
    step_dataset(data, quick)
    step_evaluator(data, out, quick)
    pre = step_train("pre", data, out, quick)
    fine = step_train("finetune", data, out, quick)
    report = step_test(data, out, quick)
    gen_dir = step_generate(data, out, quick)
    bodies = step_fit_and_render(gen_dir, quick)
    minutes = (time.time() - start) / 60
    print(f"\n=== CrossDiff demo finished in {minutes:.1f} min ===\n")
    print(report["table"])
    print(f"\ndataset      {data}\nevaluator    {data / 'all.tar'}\nstage I      {pre}\nstage II     {fine}"
          f"\nmetrics      {out / 'demo_finetune' / 'eval' / 'demo.md'}\nsamples      {gen_dir / 'index.html'}")
    for path in bodies:
        print(f"body         {path}")


def cli(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny settings: a smoke test of every step")
    parser.add_argument("--out", type=Path, default=Path("save"), help="parent folder of the runs")
    parser.add_argument("--data", type=Path, default=Path("data/synthetic"), help="the synthetic dataset folder")
    args = parser.parse_args(argv)
    return exit_code(lambda: main(args.out, args.data, args.quick))


if __name__ == "__main__":
    sys.exit(cli())
