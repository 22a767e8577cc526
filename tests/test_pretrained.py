"""The shipped pretrained model: export (bf16, sha256, config, statistics) and the fallback when no checkpoint exists."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from train_helpers import tiny_config, tiny_overrides

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def shipped(tmp_path_factory, data_root) -> Path:
    """A shipped-model folder exported from a run holding one random tiny CrossDiff checkpoint."""
    from crossdiff.config import section_kwargs
    from crossdiff.io import torch_save
    from crossdiff.model import build_model
    from pretrained import export_pretrained

    work = tmp_path_factory.mktemp("ship")
    cfg = tiny_config(work, data_root, "diffusion.guidance_scale=1.5")
    torch.manual_seed(0)
    run = work / "save" / "tiny"
    torch_save(run / "checkpoints" / "step00000003.pt", build_model(**section_kwargs(cfg.model)).state_dict())
    (run / "log.txt").write_text("[00:00:01] step 2 epoch 0 loss=0.9 lr=1.00e-03 2.00 steps/s\n")
    return export_pretrained(run, cfg, None, work / "weights")


def test_export_writes_bf16_weights_with_their_sha256_config_and_statistics(shipped):
    from crossdiff.weights import sha256_of

    manifest = json.loads((shipped / "manifest.json").read_text())
    state = torch.load(shipped / manifest["weights"], weights_only=True)
    assert {v.dtype for v in state.values() if v.is_floating_point()} == {torch.bfloat16}
    assert manifest["sha256"] == sha256_of(shipped / "model.pt") and manifest["dtype"] == "bfloat16"
    assert all((shipped / name).is_file() for name in manifest["statistics"])
    assert "latent_dim: 32" in (shipped / "config.yaml").read_text()
    assert "| 2 | loss=0.9 |" in (shipped / "training.md").read_text()
    assert manifest["sha256"] in (shipped / "README.md").read_text()


def _generate_args(tmp_path, data_root, shipped, *extra) -> list[str]:
    """generate.py on the FULL-SIZE stage config with no checkpoint anywhere: only the shipped model fits."""
    return ["--cfg", str(REPO / "configs" / "crossdiff_finetune.yaml"), f"save_dir={tmp_path / 'save'}",
            "NAME=nothing_trained", f"pretrained_dir={shipped}", f"text_encoder.cache_dir={tmp_path / 'cache'}",
            "generate.video=false", "--text", "a person jumps", *extra]


def test_generate_falls_back_to_the_shipped_model_and_says_so(tmp_path, data_root, shipped, capsys):
    import generate

    assert generate.cli(_generate_args(tmp_path, data_root, shipped)) == 0
    out = tmp_path / "save" / "nothing_trained" / "generate"
    index = json.loads((out / "index.json").read_text())
    assert Path(index["checkpoint"]) == shipped / "model.pt"
    assert index["guidance_scale"] == 1.5                 # left at its default: the shipped model's value
    resolved = (out / "config.yaml").read_text()
    assert "latent_dim: 32" in resolved and f"meta_dir: {shipped}" in resolved
    assert "using the shipped pretrained model" in capsys.readouterr().err + (out / "log.txt").read_text()
    assert generate.cli(_generate_args(tmp_path, data_root, shipped, "diffusion.guidance_scale=3.0")) == 0
    assert json.loads((out / "index.json").read_text())["guidance_scale"] == 3.0   # what the user set wins
    assert generate.cli(_generate_args(tmp_path, data_root, shipped, "diffusion.guidance_scale=1.0")) == 0
    assert json.loads((out / "index.json").read_text())["guidance_scale"] == 1.0   # even base.yaml's default


def test_a_shipped_config_older_than_a_sampling_key_gets_its_default(tmp_path, data_root, shipped):
    """Shipped folders exported before diffusion.guidance_min_timestep existed still load: base.yaml's value."""
    import shutil

    import generate

    older = shutil.copytree(shipped, tmp_path / "older")
    config = older / "config.yaml"
    lines = config.read_text().splitlines(keepends=True)
    config.write_text("".join(line for line in lines if "guidance_min_timestep" not in line))
    assert generate.cli(_generate_args(tmp_path, data_root, older)) == 0
    index = json.loads((tmp_path / "save" / "nothing_trained" / "generate" / "index.json").read_text())
    assert index["guidance_min_timestep"] == 0 and index["guidance_scale"] == 1.5


def test_a_given_or_trained_checkpoint_wins_over_the_shipped_model(tmp_path, data_root, shipped):
    from crossdiff.config import load_config
    from crossdiff.inference import resolve_model

    own = tmp_path / "own.pt"
    own.write_bytes((shipped / "model.pt").read_bytes())
    cfg = load_config(None, tiny_overrides(tmp_path, data_root) + [f"pretrained_dir={shipped}", f"test_checkpoint={own}"])
    resolved = resolve_model(cfg)
    assert resolved.checkpoint == own and not resolved.shipped and resolved.cfg is cfg
    cfg = load_config(None, tiny_overrides(tmp_path, data_root) + [f"pretrained_dir={shipped}"])
    resolved = resolve_model(cfg)
    assert resolved.shipped and "no checkpoint given" in resolved.note
    assert resolved.cfg.test.evaluator_dir == str(data_root)   # evaluated where it was trained
    cfg = load_config(None, tiny_overrides(tmp_path, data_root) + [f"pretrained_dir={shipped}",
                                                                     "diffusion.guidance_scale=1.0"])
    twice = resolve_model(resolve_model(cfg).cfg)   # test.py resolves, then its sampler loader resolves again
    assert twice.shipped and twice.cfg.diffusion.guidance_scale == 1.0   # the user's value, though the default
    demo = load_config(REPO / "configs" / "demo_finetune.yaml",          # a stage file sampling at guidance 2.5
                       tiny_overrides(tmp_path, data_root, "no_run") + [f"pretrained_dir={shipped}"])
    assert demo.diffusion.guidance_scale == 2.5
    assert resolve_model(demo).cfg.diffusion.guidance_scale == 1.5      # chosen for its own model: the shipped wins


def test_a_damaged_shipped_model_or_none_at_all_is_a_clear_error(tmp_path, data_root, shipped, capsys):
    import shutil

    import generate

    damaged = tmp_path / "damaged"
    shutil.copytree(shipped, damaged)
    with open(damaged / "model.pt", "ab") as f:
        f.write(b"\0")
    assert generate.cli(_generate_args(tmp_path, data_root, damaged)) == 2
    assert "sha256" in capsys.readouterr().err
    assert generate.cli(_generate_args(tmp_path, data_root, "null")) == 2
    assert "no checkpoint found" in capsys.readouterr().err


def test_reevaluate_takes_the_recipes_sampling_and_rewrites_only_the_reports(tmp_path, shipped, monkeypatch):
    """`pretrained.py --evaluate`: the shipped model (not a trained run) is evaluated with the recipe's
    sampler and guidance; config.yaml, evaluation.md and README.md follow; weights and manifest stay."""
    import shutil

    import pretrained
    import test as test_script
    from crossdiff.evaluation.report import build_report
    from crossdiff.inference import resolve_model

    folder = tmp_path / "shipped"
    shutil.copytree(shipped, folder)
    before = {name: (folder / name).read_bytes() for name in ("model.pt", "manifest.json")}
    seen = []

    def evaluate(cfg):
        resolved = resolve_model(cfg)
        seen.append(resolved)
        summary = {"mean": 0.5, "conf": 0.01}
        results = {"protocol": {"test_limit": None, "replications": cfg.test.replications, "batch_size": 32,
                                "samples": 10, "split": "test", "parts": ["all"], "evaluator_dir": "ev",
                                "test_mm": False}, "seconds": 1.0,
                   "metrics": {"all": {"r_precision_top3": summary, "fid": summary}}}
        sampler = {key: resolved.cfg.diffusion[key] for key in ("sampler", "sampling_steps", "guidance_scale")}
        return build_report(results, name="shipped", checkpoint=str(resolved.checkpoint), config={},
                            sampler={**sampler, "diffusion_steps": 1000, "path": "3d"})

    monkeypatch.setattr(pretrained, "make_dataset", lambda data: None)
    monkeypatch.setattr(pretrained, "make_evaluator", lambda data: None)
    monkeypatch.setattr(test_script, "main", evaluate)
    assert pretrained.cli(["--evaluate", "--out", str(folder), "--data", str(tmp_path / "data")]) == 0
    recipe = pretrained._config("pretrained_synthetic.yaml", tmp_path / "data", [])
    (resolved,) = seen
    assert resolved.shipped and resolved.checkpoint == (folder / "model.pt").resolve()
    assert resolved.cfg.diffusion.guidance_scale == recipe.diffusion.guidance_scale != 1.5
    assert f"guidance_scale: {recipe.diffusion.guidance_scale}" in (folder / "config.yaml").read_text()
    assert f"guidance scale {recipe.diffusion.guidance_scale}" in (folder / "evaluation.md").read_text()
    assert "| shipped | 0.500±0.010 |" in (folder / "README.md").read_text()
    assert before == {name: (folder / name).read_bytes() for name in before}


def test_reevaluate_without_an_exported_folder_is_a_user_error(tmp_path, capsys):
    import pretrained

    assert pretrained.cli(["--evaluate", "--out", str(tmp_path / "nothing")]) == 2
    assert "manifest.json" in capsys.readouterr().err
