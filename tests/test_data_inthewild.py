"""In-the-wild 2D dataset (filters, items shaped like HumanML3D train items) and the ucf_ratio mixture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crossdiff.config import load_config, section_kwargs
from crossdiff.data.collate import train_collate
from crossdiff.data.humanml3d import HumanML3DDataset
from crossdiff.data.inthewild import InTheWildDataset, class_tag
from crossdiff.data.mixture import MixtureDataset
from crossdiff.data.registry import build_dataset
from crossdiff.errors import UserError
from tests.data_helpers import MEAN_2D, STD_2D, make_folder, make_inthewild

CLIPS = {"v_BaseballPitch_g01_c01": 60, "v_BaseballPitch_g02_c01": 100, "v_Biking_g01_c01": 50,
         "v_Biking_g02_c01": 30, "v_Biking_g03_c01": 197, "v_Diving_g01_c01": 80, "novideo": 80}


@pytest.fixture
def folders(tmp_path):
    hml = make_folder(tmp_path / "hml")
    ucf = make_inthewild(tmp_path / "ucf", CLIPS, with_mask=("v_BaseballPitch_g02_c01",))
    return hml, ucf


def wild(ucf: Path, meta: Path, **kwargs) -> InTheWildDataset:
    return InTheWildDataset(ucf, meta, progress=False, **kwargs)


def test_class_tag_is_the_second_field_of_the_name():
    assert class_tag(Path("v_BaseballPitch_g09_c02.npy")) == "BaseballPitch"
    assert class_tag(Path("novideo.npy")) is None


def test_clips_are_filtered_by_class_keys_and_length_with_reasons(folders):
    hml, ucf = folders
    data = wild(ucf, hml)
    assert sorted(p.stem for p, _ in data.clips) == ["v_BaseballPitch_g01_c01", "v_BaseballPitch_g02_c01",
                                                     "v_Biking_g01_c01"]
    reasons = dict(data.skipped)
    assert reasons["v_Biking_g02_c01"].startswith("too short") and reasons["v_Biking_g03_c01"].startswith("too long")
    assert reasons["v_Diving_g01_c01"].startswith("no captions") and reasons["novideo"].startswith("no captions")
    only_biking = wild(ucf, hml, ucf_keys=["Biking"])
    assert [p.stem for p, _ in only_biking.clips] == ["v_Biking_g01_c01"]
    assert dict(only_biking.skipped)["v_BaseballPitch_g01_c01"].startswith("not selected")


def test_items_look_like_humanml3d_train_items(folders):
    hml, ucf = folders
    train_item = HumanML3DDataset(hml, hml, "train", progress=False)[0]
    data = wild(ucf, hml)
    for index, (path, captions) in enumerate(data.clips):
        item = data[index]
        assert item.keys() == train_item.keys()
        for key, value in item.items():
            assert type(value) is type(train_item[key])
            if isinstance(value, np.ndarray):
                assert value.shape == train_item[key].shape and value.dtype == train_item[key].dtype
        length = item["length"]
        assert length == len(np.load(path)) and item["valid"] is False and item["text"] in captions
        assert not item["motion"].any()
        assert item["motion_mask"][:length].all() and not item["motion_mask"][length:].any()
        np.testing.assert_allclose(item["joint"][:length, 0] * STD_2D + MEAN_2D, np.arange(length), atol=1e-4)
        assert not item["joint"][length:].any() and not item["joint_mask"][length:].any()
        expected_mask = np.ones(134, np.float32)
        if path.stem == "v_BaseballPitch_g02_c01":      # the [N, 268] file: its own confidence mask
            expected_mask[2:6] = 0.0
        assert (item["joint_mask"][:length] == expected_mask).all()


def test_missing_text_json_and_empty_folder_are_user_errors(folders, tmp_path):
    hml, _ = folders
    with pytest.raises(UserError, match="text.json not found"):
        wild(tmp_path / "nothing", hml)
    empty = make_inthewild(tmp_path / "empty", {"v_Diving_g01_c01": 80})
    with pytest.raises(UserError, match="no usable clip.*empty"):
        wild(empty, hml)


def test_mixture_ratio_sets_the_share_of_inthewild_items(folders):
    hml, ucf = folders
    motion3d = HumanML3DDataset(hml, hml, "train", progress=False)
    inthewild = wild(ucf, hml)
    half = MixtureDataset(motion3d, inthewild, ucf_ratio=0.5, seed=0)
    assert len(half) == 6
    valid = [half[i]["valid"] for i in range(len(half))]
    assert valid == [False] * 3 + [True] * 3
    quarter = MixtureDataset(motion3d, inthewild, ucf_ratio=0.25, seed=0)
    assert len(quarter) == 12 and sum(not quarter[i]["valid"] for i in range(12)) == 3
    concatenated = MixtureDataset(motion3d, inthewild, ucf_ratio=0.0)
    assert len(concatenated) == 9 and concatenated[8]["valid"] is True
    batch = train_collate([half[i] for i in range(len(half))])
    assert batch["motion"].shape == (6, 263, 1, 196) and batch["valid"].tolist() == valid
    with pytest.raises(UserError, match="ucf_ratio"):
        MixtureDataset(motion3d, inthewild, ucf_ratio=1.5)


def test_mixture_draws_random_humanml3d_items(folders):
    hml, ucf = folders
    mixture = MixtureDataset(HumanML3DDataset(hml, hml, "train", progress=False), wild(ucf, hml), 0.1, seed=3)
    lengths = {mixture[index]["length"] for index in range(3, len(mixture))}
    assert len(lengths) > 2        # several different HumanML3D clips, not one fixed item


def test_registry_builds_multi_and_ucf(folders):
    hml, ucf = folders
    cfg = load_config(overrides=[f"data.data_root={hml}", f"data.meta_dir={hml}", f"data.glove_dir={hml / 'glove'}",
                                 f"data.ucf_root={ucf}", "data.dataset=multi", "data.ucf_ratio=0.5"])
    data = section_kwargs(cfg.data)
    multi = build_dataset("train", progress=False, **data)
    assert isinstance(multi, MixtureDataset) and len(multi) == 6
    assert isinstance(build_dataset("test", progress=False, **data), HumanML3DDataset)
    assert isinstance(build_dataset("train", progress=False, **{**data, "dataset": "ucf"}), InTheWildDataset)
    with pytest.raises(UserError, match="train items only"):
        build_dataset("test", progress=False, **{**data, "dataset": "ucf"})
