"""The synthetic dataset: plausible motion, captions that say what the motion shows, a complete folder."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from crossdiff.synthetic.generator import (FAMILIES, MAX_FRAMES, MIN_FRAMES, generate_clip, mirror_clip, mirror_params,
                                      rest_body, target_offsets)
from crossdiff.synthetic.body import RestBody, solve_body
from crossdiff.synthetic.phrases import PHRASES
from crossdiff.synthetic.captions import MIRROR_WORDS, Part, make_captions, mirror_caption, tokenize
from crossdiff.synthetic.vocab import vocabulary, word_vectors
from crossdiff.errors import UserError
from crossdiff.io import restricted_pickle_load
from crossdiff.skeleton import SKELETONS

PARENTS = np.array(SKELETONS["t2m"].parents)
TOES = (10, 11)
# Left <-> right joints (docs/original_code.md §3.3).
SWAP = [0, 2, 1, 3, 5, 4, 6, 8, 7, 9, 11, 10, 12, 14, 13, 15, 17, 16, 19, 18, 21, 20]
POS_TAGS = {"VERB", "NOUN", "DET", "ADP", "NUM", "AUX", "PRON", "ADJ", "ADV", "CCONJ", "SCONJ", "PART"}
SEED, CLIPS = 7, 12


@pytest.fixture(scope="session")
def body():
    return rest_body()


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """A 12-clip folder (24 motions), generated once per session."""
    from prepare.synthetic import make_tiny_dataset

    return make_tiny_dataset(tmp_path_factory.mktemp("synthetic") / "data", clips=CLIPS, seed=SEED)


def _bone_lengths(joints: np.ndarray) -> np.ndarray:
    """[T, 22, 3] -> [T, 21]."""
    return np.linalg.norm(joints[:, 1:] - joints[:, PARENTS[1:]], axis=-1)


def _contact_errors(joints: np.ndarray, contact: np.ndarray) -> tuple[float, float]:
    """Worst toe height and worst horizontal slide (m) over the frames a toe is marked planted."""
    height = slide = 0.0
    for side, toe in enumerate(TOES):
        planted = contact[: len(joints), side]
        segment = np.cumsum(np.r_[True, planted[1:] != planted[:-1]])
        for k in np.unique(segment[planted]):
            xyz = joints[(segment == k) & planted, toe]
            height = max(height, float(np.abs(xyz[:, 1]).max()))
            slide = max(slide, float(np.abs(xyz[:, [0, 2]] - xyz[0, [0, 2]]).max()))
    return height, slide


# ----------------------------------------------------------------------------- the generator


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_family_is_plausible(family, body):
    """Constant bones, planted feet on the floor, nothing under it, clip lengths in range."""
    sample, build = FAMILIES[family]
    rng = np.random.default_rng(3)
    for _ in range(3):
        plan = build(sample(rng), body)
        joints = solve_body(plan, body)
        assert np.isfinite(joints).all()
        assert plan.frames <= MAX_FRAMES
        assert np.ptp(_bone_lengths(joints), axis=0).max() < 1e-9
        assert joints[..., 1].min() > -1e-3
        height, slide = _contact_errors(joints, plan.contact)
        assert height < 0.02 and slide < 0.02
        assert plan.contact.any(1).mean() > 0.5  # mostly standing on something


def test_at_least_15_families_and_compositions(body):
    clips = [generate_clip(0, i, body) for i in range(60)]
    families = {p.family for c in clips for p in c.parts}
    assert len(FAMILIES) >= 15 and len(families) >= 15
    assert any(len(c.parts) == 2 for c in clips)
    assert all(MIN_FRAMES <= len(c.positions) <= MAX_FRAMES for c in clips)
    two = next(c for c in clips if len(c.parts) == 2)
    assert two.parts[0].end == two.parts[1].start == len(two.positions) - (two.parts[1].end - two.parts[1].start)


def test_generation_is_deterministic_per_seed_and_index(body):
    a, b, c = generate_clip(5, 3, body), generate_clip(5, 3, body), generate_clip(6, 3, body)
    assert np.array_equal(a.positions, b.positions) and a.captions == b.captions
    assert not (a.positions.shape == c.positions.shape and np.allclose(a.positions, c.positions))


def _build(family, params, body):
    plan = FAMILIES[family][1](params, body)
    return plan, solve_body(plan, body)


def test_left_and_right_are_visible_in_the_motion(body):
    for leg in ("left", "right"):
        _, joints = _build("kick", {"leg": leg, "repetitions": 1, "height": 1.3}, body)
        kicked = 0 if leg == "left" else 1
        assert joints[:, TOES[kicked], 1].max() > joints[:, TOES[1 - kicked], 1].max() + 0.3
        _, joints = _build("wave", {"hand": leg, "repetitions": 3, "amplitude": 0.4, "period": 0.5}, body)
        wrists = joints[:, [20, 21], 1].max(0)
        assert wrists[kicked] > joints[:, 15, 1].max() > wrists[1 - kicked]


def test_turn_and_walk_directions_are_visible(body):
    plan, _ = _build("turn", {"angle_deg": 90.0, "direction": "left", "duration": 1.0}, body)
    assert plan.yaw[-1] == pytest.approx(np.pi / 2)  # positive yaw turns +z towards +x, the left side
    for family, sign in (("walk", 1), ("walk_backward", -1)):
        params = {"speed": 1.0, "duration": 3.0, "path": "straight", "direction": "left", "lead_foot": "left"}
        _, joints = _build(family, params, body)
        assert sign * (joints[-1, 0, 2] - joints[0, 0, 2]) > 1.5  # facing +z throughout
    fast = _build("walk", dict(params, speed=1.4), body)[1]
    slow = _build("walk", dict(params, speed=0.7), body)[1]
    assert fast[-1, 0, 2] / len(fast) > 1.5 * slow[-1, 0, 2] / len(slow)


def test_captions_state_the_parameters(body):
    rng = np.random.default_rng(0)
    part = Part("kick", {"leg": "left", "repetitions": 2, "height": 1.0}, 0, 60)
    for caption, start, end in make_captions([part], 60, rng):
        assert "left" in caption.split() and "right" not in caption.split() and start == end == 0.0
    assert mirror_caption("a man turns left then spins clockwise") == "a man turns right then spins counterclockwise"
    assert tokenize("a man walks forward") == "a/DET man/NOUN walk/VERB forward/ADV"


def _phrasings(family: str, params: dict) -> list[str]:
    """Every phrasing of one action, as plain text (verb lemma + tail, spaces collapsed)."""
    phrases = PHRASES[family](params, np.random.default_rng(0))
    return [" ".join(" ".join(f"{verb} {tail}" for verb, tail in phrase).split()) for phrase in phrases]


def test_every_spin_caption_says_how_many_turns():
    # A caption that leaves the count open cannot tell the model 360 from 720 degrees (issue 18).
    for turns, said, wrong in ((1, ("once", "a full circle"), ("twice", "two")), (2, ("twice", "two full circles"), ("once", "a full"))):
        params = {"turns": turns, "angle_deg": 360.0 * turns, "direction": "clockwise", "duration": 1.0}
        for text in _phrasings("spin", params):
            assert any(s in text for s in said) and not any(w in text for w in wrong), text


def test_every_jump_in_place_caption_names_a_low_or_high_jump():
    for height, word in ((0.14, "slightly"), (0.25, None), (0.35, "high")):
        for text in _phrasings("jump_in_place", {"repetitions": 2, "height": height}):
            words = text.split()
            assert ("slightly" in words) == (word == "slightly") and ("high" in words) == (word == "high"), text


def test_segment_captions_cover_one_action():
    rng = np.random.default_rng(1)
    parts = [Part("walk", {"speed": 1.0, "path": "straight", "direction": "left", "duration": 3.0}, 0, 80),
             Part("turn", {"angle_deg": 90.0, "direction": "left", "duration": 1.2}, 80, 160)]
    segments = [c for _ in range(20) for c in make_captions(parts, 160, rng) if c[2] > 0]
    assert segments
    for caption, start, end in segments:
        assert (start, end) in ((0.0, 4.0), (4.0, 7.95))


def test_vocabulary_is_deterministic_and_puts_synonyms_close():
    words = vocabulary()
    vectors = word_vectors(words)
    assert vectors.shape == (len(words), 300) and {"unk", "sos", "eos"} <= set(words)
    assert np.array_equal(vectors, word_vectors(words))
    vec = dict(zip(words, vectors / np.linalg.norm(vectors, axis=1, keepdims=True)))
    assert vec["walk"] @ vec["strolls"] > 0.6 > 0.3 > abs(vec["walk"] @ vec["kick"])
    assert vec["quickly"] @ vec["fast"] > 0.6 > 0.3 > abs(vec["quickly"] @ vec["slowly"])


# ----------------------------------------------------------------------------- the folder


def _ids(folder, split):
    return (folder / f"{split}.txt").read_text().split()


def test_folder_is_complete(tiny):
    ids = [f"{i:06d}" for i in range(CLIPS)] + [f"M{i:06d}" for i in range(CLIPS)]
    for cid in ids:
        vecs = np.load(tiny / "new_joint_vecs" / f"{cid}.npy")
        joints = np.load(tiny / "new_joints" / f"{cid}.npy")
        assert vecs.shape[1] == 263 and 40 <= len(vecs) <= 196 and joints.shape == (len(vecs), 22, 3)
        assert np.isfinite(vecs).all() and np.isfinite(joints).all()
        for view in range(4):
            assert np.load(tiny / "new_joints2d" / f"{cid}-{view}.npy").shape == (len(vecs), 22, 2)
            assert np.load(tiny / "new_joints2d_complicate" / f"{cid}-{view}.npy").shape == (len(vecs) - 1, 134)
    for name, dim in (("Mean", 263), ("Std", 263), ("Mean_complicate2d", 134), ("Std_complicate2d", 134)):
        stat = np.load(tiny / f"{name}.npy")
        assert stat.shape == (dim,) and np.isfinite(stat).all()
    assert (np.load(tiny / "Std.npy") > 0).all()


def test_bone_lengths_constant_and_feet_planted_in_files(tiny, body):
    for i in range(CLIPS):
        joints = np.load(tiny / "new_joints" / f"{i:06d}.npy")
        assert np.ptp(_bone_lengths(joints), axis=0).max() < 1e-5
        assert joints[..., 1].min() == pytest.approx(0.0, abs=1e-5)
        height, slide = _contact_errors(joints, generate_clip(SEED, i, body).contact)
        assert height < 0.02 and slide < 0.02


def test_features_round_trip(tiny, body):
    from crossdiff.motion.features3d import joints_to_features, recover_from_ric

    clip = generate_clip(SEED, 0, body)
    features, processed = joints_to_features(clip.positions, target_offsets(), skeleton="t2m")
    assert np.abs(recover_from_ric(features, 22) - processed[:-1]).max() < 1e-4
    assert np.abs(np.load(tiny / "new_joint_vecs" / "000000.npy") - features).max() < 1e-5
    # Retargeting onto the canonical skeleton changes nothing: the body already has its bones.
    assert np.abs(_bone_lengths(processed) - _bone_lengths(clip.positions)).max() < 1e-4


def _mirror_joints(joints: np.ndarray) -> np.ndarray:
    return joints[..., SWAP, :] * [-1.0, 1.0, 1.0]


def test_mirrored_plan_solves_to_the_mirrored_joints(body):
    """With a left-right symmetric body, solving the mirrored plan gives exactly the mirrored joints."""
    offsets = (body.offsets + _mirror_joints(body.offsets)) / 2
    feet = (body.neutral_feet + body.neutral_feet[::-1] * [-1.0, 1.0]) / 2
    symmetric = RestBody(body.parents, offsets, feet)
    for index in range(6):
        clip = generate_clip(1, index, symmetric)
        mirrored = mirror_clip(clip, symmetric)
        assert np.abs(mirrored.positions - _mirror_joints(clip.positions)).max() < 1e-9
        assert [p.params for p in mirrored.parts] == [mirror_params(p.params) for p in clip.parts]


def test_mirrored_clips_are_consistent(tiny, body):
    # Tolerance: the canonical skeleton may be slightly asymmetric, and both clips are retargeted onto it.
    lengths = np.linalg.norm(body.offsets[1:], axis=-1)
    asymmetry = np.abs(lengths - np.linalg.norm(_mirror_joints(body.offsets)[1:], axis=-1)).max()
    for i in range(CLIPS):
        joints = np.load(tiny / "new_joints" / f"{i:06d}.npy")
        mirrored = np.load(tiny / "new_joints" / f"M{i:06d}.npy")
        assert np.abs(mirrored - _mirror_joints(joints)).max() < 1e-3 + 4 * asymmetry
        height, slide = _contact_errors(mirrored, generate_clip(SEED, i, body).contact[:, ::-1])
        assert height < 0.02 and slide < 0.02
        lines = (tiny / "texts" / f"{i:06d}.txt").read_text().splitlines()
        mirror_lines = (tiny / "texts" / f"M{i:06d}.txt").read_text().splitlines()
        assert [mirror_caption(line.split("#")[0]) for line in lines] == [m.split("#")[0] for m in mirror_lines]


def test_every_text_line_parses(tiny):
    for path in sorted((tiny / "texts").glob("*.txt")):
        lines = path.read_text().splitlines()
        frames = len(np.load(tiny / "new_joint_vecs" / path.name.replace(".txt", ".npy")))
        assert len(lines) == 3 and any(line.endswith("#0.0#0.0") for line in lines)
        for line in lines:
            caption, tokens, start, end = line.split("#")
            assert caption and caption == caption.strip()
            pairs = [t.split("/") for t in tokens.split(" ")]
            assert len(pairs) == len(caption.split()) and all(len(p) == 2 and p[1] in POS_TAGS for p in pairs)
            start, end = float(start), float(end)
            if (start, end) != (0.0, 0.0):
                assert 40 <= int(end * 20) - int(start * 20) and int(end * 20) <= frames + 1


def test_every_caption_word_is_in_the_vocabulary(tiny):
    data = np.load(tiny / "glove" / "our_vab_data.npy")
    words = restricted_pickle_load(tiny / "glove" / "our_vab_words.pkl")
    index = restricted_pickle_load(tiny / "glove" / "our_vab_idx.pkl")
    assert data.shape == (len(words), 300) and "unk" in index
    assert all(index[w] == i for i, w in enumerate(words))
    for path in (tiny / "texts").glob("*.txt"):
        for line in path.read_text().splitlines():
            caption, tokens = line.split("#")[:2]
            assert set(caption.split()) <= index.keys()
            assert {t.split("/")[0] for t in tokens.split()} <= index.keys()


def test_splits_pair_every_id_with_its_mirror(tiny):
    splits = {s: _ids(tiny, s) for s in ("train", "val", "test")}
    every = [cid for ids in splits.values() for cid in ids]
    assert len(every) == len(set(every)) == 2 * CLIPS
    for ids in splits.values():
        assert ids and all(ids[k + 1] == "M" + ids[k] for k in range(0, len(ids), 2))


def test_meta_describes_every_clip(tiny):
    import json

    meta = json.loads((tiny / "meta.json").read_text())
    assert meta["seed"] == SEED and len(meta["clips_meta"]) == 2 * CLIPS
    for i in range(CLIPS):
        original, mirrored = meta["clips_meta"][f"{i:06d}"], meta["clips_meta"][f"M{i:06d}"]
        assert all(a["family"] in FAMILIES for a in original["actions"])
        for a, m in zip(original["actions"], mirrored["actions"]):
            assert m["params"] == {k: MIRROR_WORDS.get(v, v) if isinstance(v, str) else v for k, v in a["params"].items()}


def _digest(folder) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_files(tmp_path):
    from prepare.synthetic import make_tiny_dataset

    first = _digest(make_tiny_dataset(tmp_path / "a", clips=3, seed=11))
    assert first == _digest(make_tiny_dataset(tmp_path / "b", clips=3, seed=11))
    other = _digest(make_tiny_dataset(tmp_path / "c", clips=3, seed=12))
    assert first.keys() == other.keys() and first["new_joint_vecs/000000.npy"] != other["new_joint_vecs/000000.npy"]


def test_user_errors(tmp_path, tiny, capsys):
    from prepare.synthetic import cli, main

    with pytest.raises(UserError, match="--overwrite"):
        main(tiny, clips=2, workers=1, progress=False)
    with pytest.raises(UserError, match="--clips 1"):
        main(tmp_path / "x", clips=1)
    assert cli(["--out", str(tmp_path / "y"), "--clips", "0"]) == 2
    assert "--clips 0" in capsys.readouterr().err


def test_preview_writes_a_contact_sheet_and_videos(tiny, tmp_path):
    import imageio_ffmpeg

    from prepare.synthetic import write_preview

    written = write_preview(tiny, 2, SEED, _ids(tiny, "test"), progress=False)
    assert written[0].name == "contact_sheet.png" and written[0].stat().st_size > 10_000
    for video in written[1:]:
        frames = imageio_ffmpeg.count_frames_and_secs(str(video))[0]
        assert frames == len(np.load(tiny / "new_joints" / video.name.replace(".mp4", ".npy")))
