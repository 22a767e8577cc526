"""2D projection and 134-d features: golden case 2, the kept root quirk, recovery, KIT (128-d)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crossdiff.errors import UserError

from crossdiff.motion.features2d import (CAMERA_TRANSLATION, TAN_HALF_FOV, VIEW_ROTATIONS, bone_rotations_2d,
                                         features_2d, project_clip, project_views, recover_2d)
from crossdiff.motion.features3d import joints_to_features, recover_from_ric
from crossdiff.skeleton import canonical_offsets
from motion_helpers import random_clip


def test_camera_constants_match_golden(golden):
    case = golden("case2_projection2d")
    np.testing.assert_array_equal(VIEW_ROTATIONS, case["view_rotations"])
    np.testing.assert_allclose(CAMERA_TRANSLATION, case["cam_t"], atol=1e-6)
    assert TAN_HALF_FOV == pytest.approx(float(case["tan_fov"]), abs=1e-15)


def test_golden_case2_views_and_features(golden):
    case = golden("case2_projection2d")
    views = project_views(case["joints3d"])
    assert views.shape == (4, 79, 22, 2)
    np.testing.assert_allclose(views, case["joints2d"], atol=5e-5, rtol=0)
    saved_views, features = project_clip(case["joints3d"])
    assert saved_views.dtype == features.dtype == np.float32 and features.shape == (4, 78, 134)
    np.testing.assert_allclose(features[..., :130], case["features134"][..., :130], atol=5e-5, rtol=0)
    np.testing.assert_array_equal(features[..., 130:], case["features134"][..., 130:])
    np.testing.assert_allclose(features_2d(case["joints2d"][2]), case["features134"][2], atol=5e-5, rtol=0)


def test_root_columns_are_the_position_one_frame_ahead():
    """docs/original_code.md §13.7: kept for the official statistics; row t holds the root of frame t+1."""
    views = project_views(random_clip(frames=30, seed=1))
    features = features_2d(views)
    np.testing.assert_allclose(features[..., :2], views[:, 1:, 0] - views[:, :1, 0], atol=1e-12)
    recovered = recover_2d(features, 22)
    np.testing.assert_allclose(recovered[..., 0, :], views[:, 1:, 0], atol=1e-12)
    np.testing.assert_allclose(recovered[..., 1:, :] - recovered[..., :1, :], views[:, :-1, 1:] - views[:, :-1, :1],
                               atol=1e-12)


def test_recover_2d_takes_torch_and_keeps_gradients():
    features = torch.tensor(features_2d(project_views(random_clip(frames=12, seed=2)))[None], requires_grad=True)
    joints = recover_2d(features, 22)
    assert isinstance(joints, torch.Tensor) and joints.shape == (1, 4, 11, 22, 2)
    joints.sum().backward()
    assert features.grad[..., :44].abs().min() > 0 and features.grad[..., 44:].abs().max() == 0


def test_a_quarter_turn_of_the_body_is_the_next_view():
    joints = random_clip(frames=20, seed=3)
    turned = np.einsum("pk,tjk->tjp", VIEW_ROTATIONS[1], joints)
    np.testing.assert_allclose(project_views(turned)[0], project_views(joints)[1], atol=1e-12)


def test_bone_rotations_are_relative_angles_with_minus_sine():
    points = np.zeros((1, 22, 2))
    points[0, 2] = [1.0, 0.0]                                  # pelvis -> right hip along +x
    points[0, 5] = points[0, 2] + [np.cos(0.3), np.sin(0.3)]   # next bone turned by +0.3 rad
    points[0, 8] = points[0, 5] + [np.cos(0.3), np.sin(0.3)]
    rotations = bone_rotations_2d(points)
    np.testing.assert_allclose(rotations[0, 1], [1.0, 0.0], atol=1e-12)               # joint 2: angle 0 to +x
    np.testing.assert_allclose(rotations[0, 4], [np.cos(0.3), -np.sin(0.3)], atol=1e-12)  # joint 5
    np.testing.assert_allclose(rotations[0, 7], [1.0, 0.0], atol=1e-12)               # joint 8: straight on
    assert np.isfinite(rotations).all()                                              # zero-length bones too


def test_projected_hml3d_clip_keeps_contacts_of_a_still_body():
    still = np.repeat(random_clip(frames=1, seed=4), 10, axis=0)
    assert (features_2d(project_views(still))[..., 130:] == 1).all()


def test_kit_2d_features_have_128_columns():
    joints = random_clip(frames=30, seed=5, skeleton="kit")
    features3d, _ = joints_to_features(joints, canonical_offsets("kit"), "kit")
    views, features = project_clip(recover_from_ric(features3d, 21), "kit")
    assert views.shape == (4, 29, 21, 2) and features.shape == (4, 28, 128)
    # Millimetres are projected as metres: the body spans about as many units as a T2M body.
    assert 0.6 < np.ptp(views[0, 0, :, 1]) < 1.2
    recovered = recover_2d(features, 21)
    np.testing.assert_allclose(recovered[..., 1:, :] - recovered[..., :1, :], views[:, :-1, 1:] - views[:, :-1, :1],
                               atol=1e-6)


def test_joints_in_the_camera_plane_are_a_user_error():
    joints = random_clip(frames=5, seed=6)
    joints[3, :, 2] = -CAMERA_TRANSLATION[2]                  # in the camera's plane
    with pytest.raises(UserError, match="not finite"):
        project_clip(joints)
