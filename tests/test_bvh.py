"""BVH export: the parsed file's forward kinematics gives back constant-length joints (< 1 mm, in
fact < 0.01 mm), under any rotation (gimbal lock included); bad inputs are UserErrors; the CLI
writes the file; Blender (marked `blender`) imports it with the same frames and joint positions."""

import json
import shutil
import subprocess

import numpy as np
import pytest
from motion_helpers import random_clip

from crossdiff.synthetic.generator import generate_clip
from crossdiff.errors import UserError
from crossdiff.export_bvh import cli
from crossdiff.geometry import qmul, qnormalize, qrot, quaternion_to_matrix
from crossdiff.motion.bvh import (bvh_positions, euler_to_matrix, joints_to_bvh, matrix_to_euler_zxy, parse_bvh,
                                  read_bvh, write_bvh)
from crossdiff.skeleton import SKELETONS

T2M = SKELETONS["t2m"]
NAMES = T2M.joint_names
EXACT = 1e-5        # metres; the acceptance bound is 1 mm, the printed digits allow far less


def replay(text: str, units: str = "cm", skeleton=T2M) -> np.ndarray:
    return bvh_positions(parse_bvh(text), units=units, names=skeleton.joint_names)


def tumbling_clip(frames: int = 30, seed: int = 0) -> np.ndarray:
    """[T, 22, 3] FK of the canonical skeleton with independent uniformly random rotations everywhere."""
    rng = np.random.default_rng(seed)
    rest = np.asarray(T2M.canonical_joints)
    local = qnormalize(rng.normal(size=(frames, T2M.joints_num, 4)))
    world = [None] * T2M.joints_num
    joints = np.zeros((frames, T2M.joints_num, 3))
    joints[:, 0] = rng.normal(size=(frames, 3))
    world[0] = local[:, 0]
    for j, p in enumerate(T2M.parents[1:], start=1):
        joints[:, j] = joints[:, p] + qrot(world[p], np.broadcast_to(rest[j] - rest[p], (frames, 3)))
        world[j] = qmul(world[p], local[:, j])
    return joints


def rotated(joints: np.ndarray, axis: str) -> np.ndarray:
    m = euler_to_matrix(np.array([90.0]), axis)
    return joints @ m.T


@pytest.mark.parametrize("joints", [generate_clip(0, 3).positions, random_clip(40, seed=1), tumbling_clip()],
                         ids=["synthetic", "smooth", "tumbling"])
def test_fk_of_the_parsed_bvh_reproduces_constant_length_joints(joints):
    error = np.abs(replay(joints_to_bvh(joints.astype(np.float32))) - joints.astype(np.float32)).max(axis=(1, 2))
    assert error.shape == (len(joints),) and error.max() < EXACT


def test_file_structure(tmp_path):
    joints = random_clip(25, seed=2)
    path = write_bvh(tmp_path / "clip.bvh", joints, fps=20)
    bvh = read_bvh(path)
    assert sorted(bvh.names) == sorted(NAMES) and bvh.names[0] == "pelvis"
    assert {bvh.names[j]: bvh.names[p] for j, p in enumerate(bvh.parents) if p >= 0} == \
        {NAMES[j]: NAMES[p] for j, p in enumerate(T2M.parents) if p >= 0}
    assert bvh.frames == 25 and bvh.frame_time == pytest.approx(0.05)
    assert bvh.channels[0] == ("Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation")
    assert all(c == ("Zrotation", "Xrotation", "Yrotation") for c in bvh.channels[1:])
    assert sorted(bvh.names[j] for j in bvh.end_sites) == sorted(["head", "left_wrist", "right_wrist",
                                                                  "left_foot", "right_foot"])
    np.testing.assert_array_equal(bvh.offsets[0], 0.0)
    # Offsets are the bone lengths in centimetres; the rest pose stands up: spine up, legs down.
    lengths = np.linalg.norm(joints[0] - joints[0][[max(p, 0) for p in T2M.parents]], axis=-1)
    np.testing.assert_allclose(np.linalg.norm(bvh.offsets, axis=-1), 100 * lengths[[NAMES.index(n) for n in bvh.names]],
                               atol=1e-4)
    assert bvh.offsets[bvh.names.index("spine2"), 1] > 0 > bvh.offsets[bvh.names.index("left_knee"), 1]
    np.testing.assert_allclose(bvh_positions(bvh, names=NAMES), joints, atol=EXACT)


def test_metres_and_centimetres_describe_the_same_motion():
    joints = random_clip(10, seed=3)
    cm, m = parse_bvh(joints_to_bvh(joints, units="cm")), parse_bvh(joints_to_bvh(joints, units="m"))
    np.testing.assert_allclose(cm.offsets, 100 * m.offsets, atol=1e-3)   # file digits: 1e-6 m
    np.testing.assert_allclose(bvh_positions(m, units="m", names=NAMES), joints, atol=EXACT)
    assert np.abs(bvh_positions(cm, units="m") / 100 - bvh_positions(m, units="m")).max() < EXACT


def test_a_quarter_turn_about_y_changes_only_the_root():
    joints = random_clip(20, seed=4)
    base, turned = parse_bvh(joints_to_bvh(joints)), parse_bvh(joints_to_bvh(rotated(joints, "Y")))
    np.testing.assert_allclose(turned.offsets, base.offsets, atol=1e-5)
    np.testing.assert_allclose(turned.motion[:, 6:], base.motion[:, 6:], atol=1e-4)   # local rotations
    root = [euler_to_matrix(b.motion[:, 3:6], "ZXY") for b in (base, turned)]
    np.testing.assert_allclose(root[1], euler_to_matrix(np.array([90.0]), "Y") @ root[0], atol=1e-6)
    np.testing.assert_allclose(bvh_positions(turned, names=NAMES), rotated(joints, "Y"), atol=EXACT)


def test_lying_down_puts_the_root_in_gimbal_lock_and_still_reproduces():
    rest = np.asarray(T2M.canonical_joints)
    across = rest[1] - rest[2]                                # left hip - right hip: the pelvis x axis
    spine = rest[3] - rest[0]
    x = across / np.linalg.norm(across)
    y = spine - spine @ x * x
    y /= np.linalg.norm(y)
    upright = rest @ np.stack([x, y, np.cross(x, y)], axis=-1)   # pelvis frame = identity: no root rotation
    lying = rotated(np.repeat(upright[None], 3, axis=0), "X")
    bvh = parse_bvh(joints_to_bvh(lying))
    np.testing.assert_allclose(np.abs(bvh.motion[:, 4]), 90.0, atol=1e-3)     # root Xrotation at ±90°
    np.testing.assert_allclose(bvh_positions(bvh, names=NAMES), lying, atol=EXACT)


def test_euler_zxy_inverts_the_matrix_also_at_gimbal_lock():
    rng = np.random.default_rng(5)
    matrices = quaternion_to_matrix(qnormalize(rng.normal(size=(200, 4))))
    locked = euler_to_matrix(np.array([[30.0, 90.0, 40.0], [-120.0, -90.0, 10.0]]), "ZXY")
    for m in (matrices, locked):
        np.testing.assert_allclose(euler_to_matrix(np.rad2deg(matrix_to_euler_zxy(m)), "ZXY"), m, atol=1e-9)


def test_varying_bone_lengths_keep_every_bone_direction():
    joints = random_clip(30, seed=6) + np.random.default_rng(6).normal(scale=0.005, size=(30, 22, 3))
    fk = replay(joints_to_bvh(joints))
    single = [j for j, p in enumerate(T2M.parents) if p >= 0 and T2M.parents.count(p) == 1]
    bone = lambda x: x[:, single] - x[:, [T2M.parents[j] for j in single]]       # noqa: E731
    length = lambda x: np.linalg.norm(bone(x), axis=-1)                          # noqa: E731
    cosine = (bone(fk) * bone(joints)).sum(-1) / length(fk) / length(joints)
    assert cosine.min() > 1 - 1e-10
    error = np.abs(fk - joints).max()
    assert 1e-4 < error < 0.06          # centimetres of stretch add up along a chain, as documented


def test_kit_skeleton_in_millimetres():
    kit = SKELETONS["kit"]
    joints = random_clip(15, seed=7, skeleton="kit")
    fk = replay(joints_to_bvh(joints, fps=kit.fps, skeleton="kit"), skeleton=kit)
    assert np.abs(fk - joints / 1000).max() < EXACT


@pytest.mark.parametrize("skeleton, frame_time", [("t2m", 0.05), ("kit", 0.08)])
def test_frame_time_defaults_to_the_skeletons_frame_rate(skeleton, frame_time):
    joints = random_clip(4, seed=3, skeleton=skeleton)
    assert parse_bvh(joints_to_bvh(joints, skeleton=skeleton)).frame_time == pytest.approx(frame_time)


@pytest.mark.parametrize("joints, message", [
    (np.zeros((10, 21, 3)), r"expected joints \[T, 22, 3\]"),
    (np.zeros((0, 22, 3)), "T >= 1"),
    (np.zeros((22, 3)), "got shape"),
    (np.where(np.arange(22)[None, :, None] == 5, np.nan, random_clip(4)), "NaN"),
    (np.zeros((4, 22, 3)), "orientation of pelvis is undefined"),
])
def test_bad_joints_are_user_errors(joints, message):
    with pytest.raises(UserError, match=message):
        joints_to_bvh(joints, what="clip.npy")


def test_bad_options_and_bad_files_are_user_errors():
    joints = random_clip(3)
    with pytest.raises(UserError, match="units 'inch'"):
        joints_to_bvh(joints, units="inch")
    with pytest.raises(UserError, match="fps 0"):
        joints_to_bvh(joints, fps=0)
    text = joints_to_bvh(joints)
    with pytest.raises(UserError, match=r"x.bvh: 3 frames of 69 channels need 207 values, found 206"):
        parse_bvh(text.rsplit(" ", 1)[0], source="x.bvh")
    with pytest.raises(UserError, match="expected 'HIERARCHY'"):
        parse_bvh("MOTION\n" + text)
    with pytest.raises(UserError, match="unknown channels"):
        parse_bvh(text.replace("Zrotation", "Wrotation", 1))
    with pytest.raises(UserError, match="no joints named"):
        bvh_positions(parse_bvh(text), names=["tail"])


def test_cli_writes_the_bvh(tmp_path, capsys):
    joints = generate_clip(1, 0).positions.astype(np.float32)
    np.save(tmp_path / "sample.npy", joints)
    assert cli([str(tmp_path / "sample.npy")]) == 0
    assert "sample.bvh" in capsys.readouterr().out
    np.testing.assert_allclose(bvh_positions(read_bvh(tmp_path / "sample.bvh"), names=NAMES), joints, atol=EXACT)
    assert cli([str(tmp_path / "sample.npy"), "-o", str(tmp_path / "out" / "m.bvh"), "--fps", "25",
                "--units", "m"]) == 0
    bvh = read_bvh(tmp_path / "out" / "m.bvh")
    assert bvh.frame_time == pytest.approx(0.04)
    np.testing.assert_allclose(bvh_positions(bvh, units="m", names=NAMES), joints, atol=EXACT)


@pytest.mark.parametrize("content", [np.zeros((5, 22, 2)), np.full((5, 22, 3), np.nan), b"not numpy", None],
                         ids=["shape", "nan", "garbage", "missing"])
def test_cli_bad_file_exits_2_naming_it(tmp_path, capsys, content):
    path = tmp_path / "bad.npy"
    if isinstance(content, np.ndarray):
        np.save(path, content)
    elif content is not None:
        path.write_bytes(content)
    assert cli([str(path)]) == 2
    assert str(path) in capsys.readouterr().err
    assert not (tmp_path / "bad.bvh").exists()


# Debian's Blender 3.4 runs Python 3.11, where its BVH importer's open(path, 'rU') fails; the shim
# drops the 'U' (newer Blenders need none).
BLENDER_IMPORT = """
import builtins, json, bpy
import io_anim_bvh.import_bvh as importer
importer.open = lambda path, mode="r", *a, **k: builtins.open(path, mode.replace("U", ""), *a, **k)
bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.ops.import_anim.bvh(filepath={path!r}, global_scale=0.01, update_scene_fps=True)
ob = bpy.context.object
heads = []
for frame in (1, {last}):
    bpy.context.scene.frame_set(frame)
    heads.append({{b.name: list(ob.matrix_world @ b.head) for b in ob.pose.bones}})
print("RESULT" + json.dumps({{"range": list(ob.animation_data.action.frame_range),
                             "fps": bpy.context.scene.render.fps / bpy.context.scene.render.fps_base,
                             "heads": heads}}))
"""


@pytest.mark.blender
def test_blender_imports_the_bvh(tmp_path):
    if shutil.which("blender") is None:
        pytest.skip("blender is not installed (apt-get install --no-install-recommends blender)")
    joints = random_clip(12, seed=8)
    path = write_bvh(tmp_path / "clip.bvh", joints)
    run = subprocess.run(["blender", "--background", "--factory-startup", "--python-expr",
                          BLENDER_IMPORT.format(path=str(path), last=12)], capture_output=True, text=True, timeout=120)
    lines = [line for line in run.stdout.splitlines() if line.startswith("RESULT")]
    assert lines, run.stdout[-2000:] + run.stderr[-2000:]
    result = json.loads(lines[0][len("RESULT"):])
    assert result["range"] == [1.0, 12.0] and result["fps"] == pytest.approx(20.0)
    for heads, frame in zip(result["heads"], (0, 11)):
        z_up = np.array([heads[name] for name in NAMES])
        y_up = np.stack([z_up[:, 0], z_up[:, 2], -z_up[:, 1]], axis=-1)    # Blender's import turns y-up to z-up
        np.testing.assert_allclose(y_up, joints[frame], atol=1e-5)
