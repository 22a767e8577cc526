"""Rotations for numpy and torch with one implementation: quaternions (w, x, y, z), 6D, 2D.

Every function takes numpy arrays or torch tensors and returns the same type, broadcasting over
leading axes. Conventions (docs/original_code.md §3.1): the Hamilton product; rotating v by q is q v q⁻¹;
`qbetween(a, b)` is the minimal rotation taking direction a to direction b. The 6D form of a
rotation is the first two *columns* of its matrix, `[m00, m10, m20, m01, m11, m21]`.

numpy inputs are computed in float64 (the reference used float32 quaternions; the differences are
within the tolerances of the golden conformance tests, tests/test_features3d.py). torch inputs keep their dtype and stay differentiable: no
in-place writes.
"""

from __future__ import annotations

import sys

import numpy as np


class _NumpyOps:
    """The few operations whose numpy and torch spellings differ; the rest share names."""

    xp = np

    @staticmethod
    def cross(a, b):
        return np.cross(a, b, axis=-1)

    @staticmethod
    def asfloat(x):
        return np.asarray(x, dtype=np.float64)

    @staticmethod
    def constant(values, like):
        return np.asarray(values, dtype=like.dtype)


class _TorchOps:
    def __init__(self, torch):
        self.xp = torch

    def cross(self, a, b):
        a, b = self.xp.broadcast_tensors(a, b)
        return self.xp.linalg.cross(a, b, dim=-1)

    @staticmethod
    def asfloat(x):
        return x if x.is_floating_point() else x.double()

    def constant(self, values, like):
        return self.xp.as_tensor(values, dtype=like.dtype, device=like.device)


def ops_for(x):
    """The operations for x's array type (torch is only imported if x is already a tensor)."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(x, torch.Tensor):
        return _TorchOps(torch)
    return _NumpyOps


def _dot(a, b, keepdims=False):
    return (a * b).sum(-1, keepdims=keepdims) if isinstance(a, np.ndarray) else (a * b).sum(-1, keepdim=keepdims)


def _norm(ops, v):
    return ops.xp.sqrt(_dot(v, v, keepdims=True))


def qnormalize(q):
    """Unit quaternions, [..., 4] -> [..., 4]."""
    ops = ops_for(q)
    q = ops.asfloat(q)
    return q / _norm(ops, q)


def qinv(q):
    """Inverse of unit quaternions (the conjugate), [..., 4] -> [..., 4]."""
    ops = ops_for(q)
    q = ops.asfloat(q)
    return q * ops.constant([1.0, -1.0, -1.0, -1.0], q)


def qmul(a, b):
    """Hamilton product a ⊗ b, [..., 4] x [..., 4] -> [..., 4] (broadcasting)."""
    ops = ops_for(a)
    a, b = ops.asfloat(a), ops.asfloat(b)
    aw, ax, ay, az = a[..., 0], a[..., 1], a[..., 2], a[..., 3]
    bw, bx, by, bz = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    return ops.xp.stack([aw * bw - ax * bx - ay * by - az * bz,
                         aw * bx + ax * bw + ay * bz - az * by,
                         aw * by - ax * bz + ay * bw + az * bx,
                         aw * bz + ax * by - ay * bx + az * bw], axis=-1)


def qrot(q, v):
    """Rotate vectors by quaternions, [..., 4] x [..., 3] -> [..., 3]: v + 2(w u×v + u×(u×v))."""
    ops = ops_for(q)
    q, v = ops.asfloat(q), ops.asfloat(v)
    u = q[..., 1:]
    uv = ops.cross(u, v)
    return v + 2 * (q[..., :1] * uv + ops.cross(u, uv))


def qbetween(a, b):
    """Minimal rotation taking direction a to direction b, [..., 3] x [..., 3] -> [..., 4].

    normalise([|a||b| + a·b, a×b]). For exactly opposite directions that vector is zero; there the
    result is the half turn about an axis perpendicular to a (the reference would return NaN).
    """
    ops = ops_for(a)
    a, b = ops.asfloat(a), ops.asfloat(b)
    a, b = a + 0 * b, b + 0 * a  # broadcast to one shape
    lengths = ops.xp.sqrt(_dot(a, a, keepdims=True) * _dot(b, b, keepdims=True))
    q = ops.xp.concatenate([lengths + _dot(a, b, keepdims=True), ops.cross(a, b)], axis=-1)
    size = _norm(ops, q)
    degenerate = size <= 1e-12 * lengths
    half_turn = ops.xp.concatenate([0 * lengths, _perpendicular(ops, a)], axis=-1)
    return ops.xp.where(degenerate, half_turn, q / ops.xp.where(degenerate, 1 + 0 * size, size))


def _perpendicular(ops, a):
    """A unit vector perpendicular to a: a × (the coordinate axis least aligned with a)."""
    axis = ops.constant(np.eye(3), a)[ops.xp.argmin(ops.xp.abs(a), axis=-1)]
    p = ops.cross(a, axis)
    size = _norm(ops, p)
    return p / ops.xp.where(size > 0, size, 1 + 0 * size)


def yaw_quaternion(half_angle):
    """Rotation about +y from the *half* angle a: (cos a, 0, sin a, 0), [...] -> [..., 4]."""
    ops = ops_for(half_angle)
    a = ops.asfloat(half_angle)
    zero = 0 * a
    return ops.xp.stack([ops.xp.cos(a), zero, ops.xp.sin(a), zero], axis=-1)


def quaternion_to_matrix(q):
    """Rotation matrices of unit quaternions, [..., 4] -> [..., 3, 3]."""
    ops = ops_for(q)
    q = ops.asfloat(q)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    rows = [[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]]
    return ops.xp.stack([ops.xp.stack(row, axis=-1) for row in rows], axis=-2)


def matrix_to_quaternion(m):
    """Unit quaternions (w >= 0) of rotation matrices, [..., 3, 3] -> [..., 4].

    Each of the four candidate formulas divides by one of 4w², 4x², 4y², 4z²; the one with the
    largest divisor is taken, which keeps the result accurate for every rotation.
    """
    ops = ops_for(m)
    m = ops.asfloat(m)
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    four_sq = ops.xp.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22,
                            1 - m00 + m11 - m22, 1 - m00 - m11 + m22], axis=-1)
    candidates = ops.xp.stack([
        ops.xp.stack([four_sq[..., 0], m21 - m12, m02 - m20, m10 - m01], axis=-1),
        ops.xp.stack([m21 - m12, four_sq[..., 1], m10 + m01, m02 + m20], axis=-1),
        ops.xp.stack([m02 - m20, m10 + m01, four_sq[..., 2], m21 + m12], axis=-1),
        ops.xp.stack([m10 - m01, m20 + m02, m21 + m12, four_sq[..., 3]], axis=-1)], axis=-2)
    best = ops.xp.argmax(four_sq, axis=-1)
    one_hot = ops.constant(np.eye(4), m)[best]                      # [..., 4]
    q = (candidates * one_hot[..., :, None]).sum(-2)
    q = q / _norm(ops, q)
    return q * ops.xp.where(q[..., :1] < 0, -1.0 + 0 * q[..., :1], 1.0 + 0 * q[..., :1])


def matrix_to_cont6d(m):
    """The first two columns of rotation matrices, [..., 3, 3] -> [..., 6] = [m00, m10, m20, m01, m11, m21]."""
    ops = ops_for(m)
    return ops.xp.concatenate([m[..., :, 0], m[..., :, 1]], axis=-1)


def quaternion_to_cont6d(q):
    """6D rotations of unit quaternions, [..., 4] -> [..., 6]."""
    return matrix_to_cont6d(quaternion_to_matrix(q))


def cont6d_to_matrix(d6):
    """Rotation matrices from 6D rotations by Gram-Schmidt, [..., 6] -> [..., 3, 3] (columns b1, b2, b3)."""
    ops = ops_for(d6)
    d6 = ops.asfloat(d6)
    a1, a2 = d6[..., :3], d6[..., 3:]
    b1 = a1 / _norm(ops, a1)
    b2 = a2 - _dot(b1, a2, keepdims=True) * b1
    b2 = b2 / _norm(ops, b2)
    b3 = ops.cross(b1, b2)
    return ops.xp.stack([b1, b2, b3], axis=-1)


def cont6d_to_quaternion(d6):
    """[..., 6] -> [..., 4]."""
    return matrix_to_quaternion(cont6d_to_matrix(d6))


def rotation_2d(angle):
    """Counter-clockwise 2D rotation matrices [[cos, -sin], [sin, cos]], [...] -> [..., 2, 2]."""
    ops = ops_for(angle)
    a = ops.asfloat(angle)
    c, s = ops.xp.cos(a), ops.xp.sin(a)
    return ops.xp.stack([ops.xp.stack([c, -s], axis=-1), ops.xp.stack([s, c], axis=-1)], axis=-2)
