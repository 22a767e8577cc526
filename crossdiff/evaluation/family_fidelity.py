"""Per-family fidelity on the synthetic dataset: each family's defining statistic, real vs generated.

For every motion family of the test split, the first `clips` single-action test clips (those whose
meta.json entry holds one action) give a caption (the clip's first whole-clip caption) and a length
(the clip's frames, at most the model's). The family's statistic (`crossdiff.motion.family_stats`)
is measured on the real clip, averaged over windows of that length at its start, middle and end, and
on the motions generated for the same captions; a family passes when the generated mean is within
`tolerance` of the real mean. Each row also gives a 95% bootstrap interval of generated/real over the
clips (a clip and its mirror image resampled together): with 5-8 distinct clips a family it is wide,
and a family whose interval crosses a pass line can pass in one run and fail in the next.

The family of a clip comes from the dataset folder (`meta.json`, written by prepare/synthetic.py:
`clips_meta[id]["actions"]`), never from the generator's code. Folders without it (HumanML3D) have
no table: `fidelity_cases` returns [].

    cases = fidelity_cases(data_root, "test", frames=64, clips=4)
    rows = family_fidelity(cases, data_root, generate_joints)   # generate_joints(captions, lengths)
    print(fidelity_markdown(rows))
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from tqdm import tqdm

from crossdiff.data.clips import mirror_of, read_split
from crossdiff.data.words import read_text_file
from crossdiff.errors import UserError
from crossdiff.motion.family_stats import FAMILY_STATISTICS, family_statistic, within

GenerateJoints = Callable[[list[str], list[int]], Sequence[np.ndarray]]   # captions, lengths -> joints [L, 22, 3]
REAL_WINDOWS = 3
RESAMPLES = 2000                      # bootstrap draws for each family's interval


@dataclass(frozen=True)
class FidelityCase:
    family: str
    clip_id: str
    caption: str
    length: int                        # frames generated and compared


def read_families(data_root) -> dict[str, list[str]] | None:
    """clip id -> families of its actions in order, from `<data_root>/meta.json`; None when absent."""
    path = Path(data_root) / "meta.json"
    if not path.is_file():
        return None
    clips = json.loads(path.read_text()).get("clips_meta")
    if not isinstance(clips, dict):
        return None
    return {clip_id: [action["family"] for action in entry["actions"]] for clip_id, entry in clips.items()}


def fidelity_cases(data_root, split: str, frames: int, clips: int) -> list[FidelityCase]:
    """Up to `clips` single-action clips of `split` per known family (in split order); [] without meta.json."""
    data_root = Path(data_root)
    families = read_families(data_root)
    if families is None or clips < 1:
        return []
    chosen: dict[str, list[FidelityCase]] = {}
    for clip_id in read_split(data_root, split):
        actions = families.get(clip_id, [])
        if len(actions) != 1 or actions[0] not in FAMILY_STATISTICS or len(chosen.get(actions[0], [])) >= clips:
            continue
        whole = [e.caption for e in read_text_file(data_root / "texts" / f"{clip_id}.txt") if e.start == e.end == 0.0]
        joints = data_root / "new_joints" / f"{clip_id}.npy"
        if not whole or not joints.is_file():
            continue
        length = min(len(np.load(joints, mmap_mode="r")), frames)
        chosen.setdefault(actions[0], []).append(FidelityCase(actions[0], clip_id, whole[0], length))
    return [case for family in sorted(chosen) for case in chosen[family]]


def configured_cases(test_cfg, data_root, frames: int) -> tuple[list[FidelityCase], Path, str]:
    """(the table's cases, the folder holding their clips, its split) for a config's `test:` section: the clips of
    `test.family_data` (another synthetic folder, e.g. clips no model saw, made with another --seed) and its
    `test.family_split` when set, else those of `data_root` and `test.split`. A `test.family_data` folder
    that names no clip's family is a user error; a data_root without meta.json (HumanML3D) has no table."""
    root, split = Path(test_cfg.family_data or data_root), test_cfg.family_split or test_cfg.split
    cases = fidelity_cases(root, split, frames, test_cfg.family_clips)
    if not cases and test_cfg.family_data and test_cfg.family_clips > 0:
        raise UserError(f"test.family_data={root}: its {split}.txt names no single-action clip of a known family "
                        f"(meta.json with clips_meta); make the folder with python prepare/synthetic.py --out {root} "
                        f"--seed 1, or set test.family_split to one of its splits")
    return cases, root, split


def real_statistic(family: str, joints: np.ndarray, length: int, windows: int = REAL_WINDOWS) -> float:
    """The statistic averaged over `windows` evenly spaced windows of `length` frames of a real clip."""
    starts = np.linspace(0, max(len(joints) - length, 0), windows).round().astype(int)
    return float(np.mean([family_statistic(family, joints[s:s + length]) for s in np.unique(starts)]))


def family_fidelity(cases: list[FidelityCase], data_root, generate_joints: GenerateJoints, samples: int = 1,
                    tolerance: float = 0.3) -> list[dict]:
    """One row per family (statistic, unit, clips, real and generated means, ratio, pass); each caption is
    generated `samples` times and its generated statistic is the mean over them."""
    captions = [c.caption for c in cases for _ in range(samples)]
    generated = generate_joints(captions, [c.length for c in cases for _ in range(samples)])
    by_family: dict[str, list[tuple[float, float]]] = {}
    for k, case in enumerate(cases):
        real_joints = np.load(Path(data_root) / "new_joints" / f"{case.clip_id}.npy")
        gen = np.mean([family_statistic(case.family, j) for j in generated[k * samples:(k + 1) * samples]])
        by_family.setdefault(case.family, []).append((real_statistic(case.family, real_joints, case.length), gen))
    rows = []
    for family, pairs in by_family.items():
        real, gen = (float(np.mean(values)) for values in zip(*pairs))
        statistic = FAMILY_STATISTICS[family]
        twins = [min(c.clip_id, mirror_of(c.clip_id)) for c in cases if c.family == family]   # one key a pair
        low, high = ratio_interval(pairs, twins)
        rows.append({"family": family, "statistic": statistic.name, "unit": statistic.unit, "clips": len(pairs),
                     "real": real, "generated": gen, "ratio": gen / real if real else float("nan"),
                     "ratio_low": low, "ratio_high": high, "pass": within(real, gen, tolerance)})
    return rows


def ratio_interval(pairs: list[tuple[float, float]], groups: list[str], resamples: int = RESAMPLES,
                   seed: int = 0) -> tuple[float, float]:
    """95% bootstrap interval of mean(generated) / mean(real) over (real, generated) `pairs`, resampling whole
    `groups` with replacement: a clip and its mirror image are one group, as they are not independent."""
    number = {g: k for k, g in enumerate(sorted(set(groups)))}
    index = np.array([number[g] for g in groups])
    real, gen = (np.bincount(index, weights=column, minlength=len(number)) for column in np.asarray(pairs, float).T)
    draws = np.random.default_rng(seed).integers(0, len(number), (resamples, len(number)))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = gen[draws].sum(1) / real[draws].sum(1)     # equal counts: the ratio of sums is that of means
    ratios = ratios[np.isfinite(ratios)]                      # a resample whose real statistics sum to 0 has none
    if not len(ratios):
        return float("nan"), float("nan")
    low, high = np.percentile(ratios, [2.5, 97.5])
    return float(low), float(high)


def fidelity_markdown(rows: list[dict], tolerance: float = 0.3) -> str:
    """The per-family table in Markdown, with a last line counting the families that pass."""
    lines = [f"| family | statistic | clips | real | generated | generated/real | 95% interval "
             f"| within {tolerance:.0%} |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    straddling = 0
    for r in rows:
        interval = "–"
        if "ratio_low" in r:                                # reports written before the intervals have none
            interval = f"{r['ratio_low']:.2f}-{r['ratio_high']:.2f}"
            straddling += any(r["ratio_low"] < edge < r["ratio_high"] for edge in (1 - tolerance, 1 + tolerance))
        lines.append(f"| {r['family']} | {r['statistic']} ({r['unit']}) | {r['clips']} | {r['real']:.3f} | "
                     f"{r['generated']:.3f} | {r['ratio']:.2f} | {interval} | {'yes' if r['pass'] else 'no'} |")
    passed = sum(r["pass"] for r in rows)
    lines.append(f"\n{passed} of {len(rows)} families within {tolerance:.0%} of real motion; the interval of "
                 f"{straddling} crosses a pass line (resampling the clips could flip it).")
    return "\n".join(lines)


def sampler_joints(sampler, batch_size: int, seed: int = 0, path: str = "3d") -> GenerateJoints:
    """`generate_joints` around a MotionSampler: one motion per caption, noise from a private seeded generator."""
    import torch

    generator = torch.Generator(device=sampler.device).manual_seed(seed)

    def generate(captions: list[str], lengths: list[int]) -> list[np.ndarray]:
        out = []
        for start in tqdm(range(0, len(captions), batch_size), desc="family samples", unit="batch"):
            chunk, chunk_lengths = captions[start:start + batch_size], lengths[start:start + batch_size]
            motion = sampler.sample(chunk, path=path, generator=generator, progress=False)["motion"]
            out += [joints for _, joints in sampler.to_joints(motion, chunk_lengths)]
        return out

    return generate
