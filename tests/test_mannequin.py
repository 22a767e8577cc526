"""The procedural mannequin: closed outward surface, joints on its rest skeleton, T2M bone lengths,
linear shape directions, skinning that keeps the hand on the wrist when the elbow bends."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crossdiff.body.body_model import BodyModel, read_model_arrays
from crossdiff.body.capsules import RING_SIZE, capsule
from crossdiff.body.kinematics import SMPL_PARENTS, forward_kinematics, rodrigues
from crossdiff.body.mannequin import (BETA_STEP, SHAPE_DIRECTIONS, build_mannequin, ensure_mannequin,
                                      segments, stretch_bones)
from tests.body_helpers import t2m_like_joints


@pytest.fixture(scope="module")
def canonical():
    return t2m_like_joints()


@pytest.fixture(scope="module")
def model(canonical):
    return build_mannequin(canonical)


def _edge_counts(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts of undirected and of directed edges."""
    directed = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    _, undirected_counts = np.unique(np.sort(directed, 1), axis=0, return_counts=True)
    _, directed_counts = np.unique(directed, axis=0, return_counts=True)
    return undirected_counts, directed_counts


def _signed_volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    a, b, c = (vertices[faces[:, k]] for k in range(3))
    return float(np.einsum("fi,fi->f", a, np.cross(b, c)).sum() / 6)


def test_capsule_is_closed_outward_and_its_ring_is_centred():
    mesh = capsule(np.zeros(3), np.array([0.0, 0.0, 0.4]), (0.05, 0.08), (0.03, 0.04), body_rings=8)
    undirected, directed = _edge_counts(mesh.faces)
    assert np.all(undirected == 2) and np.all(directed == 1)       # closed 2-manifold, consistent winding
    euler = len(mesh.vertices) - len(undirected) + len(mesh.faces)
    assert euler == 2                                               # a sphere
    assert _signed_volume(mesh.vertices, mesh.faces) > 0           # normals point outwards
    np.testing.assert_allclose(mesh.vertices[mesh.start_ring].mean(0), [0, 0, 0], atol=1e-12)
    np.testing.assert_allclose(mesh.vertices[mesh.end_ring].mean(0), [0, 0, 0.4], atol=1e-12)
    assert len(mesh.start_ring) == RING_SIZE


def test_mannequin_surface_is_closed_and_human_sized(model):
    vertices, faces = model["v_template"], model["f"]
    assert 3000 <= len(vertices) <= 8000
    undirected, directed = _edge_counts(faces)
    assert np.all(undirected == 2) and np.all(directed == 1)
    assert _signed_volume(vertices, faces) > 0
    height = vertices[:, 1].max() - vertices[:, 1].min()
    assert 1.6 < height < 1.95
    span = vertices[:, 0].max() - vertices[:, 0].min()            # T-pose: arm span about the height
    assert 0.85 * height < span < 1.2 * height


def test_joints_sit_on_the_rest_skeleton_with_t2m_bone_lengths(model, canonical):
    joints = model["J_regressor"] @ model["v_template"]
    np.testing.assert_allclose(joints, model["rest_joints"], atol=1e-9)
    parents = np.array(SMPL_PARENTS[1:22])
    lengths = np.linalg.norm(joints[1:22] - joints[parents], axis=-1)
    np.testing.assert_allclose(lengths, np.linalg.norm(canonical[1:22] - canonical[parents], axis=-1), atol=1e-9)
    # T-pose: forearms point straight out sideways, left arm towards +x.
    np.testing.assert_allclose(np.sign(joints[20, 0] - joints[18, 0]), 1.0)
    np.testing.assert_allclose(joints[[18, 20], 1], joints[[16, 16], 1], atol=1e-9)
    assert np.all(model["kintree_table"][1] == np.arange(24))


def test_shape_directions_are_exact_bone_changes(model):
    rest = model["rest_joints"]
    names = [name for name, _, _ in SHAPE_DIRECTIONS]
    leg = names.index("leg_length")
    moved = model["J_regressor"] @ model["shapedirs"][..., leg]
    expected = stretch_bones(rest, {4, 5, 7, 8}, 1 + BETA_STEP) - rest
    np.testing.assert_allclose(moved, expected, atol=1e-9)
    assert np.abs(moved[[7, 10]]).max() > 0.01 and np.abs(moved[[0, 3, 16]]).max() == 0
    girth = names.index("limb_girth")                  # changes the surface, not the skeleton
    assert np.abs(model["shapedirs"][..., girth]).max() > 1e-3
    np.testing.assert_allclose(model["J_regressor"] @ model["shapedirs"][..., girth], 0, atol=1e-9)


def test_skinning_weights_blend_only_near_joints(model):
    weights, vertices, rest = model["weights"], model["v_template"], model["rest_joints"]
    np.testing.assert_allclose(weights.sum(1), 1.0, atol=1e-9)
    assert weights.min() >= 0
    assert set(np.flatnonzero(weights.max(0) > 0.5)) == {s.skin_joint for s in segments()}
    for joint, child in ((1, 4), (4, 7), (16, 18), (18, 20), (2, 5), (5, 8), (17, 19), (19, 21)):
        axis = rest[child] - rest[joint]
        t = (vertices - rest[joint]) @ axis / (axis @ axis)
        across = np.linalg.norm(vertices - rest[joint] - t[:, None] * axis, axis=1)
        middle = (t > 0.35) & (t < 0.65) & (across < 0.1)
        assert middle.sum() >= 16 and weights[middle, joint].min() > 0.9        # nearly rigid mid-bone
        near_child = np.linalg.norm(vertices - rest[child], axis=1) < 0.06
        assert weights[near_child, child].max() > 0.3                           # smooth at the joint


def test_bent_elbow_keeps_the_hand_on_the_forearm(tmp_path, canonical):
    path = ensure_mannequin(tmp_path / "mannequin.npz", canonical)
    body = BodyModel(read_model_arrays(path), path)
    pose = np.zeros((1, 72))
    pose[0, 18 * 3 + 1] = -np.pi / 2                  # left elbow flexed 90 degrees (towards the front)
    vertices = body.vertices(pose, np.zeros(10), np.zeros((1, 3)))[0]
    joints = forward_kinematics(rodrigues(torch.tensor(pose).reshape(1, 24, 3)),
                                torch.tensor(body.rest_joints(np.zeros(10)))).numpy()[0]
    assert joints[20, 2] > joints[18, 2] + 0.2          # the wrist went forward (+z)
    hand = np.linalg.norm(body.smpl.v_template.numpy() - body.rest_joints(np.zeros(10))[22], axis=1) < 0.03
    assert np.linalg.norm(vertices[hand] - joints[22], axis=1).max() < 0.05


def test_ensure_mannequin_reuses_a_current_file(tmp_path, canonical):
    path = ensure_mannequin(tmp_path / "m.npz", canonical)
    stamp = path.stat().st_mtime_ns
    assert ensure_mannequin(path, canonical).stat().st_mtime_ns == stamp
    arrays = read_model_arrays(path)
    assert str(arrays["model_name"]) == "mannequin" and not list(tmp_path.glob(".*"))


def test_default_mannequin_has_the_t2m_canonical_bones():
    skeleton = pytest.importorskip("crossdiff.skeleton", reason="crossdiff.skeleton provides the T2M skeleton")
    canonical = np.asarray(skeleton.SKELETONS["t2m"].canonical_joints, float)
    rest = build_mannequin(canonical)["rest_joints"]
    parents = np.array(SMPL_PARENTS[1:22])
    np.testing.assert_allclose(np.linalg.norm(rest[1:22] - rest[parents], axis=-1),
                               np.linalg.norm(canonical[1:22] - canonical[parents], axis=-1), atol=1e-9)
