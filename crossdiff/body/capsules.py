"""Closed tapered capsules: the building blocks of the mannequin's surface.

A capsule runs from point A to point B with an elliptical cross-section whose semi-axes are
interpolated from A to B, and ends in two half-ellipsoid caps. Its mesh is a stack of vertex rings
between two pole vertices, so it is a closed, consistently oriented (outward) genus-0 surface.

Every vertex is A + t (B - A) + axial offset + elliptical offset in a frame that depends only on the
direction of B - A. Stretching the bone therefore moves vertices linearly, which lets the mannequin
derive exact linear shape directions by differencing two builds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RING_SIZE = 16          # vertices per ring
CAP_RINGS = 4           # latitude rings per cap, the equator included
RING_SPACING = 0.035    # metres between rings along the bone


@dataclass(frozen=True)
class CapsuleMesh:
    vertices: np.ndarray      # [N, 3]
    faces: np.ndarray         # [F, 3] int64, outward-facing
    start_ring: np.ndarray    # [RING_SIZE] vertex ids of the ring centred exactly on A
    end_ring: np.ndarray      # [RING_SIZE] vertex ids of the ring centred exactly on B


def cross_section_frame(axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors (e1, e2) perpendicular to unit `axis` with e1 x e2 = axis.

    e2 points forward (+z) when the bone is not itself forward-facing, else up (+y): so torso and
    limb sections are measured across (e1) and front-to-back (e2), feet across and top-to-bottom.
    """
    reference = np.array([0.0, 1.0, 0.0]) if abs(axis[2]) > 0.7 else np.array([0.0, 0.0, 1.0])
    e2 = reference - (reference @ axis) * axis
    e2 /= np.linalg.norm(e2)
    return np.cross(e2, axis), e2


def body_ring_count(length: float) -> int:
    """Rings along a bone of `length` metres (caps excluded), at most RING_SPACING apart."""
    return max(2, int(np.ceil(length / RING_SPACING)) + 1)


def _ring_layout(body: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per ring: position t along A->B (0..1), latitude phi (caps), and the cap side (-1, 0, +1)."""
    cap_phi = np.linspace(-np.pi / 2, 0.0, CAP_RINGS + 1)[1:-1]          # cap rings, poles excluded
    t = np.concatenate([np.zeros(len(cap_phi)), np.linspace(0.0, 1.0, body), np.ones(len(cap_phi))])
    phi = np.concatenate([cap_phi, np.zeros(body), -cap_phi[::-1]])
    side = np.concatenate([-np.ones(len(cap_phi)), np.zeros(body), np.ones(len(cap_phi))])
    return t, phi, side


def capsule(start: np.ndarray, end: np.ndarray, radius_start, radius_end, body_rings: int) -> CapsuleMesh:
    """Mesh of a capsule from `start` [3] to `end` [3]; radii are (along e1, along e2) pairs.

    `body_rings` is fixed by the caller (not derived from the length) so that shape variants of
    one model share the same topology.
    """
    delta = end - start
    axis = delta / np.linalg.norm(delta)
    e1, e2 = cross_section_frame(axis)
    t, phi, side = _ring_layout(body_rings)
    radii = (1 - t)[:, None] * np.asarray(radius_start) + t[:, None] * np.asarray(radius_end)   # [R, 2]
    cap_depth = np.where(side < 0, np.mean(radius_start), np.mean(radius_end))                  # [R]
    centres = start + t[:, None] * delta + (np.sin(phi) * cap_depth)[:, None] * axis             # [R, 3]
    theta = np.linspace(0.0, 2 * np.pi, RING_SIZE, endpoint=False)
    scale = np.cos(phi)[:, None, None] * radii[:, None, :]                                      # [R, 1, 2]
    offsets = scale[..., :1] * np.cos(theta)[None, :, None] * e1 + scale[..., 1:] * np.sin(theta)[None, :, None] * e2
    rings = centres[:, None, :] + offsets                                                       # [R, K, 3]
    south = start - np.mean(radius_start) * axis
    north = end + np.mean(radius_end) * axis
    vertices = np.concatenate([south[None], rings.reshape(-1, 3), north[None]])
    faces = _capsule_faces(len(t))
    equator = np.flatnonzero(phi == 0)                                  # body rings, t from 0 to 1
    first = 1 + np.arange(RING_SIZE)
    return CapsuleMesh(vertices, faces, first + equator[0] * RING_SIZE, first + equator[-1] * RING_SIZE)


def _capsule_faces(ring_count: int) -> np.ndarray:
    """Triangles of `ring_count` rings between a south pole (vertex 0) and a north pole (last)."""
    k = np.arange(RING_SIZE)
    k_next = (k + 1) % RING_SIZE

    def ring(i, kk):
        return 1 + i * RING_SIZE + kk

    north = 1 + ring_count * RING_SIZE
    bands = []
    for i in range(ring_count - 1):
        a, b, c, d = ring(i, k), ring(i, k_next), ring(i + 1, k_next), ring(i + 1, k)
        bands += [np.stack([a, b, c], -1), np.stack([a, c, d], -1)]
    south_fan = np.stack([np.zeros_like(k), ring(0, k_next), ring(0, k)], -1)
    north_fan = np.stack([np.full_like(k, north), ring(ring_count - 1, k), ring(ring_count - 1, k_next)], -1)
    return np.concatenate([south_fan, *bands, north_fan]).astype(np.int64)


def merge(meshes: list[CapsuleMesh]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate capsules (they overlap; each stays closed): vertices [V, 3], faces [F, 3]."""
    offsets = np.cumsum([0] + [len(m.vertices) for m in meshes])
    vertices = np.concatenate([m.vertices for m in meshes])
    faces = np.concatenate([m.faces + off for m, off in zip(meshes, offsets)])
    return vertices, faces
