"""Training a T2M evaluator on any HumanML3D-format folder (Guo et al., CVPR 2022), per body part.

Stage 1 trains the movement encoder as the encoder half of an auto-encoder on random windows of
evaluator-normalised motion (`evaluator_losses.movement_loss`). Stage 2 freezes it and trains the
text and motion encoders with the contrastive margin loss (`evaluator_losses.contrastive_loss`).
After every stage-2 epoch the ground-truth R-precision and matching score on the validation split
decide whether the networks become the new best file, written in the official layout
(`T2MEvaluator.save`). The best weights are then scored on the test split and copied to `out_path`.

Files in the run folder (`<save_dir>/<NAME>/evaluator_<part>/`):
    movement_stage.pt    stage-1 state after the last finished epoch (encoder, decoder, Adam, history)
    coemb_stage.pt       stage-2 state after the last finished epoch (three networks, two Adams, best, history)
    best_<part>.tar      the best evaluator so far, official layout (fresh Adam entries)
    summary.json         settings, per-epoch history, best validation and test metrics, seconds
A killed run resumes at the first unfinished epoch of its stage. Every epoch reseeds the data
order, crops and dropout from (seed, stage, epoch), so a resumed run repeats what the killed run
would have done.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, RandomSampler
from tqdm import tqdm

from crossdiff.data.base import worker_init_fn
from crossdiff.data.collate import eval_collate
from crossdiff.errors import UserError
from crossdiff.evaluation import metrics
from crossdiff.evaluation.evaluator import PARTS, UNIT_LENGTH, T2MEvaluator
from crossdiff.evaluation.evaluator_losses import (MovementConvDecoder, contrastive_loss, eval_motions,
                                                   movement_loss, negative_mask, random_windows)
from crossdiff.io import atomic_path, save_json, torch_load, torch_save
from crossdiff.modes import module_mode

STAGE_FORMAT = "crossdiff-evaluator-stage-1"
MOVEMENT_STATE, COEMB_STATE, SUMMARY = "movement_stage.pt", "coemb_stage.pt", "summary.json"
MOVEMENT, COEMB, VALIDATION = 1, 2, 3      # stage numbers in the per-epoch seeds
NEGATIVES = ("shift", "all")                # stage-2 mismatched pairs (see evaluator_losses)


@dataclasses.dataclass(frozen=True)
class EvaluatorTrainingSettings:
    """The `evaluator:` config section (see configs/base.yaml for each key) plus the global seed."""

    part: str
    out_path: str
    overwrite: bool
    movement_epochs: int
    movement_lr: float
    movement_window: int
    sparsity_weight: float
    smooth_weight: float
    coemb_epochs: int
    coemb_lr: float
    margin: float
    negatives: str
    pairs_per_batch: int
    val_split: str
    test_split: str | None
    val_rounds: int
    loader_workers: int
    torch_threads: int
    progress: bool
    seed: int

    def __post_init__(self):
        if self.part not in PARTS:
            raise UserError(f"evaluator.part={self.part!r} is not a body part; choose one of {', '.join(PARTS)}")
        if self.negatives not in NEGATIVES:
            raise UserError(f"evaluator.negatives={self.negatives!r}: choose one of {', '.join(NEGATIVES)}")
        if self.movement_window < UNIT_LENGTH or self.movement_window % UNIT_LENGTH:
            raise UserError(f"evaluator.movement_window={self.movement_window} must be a positive multiple of "
                            f"{UNIT_LENGTH} frames (one movement token per {UNIT_LENGTH} frames)")
        checks = {"movement_epochs": self.movement_epochs >= 0, "coemb_epochs": self.coemb_epochs >= 1,
                  "pairs_per_batch": self.pairs_per_batch >= 2, "margin": self.margin > 0,
                  "movement_lr": self.movement_lr > 0, "coemb_lr": self.coemb_lr > 0,
                  "val_rounds": self.val_rounds >= 1, "loader_workers": self.loader_workers >= 0,
                  "torch_threads": self.torch_threads >= 0}
        for key, ok in checks.items():
            if not ok:
                raise UserError(f"evaluator.{key}={getattr(self, key)} is out of range (epochs and rounds >= 1, "
                                f"movement_epochs, loader_workers and torch_threads >= 0, pairs_per_batch >= 2, rates and margin > 0)")


def epoch_seed(seed: int, stage: int, epoch: int) -> int:
    return (seed * 1_000_003 + stage * 7919 + epoch) % 2**31


def make_loader(dataset, batch_size: int, seed: int, workers: int = 0) -> DataLoader:
    """Shuffled, drop_last loader of evaluation batches whose order and draws depend only on `seed`."""
    dataset.reseed(seed)
    generator = torch.Generator().manual_seed(seed)
    loader = DataLoader(dataset, batch_size=batch_size, sampler=RandomSampler(dataset, generator=generator),
                        drop_last=True, collate_fn=eval_collate, num_workers=workers,
                        worker_init_fn=worker_init_fn, generator=generator)
    if len(loader) == 0:
        raise UserError(f"the {dataset.split} split of {dataset.data_root} has {len(dataset)} items, fewer than "
                        f"one batch of {batch_size}; use a larger split or lower the batch size")
    return loader


def gt_matching_metrics(evaluator: T2MEvaluator, dataset, normalizer, rounds: int, seed: int, workers: int = 0,
                        progress: bool = False) -> dict:
    """Ground-truth R-precision top-1/2/3 and matching score over `rounds` passes of `dataset`.

    Each pass redraws crops, views and captions and shuffles batches of 32 (the T2M protocol,
    docs/original_code.md §9.4).
    """
    text, motion = [], []
    for r in range(rounds):
        loader = make_loader(dataset, metrics.R_PRECISION_BATCH, epoch_seed(seed, VALIDATION, r), workers)
        for batch in tqdm(loader, desc=f"R-precision {dataset.split}", leave=False, disable=not progress):
            text_emb, motion_emb = evaluator.get_co_embeddings(batch["word_embeddings"], batch["pos_one_hots"],
                                                               batch["sent_len"], eval_motions(batch, normalizer),
                                                               batch["lengths"])
            text.append(text_emb.cpu().numpy())
            motion.append(motion_emb.cpu().numpy())
    text, motion = np.concatenate(text), np.concatenate(motion)
    top = metrics.r_precision(text, motion)
    return {"top1": float(top[0]), "top2": float(top[1]), "top3": float(top[2]),
            "matching_score": metrics.matching_score(text, motion), "samples": len(text)}


def _means(totals: dict, count: int) -> dict:
    return {key: value / count for key, value in totals.items()}


def _load_stage(path: Path) -> dict | None:
    if not path.is_file():
        return None
    state = torch_load(path)
    if not isinstance(state, dict) or state.get("format") != STAGE_FORMAT:
        raise UserError(f"{path} is not an evaluator-training state ({STAGE_FORMAT}); remove it or change NAME")
    return state


def _save_stage(path: Path, **state) -> None:
    torch_save(path, {"format": STAGE_FORMAT, **state})


# ---- stage 1: movement auto-encoder ---------------------------------------------------------


def _movement_batches(evaluator, loader, normalizer, window: int, seed: int, progress: bool, desc: str):
    """(windows [B, W, C] of this part's columns, evaluator-normalised) for each batch of `loader`."""
    generator = torch.Generator().manual_seed(seed)
    for batch in tqdm(loader, desc=desc, leave=False, disable=not progress):
        features = eval_motions(batch, normalizer)[..., evaluator.eval_index.cpu()]
        yield random_windows(features, batch["lengths"], window, generator).to(evaluator.device)


def _movement_epoch(evaluator, decoder, optimizer, loader, normalizer, s, seed: int) -> dict:
    totals = defaultdict(float)
    for windows in _movement_batches(evaluator, loader, normalizer, s.movement_window, seed, s.progress, "movement"):
        tokens = evaluator.movement_encoder(windows)
        loss, parts = movement_loss(windows, tokens, decoder(tokens), s.sparsity_weight, s.smooth_weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        for key, value in {"loss": loss.item(), **parts}.items():
            totals[key] += value
    return _means(totals, len(loader))


def _movement_validation(evaluator, decoder, dataset, normalizer, s) -> float:
    """Mean L1 reconstruction error of one fixed-seed pass of windows over `dataset`."""
    seed = epoch_seed(s.seed, VALIDATION, 0)
    loader = make_loader(dataset, s.pairs_per_batch, seed, s.loader_workers)
    errors = []
    with module_mode(evaluator, decoder, training=False), torch.no_grad():
        for windows in _movement_batches(evaluator, loader, normalizer, s.movement_window, seed, s.progress, "val"):
            errors.append(torch.nn.functional.l1_loss(decoder(evaluator.movement_encoder(windows)), windows).item())
    return float(np.mean(errors))


def train_movement(evaluator: T2MEvaluator, train_set, val_set, s: EvaluatorTrainingSettings, run_dir: Path,
                   log) -> list[dict]:
    """Stage 1: fit `evaluator.movement_encoder` (+ a throw-away decoder); returns the per-epoch history."""
    decoder = MovementConvDecoder(len(evaluator.eval_index)).to(evaluator.device)
    optimizer = torch.optim.Adam([*evaluator.movement_encoder.parameters(), *decoder.parameters()], lr=s.movement_lr)
    path, history = run_dir / MOVEMENT_STATE, []
    state = _load_stage(path)
    if state is not None:
        evaluator.movement_encoder.load_state_dict(state["movement_encoder"])
        decoder.load_state_dict(state["decoder"])
        optimizer.load_state_dict(state["optimizer"])
        history = state["history"]
        log.info(f"stage 1 resumes after epoch {len(history)} ({path})")
    evaluator.movement_encoder.train()
    decoder.train()
    for epoch in tqdm(range(len(history), s.movement_epochs), desc="stage 1 epochs", disable=not s.progress):
        started, seed = time.perf_counter(), epoch_seed(s.seed, MOVEMENT, epoch)
        torch.manual_seed(seed)
        loader = make_loader(train_set, s.pairs_per_batch, seed, s.loader_workers)
        stats = _movement_epoch(evaluator, decoder, optimizer, loader, train_set.normalizer, s, seed)
        val_recon = _movement_validation(evaluator, decoder, val_set, train_set.normalizer, s)
        history.append({"epoch": epoch + 1, **stats, "val_recon": val_recon,
                        "seconds": time.perf_counter() - started})
        _save_stage(path, movement_encoder=evaluator.movement_encoder.state_dict(), decoder=decoder.state_dict(),
                    optimizer=optimizer.state_dict(), history=history)
        log.info(f"stage 1 epoch {epoch + 1}/{s.movement_epochs}: loss {stats['loss']:.4f} "
                 f"(L1 {stats['recon']:.4f}), val L1 {val_recon:.4f}")
    return history


# ---- stage 2: text-motion co-embedding ------------------------------------------------------


def _coemb_step(evaluator, batch, normalizer, optimizers, s) -> dict:
    """One optimiser step on a batch: frozen movement tokens, both embeddings, the contrastive loss."""
    with torch.no_grad():
        movements = evaluator.movements(eval_motions(batch, normalizer))          # [B, T/4, 512]
    motion_emb = evaluator.motion_encoder(movements, batch["lengths"] // UNIT_LENGTH)
    text_emb = evaluator.embed_text(batch["word_embeddings"], batch["pos_one_hots"], batch["sent_len"])
    # Guo's shifted negatives, with the shift drawn from 1..B-1 so a caption never faces its own motion.
    shift = int(torch.randint(1, len(batch["text"]), ())) if s.negatives == "shift" else None
    loss, parts = contrastive_loss(text_emb, motion_emb, negative_mask(batch["text"], shift), s.margin)
    for optimizer in optimizers.values():
        optimizer.zero_grad(set_to_none=True)
    loss.backward()
    for optimizer in optimizers.values():
        optimizer.step()
    return {"loss": loss.item(), **parts}


def _coemb_epoch(evaluator, optimizers, loader, normalizer, s) -> dict:
    totals = defaultdict(float)
    evaluator.train()
    evaluator.movement_encoder.eval()       # frozen: no dropout, as when the evaluator is used
    for batch in tqdm(loader, desc="co-embedding", leave=False, disable=not s.progress):
        for key, value in _coemb_step(evaluator, batch, normalizer, optimizers, s).items():
            totals[key] += value
    return _means(totals, len(loader))


def _is_better(candidate: dict, best: dict | None) -> bool:
    """Higher validation top-1 wins; top-3 breaks ties."""
    return best is None or (candidate["top1"], candidate["top3"]) > (best["top1"], best["top3"])


def train_coembedding(evaluator: T2MEvaluator, train_set, val_set, s: EvaluatorTrainingSettings, run_dir: Path,
                      log, movement_history: list[dict], state: dict | None = None) -> dict:
    """Stage 2 from `state` (a saved coemb_stage.pt, or None); returns the final stage state."""
    evaluator.movement_encoder.requires_grad_(False)
    optimizers = {name: torch.optim.Adam(getattr(evaluator, name).parameters(), lr=s.coemb_lr)
                  for name in ("text_encoder", "motion_encoder")}
    state = state or {"history": [], "best": None, "iteration": 0, "movement_history": movement_history}
    if state["history"]:
        evaluator.load_state_dict(state["networks"])
        for name, optimizer in optimizers.items():
            optimizer.load_state_dict(state["optimizers"][name])
        log.info(f"stage 2 resumes after epoch {len(state['history'])}")
    best_path = run_dir / f"best_{s.part}.tar"
    for epoch in tqdm(range(len(state["history"]), s.coemb_epochs), desc="stage 2 epochs", disable=not s.progress):
        started, seed = time.perf_counter(), epoch_seed(s.seed, COEMB, epoch)
        torch.manual_seed(seed)
        loader = make_loader(train_set, s.pairs_per_batch, seed, s.loader_workers)
        stats = _coemb_epoch(evaluator, optimizers, loader, train_set.normalizer, s)
        state["iteration"] += len(loader)
        val = gt_matching_metrics(evaluator, val_set, train_set.normalizer, s.val_rounds, s.seed, s.loader_workers)
        improved = _is_better(val, state["best"])
        if improved:
            evaluator.save(best_path, epoch=epoch + 1, iteration=state["iteration"])
            state["best"] = {"epoch": epoch + 1, **val}
        state["history"].append({"epoch": epoch + 1, **stats, **{f"val_{k}": v for k, v in val.items()},
                                 "seconds": time.perf_counter() - started})
        state.update(networks=evaluator.state_dict(), optimizers={n: o.state_dict() for n, o in optimizers.items()})
        _save_stage(run_dir / COEMB_STATE, **state)
        log.info(f"stage 2 epoch {epoch + 1}/{s.coemb_epochs}: loss {stats['loss']:.3f} (pos {stats['positive']:.3f}, "
                 f"neg {stats['negative']:.3f}); val R-precision {val['top1']:.3f}/{val['top2']:.3f}/"
                 f"{val['top3']:.3f}, matching score {val['matching_score']:.3f}{' (best)' if improved else ''}")
    return state


# ---- both stages, the published file and the summary ----------------------------------------


def check_out_path(out_path, run_dir: Path, overwrite: bool) -> Path:
    """`out_path` as a Path; refuses to replace a file this run did not write unless `overwrite`."""
    out_path = Path(out_path)
    if out_path.is_dir():
        raise UserError(f"evaluator.out_path={out_path} is a folder; give a file such as {out_path}/all.tar")
    if not out_path.exists() or overwrite:
        return out_path
    summary = run_dir / SUMMARY
    if summary.is_file() and json.loads(summary.read_text()).get("out_path") == str(out_path.resolve()):
        return out_path
    raise UserError(f"evaluator.out_path={out_path} already exists (an official or earlier evaluator?); set "
                    f"evaluator.overwrite=true to replace it, or evaluator.out_path to another file")


def _publish(best_path: Path, out_path: Path) -> None:
    with atomic_path(out_path) as tmp:
        shutil.copyfile(best_path, tmp)


def fit_evaluator(train_set, val_set, test_set, s: EvaluatorTrainingSettings, run_dir, log,
                  device: str = "cpu") -> dict:
    """Run (or resume) both stages, score the best weights on `test_set` (None skips), copy them to
    `s.out_path` and write summary.json; returns the summary."""
    run_dir = Path(run_dir)
    out_path = check_out_path(s.out_path, run_dir, s.overwrite)
    if s.movement_window > train_set.max_frames:
        raise UserError(f"evaluator.movement_window={s.movement_window} exceeds the {train_set.max_frames} frames "
                        f"of an item (model.max_frames)")
    normalizer = train_set.normalizer
    own_stats = np.array_equal(normalizer.mean_eval, normalizer.mean) and np.array_equal(normalizer.std_eval, normalizer.std)
    log.info(f"training the {s.part!r} evaluator on {train_set.data_root} ({len(train_set)} train items); motions "
             f"normalised with {'Mean/Std (no mean_eval.npy)' if own_stats else 'mean_eval/std_eval'}")
    evaluator = T2MEvaluator(s.part, train_set.skeleton.name).to(device)
    state = _load_stage(run_dir / COEMB_STATE)
    if state is None:
        movement_history = train_movement(evaluator, train_set, val_set, s, run_dir, log)
    else:
        movement_history = state["movement_history"]
        log.info("stage 1 already finished in this run")
    state = train_coembedding(evaluator, train_set, val_set, s, run_dir, log, movement_history, state)
    best_path = run_dir / f"best_{s.part}.tar"
    best = T2MEvaluator.load(best_path, s.part, train_set.skeleton.name, device)
    test = None
    if test_set is not None:
        test = gt_matching_metrics(best, test_set, normalizer, s.val_rounds, s.seed, s.loader_workers, s.progress)
        log.info(f"best epoch {state['best']['epoch']} on the {test_set.split} split: R-precision "
                 f"{test['top1']:.3f}/{test['top2']:.3f}/{test['top3']:.3f}, matching score "
                 f"{test['matching_score']:.3f} (chance top-1 {1 / metrics.R_PRECISION_BATCH:.3f})")
    _publish(best_path, out_path)
    summary = {"part": s.part, "skeleton": train_set.skeleton.name, "data_root": str(train_set.data_root),
               "out_path": str(out_path.resolve()), "eval_statistics": "Mean/Std" if own_stats else "mean_eval/std_eval",
               "chance_top1": 1 / metrics.R_PRECISION_BATCH, "best_val": state["best"], "test": test,
               "train_seconds": sum(e["seconds"] for e in movement_history + state["history"]),
               "movement_history": movement_history, "coemb_history": state["history"],
               "settings": dataclasses.asdict(s)}
    save_json(run_dir / SUMMARY, summary)
    log.info(f"wrote {out_path} and {run_dir / SUMMARY}")
    return summary
