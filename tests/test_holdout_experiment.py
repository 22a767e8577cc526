"""experiments/holdout_2d.py: the folders and 2D clips it builds (its training and testing are train.py and test.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "experiments"))

import holdout_2d  # noqa: E402


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    from prepare.synthetic import make_tiny_dataset

    return make_tiny_dataset(tmp_path_factory.mktemp("synthetic") / "data", clips=24, seed=0)


def single_action_families(data: Path) -> list[str]:
    fams = holdout_2d.clip_families(data)
    return sorted({fams[c][0] for c in holdout_2d.split_ids(data, "train") if len(fams[c]) == 1})


def test_class_tags_have_no_underscores():
    assert holdout_2d.class_tag("jump_in_place") == "JumpInPlace" and holdout_2d.class_tag("bow") == "Bow"


def test_folders_split_by_family_and_2d_clips_cover_the_held_out_train_clips(synthetic, tmp_path):
    held = single_action_families(synthetic)[:2]
    fams = holdout_2d.clip_families(synthetic)
    shows = {clip: bool(set(held) & set(f)) for clip, f in fams.items()}
    counts = holdout_2d.step_folders(synthetic, tmp_path, set(held))

    kept = holdout_2d.split_ids(tmp_path / "data_3d", "train")
    train = holdout_2d.split_ids(synthetic, "train")
    assert kept == [c for c in train if not shows[c]] and counts["train_removed"] == sum(map(shows.get, train)) > 0
    evaluation = holdout_2d.split_ids(synthetic, "test") + holdout_2d.split_ids(synthetic, "val")
    heldout = holdout_2d.split_ids(tmp_path / "eval_heldout", "test")
    other = holdout_2d.split_ids(tmp_path / "eval_other", "test")
    assert sorted(heldout + other) == sorted(evaluation) and all(shows[c] for c in heldout)
    assert not any(shows[c] for c in other)
    clip = kept[0]
    assert np.array_equal(np.load(tmp_path / "data_3d" / "new_joint_vecs" / f"{clip}.npy"),
                          np.load(synthetic / "new_joint_vecs" / f"{clip}.npy"))

    written = holdout_2d.step_2d_clips(synthetic, tmp_path, held)
    singles = [c for c in train if len(fams[c]) == 1 and fams[c][0] in held]
    assert written["written"] + written["dropped"] == len(singles) and written["written"] > 0
    text = json.loads((tmp_path / "ucf" / "text.json").read_text())
    assert sorted(text) == sorted(holdout_2d.class_tag(f) for f in held)
    first_caption = holdout_2d.caption_lines(synthetic, singles[0])[0]
    assert first_caption in text[holdout_2d.class_tag(fams[singles[0]][0])]
    clips = sorted((tmp_path / "ucf" / "complicate_2d").glob("v_*.npy"))
    assert clips and all(np.load(c).shape[1] == 268 for c in clips)
    assert holdout_2d.step_2d_clips(synthetic, tmp_path, held) == written  # done: read back, not redone


def test_unknown_families_and_a_missing_evaluator_are_usage_errors(synthetic, tmp_path, capsys):
    assert holdout_2d.cli(["--data", str(synthetic), "--work", str(tmp_path), "--families", "juggle"]) == 2
    assert "--families juggle: not in" in capsys.readouterr().err
    family = single_action_families(synthetic)[0]
    assert holdout_2d.cli(["--data", str(synthetic), "--work", str(tmp_path), "--families", family]) == 2
    assert "no evaluator at" in capsys.readouterr().err
