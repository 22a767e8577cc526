"""generate.py with a tiny random-weight model: every path writes the right files; bad input is clear."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from crossdiff.errors import UserError
from train_helpers import random_tiny_checkpoint, tiny_config

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, data_root) -> Path:
    """An official-layout bare state_dict of a random tiny CrossDiff."""
    return random_tiny_checkpoint(tmp_path_factory, data_root)


def _config(tmp_path, data_root, checkpoint, *extra):
    return tiny_config(tmp_path, data_root, f"test_checkpoint={checkpoint}", "generate.batch_size=2", *extra)


def _frames(video: Path) -> int:
    import imageio_ffmpeg

    return imageio_ffmpeg.count_frames_and_secs(str(video))[0]


def test_3d_path_writes_joints_features_videos_bvh_and_index(tmp_path, data_root, checkpoint):
    import generate
    from crossdiff.motion.bvh import bvh_positions, read_bvh

    captions = ["a person walks forward", "someone jumps"]
    cfg = _config(tmp_path, data_root, checkpoint, f"generate.captions={json.dumps(captions)}",
                  "generate.length=1.2", "generate.length_unit=seconds", "sample_times=2", "generate.bvh=true")
    out = generate.main(cfg, progress=False)
    index = json.loads((out / "index.json").read_text())
    assert [s["caption"] for s in index["samples"]] == [c for c in captions for _ in range(2)]
    assert {s["length"] for s in index["samples"]} == {24}
    for sample in index["samples"]:
        files = sample["files"]
        assert all((out / name).is_file() for name in files.values())
        joints = np.load(out / files["joints"])
        assert joints.shape == (24, 22, 3) and joints.dtype == np.float32 and np.isfinite(joints).all()
        assert np.load(out / files["features"]).shape == (24, 263)
        assert _frames(out / files["video"]) == 24
        bvh = read_bvh(out / files["bvh"])
        assert bvh_positions(bvh, "cm").shape == (24, 22, 3)
    assert (out / "index.html").read_text().count("<figure>") == 4
    assert (out / "config.yaml").is_file()


def test_seed_reproduces_samples(tmp_path, data_root, checkpoint):
    import generate

    first = generate.main(_config(tmp_path / "a", data_root, checkpoint, "generate.video=false"), progress=False)
    second = generate.main(_config(tmp_path / "b", data_root, checkpoint, "generate.video=false"), progress=False)
    other = generate.main(_config(tmp_path / "c", data_root, checkpoint, "generate.video=false", "seed=8"),
                          progress=False)
    assert np.array_equal(np.load(first / "0.npy"), np.load(second / "0.npy"))
    assert not np.array_equal(np.load(first / "0.npy"), np.load(other / "0.npy"))


@pytest.mark.parametrize("path", ["2d", "mixture"])
def test_2d_and_mixture_paths(tmp_path, data_root, checkpoint, path):
    import generate

    captions_file = tmp_path / "captions.txt"
    captions_file.write_text("a person waves|20\n# a comment\nsomeone turns left\n")
    cfg = _config(tmp_path, data_root, checkpoint, f"generate.captions_file={captions_file}",
                  f"generate.path={path}", "generate.change_idx=500", "generate.video_format=gif")
    out = generate.main(cfg, progress=False)
    samples = json.loads((out / "index.json").read_text())["samples"]
    assert [(s["caption"], s["length"]) for s in samples] == [("a person waves", 20), ("someone turns left", 48)]
    assert np.load(out / "0.npy").shape == (20, 22, 3)
    assert ("joints_2d" in samples[0]["files"]) == (path == "2d")
    if path == "2d":
        assert np.load(out / "0_2d.npy").shape == (20, 22, 2)
        assert (out / "0_2d.gif").is_file()


def test_cli_text_and_bad_input(tmp_path, data_root, checkpoint, capsys):
    import generate

    base = ["--cfg", str(REPO / "configs" / "crossdiff_pre.yaml")] + [
        item for item in _config_overrides(tmp_path, data_root, checkpoint)]
    assert generate.cli(base + ["--text", "a person, then 'jumps'", "generate.video=false"]) == 0
    out = tmp_path / "save" / "tiny" / "generate"
    assert json.loads((out / "index.json").read_text())["samples"][0]["caption"] == "a person, then 'jumps'"
    capsys.readouterr()
    assert generate.cli(base + ["generate.captions=['  ']"]) == 2
    assert "empty" in capsys.readouterr().err
    assert generate.cli(base + ["generate.length=500"]) == 2
    assert "from 1 to 48" in capsys.readouterr().err
    assert generate.cli(base + [f"test_checkpoint={tmp_path / 'nothing.pt'}"]) == 2
    assert "nothing.pt" in capsys.readouterr().err
    assert generate.cli(base + ["model.latent_dim=48"]) == 2
    assert "does not match the configured model" in capsys.readouterr().err


def _config_overrides(tmp_path, data_root, checkpoint) -> list[str]:
    from train_helpers import tiny_overrides

    return tiny_overrides(tmp_path, data_root) + [f"test_checkpoint={checkpoint}", "generate.batch_size=2"]


class _KitSampler:
    """Stands in for a KIT-ML MotionSampler: a 12.5 fps skeleton and a rest pose walking forward."""

    device = "cpu"

    @property
    def skeleton(self):
        from crossdiff.skeleton import SKELETONS

        return SKELETONS["kit"]

    def sample(self, captions, **_):
        return {"motion": torch.zeros(len(captions), 251, 1, 8), "motion2d": None}

    def to_joints(self, motion, lengths):
        rest = np.asarray(self.skeleton.canonical_joints, np.float32)
        clips = []
        for n in lengths:
            joints = np.repeat(rest[None], n, 0)
            joints[:, :, 2] += np.linspace(0, 500, n, dtype=np.float32)[:, None]   # millimetres
            clips.append((np.zeros((n, 251), np.float32), joints))
        return clips


def test_kit_timings_use_its_12_5_fps(tmp_path, monkeypatch):
    """Seconds -> frames, the index's seconds, the video's and the BVH's frame rate: all at KIT-ML's 12.5 fps."""
    from crossdiff.config import load_config
    from crossdiff.render import stick
    from crossdiff.generation import requests_from_config, run_generation
    from crossdiff.motion.bvh import read_bvh

    gen = load_config(None, ["generate.captions=[a person walks]", "generate.length=0.4",
                             "generate.length_unit=seconds", "generate.video_format=gif", "generate.bvh=true"]).generate
    videos = []   # the renderer's own frame-rate default is tested in test_stick.py; drawing mm is slow
    monkeypatch.setattr(stick, "render_3d", lambda joints, path, title, fps: videos.append((len(joints), fps)))
    requests = requests_from_config(gen, max_frames=196, fps=12.5)
    assert [r.length for r in requests] == [5]                          # 0.4 s at 12.5 fps (20 fps: 8)
    entry, = run_generation(_KitSampler(), requests, tmp_path, gen, seed=0, guidance_scale=1.0, progress=False)
    assert entry["seconds"] == pytest.approx(0.4)
    assert videos == [(5, 12.5)] and entry["files"]["video"] == "0.gif"
    bvh = read_bvh(tmp_path / entry["files"]["bvh"])
    assert bvh.frames == 5 and bvh.frame_time == pytest.approx(0.08)
    with pytest.raises(UserError, match=r"15.7 s at 12.5 fps"):
        requests_from_config(load_config(None, ["generate.length=16", "generate.length_unit=seconds"]).generate,
                             max_frames=196, fps=12.5)
