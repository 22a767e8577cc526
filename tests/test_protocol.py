"""The evaluation protocol end to end on a tiny synthetic folder with random-weight evaluators.

Every FID costs a 512 x 512 matrix square root (seconds on a busy CPU), so the runs are shared
through module fixtures and each test run keeps to few replications and evaluator parts.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from crossdiff.config import load_config, section_kwargs
from crossdiff.errors import UserError
from crossdiff.evaluation.evaluator import T2MEvaluator
from crossdiff.evaluation.protocol import (Protocol, ProtocolSettings, co_embeddings, load_evaluators,
                                           parse_parts, parse_test_limit, training_evaluate_fn)
from crossdiff.evaluation.report import build_report, report_markdown, results_table, save_report, summarize

REPO = Path(__file__).resolve().parents[1]
CLIPS = 40            # the synthetic 15% test split: 6 clips and their mirrors, 12 items
FRAMES = 48           # model.max_frames: short windows keep the evaluator cheap
BATCH = 4


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    from prepare.synthetic import make_tiny_dataset

    return make_tiny_dataset(tmp_path_factory.mktemp("synthetic") / "data", clips=CLIPS, seed=0)


@pytest.fixture(scope="module")
def evaluator_dir(tmp_path_factory):
    """Seeded random evaluators for `all` and `lower`, saved in the official layout."""
    out = tmp_path_factory.mktemp("evaluators")
    for seed, part in enumerate(("all", "lower")):
        torch.manual_seed(seed)
        T2MEvaluator(part).save(out / f"{part}.tar")
    return out


def overrides(folder, evaluator_dir, *extra: str) -> list[str]:
    return [f"data.data_root={folder}", f"data.meta_dir={folder}", f"data.glove_dir={folder / 'glove'}",
            f"model.max_frames={FRAMES}", "seed=5", "device=cpu", f"test.batch_size={BATCH}", "test.test_limit=3",
            f"test.evaluator_dir={evaluator_dir}", *extra]


@pytest.fixture(scope="module")
def protocol(folder, evaluator_dir):
    from crossdiff.evaluation.protocol import build_protocol

    cfg = load_config(overrides=overrides(folder, evaluator_dir, "test.replications=2", "test.eval_part=[all,lower]"))
    return build_protocol(cfg, progress=False)


def ground_truth(batch: dict) -> torch.Tensor:
    return batch["motion"]


@pytest.fixture(scope="module")
def gt_results(protocol):
    return protocol.run(ground_truth, progress=False)


class Recorder(torch.utils.data.Dataset):
    """A dataset that remembers which items were read."""

    def __init__(self, dataset):
        self.dataset, self.seen = dataset, []

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        self.seen.append(index)
        return self.dataset[index]

    def reseed(self, seed):
        self.dataset.reseed(seed)


class NoiseGenerator:
    """generate(batch): Gaussian noise shaped like the batch's motion; counts its calls."""

    def __init__(self):
        self.calls, self.rng = 0, torch.Generator().manual_seed(0)

    def __call__(self, batch):
        self.calls += 1
        return torch.randn(batch["motion"].shape, generator=self.rng)


def mm_protocol(protocol, **changes) -> Protocol:
    settings = dict(replications=1, test_limit=None, batch_size=5, test_mm=True, mm_batches=1, mm_samples=3,
                    mm_pairs=2, seed=11)
    settings.update(changes)
    return Protocol(Recorder(protocol.dataset), {"all": protocol.evaluators["all"]}, protocol.normalizer,
                    ProtocolSettings(**settings))


def test_ground_truth_as_generation_gives_zero_fid_and_the_real_scores(gt_results):
    for part in ("all", "lower"):
        metrics = gt_results["metrics"][part]
        assert abs(metrics["fid"]["mean"]) < 1e-2
        for name in ("r_precision_top1", "r_precision_top2", "r_precision_top3", "matching_score"):
            np.testing.assert_allclose(metrics[name]["values"], metrics[f"{name}_real"]["values"], rtol=1e-6)
    assert gt_results["protocol"]["samples"] == 3 * BATCH
    scores = {part: gt_results["metrics"][part]["matching_score"]["mean"] for part in ("all", "lower")}
    assert scores["all"] != scores["lower"]      # two evaluators, two embeddings


def test_replications_give_mean_and_the_95_percent_interval(gt_results):
    for name, summary in gt_results["metrics"]["all"].items():
        values = np.array(summary["values"])
        assert len(values) == 2, name
        assert summary["mean"] == pytest.approx(values.mean())
        assert summary["conf"] == pytest.approx(1.96 * values.std(ddof=0) / math.sqrt(2))
    # each replication reshuffles the split and redraws crops and captions
    assert len(set(gt_results["metrics"]["all"]["diversity_real"]["values"])) == 2


def test_a_replication_is_a_function_of_seed_and_replication(protocol):
    def first_batch(replication):
        return next(iter(protocol.loader(replication)))

    a, b, c = first_batch(0), first_batch(0), first_batch(1)
    assert torch.equal(a["motion"], b["motion"]) and a["text"] == b["text"]
    assert not torch.equal(a["motion"], c["motion"])


def test_full_split_noise_and_multimodality(protocol, gt_results):
    p = mm_protocol(protocol)
    generate = NoiseGenerator()
    results = p.run(generate, progress=False)
    assert sorted(p.dataset.seen) == list(range(len(p.dataset))) == list(range(12))   # every item once
    assert results["protocol"]["samples"] == 12 and results["protocol"]["test_limit"] is None
    assert results["protocol"]["mm_texts"] == 5
    assert generate.calls == 3 + 1 + 1          # 3 samples for the MultiModality batch, 1 for the others
    metrics = results["metrics"]["all"]
    gt_fid = gt_results["metrics"]["all"]["fid"]["mean"]
    assert metrics["fid"]["mean"] > 10 and metrics["fid"]["mean"] > 1000 * abs(gt_fid)
    assert metrics["multimodality"]["mean"] > 0
    sampler = {"sampler": "ddpm", "sampling_steps": 1000, "diffusion_steps": 1000, "ddim_eta": 0.0,
               "guidance_scale": 1.0, "path": "3d", "change_idx": 300}
    page = report_markdown(build_report(results, name="noise", checkpoint=None, sampler=sampler, config={}))
    assert "MultiModality on 5 texts x 3 samples" in page and "1 replications x the whole split in batches of 5 (12 samples each)" in page
    assert "| MModality ↑ |" in page


def test_multimodality_embeddings_have_one_row_per_text_and_sample(protocol):
    p = mm_protocol(protocol, mm_batches=2, mm_samples=4)
    embedded = p.embed(NoiseGenerator(), 0, progress=False)["all"]
    assert embedded["mm"].shape == (10, 4, 512)
    np.testing.assert_array_equal(embedded["mm"][:, 0], embedded["gen"][:10])   # the first sample doubles as gen
    assert embedded["gen"].shape == embedded["real"].shape == embedded["text"].shape == (12, 512)


def test_joint_embedding_equals_separate_evaluator_calls(protocol):
    evaluator = protocol.evaluators["lower"]
    batch = next(iter(protocol.loader(0)))
    batch["lengths"] = torch.tensor([44, 48, 40, 44])          # ties: the order must still match
    real = protocol._eval_frames(batch["motion"])
    noise = torch.randn_like(real)
    text, real_emb, noise_emb = co_embeddings(evaluator, batch, [real, noise])
    text_ref, real_ref = evaluator.get_co_embeddings(batch["word_embeddings"], batch["pos_one_hots"],
                                                     batch["sent_len"], real, batch["lengths"])
    noise_ref = evaluator.get_motion_embeddings(noise, batch["lengths"])
    for ours, ref in ((text, text_ref), (real_emb, real_ref), (noise_emb, noise_ref)):
        np.testing.assert_allclose(ours, ref.numpy(), rtol=1e-4, atol=1e-5)


def test_results_files_hold_the_table_rows(gt_results, tmp_path):
    sampler = {"sampler": "ddim", "sampling_steps": 50, "diffusion_steps": 1000, "ddim_eta": 0.0,
               "guidance_scale": 2.5, "path": "mixture", "change_idx": 300}
    report = build_report(gt_results, name="tinymodel", checkpoint="save/x/checkpoints/step1.pt", sampler=sampler,
                          config={"NAME": "tinymodel"}, tag="t1")
    json_path, md_path = save_report(report, tmp_path / "eval", "t1")
    assert sorted(p.name for p in (tmp_path / "eval").iterdir()) == ["t1.json", "t1.md"]   # no temp files left
    saved = json.loads(json_path.read_text())
    assert saved["checkpoint"] == "save/x/checkpoints/step1.pt" and saved["config"] == {"NAME": "tinymodel"}
    assert saved["sampler"]["change_idx"] == 300 and saved["protocol"]["replications"] == 2
    assert saved["metrics"]["lower"]["fid"]["values"] == gt_results["metrics"]["lower"]["fid"]["values"]
    page = md_path.read_text()
    assert "| Real motion |" in page and "| tinymodel |" in page and "change_idx 300" in page
    assert "FID-L" in page and "FID-U" not in page and "MModality" not in page


def test_table_follows_the_paper_layout():
    def s(mean):
        return {"mean": mean, "conf": 0.01, "values": [mean]}

    head = {"r_precision_top1": s(0.4), "r_precision_top2": s(0.6), "r_precision_top3": s(0.73), "fid": s(0.162),
            "matching_score": s(3.358), "diversity": s(9.577), "multimodality": s(2.1),
            "r_precision_top1_real": s(0.5), "r_precision_top2_real": s(0.7), "r_precision_top3_real": s(0.797),
            "matching_score_real": s(2.974), "diversity_real": s(9.503)}
    table = results_table({"lower": {"fid": s(0.281)}, "all": head, "upper": {"fid": s(0.118)}}, "CrossDiff")
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()]
    header, _, real, model = rows
    assert header == ["Method", "R-Precision Top-1 ↑", "Top-2 ↑", "Top-3 ↑", "FID ↓", "MM-Dist ↓", "Diversity →",
                      "MModality ↑", "FID-U ↓", "FID-L ↓"]
    assert real == ["Real motion", "0.500±0.010", "0.700±0.010", "0.797±0.010", "–", "2.974±0.010",
                    "9.503±0.010", "–", "–", "–"]
    assert model[0] == "CrossDiff" and model[3] == "0.730±0.010" and model[-2:] == ["0.118±0.010", "0.281±0.010"]
    assert summarize([1.0, 3.0])["conf"] == pytest.approx(1.96 * 1.0 / math.sqrt(2))


def test_missing_evaluator_says_how_to_get_one(tmp_path, evaluator_dir):
    with pytest.raises(UserError, match="download_t2m_evaluators.sh.*train_evaluator.py"):
        load_evaluators(tmp_path, ["all"])
    with pytest.raises(UserError, match="'upper' evaluator"):
        load_evaluators(evaluator_dir, ["all", "upper"])


def test_settings_come_from_the_test_section(tmp_path):
    stage = tmp_path / "stage.yaml"
    stage.write_text("test:\n  test_limit: full\n  test_mm: true\n  replications: 4\n  quick_batches: 2\n")
    section = load_config(stage).test
    settings = ProtocolSettings.from_section(section, seed=9)
    assert (settings.test_limit, settings.test_mm, settings.replications, settings.seed) == (None, True, 4, 9)
    quick = ProtocolSettings.from_section(section, seed=9, quick=True)
    assert (quick.test_limit, quick.test_mm, quick.replications) == (2, False, 1)


def test_settings_are_checked():
    assert parse_test_limit("full") is None and parse_test_limit("7") == 7 and parse_test_limit(20) == 20
    for bad in (0, -3, "some", 2.5, True):
        with pytest.raises(UserError, match="test_limit"):
            parse_test_limit(bad)
    assert parse_parts("all") == ("all",) and parse_parts("lower, all,lower") == ("lower", "all")
    assert parse_parts(["upper", "lower"]) == ("upper", "lower")
    with pytest.raises(UserError, match="eval_part"):
        parse_parts("feet")
    with pytest.raises(UserError, match="mm_samples"):
        ProtocolSettings(test_mm=True, mm_samples=10, mm_pairs=10)
    with pytest.raises(UserError, match="replications"):
        ProtocolSettings(replications=0)


def test_a_split_smaller_than_a_batch_is_a_user_error(protocol):
    p = Protocol(protocol.dataset, protocol.evaluators, protocol.normalizer, ProtocolSettings(batch_size=64))
    with pytest.raises(UserError, match="lower test.batch_size"):
        p.loader(0)
    with pytest.raises(UserError, match="Diversity needs more than 10"):
        Protocol(protocol.dataset, {"all": protocol.evaluators["all"]}, protocol.normalizer,
                 ProtocolSettings(batch_size=BATCH, test_limit=2, replications=1)).run(ground_truth, progress=False)


class FakeSampler:
    """MotionSampler's sampling interface, returning noise of the model's frame count."""

    device = "cpu"

    def __init__(self):
        self.calls = []

    def sample(self, captions, *, path, scale, change_idx, generator, progress):
        self.calls.append((len(captions), path, change_idx, generator))
        return {"motion": torch.randn(len(captions), 263, 1, FRAMES, generator=generator)}


def test_training_hook_runs_one_quick_replication(folder, evaluator_dir):
    cfg = load_config(overrides=overrides(folder, evaluator_dir, "test.quick_batches=3", "test.path=mixture",
                                          "test.change_idx=120", "test.eval_part=[all,lower]"))
    models, sampler = [], FakeSampler()

    def sampler_for(model):
        models.append(model)
        return sampler

    evaluate = training_evaluate_fn(cfg, "cpu", sampler_for)
    model = torch.nn.Linear(1, 1)
    metrics = evaluate(model, 500)
    assert models == [model]
    assert [call[:3] for call in sampler.calls] == [(BATCH, "mixture", 120)] * 3
    assert all(isinstance(call[3], torch.Generator) for call in sampler.calls)
    assert set(metrics) == {"r_precision_top3", "fid", "matching_score", "diversity", "r_precision_top3_real",
                            "matching_score_real", "fid_lower"}
    assert all(isinstance(v, float) and math.isfinite(v) for v in metrics.values())


def load_test_entry():
    spec = importlib.util.spec_from_file_location("crossdiff_test_entry", REPO / "test.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_exits_2_without_evaluators(folder, tmp_path):
    entry = load_test_entry()
    code = entry.cli(["--cfg", str(REPO / "configs" / "base.yaml"),
                      *overrides(folder, tmp_path / "none", f"save_dir={tmp_path / 'save'}")])
    assert code == 2
    assert not (tmp_path / "save").exists()      # nothing is written before the inputs are checked


@pytest.mark.slow
def test_main_evaluates_a_random_tiny_model_end_to_end(folder, evaluator_dir, tmp_path):
    for name in ("crossdiff.model", "crossdiff.diffusion", "crossdiff.text_encoder"):
        pytest.importorskip(name, reason=f"{name} has not landed yet")
    from crossdiff.io import torch_save
    from crossdiff.model import build_model

    cfg_overrides = overrides(folder, evaluator_dir, f"save_dir={tmp_path / 'save'}", "NAME=tiny",
                              "model.latent_dim=32", "model.ff_size=64", "model.layers=1", "model.layers2=2",
                              "model.num_heads=2", "text_encoder.clip_weights=random",
                              f"text_encoder.cache_dir={tmp_path / 'clip_cache'}", "diffusion.sampler=ddim",
                              "diffusion.sampling_steps=2", "test.replications=1", "test.tag=e2e")
    cfg = load_config(overrides=cfg_overrides)
    torch.manual_seed(0)
    checkpoint = tmp_path / "random_tiny.pt"
    torch_save(checkpoint, build_model(**section_kwargs(cfg.model)).state_dict())
    cfg = load_config(overrides=cfg_overrides + [f"test_checkpoint={checkpoint}"])

    report = load_test_entry().main(cfg)

    eval_dir = tmp_path / "save" / "tiny" / "eval"
    assert (eval_dir / "e2e.json").is_file() and (eval_dir / "e2e.md").is_file()
    saved = json.loads((eval_dir / "e2e.json").read_text())
    assert saved["checkpoint"] == str(checkpoint) and saved["config"]["test_checkpoint"] == str(checkpoint)
    assert saved["sampler"] == {"sampler": "ddim", "sampling_steps": 2, "diffusion_steps": 1000, "ddim_eta": 0.0,
                                "guidance_scale": 1.0, "guidance_min_timestep": 0, "precision": "float32", "path": "3d", "change_idx": 300}
    metrics = report["metrics"]["all"]
    assert saved["protocol"]["samples"] == 3 * BATCH and metrics["fid"]["mean"] > 0
    assert all(math.isfinite(m["mean"]) for m in metrics.values())
    assert "| tiny |" in (eval_dir / "e2e.md").read_text()
    # The folder's meta.json names each clip's family: the per-family fidelity table comes with the report.
    assert saved["families"] and {"family", "statistic", "real", "generated", "pass"} <= set(saved["families"][0])
    assert "## Per-family fidelity" in (eval_dir / "e2e.md").read_text()
