"""Per-joint feature columns and the random frame/joint masks of training items (docs/original_code.md §2.5 step 4).

Each joint owns the feature columns that describe it; dropping a joint zeroes them. The columns
follow the layouts of docs/original_code.md §3.1 (3D) and §4.3 (2D), for any skeleton (t2m: 263/134, kit: 251/128).

3D, J joints, joint k >= 1 (i = k - 1):
    root: [0, 1, 2, 3] + its local velocity [v, v+1, v+2]    with v = 4 + 9 (J-1), the velocity block
    k:    ric [4+3i .. 6+3i], rot6d [r+6i .. r+5+6i] (r = 4 + 3 (J-1)), velocity [v+3k .. v+2+3k]
2D: root: [0, 1] + velocity [u, u+1] (u = 2 + 4 (J-1)); k: [2+2i, 3+2i, a+2i, a+1+2i, u+2k, u+1+2k]
    with a = 2 + 2 (J-1).
Foot contacts (the last 4 columns) go to (left foot joints..., right foot joints...) in order.

The reference's 3D velocity lists are off by one (docs/original_code.md §2.5, §13.9): joint k gets
`[v-1+3k, v+3k, v+1+3k]` and the root `[v, v+1]` only. `reference=True` reproduces them.
"""

from __future__ import annotations

import numpy as np

from crossdiff.skeleton import Skeleton


def _contacts(sk: Skeleton, first_column: int) -> dict[int, list[int]]:
    feet = list(sk.foot_joints_left) + list(sk.foot_joints_right)
    return {joint: [first_column + n] for n, joint in enumerate(feet)}


def joint_columns_3d(sk: Skeleton, reference: bool = False) -> list[list[int]]:
    """For each joint, the 3D feature columns it owns (`reference`: the original's off-by-one lists)."""
    joints = sk.joints_num
    rot_start, vel_start = 4 + 3 * (joints - 1), 4 + 9 * (joints - 1)
    shift = -1 if reference else 0
    root = [0, 1, 2, 3, vel_start, vel_start + 1] + ([] if reference else [vel_start + 2])
    columns = [root]
    for k in range(1, joints):
        i = k - 1
        velocity = [vel_start + 3 * k + shift + c for c in range(3)]
        columns.append([4 + 3 * i + c for c in range(3)] + [rot_start + 6 * i + c for c in range(6)] + velocity)
    for joint, extra in _contacts(sk, vel_start + 3 * joints).items():
        columns[joint] += extra
    return columns


def joint_columns_2d(sk: Skeleton) -> list[list[int]]:
    """For each joint, the 2D feature columns it owns."""
    joints = sk.joints_num
    rot_start, vel_start = 2 + 2 * (joints - 1), 2 + 4 * (joints - 1)
    columns = [[0, 1, vel_start, vel_start + 1]]
    for k in range(1, joints):
        i = k - 1
        columns.append([2 + 2 * i, 3 + 2 * i, rot_start + 2 * i, rot_start + 1 + 2 * i,
                        vel_start + 2 * k, vel_start + 1 + 2 * k])
    for joint, extra in _contacts(sk, vel_start + 2 * joints).items():
        columns[joint] += extra
    return columns


def ownership_matrix(columns: list[list[int]], width: int) -> np.ndarray:
    """[J, width] float32: 1 where joint j owns feature column c."""
    owns = np.zeros((len(columns), width), np.float32)
    for joint, cols in enumerate(columns):
        owns[joint, cols] = 1.0
    return owns


def random_feature_mask(rng: np.random.Generator, frames: int, owns: np.ndarray, drop_ratio: float) -> np.ndarray:
    """[frames, width] float32: each frame kept with prob 1 - ratio, each joint kept with prob 1 - ratio.

    A dropped joint zeroes the columns it owns on every frame. Columns no joint owns (only the
    reference's 3D lists leave one) stay on.
    """
    keep_frame = rng.random(frames) >= drop_ratio
    dropped_joints = rng.random(owns.shape[0]) < drop_ratio
    dropped_columns = (owns[dropped_joints].sum(0) > 0)
    return (keep_frame[:, None] & ~dropped_columns[None, :]).astype(np.float32)
