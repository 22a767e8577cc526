"""Reading a HumanML3D/KIT folder into motion records: splits, mirror pairs, checks, caption segments.

Files read under `data_root` (docs/original_code.md §2.1):
    <split>.txt                              ids, one per line (train, val, test)
    new_joint_vecs/<id>.npy                  [N, 263] 3D features (KIT: 251)
    new_joints2d_complicate/<id>-<v>.npy     [N-1, 134] 2D features of camera v = 0..3 (KIT: 128)
    texts/<id>.txt                           `caption#word/POS ...#from#to` lines

The folder is scanned once: every file of the split is read and checked, and only small records
(id, frame window, captions, `valid`) are kept; items load their frames on access. A clip that
cannot be used is not dropped silently: `SkipReport` collects (id, reason) and logs a summary once.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from crossdiff.data.words import TextEntry, read_text_file
from crossdiff.errors import UserError
from crossdiff.skeleton import Skeleton

log = logging.getLogger(__name__)

VIEWS = 4
MOTION_DIR, VIEWS_DIR, TEXT_DIR = "new_joint_vecs", "new_joints2d_complicate", "texts"
EXAMPLES_PER_REASON = 10


@dataclass(frozen=True)
class MotionRecord:
    """One training/evaluation item: frames `[start, end)` of a clip (after the 2D truncation)."""

    clip_id: str
    start: int
    end: int
    captions: tuple[TextEntry, ...]
    valid: bool                          # False: the 3D data counts as unknown (3D-ratio ablation)

    @property
    def length(self) -> int:
        return self.end - self.start


class SkipReport:
    """Collects the clips that were left out, with the reason, and logs one summary."""

    def __init__(self, source: str):
        self.source = source
        self.skipped: list[tuple[str, str]] = []

    def add(self, clip_id: str, reason: str) -> None:
        self.skipped.append((clip_id, reason))

    def log_summary(self, kept: int) -> None:
        """A warning with the count per reason and example ids; every (id, reason) at DEBUG level."""
        if not self.skipped:
            return
        by_reason: dict[str, list[str]] = defaultdict(list)
        for clip_id, reason in self.skipped:
            by_reason[reason.split(":")[0]].append(clip_id)
            log.debug(f"{self.source}: skipped {clip_id}: {reason}")
        lines = [f"  {len(ids)} x {reason}: {', '.join(ids[:EXAMPLES_PER_REASON])}"
                 f"{', ...' if len(ids) > EXAMPLES_PER_REASON else ''}" for reason, ids in by_reason.items()]
        log.warning(f"{self.source}: kept {kept} items, skipped {len(self.skipped)} clips:\n" + "\n".join(lines))


def read_split(data_root: Path, split: str) -> list[str]:
    """Ids of `<data_root>/<split>.txt` in file order (blank lines ignored)."""
    path = data_root / f"{split}.txt"
    if not path.is_file():
        present = sorted(p.stem for p in data_root.glob("*.txt"))
        raise UserError(f"split file {path} not found (split files in {data_root}: {present or 'none'}); "
                        f"data.data_root must be a HumanML3D-format folder with train.txt/val.txt/test.txt")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def mirror_of(clip_id: str) -> str:
    """'M000001' <-> '000001' (HumanML3D's left/right mirrored twins)."""
    return clip_id[1:] if clip_id.startswith("M") else f"M{clip_id}"


def mirror_pairs(ids: list[str]) -> list[str]:
    """Reorder ids so each is directly followed by its mirror twin (docs/original_code.md §2.3).

    Walking the list in order, an id not yet placed is appended, then its twin. Unlike the
    reference (which asserts), a twin missing from the split is simply not added.
    """
    present, placed, ordered = set(ids), set(), []
    for clip_id in ids:
        for member in (clip_id, mirror_of(clip_id)):
            if member in present and member not in placed:
                placed.add(member)
                ordered.append(member)
    return ordered


def _load_array(path: Path, width: int) -> np.ndarray:
    """A `[N, width]` finite array, or ValueError with the reason."""
    if not path.is_file():
        raise ValueError(f"missing file: {path.parent.name}/{path.name}")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise ValueError(f"unreadable file: {path.name} ({e})") from None
    if array.ndim != 2 or array.shape[1] != width:
        raise ValueError(f"wrong shape: {path.name} is {list(array.shape)}, expected [N, {width}]")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"non-finite values: {path.name} holds NaN or inf")
    return array


def check_clip(data_root: Path, clip_id: str, sk: Skeleton) -> tuple[int, int]:
    """(3D frames, 2D frames) of a clip; every file is checked (ValueError(reason) if unusable)."""
    motion = _load_array(data_root / MOTION_DIR / f"{clip_id}.npy", sk.feature_dim)
    lengths = {len(_load_array(data_root / VIEWS_DIR / f"{clip_id}-{v}.npy", sk.feature_dim_2d)) for v in range(VIEWS)}
    if len(lengths) != 1:
        raise ValueError(f"views differ in length: the 4 views of {clip_id} have {sorted(lengths)} frames")
    frames_2d = lengths.pop()
    if frames_2d > len(motion):
        raise ValueError(f"2D longer than 3D: the 2D views of {clip_id} have more frames than its 3D features")
    return len(motion), frames_2d


@dataclass(frozen=True)
class LengthRules:
    """Clip and segment lengths kept: min_len <= N < max_len (docs/original_code.md §2.4: 40 / 24 for KIT, 200)."""

    min_len: int
    max_len: int
    fps: float                           # converts caption times (seconds) to frames

    def reason(self, frames: int) -> str | None:
        if frames < self.min_len:
            return f"too short: {frames} frames < {self.min_len}"
        if frames >= self.max_len:
            return f"too long: {frames} frames >= {self.max_len}"
        return None


def clip_records(clip_id: str, frames: int, entries: list[TextEntry], valid: bool, rules: LengthRules):
    """Records of one clip: the whole clip (if it has a whole-clip caption) and each caption segment.

    `frames` is the clip length after truncation to the 2D length. A segment `[from, to)` seconds
    covers frames `[int(from*fps), int(to*fps))` and is kept if its length passes `rules`.
    """
    whole = tuple(e for e in entries if e.start == 0.0 and e.end == 0.0)
    records = [MotionRecord(clip_id, 0, frames, whole, valid)] if whole else []
    for entry in entries:
        if entry.start == 0.0 and entry.end == 0.0:
            continue
        start = int(entry.start * rules.fps)
        end = min(int(entry.end * rules.fps), frames)
        if start < end and rules.reason(end - start) is None:
            records.append(MotionRecord(clip_id, start, end, (entry,), valid))
    return records


def scan_clips(data_root: Path, ids: list[str], valid: list[bool], sk: Skeleton, rules: LengthRules,
               report: SkipReport, progress: bool = True) -> list[MotionRecord]:
    """Check every clip of `ids` and return its records, sorted by length (shortest first)."""
    records: list[MotionRecord] = []
    for clip_id, is_valid in tqdm(list(zip(ids, valid)), desc=f"checking {data_root.name}", unit="clip",
                                  disable=not progress, leave=False):
        try:
            frames_3d, frames = check_clip(data_root, clip_id, sk)
            too = rules.reason(frames_3d)
            if too:
                raise ValueError(too)
            text_path = data_root / TEXT_DIR / f"{clip_id}.txt"
            if not text_path.is_file():
                raise ValueError(f"missing file: {TEXT_DIR}/{clip_id}.txt")
            entries = read_text_file(text_path)
        except (ValueError, UserError) as e:
            report.add(clip_id, str(e))
            continue
        found = clip_records(clip_id, frames, entries, is_valid, rules)
        if not found:
            report.add(clip_id, "no usable caption: no whole-clip caption and no segment of a usable length")
        records.extend(found)
    return sorted(records, key=lambda r: r.length)


def load_window(data_root: Path, record: MotionRecord, view: int, sk: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """The record's frames: (3D [L, 263], 2D of camera `view` [L, 134]), float32, raw (not normalised).

    The 3D features are truncated to the 2D length first, so every clip loses its last 3D frame
    as in the reference (docs/original_code.md §2.4, §13.8).
    """
    motion = np.load(data_root / MOTION_DIR / f"{record.clip_id}.npy", mmap_mode="r")
    joint = np.load(data_root / VIEWS_DIR / f"{record.clip_id}-{view}.npy", mmap_mode="r")
    window = slice(record.start, record.end)
    return (np.asarray(motion[: len(joint)][window], np.float32),
            np.asarray(joint[window], np.float32))
