"""In-the-wild keypoints: readers, main person, gap filling, resampling, smoothing, COCO->T2M mapping,
body-size normalisation, the per-feature mask, the clip pipeline's reasons, and the UCF101 captions."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from crossdiff.keypoints import processing as kp
from crossdiff.keypoints import timing as kt
from crossdiff.keypoints.formats import find_keypoint_files, read_keypoints, video_name
from crossdiff.keypoints.simulated import DetectorModel, coco_points_3d, hml3d_positions, synthetic_detections
from crossdiff.keypoints.ucf101_captions import CLASS_ALIASES, UCF101_CAPTIONS, resolve_classes
from crossdiff.errors import UserError
from crossdiff.motion.features2d import features_2d, project_views
from crossdiff.motion.filters import one_euro_smooth
from crossdiff.skeleton import SKELETONS

T2M = SKELETONS["t2m"]
# UCF101's classInd.txt, in its order and spelling.
UCF101_CLASS_INDEX = """ApplyEyeMakeup ApplyLipstick Archery BabyCrawling BalanceBeam BandMarching BaseballPitch
Basketball BasketballDunk BenchPress Biking Billiards BlowDryHair BlowingCandles BodyWeightSquats Bowling
BoxingPunchingBag BoxingSpeedBag BreastStroke BrushingTeeth CleanAndJerk CliffDiving CricketBowling CricketShot
CuttingInKitchen Diving Drumming Fencing FieldHockeyPenalty FloorGymnastics FrisbeeCatch FrontCrawl GolfSwing
Haircut Hammering HammerThrow HandstandPushups HandstandWalking HeadMassage HighJump HorseRace HorseRiding
HulaHoop IceDancing JavelinThrow JugglingBalls JumpingJack JumpRope Kayaking Knitting LongJump Lunges
MilitaryParade Mixing MoppingFloor Nunchucks ParallelBars PizzaTossing PlayingCello PlayingDaf PlayingDhol
PlayingFlute PlayingGuitar PlayingPiano PlayingSitar PlayingTabla PlayingViolin PoleVault PommelHorse PullUps
Punch PushUps Rafting RockClimbingIndoor RopeClimbing Rowing SalsaSpin ShavingBeard Shotput SkateBoarding Skiing
Skijet SkyDiving SoccerJuggling SoccerPenalty StillRings SumoWrestling Surfing Swing TableTennisShot TaiChi
TennisSwing ThrowDiscus TrampolineJumping Typing UnevenBars VolleyballSpiking WalkingWithDog WallPushups
WritingOnBoard YoYo""".split()


def person(frames: int, offset=(0.0, 0.0), size: float = 100.0, seed: int = 0) -> np.ndarray:
    """[T, 17, 3] pixels of a standing canonical skeleton, `size` px per projected unit, score 0.9."""
    points = project_views(coco_points_3d(np.repeat(T2M.canonical_joints[None], frames, 0)))[0]
    jitter = np.random.default_rng(seed).normal(0, 0.5, points.shape)
    pixels = np.asarray(offset) + size * points * [1, -1] + jitter
    return np.concatenate([pixels, np.full((frames, 17, 1), 0.9)], -1)


# --- readers ----------------------------------------------------------------------------------


def test_npy_files_with_and_without_scores_and_persons(tmp_path):
    one = person(5)
    np.save(tmp_path / "one.npy", one)
    np.testing.assert_array_equal(read_keypoints(tmp_path / "one.npy"), one[:, None])
    two = np.stack([one, person(5, offset=(300, 0))], 1)
    np.save(tmp_path / "two.npy", two)
    assert read_keypoints(tmp_path / "two.npy").shape == (5, 2, 17, 3)
    xy = one[..., :2].copy()
    xy[2, 4] = np.nan
    np.save(tmp_path / "xy.npy", xy)
    read = read_keypoints(tmp_path / "xy.npy")
    assert read[2, 0, 4, 2] == 0 and np.isnan(read[2, 0, 4, :2]).all()
    assert (np.delete(read[..., 2].ravel(), 2 * 17 + 4) == 1).all()


def _mmpose_instance(points: np.ndarray) -> dict:
    return {"keypoints": points[:, :2].tolist(), "keypoint_scores": points[:, 2].tolist(),
            "bbox": [[0.0, 0.0, 10.0, 10.0]], "bbox_score": 0.9}


def test_mmpose_demo_inferencer_and_coco_result_files(tmp_path):
    a, b = person(4), person(4, offset=(300, 0))
    demo = {"meta_info": {"dataset_name": "coco"}, "instance_info": [
        {"frame_id": 1, "instances": [_mmpose_instance(a[0])]},
        {"frame_id": 2, "instances": []},
        {"frame_id": 3, "instances": [_mmpose_instance(a[2]), _mmpose_instance(b[2])]},
        {"frame_id": 4, "instances": [_mmpose_instance(a[3])]}]}
    (tmp_path / "results_v_Biking_g01_c01.json").write_text(json.dumps(demo))
    read = read_keypoints(tmp_path / "results_v_Biking_g01_c01.json")
    assert read.shape == (4, 2, 17, 3)
    np.testing.assert_allclose(read[[0, 2, 3], 0], a[[0, 2, 3]])
    np.testing.assert_allclose(read[2, 1], b[2])
    assert (read[1, :, :, 2] == 0).all() and (read[[0, 3], 1, :, 2] == 0).all() and np.isnan(read[1, 0, :, :2]).all()

    inferencer = [{"frame_id": i, "instances": [_mmpose_instance(a[i])]} for i in range(4)]
    (tmp_path / "inferencer.json").write_text(json.dumps(inferencer))
    np.testing.assert_allclose(read_keypoints(tmp_path / "inferencer.json")[:, 0], a)

    coco = [{"image_id": i + 10, "category_id": 1, "keypoints": a[i].ravel().tolist(), "score": 0.8}
            for i in (0, 1, 3)]                                   # frame 12 has no detection
    (tmp_path / "coco.json").write_text(json.dumps(coco))
    read = read_keypoints(tmp_path / "coco.json")
    assert read.shape == (4, 1, 17, 3) and (read[2, 0, :, 2] == 0).all()
    np.testing.assert_allclose(read[[0, 1, 3], 0], a[[0, 1, 3]])


def test_halpe_and_wholebody_layouts_are_accepted_others_are_not(tmp_path):
    for count in (23, 26, 133):
        np.save(tmp_path / f"k{count}.npy", np.ones((3, count, 3)))
        assert read_keypoints(tmp_path / f"k{count}.npy").shape == (3, 1, count, 3)
    np.save(tmp_path / "k25.npy", np.ones((3, 25, 3)))
    with pytest.raises(UserError, match=r"k25\.npy: 25 keypoints.*COCO-17"):
        read_keypoints(tmp_path / "k25.npy")


@pytest.mark.parametrize("name, content, pattern", [
    ("broken.json", "{not json", "not readable JSON"),
    ("dict.json", json.dumps({"frames": []}), "not an MMPose prediction file"),
    ("noscores.json", json.dumps([{"frame_id": 0, "instances": [{"keypoints": [1, 2]}]}]), "3 numbers per keypoint"),
    ("mixed.json", json.dumps([{"frame_id": 0, "instances": [{"keypoints": [[0, 0]] * 17},
                                                           {"keypoints": [[0, 0]] * 26}]}]), "different keypoint counts"),
    ("keypoints.txt", "1 2 3", "unknown keypoint file type"),
])
def test_malformed_files_raise_user_errors_that_name_them(tmp_path, name, content, pattern):
    (tmp_path / name).write_text(content)
    with pytest.raises(UserError, match=pattern) as info:
        read_keypoints(tmp_path / name)
    assert name in str(info.value)


def test_npy_of_the_wrong_shape_or_garbage_is_a_user_error(tmp_path):
    np.save(tmp_path / "flat.npy", np.zeros((10, 51)))
    (tmp_path / "garbage.npy").write_bytes(b"\x93NUMPY nonsense")
    with pytest.raises(UserError, match=r"flat\.npy: array of shape \[10, 51\]"):
        read_keypoints(tmp_path / "flat.npy")
    with pytest.raises(UserError, match="garbage.npy: unreadable"):
        read_keypoints(tmp_path / "garbage.npy")


def test_video_names_and_the_file_search(tmp_path):
    assert video_name(tmp_path / "results_v_YoYo_g01_c01.json") == "v_YoYo_g01_c01"
    (tmp_path / "YoYo").mkdir()
    np.save(tmp_path / "YoYo" / "v_YoYo_g01_c01.npy", person(2))
    (tmp_path / "notes.txt").write_text("ignored")
    assert list(find_keypoint_files(tmp_path)) == ["v_YoYo_g01_c01"]
    (tmp_path / "results_v_YoYo_g01_c01.json").write_text("[]")
    with pytest.raises(UserError, match="two keypoint files for video 'v_YoYo_g01_c01'"):
        find_keypoint_files(tmp_path)


# --- along time -------------------------------------------------------------------------------


def test_the_main_person_survives_a_briefly_larger_distractor_and_their_own_absence():
    frames = 50
    main, other = person(frames, offset=(200, 300)), person(frames, offset=(600, 320), size=70, seed=1)
    other[20:24] = person(4, offset=(600, 330), size=140, seed=2)     # someone walks close to the camera
    main[30:33] = (np.nan, np.nan, 0.0)                              # the main person is not detected
    stacked = np.stack([main, other], 1)
    swap = np.random.default_rng(0).random(frames) < 0.5             # detections come in any order
    stacked[swap] = stacked[swap][:, ::-1]
    chosen = kt.select_main_person(stacked, min_score=0.3, fps=25)
    present = np.setdiff1d(np.arange(frames), [30, 31, 32])
    np.testing.assert_array_equal(chosen[present], main[present])
    assert (chosen[30:33, :, 2] == 0).all()


def test_short_gaps_are_filled_and_observed_long_ones_only_filled():
    frames = 40
    truth = np.stack([np.linspace(0, 39, frames), np.linspace(5, -34, frames)], -1)[:, None].repeat(3, 1)
    observed = np.ones((frames, 3), bool)
    observed[10:13, 0] = False           # 3 frames: filled, observed
    observed[15:30, 1] = False           # 15 frames: filled, not observed
    observed[:4, 2] = observed[-2:, 2] = False
    points = np.where(observed[..., None], truth, np.nan)
    filled, flags = kt.fill_gaps(points, observed, max_gap=5)
    np.testing.assert_allclose(filled[:, :2], truth[:, :2])
    assert flags[:, 0].all() and not flags[15:30, 1].any() and flags[[14, 30], 1].all()
    np.testing.assert_allclose(filled[:4, 2], np.repeat(truth[4:5, 2], 4, 0))
    np.testing.assert_allclose(filled[-2:, 2], np.repeat(truth[-3:-2, 2], 2, 0))
    assert not flags[:4, 2].any() and not flags[-2:, 2].any()
    never = np.zeros((frames, 1), bool)
    assert np.isnan(kt.fill_gaps(np.full((frames, 1, 2), np.nan), never, 5)[0]).all()


def test_resampling_25_to_20_fps_is_exact_for_linear_motion_and_keeps_flags_honest():
    source = np.stack([np.arange(51) * 0.4, np.arange(51) * -0.2], -1)[:, None]   # 2 s at 25 fps
    observed = np.ones((51, 1), bool)
    observed[7] = False
    values, flags = kt.resample(source, observed, 25, 20)
    assert values.shape == (41, 1, 2)
    times = np.arange(41) / 20
    np.testing.assert_allclose(values[:, 0], np.stack([times * 10, times * -5], -1), atol=1e-12)
    # Output frames 5 and 6 (source positions 6.25 and 7.5) read source frame 7; frame 4 sits on frame 5.
    assert set(np.flatnonzero(~flags[:, 0])) == {5, 6}
    same, same_flags = kt.resample(source, observed, 20, 20)
    np.testing.assert_array_equal(same, source)
    np.testing.assert_array_equal(same_flags, observed)


def test_two_pass_one_euro_removes_jitter_without_lag():
    t = np.arange(100) / 25
    sway = np.stack([0.02 * np.sin(2 * np.pi * 0.3 * t), 0.01 * np.cos(2 * np.pi * 0.2 * t)], -1)[:, None]
    noisy = sway + np.random.default_rng(0).normal(0, 0.005, sway.shape)
    smoothed = kt.smooth(noisy, 25, min_cutoff=1.5, beta=3.0, d_cutoff=1.0)
    inner = slice(10, -10)
    assert np.std(smoothed[inner] - sway[inner]) < 0.5 * np.std(noisy[inner] - sway[inner])
    ramp = np.stack([0.4 * t, 0 * t], -1)[:, None]                                       # 0.4 units/s
    one_pass = one_euro_smooth(torch.from_numpy(np.moveaxis(ramp, 0, -1))[None], min_cutoff=1.5, beta=3.0,
                               d_cutoff=1.0, te=1 / 25)[0].numpy()
    assert np.mean(np.moveaxis(one_pass, -1, 0)[inner, 0, 0] - ramp[inner, 0, 0]) < -0.01   # one pass lags
    lag = np.mean(kt.smooth(ramp, 25, min_cutoff=1.5, beta=3.0, d_cutoff=1.0)[inner, 0, 0] - ramp[inner, 0, 0])
    assert abs(lag) < 5e-4


def test_longest_run():
    assert kt.longest_run(np.array([1, 1, 0, 1, 1, 1, 0, 1], bool)) == (3, 6)
    assert kt.longest_run(np.zeros(4, bool)) == (0, 0)


# --- joints, mask, normalisation --------------------------------------------------------------


@pytest.mark.parametrize("view", [0, 1])
def test_a_rest_pose_maps_back_to_the_canonical_joints(view):
    rest = T2M.canonical_joints[None]
    truth = project_views(rest)[view][0]
    coco = project_views(coco_points_3d(rest))[view]
    coco = coco - coco[:, 11:13].mean(1, keepdims=True) + truth[[1, 2]].mean(0)   # same origin as truth
    joints, flags = kp.coco_to_t2m(coco, np.ones((1, 17), bool))
    direct = list(kp.DIRECT)
    np.testing.assert_allclose(joints[0, direct], truth[direct], atol=1e-12)
    np.testing.assert_allclose(joints[0, 15], truth[15], atol=2e-3)              # the ears' midpoint
    np.testing.assert_allclose(joints[0, [0, 12]], truth[[0, 12]], atol=2e-3)     # pelvis, neck: 4 mm
    np.testing.assert_allclose(joints[0, list(kp.NEVER_OBSERVED)], truth[list(kp.NEVER_OBSERVED)], atol=0.02)
    assert not flags[0, list(kp.NEVER_OBSERVED) + [10, 11]].any()
    assert flags[0, np.setdiff1d(np.arange(22), list(kp.NEVER_OBSERVED) + [10, 11])].all()


def test_observation_rules_of_the_mapping():
    points = person(6)[..., :2]
    observed = np.ones((6, 17), bool)
    observed[0, 11] = False                          # a hip: no pelvis
    observed[1, 3] = False                           # an ear: head from the other face points, still observed
    observed[2, :5] = False                          # no face point: no head, no neck
    observed[3, 6] = False                           # a shoulder: no neck
    points[:, 9] = np.nan                            # left wrist never detected
    observed[:, 9] = False
    joints, flags = kp.coco_to_t2m(points, observed)
    assert np.isfinite(joints).all() and not flags[:, 20].any()
    assert not flags[0, 0] and flags[1:, 0].all()
    assert flags[1, 15] and not flags[2, 15] and not flags[2, 12] and not flags[3, 12] and flags[[0, 1, 4, 5], 12].all()
    rest = kp.affine_weights(20, kp.TORSO) @ joints[0, list(kp.TORSO)]
    np.testing.assert_allclose(joints[0, 20], rest)   # the rest position relative to the torso

    feet = np.concatenate([person(2), np.zeros((2, 6, 3))], 1)       # COCO-WholeBody body + feet
    feet[:, 17:23, :2] = feet[:, [15, 15, 15, 16, 16, 16], :2] + [0, 5]
    joints, flags = kp.coco_to_t2m(feet[..., :2], np.ones((2, 23), bool))
    assert flags[:, [10, 11]].all()
    np.testing.assert_allclose(joints[:, 10], feet[:, 17:19, :2].mean(1))
    feet[:, 20:22, :2] = np.nan                                       # right toes never detected
    seen = np.ones((2, 23), bool)
    seen[:, 20:22] = False
    joints, flags = kp.coco_to_t2m(feet[..., :2], seen)
    assert not flags[:, 11].any() and flags[:, 10].all()
    np.testing.assert_allclose(joints[:, 11], np.einsum("a,tac->tc", kp.affine_weights(11, (5, 8)), joints[:, [5, 8]]))


def test_the_mask_covers_exactly_the_columns_a_joint_changes():
    frames, rng = 6, np.random.default_rng(0)
    joints = project_views(hml3d_positions(0, 5)[:frames])[0]
    base = features_2d(joints)
    changes = np.zeros((frames, 22, base.shape[0], base.shape[1]), bool)
    for t in range(frames):
        for j in range(22):
            moved = joints.copy()
            moved[t, j] += rng.normal(0, 0.05, 2)
            changes[t, j] = np.abs(features_2d(moved) - base) > 1e-9
    for t in range(frames):
        for j in range(22):
            flags = np.ones((frames, 22), bool)
            flags[t, j] = False
            masked = kp.feature_mask(flags) == 0
            assert not (changes[t, j] & ~masked).any(), (t, j)       # everything it changes is masked
            contacts = np.zeros_like(masked)
            contacts[:, 130:] = True
            assert not (masked & ~contacts & ~changes[t, j]).any(), (t, j)   # and nothing else
    flags = np.ones((frames, 22), bool)
    flags[0, 0] = False                                               # frame-0 root: root_v of every row
    assert (kp.feature_mask(flags)[:, :2] == 0).all()


def test_spine_collar_and_foot_columns_are_never_observable():
    columns = kp.observable_columns(has_feet=False)
    relative = lambda j: [2 * j, 2 * j + 1]                           # noqa: E731
    rotation = lambda j: [44 + 2 * (j - 1), 45 + 2 * (j - 1)]         # noqa: E731
    velocity = lambda j: [86 + 2 * j, 87 + 2 * j]                     # noqa: E731
    assert columns[:2].all() and columns[relative(20) + relative(15) + relative(12) + velocity(0)].all()
    assert not columns[relative(3) + relative(9) + relative(13) + relative(10) + velocity(14)].any()
    assert columns[rotation(21) + rotation(5) + rotation(8)].all()     # wrist, knee, ankle bones
    assert not columns[rotation(19) + rotation(17) + rotation(15) + rotation(11)].any()   # via collar/spine/foot
    assert columns[[130, 132]].all() and not columns[[131, 133]].any()
    assert kp.observable_columns(has_feet=True)[[131, 133]].all()


def test_body_scale_and_projected_units_recover_the_camera_image():
    positions = hml3d_positions(0, 5)
    truth = project_views(positions)[1]
    pixels = np.array([320.0, 240.0]) + 250.0 * truth * [1, -1]
    flags = np.ones(pixels.shape[:2], bool)
    scale = kp.body_scale(pixels, flags, fps=20, percentile=90, window=2.0)
    assert scale == pytest.approx(250.0, rel=0.01)
    units = kp.to_projected_units(pixels, scale)
    np.testing.assert_allclose(units[0, 0], 0.0, atol=1e-12)
    np.testing.assert_allclose(units, truth - truth[:1, :1], atol=0.01 * np.abs(truth).max())
    assert kp.body_scale(pixels, np.zeros_like(flags), fps=20, percentile=90, window=2.0) is None


# --- one video -> clips -----------------------------------------------------------------------


def video(index: int = 5, view: int = 0, **model) -> np.ndarray:
    positions = hml3d_positions(0, index)
    return synthetic_detections(positions, view, 25, np.random.default_rng(index), DetectorModel(**model))


def test_a_video_gives_clips_of_features_and_mask():
    keypoints = video()
    clips = kp.keypoints_to_clips(keypoints)
    assert len(clips) == 1 and clips[0].shape[1] == 268 and clips[0].dtype == np.float32
    assert set(np.unique(clips[0][:, 134:])) <= {0.0, 1.0}
    long = np.concatenate([keypoints, keypoints[-1:].repeat(250, 0)])             # 12 s of video
    pieces = kp.keypoints_to_clips(long)
    assert len(pieces) == 2 and all(40 <= len(p) <= 196 for p in pieces)
    assert sum(len(p) for p in pieces) == int((len(long) - 1) * 20 / 25)


@pytest.mark.parametrize("change, reason", [
    (lambda k: k[:0], "no frames"),
    (lambda k: np.where(np.arange(3)[None, None, None] == 2, 0.1, k), "no person detected"),
    (lambda k: _hide(k, [11]), "torso never detected: no frame shows the left hip"),
    (lambda k: k[:40], "too short"),
    (lambda k: _hide(k, list(range(5)) + [7, 8, 9, 10, 13, 14, 15, 16]), "mostly unobserved"),
])
def test_unusable_videos_say_why(change, reason):
    with pytest.raises(kp.UnusableClip, match=reason):
        kp.keypoints_to_clips(change(video(distractor=False)))


def _hide(keypoints: np.ndarray, which: list[int]) -> np.ndarray:
    hidden = keypoints.copy()
    hidden[:, :, which, 2] = 0.05
    return hidden


# --- captions ---------------------------------------------------------------------------------


def test_captions_cover_the_101_classes_as_spelled_in_the_file_names():
    assert len(UCF101_CLASS_INDEX) == 101
    assert list(UCF101_CAPTIONS) == [CLASS_ALIASES.get(name, name) for name in UCF101_CLASS_INDEX]
    everything = [c for captions in UCF101_CAPTIONS.values() for c in captions]
    assert len(set(everything)) == len(everything)
    for tag, captions in UCF101_CAPTIONS.items():
        assert len(captions) >= 3, tag
        assert all(c == c.strip() and c[0].islower() and not c.endswith(".") for c in captions), tag


def test_class_selection_accepts_aliases_and_suggests_names():
    assert resolve_classes(["HandstandPushups", "YoYo", "YoYo"]) == ["HandStandPushups", "YoYo"]
    with pytest.raises(UserError, match="'BaseBallPitch' \\(did you mean 'BaseballPitch'"):
        resolve_classes(["BaseBallPitch"])
