"""experiments/denoiser_drift.py on a random tiny model: the real row is the family statistic of the clips'
middle windows, the sampler started at timestep 0 is one denoiser pass, and bad input is a usage error."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from train_helpers import random_tiny_checkpoint, tiny_config

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "experiments"))

import denoiser_drift  # noqa: E402


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    from prepare.synthetic import make_tiny_dataset

    return make_tiny_dataset(tmp_path_factory.mktemp("synthetic") / "data", clips=24, seed=0)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, synthetic) -> Path:
    return random_tiny_checkpoint(tmp_path_factory, synthetic)


def a_single_action_family(data: Path) -> str:
    from crossdiff.evaluation.family_fidelity import fidelity_cases

    return fidelity_cases(data, "train", 48, 2)[0].family


def run(tmp_path, synthetic, checkpoint, family, *extra):
    cfg = tiny_config(tmp_path, synthetic, f"test_checkpoint={checkpoint}", "pretrained_dir=null",
                      "diffusion.sampling_steps=4", "diffusion.guidance_scale=2.0", *extra)
    return denoiser_drift.main(cfg, family, synthetic, "train", clips=2, passes=2, starts=[0, 999])


def test_rows_measure_real_windows_one_pass_and_the_sampler(tmp_path, synthetic, checkpoint, capsys):
    from crossdiff.evaluation.family_fidelity import fidelity_cases
    from crossdiff.motion.family_stats import family_statistic

    family = a_single_action_family(synthetic)
    rows = run(tmp_path, synthetic, checkpoint, family)
    labels = [r["label"] for r in rows]
    assert labels == ["real clips", "1 pass at timestep 0", "2 passes at timestep 0",
                      "sampler from timestep 0 (1 steps)", "sampler from timestep 750 (4 steps)"]
    cases = [c for c in fidelity_cases(synthetic, "train", 48, 2) if c.family == family]
    expected = []
    for case in cases:                                     # the middle window of each clip, its own frames only
        joints = np.load(synthetic / "new_joints" / f"{case.clip_id}.npy")
        start = max(0, (len(joints) - 48) // 2)
        expected.append(family_statistic(family, joints[start:start + case.length]))
    assert rows[0]["statistic"] == pytest.approx(np.mean(expected), rel=2e-3, abs=1e-4)
    assert rows[0]["ratio"] == 1.0
    # DDIM's last step returns the x0 prediction: starting at timestep 0 is one pass (on clips noised to t = 0)
    assert rows[3]["statistic"] == pytest.approx(rows[1]["statistic"], rel=1e-3)
    assert rows[2]["statistic"] != pytest.approx(rows[1]["statistic"], rel=1e-2)
    assert rows[1]["statistic"] != pytest.approx(rows[0]["statistic"], rel=1e-3)   # random weights change motion
    saved = json.loads((tmp_path / "save" / "tiny" / "eval" / f"drift_{family}.json").read_text())
    assert saved["family"] == family and len(saved["rows"]) == 5
    assert "sampler from timestep 750" in capsys.readouterr().out


def test_a_family_without_clips_or_bad_starts_is_a_usage_error(tmp_path, synthetic, checkpoint, capsys):
    common = ["--cfg", str(REPO / "configs" / "demo_finetune.yaml"), "--data", str(synthetic),
              f"save_dir={tmp_path / 'save'}", f"test_checkpoint={checkpoint}", "pretrained_dir=null",
              "model.latent_dim=32", "model.ff_size=64", "model.layers=1", "model.layers2=2", "model.num_heads=2",
              "model.max_frames=48", f"data.data_root={synthetic}", f"data.meta_dir={synthetic}"]
    assert denoiser_drift.cli(["--family", "moonwalk", *common]) == 2
    assert "no single-action 'moonwalk' clip" in capsys.readouterr().err
    assert denoiser_drift.cli(["--starts", "0,late", *common]) == 2
    assert "--starts '0,late'" in capsys.readouterr().err
