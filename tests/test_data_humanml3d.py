"""HumanML3D/KIT dataset: splits, mirror pairs, checks, segments, crops, normalisation, masks, seeding."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from crossdiff.config import load_config, section_kwargs
from crossdiff.data import masks
from crossdiff.data.base import crop_window
from crossdiff.data.clips import mirror_pairs
from crossdiff.data.humanml3d import HumanML3DDataset, split_ids_and_validity
from crossdiff.data.registry import DATASETS, build_dataset, worker_init_fn
from crossdiff.errors import UserError
from crossdiff.skeleton import SKELETONS
from tests.data_helpers import MEAN_2D, MEAN_3D, STD_2D, STD_3D, WHOLE, make_folder


def dataset(root, split="train", **kwargs):
    kwargs.setdefault("glove_dir", root / "glove")
    return HumanML3DDataset(root, root, split, progress=False, **kwargs)


@pytest.fixture
def folder(tmp_path):
    return make_folder(tmp_path / "hml")


def raw(item):
    """Undo the normalisation of an item's first `length` frames: (3D [L, 263], 2D [L, 134])."""
    length = item["length"]
    return item["motion"][:length] * STD_3D + MEAN_3D, item["joint"][:length] * STD_2D + MEAN_2D


def keep_numpy(item):
    return item


def test_mirror_pairs_puts_each_twin_after_its_id():
    ids = ["000001", "M000002", "000002", "M000001", "000003"]
    assert mirror_pairs(ids) == ["000001", "M000001", "M000002", "000002", "000003"]


def test_motion_ratio_marks_the_first_ids_valid_or_cuts_the_rest():
    ids = [f"{i}" for i in range(6)]
    assert split_ids_and_validity(ids, 0.5, cut_2d=False) == (ids, [True] * 3 + [False] * 3)
    assert split_ids_and_validity(ids, 0.5, cut_2d=True) == (ids[:3], [True] * 3)


def test_crop_window_is_a_multiple_of_4_and_one_third_double():
    rng = np.random.default_rng(0)
    crops = [crop_window(rng, 50, 196) for _ in range(3000)]
    lengths = np.array([c for _, c in crops])
    starts = np.array([s for s, _ in crops])
    assert set(lengths) == {48, 44}
    assert abs((lengths == 44).mean() - 1 / 3) < 0.04
    assert starts.min() == 0 and starts.max() == 6 and np.all(starts + lengths <= 50)
    assert {c for _, c in (crop_window(rng, 150, 48) for _ in range(200))} == {48, 44}


def test_train_item_window_alignment_normalisation_and_padding(folder):
    data = dataset(folder, max_frames=96)
    assert len(data) == 6  # one record per clip, holding its two whole-clip captions
    seen_views = set()
    for index in list(range(len(data))) * 6:
        item = data[index]
        record = data.records[index]
        length = item["length"]
        assert length % 4 == 0 and length <= min(record.length, 96)
        motion, joint = raw(item)
        start = motion[0, 0]
        np.testing.assert_allclose(motion[:, 0], start + np.arange(length), atol=1e-4)   # contiguous window
        np.testing.assert_allclose(joint[:, 0], motion[:, 0], atol=1e-4)               # same frames in 2D
        assert start + length <= record.length                                          # inside the clip
        seen_views.add(int(round(joint[0, 1])))
        for key, width in (("motion", 263), ("joint", 134), ("motion_mask", 263), ("joint_mask", 134)):
            assert item[key].shape == (96, width) and item[key].dtype == np.float32
            assert not item[key][length:].any()
        assert item["motion_mask"][:length].all() and item["joint_mask"][:length].all()
        assert item["text"] in ("a person walk forward", "the man jump") and item["valid"] is True
    assert seen_views == {0, 1, 2, 3}


def test_3d_is_truncated_to_the_2d_length_and_records_sorted(folder):
    data = dataset(folder)
    assert [r.length for r in data.records] == sorted([59, 59, 80, 80, 119, 119])


def test_segments_become_their_own_items(tmp_path):
    texts = {"000001": ["a person walk#a/DET person/NOUN walk/VERB#1.0#3.5",      # frames 20..70: kept
                        "a person run#a/DET person/NOUN run/VERB#0.0#1.0"],       # 20 frames: too short
             "M000001": [WHOLE, "a person jump#a/DET person/NOUN jump/VERB#2.0#5.0"]}
    root = make_folder(tmp_path / "seg", frames={"000001": 120, "M000001": 120},
                       splits={"train": ["000001", "M000001"]}, texts=texts)
    data = dataset(root)
    windows = sorted((r.clip_id, r.start, r.end, tuple(c.caption for c in r.captions)) for r in data.records)
    assert windows == [("000001", 20, 70, ("a person walk",)), ("M000001", 0, 119, ("a person walk forward",)),
                       ("M000001", 40, 100, ("a person jump",))]
    segment = data.records.index(next(r for r in data.records if r.start == 20))
    motion, _ = raw(data[segment])
    assert motion[0, 0] >= 20 and motion[-1, 0] < 70


def test_bad_clips_are_reported_once_with_their_reason(tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(logging.getLogger("crossdiff"), "propagate", True)  # get_logger() may have cut it
    root = make_folder(tmp_path / "bad", frames={"000001": 60, "000002": 60, "000003": 60, "000004": 30,
                                                 "000005": 250, "000006": 60, "000007": 60})
    (root / "new_joints2d_complicate" / "000002-3.npy").unlink()
    nan = np.load(root / "new_joint_vecs" / "000003.npy")
    nan[5, 7] = np.nan
    np.save(root / "new_joint_vecs" / "000003.npy", nan)
    np.save(root / "new_joint_vecs" / "000006.npy", np.zeros((60, 251), np.float32))
    (root / "texts" / "000007.txt").unlink()
    with caplog.at_level(logging.WARNING, logger="crossdiff.data"):
        data = dataset(root)
    reasons = dict(data.skipped)
    assert [r.clip_id for r in data.records] == ["000001"]
    assert reasons["000002"].startswith("missing file") and "000002-3.npy" in reasons["000002"]
    assert reasons["000003"].startswith("non-finite")
    assert reasons["000004"].startswith("too short") and reasons["000005"].startswith("too long")
    assert reasons["000006"].startswith("wrong shape") and reasons["000007"].startswith("missing file")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and all(cid in warnings[0] for cid in reasons)


def test_no_usable_clip_names_the_data_root(tmp_path):
    root = make_folder(tmp_path / "short", frames={"000001": 20}, splits={"train": ["000001"]})
    with pytest.raises(UserError, match=f"no usable clip .*{root}.*too short"):
        dataset(root)


def test_missing_statistics_say_how_to_make_them(folder):
    (folder / "Std_complicate2d.npy").unlink()
    with pytest.raises(UserError, match="Std_complicate2d.npy not found.*prepare/project.py"):
        dataset(folder)


def test_missing_split_and_folder_are_user_errors(folder, tmp_path):
    (folder / "val.txt").unlink()
    with pytest.raises(UserError, match="val.txt not found"):
        dataset(folder, "val")
    with pytest.raises(UserError, match="not a folder"):
        HumanML3DDataset(tmp_path / "nowhere", folder, "train", progress=False)


def test_motion_ratio_keeps_2d_of_the_other_mirror_pairs(folder):
    data = dataset(folder, motion_ratio=0.5)
    valid = {r.clip_id: r.valid for r in data.records}
    assert valid == {"000001": True, "M000001": True, "000002": True,
                     "M000002": False, "000003": False, "M000003": False}
    assert len(dataset(folder, motion_ratio=0.5, cut_2d=True)) == 3
    assert all(r.valid for r in dataset(folder, "test", motion_ratio=0.5).records)  # ratio is for train only


def test_eval_items_carry_word_arrays(folder):
    item = dataset(folder, "test")[0]
    assert item["word_embeddings"].shape == (22, 300) and item["pos_one_hots"].shape == (22, 15)
    tokens = item["tokens"].split("_")
    assert len(tokens) == 22 and tokens[0] == "sos/OTHER" and tokens[item["sent_len"] - 1] == "eos/OTHER"
    assert item["sent_len"] in (5, 6) and "joint_mask" not in item


def test_joint_columns_partition_the_features_and_the_reference_lists_are_off_by_one():
    sk = SKELETONS["t2m"]
    fixed, reference = masks.joint_columns_3d(sk), masks.joint_columns_3d(sk, reference=True)
    assert sorted(c for cols in fixed for c in cols) == list(range(263))
    assert sorted(c for cols in masks.joint_columns_2d(sk) for c in cols) == list(range(134))
    assert fixed[0] == [0, 1, 2, 3, 193, 194, 195] and reference[0] == [0, 1, 2, 3, 193, 194]
    assert fixed[5][-3:] == [208, 209, 210] and reference[5][-3:] == [207, 208, 209]
    assert fixed[7][-1] == 259 and fixed[11][-1] == 262 and masks.joint_columns_2d(sk)[10][-1] == 131
    kit = SKELETONS["kit"]
    assert sorted(c for cols in masks.joint_columns_3d(kit) for c in cols) == list(range(251))
    assert sorted(c for cols in masks.joint_columns_2d(kit) for c in cols) == list(range(128))


def test_joint_masks_drop_whole_joints_and_frames(folder):
    data = dataset(folder, joint_mask_ratio=0.4)
    columns = masks.joint_columns_3d(SKELETONS["t2m"])
    for index in range(len(data)):
        item = data[index]
        mask = item["motion_mask"][: item["length"]]
        kept_frames = mask.any(axis=1)
        assert 0 < kept_frames.sum() < item["length"]
        row = mask[kept_frames][0]
        for cols in columns:                      # a joint is kept or dropped as a whole
            assert len(set(row[cols])) == 1
        assert (mask[kept_frames] == row).all()   # the same joints on every kept frame


def test_reference_mask_switch_reaches_the_dataset(folder):
    assert dataset(folder).owns_3d[:, 258].sum() == 1
    assert dataset(folder, reference_mask_indices=True).owns_3d[:, 258].sum() == 0


def test_normalizer_round_trips_and_renorm4t2m_uses_eval_statistics(folder):
    data = dataset(folder)
    norm = data.normalizer
    x = np.random.default_rng(0).normal(size=(5, 263)).astype(np.float32)
    np.testing.assert_allclose(norm.inv_transform(norm.transform(x)), x, atol=1e-5)
    np.testing.assert_allclose(norm.transform(x), (x - MEAN_3D) / STD_3D, atol=1e-6)
    joint = torch.randn(2, 7, 134, dtype=torch.float64)
    back = norm.inv_transform2d(norm.transform2d(joint))
    assert back.dtype == torch.float64 and torch.allclose(back, joint)
    np.testing.assert_allclose(norm.renorm4t2m(x), x, atol=1e-6)     # no mean_eval: falls back to Mean/Std
    np.save(folder / "mean_eval.npy", np.full(263, 1.0, np.float32))
    np.save(folder / "std_eval.npy", np.full(263, 3.0, np.float32))
    renormed = dataset(folder).normalizer.renorm4t2m(torch.from_numpy(x))
    np.testing.assert_allclose(renormed.numpy(), (x * STD_3D + MEAN_3D - 1.0) / 3.0, atol=1e-5)


def test_the_synthetic_folder_loads_every_clip(tmp_path):
    from prepare.synthetic import make_tiny_dataset

    root = make_tiny_dataset(tmp_path / "synthetic", clips=6, seed=0)
    for split in ("train", "val", "test"):
        data = dataset(root, split)
        assert not data.skipped and len(data) >= 2
        item = data[0]
        assert item["motion"].shape == (196, 263) and np.isfinite(item["motion"]).all()


def test_workers_draw_independently_and_reseed_repeats(tmp_path):
    ids = [f"{i:06d}" for i in range(16)]
    root = make_folder(tmp_path / "same", frames={i: 120 for i in ids}, splits={"train": ids})
    data = dataset(root, joint_mask_ratio=0.3)

    def draws(item):
        motion, joint = raw(item)
        return (item["length"], int(motion[0, 0]), int(round(joint[0, 1])), item["motion_mask"].sum())

    loader = DataLoader(data, batch_size=None, num_workers=2, worker_init_fn=worker_init_fn,
                        collate_fn=keep_numpy, generator=torch.Generator().manual_seed(0))
    served = [draws(item) for item in loader]     # worker 0 serves even indices, worker 1 odd ones
    assert served[0::2] != served[1::2]
    data.reseed(5)
    first = [draws(data[i]) for i in range(4)]
    data.reseed(5)
    assert [draws(data[i]) for i in range(4)] == first


def test_kit_folder_uses_its_widths_and_shorter_clips(tmp_path):
    root = make_folder(tmp_path / "kit", frames={"00001": 30, "M00001": 30}, skeleton="kit")
    item = dataset(root, skeleton="kit")[0]
    assert item["motion"].shape == (196, 251) and item["joint"].shape == (196, 128)
    assert item["length"] in (24, 28)


def test_registry_builds_from_the_config_data_section(folder):
    cfg = load_config(overrides=[f"data.data_root={folder}", f"data.meta_dir={folder}",
                                 f"data.glove_dir={folder / 'glove'}"])
    train = build_dataset("train", seed=1, progress=False, **section_kwargs(cfg.data))
    test = build_dataset("test", seed=1, progress=False, **section_kwargs(cfg.data))
    assert isinstance(train, HumanML3DDataset) and train.kind == "train" and test.kind == "eval"
    with pytest.raises(UserError, match="unknown data.dataset 'humanml4'.*humanml"):
        build_dataset("train", **{**section_kwargs(cfg.data), "dataset": "humanml4"})
    assert set(DATASETS) == {"humanml", "kit", "ucf", "multi"}


def test_more_data_than_frames_crops_long_clips(tmp_path):
    root = make_folder(tmp_path / "long", frames={"000001": 150, "M000001": 150})
    data = dataset(root, max_frames=48)
    assert {data[0]["length"] for _ in range(30)} == {44, 48}
