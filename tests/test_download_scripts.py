"""prepare/download_*.sh fail cleanly offline; prepare/check_assets validates layouts."""

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from prepare.check_assets import check

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((REPO / "prepare").glob("download_*.sh"))
SCRIPTS = [s for s in SCRIPTS if s.name != "download_common.sh"]


def test_all_asset_scripts_exist():
    names = {s.name for s in SCRIPTS}
    assert names == {"download_clip.sh", "download_glove.sh", "download_t2m_evaluators.sh",
                     "download_smpl_files.sh", "download_pretrained_models.sh"}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_offline_download_fails_clearly_and_writes_nothing(script, tmp_path):
    dest = tmp_path / "dest"
    # An unreachable proxy makes every download fail at once, online or not.
    env = dict(os.environ, https_proxy="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9",
               CROSSDIFF_DOWNLOAD_TIMEOUT="3", PY=sys.executable)
    result = subprocess.run(["bash", str(script), str(dest)], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode != 0
    assert "offline" in result.stderr and "data/README.md" in result.stderr
    assert not dest.exists()


def _write_t2m(folder: Path, mean_width=263):
    folder.mkdir(parents=True)
    for name, width in [("Mean", mean_width), ("Std", 263), ("mean_eval", 263), ("std_eval", 263),
                        ("Mean_complicate2d", 134), ("Std_complicate2d", 134)]:
        np.save(folder / f"{name}.npy", np.zeros(width, np.float32))
    with open(folder / "all.tar", "wb") as f:
        f.truncate(11 << 20)


def test_t2m_layout_ok(tmp_path):
    _write_t2m(tmp_path / "t2m")
    assert check("t2m", tmp_path / "t2m") == []


def test_t2m_layout_reports_wrong_shape_and_missing(tmp_path):
    _write_t2m(tmp_path / "t2m", mean_width=251)
    (tmp_path / "t2m" / "all.tar").unlink()
    problems = check("t2m", tmp_path / "t2m")
    assert any("Mean.npy" in p and "(251,)" in p for p in problems)
    assert any("all.tar: missing" in p for p in problems)


def test_glove_layout_checks_consistency(tmp_path):
    folder = tmp_path / "glove"
    folder.mkdir()
    np.save(folder / "our_vab_data.npy", np.zeros((2, 300), np.float32))
    (folder / "our_vab_words.pkl").write_bytes(pickle.dumps(["unk", "walk"]))
    (folder / "our_vab_idx.pkl").write_bytes(pickle.dumps({"unk": 0, "walk": 5}))
    assert any("does not index" in p for p in check("glove", folder))
    (folder / "our_vab_idx.pkl").write_bytes(pickle.dumps({"unk": 0, "walk": 1}))
    assert check("glove", folder) == []


def test_check_assets_cli_exit_codes(tmp_path):
    run = lambda *a: subprocess.run([sys.executable, "-m", "prepare.check_assets", *a], cwd=REPO, capture_output=True, text=True)
    assert run("clip", str(tmp_path)).returncode == 2
    _write_t2m(tmp_path / "t2m")
    assert run("t2m", str(tmp_path / "t2m")).returncode == 0
