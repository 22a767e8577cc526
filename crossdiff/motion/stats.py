"""Mean/Std of motion features with HumanML3D's per-group averaging of the standard deviation.

The mean is per column. The std is first computed per column (population std, ddof 0, over every
frame of every clip, so a clip weighs by its length), then **each feature group gets one value: the
plain average of its columns' stds**, with every group weighted 1 (HumanML3D's divisor of 1.0 for
every group). Groups, for J joints:

    3D (263 / 251): root angular velocity [0] | root linear velocity [1:3] | root height [3] |
        positions [4 : 4+3(J-1)] | 6D rotations [.. : +6(J-1)] | local velocities [.. : +3J] | contacts [-4:]
    2D (134 / 128): root position [0:2] | positions [2 : 2+2(J-1)] | 2D rotations [.. : +2(J-1)] |
        velocities [.. : +2J] | contacts [-4:]

Averaging keeps the relative scale of the columns within a group (e.g. the x, y, z of all joints) and
stops a nearly constant column from being blown up by normalisation. Zero guard: a group whose
averaged std is below `MIN_STD` (e.g. contacts that never change in a tiny dataset) gets std 1, so
normalising it only removes the mean.

Moments are accumulated clip by clip in float64 (Chan et al.'s pairwise update), so statistics of
the whole HumanML3D (millions of frames) never need all features in memory at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

MIN_STD = 1e-8


def feature_groups_3d(joints_num: int = 22) -> list[tuple[str, slice]]:
    """(name, column slice) of each group of the 3D features; they tile all columns."""
    pos = 4 + 3 * (joints_num - 1)
    rot = pos + 6 * (joints_num - 1)
    vel = rot + 3 * joints_num
    return [("root_rot_velocity", slice(0, 1)), ("root_linear_velocity", slice(1, 3)), ("root_y", slice(3, 4)),
            ("ric_positions", slice(4, pos)), ("rot6d", slice(pos, rot)), ("local_velocity", slice(rot, vel)),
            ("foot_contact", slice(vel, vel + 4))]


def feature_groups_2d(joints_num: int = 22) -> list[tuple[str, slice]]:
    """(name, column slice) of each group of the 2D features; they tile all columns."""
    pos = 2 + 2 * (joints_num - 1)
    rot = pos + 2 * (joints_num - 1)
    vel = rot + 2 * joints_num
    return [("root_position", slice(0, 2)), ("relative_positions", slice(2, pos)), ("rotations_2d", slice(pos, rot)),
            ("velocity", slice(rot, vel)), ("foot_contact", slice(vel, vel + 4))]


@dataclass
class RunningMoments:
    """Per-column count, mean and sum of squared deviations, merged one array [N, D] at a time."""

    count: int = 0
    mean: np.ndarray | None = None
    m2: np.ndarray | None = None

    def add(self, rows: np.ndarray) -> None:
        rows = np.asarray(rows, dtype=np.float64).reshape(-1, np.shape(rows)[-1])
        if len(rows) == 0:
            return
        mean, m2 = rows.mean(0), ((rows - rows.mean(0)) ** 2).sum(0)
        self.merge(RunningMoments(len(rows), mean, m2))

    def merge(self, other: "RunningMoments") -> None:
        if other.count == 0:
            return
        if self.count == 0:
            self.count, self.mean, self.m2 = other.count, other.mean.copy(), other.m2.copy()
            return
        if other.mean.shape != self.mean.shape:
            raise ValueError(f"cannot merge moments of {other.mean.shape[0]} and {self.mean.shape[0]} columns")
        total = self.count + other.count
        delta = other.mean - self.mean
        self.mean = self.mean + delta * (other.count / total)
        self.m2 = self.m2 + other.m2 + delta ** 2 * (self.count * other.count / total)
        self.count = total

    def std(self) -> np.ndarray:
        return np.sqrt(self.m2 / self.count)


def grouped_std(std: np.ndarray, groups: list[tuple[str, slice]]) -> np.ndarray:
    """Replace each group's columns by the group's average std; groups below MIN_STD get 1."""
    out = np.array(std, dtype=np.float64)
    assert groups[-1][1].stop == len(out), (groups[-1], len(out))
    for _, columns in groups:
        average = out[columns].mean()
        out[columns] = average if average >= MIN_STD else 1.0
    return out


def _statistics(moments: RunningMoments, groups: list[tuple[str, slice]]) -> tuple[np.ndarray, np.ndarray]:
    if moments.count == 0:
        raise ValueError("no frames to compute statistics from")
    return moments.mean, grouped_std(moments.std(), groups)


def _moments_of(features: Iterable[np.ndarray] | np.ndarray) -> RunningMoments:
    moments = RunningMoments()
    for clip in ([features] if isinstance(features, np.ndarray) else features):
        moments.add(clip)
    return moments


def feature_statistics(features, joints_num: int = 22) -> tuple[np.ndarray, np.ndarray]:
    """Mean and grouped Std [D] of 3D features: one array [..., D] or an iterable of clips [T_i, D]."""
    return _statistics(_moments_of(features), feature_groups_3d(joints_num))


def feature_statistics_2d(features, joints_num: int = 22) -> tuple[np.ndarray, np.ndarray]:
    """Mean and grouped Std [D] of 2D features: one array [..., D] or an iterable of clips [T_i, D]."""
    return _statistics(_moments_of(features), feature_groups_2d(joints_num))


def statistics_from_moments(moments: RunningMoments, joints_num: int = 22,
                            kind: str = "2d") -> tuple[np.ndarray, np.ndarray]:
    """Mean and grouped Std from moments accumulated elsewhere (e.g. by worker processes)."""
    groups = {"3d": feature_groups_3d, "2d": feature_groups_2d}[kind](joints_num)
    return _statistics(moments, groups)
