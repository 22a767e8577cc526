"""HumanML3D 263-d features: golden case 1, round trips, invariances, torch recovery, KIT (251-d)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crossdiff.errors import UserError
from crossdiff.geometry import qrot, yaw_quaternion
from crossdiff.motion.features3d import (check_positions, joints_to_features, recover_from_ric, recover_root,
                                         retarget)
from crossdiff.skeleton import SKELETONS, bone_lengths, canonical_offsets
from motion_helpers import random_clip

CONTACTS = slice(259, 263)


@pytest.fixture(scope="module")
def case1(golden):
    case = golden("case1_hml3d_features")
    features, processed = joints_to_features(case["input_joints"], case["target_offsets"], skeleton="t2m")
    return case, features, processed


def test_golden_case1_features_and_positions(case1):
    case, features, processed = case1
    assert features.shape == (79, 263) and processed.shape == (80, 22, 3)
    np.testing.assert_allclose(features[:, :259], case["features"][:, :259], atol=1e-4, rtol=0)
    np.testing.assert_array_equal(features[:, CONTACTS], case["features"][:, CONTACTS])
    np.testing.assert_allclose(processed, case["global_positions"], atol=1e-5, rtol=0)
    uniform = retarget(case["input_joints"], case["target_offsets"])
    np.testing.assert_allclose(uniform, case["uniform_joints"], atol=1e-5)
    assert 0 < case["features"][:, CONTACTS].mean() < 1  # the case exercises both contact states


def test_golden_case1_recovery(golden):
    case = golden("case1_hml3d_features")
    root_quat, root_pos = recover_root(case["features"])
    np.testing.assert_allclose(root_quat, case["root_quat"], atol=1e-5)
    np.testing.assert_allclose(root_pos, case["root_pos"], atol=1e-5)
    for features, joints in [("features", "new_joints"), ("noisy_features", "noisy_new_joints"),
                             ("batch_features", "batch_new_joints")]:
        np.testing.assert_allclose(recover_from_ric(case[features].astype(np.float32), 22), case[joints], atol=1e-5)
    batch_quat, batch_pos = recover_root(case["batch_features"])
    np.testing.assert_allclose(batch_quat, case["batch_root_quat"], atol=1e-5)
    np.testing.assert_allclose(batch_pos, case["batch_root_pos"], atol=1e-5)


def test_torch_recovery_matches_numpy_and_is_differentiable(golden):
    features = golden("case1_hml3d_features")["batch_features"]
    tensor = torch.tensor(features, requires_grad=True)
    joints = recover_from_ric(tensor, 22)
    assert isinstance(joints, torch.Tensor) and joints.dtype == torch.float32 and joints.shape == (2, 40, 22, 3)
    np.testing.assert_allclose(joints.detach().numpy(), recover_from_ric(features, 22), atol=1e-5)
    joints[:, -1, 0, 0].sum().backward()
    # The last root x depends on every earlier yaw and step, and on nothing after it.
    assert (tensor.grad[:, :-1, :3].abs().sum(-1) > 0).all() and (tensor.grad[:, :, 4:].abs().sum() == 0)


def test_golden_input_round_trips_until_the_heading_passes_180_degrees(case1):
    """Frame 68 turns past 180° from frame 0: the format's yaw step flips sign there (see the module doc)."""
    _, features, processed = case1
    recovered = recover_from_ric(features, 22)
    np.testing.assert_allclose(recovered[:69], processed[:69], atol=1e-5)
    assert np.sign(features[68, 0]) != np.sign(features[67, 0]) == np.sign(features[69, 0])
    assert np.abs(recovered[69:] - processed[69:-1]).max() > 1e-2


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_clean_clips_round_trip_and_keep_their_bones(seed):
    joints = random_clip(frames=70, seed=seed, turn=3.0 * (seed - 1))
    features, processed = joints_to_features(joints, canonical_offsets(), "t2m")
    np.testing.assert_allclose(recover_from_ric(features, 22), processed[:-1], atol=1e-5)
    np.testing.assert_allclose(bone_lengths(processed[seed * 20]), bone_lengths(joints[0]), atol=1e-9)
    assert processed[..., 1].min() == pytest.approx(0, abs=1e-12)
    np.testing.assert_allclose(processed[0, 0, [0, 2]], 0, atol=1e-12)


def test_features_ignore_where_and_which_way_the_clip_starts():
    joints = random_clip(frames=50, seed=4)
    turned = qrot(yaw_quaternion(np.array(0.9)), joints) + [3.0, 0.5, -2.0]
    offsets = canonical_offsets()
    np.testing.assert_allclose(joints_to_features(turned, offsets)[0], joints_to_features(joints, offsets)[0],
                               atol=1e-9)


def test_retargeting_scales_to_the_target_leg():
    joints = random_clip(frames=30, seed=5)
    features, processed = joints_to_features(joints * 1.25, canonical_offsets(), "t2m")
    np.testing.assert_allclose(features, joints_to_features(joints, canonical_offsets(), "t2m")[0], atol=1e-9)
    np.testing.assert_allclose(bone_lengths(processed[7]), bone_lengths(SKELETONS["t2m"].canonical_joints), atol=1e-9)


def test_foot_contacts_follow_the_threshold():
    """A body stands still for 20 frames, then slides 10 cm per frame: contacts 1, then 0."""
    joints = np.repeat(random_clip(frames=1, seed=6), 40, axis=0)
    joints[20:] += np.arange(1, 21)[:, None, None] * [0.0, 0.0, 0.1]
    features, _ = joints_to_features(joints, canonical_offsets())
    np.testing.assert_array_equal(features[:, CONTACTS], np.repeat([[1.0], [0.0]], [19, 20], axis=0) * np.ones(4))


@pytest.mark.parametrize("bad, message", [
    (np.zeros((10, 21, 3)), r"\[T, 22, 3\]"), (np.zeros((1, 22, 3)), "too short"),
    (np.full((5, 22, 3), np.nan), "NaN"), (np.array([["a"]]), "numbers")])
def test_bad_positions_raise_user_errors(bad, message):
    with pytest.raises(UserError, match=message):
        joints_to_features(bad, canonical_offsets())
    with pytest.raises(UserError, match="clip.npy"):
        check_positions(bad, 22, "clip.npy")


def test_kit_features_have_251_columns_and_round_trip():
    joints = random_clip(frames=45, seed=7, skeleton="kit")
    features, processed = joints_to_features(joints, canonical_offsets("kit"), skeleton="kit")
    assert features.shape == (44, 251) and processed.shape == (45, 21, 3)
    np.testing.assert_allclose(recover_from_ric(features, 21), processed[:-1], atol=1e-3)  # millimetres
    recovered = recover_from_ric(torch.tensor(features[None]), 21)
    assert recovered.shape == (1, 44, 21, 3)
    with pytest.raises(UserError, match="need at least 64"):
        recover_from_ric(features[:, :50], 21)


def test_an_undefined_heading_is_a_user_error():
    lying = SKELETONS["t2m"].canonical_joints @ np.array([[0.0, 1, 0], [-1, 0, 0], [0, 0, 1]])  # on its side
    joints = np.repeat(lying[None], 10, axis=0)
    with pytest.raises(UserError, match="heading"):
        joints_to_features(joints, canonical_offsets())
