"""Mean/Std: per-column mean, group-averaged std (HumanML3D), zero guard, streaming == all at once."""

from __future__ import annotations

import numpy as np
import pytest

from crossdiff.motion.stats import (RunningMoments, feature_groups_2d, feature_groups_3d, feature_statistics,
                                    feature_statistics_2d, grouped_std)


@pytest.mark.parametrize("groups, width", [(feature_groups_3d(22), 263), (feature_groups_3d(21), 251),
                                           (feature_groups_2d(22), 134), (feature_groups_2d(21), 128)])
def test_groups_tile_the_feature_vector(groups, width):
    covered = np.concatenate([np.arange(width)[s] for _, s in groups])
    np.testing.assert_array_equal(covered, np.arange(width))


def test_3d_groups_are_humanml3ds():
    assert [(s.start, s.stop) for _, s in feature_groups_3d(22)] == [(0, 1), (1, 3), (3, 4), (4, 67), (67, 193),
                                                                      (193, 259), (259, 263)]
    assert [(s.start, s.stop) for _, s in feature_groups_2d(22)] == [(0, 2), (2, 44), (44, 86), (86, 130), (130, 134)]


def test_std_is_averaged_within_each_group():
    rng = np.random.default_rng(0)
    column_scale = rng.uniform(0.5, 3.0, size=263)
    clips = [rng.normal(size=(n, 263)) * column_scale + 5.0 for n in (40, 90, 61)]
    clips[0][:, 259:] = 0.0                              # contacts that never change in one clip
    everything = np.concatenate(clips)
    mean, std = feature_statistics(clips, joints_num=22)
    np.testing.assert_allclose(mean, everything.mean(0), atol=1e-12)
    per_column = everything.std(0)
    for _, columns in feature_groups_3d(22):
        np.testing.assert_allclose(std[columns], per_column[columns].mean(), rtol=1e-12)
    assert len(np.unique(std)) == 7


def test_zero_std_groups_become_one_and_2d_uses_2d_groups():
    rng = np.random.default_rng(1)
    features = rng.normal(size=(3, 50, 134))
    features[..., 130:] = 1.0
    mean, std = feature_statistics_2d(features, joints_num=22)
    np.testing.assert_array_equal(std[130:], 1.0)
    np.testing.assert_array_equal(mean[130:], 1.0)
    assert np.ptp(std[2:44]) == 0 and std[2] != std[44]
    np.testing.assert_allclose(grouped_std(np.zeros(134), feature_groups_2d(22)), np.ones(134))


def test_running_moments_merge_in_any_order():
    rng = np.random.default_rng(2)
    parts = [rng.normal(loc=i, size=(n, 6)) for i, n in enumerate((1, 7, 30))]
    a, b = RunningMoments(), RunningMoments()
    for part in parts:
        a.add(part)
    b.add(parts[2])
    tail = RunningMoments()
    tail.add(parts[0])
    tail.add(parts[1])
    b.merge(tail)
    whole = np.concatenate(parts)
    for moments in (a, b):
        assert moments.count == 38
        np.testing.assert_allclose(moments.mean, whole.mean(0), atol=1e-12)
        np.testing.assert_allclose(moments.std(), whole.std(0), atol=1e-12)
