"""Each family's defining statistic picks out clips of that family, and the per-family fidelity table."""

from __future__ import annotations

import json

import numpy as np
import pytest

from crossdiff.evaluation.family_fidelity import (family_fidelity, fidelity_cases, fidelity_markdown, ratio_interval,
                                                  read_families, real_statistic)
from crossdiff.motion.family_stats import FAMILY_STATISTICS, family_statistic, within, yaw_turned
from crossdiff.synthetic.body import solve_body
from crossdiff.synthetic.generator import FAMILIES, rest_body

FRAMES = 64


@pytest.fixture(scope="module")
def clips():
    """family -> three clips [<=64, 22, 3] of that family (random parameters, fixed seed)."""
    body, rng, out = rest_body(), np.random.default_rng(11), {}
    for family, (sample, build) in FAMILIES.items():
        out[family] = [solve_body(build(sample(rng), body), body)[:FRAMES] for _ in range(3)]
    return out


def test_every_family_has_a_statistic():
    assert set(FAMILY_STATISTICS) == set(FAMILIES)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_statistic_separates_its_family_from_the_others(family, clips):
    """Every clip of the family scores above the median of the other families' clips, the mean clearly so."""
    own = [family_statistic(family, j) for j in clips[family]]
    others = [family_statistic(family, j) for f, js in clips.items() if f != family for j in js]
    assert min(own) > np.median(others)
    assert np.mean(own) > np.median(others) + 0.5 * np.std(others)


def test_statistics_measure_known_motions():
    """A body lifted 0.3 m in the middle of a clip rises 0.3 m; a body turned about y by 90 deg turns 90."""
    from crossdiff.skeleton import SKELETONS

    standing = np.repeat(np.asarray(SKELETONS["t2m"].canonical_joints, np.float64)[None], 40, 0)
    lifted = standing.copy()
    lifted[18:22, :, 1] += 0.3
    assert family_statistic("jump_in_place", lifted) == pytest.approx(0.3)
    assert family_statistic("jump_in_place", standing) == pytest.approx(0.0)
    a = np.linspace(0, np.pi / 2, 40)
    rot = np.stack([np.stack([np.cos(a), 0 * a, np.sin(a)], -1), np.tile([0.0, 1.0, 0.0], (40, 1)),
                    np.stack([-np.sin(a), 0 * a, np.cos(a)], -1)], 1)          # [T, 3, 3] about y
    turned = np.einsum("tij,tkj->tki", rot, standing)
    assert yaw_turned(turned) == pytest.approx(90.0, abs=1e-6)
    walking = standing.copy()
    walking[..., 2] += np.arange(40)[:, None] * 0.05                         # 0.05 m a frame = 1 m/s
    assert family_statistic("walk", walking) == pytest.approx(1.0)


def test_unknown_family_is_a_clear_error():
    with pytest.raises(KeyError, match="moonwalk"):
        family_statistic("moonwalk", np.zeros((10, 22, 3)))


def test_pass_mark():
    assert within(0.3, 0.22) and within(-0.5, -0.4) and not within(0.3, 0.2) and not within(0.3, 0.01)


# ---- the table on a tiny dataset folder -------------------------------------------------------


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    from prepare.synthetic import make_tiny_dataset

    return make_tiny_dataset(tmp_path_factory.mktemp("fidelity") / "data", clips=24, seed=3)


def test_cases_are_single_action_clips_of_the_split_with_their_family(folder):
    families = read_families(folder)
    cases = fidelity_cases(folder, "train", FRAMES, clips=2)
    assert cases and len({c.family for c in cases}) >= 5
    split = set((folder / "train.txt").read_text().split())
    for case in cases:
        assert case.clip_id in split and families[case.clip_id] == [case.family]
        assert case.length == min(len(np.load(folder / "new_joints" / f"{case.clip_id}.npy")), FRAMES)
    assert max(sum(c.family == f for c in cases) for f in families_of(cases)) <= 2


def families_of(cases):
    return {c.family for c in cases}


def test_no_table_without_meta(folder, tmp_path):
    assert fidelity_cases(tmp_path, "test", FRAMES, clips=2) == []
    meta = json.loads((folder / "meta.json").read_text())
    assert read_families(folder) == {k: [a["family"] for a in v["actions"]] for k, v in meta["clips_meta"].items()}


def test_real_motion_passes_and_standing_still_fails(folder):
    cases = fidelity_cases(folder, "train", FRAMES, clips=2)

    def real(captions, lengths):
        by_caption = {c.caption: c for c in cases}
        return [np.load(folder / "new_joints" / f"{by_caption[t].clip_id}.npy")[:n] for t, n in zip(captions, lengths)]

    rows = family_fidelity(cases, folder, real, samples=2)
    assert {r["family"] for r in rows} == families_of(cases) and all(r["clips"] <= 2 for r in rows)
    # A clip no longer than the model's frames has one window: real and "generated" are the same motion.
    short = {c.family for c in cases} - {c.family for c in cases if len(np.load(folder / "new_joints" / f"{c.clip_id}.npy")) > FRAMES}
    assert short and all(r["pass"] and r["ratio"] == pytest.approx(1.0) for r in rows if r["family"] in short)

    def still(captions, lengths):
        first = np.load(folder / "new_joints" / f"{cases[0].clip_id}.npy")[:1]
        return [np.repeat(first, n, 0) for n in lengths]

    rows = family_fidelity(cases, folder, still)
    moving = [r for r in rows if r["statistic"] in ("speed", "root rise", "yaw turned", "foot lift")]
    assert moving and not any(r["pass"] for r in moving)
    text = fidelity_markdown(rows)
    assert f"of {len(rows)} families within 30%" in text and rows[0]["family"] in text


def test_real_statistic_averages_windows():
    joints = np.zeros((100, 22, 3))
    joints[:, 0, 2] = np.r_[np.zeros(50), np.arange(50) * 0.1]     # still, then 2 m/s
    fast_end = real_statistic("walk", joints, length=40)
    assert 0.0 < fast_end < 2.0
    assert real_statistic("walk", joints, length=100) == pytest.approx(family_statistic("walk", joints))


def test_ratio_interval_brackets_the_ratio_and_narrows_with_agreeing_clips():
    rng = np.random.default_rng(3)
    real = rng.uniform(0.5, 1.0, 8)
    noisy = list(zip(real, real * rng.uniform(0.4, 1.6, 8)))
    ids = [f"{k:06d}" for k in range(8)]
    low, high = ratio_interval(noisy, ids)
    ratio = sum(g for _, g in noisy) / sum(r for r, _ in noisy)
    assert low < ratio < high and high - low > 0.1
    assert ratio_interval(noisy, ids) == (low, high)                     # seeded: the report is reproducible
    agreeing = [(r, 0.8 * r) for r in real]                               # every clip generated at 0.8x
    assert ratio_interval(agreeing, ids) == pytest.approx((0.8, 0.8))
    # A clip and its mirror image are one draw: doubling the clips by mirroring must not narrow the interval,
    # as counting them as independent clips would.
    as_one = ratio_interval(noisy + noisy, ids + ids)
    as_two = ratio_interval(noisy + noisy, ids + ["M" + i for i in ids])
    assert as_one == pytest.approx((low, high), abs=0.05) and as_two[1] - as_two[0] < 0.85 * (high - low)
    assert all(np.isnan(ratio_interval([(0.0, 1.0)], ["000000"])))      # real statistic 0: no ratio


def test_table_counts_intervals_across_a_pass_line_and_reads_old_reports():
    row = {"family": "spin", "statistic": "yaw turned", "unit": "deg", "clips": 10, "real": 574.0,
           "generated": 461.0, "ratio": 0.80, "pass": True}
    text = fidelity_markdown([{**row, "ratio_low": 0.60, "ratio_high": 0.95},                 # crosses 0.7
                              {**row, "family": "turn", "ratio_low": 0.75, "ratio_high": 1.25}])  # inside
    assert "| 0.80 | 0.60-0.95 | yes |" in text and "the interval of 1 crosses a pass line" in text
    assert "| 0.80 | – | yes |" in fidelity_markdown([row])          # a report saved before the intervals


def test_configured_cases_take_another_folder_and_split_when_set(folder, tmp_path):
    from crossdiff.config import load_config
    from crossdiff.errors import UserError
    from crossdiff.evaluation.family_fidelity import configured_cases

    def test_section(**keys):
        return load_config(None, [f"test.{k}={v}" for k, v in keys.items()]).test

    cases, root, split = configured_cases(test_section(family_clips=2, split="train"), folder, FRAMES)
    assert (root, split) == (folder, "train") and cases == fidelity_cases(folder, "train", FRAMES, clips=2)
    # The evaluated data has no families (HumanML3D): no table, unless another folder supplies the clips.
    assert configured_cases(test_section(family_clips=2), tmp_path, FRAMES) == ([], tmp_path, "test")
    cases, root, split = configured_cases(test_section(family_clips=2, family_data=folder, family_split="train"),
                                          tmp_path, FRAMES)
    assert (root, split) == (folder, "train") and cases == fidelity_cases(folder, "train", FRAMES, clips=2)
    (tmp_path / "test.txt").write_text("000000\n")
    with pytest.raises(UserError, match=f"test.family_data={tmp_path}"):
        configured_cases(test_section(family_clips=2, family_data=tmp_path), folder, FRAMES)
    assert configured_cases(test_section(family_clips=0, family_data=tmp_path), folder, FRAMES)[0] == []
