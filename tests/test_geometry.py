"""Quaternion, 6D and 2D rotation helpers: known values, identities, numpy == torch, gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crossdiff import geometry as g


def _random_quaternions(n: int, seed: int = 0) -> np.ndarray:
    return g.qnormalize(np.random.default_rng(seed).normal(size=(n, 4)))


def test_quarter_turn_about_y_takes_x_to_minus_z():
    quarter = g.yaw_quaternion(np.array(np.pi / 4))           # half-angle 45° = 90° turn
    np.testing.assert_allclose(g.qrot(quarter, np.array([1.0, 0.0, 0.0])), [0.0, 0.0, -1.0], atol=1e-12)
    np.testing.assert_allclose(g.qrot(quarter, np.array([0.0, 0.0, 1.0])), [1.0, 0.0, 0.0], atol=1e-12)


def test_hamilton_product_composes_rotations():
    a, b = _random_quaternions(50, 1), _random_quaternions(50, 2)
    v = np.random.default_rng(3).normal(size=(50, 3))
    np.testing.assert_allclose(g.qrot(g.qmul(a, b), v), g.qrot(a, g.qrot(b, v)), atol=1e-12)
    np.testing.assert_allclose(g.qrot(g.qinv(a), g.qrot(a, v)), v, atol=1e-12)
    np.testing.assert_allclose(g.qmul(a, g.qinv(a)), np.tile([1.0, 0, 0, 0], (50, 1)), atol=1e-12)


def test_matrix_agrees_with_qrot_and_inverts_for_every_rotation():
    q = _random_quaternions(200, 4)
    half_turns = [[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 1, 1, 0], [1e-9, 0, 1, 1]]
    half_turns = g.qnormalize(np.array(half_turns, float))
    q = np.concatenate([q, half_turns, [[1.0, 0, 0, 0]]])
    v = np.random.default_rng(5).normal(size=(len(q), 3))
    m = g.quaternion_to_matrix(q)
    np.testing.assert_allclose(np.einsum("nij,nj->ni", m, v), g.qrot(q, v), atol=1e-12)
    back = g.matrix_to_quaternion(m)
    np.testing.assert_allclose(g.quaternion_to_matrix(back), m, atol=1e-12)
    assert (back[:, 0] >= 0).all()


def test_qbetween_takes_a_to_b_and_survives_opposite_directions():
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(100, 3)), rng.normal(size=(100, 3))
    rotated = g.qrot(g.qbetween(a, b), a)
    np.testing.assert_allclose(rotated / np.linalg.norm(rotated, axis=-1, keepdims=True),
                               b / np.linalg.norm(b, axis=-1, keepdims=True), atol=1e-12)
    opposite = np.array([[0.0, 0.0, -2.0], [1.0, 0.0, 0.0]])
    target = np.array([[0.0, 0.0, 1.0], [-3.0, 0.0, 0.0]])
    q = g.qbetween(opposite, target)
    assert np.isfinite(q).all()
    np.testing.assert_allclose(g.qrot(q, opposite) / np.linalg.norm(opposite, axis=-1, keepdims=True),
                               target / np.linalg.norm(target, axis=-1, keepdims=True), atol=1e-12)


def test_cont6d_is_the_first_two_columns_and_round_trips():
    q = _random_quaternions(100, 7)
    m = g.quaternion_to_matrix(q)
    d6 = g.quaternion_to_cont6d(q)
    np.testing.assert_allclose(d6, np.concatenate([m[:, :, 0], m[:, :, 1]], -1), atol=0)
    np.testing.assert_allclose(g.cont6d_to_matrix(d6), m, atol=1e-12)
    noisy = d6 * 1.7 + 0.01 * np.random.default_rng(8).normal(size=d6.shape)
    r = g.cont6d_to_matrix(noisy)
    np.testing.assert_allclose(np.einsum("nji,njk->nik", r, r), np.tile(np.eye(3), (100, 1, 1)), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.abs(np.sum(g.cont6d_to_quaternion(d6) * q, -1)), 1.0, atol=1e-12)


def test_rotation_2d():
    r = g.rotation_2d(np.array([0.0, np.pi / 2]))
    np.testing.assert_allclose(r[1] @ [1.0, 0.0], [0.0, 1.0], atol=1e-15)
    np.testing.assert_allclose(r[0], np.eye(2))


@pytest.mark.parametrize("name, args", [
    ("qmul", (4, 4)), ("qrot", (4, 3)), ("qbetween", (3, 3)), ("qinv", (4,)), ("qnormalize", (4,)),
    ("quaternion_to_matrix", (4,)), ("quaternion_to_cont6d", (4,)), ("cont6d_to_matrix", (6,)),
    ("cont6d_to_quaternion", (6,)), ("rotation_2d", ()), ("yaw_quaternion", ())])
def test_numpy_and_torch_agree_and_torch_keeps_gradients(name, args):
    rng = np.random.default_rng(9)
    arrays = [rng.normal(size=(5, 7) + ((n,) if n else ())) for n in args] or [rng.normal(size=(5, 7))]
    fn = getattr(g, name)
    expected = fn(*arrays)
    tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
    result = fn(*tensors)
    assert isinstance(result, torch.Tensor) and result.dtype == torch.float64
    np.testing.assert_allclose(result.detach().numpy(), expected, atol=1e-10)
    result.square().sum().backward()
    assert all(t.grad is not None and torch.isfinite(t.grad).all() for t in tensors)


def test_torch_float32_stays_float32():
    q = torch.randn(3, 4)
    assert g.qrot(g.qnormalize(q), torch.randn(3, 3)).dtype == torch.float32
    assert isinstance(g.qrot(np.array([1.0, 0, 0, 0]), np.ones(3)), np.ndarray)
