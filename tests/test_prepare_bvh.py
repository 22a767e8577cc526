"""prepare/bvh.py: a folder of motion files becomes a HumanML3D-format folder that train.py trains on."""

from __future__ import annotations

import json

import numpy as np
import pytest

import mocap_helpers as mh
from crossdiff.data.words import read_text_file
from crossdiff.mocap.folder import split_of
from crossdiff.motion.bvh import joints_to_bvh
from crossdiff.motion.features3d import joints_to_features, recover_from_ric
from crossdiff.skeleton import canonical_offsets
from crossdiff.synthetic.generator import generate_clip
from prepare import bvh as prepare_bvh
from train_helpers import tiny_config
from test_mocap import MIXAMO, both_sides

CLIPS = (0, 1, 3, 5, 6, 7, 8, 9)          # synthetic clips of 2.2 to 3.5 s


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Motion files of several rigs, a too-short one, a broken one, and captions for some."""
    folder = tmp_path_factory.mktemp("mocap")
    truths = {}
    for k, index in enumerate(CLIPS):
        joints = generate_clip(0, index).positions
        name = f"take{index:02d}"
        truths[name] = joints
        if k % 2:
            rig = mh.scaled(mh.rename(mh.t2m_rig(joints), both_sides(MIXAMO, "mixamorig:")), 0.01)
            (folder / f"{name}.bvh").write_text(mh.bvh_text(mh.resampled(rig, 30), fps=30))
        else:
            (folder / f"{name}.bvh").write_text(joints_to_bvh(joints, fps=20))
    (folder / "short.bvh").write_text(joints_to_bvh(truths["take00"][:30], fps=20))
    text = joints_to_bvh(truths["take01"], fps=20).splitlines()
    text[-3] = text[-3] + " 7"
    (folder / "broken.bvh").write_text("\n".join(text) + "\n")
    (folder / "captions.csv").write_text("name,caption\ntake00,a man walks to the left\ntake00,someone walks\n"
                                         "take01,a person waves the right hand\n")
    return folder, truths, len(text) - 2


@pytest.fixture(scope="module")
def dataset(inputs, tmp_path_factory):
    folder, _, _ = inputs
    out = tmp_path_factory.mktemp("dataset") / "mocap"
    report = prepare_bvh.main([folder], out, captions=folder / "captions.csv", mirror=True, progress=False)
    return out, report


def test_the_folder_has_the_humanml3d_layout(dataset):
    out, _ = dataset
    for name in ("Mean.npy", "Std.npy", "Mean_complicate2d.npy", "Std_complicate2d.npy", "train.txt", "report.json"):
        assert (out / name).is_file(), name
    ids = sorted(p.stem for p in (out / "new_joint_vecs").glob("*.npy"))
    assert len(ids) == 2 * len(CLIPS) and "Mtake00" in ids
    assert np.load(out / "new_joint_vecs" / "take00.npy").shape[1] == 263
    assert (out / "new_joints2d_complicate" / "Mtake03-3.npy").is_file()
    listed = [i for split in ("train", "val", "test") for i in (out / f"{split}.txt").read_text().split()]
    assert sorted(listed) == ids
    assert all(split_of(i) == split_of("M" + i) for i in ids if not i.startswith("M"))


def test_features_match_the_humanml3d_pipeline_on_the_true_joints(dataset, inputs):
    out, _ = dataset
    _, truths, _ = inputs
    for name in ("take00", "take01"):                  # our export at 20 fps; a Mixamo rig at 30 fps
        expected = recover_from_ric(joints_to_features(truths[name], canonical_offsets())[0], 22)
        written = np.load(out / "new_joints" / f"{name}.npy")
        frames = min(len(expected), len(written))
        tolerance = 1e-3 if name == "take00" else 5e-3
        assert np.abs(written[:frames] - expected[:frames]).max() < tolerance
        assert written[..., 1].min() == pytest.approx(0.0, abs=0.02)          # on the floor


def test_captions_placeholders_and_mirrored_captions(dataset):
    out, _ = dataset
    assert [e.caption for e in read_text_file(out / "texts" / "take00.txt")] == ["a man walks to the left",
                                                                                "someone walks"]
    assert read_text_file(out / "texts" / "Mtake00.txt")[0].caption == "a man walks to the right"
    placeholder = read_text_file(out / "texts" / "take03.txt")[0]
    assert placeholder.caption == prepare_bvh.caption_files.PLACEHOLDER and "person/NOUN" in placeholder.tokens


def test_report_lists_every_file_with_reasons_and_figures(dataset, inputs):
    out, report = dataset
    folder, _, bad_line = inputs
    files = json.loads((out / "report.json").read_text())["files"]
    broken, short = files[str(folder / "broken.bvh")], files[str(folder / "short.bvh")]
    assert broken["status"] == "failed" and broken["line"] == bad_line and "values" in broken["reason"]
    assert short["status"] == "skipped" and "shorter than 2 s" in short["reason"]
    take = files[str(folder / "take01.bvh")]
    assert take["rig"] == "mixamo" and take["fps_in"] == 30 and take["unit"] == "cm"
    assert 1.6 < take["height"] < 1.9 and 0 <= take["foot_contact"] <= 1 and take["walking_speed"] >= 0
    assert report["runs"][-1]["counts"] == {"converted": len(CLIPS), "skipped": 1, "failed": 1}


def test_append_adds_clips_and_keeps_the_others(dataset, inputs, tmp_path):
    out, _ = dataset
    _, truths, _ = inputs
    before = {p.name: p.stat().st_mtime_ns for p in (out / "new_joint_vecs").glob("*.npy")}
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "added.bvh").write_text(joints_to_bvh(truths["take03"], fps=20))
    with pytest.raises(prepare_bvh.UserError, match="--append"):
        prepare_bvh.main([extra], out, progress=False)
    report = prepare_bvh.main([extra], out, append=True, progress=False)
    assert report["runs"][-1]["counts"]["converted"] == 1 and len(report["runs"]) == 2
    assert (out / "new_joint_vecs" / "added.npy").is_file()
    assert "added" in (out / f"{split_of('added')}.txt").read_text().split()
    after = {p.name: p.stat().st_mtime_ns for p in (out / "new_joint_vecs").glob("*.npy")}
    assert all(after[name] == stamp for name, stamp in before.items())
    again = prepare_bvh.main([extra], out, append=True, progress=False)          # same input: nothing new
    assert again["runs"][-1]["counts"] == {"converted": 0, "skipped": 1, "failed": 0}
    assert again["files"][str(extra / "added.bvh")]["status"] == "converted"       # the first import's entry stays


def test_cli_mapping_errors_exit_with_code_2(inputs, tmp_path, capsys):
    folder, _, _ = inputs
    (tmp_path / "map.yaml").write_text("left_elbo: LeftForeArm\n")
    code = prepare_bvh.cli(["--bvh", str(folder / "take00.bvh"), "--out", str(tmp_path / "o"),
                            "--mapping", str(tmp_path / "map.yaml")])
    assert code == 2 and "did you mean 'left_elbow'" in capsys.readouterr().err


def test_uncaptioned_clips_can_be_left_out(inputs, tmp_path):
    folder, _, _ = inputs
    files = [folder / "take00.bvh", folder / "take03.bvh"]
    report = prepare_bvh.main(files, tmp_path / "o", captions=folder / "captions.csv", uncaptioned="skip",
                              progress=False)
    assert report["files"][str(files[1])]["reason"] == "no caption (--uncaptioned skip)"
    assert sorted(p.stem for p in (tmp_path / "o" / "new_joint_vecs").glob("*.npy")) == ["take00"]


def test_train_runs_on_the_imported_folder(dataset, tmp_path):
    import train

    out, _ = dataset
    assert (out / "train.txt").read_text().split(), "the hash split left no training clip"
    cfg = tiny_config(tmp_path, out, "train.max_steps=2", "train.save_interval=2")
    run = train.main(cfg)
    assert sorted((run / "checkpoints").glob("step*.pt"))
