"""SMPL-layout body models: official-style .pkl (chumpy, sparse regressor) and .npz load alike,
poses match smplx, the restricted unpickler refuses foreign classes, the right body is chosen."""

from __future__ import annotations

import datetime
import logging
import pickle

import numpy as np
import pytest
import torch

from crossdiff.body.body_model import BodyModel, find_body_model, load_body_model, read_model_arrays
from crossdiff.body.kinematics import forward_kinematics, rodrigues
from crossdiff.errors import UserError
from prepare import convert_smpl
from tests.body_helpers import synthetic_smpl_arrays, write_official_style_pkl


@pytest.fixture
def smpl_files(tmp_path):
    arrays = synthetic_smpl_arrays()
    pkl = write_official_style_pkl(tmp_path / "SMPL_NEUTRAL.pkl", arrays)
    return arrays, pkl


def test_pkl_and_converted_npz_give_the_same_body(smpl_files, tmp_path):
    arrays, pkl = smpl_files
    npz = convert_smpl.main(pkl, tmp_path / "converted.npz")
    from_pkl, from_npz = (BodyModel(read_model_arrays(p), p) for p in (pkl, npz))
    assert from_pkl.name == from_npz.name == "SMPL_NEUTRAL"
    np.testing.assert_allclose(read_model_arrays(pkl)["J_regressor"], arrays["J_regressor"])
    rng = np.random.default_rng(1)
    poses, betas, trans = rng.normal(scale=0.4, size=(3, 72)), rng.normal(size=10), rng.normal(size=(3, 3))
    verts_pkl = from_pkl.vertices(poses, betas, trans)
    assert verts_pkl.shape == (3, len(arrays["v_template"]), 3) and verts_pkl.dtype == np.float32
    np.testing.assert_allclose(verts_pkl, from_npz.vertices(poses, betas, trans), atol=1e-6)
    # The pose blend shapes are applied: zeroing them moves the vertices.
    no_posedirs = dict(read_model_arrays(npz), posedirs=np.zeros_like(arrays["posedirs"]))
    assert np.abs(BodyModel(no_posedirs, npz).vertices(poses, betas, trans) - verts_pkl).max() > 1e-4


def test_fast_joints_match_smplx(smpl_files):
    """Fitting poses joints with its own 24-joint FK; it must agree with smplx's full forward pass."""
    _, pkl = smpl_files
    body = BodyModel(read_model_arrays(pkl), pkl)
    rng = np.random.default_rng(2)
    poses, betas, trans = rng.normal(scale=0.5, size=(4, 72)), rng.normal(size=10), rng.normal(size=(4, 3))
    with torch.no_grad():
        reference = body.smpl(betas=torch.tensor(betas, dtype=torch.float32).expand(4, -1),
                              global_orient=torch.tensor(poses[:, :3], dtype=torch.float32),
                              body_pose=torch.tensor(poses[:, 3:], dtype=torch.float32),
                              transl=torch.tensor(trans, dtype=torch.float32)).joints[:, :24].numpy()
    ours = forward_kinematics(rodrigues(torch.tensor(poses).reshape(4, 24, 3)),
                              torch.tensor(body.rest_joints(betas))).numpy() + trans[:, None]
    np.testing.assert_allclose(ours, reference, atol=1e-5)


def test_pickle_with_foreign_class_is_refused(tmp_path):
    path = tmp_path / "evil.pkl"
    with open(path, "wb") as f:
        pickle.dump({"v_template": np.zeros((3, 3)), "when": datetime.date(2024, 1, 1)}, f, protocol=2)
    with pytest.raises(UserError, match="refusing to unpickle datetime.date"):
        read_model_arrays(path)


def test_bad_model_files_raise_user_errors(tmp_path, smpl_files):
    arrays, _ = smpl_files
    np.savez(tmp_path / "partial.npz", v_template=arrays["v_template"])
    with pytest.raises(UserError, match="missing"):
        read_model_arrays(tmp_path / "partial.npz")
    np.savez(tmp_path / "wrong.npz", **dict(arrays, J_regressor=arrays["J_regressor"][:10]))
    with pytest.raises(UserError, match="J_regressor has shape"):
        read_model_arrays(tmp_path / "wrong.npz")
    with pytest.raises(UserError, match="not found"):
        find_body_model(tmp_path / "nowhere.pkl")
    with pytest.raises(UserError, match=".pkl"):
        convert_smpl.main(tmp_path / "wrong.npz")


def test_licensed_smpl_file_is_preferred_and_logged(tmp_path, smpl_files, caplog):
    arrays, pkl = smpl_files
    folder = tmp_path / "body_models"
    (folder / "smpl").mkdir(parents=True)
    np.savez(folder / "smpl" / "SMPL_NEUTRAL.npz", **arrays)
    assert find_body_model(None, folder) == folder / "smpl" / "SMPL_NEUTRAL.npz"
    logger = logging.getLogger("test_body_model")
    with caplog.at_level(logging.INFO, logger="test_body_model"):
        body = load_body_model(None, folder, logger=logger)
    assert not body.is_mannequin and "SMPL_NEUTRAL" in caplog.text
    assert find_body_model(pkl, folder) == pkl                   # an explicit path wins


def test_without_smpl_files_the_mannequin_is_built_and_logged(tmp_path, caplog):
    logger = logging.getLogger("test_body_model")
    with caplog.at_level(logging.INFO, logger="test_body_model"):
        body = load_body_model(None, tmp_path, logger=logger)
    assert body.is_mannequin and (tmp_path / "mannequin.npz").is_file()
    assert "mannequin" in caplog.text
