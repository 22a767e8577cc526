"""Can 2D-only clips teach CrossDiff motions it has no 3D data for? The hold-out experiment of the paper's
second claim, on the synthetic dataset (UCF101 itself is not available offline).

    python experiments/holdout_2d.py [--data data/synthetic] [--work save/holdout] [--families bow clap wave]
                                     [--steps 300] [--replications 5] [--reference RUN_OR_PT]

Needs the synthetic dataset and its evaluator (`make demo`, or prepare/synthetic.py and train_evaluator.py
with configs/demo_evaluator.yaml). Every step is skipped when its output exists, so the run resumes:
    1. folders   <work>/data_3d: the dataset without any clip that shows a held-out family (train, val);
                 <work>/eval_heldout and <work>/eval_other: test + val clips with / without those families
                 (the arrays are symlinks into --data; statistics and evaluator stay those of --data)
    2. 2D clips  the held-out families' single-action train clips as detector output (COCO-17 pixels,
                 25 fps, a random camera, noise, misses, a distractor; crossdiff/keypoints/simulated.py),
                 through prepare/ucf101.py with one class per family -> <work>/ucf
    3. A         stage I + stage II (configs/demo_pre.yaml, demo_finetune.yaml) on data_3d
    4. B         A + `finetune_ucf` on data_3d mixed 1:1 with <work>/ucf (the teacher is A)
    5. C         A + the same number of 3D-only fine-tuning steps: more training without the 2D
    6. test.py   of A, B, C (and --reference, e.g. the demo's model trained on every family) on both
                 evaluation folders -> <work>/results.md and results.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from crossdiff.config import load_config  # noqa: E402
from crossdiff.errors import UserError, exit_code  # noqa: E402

LINKED = ("new_joint_vecs", "new_joints", "texts", "new_joints2d", "new_joints2d_complicate")
COPIED = ("meta.json",)
DEFAULT_FAMILIES = ("bow", "clap", "wave")
UCF_SETTINGS = ["train.mode=finetune_ucf", "data.dataset=multi", "data.ucf_ratio=0.5", "train.w_m2j=0.1",
                "train.w_j2m=0.1"]


def class_tag(family: str) -> str:
    """`jump_in_place` -> `JumpInPlace`: file-name class tags cannot hold '_'."""
    return "".join(word.capitalize() for word in family.split("_"))


def clip_families(data: Path) -> dict[str, list[str]]:
    """clip id -> the families of its actions, from the synthetic meta.json."""
    meta = json.loads((data / "meta.json").read_text())
    return {clip: [a["family"] for a in entry["actions"]] for clip, entry in meta["clips_meta"].items()}


def split_ids(data: Path, split: str) -> list[str]:
    return (data / f"{split}.txt").read_text().split()


def derived_folder(data: Path, out: Path, splits: dict[str, list[str]]) -> None:
    """A dataset folder whose arrays are symlinks into `data` and whose split files are `splits`."""
    out.mkdir(parents=True, exist_ok=True)
    for name in LINKED:
        link = out / name
        if not link.exists():
            link.symlink_to((data / name).resolve(), target_is_directory=True)
    for name in COPIED:
        (out / name).write_bytes((data / name).read_bytes())
    for split in ("train", "val", "test"):
        (out / f"{split}.txt").write_text("".join(f"{i}\n" for i in splits.get(split, [])))


def step_folders(data: Path, work: Path, families: set[str]) -> dict[str, int]:
    shows = {clip: bool(families & set(fams)) for clip, fams in clip_families(data).items()}
    train, val = split_ids(data, "train"), split_ids(data, "val")
    evaluation = split_ids(data, "test") + val
    derived_folder(data, work / "data_3d", {"train": [i for i in train if not shows[i]],
                                            "val": [i for i in val if not shows[i]]})
    derived_folder(data, work / "eval_heldout", {"test": [i for i in evaluation if shows[i]]})
    derived_folder(data, work / "eval_other", {"test": [i for i in evaluation if not shows[i]]})
    counts = {"train_3d": sum(not shows[i] for i in train), "train_removed": sum(shows[i] for i in train),
              "eval_heldout": sum(shows[i] for i in evaluation), "eval_other": sum(not shows[i] for i in evaluation)}
    print(f"[holdout] 1. folders: {counts}")
    return counts


def caption_lines(data: Path, clip: str) -> list[str]:
    return [line.split("#")[0] for line in (data / "texts" / f"{clip}.txt").read_text().splitlines() if line]


def step_2d_clips(data: Path, work: Path, families: list[str], seed: int = 0) -> dict:
    """Detector-style keypoints of the held-out single-action train clips, prepared by prepare/ucf101.py."""
    from crossdiff.keypoints.processing import KeypointSettings
    from crossdiff.keypoints.simulated import synthetic_detections
    from prepare import ucf101

    ucf = work / "ucf"
    if (ucf / "report.json").is_file():
        print(f"[holdout] 2. 2D clips: {ucf} exists")
        return json.loads((ucf / "report.json").read_text())["counts"]
    keypoints, rng = work / "keypoints", np.random.default_rng(seed)
    keypoints.mkdir(parents=True, exist_ok=True)
    fams = clip_families(data)
    captions: dict[str, list[str]] = {class_tag(f): [] for f in families}
    for number, clip in enumerate(split_ids(data, "train")):
        if len(fams[clip]) != 1 or fams[clip][0] not in families:
            continue
        tag, view = class_tag(fams[clip][0]), int(rng.integers(4))
        positions = np.load(data / "new_joints" / f"{clip}.npy")
        np.save(keypoints / f"v_{tag}_g{number:03d}_c{view + 1:02d}.npy",
                synthetic_detections(positions, view, 25.0, rng))
        captions[tag] += [c for c in caption_lines(data, clip) if c not in captions[tag]]
    summary = ucf101.main(keypoints, ucf, settings=KeypointSettings(fps=25.0), captions=captions, progress=False)
    ucf101.report(summary, ucf)
    return ucf101.counts(summary)


def _config(name: str, data_root: Path, data: Path, save: Path, extra: list[str]):
    paths = [f"data.data_root={data_root}", f"data.meta_dir={data}", f"data.glove_dir={data / 'glove'}",
             f"save_dir={save}"]
    return load_config(REPO / "configs" / name, paths + extra)


def train_run(config: str, name: str, data_root: Path, data: Path, work: Path, extra: list[str]) -> Path:
    import train

    return train.main(_config(config, data_root, data, work / "save", [f"NAME={name}"] + extra))  # resumes


def step_models(data: Path, work: Path, steps: int) -> dict[str, Path]:
    data_3d = work / "data_3d"
    pre = train_run("demo_pre.yaml", "A_pre", data_3d, data, work, [])
    a = train_run("demo_finetune.yaml", "A", data_3d, data, work, [f"train.resume_checkpoint={pre}"])
    follow = [f"train.resume_checkpoint={a}", f"train.max_steps={steps}", f"train.save_interval={steps}"]
    b = train_run("demo_finetune.yaml", "B_2d", data_3d, data, work,
                  follow + UCF_SETTINGS + [f"data.ucf_root={work / 'ucf'}"])
    c = train_run("demo_finetune.yaml", "C_3d_only", data_3d, data, work, follow)
    return {"A (no held-out data)": a, "B (A + held-out 2D)": b, "C (A + same steps, 3D only)": c}


def evaluate(checkpoint: Path, folder: Path, data: Path, work: Path, replications: int) -> dict:
    import test

    name = checkpoint.name if checkpoint.is_dir() else checkpoint.stem
    result = work / "save" / f"eval_{name}" / "eval" / f"{folder.name}.json"
    if result.is_file():
        return json.loads(result.read_text())
    extra = [f"NAME=eval_{name}", f"test_checkpoint={checkpoint}", f"test.tag={folder.name}",
             f"test.replications={replications}", "test.test_limit=full", "test.batch_size=16",
             f"test.evaluator_dir={data}"]
    return test.main(_config("demo_finetune.yaml", folder, data, work / "save", extra))


def headline(report: dict) -> dict[str, str]:
    """The table's columns for one model: R-precision, FID, MM-Dist, Diversity (mean ± interval)."""
    metrics = report["metrics"]["all"]
    columns = {"top-1": "r_precision_top1", "top-3": "r_precision_top3", "FID": "fid",
               "MM-Dist": "matching_score", "Diversity": "diversity"}
    return {column: f"{metrics[key]['mean']:.3f} ± {metrics[key]['conf']:.3f}" for column, key in columns.items()}


def real_row(report: dict) -> dict[str, str]:
    """The ground-truth motions' row (their R-precision, MM-Dist and Diversity) of any report."""
    metrics = report["metrics"]["all"]

    def cell(key):
        return f"{metrics[key]['mean']:.3f} ± {metrics[key]['conf']:.3f}"

    return {"top-1": cell("r_precision_top1_real"), "top-3": cell("r_precision_top3_real"), "FID": "–",
            "MM-Dist": cell("matching_score_real"), "Diversity": cell("diversity_real")}


def results_markdown(rows: dict, counts: dict, families: list[str], steps: int, replications: int) -> str:
    lines = [f"# Hold-out experiment: families {', '.join(families)}", "",
             f"- 3D training clips kept {counts['train_3d']}, removed {counts['train_removed']}; 2D-only clips "
             f"{counts.get('clips_written', '?')}; B and C: {steps} steps from A; {replications} replications, "
             "batches of 16", ""]
    for folder, models in rows.items():
        lines += [f"## {folder}", "", "| model | top-1 | top-3 | FID | MM-Dist | Diversity |", "|---|---|---|---|---|---|"]
        lines += [f"| {label} | " + " | ".join(row.values()) + " |" for label, row in models.items()]
        lines.append("")
    return "\n".join(lines)


def main(data: Path, work: Path, families: list[str], steps: int, replications: int, reference: Path | None) -> dict:
    known = {f for fams in clip_families(data).values() for f in fams}
    unknown = sorted(set(families) - known)
    if unknown:
        raise UserError(f"--families {' '.join(unknown)}: not in {data / 'meta.json'} ({', '.join(sorted(known))})")
    if not (data / "all.tar").is_file():
        raise UserError(f"no evaluator at {data / 'all.tar'}: run `make demo` (or train_evaluator.py with "
                        "configs/demo_evaluator.yaml) first")
    counts = step_folders(data, work, set(families))
    counts.update(step_2d_clips(data, work, families))
    models = step_models(data, work, steps)
    if reference is not None:
        models["reference (every family in 3D)"] = reference
    rows = {}
    for folder in ("eval_heldout", "eval_other"):
        reports = {label: evaluate(path, work / folder, data, work, replications)
                   for label, path in models.items()}
        rows[folder] = {"real motion": real_row(next(iter(reports.values())))}
        rows[folder].update({label: headline(report) for label, report in reports.items()})
    text = results_markdown(rows, counts, families, steps, replications)
    (work / "results.md").write_text(text)
    (work / "results.json").write_text(json.dumps({"families": families, "counts": counts, "rows": rows}, indent=1))
    print(text)
    return rows


def cli(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/synthetic"), help="the synthetic dataset (with all.tar)")
    parser.add_argument("--work", type=Path, default=Path("save/holdout"), help="folder of every output")
    parser.add_argument("--families", nargs="+", default=list(DEFAULT_FAMILIES), help="families held out in 3D")
    parser.add_argument("--steps", type=int, default=300, help="fine-tuning steps of B and C")
    parser.add_argument("--replications", type=int, default=5, help="test.py replications per evaluation")
    parser.add_argument("--reference", type=Path, default=None, help="a model trained on every family (run dir or .pt)")
    args = parser.parse_args(argv)
    return exit_code(lambda: main(args.data, args.work, args.families, args.steps, args.replications, args.reference))


if __name__ == "__main__":
    sys.exit(cli())
