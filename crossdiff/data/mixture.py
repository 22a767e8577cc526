"""HumanML3D + in-the-wild 2D clips in one training set, mixed by `ucf_ratio` (docs/original_code.md §2.9).

The reference's `MultiDataset` cannot be constructed (docs/original_code.md §13.5); this is the behaviour it
describes. With `0 < ucf_ratio <= 1` an epoch has `int(len(inthewild) / ucf_ratio)` items: the
first `len(inthewild)` indices are the in-the-wild clips, every other index is a HumanML3D train
item drawn at random, so a shuffled batch holds about `ucf_ratio` in-the-wild clips. With
`ucf_ratio = 0` the two datasets are simply concatenated. Both kinds of item have the same keys
and shapes (a HumanML3D train item), so the usual train collate batches them.
"""

from __future__ import annotations

import numpy as np

from crossdiff.data.base import SeededDataset
from crossdiff.data.humanml3d import HumanML3DDataset
from crossdiff.data.inthewild import InTheWildDataset
from crossdiff.errors import UserError


class MixtureDataset(SeededDataset):
    """`inthewild` items for the first indices, then (random or concatenated) `motion3d` items."""

    def __init__(self, motion3d: HumanML3DDataset, inthewild: InTheWildDataset, ucf_ratio: float, seed: int = 0):
        if not 0.0 <= float(ucf_ratio) <= 1.0:
            raise UserError(f"data.ucf_ratio={ucf_ratio} must lie in [0, 1] (0 concatenates the datasets)")
        if motion3d.kind != "train":
            raise UserError("the mixture mixes train items: build the HumanML3D part with kind='train'")
        self.motion3d, self.inthewild, self.ucf_ratio = motion3d, inthewild, float(ucf_ratio)
        super().__init__(seed)

    def reseed(self, seed: int) -> None:
        """Restart this generator and both parts' with independent child seeds."""
        own, for_3d, for_2d = np.random.SeedSequence(seed).spawn(3)
        self.rng = np.random.default_rng(own)
        self.motion3d.reseed(for_3d)
        self.inthewild.reseed(for_2d)

    def all_captions(self) -> list[str]:
        """Every caption an item of either part can draw."""
        return list(dict.fromkeys(self.inthewild.all_captions() + self.motion3d.all_captions()))

    def __len__(self) -> int:
        if self.ucf_ratio == 0:
            return len(self.inthewild) + len(self.motion3d)
        return int(len(self.inthewild) / self.ucf_ratio)

    def __getitem__(self, index: int) -> dict:
        if index < len(self.inthewild):
            return self.inthewild[index]
        if self.ucf_ratio == 0:
            return self.motion3d[index - len(self.inthewild)]
        return self.motion3d[int(self.rng.integers(len(self.motion3d)))]
