"""Blender rendering: inputs prepared with numpy (faces lookup, stick figures, axes, camera), the
launcher's install message, and (marked `blender`) a real 2-frame render with the body on screen."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import render_blender
from crossdiff.body.body_model import BodyModel, read_model_arrays
from crossdiff.body.mannequin import ensure_mannequin
from crossdiff.errors import UserError
from crossdiff.render import blender_launch
from crossdiff.render.blender_inputs import camera_track, load_sequence, stick_figure, to_blender_axes
from tests.body_helpers import t2m_like_joints

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def mesh_clip(tmp_path_factory):
    """A 2-frame mannequin walk step: `clip_mesh.npy` + `clip_smpl.npz` (faces), as fit_smpl writes."""
    folder = tmp_path_factory.mktemp("render")
    path = ensure_mannequin(folder / "mannequin.npz", t2m_like_joints())
    body = BodyModel(read_model_arrays(path), path)
    poses = np.zeros((2, 72))
    poses[:, 3 * 1] = [-0.4, 0.3]           # left hip swings forward then back
    poses[:, 3 * 2] = [0.3, -0.4]
    poses[:, 3 * 4] = [0.3, 0.6]            # knees bend
    poses[:, 3 * 16 + 2] = -1.2             # arms down from the T-pose
    poses[:, 3 * 17 + 2] = 1.2
    trans = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.05]])
    vertices = body.vertices(poses, np.zeros(10), trans)
    np.save(folder / "clip_mesh.npy", vertices)
    np.savez(folder / "clip_smpl.npz", faces=body.faces)
    return folder / "clip_mesh.npy"


def test_axes_swap_is_a_rotation():
    basis = to_blender_axes(np.eye(3))
    assert np.isclose(np.linalg.det(basis), 1.0)
    np.testing.assert_allclose(to_blender_axes(np.array([0.0, 1.0, 0.0])), [0, 0, 1])   # y up -> z up


def test_mesh_sequence_finds_its_faces_and_stands_on_the_floor(mesh_clip, tmp_path):
    sequence = load_sequence(mesh_clip)
    assert sequence.kind == "mesh" and sequence.vertices.shape[0] == 2
    assert np.isclose(sequence.vertices[..., 2].min(), 0.0)
    assert sequence.faces.max() < sequence.vertices.shape[1]
    lonely = tmp_path / "other_mesh.npy"
    shutil.copy(mesh_clip, lonely)
    with pytest.raises(UserError, match="--faces"):
        load_sequence(lonely)


def test_joints_become_spheres_and_cylinders(tmp_path):
    joints = np.repeat(t2m_like_joints()[None], 3, 0)
    joints[1:, :, 2] += 0.1
    np.save(tmp_path / "joints.npy", joints)
    sequence = load_sequence(tmp_path / "joints.npy")
    vertices, faces = stick_figure(joints)
    assert sequence.kind == "joints" and sequence.vertices.shape == vertices.shape
    np.testing.assert_array_equal(sequence.faces, faces)
    # The figure spans the skeleton plus the joint radius, and moves with the joints.
    height = sequence.vertices[0, :, 2].max() - sequence.vertices[0, :, 2].min()
    skeleton_height = joints[0, :, 1].max() - joints[0, :, 1].min()
    assert abs(height - skeleton_height - 0.07) < 0.01
    np.testing.assert_allclose(vertices[1] - vertices[0], np.broadcast_to([0, 0, 0.1], vertices[0].shape), atol=1e-12)


def test_bad_inputs_raise_user_errors(tmp_path):
    np.save(tmp_path / "flat.npy", np.zeros((4, 5)))
    with pytest.raises(UserError, match=r"\[T, V, 3\]"):
        load_sequence(tmp_path / "flat.npy")
    with pytest.raises(UserError, match="not found"):
        load_sequence(tmp_path / "missing.npy")
    with pytest.raises(SystemExit):
        render_blender.parse_args(["--file", "x.npy", "--resolution", "wide"])
    assert render_blender.parse_args(["--file", "x.npy", "--resolution", "160x120"]).resolution == (160, 120)


def test_camera_keeps_the_whole_body_in_view():
    rng = np.random.default_rng(0)
    vertices = rng.uniform(-0.3, 0.3, size=(5, 100, 3)) + [0, 0, 0.9]
    vertices[:, :, 0] += np.linspace(0, 2, 5)[:, None]             # walking along x
    fov = np.radians(40)
    track = camera_track(vertices, fov)
    for frame in range(5):
        camera = track.targets[frame] + track.direction * track.distance
        to_points = vertices[frame] - camera
        cos = to_points @ (-track.direction) / np.linalg.norm(to_points, axis=1)
        assert np.all(np.arccos(np.clip(cos, -1, 1)) < fov / 2)
    assert track.targets[-1, 0] > track.targets[0, 0]               # it follows


def test_missing_blender_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(blender_launch, "COMMON_LOCATIONS", ())
    with pytest.raises(UserError, match="apt-get install -y --no-install-recommends blender"):
        blender_launch.find_blender()
    with pytest.raises(UserError, match="no such executable"):
        blender_launch.find_blender("/nowhere/blender")


def _body_pixels(image: np.ndarray) -> float:
    """Share of pixels in the body's blue (saturated, blue channel on top); floor and sky are grey."""
    rgb = image[..., :3].astype(float) / 255
    saturation = rgb.max(-1) - rgb.min(-1)
    return float(np.mean((saturation > 0.2) & (rgb[..., 2] >= rgb.max(-1))))


@pytest.mark.blender
def test_blender_renders_a_two_frame_clip(mesh_clip):
    if shutil.which("blender") is None:
        pytest.skip("blender is not installed (apt-get install --no-install-recommends blender python3-numpy)")
    from PIL import Image

    args = ["--file", str(mesh_clip), "--resolution", "160x120", "--samples", "4", "--keep_frames"]
    ffmpeg = blender_launch.find_ffmpeg()
    command = blender_launch.blender_command(REPO / "render_blender.py", args + (["--ffmpeg", ffmpeg] if ffmpeg else []),
                                             shutil.which("blender"))
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    video = mesh_clip.with_name("clip_blender.mp4")
    frames = sorted(mesh_clip.with_name("clip_frames").glob("frame_*.png"))
    assert video.stat().st_size > 1000 and len(frames) == 2
    assert not list(mesh_clip.parent.glob(".clip*"))               # temporary frames removed
    for frame in frames:
        image = np.asarray(Image.open(frame))
        assert image.shape[:2] == (120, 160)
        assert 0.02 < _body_pixels(image) < 0.5, f"{frame}: body covers {_body_pixels(image):.1%}"


def test_plain_python_launch_reports_user_errors(tmp_path):
    result = subprocess.run([sys.executable, str(REPO / "render_blender.py"), "--file", str(tmp_path / "none.npy"),
                             "--mode", "frame"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "not found" in result.stderr


@pytest.mark.blender
def test_blender_reports_user_errors_with_exit_code_2(mesh_clip):
    if shutil.which("blender") is None:
        pytest.skip("blender is not installed")
    command = blender_launch.blender_command(REPO / "render_blender.py", [
        "--file", str(mesh_clip), "--mode", "frame", "--frame", "99"], shutil.which("blender"))
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "--frame 99" in result.stderr
