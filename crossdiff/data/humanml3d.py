"""The HumanML3D / KIT-ML dataset: paired 3D and 2D features with captions (docs/original_code.md §2.3-§2.6).

Each item is one clip or one caption segment of a clip (see `crossdiff.data.clips`). On every access
it draws one of the 4 camera views and one caption, crops a random window whose length is a
multiple of 4 (1/3 of the time 4 frames shorter), normalises both modalities and zero-pads them to
`max_frames`. Items are dicts of numpy arrays, frames first; `crossdiff.data.collate` batches them.

Train item (`kind="train"`):
    text str, motion [T, 263], joint [T, 134], length int, valid bool,
    motion_mask [T, 263], joint_mask [T, 134]  (1 on kept features of the first `length` frames)
Evaluation item (`kind="eval"`, the T2M protocol):
    text, motion, joint, length, valid as above, plus word_embeddings [22, 300], pos_one_hots [22, 15],
    sent_len int, tokens str (the 22 padded `word/POS` tokens joined with '_')
T = max_frames (196). KIT uses 251 / 128 features.

3D-ratio ablation (docs/original_code.md §2.4): for the train split, after the mirror-pair reordering only the first
`motion_ratio` of the ids keep their 3D data (`valid=True`); the rest keep only 2D (`valid=False`),
or are dropped altogether with `cut_2d`. Other splits always use ratio 1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from crossdiff.data import masks
from crossdiff.data.base import MIN_MOTION_LEN, SeededDataset, crop_window, pad_frames
from crossdiff.data.clips import (VIEWS, LengthRules, MotionRecord, SkipReport, load_window, mirror_pairs,
                                  read_split, scan_clips)
from crossdiff.data.normalization import Normalizer
from crossdiff.data.words import WordVectorizer, pad_tokens
from crossdiff.errors import UserError
from crossdiff.skeleton import SKELETONS

SPLITS = ("train", "val", "test")
KINDS = ("train", "eval")


def _check_ratio(name: str, value: float, upper_open: bool = False) -> float:
    value = float(value)
    if not (0.0 <= value < 1.0 if upper_open else 0.0 <= value <= 1.0):
        raise UserError(f"data.{name}={value} must lie in [0, 1{')' if upper_open else ']'}")
    return value


def split_ids_and_validity(ids: list[str], motion_ratio: float, cut_2d: bool) -> tuple[list[str], list[bool]]:
    """Apply the 3D-ratio ablation to mirror-paired ids: (ids kept, valid flag of each)."""
    cutting = int(len(ids) * motion_ratio)
    if cut_2d:
        return ids[:cutting], [True] * min(cutting, len(ids))
    return ids, [position < cutting for position in range(len(ids))]


class HumanML3DDataset(SeededDataset):
    """Items of one split of a HumanML3D-format folder (`skeleton="kit"` for KIT-ML)."""

    def __init__(self, data_root, meta_dir, split: str = "train", kind: str | None = None, skeleton: str = "t2m",
                 glove_dir=None, max_frames: int = 196, min_motion_len: int | None = None,
                 max_motion_len: int = 200, normalize_2d: bool = True, motion_ratio: float = 1.0,
                 cut_2d: bool = False, joint_mask_ratio: float = 0.0, reference_mask_indices: bool = False,
                 seed: int = 0, progress: bool = True):
        super().__init__(seed)
        if split not in SPLITS:
            raise UserError(f"unknown split {split!r}; choose one of {list(SPLITS)}")
        self.kind = kind or ("train" if split == "train" else "eval")
        if self.kind not in KINDS:
            raise UserError(f"unknown item kind {self.kind!r}; choose one of {list(KINDS)}")
        self.data_root, self.split, self.max_frames = Path(data_root), split, int(max_frames)
        self.skeleton = SKELETONS[skeleton]
        self.normalize_2d = normalize_2d
        self.joint_mask_ratio = _check_ratio("joint_mask_ratio", joint_mask_ratio, upper_open=True)
        self.rules = self._length_rules(min_motion_len, max_motion_len)
        if not self.data_root.is_dir():
            raise UserError(f"data.data_root={self.data_root} is not a folder; point it at a HumanML3D-format "
                            f"dataset (python prepare/synthetic.py --out data/synthetic makes a small one)")
        self.normalizer = Normalizer.load(meta_dir, self.skeleton.feature_dim, self.skeleton.feature_dim_2d)
        if self.kind == "eval" and glove_dir is None:
            raise UserError("evaluation items need GloVe word vectors: set data.glove_dir")
        self.words = WordVectorizer(glove_dir) if self.kind == "eval" else None
        ratio = _check_ratio("motion_ratio", motion_ratio) if split == "train" else 1.0
        ids, valid = split_ids_and_validity(mirror_pairs(read_split(self.data_root, split)), ratio, cut_2d)
        self.report = SkipReport(f"{self.data_root} [{split}]")
        self.records: list[MotionRecord] = scan_clips(self.data_root, ids, valid, self.skeleton, self.rules,
                                                      self.report, progress)
        self.report.log_summary(kept=len(self.records))
        if not self.records:
            reasons = sorted({reason for _, reason in self.report.skipped})[:5]
            raise UserError(f"no usable clip in the {split} split of data.data_root={self.data_root} "
                            f"({len(ids)} ids listed; reasons: {reasons or ['the split file is empty']})")
        self.owns_3d = masks.ownership_matrix(masks.joint_columns_3d(self.skeleton, reference_mask_indices),
                                              self.skeleton.feature_dim)
        self.owns_2d = masks.ownership_matrix(masks.joint_columns_2d(self.skeleton), self.skeleton.feature_dim_2d)

    def _length_rules(self, min_motion_len, max_motion_len) -> LengthRules:
        min_len = MIN_MOTION_LEN[self.skeleton.name] if min_motion_len is None else int(min_motion_len)
        # A clip keeps N - 1 frames after the 2D truncation and may lose 4 more to the crop coin.
        if min_len < 9 or max_motion_len <= min_len or self.max_frames < 8:
            raise UserError(f"data.min_motion_len={min_len}, data.max_motion_len={max_motion_len}, "
                            f"max_frames={self.max_frames}: need 9 <= min_motion_len < max_motion_len and "
                            f"max_frames >= 8 (crops are multiples of 4 frames, at least 4)")
        return LengthRules(min_len, int(max_motion_len), self.skeleton.fps)

    @property
    def skipped(self) -> list[tuple[str, str]]:
        """(clip id, reason) of every clip of the split that was left out."""
        return self.report.skipped

    def __len__(self) -> int:
        return len(self.records)

    def all_captions(self) -> list[str]:
        """Every caption an item can draw (e.g. to encode them all once before training)."""
        return list(dict.fromkeys(entry.caption for record in self.records for entry in record.captions))

    def __getitem__(self, index: int) -> dict:
        record = self.records[index]
        view = int(self.rng.integers(VIEWS))
        entry = record.captions[int(self.rng.integers(len(record.captions)))]
        motion, joint = load_window(self.data_root, record, view, self.skeleton)
        start, length = crop_window(self.rng, record.length, self.max_frames)
        motion = self.normalizer.transform(motion[start:start + length])
        joint = joint[start:start + length]
        if self.normalize_2d:
            joint = self.normalizer.transform2d(joint)
        item = {"text": entry.caption, "motion": pad_frames(motion, self.max_frames),
                "joint": pad_frames(joint, self.max_frames), "length": length, "valid": record.valid}
        if self.kind == "train":
            item.update(self._masks(length))
        else:
            item.update(self._words(entry.tokens))
        return item

    def _masks(self, length: int) -> dict:
        """motion_mask [T, 263] / joint_mask [T, 134]: random frame and joint drops (joint_mask_ratio)."""
        if self.joint_mask_ratio > 0:
            motion_mask = masks.random_feature_mask(self.rng, length, self.owns_3d, self.joint_mask_ratio)
            joint_mask = masks.random_feature_mask(self.rng, length, self.owns_2d, self.joint_mask_ratio)
        else:
            motion_mask = np.ones((length, self.skeleton.feature_dim), np.float32)
            joint_mask = np.ones((length, self.skeleton.feature_dim_2d), np.float32)
        return {"motion_mask": pad_frames(motion_mask, self.max_frames),
                "joint_mask": pad_frames(joint_mask, self.max_frames)}

    def _words(self, tokens: list[str]) -> dict:
        word_embeddings, pos_one_hots, sent_len = self.words.tokens_to_arrays(tokens)
        return {"word_embeddings": word_embeddings, "pos_one_hots": pos_one_hots, "sent_len": sent_len,
                "tokens": "_".join(pad_tokens(tokens)[0])}
