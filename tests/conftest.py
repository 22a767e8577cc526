"""Shared fixtures: the golden data folder (../shared/golden) and small helpers.

Golden conformance tests skip with a reason when the folder is absent (e.g. a bare clone);
CI runs with shared/ beside the clone, so there they always run. Tests marked `gpu` skip with a
reason when torch sees no CUDA device.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
GOLDEN = Path(os.environ.get("CROSSDIFF_GOLDEN", REPO.parent / "shared" / "golden"))


def pytest_collection_modifyitems(config, items):
    gpu_tests = [item for item in items if "gpu" in item.keywords]
    if not gpu_tests:
        return
    import torch

    if not torch.cuda.is_available():
        skip = pytest.mark.skip(reason="needs a CUDA device (torch.cuda.is_available() is False)")
        for item in gpu_tests:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    if not (GOLDEN / "manifest.json").is_file():
        pytest.skip(f"golden data not found at {GOLDEN} (set CROSSDIFF_GOLDEN)")
    return GOLDEN


@pytest.fixture(scope="session")
def golden(golden_dir):
    """golden('case1_hml3d_features') -> the loaded npz."""
    cache = {}

    def load(name: str):
        if name not in cache:
            cache[name] = np.load(golden_dir / f"{name}.npz")
        return cache[name]

    return load


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    """A 6-clip synthetic HumanML3D-format folder, one per test module (modules may define their own)."""
    from prepare.synthetic import make_tiny_dataset

    return make_tiny_dataset(tmp_path_factory.mktemp("synthetic") / "data", clips=6, seed=1)
