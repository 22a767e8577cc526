"""prepare/ucf101.py: the synthetic test bed (3D clips -> detector-like keypoints -> training clips, compared
with the features of the clean projection), the dataset reading the result, resume, reasons, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from crossdiff.data.inthewild import InTheWildDataset
from crossdiff.keypoints.processing import KeypointSettings, observable_columns
from crossdiff.keypoints.simulated import DetectorModel, hml3d_positions, synthetic_detections
from crossdiff.motion.features2d import features_2d, project_views
from prepare import ucf101

REPO = Path(__file__).resolve().parents[1]
TAGS = ["Biking", "JumpRope", "TaiChi", "BaseballPitch"]
GROUPS = {"root": slice(0, 2), "relative": slice(2, 44), "rotation": slice(44, 86), "velocity": slice(86, 130),
          "contact": slice(130, 134)}
CLEAN = DetectorModel(noise_px=0.0, miss_rate=0.0, dropped_runs=0, occluded=0.0, distractor=False)


def write_video(folder: Path, name: str, keypoints: np.ndarray, as_json: bool) -> None:
    """As a [T, P, 17, 3] .npy file, or as MMPose's demo writes it (results_<name>.json, frame_id from 1)."""
    folder.mkdir(parents=True, exist_ok=True)
    if not as_json:
        np.save(folder / f"{name}.npy", keypoints)
        return
    frames = [{"frame_id": t + 1, "instances": [
        {"keypoints": p[:, :2].tolist(), "keypoint_scores": p[:, 2].tolist(), "bbox": [[0, 0, 1, 1]], "bbox_score": 1.0}
        for p in people if np.isfinite(p[:, :2]).all()]} for t, people in enumerate(keypoints)]
    (folder / f"results_{name}.json").write_text(json.dumps({"meta_info": {}, "instance_info": frames}))


def make_test_bed(root: Path, model: DetectorModel, fps: float, clips: int = 8) -> dict[str, np.ndarray]:
    """Write `clips` synthetic videos (view i % 4, every other one as JSON); returns the true features."""
    truth = {}
    for i in range(clips):
        positions, view = hml3d_positions(3, i), i % 4
        name = f"v_{TAGS[i % len(TAGS)]}_g{i + 1:02d}_c01"
        keypoints = synthetic_detections(positions, view, fps, np.random.default_rng(i), model)
        write_video(root / "keypoints", name, keypoints, as_json=i % 2 == 1)
        truth[name] = features_2d(project_views(positions)[view])
    return truth


def feature_errors(out: Path, truth: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], float]:
    """|prepared - true| on the observed values of each column group, and the observed share.

    "hidden" holds the relative-position errors where the mask says unobserved (but could be seen).
    """
    errors, seen = {g: [] for g in [*GROUPS, "hidden"]}, []
    observable = observable_columns(False)
    for name, expected in truth.items():
        clip = np.load(out / "complicate_2d" / f"{name}.npy")
        rows = min(len(clip), len(expected))
        features, mask = clip[:rows, :134], clip[:rows, 134:] > 0
        error = np.abs(features - expected[:rows])
        for group, columns in GROUPS.items():
            errors[group].append(error[:, columns][mask[:, columns]])
        hidden = ~mask & observable
        errors["hidden"].append(error[:, 2:44][hidden[:, 2:44]])
        seen.append(mask[:, observable].mean())
    return {g: np.concatenate(e) for g, e in errors.items()}, float(np.mean(seen))


@pytest.fixture(scope="module")
def noisy_bed(tmp_path_factory):
    root = tmp_path_factory.mktemp("noisy")
    truth = make_test_bed(root, DetectorModel(), fps=25)
    summary = ucf101.main(root / "keypoints", root / "out", progress=False)
    return root / "out", truth, summary


def test_bed_features_on_observed_joints_match_the_projection(noisy_bed):
    """1.5 px noise on a 230 px person, 5 % missed keypoints, two runs of 3 frames without detection,
    one limb keypoint hidden for 1 s, a second smaller person, 25 fps.

    Measured on these 8 clips (mean / 95th percentile, projected units; a body is about 0.93 tall,
    so 0.005 is about 1 cm): root 0.0031 / 0.0089, relative positions 0.0041 / 0.013, velocities
    0.0015 / 0.0055, rotations (cos, -sin) 0.031 / 0.12; contacts agree on 99.3 % of the observed
    values; 98 % of the observable values are observed. Where the mask says unobserved (the hidden
    limb), relative positions are off by 0.021 on average.
    """
    out, truth, summary = noisy_bed
    assert sorted(summary.written) == sorted(truth) and not summary.dropped and not summary.failed
    errors, seen = feature_errors(out, truth)
    limits = {"root": (0.008, 0.03), "relative": (0.008, 0.025), "velocity": (0.003, 0.012), "rotation": (0.05, 0.2)}
    for group, (mean, p95) in limits.items():
        assert errors[group].mean() < mean and np.percentile(errors[group], 95) < p95, group
    assert (errors["contact"] == 0).mean() > 0.95
    assert 0.9 < seen < 1.0                           # short gaps filled, the hidden limb masked
    assert errors["hidden"].mean() > 2 * errors["relative"].mean()


def test_bed_without_detector_errors_is_limited_by_the_joint_mapping(tmp_path):
    """No noise, no misses, 20 fps, no smoothing: what is left are the derived pelvis/neck and the
    body-size estimate. Measured: root 0.0014, relative positions 0.0022 / 0.011 (mean / 95th),
    velocities below 1e-4."""
    truth = make_test_bed(tmp_path, CLEAN, fps=20)
    settings = KeypointSettings(fps=20, smooth=False)
    ucf101.main(tmp_path / "keypoints", tmp_path / "out", settings=settings, progress=False)
    errors, seen = feature_errors(tmp_path / "out", truth)
    assert errors["relative"].mean() < 0.005 and np.percentile(errors["relative"], 95) < 0.02
    assert errors["root"].mean() < 0.004 and errors["velocity"].mean() < 3e-4
    assert seen == 1.0


def test_the_in_the_wild_dataset_reads_the_prepared_folder(noisy_bed, tmp_path):
    out, truth, _ = noisy_bed
    np.save(tmp_path / "Mean_complicate2d.npy", np.zeros(134, np.float32))
    np.save(tmp_path / "Std_complicate2d.npy", np.ones(134, np.float32))
    dataset = InTheWildDataset(out, tmp_path, progress=False)
    assert len(dataset) == len(truth) and not dataset.skipped
    item = dataset[0]
    path, captions = dataset.clips[0]
    saved = np.load(path)
    assert item["text"] in captions and captions == json.loads((out / "text.json").read_text())[path.stem.split("_")[1]]
    np.testing.assert_array_equal(item["joint"][:item["length"]], saved[:, :134])
    np.testing.assert_array_equal(item["joint_mask"][:item["length"]], saved[:, 134:])


def test_long_videos_are_cut_and_a_resumed_run_skips_finished_videos(tmp_path):
    keypoints = synthetic_detections(hml3d_positions(0, 5), 0, 25, np.random.default_rng(0), CLEAN)
    write_video(tmp_path / "in", "v_Biking_g01_c01", np.concatenate([keypoints, keypoints[-1:].repeat(250, 0)]), False)
    write_video(tmp_path / "in", "v_TaiChi_g01_c01", keypoints, True)
    summary = ucf101.main(tmp_path / "in", tmp_path / "out", progress=False)
    folder = tmp_path / "out" / "complicate_2d"
    assert summary.written == {"v_Biking_g01_c01": 2, "v_TaiChi_g01_c01": 1}
    assert sorted(p.name for p in folder.iterdir()) == ["v_Biking_g01_c01-0.npy", "v_Biking_g01_c01-1.npy",
                                                         "v_TaiChi_g01_c01.npy"]
    assert all(40 <= len(np.load(p)) <= 196 for p in folder.iterdir())
    stamps = {p: p.stat().st_mtime_ns for p in folder.iterdir()}
    again = ucf101.main(tmp_path / "in", tmp_path / "out", progress=False)
    assert not again.written and sorted(again.skipped) == ["v_Biking_g01_c01", "v_TaiChi_g01_c01"]
    assert all(p.stat().st_mtime_ns == stamp for p, stamp in stamps.items())
    (folder / "v_Biking_g01_c01-0.npy").unlink()                     # an interrupted cut: piece 0 comes last
    assert ucf101.main(tmp_path / "in", tmp_path / "out", progress=False).written == {"v_Biking_g01_c01": 2}
    redone = ucf101.main(tmp_path / "in", tmp_path / "out", overwrite=True, progress=False)
    assert sorted(redone.written) == ["v_Biking_g01_c01", "v_TaiChi_g01_c01"]
    assert not list(folder.glob(".*"))                                # no temporary files left


def test_unusable_videos_are_dropped_with_reasons_and_unreadable_files_fail(tmp_path, capsys):
    good = synthetic_detections(hml3d_positions(0, 5), 0, 25, np.random.default_rng(0), CLEAN)
    write_video(tmp_path / "in", "v_Biking_g01_c01", good, False)
    write_video(tmp_path / "in", "v_Biking_g02_c01", good[:30], False)                   # 1.2 s
    nobody = good.copy()
    nobody[..., 2] = 0.1
    write_video(tmp_path / "in", "v_JumpRope_g01_c01", nobody, False)
    write_video(tmp_path / "in", "v_Moonwalk_g01_c01", good, False)
    (tmp_path / "in" / "results_v_YoYo_g01_c01.json").write_text('{"instance_info": [{"frame_id": 1}]}')
    status = ucf101.cli(["--keypoints", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--workers", "1"])
    assert status == 1
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["counts"]["written"] == 1 and report["counts"]["dropped"] == 3 and report["counts"]["failed"] == 1
    assert report["dropped"]["v_Biking_g02_c01"].startswith("too short: the longest stretch with both hips seen")
    assert report["dropped"]["v_JumpRope_g01_c01"].startswith("no person detected")
    assert report["dropped"]["v_Moonwalk_g01_c01"].startswith("unknown class: tag 'Moonwalk'")
    assert "results_v_YoYo_g01_c01.json" in report["failed"]["v_YoYo_g01_c01"]
    assert report["settings"]["fps"] == 25 and len(report["classes"]) == 101
    printed = capsys.readouterr()
    assert "dropped 1 x too short" in printed.out and "failed v_YoYo_g01_c01" in printed.err


def test_classes_select_videos_and_captions(tmp_path):
    good = synthetic_detections(hml3d_positions(0, 5), 0, 25, np.random.default_rng(0), CLEAN)
    for name in ("v_Biking_g01_c01", "v_JumpRope_g01_c01", "v_HandStandPushups_g01_c01"):
        write_video(tmp_path / "in", name, good, False)
    summary = ucf101.main(tmp_path / "in", tmp_path / "out", classes=["Biking", "HandstandPushups"], progress=False)
    assert sorted(summary.written) == ["v_Biking_g01_c01", "v_HandStandPushups_g01_c01"] and summary.not_selected == 1
    text = json.loads((tmp_path / "out" / "text.json").read_text())
    assert list(text) == ["Biking", "HandStandPushups"] and all(len(c) >= 3 for c in text.values())


def test_a_captions_file_replaces_the_ucf101_classes(tmp_path):
    good = synthetic_detections(hml3d_positions(0, 5), 0, 25, np.random.default_rng(0), CLEAN)
    for name in ("v_Squat_g01_c01", "v_Wave_g01_c02", "v_Biking_g01_c01"):
        write_video(tmp_path / "in", name, good, False)
    mine = {"Squat": ["a person squats down"], "Wave": ["someone waves", "a man waves his hand"]}
    (tmp_path / "captions.json").write_text(json.dumps(mine))
    argv = ["--keypoints", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--captions",
            str(tmp_path / "captions.json"), "--workers", "1"]
    assert ucf101.cli(argv) == 0
    assert json.loads((tmp_path / "out" / "text.json").read_text()) == mine
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["counts"]["written"] == 2
    assert "is not in the --captions file" in report["dropped"]["v_Biking_g01_c01"]
    selected = ucf101.main(tmp_path / "in", tmp_path / "one", classes=["Wave"], captions=mine, progress=False)
    assert list(selected.written) == ["v_Wave_g01_c02"] and selected.not_selected == 1


@pytest.mark.parametrize("content, message", [
    ("[1, 2]", "expected an object mapping class tags"),
    ('{"Jump_Rope": ["a person skips"]}', "must be non-empty without '_'"),
    ('{"Squat": []}', "needs a non-empty list"),
    ("{not json", "cannot read it as JSON"),
])
def test_bad_captions_files_are_usage_errors(tmp_path, capsys, content, message):
    write_video(tmp_path / "in", "v_Squat_g01_c01", np.zeros((2, 17, 3)), False)
    (tmp_path / "captions.json").write_text(content)
    argv = ["--keypoints", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--captions",
            str(tmp_path / "captions.json")]
    assert ucf101.cli(argv) == 2
    error = capsys.readouterr().err
    assert message in error and "captions.json" in error


def test_classes_outside_the_captions_file_are_usage_errors(tmp_path, capsys):
    write_video(tmp_path / "in", "v_Squat_g01_c01", np.zeros((2, 17, 3)), False)
    (tmp_path / "captions.json").write_text('{"Squat": ["a person squats"]}')
    argv = ["--keypoints", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--captions",
            str(tmp_path / "captions.json"), "--classes", "Wave"]
    assert ucf101.cli(argv) == 2
    assert "--classes Wave: not in the --captions file (its classes: Squat)" in capsys.readouterr().err


def test_outputs_inside_the_keypoint_folder_are_not_read_back(tmp_path):
    good = synthetic_detections(hml3d_positions(0, 5), 0, 25, np.random.default_rng(0), CLEAN)
    write_video(tmp_path, "v_Biking_g01_c01", good, False)
    ucf101.main(tmp_path, tmp_path / "prepared", progress=False)
    again = ucf101.main(tmp_path, tmp_path / "prepared", progress=False)
    assert again.skipped == ["v_Biking_g01_c01"] and not again.dropped and not again.failed


@pytest.mark.parametrize("arguments, message", [
    (["--keypoints", "{tmp}/missing"], "not a folder"),
    (["--keypoints", "{tmp}", "--classes", "Bikeing"], "unknown UCF101 class 'Bikeing' (did you mean 'Biking'"),
    (["--keypoints", "{tmp}"], "no .npy or .json keypoint files"),
    (["--keypoints", "{tmp}", "--fps", "0"], "--fps 0.0"),
    (["--keypoints", "{tmp}", "--min_score", "2"], "--min_score 2.0"),
])
def test_usage_errors_exit_with_status_2(tmp_path, capsys, arguments, message):
    argv = [a.format(tmp=tmp_path) for a in arguments] + ["--out", str(tmp_path / "out")]
    assert ucf101.cli(argv) == 2
    assert message in capsys.readouterr().err


def test_the_script_runs_as_a_command(tmp_path):
    good = synthetic_detections(hml3d_positions(0, 5), 0, 25, np.random.default_rng(0), CLEAN)
    write_video(tmp_path / "in", "v_Biking_g01_c01", good, True)
    env = {**os.environ, "PYTHONPATH": ""}
    done = subprocess.run([sys.executable, str(REPO / "prepare" / "ucf101.py"), "--keypoints", str(tmp_path / "in"),
                           "--out", str(tmp_path / "out"), "--workers", "1", "--no_smooth"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "1 videos prepared (1 clips)" in done.stdout
    assert np.load(tmp_path / "out" / "complicate_2d" / "v_Biking_g01_c01.npy").shape[1] == 268
