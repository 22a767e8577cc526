"""Pose priors for fitting: SMPLify's Gaussian-mixture prior (when `gmm_08.pkl` is supplied) or
simple joint-angle limits (always available).

Both take the 69-d SMPL body pose (joints 1..23, axis-angle, parent-relative) `[B, 69]` and return
a per-frame penalty `[B]`.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from crossdiff.errors import UserError
from crossdiff.io import NUMPY_CLASSES, restricted_pickle_load

BODY_POSE_DIM = 69
# numpy arrays, plus the bytes helper a protocol-2 pickle written by Python 3 refers to.
GMM_PICKLE_CLASSES = NUMPY_CLASSES | {("_codecs", "encode")}


class GMMPosePrior:
    """SMPLify's `MaxMixturePrior` in its "merged" form (docs/original_code.md §10.2).

    penalty(x) = min_k [ 1/2 (x - mu_k)^T Sigma_k^-1 (x - mu_k) - log w~_k ],
    w~_k = w_k / ((2 pi)^(69/2) * sqrt(det Sigma_k) / min_k sqrt(det Sigma_k)).
    """

    def __init__(self, means: np.ndarray, covars: np.ndarray, weights: np.ndarray):
        sqrt_dets = np.sqrt(np.linalg.det(covars))
        nll_weights = weights / ((2 * np.pi) ** (BODY_POSE_DIM / 2) * (sqrt_dets / sqrt_dets.min()))
        self.means = torch.as_tensor(means, dtype=torch.float64)                      # [K, 69]
        self.precisions = torch.as_tensor(np.linalg.inv(covars), dtype=torch.float64)  # [K, 69, 69]
        self.log_weights = torch.as_tensor(np.log(nll_weights), dtype=torch.float64)   # [K]

    @classmethod
    def load(cls, path: str | Path) -> "GMMPosePrior":
        """Read SMPLify's `gmm_08.pkl` (dict with means [K,69], covars [K,69,69], weights [K])."""
        data = restricted_pickle_load(path, GMM_PICKLE_CLASSES)
        if not isinstance(data, dict) or not {"means", "covars", "weights"} <= set(data):
            raise UserError(f"{path}: not a GMM pose prior (expected a dict with means, covars, weights)")
        means, covars, weights = (np.asarray(data[k], dtype=np.float64) for k in ("means", "covars", "weights"))
        k = len(weights)
        if means.shape != (k, BODY_POSE_DIM) or covars.shape != (k, BODY_POSE_DIM, BODY_POSE_DIM):
            raise UserError(f"{path}: GMM shapes {means.shape}, {covars.shape} do not fit a 69-d SMPL body pose")
        return cls(means, covars, weights)

    def __call__(self, body_pose: torch.Tensor) -> torch.Tensor:
        diff = body_pose[:, None, :] - self.means.to(body_pose)                       # [B, K, 69]
        mahalanobis = torch.einsum("bki,kij,bkj->bk", diff, self.precisions.to(body_pose), diff)
        return (0.5 * mahalanobis - self.log_weights.to(body_pose)).min(dim=1).values


# Hinge joints of the SMPL tree: flexion is a rotation about one axis of the rest frame with a
# known sign (docs/original_code.md §10.2's knee/elbow prior: body_pose[9, 12] are the knees' x, [52, 55] the
# elbows' y). Entries: (joint, flexion axis, sign of flexion, {other axis: allowed radians}).
# SMPL puts forearm pronation in the elbow (about the arm's x axis), so that axis gets a wide range.
HINGES = (
    (4, 0, 1.0, {1: math.radians(10), 2: math.radians(10)}),
    (5, 0, 1.0, {1: math.radians(10), 2: math.radians(10)}),
    (18, 1, -1.0, {0: math.radians(80), 2: math.radians(15)}),
    (19, 1, 1.0, {0: math.radians(80), 2: math.radians(15)}),
)


def joint_limit_penalty(body_pose: torch.Tensor) -> torch.Tensor:
    """[B, 69] -> [B]: squared excess of hinge joints beyond their range.

    Knees and elbows may only flex one way (no hyper-extension) and only a little about their
    other axes. Other joints are left to the smoothness and pose-size terms of the fit.
    """
    pose = body_pose.reshape(len(body_pose), -1, 3)
    penalty = torch.zeros(len(body_pose), dtype=body_pose.dtype, device=body_pose.device)
    for joint, axis, sign, slack in HINGES:
        rot = pose[:, joint - 1]                         # body_pose starts at joint 1
        penalty = penalty + torch.relu(-sign * rot[:, axis]) ** 2
        for other, allowed in slack.items():
            penalty = penalty + torch.relu(rot[:, other].abs() - allowed) ** 2
    return penalty
