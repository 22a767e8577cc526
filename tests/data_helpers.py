"""Tiny HumanML3D-format and in-the-wild folders for the data tests (random features, real layout).

Feature values encode where they come from, so tests can check crops and alignment:
3D frame t of clip number n is `[t, n, n, ...]`; 2D frame t of view v is `[t, v, v, ...]`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from crossdiff.data.words import write_glove_vocab
from crossdiff.skeleton import SKELETONS

WORDS = ["unk", "a", "person", "walk", "forward", "jump", "run", "left", "the", "man"]
MEAN_3D, STD_3D, MEAN_2D, STD_2D = 0.5, 2.0, -1.0, 4.0


def clip_features(number: int, frames: int, width: int) -> np.ndarray:
    features = np.full((frames, width), float(number), np.float32)
    features[:, 0] = np.arange(frames)
    return features


def view_features(view: int, frames: int, width: int) -> np.ndarray:
    features = np.full((frames, width), float(view), np.float32)
    features[:, 0] = np.arange(frames)
    return features


def write_clip(root: Path, clip_id: str, number: int, frames: int, lines: list[str], skeleton: str = "t2m"):
    """3D features [frames, 263], four 2D views [frames - 1, 134] and the text file of one clip."""
    sk = SKELETONS[skeleton]
    for folder in ("new_joint_vecs", "new_joints2d_complicate", "texts"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    np.save(root / "new_joint_vecs" / f"{clip_id}.npy", clip_features(number, frames, sk.feature_dim))
    for view in range(4):
        np.save(root / "new_joints2d_complicate" / f"{clip_id}-{view}.npy",
                view_features(view, frames - 1, sk.feature_dim_2d))
    (root / "texts" / f"{clip_id}.txt").write_text("\n".join(lines) + "\n")


def write_meta(root: Path, skeleton: str = "t2m", glove: bool = True) -> None:
    """Mean/Std (3D and 2D) with simple constants, and a small GloVe vocabulary under root/glove."""
    sk = SKELETONS[skeleton]
    np.save(root / "Mean.npy", np.full(sk.feature_dim, MEAN_3D, np.float32))
    np.save(root / "Std.npy", np.full(sk.feature_dim, STD_3D, np.float32))
    np.save(root / "Mean_complicate2d.npy", np.full(sk.feature_dim_2d, MEAN_2D, np.float32))
    np.save(root / "Std_complicate2d.npy", np.full(sk.feature_dim_2d, STD_2D, np.float32))
    if glove:
        vectors = np.random.default_rng(0).normal(size=(len(WORDS), 300)).astype(np.float32)
        write_glove_vocab(root / "glove", WORDS, vectors)


WHOLE = "a person walk forward#a/DET person/NOUN walk/VERB forward/ADV#0.0#0.0"
OTHER = "the man jump#the/DET man/NOUN jump/VERB#0.0#0.0"


def make_folder(root: Path, frames: dict[str, int] | None = None, splits: dict[str, list[str]] | None = None,
                texts: dict[str, list[str]] | None = None, skeleton: str = "t2m") -> Path:
    """A folder with the given clips (id -> frames), split lists and captions; stats and GloVe included."""
    frames = frames or {"000001": 60, "M000001": 60, "000002": 81, "M000002": 81, "000003": 120, "M000003": 120}
    splits = splits or {"train": list(frames), "val": list(frames)[:2], "test": list(frames)}
    texts = texts or {}
    root.mkdir(parents=True, exist_ok=True)
    for number, (clip_id, count) in enumerate(frames.items()):
        write_clip(root, clip_id, number, count, texts.get(clip_id, [WHOLE, OTHER]), skeleton)
    for split, ids in splits.items():
        (root / f"{split}.txt").write_text("\n".join(ids) + "\n")
    write_meta(root, skeleton)
    return root


def make_inthewild(root: Path, clips: dict[str, int], with_mask: tuple[str, ...] = (),
                   captions: dict[str, list[str]] | None = None) -> Path:
    """complicate_2d/<name>.npy ([N, 134], or [N, 268] for names in with_mask) and text.json."""
    (root / "complicate_2d").mkdir(parents=True, exist_ok=True)
    for name, count in clips.items():
        features = view_features(7, count, 134)
        if name in with_mask:
            mask = np.ones_like(features)
            mask[:, 2:6] = 0.0
            features = np.concatenate([features, mask], axis=1)
        np.save(root / "complicate_2d" / f"{name}.npy", features)
    captions = captions or {"BaseballPitch": ["a person throws a ball"], "Biking": ["a person rides a bike"]}
    (root / "text.json").write_text(json.dumps(captions))
    return root
