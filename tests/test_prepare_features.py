"""prepare/features.py: any joints folder -> new_joints/ + new_joint_vecs/, target skeletons, bad files, resume."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crossdiff.motion.features3d import joints_to_features, recover_from_ric
from crossdiff.skeleton import SKELETONS, bone_lengths, canonical_offsets
from motion_helpers import random_clip
from prepare import features as prepare_features
from prepare import project


@pytest.fixture
def joints_dir(tmp_path) -> Path:
    folder = tmp_path / "joints"
    folder.mkdir()
    for i, frames in enumerate((25, 40)):
        np.save(folder / f"clip{i}.npy", random_clip(frames, seed=i) * 1.1)   # a taller person
    np.save(folder / "broken.npy", np.zeros((30, 22)))
    return folder


def test_canonical_skeleton_by_default_and_said_so(joints_dir, tmp_path, capsys):
    out = tmp_path / "dataset"
    summary = prepare_features.main(joints_dir, out, workers=1, progress=False)
    assert summary.written == ["clip0", "clip1"] and list(summary.failed) == ["broken"]
    assert "[T, 22, 3]" in summary.failed["broken"]
    assert "canonical" in capsys.readouterr().err
    features = np.load(out / "new_joint_vecs" / "clip1.npy")
    expected, _ = joints_to_features(np.load(joints_dir / "clip1.npy"), canonical_offsets())
    assert features.dtype == np.float32 and features.shape == (39, 263)
    np.testing.assert_allclose(features, expected, atol=1e-6)
    joints = np.load(out / "new_joints" / "clip1.npy")
    np.testing.assert_array_equal(joints, recover_from_ric(features, 22).astype(np.float32))
    np.testing.assert_allclose(bone_lengths(joints[10]), bone_lengths(SKELETONS["t2m"].canonical_joints), atol=1e-5)


def test_target_skeleton_sets_the_bone_lengths(joints_dir, tmp_path):
    target = random_clip(5, seed=7) * 0.9
    np.save(tmp_path / "000021.npy", target)
    out = tmp_path / "dataset"
    assert prepare_features.cli(["--joints_dir", str(joints_dir), "--out", str(out),
                                 "--target_skeleton", str(tmp_path / "000021.npy"), "--workers", "2"]) == 1
    joints = np.load(out / "new_joints" / "clip0.npy")
    np.testing.assert_allclose(bone_lengths(joints[3]), bone_lengths(target[0]), atol=1e-5)


def test_bad_target_skeleton_is_a_user_error(joints_dir, tmp_path, capsys):
    np.save(tmp_path / "kit_pose.npy", np.zeros((21, 3)))
    assert prepare_features.cli(["--joints_dir", str(joints_dir), "--out", str(tmp_path / "o"),
                                 "--target_skeleton", str(tmp_path / "kit_pose.npy")]) == 2
    assert "--target_skeleton" in capsys.readouterr().err
    assert prepare_features.cli(["--joints_dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")]) == 2


def test_resume_then_project_the_result(joints_dir, tmp_path):
    out = tmp_path / "dataset"
    prepare_features.main(joints_dir, out, workers=1, progress=False)
    (joints_dir / "broken.npy").unlink()
    summary = prepare_features.main(joints_dir, out, workers=1, progress=False)
    assert summary.skipped == ["clip0", "clip1"] and not summary.written and not summary.failed
    projected = project.main(out, workers=1, progress=False)
    assert projected.written == ["clip0", "clip1"] and projected.statistics_clips == 2
    assert np.load(out / "new_joints2d_complicate" / "clip0-0.npy").shape == (23, 134)


def test_kit_joints_become_251_columns(tmp_path):
    folder = tmp_path / "kit_joints"
    folder.mkdir()
    np.save(folder / "03950.npy", random_clip(30, seed=2, skeleton="kit"))
    summary = prepare_features.main(folder, tmp_path / "kit", target_skeleton=folder / "03950.npy", kit=True,
                                    workers=1, progress=False)
    assert summary.written == ["03950"]
    assert np.load(tmp_path / "kit" / "new_joint_vecs" / "03950.npy").shape == (29, 251)
    assert np.load(tmp_path / "kit" / "new_joints" / "03950.npy").shape == (29, 21, 3)
