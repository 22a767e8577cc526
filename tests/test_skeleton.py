"""Skeleton presets: the reference's index lists, consistent chains, a plausible canonical rest pose."""

from __future__ import annotations

import numpy as np
import pytest

from crossdiff.errors import UserError
from crossdiff.skeleton import (SKELETONS, bone_lengths, canonical_offsets, get_skeleton, offsets_from_joints,
                                skeleton_for_joints)

# joint: parent, as listed in docs/original_code.md §3.3.
T2M_PARENTS = {1: 0, 2: 0, 3: 0, 4: 1, 5: 2, 6: 3, 7: 4, 8: 5, 9: 6, 10: 7, 11: 8, 12: 9, 13: 9, 14: 9, 15: 12,
               16: 13, 17: 14, 18: 16, 19: 17, 20: 18, 21: 19}


def test_t2m_parents_match_the_spec():
    assert SKELETONS["t2m"].parents == tuple([-1] + [T2M_PARENTS[j] for j in range(1, 22)])


@pytest.mark.parametrize("name", ["t2m", "kit"])
def test_chains_reach_every_joint_once_and_dimensions_follow(name):
    sk = SKELETONS[name]
    children = [c for chain in sk.chains for c in chain[1:]]
    assert sorted(children) == list(range(1, sk.joints_num))
    assert all(p < j for j, p in enumerate(sk.parents) if j)
    lengths = np.linalg.norm(sk.raw_offsets, axis=-1)
    assert lengths[0] == 0 and np.all(lengths[1:] == 1)
    j = sk.joints_num
    assert sk.feature_dim == 4 + 9 * (j - 1) + 3 * j + 4
    assert sk.feature_dim_2d == 2 + 4 * (j - 1) + 2 * j + 4
    assert len(sk.joint_names) == len(sk.canonical_joints) == j


def test_presets_have_the_reference_numbers():
    t2m, kit = SKELETONS["t2m"], SKELETONS["kit"]
    assert (t2m.joints_num, t2m.feature_dim, t2m.feature_dim_2d, t2m.fps) == (22, 263, 134, 20)
    assert (kit.joints_num, kit.feature_dim, kit.feature_dim_2d, kit.fps) == (21, 251, 128, 12.5)
    assert t2m.face_joints == (2, 1, 17, 16) and kit.face_joints == (11, 16, 5, 8)
    assert (t2m.foot_joints_left, t2m.foot_joints_right) == ((7, 10), (8, 11))
    assert t2m.lower_body == {0, 1, 2, 4, 5, 7, 8, 10, 11}


@pytest.mark.parametrize("name, height", [("t2m", 1.0), ("kit", 1000.0)])
def test_canonical_pose_stands_on_the_floor_with_plausible_size_and_heading(name, height):
    sk = SKELETONS[name]
    joints = np.asarray(sk.canonical_joints)
    assert joints[:, 1].min() == 0
    assert 1.5 * height < joints[:, 1].max() < 1.8 * height
    # The heading of the feature pipeline, y x ((r_hip - l_hip) + (r_shoulder - l_shoulder)). KIT's reference
    # labels (joint 11 = MMM's LH as "r_hip") make its heading point backwards, -z for a body facing +z.
    r_hip, l_hip, r_shoulder, l_shoulder = sk.face_joints
    forward = np.cross([0.0, 1.0, 0.0], joints[r_hip] - joints[l_hip] + joints[r_shoulder] - joints[l_shoulder])
    assert np.dot(forward / np.linalg.norm(forward), [0.0, 0.0, 1.0 if name == "t2m" else -1.0]) > 0.99


def test_t2m_canonical_pose_is_symmetric_and_left_is_plus_x():
    joints = np.asarray(SKELETONS["t2m"].canonical_joints)
    names = SKELETONS["t2m"].joint_names
    mirror = [names.index(n.replace("left", "#").replace("right", "left").replace("#", "right")) for n in names]
    np.testing.assert_allclose(joints[mirror] * [-1, 1, 1], joints, atol=1e-12)
    assert joints[names.index("left_hip"), 0] > 0 and joints[names.index("left_shoulder"), 0] > 0


def test_unknown_name_lists_the_choices():
    with pytest.raises(UserError, match="'t2m'.*'kit'|'kit'.*'t2m'"):
        SKELETONS["smplx"]
    with pytest.raises(UserError, match="choose one of"):
        get_skeleton("humanml")
    with pytest.raises(UserError, match="no built-in skeleton has 17 joints"):
        skeleton_for_joints(17)
    assert skeleton_for_joints(21) is SKELETONS["kit"]


def test_offsets_from_joints_matches_golden_case1(golden):
    case = golden("case1_hml3d_features")
    np.testing.assert_allclose(offsets_from_joints(case["target_joints"]), case["target_offsets"], atol=1e-6)


def test_offsets_have_canonical_bone_lengths_and_check_shape():
    offsets = canonical_offsets("kit")
    np.testing.assert_allclose(np.linalg.norm(offsets, axis=-1), bone_lengths(SKELETONS["kit"].canonical_joints, "kit"))
    with pytest.raises(UserError, match=r"\[22, 3\]"):
        offsets_from_joints(np.zeros((21, 3)))
