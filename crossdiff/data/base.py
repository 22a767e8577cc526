"""Pieces every dataset shares: its own random generator (correct in DataLoader workers), crop, padding.

Randomness. Each dataset draws views, captions, crops and masks from its own
`numpy.random.Generator`, never from the global numpy state. `worker_init_fn` reseeds the copy of
the dataset inside each DataLoader worker with the seed torch gives that worker
(`get_worker_info().seed`), which differs between workers and, because the loader draws its base
seed from its generator, between epochs. This fixes the reference's correlated workers (docs/original_code.md §13.17).
Without workers (`num_workers=0`) the dataset's generator simply runs on; call `reseed(seed)` at the
start of each epoch to make the draws a function of the epoch (exact resume).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset, get_worker_info

UNIT_LENGTH = 4              # crops are multiples of 4 frames (the evaluator's GRU runs on length // 4)
MIN_MOTION_LEN = {"t2m": 40, "kit": 24}   # default shortest clip in frames, per skeleton (docs/original_code.md §2.4)


class SeededDataset(Dataset):
    """A dataset with its own generator `self.rng`; `reseed(seed)` restarts it."""

    def __init__(self, seed: int = 0):
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)


def worker_init_fn(worker_id: int) -> None:
    """DataLoader hook: reseed this worker's dataset copy with torch's per-worker seed."""
    info = get_worker_info()
    dataset = info.dataset
    while isinstance(dataset, torch.utils.data.Subset):
        dataset = dataset.dataset
    if isinstance(dataset, SeededDataset):
        dataset.reseed(info.seed)


def crop_window(rng: np.random.Generator, length: int, max_frames: int) -> tuple[int, int]:
    """A random (start, crop_length) with crop_length a multiple of 4 and at most `max_frames`.

    As the reference (docs/original_code.md §2.5 step 2): with probability 1/3 the crop is 4 frames shorter than it
    could be ("double"), and the start is uniform over every position that fits.
    """
    crop = min(length, max_frames) // UNIT_LENGTH * UNIT_LENGTH
    if rng.random() < 1 / 3:
        crop -= UNIT_LENGTH
    assert crop > 0, f"a clip of {length} frames is too short to crop"
    start = int(rng.integers(0, length - crop + 1))
    return start, crop


def pad_frames(array: np.ndarray, frames: int) -> np.ndarray:
    """[L, C] -> [frames, C] float32, zero rows after L (zero is the mean pose once normalised)."""
    padded = np.zeros((frames, array.shape[1]), np.float32)
    padded[: len(array)] = array
    return padded
