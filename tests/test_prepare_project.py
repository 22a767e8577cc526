"""prepare/project.py on a tiny folder: files and shapes, bad files reported, resume, statistics, CLI."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from crossdiff.motion.features2d import project_clip
from crossdiff.motion.stats import feature_statistics_2d
from motion_helpers import random_clip
from prepare import project

REPO = Path(__file__).resolve().parents[1]
GOOD = {"000001": 30, "000002": 45, "M000001": 30, "000003": 2}
BAD = {"000004": "unreadable", "000005": "NaN", "000006": r"\[T, 22, 3\]", "000007": "too short"}


def make_folder(root: Path, skeleton: str = "t2m", train: bool = True) -> Path:
    joints_dir = root / "new_joints"
    joints_dir.mkdir(parents=True)
    for i, (clip_id, frames) in enumerate(GOOD.items()):
        np.save(joints_dir / f"{clip_id}.npy", random_clip(frames, seed=i, skeleton=skeleton).astype(np.float32))
    (joints_dir / "000004.npy").write_bytes(b"\x93NUMPY garbage")
    nan = random_clip(20, seed=9)
    nan[5, 3] = np.nan
    np.save(joints_dir / "000005.npy", nan)
    np.save(joints_dir / "000006.npy", np.zeros((20, 24, 3)))
    np.save(joints_dir / "000007.npy", np.zeros((1, 22, 3)))
    if train:
        (root / "train.txt").write_text("000001\nM000001\n000004\n000099\n")
    return root


@pytest.fixture
def folder(tmp_path):
    return make_folder(tmp_path / "data")


def test_writes_views_features_and_statistics_and_reports_bad_files(folder, capsys):
    summary = project.main(folder, workers=1, progress=False)
    assert sorted(summary.written) == sorted(GOOD) and not summary.skipped
    assert sorted(summary.failed) == sorted(BAD)
    for clip_id, pattern in BAD.items():
        assert re.search(pattern, summary.failed[clip_id]), summary.failed[clip_id]
    assert "000099" in capsys.readouterr().err            # listed in train.txt, no joint file
    for clip_id, frames in GOOD.items():
        views, features = project_clip(np.load(folder / "new_joints" / f"{clip_id}.npy"))
        for v in range(4):
            saved_view = np.load(folder / "new_joints2d" / f"{clip_id}-{v}.npy")
            saved_features = np.load(folder / "new_joints2d_complicate" / f"{clip_id}-{v}.npy")
            assert saved_view.shape == (frames, 22, 2) and saved_features.shape == (frames - 1, 134)
            assert saved_view.dtype == saved_features.dtype == np.float32
            np.testing.assert_array_equal(saved_features, features[v])
    train_views = [np.load(folder / "new_joints2d_complicate" / f"{c}-{v}.npy") for c in ("000001", "M000001")
                   for v in range(4)]
    mean, std = feature_statistics_2d(train_views)
    assert summary.statistics_clips == 2
    np.testing.assert_allclose(np.load(folder / "Mean_complicate2d.npy"), mean, rtol=1e-6)
    np.testing.assert_allclose(np.load(folder / "Std_complicate2d.npy"), std, rtol=1e-6)


def test_a_resumed_run_skips_finished_clips_and_redoes_missing_ones(folder):
    project.main(folder, workers=1, progress=False)
    stamps = {p: p.stat().st_mtime_ns for p in (folder / "new_joints2d_complicate").glob("*.npy")}
    statistics = np.load(folder / "Std_complicate2d.npy")
    (folder / "new_joints2d" / "000002-3.npy").unlink()
    summary = project.main(folder, workers=1, progress=False)
    assert summary.written == ["000002"] and sorted(summary.skipped) == sorted(set(GOOD) - {"000002"})
    changed = [p.name for p, stamp in stamps.items() if p.stat().st_mtime_ns != stamp]
    assert sorted(changed) == [f"000002-{v}.npy" for v in range(4)]
    np.testing.assert_array_equal(np.load(folder / "Std_complicate2d.npy"), statistics)
    assert not list(folder.rglob(".*.npy"))                # no temporary files left behind


def test_two_workers_give_the_same_files(folder, tmp_path):
    serial = make_folder(tmp_path / "serial")
    project.main(serial, workers=1, progress=False)
    summary = project.main(folder, workers=2, progress=False)
    assert sorted(summary.failed) == sorted(BAD)
    for path in sorted((serial / "new_joints2d_complicate").glob("*.npy")) + [serial / "Mean_complicate2d.npy"]:
        np.testing.assert_array_equal(np.load(folder / path.relative_to(serial)), np.load(path))


def test_without_train_txt_all_clips_make_the_statistics(tmp_path, capsys):
    folder = make_folder(tmp_path / "data", train=False)
    summary = project.main(folder, workers=1, progress=False)
    assert summary.statistics_clips == len(GOOD)
    assert "no " in capsys.readouterr().err and (folder / "Mean_complicate2d.npy").is_file()


def test_kit_folder_gets_128_columns(tmp_path):
    folder = tmp_path / "kit"
    (folder / "new_joints").mkdir(parents=True)
    np.save(folder / "new_joints" / "00001.npy", random_clip(25, seed=1, skeleton="kit"))
    summary = project.main(folder, workers=1, kit=True, progress=False)
    assert summary.written == ["00001"] and not summary.failed
    assert np.load(folder / "new_joints2d_complicate" / "00001-2.npy").shape == (24, 128)
    assert np.load(folder / "Std_complicate2d.npy").shape == (128,)


def test_cli_exit_status_and_summary(folder, tmp_path, capsys):
    assert project.cli(["--data_root", str(folder), "--workers", "1"]) == 1
    captured = capsys.readouterr()
    assert "4 failed of 8" in captured.out and "failed 000005" in captured.err
    assert project.cli(["--data_root", str(tmp_path / "missing")]) == 2
    assert "new_joints" in capsys.readouterr().err


def test_runs_as_a_script(tmp_path):
    folder = tmp_path / "data"
    (folder / "new_joints").mkdir(parents=True)
    np.save(folder / "new_joints" / "000001.npy", random_clip(10, seed=3))
    env = {**os.environ, "PYTHONPATH": ""}
    done = subprocess.run([sys.executable, str(REPO / "prepare" / "project.py"), "--data_root", str(folder)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "1 clips projected" in done.stdout and len(list((folder / "new_joints2d").glob("*.npy"))) == 4
