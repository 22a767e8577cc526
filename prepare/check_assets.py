"""Check that a folder of official assets has the layout the code reads.

    python -m prepare.check_assets {clip|glove|t2m|smpl|checkpoints} DIR

Prints one line per expected file (ok / missing / wrong) and exits 2 when anything required is
missing or malformed. The download scripts run it before moving files into place; users who
place files by hand (see data/README.md) can run it too. Writes nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from crossdiff.errors import UserError
from crossdiff.io import restricted_pickle_load

MB = 1 << 20


def _npy_shape(path: Path, shape: tuple) -> str | None:
    array = np.load(path, mmap_mode="r")
    return None if array.shape == shape else f"shape {array.shape}, expected {shape}"


def _size_at_least(path: Path, minimum: int) -> str | None:
    size = path.stat().st_size
    return None if size >= minimum else f"{size} bytes, expected at least {minimum} (truncated download?)"


def _glove_consistent(folder: Path) -> str | None:
    data = np.load(folder / "our_vab_data.npy", mmap_mode="r")
    words = restricted_pickle_load(folder / "our_vab_words.pkl")
    idx = restricted_pickle_load(folder / "our_vab_idx.pkl")
    if data.ndim != 2 or data.shape[1] != 300:
        return f"our_vab_data.npy has shape {data.shape}, expected [V, 300]"
    if "unk" not in idx or any(idx[w] >= len(data) for w in words):
        return "our_vab_idx.pkl does not index our_vab_data.npy for every word (or lacks 'unk')"
    return None


# kind -> list of (file name, required, check(path) -> problem or None)
LAYOUTS = {
    "clip": [("ViT-B-32.pt", True, lambda p: _size_at_least(p, 300 * MB))],
    "glove": [("our_vab_data.npy", True, None), ("our_vab_words.pkl", True, None), ("our_vab_idx.pkl", True, None)],
    "t2m": [
        ("Mean.npy", True, lambda p: _npy_shape(p, (263,))),
        ("Std.npy", True, lambda p: _npy_shape(p, (263,))),
        ("mean_eval.npy", True, lambda p: _npy_shape(p, (263,))),
        ("std_eval.npy", True, lambda p: _npy_shape(p, (263,))),
        ("Mean_complicate2d.npy", True, lambda p: _npy_shape(p, (134,))),
        ("Std_complicate2d.npy", True, lambda p: _npy_shape(p, (134,))),
        ("all.tar", True, lambda p: _size_at_least(p, 10 * MB)),
        ("upper.tar", False, lambda p: _size_at_least(p, 10 * MB)),
        ("lower.tar", False, lambda p: _size_at_least(p, 10 * MB)),
    ],
    "smpl": [("SMPL_NEUTRAL.pkl", True, lambda p: _size_at_least(p, 10 * MB))],
    "checkpoints": [],
}


def check(kind: str, folder: str | Path) -> list[str]:
    """Return the problems found in `folder` for asset `kind` (empty when the layout is right)."""
    if kind not in LAYOUTS:
        raise UserError(f"unknown asset kind {kind!r}; choose one of {', '.join(LAYOUTS)}")
    folder = Path(folder)
    problems = []
    for name, required, test in LAYOUTS[kind]:
        path = folder / name
        if not path.is_file():
            if required:
                problems.append(f"{path}: missing")
            continue
        issue = test(path) if test else None
        if issue:
            problems.append(f"{path}: {issue}")
    if kind == "glove" and not problems:
        issue = _glove_consistent(folder)
        problems += [f"{folder}: {issue}"] if issue else []
    if kind == "checkpoints":
        found = sorted(folder.glob("*.pt")) if folder.is_dir() else []
        problems += [] if found else [f"{folder}: no .pt checkpoint files"]
        problems += [f"{p}: {issue}" for p in found if (issue := _size_at_least(p, 100 * MB))]
    return problems


def cli(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=sorted(LAYOUTS))
    parser.add_argument("folder")
    args = parser.parse_args(argv)
    try:
        problems = check(args.kind, args.folder)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for problem in problems:
        print(f"  problem: {problem}", file=sys.stderr)
    if problems:
        print(f"{args.kind}: {len(problems)} problem(s) in {args.folder}; see data/README.md for the expected layout", file=sys.stderr)
        return 2
    print(f"{args.kind}: layout of {args.folder} is complete")
    return 0


if __name__ == "__main__":
    sys.exit(cli())
