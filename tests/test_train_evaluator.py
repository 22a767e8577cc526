"""train_evaluator.py and crossdiff.evaluation.training: both stages on a tiny synthetic folder, the
official file layout, resume, and the losses on hand-made numbers.

The networks keep their official sizes (the file must load strictly), so the tiny config shrinks the
data instead: a 20-clip synthetic folder, 48-frame items, batches of 8, one or two epochs.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch

from crossdiff.config import load_config
from crossdiff.errors import UserError
from crossdiff.evaluation.evaluator import NETWORK_KEYS, T2MEvaluator
from crossdiff.evaluation.evaluator_losses import contrastive_loss, negative_mask, random_windows
from crossdiff.io import torch_load

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
import train_evaluator  # noqa: E402  (the entry script at the repository root)

OFFICIAL_KEYS = set(NETWORK_KEYS) | {"opt_text_encoder", "opt_motion_encoder", "epoch", "iter"}


@pytest.fixture(scope="module", autouse=True)
def restore_torch_threads():
    """main() applies evaluator.torch_threads to the whole process; give later test files their default back."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    from prepare.synthetic import make_tiny_dataset

    return make_tiny_dataset(tmp_path_factory.mktemp("synthetic") / "data", clips=20, seed=3)


def tiny_cfg(folder: Path, save_dir: Path, name: str, *overrides: str):
    """The demo config on the tiny folder; R-precision batches of 32 need the train split (36 items).
    One torch thread, as the demo: on a shared 2-core machine two are several times slower."""
    return load_config(REPO / "configs" / "demo_evaluator.yaml", [
        f"data.data_root={folder}", f"data.meta_dir={folder}", f"data.glove_dir={folder}/glove",
        f"save_dir={save_dir}", f"NAME={name}", "model.max_frames=48", "evaluator.pairs_per_batch=8",
        "evaluator.movement_epochs=1", "evaluator.coemb_epochs=2", "evaluator.coemb_lr=1e-3",
        "evaluator.val_split=train", "evaluator.test_split=null", "evaluator.val_rounds=1",
        "evaluator.progress=false", "evaluator.torch_threads=1", f"evaluator.out_path={save_dir}/{name}.tar",
        *overrides])


@pytest.fixture(scope="module")
def full_run(folder, tmp_path_factory):
    """An uninterrupted run of the `all` evaluator: (config, summary)."""
    save_dir = tmp_path_factory.mktemp("save")
    cfg = tiny_cfg(folder, save_dir, "full")
    return cfg, train_evaluator.main(cfg)


def test_writes_an_official_file_that_loads_strictly(full_run):
    cfg, summary = full_run
    out_path = Path(cfg.evaluator.out_path)
    assert set(torch_load(out_path)) == OFFICIAL_KEYS
    evaluator = T2MEvaluator.load(out_path, "all")
    assert evaluator.movement_encoder.main[0].weight.shape == (512, 259, 4)
    with pytest.raises(UserError, match="'all' evaluator"):
        T2MEvaluator.load(out_path, "upper")
    run = Path(cfg.save_dir) / "full" / "evaluator_all"
    best = torch_load(run / "best_all.tar")
    assert all(torch.equal(best["motion_encoder"][k], v) for k, v in evaluator.motion_encoder.state_dict().items())
    assert (run / "config.yaml").is_file() and (run / "summary.json").is_file()
    assert summary["best_val"]["epoch"] in (1, 2) and summary["test"] is None


def test_the_file_is_the_best_epoch_and_scores_as_reported(full_run, folder):
    """Re-scoring the published weights on the validation split reproduces the best epoch's numbers."""
    from crossdiff.config import section_kwargs
    from crossdiff.data.registry import build_dataset
    from crossdiff.evaluation.training import gt_matching_metrics

    cfg, summary = full_run
    history = summary["coemb_history"]
    best = summary["best_val"]
    assert best["top1"] == max(epoch["val_top1"] for epoch in history)
    dataset = build_dataset("train", seed=cfg.seed, max_frames=48, kind="eval", progress=False,
                            **section_kwargs(cfg.data))
    scores = gt_matching_metrics(T2MEvaluator.load(cfg.evaluator.out_path), dataset, dataset.normalizer,
                                 rounds=1, seed=cfg.seed)
    assert scores["top1"] == pytest.approx(best["top1"])
    assert scores["matching_score"] == pytest.approx(best["matching_score"], rel=1e-4)


def test_contrastive_loss_falls(full_run):
    _, summary = full_run
    first, last = summary["coemb_history"][0], summary["coemb_history"][-1]
    assert last["loss"] < first["loss"]
    assert summary["movement_history"][0]["recon"] > 0


def test_resume_continues_where_the_run_stopped(full_run, folder, tmp_path):
    """One epoch, then the same run asked for two: stage 1 is not redone and epoch 2 equals the full run's."""
    _, full = full_run
    first = train_evaluator.main(tiny_cfg(folder, tmp_path, "resume", "evaluator.coemb_epochs=1"))
    stage1 = tmp_path / "resume" / "evaluator_all" / "movement_stage.pt"
    stamp = stage1.stat().st_mtime_ns
    second = train_evaluator.main(tiny_cfg(folder, tmp_path, "resume"))
    assert stage1.stat().st_mtime_ns == stamp
    assert len(second["coemb_history"]) == 2
    assert second["coemb_history"][0] == first["coemb_history"][0]
    for resumed, uninterrupted in zip(second["coemb_history"], full["coemb_history"]):
        assert resumed["loss"] == pytest.approx(uninterrupted["loss"], rel=1e-4)
        assert resumed["val_top1"] == pytest.approx(uninterrupted["val_top1"])


def test_lower_body_evaluator(folder, tmp_path):
    cfg = tiny_cfg(folder, tmp_path, "lower", "evaluator.part=lower", "evaluator.coemb_epochs=1")
    summary = train_evaluator.main(cfg)
    evaluator = T2MEvaluator.load(cfg.evaluator.out_path, "lower")
    assert evaluator.movement_encoder.main[0].weight.shape == (512, 103, 4)
    assert (tmp_path / "lower" / "evaluator_lower" / "best_lower.tar").is_file()
    assert summary["part"] == "lower"


def test_bad_part_is_a_user_error_and_exit_code_2(folder, tmp_path, capsys):
    with pytest.raises(UserError, match="evaluator.part='middle'"):
        train_evaluator.main(tiny_cfg(folder, tmp_path, "bad", "evaluator.part=middle"))
    code = train_evaluator.cli(["--cfg", str(REPO / "configs" / "demo_evaluator.yaml"), "evaluator.part=middle",
                                f"save_dir={tmp_path}"])
    assert code == 2 and "choose one of all, upper, lower" in capsys.readouterr().err


def test_an_existing_out_path_is_not_replaced(folder, tmp_path):
    cfg = tiny_cfg(folder, tmp_path, "guard")
    Path(cfg.evaluator.out_path).write_bytes(b"official")
    with pytest.raises(UserError, match="evaluator.overwrite=true"):
        train_evaluator.main(cfg)
    assert Path(cfg.evaluator.out_path).read_bytes() == b"official"


def test_contrastive_loss_on_hand_made_embeddings():
    text = torch.tensor([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0]])
    motion = torch.tensor([[3.0, 4.0], [0.0, 1.0], [1.0, 12.0]])   # matched distances 5, 1, 12
    shifted = negative_mask(["a", "b", "c"], shift=1)             # text i against motion i+1
    loss, parts = contrastive_loss(text, motion, shifted, margin=10.0)
    # mismatched distances: |(0,0)-(0,1)| = 1, |(0,0)-(1,12)| = sqrt(145) > margin, |(1,0)-(3,4)| = sqrt(20)
    negative = ((10 - 1) ** 2 + 0.0 + (10 - math.sqrt(20)) ** 2) / 3
    assert parts["positive"] == pytest.approx((25 + 1 + 144) / 3)
    assert parts["negative"] == pytest.approx(negative)
    assert loss.item() == pytest.approx((25 + 1 + 144) / 3 + negative)
    _, every = contrastive_loss(text, motion, negative_mask(["a", "b", "c"]), margin=10.0)
    # all six mismatches: the three above plus text 0-motion 2 (sqrt(145)), 1-0 (5) and 2-1 (sqrt(2))
    assert every["negative"] == pytest.approx(((10 - 1) ** 2 + 0 + (10 - math.sqrt(20)) ** 2 + 0 + (10 - 5) ** 2
                                               + (10 - math.sqrt(2)) ** 2) / 6)


def test_pairs_with_the_same_caption_are_not_negatives():
    captions = ["walk", "run", "walk", "jump"]
    assert negative_mask(captions, shift=2).nonzero().tolist() == [[1, 3], [3, 1]]   # 0-2 and 2-0 share a caption
    every = negative_mask(captions)
    assert every.sum() == 16 - 4 - 2 and not every.diagonal().any() and not every[0, 2] and not every[2, 0]
    _, parts = contrastive_loss(torch.zeros(4, 2), torch.zeros(4, 2), torch.zeros(4, 4, dtype=torch.bool), 10.0)
    assert parts["negative"] == 0.0
    with pytest.raises(AssertionError):
        negative_mask(["a", "b"], shift=0)   # a zero shift would pair each caption with its own motion


def test_windows_lie_inside_each_motion():
    frames = torch.arange(40, dtype=torch.float32)[None, :, None].repeat(3, 1, 2)   # value = frame number
    lengths = torch.tensor([40, 24, 12])
    windows = random_windows(frames, lengths, 12, torch.Generator().manual_seed(0))
    assert windows.shape == (3, 12, 2)
    steps = windows[:, 1:, 0] - windows[:, :-1, 0]
    assert torch.all(steps == 1)
    ends = windows[:, -1, 0]
    assert torch.all(ends < lengths.float()) and windows[2, 0, 0] == 0
