"""The T2M evaluation protocol with replications (docs/original_code.md §9.3-§9.4).

One replication: iterate a freshly shuffled test loader (batches of 32, drop_last) for
`test_limit` batches, or over the whole split once (`test_limit=None`, "full"). For each batch the
ground-truth motions and `generate(batch)` (normalised `[B, 263, 1, T]`) go through `renorm4t2m`
and every evaluator with the batch's GT lengths (docs/original_code.md §9.3); the embeddings of the whole
replication then give R-precision top-1/2/3 and MM-Dist (GT and generated), FID, Diversity (GT
and generated) and, with `test_mm`, MultiModality (`mm_samples` generations of the texts of the
first `mm_batches` batches; the first of them doubles as the batch's generated motion).

The protocol never sees the model: `generate` is any callable batch -> motion (test.py wires it to
a MotionSampler with `sampler_generate`), so it can be tested with fake generators.

    protocol = build_protocol(cfg, device, log)
    results = protocol.run(sampler_generate(sampler, path="3d", seed=cfg.seed))
    results["metrics"]["all"]["fid"]  # {"mean", "conf", "values"}
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from itertools import islice
from typing import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from crossdiff.config import section_kwargs
from crossdiff.data.collate import eval_collate
from crossdiff.data.normalization import Normalizer
from crossdiff.data.registry import build_dataset, worker_init_fn
from crossdiff.errors import UserError
from crossdiff.evaluation import metrics as M
from crossdiff.evaluation.evaluator import PARTS, T2MEvaluator, evaluator_file, length_order
from crossdiff.evaluation.report import main_part, summarize_replications

Generate = Callable[[dict], torch.Tensor]   # evaluation batch -> normalised motion [B, 263, 1, T]
SMALL_DIVERSITY_TIMES = 10  # Diversity pairs when a replication has no more samples than diversity_times


@dataclass(frozen=True)
class ProtocolSettings:
    """The `test:` section's protocol keys (see configs/base.yaml for each one's meaning)."""

    replications: int = 20
    test_limit: int | None = 20      # batches per replication; None: the whole split once
    batch_size: int = 32
    num_workers: int = 0
    diversity_times: int = 300
    test_mm: bool = False
    mm_batches: int = 5
    mm_samples: int = 30
    mm_pairs: int = 10
    seed: int = 0

    def __post_init__(self):
        for key in ("replications", "batch_size", "diversity_times", "mm_batches", "mm_samples", "mm_pairs"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UserError(f"test.{key} must be a positive integer, got {value!r}")
        if self.batch_size < 2:
            raise UserError(f"test.batch_size={self.batch_size}: R-precision needs at least 2 texts per batch")
        if self.test_mm and self.mm_samples <= self.mm_pairs:
            raise UserError(f"test.mm_samples={self.mm_samples} must exceed test.mm_pairs={self.mm_pairs} "
                            f"(pairs are drawn without replacement among the samples of a text)")

    @classmethod
    def from_section(cls, test, seed: int, quick: bool = False) -> "ProtocolSettings":
        """From the config's `test:` section; `quick`: one replication of `quick_batches`, no MultiModality."""
        common = dict(batch_size=test.batch_size, num_workers=test.num_workers,
                      diversity_times=test.diversity_times, mm_batches=test.mm_batches,
                      mm_samples=test.mm_samples, mm_pairs=test.mm_pairs, seed=seed)
        if quick:
            return cls(replications=1, test_limit=parse_test_limit(test.quick_batches, "test.quick_batches"),
                       test_mm=False, **common)
        return cls(replications=test.replications, test_limit=parse_test_limit(test.test_limit),
                   test_mm=bool(test.test_mm), **common)


def parse_test_limit(value, key: str = "test.test_limit") -> int | None:
    """A positive number of batches, or None for `full` (the whole split once)."""
    if isinstance(value, str) and value.strip().lower() == "full":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserError(f"{key} must be a positive number of batches or full, got {value!r}")
    return value


def parse_parts(value) -> tuple[str, ...]:
    """`all`, `upper,lower` or a list -> the evaluator parts in the given order, without repeats."""
    items = value.split(",") if isinstance(value, str) else list(value)
    parts = tuple(dict.fromkeys(str(item).strip() for item in items if str(item).strip()))
    unknown = [part for part in parts if part not in PARTS]
    if not parts or unknown:
        raise UserError(f"test.eval_part={value!r}: choose among {', '.join(PARTS)} (one, or a list such as "
                        f"[all,upper,lower])")
    return parts


def load_evaluators(folder, parts, skeleton: str = "t2m", device="cpu") -> dict[str, T2MEvaluator]:
    """One evaluator per part from `folder` (`<part>.tar`, or `finest.tar` for all); missing files say what to do."""
    found = {}
    for part in parts:
        try:
            found[part] = evaluator_file(folder, part)
        except UserError as e:
            raise UserError(f"{e} (the folder is test.evaluator_dir; null means data.meta_dir). A dataset "
                            f"without official evaluators needs its own: `python train_evaluator.py --cfg CONFIG "
                            f"evaluator.part={part}` writes <data.meta_dir>/{part}.tar") from None
    return {part: T2MEvaluator.load(path, part, skeleton, device) for part, path in found.items()}


def sampler_generate(sampler, path: str = "3d", change_idx: int = 300, scale: float | None = None,
                     seed: int = 0) -> Generate:
    """`generate(batch)` around a MotionSampler: one sample per caption of the batch, noise from a
    private generator seeded once, so repeated calls (MultiModality) give fresh samples and the
    global RNGs (and so the training run calling the quick evaluation) are left alone."""
    generator = torch.Generator(device=sampler.device).manual_seed(seed)

    def generate(batch: dict) -> torch.Tensor:
        return sampler.sample(batch["text"], path=path, scale=scale, change_idx=change_idx,
                              generator=generator, progress=False)["motion"]

    return generate


@dataclass
class Protocol:
    """A test split, its evaluators and the evaluator normalisation, ready to evaluate generators."""

    dataset: torch.utils.data.Dataset
    evaluators: dict[str, T2MEvaluator]
    normalizer: Normalizer
    settings: ProtocolSettings
    log: logging.Logger | None = None
    split: str = "test"                 # where the items and evaluators come from (copied into the results)
    data_root: str | None = None
    evaluator_dir: str | None = None

    @property
    def main_part(self) -> str:
        return main_part(self.evaluators)

    def run(self, generate: Generate, progress: bool = True) -> dict:
        """All replications -> {"metrics": {part: {metric: {"mean", "conf", "values"}}}, "protocol", "seconds"}."""
        started = time.perf_counter()
        per_replication, counts = [], None
        bar = tqdm(range(self.settings.replications), desc="replications", unit="rep", disable=not progress)
        for replication in bar:
            embeddings = self.embed(generate, replication, progress)
            per_replication.append(self.metrics(embeddings, replication))
            counts = {"samples": len(embeddings[self.main_part]["real"]),
                      "mm_texts": len(embeddings[self.main_part]["mm"]) if self.settings.test_mm else 0}
            bar.set_postfix(fid=f"{per_replication[-1][self.main_part]['fid']:.3f}")
        s = self.settings
        protocol = {"replications": s.replications, "test_limit": s.test_limit, "batch_size": s.batch_size,
                    "parts": list(self.evaluators), "test_mm": s.test_mm, "mm_samples": s.mm_samples,
                    "mm_pairs": s.mm_pairs, "diversity_times": s.diversity_times, "seed": s.seed,
                    **counts, "split": self.split, "data_root": self.data_root, "evaluator_dir": self.evaluator_dir}
        return {"metrics": summarize_replications(per_replication), "protocol": protocol,
                "seconds": round(time.perf_counter() - started, 3)}

    def loader(self, replication: int) -> DataLoader:
        """The shuffled loader of one replication: order, crops, views and captions from seed + replication."""
        seed = self.settings.seed + replication
        reseed = getattr(self.dataset, "reseed", None)
        if reseed is not None:
            reseed(seed)    # without workers the dataset's own generator draws crops and captions
        full = self.settings.test_limit is None
        loader = DataLoader(self.dataset, batch_size=self.settings.batch_size, shuffle=True, drop_last=not full,
                            num_workers=self.settings.num_workers, collate_fn=eval_collate,
                            worker_init_fn=worker_init_fn, generator=torch.Generator().manual_seed(seed))
        if len(loader) == 0 or len(self.dataset) < self.settings.batch_size:
            raise UserError(f"the evaluation split has {len(self.dataset)} items, fewer than one batch of "
                            f"test.batch_size={self.settings.batch_size}; lower test.batch_size")
        return loader

    def _batch_count(self, loader: DataLoader) -> int:
        limit = self.settings.test_limit
        if limit is not None and limit > len(loader) and self.log is not None:
            self.log.warning(f"test.test_limit={limit} but the split gives only {len(loader)} batches; using all")
        return len(loader) if limit is None else min(limit, len(loader))

    def embed(self, generate: Generate, replication: int, progress: bool = True) -> dict:
        """Embeddings of one replication per part: text, real, gen [N, 512] and mm [N_mm, S, 512] (float32)."""
        loader = self.loader(replication)
        batches = self._batch_count(loader)
        full = self.settings.test_limit is None
        diversity_times(len(self.dataset) if full else batches * self.settings.batch_size,
                        self.settings.diversity_times)           # fail before sampling, not after
        store = {part: {"text": [], "real": [], "gen": [], "mm": []} for part in self.evaluators}
        bar = tqdm(islice(loader, batches), total=batches, desc=f"replication {replication + 1}", unit="batch",
                   leave=False, disable=not progress)
        for index, batch in enumerate(bar):
            samples = self.settings.mm_samples if self.settings.test_mm and index < self.settings.mm_batches else 1
            for part, embedded in self._embed_batch(batch, generate, samples).items():
                store[part]["text"].append(embedded["text"])
                store[part]["real"].append(embedded["real"])
                store[part]["gen"].append(embedded["gen"][0])
                if samples > 1:
                    store[part]["mm"].append(np.stack(embedded["gen"], axis=1))
        return {part: {key: np.concatenate(arrays) if arrays else None for key, arrays in lists.items()}
                for part, lists in store.items()}

    def _eval_frames(self, motion: torch.Tensor) -> torch.Tensor:
        """Normalised [B, 263, 1, T] -> [B, T, 263] in the evaluator's normalisation (mean_eval/std_eval)."""
        return self.normalizer.renorm4t2m(motion[:, :, 0].permute(0, 2, 1).float())

    def _embed_batch(self, batch: dict, generate: Generate, samples: int) -> dict:
        """{part: {"text", "real": [B, 512], "gen": samples x [B, 512]}}, rows in the evaluator's length order."""
        motions = [self._eval_frames(batch["motion"])]
        for _ in range(samples):
            motion = generate(batch)
            if tuple(motion.shape) != tuple(batch["motion"].shape):
                raise UserError(f"generated motions have shape {list(motion.shape)}, the batch's ground truth "
                                f"{list(batch['motion'].shape)}: the model's max_frames must match the data's")
            motions.append(self._eval_frames(motion))
        out = {}
        for part, evaluator in self.evaluators.items():
            text, real, *generated = co_embeddings(evaluator, batch, motions)
            out[part] = {"text": text, "real": real, "gen": generated}
        return out

    def metrics(self, embeddings: dict, replication: int) -> dict:
        """{part: {metric: value}} of one replication; random pairs from a generator seeded per replication."""
        rng = np.random.default_rng([self.settings.seed, replication])
        return {part: part_metrics(e["text"], e["real"], e["gen"], e["mm"], self.settings, rng)
                for part, e in embeddings.items()}


def co_embeddings(evaluator: T2MEvaluator, batch: dict, motions: list[torch.Tensor]) -> list[np.ndarray]:
    """[text, motion embeddings of motions[0], of motions[1], ...] of one batch, each [B, 512] float32.

    Every motion set [B, T, 263] is read with the batch's GT lengths (docs/original_code.md §9.3) and the rows come
    in `length_order(lengths)`, as `get_co_embeddings` of each set alone would give them; the sets
    go through the evaluator in one call because its GRUs cost about the same for 2B rows as for B.
    """
    copies, lengths = len(motions), batch["lengths"]
    size = len(lengths)
    text, motion = evaluator.get_co_embeddings(
        batch["word_embeddings"].repeat(copies, 1, 1), batch["pos_one_hots"].repeat(copies, 1, 1),
        batch["sent_len"].repeat(copies), torch.cat([m.to(evaluator.device) for m in motions]),
        lengths.repeat(copies))
    stacked_order = torch.from_numpy(length_order(lengths.repeat(copies))).to(evaluator.device)
    batch_order = torch.from_numpy(length_order(lengths)).to(evaluator.device)

    def per_copy(rows: torch.Tensor) -> list[np.ndarray]:
        unsorted = torch.empty_like(rows)
        unsorted[stacked_order] = rows                     # back to input order: copy c is rows c*B..c*B+B-1
        return [chunk[batch_order].float().cpu().numpy() for chunk in unsorted.split(size)]

    return per_copy(text)[:1] + per_copy(motion)


def diversity_times(samples: int, configured: int) -> int:
    """Diversity pairs for a replication of `samples`: `configured`, or 10 when there are not more samples
    than that (the reference's 300-or-10 rule); too few samples for either is a UserError."""
    times = configured if samples > configured else SMALL_DIVERSITY_TIMES
    if samples <= times:
        raise UserError(f"a replication gives {samples} samples; Diversity needs more than {times}: raise "
                        f"test.test_limit or test.batch_size")
    return times


def part_metrics(text: np.ndarray, real: np.ndarray, gen: np.ndarray, mm: np.ndarray | None,
                 settings: ProtocolSettings, rng) -> dict[str, float]:
    """The metrics of one evaluator: text/real/gen [N, 512], mm [N_mm, S, 512] or None.

    R-precision and MM-Dist use complete batches of `batch_size` (a trailing partial batch of the
    "full" mode counts in FID and Diversity only). Diversity draws the GT pairs first, then the
    generated ones, from the same stream, as the reference.
    """
    out = {}
    for suffix, motion in (("_real", real), ("", gen)):
        top = M.r_precision(text, motion, settings.batch_size)
        out.update({f"r_precision_top{k + 1}{suffix}": float(value) for k, value in enumerate(top)})
        out[f"matching_score{suffix}"] = M.matching_score(text, motion, settings.batch_size)
    out["fid"] = M.frechet_distance(*M.calculate_activation_statistics(real),
                                    *M.calculate_activation_statistics(gen))
    times = diversity_times(len(real), settings.diversity_times)
    out["diversity_real"] = M.diversity(real, times, rng)
    out["diversity"] = M.diversity(gen, times, rng)
    if mm is not None:
        out["multimodality"] = M.multimodality(mm, settings.mm_pairs, rng)
    return out


def build_protocol(cfg, device="cpu", log=None, *, quick: bool = False, progress: bool = True) -> Protocol:
    """The protocol of the config: `test.split` of the configured dataset (evaluation items, the model's
    frame count), the `test.eval_part` evaluators from `test.evaluator_dir` (null: data.meta_dir) and
    data.meta_dir's evaluator normalisation. `quick`: the one-replication evaluation during training."""
    t = cfg.test
    settings = ProtocolSettings.from_section(t, cfg.seed, quick)
    parts = parse_parts(t.eval_part)
    folder = t.evaluator_dir or cfg.data.meta_dir
    dataset = build_dataset(t.split, kind="eval", seed=cfg.seed, max_frames=cfg.model.max_frames,
                            progress=progress, **section_kwargs(cfg.data))
    evaluators = load_evaluators(folder, parts, dataset.skeleton.name, device)
    if log is not None:
        log.info(f"evaluation: {len(dataset)} {t.split} items of {cfg.data.data_root}, evaluators "
                 f"{', '.join(parts)} from {folder}")
    return Protocol(dataset, evaluators, dataset.normalizer, settings, log, split=t.split,
                    data_root=str(cfg.data.data_root), evaluator_dir=str(folder))


def training_evaluate_fn(cfg, device, sampler_for: Callable, log=None) -> Callable[[torch.nn.Module, int], dict]:
    """The trainer's `evaluate_fn(model, step) -> {metric: value}`: one replication of `test.quick_batches`.

    `sampler_for(model)` wraps the model being trained in a MotionSampler (e.g.
    `lambda m: crossdiff.inference.build_sampler(cfg, m, device, log, encode_text)`). The protocol
    (split and evaluators) is built once, here. Returns the headline metrics of the main evaluator
    and `fid_upper` / `fid_lower` when those evaluators are configured.
    """
    protocol = build_protocol(cfg, device, log, quick=True, progress=False)

    def evaluate(model: torch.nn.Module, step: int) -> dict[str, float]:
        generate = sampler_generate(sampler_for(model), cfg.test.path, cfg.test.change_idx, seed=cfg.seed + step)
        results = protocol.run(generate, progress=False)["metrics"]
        head = results[protocol.main_part]
        found = {name: head[name]["mean"] for name in ("r_precision_top3", "fid", "matching_score", "diversity",
                                                       "r_precision_top3_real", "matching_score_real")}
        found.update({f"fid_{part}": results[part]["fid"]["mean"] for part in ("upper", "lower")
                      if part in results and part != protocol.main_part})
        return found

    return evaluate
