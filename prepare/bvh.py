"""Import motion capture (BVH, or CMU's ASF/AMC) as a HumanML3D-format folder that train.py reads as is.

    python prepare/bvh.py --bvh DIR_OR_FILES... --out DIR [--captions captions.csv|json] [--mapping map.yaml]
                          [--fps_in N] [--scale METRES_PER_UNIT] [--up auto|y|z|-z...] [--mirror] [--append]
                          [--uncaptioned placeholder|skip] [--spacy_model NAME] [--target_skeleton FILE]

Each .bvh (or .amc, with its .asf beside it) is read, its joints matched to the 22 T2M joints
(rig presets, hierarchy rules, or --mapping), converted to metres and y up (units and up axis
detected from the body unless given), resampled to 20 fps, then put through the HumanML3D
pipeline (retarget onto the T2M skeleton, floor at y = 0, start at the origin facing +z).
Files written under --out (<id> is the file name without extension; M<id> its mirror with --mirror):
    joints/<id>.npy                         [T, 22, 3] float32 imported joints (metres, y up, 20 fps), HumanML3D's joints/
    new_joint_vecs/<id>.npy                 [T-1, 263] float32 features            (prepare/features.py)
    new_joints/<id>.npy                     [T-1, 22, 3] float32 joints recovered from them (prepare/features.py)
    texts/<id>.txt                          `caption#word/POS ...#from#to` lines (--captions, else a placeholder)
    train.txt, val.txt, test.txt            ids, 80/5/15 % by a hash of the id (stable under --append)
    Mean.npy, Std.npy                       [263] float32 3D statistics of the train split
    new_joints2d/<id>-<v>.npy, new_joints2d_complicate/<id>-<v>.npy, Mean/Std_complicate2d.npy  (prepare/project.py)
    report.json                             settings of every run, and per input file: status (converted,
                                            skipped, failed), reason and line, rig, joint mapping, inferred
                                            joints, unit, up axis, source fps, height, walking speed, foot contact
Clips shorter than 2 s (HumanML3D's minimum) are reported and skipped; a file that cannot be read is
reported with its line and reason and the others still convert (exit status 1 then). With --append
new files are added to an existing folder (ids already there are kept), and the statistics recomputed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crossdiff.data.words import load_spacy_pipeline
from crossdiff.errors import EXIT_USER_ERROR, UserError
from crossdiff.io import save_npy, save_text
from crossdiff.mocap import captions as caption_files
from crossdiff.mocap import folder
from crossdiff.mocap.bvh_reader import MocapFileError
from crossdiff.mocap.clip_stats import clip_stats, stats_line
from crossdiff.mocap.convert import ImportSettings, import_clip, mirror_joints
from crossdiff.mocap.rigs import read_mapping
from crossdiff.mocap.units import parse_up
from prepare import features, project
from prepare.synthetic import write_statistics

MIN_SECONDS = 2.0        # HumanML3D drops clips shorter than 40 frames at 20 fps
DATASET_MARKERS = ("joints", "new_joint_vecs", "train.txt", folder.REPORT)


def _texts(name: str, table: dict, nlp, mirrored: bool) -> list[str]:
    entries = table.get(name) or [(caption_files.PLACEHOLDER, 0.0, 0.0)]
    if mirrored:
        entries = [(caption_files.mirror_caption(c), a, b) for c, a, b in entries]
    return [caption_files.text_line(c, a, b, nlp) for c, a, b in entries]


def import_file(path: Path, clip_id: str, out: Path, settings: ImportSettings, options: dict) -> dict:
    """Convert one file into joints/ and texts/ (and its mirror); returns its report entry."""
    entry = {"id": clip_id, "status": "converted"}
    if (out / "joints" / f"{clip_id}.npy").is_file():
        return {**entry, "status": "skipped", "reason": "already in the folder (delete its files to re-import it)"}
    try:
        clip = import_clip(path, settings)
    except MocapFileError as error:
        return {**entry, "status": "failed", "line": error.line, "reason": error.reason}
    except UserError as error:
        return {**entry, "status": "failed", "line": 0, "reason": str(error)}
    entry.update(clip.info)
    captioned = path.stem in options["captions"]
    entry["caption"] = "given" if captioned else "placeholder"
    if clip.seconds < MIN_SECONDS:
        return {**entry, "status": "skipped", "reason": f"{clip.seconds:.2f} s is shorter than {MIN_SECONDS:g} s"}
    if not captioned and options["uncaptioned"] == "skip":
        return {**entry, "status": "skipped", "reason": "no caption (--uncaptioned skip)"}
    variants = [(clip_id, clip.joints, False)] + ([("M" + clip_id, mirror_joints(clip.joints), True)]
                                                  if options["mirror"] else [])
    for variant_id, joints, mirrored in variants:
        save_npy(out / "joints" / f"{variant_id}.npy", joints.astype(np.float32))
        lines = _texts(path.stem, options["captions"], options["nlp"], mirrored)
        save_text(out / "texts" / f"{variant_id}.txt", "\n".join(lines) + "\n")
    entry["ids"] = [v[0] for v in variants]
    return entry


def _add_stats(out: Path, entries: dict) -> None:
    for entry in entries.values():
        if entry["status"] == "converted":
            joints = np.load(out / "joints" / f"{entry['id']}.npy")
            vecs = out / "new_joint_vecs" / f"{entry['id']}.npy"
            entry.update(clip_stats(joints, np.load(vecs) if vecs.is_file() else None))
            tqdm.write(stats_line(entry["id"], entry))


def _feature_failures(summary, entries: dict) -> None:
    """Entries whose features could not be computed become failures (their joints file stays for a look)."""
    for entry in entries.values():
        reasons = [summary.failed[i] for i in entry.get("ids", []) if i in summary.failed]
        if entry["status"] == "converted" and reasons:
            entry.update(status="failed", line=0, reason=f"features: {reasons[0]}")


def _text(path) -> str | None:
    return None if path is None else str(path)


def _check_folder(out: Path, append: bool) -> None:
    existing = [name for name in DATASET_MARKERS if (out / name).exists()]
    if existing and not append:
        raise UserError(f"{out} already holds a dataset ({', '.join(existing)}); pass --append to add clips "
                        f"to it, or choose another --out")


def import_all(files: list[Path], out: Path, settings: ImportSettings, options: dict, progress: bool) -> dict:
    """{file: report entry} of every file, printing what was not converted and why."""
    entries = {}
    for path, clip_id in tqdm(folder.clip_ids(files).items(), desc="importing", unit="file", disable=not progress):
        entries[str(path)] = entry = import_file(path, clip_id, out, settings, options)
        if entry["status"] != "converted":
            tqdm.write(f"{entry['status']} {path}" + (f":{entry['line']}" if entry.get("line") else "")
                       + f": {entry['reason']}", file=sys.stderr)
    return entries


def record_run(out: Path, entries: dict, splits: dict, settings: dict) -> dict:
    """Add this run's settings and files to report.json (a file imported before keeps its entry)."""
    report = folder.load_report(out)
    counts = {s: sum(e["status"] == s for e in entries.values()) for s in ("converted", "skipped", "failed")}
    report["runs"].append({"time": time.strftime("%Y-%m-%d %H:%M:%S"), **settings, "counts": counts})
    for path, entry in entries.items():
        if report["files"].get(path, {}).get("status") != "converted" or entry["status"] == "converted":
            report["files"][path] = entry
    report["splits"] = {name: len(ids) for name, ids in splits.items()}
    folder.save_report(out, report)
    return report


def main(bvh, out, captions=None, mapping=None, fps_in=None, scale=None, up: str = "auto", mirror: bool = False,
         append: bool = False, uncaptioned: str = "placeholder", spacy_model=None, target_skeleton=None,
         workers: int = 1, progress: bool = True) -> dict:
    """Import every file, write the folder; returns the report (also written to out/report.json)."""
    out = Path(out)
    _check_folder(out, append)
    if uncaptioned not in ("placeholder", "skip"):
        raise UserError(f"--uncaptioned {uncaptioned!r}: choose placeholder or skip")
    for flag, value in (("--fps_in", fps_in), ("--scale", scale)):
        if value is not None and not value > 0:
            raise UserError(f"{flag} {value}: must be a positive number")
    settings = ImportSettings(read_mapping(mapping) if mapping else None, fps_in, scale, parse_up(up))
    options = {"captions": caption_files.read_captions(captions) if captions else {}, "mirror": mirror,
               "uncaptioned": uncaptioned, "nlp": load_spacy_pipeline(spacy_model) if spacy_model else None}
    files = folder.find_motion_files(bvh)
    out.mkdir(parents=True, exist_ok=True)
    entries = import_all(files, out, settings, options, progress)
    if any((out / "joints").glob("*.npy")):
        _feature_failures(features.main(out / "joints", out, target_skeleton, workers=workers, progress=progress),
                          entries)
    _add_stats(out, entries)
    # Every clip with features joins its split (idempotent: a resumed run lists what a killed one did not).
    ids = sorted((p.stem for p in (out / "new_joint_vecs").glob("*.npy")), key=folder.twin_order)
    splits = folder.add_to_splits(out, ids)
    if splits["train"]:
        write_statistics(out, splits["train"])
        project.main(out, workers=workers, progress=progress)
    inputs = [bvh] if isinstance(bvh, (str, Path)) else bvh
    return record_run(out, entries, splits, {
        "bvh": [str(b) for b in inputs], "captions": _text(captions), "mapping": _text(mapping), "fps_in": fps_in,
        "scale": scale, "up": up, "mirror": mirror, "uncaptioned": uncaptioned, "spacy_model": spacy_model,
        "target_skeleton": _text(target_skeleton), "append": append})


def cli(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bvh", required=True, nargs="+", help="motion files (.bvh, .amc) or folders of them")
    parser.add_argument("--out", required=True, help="dataset folder to write (HumanML3D layout)")
    parser.add_argument("--captions", default=None, help="CSV (name,caption) or JSON {name: caption(s)}")
    parser.add_argument("--mapping", default=None, help="YAML 't2m_joint: source joint' overriding the matching")
    parser.add_argument("--fps_in", type=float, default=None, help="source frame rate (default: from the file)")
    parser.add_argument("--scale", type=float, default=None, help="metres per file unit (default: detected)")
    parser.add_argument("--up", default="auto", help="the files' up axis: auto (default), y, z, -z, ...")
    parser.add_argument("--mirror", action="store_true", help="also write left-right mirrored copies M<id>")
    parser.add_argument("--append", action="store_true", help="add to an existing folder")
    parser.add_argument("--uncaptioned", default="placeholder", choices=["placeholder", "skip"],
                        help=f"clips without a caption: caption {caption_files.PLACEHOLDER!r} (default) or skip them")
    parser.add_argument("--spacy_model", default=None, help="tag caption words with this spaCy pipeline")
    parser.add_argument("--target_skeleton", default=None, help="joints file whose first frame sets the bone lengths")
    parser.add_argument("--workers", type=int, default=project.available_cpus(),
                        help="processes for features and projections (default: all CPUs)")
    args = parser.parse_args(argv)
    try:
        report = main(args.bvh, args.out, args.captions, args.mapping, args.fps_in, args.scale, args.up, args.mirror,
                      args.append, args.uncaptioned, args.spacy_model, args.target_skeleton, args.workers)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    counts = report["runs"][-1]["counts"]
    print(f"{args.out}: {counts['converted']} converted, {counts['skipped']} skipped, {counts['failed']} failed "
          f"(details in {Path(args.out) / folder.REPORT}); splits {report['splits']}")
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(cli())
