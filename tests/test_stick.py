"""Stick-figure rendering: videos decode with one frame per motion frame, GIFs too, left stays left."""

from __future__ import annotations

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from crossdiff.errors import UserError
from crossdiff.render.stick import contact_sheet, grid_spacing, render_2d, render_3d
from crossdiff.skeleton import SKELETONS

T2M = SKELETONS["t2m"]


def _walking_joints(frames: int) -> np.ndarray:
    """The canonical pose translated forward with a swinging left wrist: [T, 22, 3]."""
    joints = np.repeat(np.asarray(T2M.canonical_joints, float)[None], frames, 0)
    joints[:, :, 2] += np.linspace(0, 1.0, frames)[:, None]
    joints[:, 20, 2] += 0.2 * np.sin(np.linspace(0, 6, frames))
    return joints


def _decoded_frames(path) -> list[np.ndarray]:
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    width, height = meta["size"]
    return [np.frombuffer(f, np.uint8).reshape(height, width, 3) for f in reader]


@pytest.mark.parametrize("fixed_camera", [False, True])
def test_mp4_has_one_video_frame_per_motion_frame(tmp_path, fixed_camera):
    path = render_3d(_walking_joints(23), tmp_path / "walk.mp4", title="a person walks forward " * 4,
                     fixed_camera=fixed_camera, size=(320, 240))
    frames = _decoded_frames(path)
    assert len(frames) == 23
    assert frames[0].shape == (240, 320, 3)
    assert frames[0].std() > 5  # something was drawn


def test_gif_when_asked(tmp_path):
    path = render_3d(_walking_joints(9), tmp_path / "walk.gif", size=(160, 160))
    with Image.open(path) as gif:
        assert gif.format == "GIF"
        assert gif.n_frames == 9


def test_2d_video(tmp_path):
    joints2d = _walking_joints(15)[..., :2]
    frames = _decoded_frames(render_2d(joints2d, tmp_path / "walk2d.mp4", title="2D view", size=(192, 192)))
    assert len(frames) == 15


@pytest.mark.parametrize("name, milliseconds", [("t2m", 50), ("kit", 80)])
def test_frame_rate_defaults_to_the_skeletons(tmp_path, name, milliseconds):
    """HumanML3D plays at 20 fps, KIT-ML at 12.5 fps: 50 and 80 ms per GIF frame, 2D and 3D alike."""
    rest = np.asarray(SKELETONS[name].canonical_joints, float)
    rest = rest / np.abs(rest).max()      # metres-sized (KIT-ML's are mm): keeps the test quick
    joints = rest[None] + np.linspace(0, 1, 4)[:, None, None] * rest.max()   # 4 frames moving away
    for path in (render_3d(joints, tmp_path / f"{name}.gif", size=(96, 96)),
                 render_2d(joints[..., :2], tmp_path / f"{name}_2d.gif", size=(96, 96))):
        with Image.open(path) as gif:
            assert gif.info["duration"] == milliseconds


def test_left_side_is_drawn_on_the_right_when_seen_from_the_front(tmp_path):
    """A figure facing the camera shows its left arm (cyan) on the image's right: no mirror in the 3D mapping."""
    joints = np.repeat(np.asarray(T2M.canonical_joints, float)[None], 2, 0)
    path = render_3d(joints, tmp_path / "front.gif", size=(256, 256), elev=0.0, azim=-90.0, floor=False,
                     trajectory=False)
    with Image.open(path) as gif:
        image = np.asarray(gif.convert("RGB")).astype(int)
    cyan = (np.abs(image - [0x17, 0xBE, 0xCF]).sum(-1) < 60)
    orange = (np.abs(image - [0xFF, 0x7F, 0x0E]).sum(-1) < 60)
    columns = np.arange(image.shape[1])
    assert cyan.sum() > 20 and orange.sum() > 20
    assert columns[cyan.any(0)].mean() > image.shape[1] / 2 > columns[orange.any(0)].mean()


def test_contact_sheet_png(tmp_path):
    path = contact_sheet([(_walking_joints(30), "walk"), (_walking_joints(41), "walk again")],
                         tmp_path / "sheet.png", columns=3, panel_px=96)
    with Image.open(path) as png:
        assert png.format == "PNG"
        assert png.size[0] == 3 * 96


@pytest.mark.parametrize("joints, path, message", [
    (np.zeros((5, 22)), "a.mp4", "expected joints"),
    (np.full((5, 22, 3), np.nan), "a.mp4", "NaN"),
    (np.zeros((5, 22, 3)), "a.avi", ".mp4 or .gif"),
    (np.zeros((5, 7, 3)), "a.mp4", "no built-in skeleton has 7 joints"),
])
def test_bad_input_is_a_user_error(tmp_path, joints, path, message):
    with pytest.raises(UserError, match=message):
        render_3d(joints, tmp_path / path, size=(64, 64))
    assert not (tmp_path / path).exists()


def test_the_floor_grid_is_half_a_metre_in_the_motions_own_unit():
    """KIT-ML joints are millimetres: a 0.5-unit grid would draw thousands of lines under a 1.7 km figure."""
    metres = _walking_joints(5)
    assert grid_spacing(metres) == 0.5
    assert grid_spacing(metres * 1000.0) == 500.0        # millimetres (KIT-ML)
    assert grid_spacing(metres * 100.0) == 50.0          # centimetres
    kit = np.asarray(SKELETONS["kit"].canonical_joints, float)
    assert grid_spacing(kit[None]) == 500.0              # the KIT skeleton as it comes
