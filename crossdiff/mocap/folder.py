"""Bookkeeping of an imported dataset folder: input files, clip ids, splits, the report.

Splits are decided per clip from a hash of its id (80 % train, 5 % val, 15 % test), so a clip
keeps its split whatever else is imported, `--append` never moves a clip, and a mirrored `M<id>`
always shares its twin's split (HumanML3D lists twins in the same split).
"""

from __future__ import annotations

import json
import re
import zlib
from pathlib import Path

from crossdiff.errors import UserError
from crossdiff.io import save_json, save_text
from crossdiff.mocap.convert import SUFFIXES

SPLITS = (("train", 80), ("val", 85), ("test", 100))     # cumulative percentages
REPORT = "report.json"


def find_motion_files(inputs) -> list[Path]:
    """Every .bvh/.amc file named or inside the named folders (recursively), sorted, no duplicates."""
    files: list[Path] = []
    for item in [inputs] if isinstance(inputs, (str, Path)) else inputs:
        item = Path(item)
        if item.is_dir():
            files += sorted(p for p in item.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())
        elif item.is_file():
            files.append(item)
        else:
            raise UserError(f"--bvh {item}: no such file or folder")
    unique = list(dict.fromkeys(p.resolve() for p in files))
    if not unique:
        raise UserError(f"--bvh {inputs}: no {' or '.join(SUFFIXES)} files found")
    return unique


def clip_ids(files: list[Path]) -> dict[Path, str]:
    """A folder-safe id per file: its name without extension, or with its folder when names repeat."""
    def safe(text: str) -> str:
        return re.sub(r"[^A-Za-z0-9_.-]", "_", text)

    stems = [safe(p.stem) for p in files]
    return {p: stem if stems.count(stem) == 1 else safe(f"{p.parent.name}_{p.stem}") for p, stem in zip(files, stems)}


def split_of(clip_id: str) -> str:
    base = clip_id[1:] if clip_id.startswith("M") else clip_id
    bucket = zlib.crc32(base.encode("utf-8")) % 100
    return next(name for name, upto in SPLITS if bucket < upto)


def twin_order(clip_id: str) -> tuple[str, bool]:
    """Sort key listing each id just before its mirror `M<id>`."""
    mirrored = clip_id.startswith("M")
    return (clip_id[1:] if mirrored else clip_id, mirrored)


def read_split(out: Path, split: str) -> list[str]:
    path = out / f"{split}.txt"
    return [line.strip() for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


def add_to_splits(out: Path, ids: list[str]) -> dict[str, list[str]]:
    """Append ids not yet listed to their split files (`M<id>` goes with `<id>`); returns every split."""
    splits = {name: read_split(out, name) for name, _ in SPLITS}
    for clip_id in ids:
        listed = splits[split_of(clip_id)]
        if clip_id not in listed:
            listed.append(clip_id)
    for name, listed in splits.items():
        save_text(out / f"{name}.txt", "".join(f"{i}\n" for i in listed))
    return splits


def load_report(out: Path) -> dict:
    path = out / REPORT
    if not path.is_file():
        return {"runs": [], "files": {}}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise UserError(f"{path}: unreadable ({error}); move it away to start a new report") from None


def save_report(out: Path, report: dict) -> None:
    save_json(out / REPORT, report)
