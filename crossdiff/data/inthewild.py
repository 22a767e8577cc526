"""In-the-wild 2D-only clips (UCF101-style) as train items without 3D data (docs/original_code.md §2.9).

Files read under `ucf_root` (written by prepare/ucf101.py):
    complicate_2d/<video>.npy   [N, 134] 2D features, or [N, 268] = 134 features then a 134-d
                                per-feature confidence mask (1 = observed)
    text.json                   {"<ClassTag>": ["caption", ...], ...}
The class tag is the second `_`-separated field of the file name (`v_BaseballPitch_g09_c02.npy` ->
`BaseballPitch`). A clip is used when its tag has captions in text.json (and is listed in
`ucf_keys` when that list is not empty) and `min_motion_len <= N <= max_frames`.

An item has the keys and shapes of a HumanML3D train item: a random caption of its class, the
whole clip (no crop) normalised with the 2D statistics of `meta_dir`, `motion` all zeros with
`valid=False`, `motion_mask` 1 on the clip's frames, `joint_mask` the confidence mask (or ones).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from crossdiff.data.base import MIN_MOTION_LEN, SeededDataset, pad_frames
from crossdiff.data.clips import SkipReport
from crossdiff.data.normalization import load_statistic
from crossdiff.errors import UserError
from crossdiff.skeleton import SKELETONS

FEATURES_DIR, TEXT_FILE = "complicate_2d", "text.json"


def class_tag(path: Path) -> str | None:
    """'v_BaseballPitch_g09_c02.npy' -> 'BaseballPitch' (None without a second '_' field)."""
    fields = path.stem.split("_")
    return fields[1] if len(fields) > 1 and fields[1] else None


def read_class_captions(ucf_root: Path) -> dict[str, list[str]]:
    path = ucf_root / TEXT_FILE
    if not path.is_file():
        raise UserError(f"{path} not found: data.ucf_root must hold text.json and complicate_2d/ "
                        f"(python prepare/ucf101.py writes them)")
    try:
        captions = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise UserError(f"{path} is not valid JSON: {e}") from e
    if not isinstance(captions, dict) or not all(
            isinstance(v, list) and all(isinstance(c, str) for c in v) for v in captions.values()):
        raise UserError(f"{path} must map each class tag to a list of caption strings")
    return captions


class InTheWildDataset(SeededDataset):
    """2D-only clips with class-level captions, as train items (`valid=False`)."""

    def __init__(self, ucf_root, meta_dir, ucf_keys=(), skeleton: str = "t2m", max_frames: int = 196,
                 min_motion_len: int | None = None, normalize_2d: bool = True, seed: int = 0,
                 progress: bool = True):
        super().__init__(seed)
        self.ucf_root, self.max_frames = Path(ucf_root), int(max_frames)
        self.skeleton = SKELETONS[skeleton]
        self.min_len = MIN_MOTION_LEN[self.skeleton.name] if min_motion_len is None else int(min_motion_len)
        width = self.skeleton.feature_dim_2d
        self.stats_2d = None
        if normalize_2d:
            self.stats_2d = (load_statistic(meta_dir, "Mean_complicate2d.npy", width),
                             load_statistic(meta_dir, "Std_complicate2d.npy", width, positive=True))
        captions = read_class_captions(self.ucf_root)
        wanted = set(ucf_keys) if ucf_keys else set(captions)
        self.report = SkipReport(f"{self.ucf_root}")
        self.clips: list[tuple[Path, list[str]]] = []
        files = sorted((self.ucf_root / FEATURES_DIR).glob("*.npy"))
        for path in tqdm(files, desc=f"checking {self.ucf_root.name}", unit="clip", disable=not progress, leave=False):
            reason = self._problem(path, captions, wanted)
            if reason:
                self.report.add(path.stem, reason)
            else:
                self.clips.append((path, captions[class_tag(path)]))
        self.report.log_summary(kept=len(self.clips))
        if not self.clips:
            raise UserError(f"no usable clip in data.ucf_root={self.ucf_root} ({len(files)} files in "
                            f"{FEATURES_DIR}/; reasons: {sorted({r for _, r in self.report.skipped})[:5]})")

    @property
    def skipped(self) -> list[tuple[str, str]]:
        return self.report.skipped

    def _problem(self, path: Path, captions: dict, wanted: set) -> str | None:
        """Why this clip cannot be used, or None."""
        tag = class_tag(path)
        if tag is None or tag not in captions or not captions[tag]:
            return f"no captions: class tag {tag!r} has no captions in {TEXT_FILE}"
        if tag not in wanted:
            return f"not selected: class {tag!r} is not in data.ucf_keys"
        width = self.skeleton.feature_dim_2d
        try:
            array = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as e:
            return f"unreadable file: {e}"
        if array.ndim != 2 or array.shape[1] not in (width, 2 * width):
            return f"wrong shape: {list(array.shape)}, expected [N, {width}] or [N, {2 * width}]"
        if not np.all(np.isfinite(array)):
            return "non-finite values: NaN or inf (store missing keypoints as 0 and mark them in the mask columns)"
        if len(array) < self.min_len:
            return f"too short: {len(array)} frames < {self.min_len}"
        if len(array) > self.max_frames:
            return f"too long: {len(array)} frames > {self.max_frames}"
        return None

    def all_captions(self) -> list[str]:
        """Every caption an item can draw."""
        return list(dict.fromkeys(caption for _, captions in self.clips for caption in captions))

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> dict:
        path, captions = self.clips[index]
        array = np.load(path).astype(np.float32)
        width, length = self.skeleton.feature_dim_2d, len(array)
        joint = array[:, :width]
        if self.stats_2d is not None:
            joint = (joint - self.stats_2d[0]) / self.stats_2d[1]
        joint_mask = array[:, width:] if array.shape[1] == 2 * width else np.ones_like(joint)
        motion_mask = np.ones((length, self.skeleton.feature_dim), np.float32)
        return {"text": captions[int(self.rng.integers(len(captions)))],
                "motion": np.zeros((self.max_frames, self.skeleton.feature_dim), np.float32),
                "joint": pad_frames(joint, self.max_frames), "length": length, "valid": False,
                "motion_mask": pad_frames(motion_mask, self.max_frames),
                "joint_mask": pad_frames(joint_mask, self.max_frames)}
