"""Motion-capture import: files of known motion in every convention come back as the true T2M joints."""

from __future__ import annotations

import numpy as np
import pytest

import mocap_helpers as mh
from crossdiff.errors import UserError
from crossdiff.mocap.bvh_reader import MocapFileError, parse_bvh_text, read_bvh_file
from crossdiff.mocap.captions import builtin_tokens, mirror_caption, read_captions
from crossdiff.mocap.convert import ImportSettings, import_clip, mirror_joints
from crossdiff.mocap.resample import resample, source_fps
from crossdiff.mocap.rigs import match_joints, normalise, side_of
from crossdiff.motion.bvh import joints_to_bvh
from crossdiff.synthetic.generator import generate_clip

EXACT = 1e-4        # metres: six printed digits of centimetres and degrees
INFERRED = 0.05     # metres: a joint the file lacks, placed from its neighbours

MIXAMO = {"pelvis": "Hips", "spine1": "Spine", "spine2": "Spine1", "spine3": "Spine2", "neck": "Neck", "head": "Head",
          "left_collar": "LeftShoulder", "left_shoulder": "LeftArm", "left_elbow": "LeftForeArm",
          "left_wrist": "LeftHand", "left_hip": "LeftUpLeg", "left_knee": "LeftLeg", "left_ankle": "LeftFoot",
          "left_foot": "LeftToeBase"}
CMU = dict(MIXAMO, spine1="Spine", spine3="Spine1")
BANDAI = {"pelvis": "Hips", "spine1": "Spine", "spine3": "Chest", "neck": "Neck", "head": "Head",
          "left_collar": "Shoulder_L", "left_shoulder": "UpperArm_L", "left_elbow": "LowerArm_L", "left_wrist": "Hand_L",
          "left_hip": "UpperLeg_L", "left_knee": "LowerLeg_L", "left_ankle": "Foot_L", "left_foot": "Toes_L"}
BIPED = {"pelvis": "Bip01 Pelvis", "spine1": "Bip01 Spine", "spine2": "Bip01 Spine1", "spine3": "Bip01 Spine2",
         "neck": "Bip01 Neck", "head": "Bip01 Head", "left_collar": "Bip01 L Clavicle",
         "left_shoulder": "Bip01 L UpperArm", "left_elbow": "Bip01 L Forearm", "left_wrist": "Bip01 L Hand",
         "left_hip": "Bip01 L Thigh", "left_knee": "Bip01 L Calf", "left_ankle": "Bip01 L Foot", "left_foot": "Bip01 L Toe0"}
# A rig whose "LeftShoulder" is the upper arm (no collar) and one whose "LeftShoulder" is the collar; no preset fits.
UPPER_ARM_SHOULDER = {"pelvis": "Hips", "spine1": "Spine", "spine2": "Spine1", "spine3": "Chest", "neck": "Neck",
                      "head": "Head", "left_shoulder": "LeftShoulder", "left_elbow": "LeftElbow",
                      "left_wrist": "LeftWrist", "left_hip": "LeftHip", "left_knee": "LeftKnee",
                      "left_ankle": "LeftAnkle", "left_foot": "LeftToe"}
COLLAR_SHOULDER = {"pelvis": "Hips", "spine1": "Spine", "spine2": "Spine1", "spine3": "Chest", "neck": "Neck",
                   "head": "Head", "left_collar": "LeftShoulder", "left_shoulder": "LeftUpperArm",
                   "left_elbow": "LeftLowerArm", "left_wrist": "LeftHand", "left_hip": "LeftThigh",
                   "left_knee": "LeftShin", "left_ankle": "LeftFoot", "left_foot": "LeftToes"}


def both_sides(names: dict[str, str], prefix: str = "") -> dict[str, str]:
    full = {}
    for t2m, name in names.items():
        full[t2m] = prefix + name
        if t2m.startswith("left_"):
            right = name.replace("Left", "Right").replace("_L", "_R").replace(" L ", " R ")
            full["right_" + t2m[5:]] = prefix + right
    return full


@pytest.fixture(scope="module")
def joints():
    return generate_clip(0, 3).positions                      # 2.9 s at 20 fps, constant bone lengths


@pytest.fixture(scope="module")
def rig(joints):
    return mh.t2m_rig(joints)


def _import(tmp_path, text: str, name: str = "clip.bvh", **settings):
    path = tmp_path / name
    path.write_bytes(text.encode())
    return import_clip(path, ImportSettings(**settings))


def _error(imported, truth, skip=()) -> float:
    keep = [k for k in range(22) if k not in skip]
    frames = min(len(imported.joints), len(truth))
    return float(np.abs(imported.joints[:frames, keep] - truth[:frames, keep]).max())


def test_rig_helper_reproduces_the_joints(rig, joints):
    assert np.abs(rig.truth() - joints).max() < 1e-6


@pytest.mark.parametrize("units", ["cm", "m"])
def test_round_trip_of_our_bvh_export_within_a_millimetre(tmp_path, joints, units):
    imported = _import(tmp_path, joints_to_bvh(joints, fps=20, units=units))
    assert imported.info["rig"] == "t2m" and imported.info["unit"] == units
    assert imported.joints.shape == joints.shape
    assert _error(imported, joints) < 1e-3


CONVENTIONS = {
    # name: (rig edit, bvh_text options, expected unit, expected up axis)
    "rotation orders mixed, cm": (lambda r: mh.scaled(r, 0.01), {}, "cm", "+y"),
    "6 channels on every joint, m": (lambda r: r, {"six_channels": True}, "m", "+y"),
    "inches, Z up": (lambda r: mh.z_up(mh.scaled(r, 0.0254)), {}, "inch", "+z"),
    "CMU units": (lambda r: mh.scaled(r, 0.0254 / 0.45), {}, "cmu", "+y"),
    "root translation on the hips": (lambda r: mh.scaled(mh.add_static_root(r, "joint_Root"), 0.01), {}, "cm", "+y"),
    "root on the hips, Z up, m": (lambda r: mh.z_up(mh.add_static_root(r, "Root")), {}, "m", "+z"),
    "rest pose not a T-pose": (lambda r: mh.scaled(mh.rest_turn(r, seed=1), 0.01), {}, "cm", "+y"),
    "Windows line endings": (lambda r: mh.scaled(r, 0.01), {"crlf": True}, "cm", "+y"),
    "Mixamo names": (lambda r: mh.scaled(mh.rename(r, _names(MIXAMO, "mixamorig:")), 0.01), {}, "cm", "+y"),
    "left-handed file": (lambda r: mh.scaled(mh.reflected(r), 0.01), {}, "cm", "+y"),
    "LaFAN1 names": (lambda r: mh.scaled(mh.rename(r, _names(dict(MIXAMO, left_foot="LeftToe"))), 0.01), {}, "cm", "+y"),
    "Biped names with spaces": (lambda r: mh.scaled(mh.add_static_root(mh.rename(r, _names(BIPED)), "Bip01"), 0.01),
                                {}, "cm", "+y"),
}


def _names(names: dict[str, str], prefix: str = "") -> dict[str, str]:
    return both_sides(names, prefix)


@pytest.mark.parametrize("case", list(CONVENTIONS))
def test_each_convention_imports_the_true_joints(tmp_path, rig, case):
    edit, options, unit, up = CONVENTIONS[case]
    edited = edit(rig)
    imported = _import(tmp_path, mh.bvh_text(edited, fps=20, **options))
    assert (imported.info["unit"], imported.info["up"]) == (unit, up)
    assert imported.info["inferred"] == [] and imported.info["left_handed"] == (case == "left-handed file")
    assert _error(imported, rig.truth()) < EXACT


def test_rig_presets_are_recognised(tmp_path, rig):
    for preset, names in (("mixamo", _names(MIXAMO, "mixamorig:")), ("biped", _names(BIPED))):
        imported = _import(tmp_path, mh.bvh_text(mh.scaled(mh.rename(rig, names), 0.01), fps=20))
        assert imported.info["rig"] == preset
        assert imported.info["joints"]["left_collar"] == names["left_collar"]


@pytest.mark.parametrize("fps, tolerance", [(24, 0.005), (30, 0.005), (60, EXACT), (120, EXACT), (24000 / 1001, 0.005)])
def test_frame_rates_are_resampled_to_20_fps(tmp_path, rig, fps, tolerance):
    imported = _import(tmp_path, mh.bvh_text(mh.scaled(mh.resampled(rig, fps), 0.01), fps=fps))
    assert imported.info["fps_in"] == pytest.approx(fps, rel=1e-6)
    truth = rig.truth()
    assert len(imported.joints) in (len(truth), len(truth) - 1)
    assert _error(imported, truth) < tolerance


def test_resampling_does_not_drift_over_minutes():
    fps, seconds, speed = 24000 / 1001, 300.0, 1.3
    times = np.arange(int(seconds * fps)) / fps
    track = np.stack([speed * times, np.zeros_like(times), np.zeros_like(times)], -1)[:, None]
    rounded = float(f"{1 / fps:.7f}")                          # what a file holds
    out = resample(track, source_fps(rounded))
    assert len(out) == int(np.floor(times[-1] * 20)) + 1
    assert np.abs(out[:, 0, 0] - speed * np.arange(len(out)) / 20).max() < 1e-6


def test_cmu_rig_with_joints_on_the_chest_and_no_spine2(tmp_path, rig):
    """CMU's BVH: LHipJoint and LowerBack on the hips, Neck and LeftShoulder on Spine1 (zero offsets)."""
    cut, truth = mh.without(rig, "spine2", "left_collar", "right_collar")
    cmu = mh.rename(cut, _names({k: v for k, v in CMU.items() if k != "left_collar"}) | {"neck": "Neck1"})
    for joint, static in (("LeftUpLeg", "LHipJoint"), ("RightUpLeg", "RHipJoint"), ("Spine", "LowerBack"),
                          ("Neck1", "Neck"), ("LeftArm", "LeftShoulder"), ("RightArm", "RightShoulder")):
        cmu = mh.insert_above(cmu, joint, static)
    imported = _import(tmp_path, mh.bvh_text(mh.scaled(cmu, 0.0254 / 0.45), fps=20))
    assert imported.info["rig"] == "cmu" and imported.info["unit"] == "cmu"
    assert imported.info["inferred"] == ["spine2", "left_collar", "right_collar"]
    assert imported.info["joints"]["neck"] == "Neck1"
    assert _error(imported, truth, skip=[6, 13, 14]) < EXACT
    assert np.abs(imported.joints[:, [6, 13, 14]] - truth[:, [6, 13, 14]]).max() < INFERRED


def test_cmu_hierarchy_without_the_preset_gives_the_same_match(tmp_path, rig):
    cut, truth = mh.without(rig, "spine2", "left_collar", "right_collar")
    names = {k: "Char_" + v for k, v in _names({k: v for k, v in CMU.items() if k != "left_collar"}).items()}
    cmu = mh.rename(cut, names | {"neck": "Char_Neck1"})
    for joint, static in (("Char_Neck1", "Char_Neck"), ("Char_LeftArm", "Char_LeftShoulder"),
                          ("Char_RightArm", "Char_RightShoulder")):
        cmu = mh.insert_above(cmu, joint, static)
    imported = _import(tmp_path, mh.bvh_text(mh.scaled(cmu, 0.01), fps=20))
    assert imported.info["rig"] == "generic"
    assert imported.info["joints"]["neck"] == "Char_Neck1" and imported.info["joints"]["left_shoulder"] == "Char_LeftArm"
    assert imported.info["inferred"] == ["spine2", "left_collar", "right_collar"]
    assert _error(imported, truth, skip=[6, 13, 14]) < EXACT


def test_bandai_namco_rig_with_a_static_root(tmp_path, rig):
    cut, truth = mh.without(rig, "spine2")
    bandai = mh.add_static_root(mh.rename(cut, _names(BANDAI)), "joint_Root")
    imported = _import(tmp_path, mh.bvh_text(mh.scaled(bandai, 0.01), fps=20))
    assert imported.info["rig"] == "bandai_namco" and imported.info["inferred"] == ["spine2"]
    assert _error(imported, truth, skip=[6]) < EXACT


def test_missing_neck_and_collars_are_inferred_and_reported(tmp_path, rig):
    cut, truth = mh.without(rig, "neck", "left_collar", "right_collar")
    imported = _import(tmp_path, mh.bvh_text(mh.scaled(cut, 0.01), fps=20))
    assert imported.info["inferred"] == ["neck", "left_collar", "right_collar"]
    assert any("inferred" in w for w in imported.info["warnings"])
    assert _error(imported, truth, skip=[12, 13, 14]) < EXACT
    assert np.abs(imported.joints[:, [12, 13, 14]] - truth[:, [12, 13, 14]]).max() < INFERRED


def test_left_shoulder_is_the_upper_arm_when_the_elbow_hangs_below_it(tmp_path, rig):
    cut, truth = mh.without(rig, "left_collar", "right_collar")
    names = _names(UPPER_ARM_SHOULDER)
    imported = _import(tmp_path, mh.bvh_text(mh.scaled(mh.rename(cut, names), 0.01), fps=20))
    assert imported.info["rig"] == "generic"
    assert imported.info["joints"]["left_shoulder"] == "LeftShoulder"
    assert imported.info["inferred"] == ["left_collar", "right_collar"]
    assert _error(imported, truth, skip=[13, 14]) < EXACT


def test_left_shoulder_is_the_collar_when_an_upper_arm_follows(tmp_path, rig):
    names = _names(COLLAR_SHOULDER)
    imported = _import(tmp_path, mh.bvh_text(mh.scaled(mh.rest_turn(mh.rename(rig, names), 3), 0.01), fps=20))
    assert imported.info["rig"] == "generic"
    assert imported.info["joints"]["left_collar"] == "LeftShoulder"
    assert imported.info["joints"]["right_shoulder"] == "RightUpperArm"
    assert _error(imported, rig.truth()) < EXACT


def test_twist_joints_along_the_arm_are_not_elbows_or_shoulders(tmp_path, rig):
    twisted = mh.rename(rig, _names(COLLAR_SHOULDER))
    for side in ("Left", "Right"):
        twisted = mh.split_bone(mh.split_bone(twisted, f"{side}LowerArm", f"{side}UpperArmTwist"),
                                f"{side}Hand", f"{side}ForeArmRoll")
    imported = _import(tmp_path, mh.bvh_text(mh.scaled(twisted, 0.01), fps=20))
    assert imported.info["joints"]["left_elbow"] == "LeftLowerArm"
    assert imported.info["joints"]["right_shoulder"] == "RightUpperArm"
    assert _error(imported, rig.truth()) < EXACT


def test_biped_shaped_hierarchy_without_the_preset_names():
    """Thighs below the first spine joint, clavicles below the neck (3ds Max Biped), other prefix."""
    tree = {"Char": None, "Char_Pelvis": "Char", "Char_Spine": "Char_Pelvis", "Char_L_Thigh": "Char_Spine",
            "Char_L_Calf": "Char_L_Thigh", "Char_L_Foot": "Char_L_Calf", "Char_L_Toe0": "Char_L_Foot",
            "Char_Spine1": "Char_Spine", "Char_Spine2": "Char_Spine1", "Char_Neck": "Char_Spine2",
            "Char_Head": "Char_Neck", "Char_L_Clavicle": "Char_Neck", "Char_L_UpperArm": "Char_L_Clavicle",
            "Char_L_Forearm": "Char_L_UpperArm", "Char_L_Hand": "Char_L_Forearm"}
    as_t2m = {"Char_Pelvis": "pelvis", "Char_Spine": "spine1", "Char_Spine1": "spine2", "Char_Spine2": "spine3",
              "Char_Neck": "neck", "Char_Head": "head", "Char_L_Thigh": "left_hip", "Char_L_Calf": "left_knee",
              "Char_L_Foot": "left_ankle", "Char_L_Toe0": "left_foot", "Char_L_Clavicle": "left_collar",
              "Char_L_UpperArm": "left_shoulder", "Char_L_Forearm": "left_elbow", "Char_L_Hand": "left_wrist"}
    for name in [n for n in tree if "_L_" in n]:
        tree[name.replace("_L_", "_R_")] = tree[name].replace("_L_", "_R_")
        as_t2m[name.replace("_L_", "_R_")] = as_t2m[name].replace("left_", "right_")
    names = list(tree)
    parents = [names.index(tree[n]) if tree[n] else -1 for n in names]
    canonical = mh.T2M.canonical_joints
    pose = np.stack([canonical[mh.T2M.joint_names.index(as_t2m[n])] if n in as_t2m else np.zeros(3) for n in names])
    match = match_joints(names, parents, np.stack([pose, pose + 0.01]))
    assert match.rig == "generic" and match.inferred == []
    assert match.sources(names) == {t2m: name for name, t2m in sorted(as_t2m.items(), key=lambda kv: kv[1])}


def test_a_mapping_overrides_the_automatic_match(tmp_path, rig):
    odd = {name: f"J{k}" for k, name in enumerate(rig.names)}
    text = mh.bvh_text(mh.scaled(mh.rename(rig, odd), 0.01), fps=20)
    with pytest.raises(MocapFileError, match="cannot tell which joints"):
        _import(tmp_path, text)
    imported = _import(tmp_path, text, mapping={t2m: j for t2m, j in odd.items()})
    assert imported.info["rig"].endswith("mapping")
    assert _error(imported, rig.truth()) < EXACT


def test_asf_amc_in_cmu_units(tmp_path, rig):
    cmu_names = {"pelvis": "root", "left_hip": "lfemur", "left_knee": "ltibia", "left_ankle": "lfoot",
                 "left_foot": "ltoes", "spine1": "lowerback", "spine2": "upperback", "spine3": "thorax",
                 "neck": "lowerneck", "head": "head", "left_collar": "lclavicle", "left_shoulder": "lhumerus",
                 "left_elbow": "lradius", "left_wrist": "lwrist"}
    names = {k: v for k, v in cmu_names.items()}
    names.update({"right_" + k[5:]: "r" + v[1:] for k, v in cmu_names.items() if k.startswith("left_")})
    asf, amc = mh.asf_amc_texts(mh.scaled(mh.rename(rig, names), 0.0254 / 0.45))
    (tmp_path / "07.asf").write_text(asf)
    imported = _import(tmp_path, amc, name="07_01.amc", fps_in=20.0)
    assert imported.info["rig"] == "cmu_asf" and imported.info["unit"] == "cmu"
    assert _error(imported, rig.truth()) < EXACT


@pytest.mark.parametrize("text, line, reason", [
    ("HIERARCHY\nROOT a\n{\nOFFSET 0 0 0\nCHANNELS 3 Xrotation Yrotation Wrotation\n}\nMOTION\nFrames: 1\n"
     "Frame Time: 0.05\n0 0 0\n", 5, "unknown channel"),
    ("HIERARCHY\nROOT a\n{\nOFFSET 0 0 0\nCHANNELS 3 Xrotation Yrotation Zrotation\n}\nMOTION\nFrames: 2\n"
     "Frame Time: 0.05\n0 0 0\n0 0\n", 11, "frame 2 has 2 values"),
    ("HIERARCHY\nROOT a\n{\nOFFSET 0 zero 0\n}\nMOTION\nFrames: 1\nFrame Time: 0.05\n\n", 4, "expected a number"),
    ("HIERARCHY\r\nROOT a\r\n{\r\nOFFSET 0 0 0\r\nCHANNELS 3 Xrotation Yrotation Zrotation\r\n}\r\nMOTION\r\n"
     "Frames: 1\r\nFrame Time: 0\r\n0 0 0\r\n", 9, "must be positive"),
    ("HIERARCHY\nROOT a\n{\nOFFSET 0 0\nMOTION\nFrames: 1\nFrame Time: 0.05\n\n", 5, "ends inside the HIERARCHY"),
])
def test_bad_files_name_the_line_and_the_reason(text, line, reason):
    with pytest.raises(MocapFileError, match=reason) as caught:
        parse_bvh_text(text, "bad.bvh")
    assert caught.value.line == line and str(caught.value).startswith(f"bad.bvh:{line}:")


def test_tolerated_oddities_become_warnings():
    text = ("HIERARCHY\nROOT Bip01 Pelvis {\nOFFSET 0 0 0\nCHANNELS 6 xposition YPOSITION Zposition Zrotation Xrotation "
            "Yrotation\nJOINT Bip01 Pelvis\n{\nOFFSET 0 1 0\nCHANNELS 3 Zrotation Xrotation Yrotation\n}\n}\n"
            "MOTION\nFrames: 5\nFrame Time: 0.05\n" + "0 0 0 0 0 0 0 0 0\n" * 3)
    parsed = parse_bvh_text(text, "odd.bvh")
    assert parsed.bvh.names == ["Bip01 Pelvis", "Bip01 Pelvis#2"]
    assert parsed.bvh.channels[0][:2] == ("Xposition", "Yposition")
    assert len(parsed.warnings) == 2 and parsed.bvh.frames == 3


def test_a_byte_order_mark_is_tolerated(tmp_path, joints):
    (tmp_path / "bom.bvh").write_bytes(b"\xef\xbb\xbf" + joints_to_bvh(joints[:3]).encode())
    assert read_bvh_file(tmp_path / "bom.bvh").bvh.names[0] == "pelvis"


def test_a_body_of_no_human_size_asks_for_scale(tmp_path, rig):
    text = mh.bvh_text(mh.scaled(rig, 10.0), fps=20)             # 10 m per unit: a 17 cm body in file units
    with pytest.raises(MocapFileError, match="--scale"):
        _import(tmp_path, text)
    assert _error(_import(tmp_path, text, scale=10.0), rig.truth()) < EXACT


def test_mirror_swaps_sides_and_is_its_own_inverse(joints):
    mirrored = mirror_joints(joints)
    assert np.allclose(mirrored[:, 16, 0], -joints[:, 17, 0])      # left shoulder <- right shoulder, x negated
    assert np.allclose(mirror_joints(mirrored), joints)


def test_names_and_sides():
    assert normalise("mixamorig:LeftArm") == "leftarm" and normalise("Bip001 L Thigh") == "lthigh"
    cases = {"Shoulder_L": "left", "Bip01 R Calf": "right", "lhumerus": "left", "RightUpLeg": "right",
             "LowerLeg_R": "right", "LThumb": "left", "lowerback": None, "root": None, "Hips": None}
    assert {name: side_of(name) for name in cases} == cases


def test_captions_files_tokens_and_mirrors(tmp_path):
    (tmp_path / "c.csv").write_text("name,caption\nwalk_01,A man walks to the left\nwalk_01,someone strolls\n"
                                    "jump.bvh,a person jumps,0.5,2.0\n")
    (tmp_path / "c.json").write_text('{"walk_01": ["a man walks"], "kick": "kicking with the left leg"}')
    assert read_captions(tmp_path / "c.csv") == {"walk_01": [("A man walks to the left", 0.0, 0.0),
                                                             ("someone strolls", 0.0, 0.0)],
                                                 "jump": [("a person jumps", 0.5, 2.0)]}
    assert read_captions(tmp_path / "c.json")["kick"] == [("kicking with the left leg", 0.0, 0.0)]
    (tmp_path / "bad.csv").write_text("walk_01\n")
    with pytest.raises(UserError, match="bad.csv:1"):
        read_captions(tmp_path / "bad.csv")
    assert builtin_tokens("A man walks slowly, kicking to the left") == [
        "a/DET", "man/NOUN", "walk/VERB", "slowly/ADV", "kick/VERB", "to/ADP", "the/DET", "left/ADJ"]
    assert mirror_caption("Left hand up, then the right") == "Right hand up, then the left"
