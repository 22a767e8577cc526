"""Generate the embedded synthetic text-to-motion dataset as a complete HumanML3D-format folder.

    python prepare/synthetic.py --out data/synthetic [--clips N] [--seed S] [--workers W] [--preview K]

Files written under --out (ids are `000000`, ... and their mirrors `M000000`, ...):
    new_joints/<id>.npy                      [T-1, 22, 3] float32 joints (recovered from the features, as HumanML3D)
    new_joint_vecs/<id>.npy                  [T-1, 263] float32 features (joints_to_features, canonical skeleton)
    texts/<id>.txt                           3 lines `caption#word/POS ...#from#to`
    train.txt, val.txt, test.txt             ids, every id next to its M twin (80 / 5 / 15 % of the clips)
    Mean.npy, Std.npy                        [263] 3D feature statistics of the train split
    new_joints2d/<id>-<v>.npy                [T-1, 22, 2] four camera views      (prepare/project.py)
    new_joints2d_complicate/<id>-<v>.npy     [T-2, 134] 2D features              (prepare/project.py)
    Mean_complicate2d.npy, Std_complicate2d.npy  [134] 2D statistics             (prepare/project.py)
    glove/our_vab_data.npy, our_vab_words.pkl, our_vab_idx.pkl   300-d vectors of every caption word + unk
    meta.json                                generator settings and each clip's actions and parameters
    preview/contact_sheet.png, preview/<id>.mp4  only with --preview K: K random clips with their captions
The same --seed and --clips always give identical files.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crossdiff.synthetic.generator import FAMILIES, SyntheticClip, generate_clip, mirror_clip, rest_body, target_offsets
from crossdiff.synthetic.captions import text_line
from crossdiff.synthetic.curves import FPS
from crossdiff.synthetic.vocab import vocabulary, word_vectors
from crossdiff.data.words import write_glove_vocab
from crossdiff.errors import EXIT_USER_ERROR, UserError
from crossdiff.io import save_json, save_npy, save_text
from crossdiff.motion.features3d import joints_to_features, recover_from_ric
from crossdiff.motion.stats import feature_statistics
from prepare import project

DEFAULT_CLIPS = 320
SPLITS = {"train": 0.80, "val": 0.05, "test": 0.15}
# Everything this script writes; --overwrite removes exactly these and nothing else.
OUTPUTS = ["new_joints", "new_joint_vecs", "texts", "new_joints2d", "new_joints2d_complicate", "glove", "preview",
           "train.txt", "val.txt", "test.txt", "Mean.npy", "Std.npy", "Mean_complicate2d.npy",
           "Std_complicate2d.npy", "meta.json"]


def clip_ids(index: int) -> tuple[str, str]:
    return f"{index:06d}", f"M{index:06d}"


def _write_clip(out: Path, clip_id: str, clip: SyntheticClip, offsets: np.ndarray) -> None:
    features, _ = joints_to_features(clip.positions, offsets, skeleton="t2m")
    features = features.astype(np.float32)
    save_npy(out / "new_joint_vecs" / f"{clip_id}.npy", features)
    save_npy(out / "new_joints" / f"{clip_id}.npy", recover_from_ric(features, 22).astype(np.float32))
    save_text(out / "texts" / f"{clip_id}.txt", "\n".join(text_line(*c) for c in clip.captions) + "\n")


def _meta_entry(clip: SyntheticClip) -> dict:
    return {"frames": int(len(clip.positions)),
            "actions": [{"family": p.family, "params": p.params, "start": p.start, "end": p.end} for p in clip.parts]}


def _make_clip(job: tuple[str, int, int]) -> dict:
    """Generate clip `index` and its mirror, write their 3D files; returns their meta entries."""
    out, seed, index = Path(job[0]), job[1], job[2]
    body = rest_body()
    clip = generate_clip(seed, index, body)
    mirrored = mirror_clip(clip, body)
    entries = {}
    for clip_id, c in zip(clip_ids(index), (clip, mirrored)):
        _write_clip(out, clip_id, c, target_offsets())
        entries[clip_id] = _meta_entry(c)
    return entries


def _generate_all(out: Path, clips: int, seed: int, workers: int, progress: bool) -> dict:
    jobs = [(str(out), seed, i) for i in range(clips)]
    bar = tqdm(total=clips, desc="synthetic clips", unit="clip", disable=not progress)
    meta: dict = {}
    if workers > 1:
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for entries in pool.imap(_make_clip, jobs, chunksize=8):
                meta.update(entries)
                bar.update()
    else:
        for job in jobs:
            meta.update(_make_clip(job))
            bar.update()
    bar.close()
    return meta


def write_splits(out: Path, clips: int, seed: int) -> dict[str, list[str]]:
    """Shuffle clip indices (seeded) into train/val/test, each id followed by its mirror (docs/original_code.md §2.3)."""
    order = np.random.default_rng([seed, 2**31]).permutation(clips)
    n_val = max(1, int(round(SPLITS["val"] * clips)))
    n_test = max(1, int(round(SPLITS["test"] * clips)))
    chunks = {"val": order[:n_val], "test": order[n_val:n_val + n_test], "train": order[n_val + n_test:]}
    splits = {}
    for name, indices in chunks.items():
        splits[name] = [cid for i in sorted(indices) for cid in clip_ids(int(i))]
        save_text(out / f"{name}.txt", "\n".join(splits[name]) + "\n")
    return splits


def write_statistics(out: Path, train_ids: list[str]) -> None:
    features = [np.load(out / "new_joint_vecs" / f"{cid}.npy") for cid in train_ids]
    mean, std = feature_statistics(features, joints_num=22)
    save_npy(out / "Mean.npy", mean.astype(np.float32))
    save_npy(out / "Std.npy", std.astype(np.float32))


def write_vocabulary(out: Path) -> None:
    words = vocabulary()
    write_glove_vocab(out / "glove", words, word_vectors(words))


def _prepare_folder(out: Path, overwrite: bool) -> None:
    existing = [name for name in OUTPUTS if (out / name).exists()]
    if existing and not overwrite:
        raise UserError(f"{out} already holds a dataset ({', '.join(existing[:4])}, ...); "
                        f"choose another --out or pass --overwrite to replace it")
    for name in existing:
        path = out / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    out.mkdir(parents=True, exist_ok=True)


def write_preview(out: Path, count: int, seed: int, ids: list[str], progress: bool = True) -> list[Path]:
    """A contact sheet of `count` random clips (and one mp4 each) under out/preview/."""
    from crossdiff.render.stick import contact_sheet, render_3d

    rng = np.random.default_rng([seed, 2**31 + 1])
    chosen = sorted(rng.choice(ids, size=min(count, len(ids)), replace=False).tolist())
    clips = []
    for cid in chosen:
        joints = np.load(out / "new_joints" / f"{cid}.npy")
        first_caption = (out / "texts" / f"{cid}.txt").read_text().splitlines()[0].split("#")[0]
        clips.append((cid, joints, first_caption))
    written = [contact_sheet([(j, f"{cid}: {c}") for cid, j, c in clips], out / "preview" / "contact_sheet.png")]
    for cid, joints, caption in tqdm(clips, desc="preview videos", unit="video", disable=not progress):
        written.append(render_3d(joints, out / "preview" / f"{cid}.mp4", title=caption))
    return written


def folder_size(out: Path) -> int:
    return sum(p.stat().st_size for p in out.rglob("*") if p.is_file())


def main(out="data/synthetic", clips: int = DEFAULT_CLIPS, seed: int = 0, workers: int = 2, preview: int = 0,
         overwrite: bool = False, progress: bool = True) -> dict:
    """Write the whole folder; returns a summary (clips, files, bytes, seconds)."""
    out = Path(out)
    if clips < 2:
        raise UserError(f"--clips {clips}: need at least 2 clips (one for train, one for test)")
    if workers < 1:
        raise UserError(f"--workers {workers}: must be at least 1")
    started = time.perf_counter()
    _prepare_folder(out, overwrite)
    clip_meta = _generate_all(out, clips, seed, workers, progress)
    splits = write_splits(out, clips, seed)
    write_statistics(out, splits["train"])
    project.main(out, workers=workers, progress=progress)
    write_vocabulary(out)
    save_json(out / "meta.json", {"generator": "crossdiff synthetic", "seed": seed, "clips": clips, "fps": FPS,
                                  "families": sorted(FAMILIES), "splits": {k: len(v) for k, v in splits.items()},
                                  "clips_meta": clip_meta})
    summary = {"clips": clips, "motions": 2 * clips, "seconds": round(time.perf_counter() - started, 2)}
    if preview:
        write_preview(out, preview, seed, splits["train"] + splits["val"] + splits["test"], progress)
    summary["bytes"] = folder_size(out)
    return summary


def make_tiny_dataset(out_dir, clips: int = 16, seed: int = 0) -> Path:
    """A small complete folder for tests and demos (single process, no progress bars); returns its path."""
    main(out_dir, clips=clips, seed=seed, workers=1, overwrite=True, progress=False)
    return Path(out_dir)


def cli(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="data/synthetic", help="output folder (default: data/synthetic)")
    parser.add_argument("--clips", type=int, default=DEFAULT_CLIPS, help="clips before mirroring (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default: 2)")
    parser.add_argument("--preview", type=int, default=0, metavar="K",
                        help="also write a contact sheet and stick-figure videos of K random clips")
    parser.add_argument("--overwrite", action="store_true", help="replace a dataset already in --out")
    args = parser.parse_args(argv)
    try:
        summary = main(args.out, args.clips, args.seed, args.workers, args.preview, args.overwrite)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    print(f"wrote {summary['motions']} motions ({summary['clips']} clips + mirrors) to {args.out} "
          f"in {summary['seconds']} s, {summary['bytes'] / 2**20:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(cli())
