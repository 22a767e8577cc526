"""Fitting joints: rotations round-trip, IK reproduces exact skeletons, L-BFGS gets synthetic motions
under 2 cm, priors behave, and fit_smpl.py writes its files."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

import fit_smpl
from crossdiff.body.body_model import BodyModel, read_model_arrays
from crossdiff.body.fitting import fit_joints
from crossdiff.body.kinematics import axis_angle_to_matrix, forward_kinematics, matrix_to_axis_angle, rodrigues
from crossdiff.body.mannequin import ensure_mannequin
from crossdiff.body.priors import GMMPosePrior, joint_limit_penalty
from crossdiff.body.warm_start import estimate_betas, inverse_kinematics
from crossdiff.errors import UserError
from tests.body_helpers import motion_from_body, t2m_like_joints


@pytest.fixture(scope="module")
def mannequin(tmp_path_factory):
    path = ensure_mannequin(tmp_path_factory.mktemp("body") / "mannequin.npz", t2m_like_joints())
    return BodyModel(read_model_arrays(path), path)


def test_axis_angle_round_trip_including_half_turns():
    rng = np.random.default_rng(0)
    axes = rng.normal(size=(200, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    angles = np.concatenate([rng.uniform(0, np.pi, 190), np.full(5, np.pi - 1e-7), np.zeros(5)])
    rot = axis_angle_to_matrix(axes * angles[:, None])
    back = axis_angle_to_matrix(matrix_to_axis_angle(rot))
    np.testing.assert_allclose(back, rot, atol=1e-6)
    # rodrigues has a finite gradient at the rest pose (fitting starts near it).
    zero = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    rodrigues(zero).sum().backward()
    assert torch.isfinite(zero.grad).all()


def test_inverse_kinematics_is_exact_when_bones_match(mannequin):
    joints, _, betas = motion_from_body(mannequin, frames=30, seed=3)
    rest = mannequin.rest_joints(betas)
    poses, trans = inverse_kinematics(rest, joints)
    posed = forward_kinematics(rodrigues(torch.tensor(poses).reshape(30, 24, 3)), torch.tensor(rest)).numpy()
    assert np.abs(posed[:, :22] + trans[:, None] - joints).max() < 1e-6


def test_hinge_twist_puts_knee_flexion_on_the_knee_axis(mannequin):
    """A bent knee must come out as flexion about x, not as a sideways bend with a twisted hip."""
    joints, truth, betas = motion_from_body(mannequin, frames=40, seed=4)
    poses, _ = inverse_kinematics(mannequin.rest_joints(betas), joints)
    knees = poses.reshape(40, 24, 3)[:, [4, 5]]
    bent = truth[:, [4, 5], 0] > 0.5
    assert np.abs(knees[..., 1:][bent]).max() < 0.15 and knees[..., 0][bent].min() > 0.4


def test_betas_are_recovered_from_bone_lengths(mannequin):
    joints, _, betas = motion_from_body(mannequin, frames=10, seed=5)
    estimate = estimate_betas(mannequin.rest_joints_template, mannequin.rest_joints_dirs, joints, ridge=1e-8)
    np.testing.assert_allclose(mannequin.rest_joints(estimate)[:22], mannequin.rest_joints(betas)[:22], atol=1e-4)


@pytest.mark.parametrize("seed", [6, 7])
def test_fitting_synthetic_motions_is_under_2cm(mannequin, seed):
    joints, _, _ = motion_from_body(mannequin, frames=60, seed=seed)
    joints += np.random.default_rng(seed).normal(scale=0.003, size=joints.shape)   # generator noise
    before = fit_joints(joints, mannequin, iterations=0, progress=False).mean_joint_error
    fit = fit_joints(joints, mannequin, iterations=80, progress=False)
    assert fit.mean_joint_error < 0.02 and fit.mean_joint_error < before
    assert fit.poses.shape == (60, 72) and fit.trans.shape == (60, 3) and fit.betas.shape == (10,)


def test_fit_reports_rounds_and_stops_when_the_callback_raises(mannequin):
    joints, _, _ = motion_from_body(mannequin, frames=8, seed=3)
    rounds = []
    fit_joints(joints, mannequin, iterations=25, progress=False, on_round=lambda i, n: rounds.append((i, n)))
    assert rounds == [(1, 3), (2, 3), (3, 3)]   # 25 iterations in rounds of 10

    class Stop(Exception):
        pass

    seen = []

    def stop_at_second(i, n):
        seen.append(i)
        if i == 2:
            raise Stop

    with pytest.raises(Stop):
        fit_joints(joints, mannequin, iterations=50, progress=False, on_round=stop_at_second)
    assert seen == [1, 2]


def test_gmm_prior_matches_its_formula_and_loads_safely(tmp_path, mannequin):
    rng = np.random.default_rng(9)
    means = rng.normal(scale=0.2, size=(3, 69))
    covars = np.stack([np.diag(rng.uniform(0.05, 0.2, 69)) for _ in range(3)])
    weights = np.array([0.5, 0.3, 0.2])
    path = tmp_path / "gmm_08.pkl"
    with open(path, "wb") as f:
        pickle.dump({"means": means, "covars": covars, "weights": weights}, f, protocol=2)
    prior = GMMPosePrior.load(path)
    x = rng.normal(scale=0.2, size=(4, 69))
    dets = np.sqrt(np.linalg.det(covars))
    w = weights / ((2 * np.pi) ** 34.5 * dets / dets.min())
    expected = np.min([0.5 * np.einsum("bi,ij,bj->b", x - m, np.linalg.inv(c), x - m) - np.log(wk)
                       for m, c, wk in zip(means, covars, w)], axis=0)
    np.testing.assert_allclose(prior(torch.tensor(x)).numpy(), expected, rtol=1e-9)
    joints, _, _ = motion_from_body(mannequin, frames=30, seed=11)
    assert fit_joints(joints, mannequin, iterations=60, prior=prior, progress=False).mean_joint_error < 0.02
    with open(tmp_path / "bad.pkl", "wb") as f:
        pickle.dump({"means": means}, f)
    with pytest.raises(UserError, match="not a GMM"):
        GMMPosePrior.load(tmp_path / "bad.pkl")


def test_joint_limits_penalise_only_unnatural_bends():
    pose = torch.zeros(2, 69, dtype=torch.float64)
    pose[0, 3 * 3] = 1.2           # left knee flexed: fine
    pose[0, 17 * 3 + 1] = -1.0     # left elbow flexed: fine
    pose[1, 3 * 3] = -0.5          # left knee hyper-extended
    pose[1, 4 * 3 + 2] = 0.8       # right knee bent sideways
    penalty = joint_limit_penalty(pose)
    assert penalty[0] == 0 and penalty[1] > 0.25


def test_fit_smpl_main_writes_mesh_and_parameters(tmp_path, mannequin, capsys):
    joints, _, _ = motion_from_body(mannequin, frames=12, seed=10)
    np.save(tmp_path / "clip.npy", joints.astype(np.float32))
    fit = fit_smpl.main(tmp_path / "clip.npy", body_model=mannequin.path, iterations=30, device="cpu",
                        obj=True, progress=False)
    mesh = np.load(tmp_path / "clip_mesh.npy")
    assert mesh.shape == (12, mannequin.num_vertices, 3) and mesh.dtype == np.float32
    params = np.load(tmp_path / "clip_smpl.npz")
    assert params["poses"].shape == (12, 72) and str(params["body_model"]) == "mannequin"
    np.testing.assert_array_equal(params["faces"], mannequin.faces)
    assert len(list((tmp_path / "clip_obj").glob("frame_*.obj"))) == 12
    assert "mean joint error" in capsys.readouterr().out and fit.mean_joint_error < 0.02


def test_fit_smpl_rejects_bad_input(tmp_path, mannequin):
    np.save(tmp_path / "flat.npy", np.zeros((10, 21, 3)))
    with pytest.raises(UserError, match=r"\[T, 22, 3\]"):
        fit_smpl.main(tmp_path / "flat.npy", body_model=mannequin.path)
    assert fit_smpl.cli(["-f", str(tmp_path / "missing.npy"), "--body_model", str(mannequin.path)]) == 2
