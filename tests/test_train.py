"""train.py on a tiny config: every mode learns, resume is exact, DDP ranks agree, user errors are clear."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from train_helpers import fixed_batch_loss, tiny_config

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    from prepare.synthetic import make_tiny_dataset

    return make_tiny_dataset(tmp_path_factory.mktemp("synthetic") / "data", clips=8, seed=0)


def _train(cfg) -> Path:
    import train

    return train.main(cfg)


def _checkpoints(run: Path) -> list[Path]:
    return sorted((run / "checkpoints").glob("step*.pt"))


def _weights(path: Path) -> dict:
    from crossdiff.io import torch_load

    return torch_load(path)["model"]


@pytest.mark.parametrize("mode", ["pretrain", "finetune"])
def test_each_mode_lowers_the_loss(tmp_path, data_root, mode):
    first = tiny_config(tmp_path, data_root, f"train.mode={mode}", "train.max_steps=1", "train.save_interval=1")
    run = _train(first)
    start = _checkpoints(run)[-1]
    longer = tiny_config(tmp_path, data_root, f"train.mode={mode}", "train.max_steps=40", "train.save_interval=40")
    _train(longer)
    end = _checkpoints(run)[-1]
    assert end.name == "step00000040.pt"
    before, after = fixed_batch_loss(longer, start), fixed_batch_loss(longer, end)
    assert after < 0.9 * before, (before, after)
    assert (run / "config.yaml").is_file() and "mode: " + mode in (run / "config.yaml").read_text()
    log = (run / "log.txt").read_text()
    assert "step 40" in log and ("2d_3d=" in log) == (mode == "pretrain")


def test_bf16_autocast_training_on_cpu_learns_with_float32_weights(tmp_path, data_root):
    """train.bf16 runs the forward pass in bfloat16 on CPU too: the loss falls, the weights stay
    float32, and they differ from the float32 run's (so autocast was really on)."""
    runs = {}
    for bf16 in (False, True):
        cfg = tiny_config(tmp_path, data_root, f"train.bf16={str(bf16).lower()}", "train.max_steps=30",
                          "train.save_interval=30", name=f"bf16_{bf16}")
        runs[bf16] = _weights(_checkpoints(_train(cfg))[-1])
    assert all(v.dtype == torch.float32 for v in runs[True].values() if v.is_floating_point())
    assert any(not torch.equal(runs[True][k], runs[False][k]) for k in runs[True])
    first = tiny_config(tmp_path, data_root, "train.max_steps=1", "train.save_interval=1", name="bf16_start")
    start = _checkpoints(_train(first))[-1]
    after = _checkpoints(tmp_path / "save" / "bf16_True")[-1]
    assert fixed_batch_loss(cfg, after) < 0.9 * fixed_batch_loss(cfg, start)


def test_finetune_ucf_on_mixed_data_runs_and_learns(tmp_path, data_root):
    from data_helpers import make_inthewild

    ucf = make_inthewild(tmp_path / "ucf", {"v_BaseballPitch_g01_c01": 44, "v_Biking_g02_c01": 46,
                                            "v_Biking_g03_c02": 41}, with_mask=("v_Biking_g02_c01",))
    pre = tiny_config(tmp_path, data_root, "train.max_steps=3", name="pre")
    pre_run = _train(pre)
    extra = ["train.mode=finetune_ucf", "data.dataset=multi", "data.ucf_ratio=0.5", f"data.ucf_root={ucf}",
             f"train.resume_checkpoint={pre_run}", "train.w_m2j=0.1", "train.w_j2m=0.1"]
    cfg = tiny_config(tmp_path, data_root, *extra, "train.max_steps=20", "train.save_interval=20", name="ucf")
    run = _train(cfg)
    assert _checkpoints(run)[-1].name == "step00000020.pt"
    assert "finetune_ucf" in (run / "log.txt").read_text()
    start = _checkpoints(pre_run)[-1]
    after = fixed_batch_loss(cfg, _checkpoints(run)[-1], teacher=start)
    assert after < fixed_batch_loss(cfg, start, teacher=start)


def test_killed_and_resumed_run_matches_the_uninterrupted_run(tmp_path, data_root):
    straight = _train(tiny_config(tmp_path / "a", data_root, "train.max_steps=8", "train.save_interval=4"))
    # "killed" after the step-4 checkpoint: a run capped at 4 steps, then the same run continued to 8
    _train(tiny_config(tmp_path / "b", data_root, "train.max_steps=4", "train.save_interval=4"))
    resumed = _train(tiny_config(tmp_path / "b", data_root, "train.max_steps=8", "train.save_interval=4"))
    a, b = _weights(_checkpoints(straight)[-1]), _weights(_checkpoints(resumed)[-1])
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)
    assert "resumed from" in (resumed / "log.txt").read_text()


def test_cosine_schedule_warms_up_then_falls_to_the_final_ratio_at_max_steps():
    from crossdiff.training.trainer import lr_scale

    cosine = [lr_scale(step, 10, "cosine", 110, 0.1) for step in range(130)]
    assert cosine[0] == pytest.approx(0.1) and cosine[9] == pytest.approx(1.0)       # linear warm-up
    assert cosine[60] == pytest.approx(0.55)                                       # half way: the mean of 1 and 0.1
    assert cosine[110] == pytest.approx(0.1) and cosine[129] == pytest.approx(0.1)  # held after max_steps
    assert all(a >= b for a, b in zip(cosine[9:], cosine[10:]))
    assert [lr_scale(step, 10, "constant", 110, 0.1) for step in range(9, 130)] == [1.0] * 121


def test_a_cosine_run_logs_its_decaying_rate_and_resumes_on_the_same_curve(tmp_path, data_root):
    extra = ("train.lr_schedule=cosine", "train.lr_final_ratio=0.25", "train.max_steps=8", "train.save_interval=4")
    straight = _train(tiny_config(tmp_path / "a", data_root, *extra))
    logged = [float(x) for x in re.findall(r"lr=([0-9.e+-]+)", (straight / "log.txt").read_text())]
    # the last line logs the rate of step 7 of 8 (0-based): 0.25 + 0.75 * (1 + cos(7/8 pi)) / 2 = 0.279 of lr
    assert logged[0] > logged[-1] == pytest.approx(1e-3 * 0.2786, rel=3e-3)   # the log prints 3 digits
    # "killed" after the first epoch (capping max_steps instead would change the curve)
    _train(tiny_config(tmp_path / "b", data_root, *extra, "train.num_epochs=1"))
    resumed = _train(tiny_config(tmp_path / "b", data_root, *extra))
    # the rate is a function of the step and max_steps: the resumed run ends on the straight run's weights
    a, b = _weights(_checkpoints(straight)[-1]), _weights(_checkpoints(resumed)[-1])
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)


def test_resume_never_starts_over(tmp_path, data_root):
    run = _train(tiny_config(tmp_path, data_root, "train.max_steps=2", "train.save_interval=2"))
    _train(tiny_config(tmp_path, data_root, "train.max_steps=2", "train.save_interval=2", "train.resume=never"))
    assert "resumed from" not in (run / "log.txt").read_text().split("mode pretrain")[-1]


def test_export_gives_an_official_layout_state_dict_that_loads_strictly(tmp_path, data_root):
    from crossdiff.config import section_kwargs
    from crossdiff.io import torch_load
    from crossdiff.weights import build_model_from, export_state_dict

    cfg = tiny_config(tmp_path, data_root, "train.max_steps=2", "train.save_interval=2")
    run = _train(cfg)
    plain = export_state_dict(_checkpoints(run)[-1], tmp_path / "plain.pt")
    state = torch_load(plain)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    assert "sequence_pos_encoder.pe" in state and "embed_timestep.sequence_pos_encoder.pe" in state
    model = build_model_from(section_kwargs(cfg.model), plain)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, state[key], rtol=0, atol=0)


def test_checkpoint_of_another_architecture_is_a_clear_error(tmp_path, data_root):
    from crossdiff.errors import UserError

    run = _train(tiny_config(tmp_path, data_root, "train.max_steps=1", "train.save_interval=1"))
    wider = tiny_config(tmp_path, data_root, "model.latent_dim=48", f"train.resume_checkpoint={run}", name="other")
    with pytest.raises(UserError, match="does not match the configured model"):
        _train(wider)


def test_keep_checkpoints_leaves_only_the_newest(tmp_path, data_root):
    """train.keep_checkpoints=2 prunes after every save (steps 2, 4, 6 and the final 7); 0 keeps them all."""
    kept = _train(tiny_config(tmp_path, data_root, "train.max_steps=7", "train.save_interval=2",
                              "train.keep_checkpoints=2", name="keep2"))
    assert [p.name for p in _checkpoints(kept)] == ["step00000006.pt", "step00000007.pt"]
    every = _train(tiny_config(tmp_path, data_root, "train.max_steps=7", "train.save_interval=2", name="keep0"))
    assert [p.name for p in _checkpoints(every)] == [f"step0000000{s}.pt" for s in (2, 4, 6, 7)]


def test_eval_interval_runs_the_quick_evaluation_at_its_steps_and_logs_it(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from crossdiff.evaluation.evaluator import T2MEvaluator

    from prepare.synthetic import make_tiny_dataset

    folder = make_tiny_dataset(tmp_path / "data", clips=20, seed=0)  # 6 test items: one batch of 4
    torch.manual_seed(0)
    T2MEvaluator("all").save(tmp_path / "evaluators" / "all.tar")
    cfg = tiny_config(tmp_path, folder, "train.max_steps=5", "train.eval_interval=2",
                      f"test.evaluator_dir={tmp_path / 'evaluators'}", "test.batch_size=4", "test.quick_batches=1",
                      "test.diversity_times=1")
    run = _train(cfg)
    evals = [line for line in (run / "log.txt").read_text().splitlines() if "eval at step" in line]
    assert [line.split("eval at step ")[1].split(":")[0] for line in evals] == ["2", "4"]
    assert all("r_precision_top3=" in line and " fid=" in line for line in evals)
    events = EventAccumulator(str(run))
    events.Reload()
    fid = events.Scalars("eval/fid")
    assert [e.step for e in fid] == [2, 4] and all(np.isfinite(e.value) for e in fid)


@pytest.mark.gpu
def test_a_cuda_run_saves_a_checkpoint_that_loads_on_cpu(tmp_path, data_root):
    cfg = tiny_config(tmp_path, data_root, "device=cuda", "train.max_steps=2", "train.save_interval=2")
    run = _train(cfg)
    assert " on cuda" in (run / "log.txt").read_text()
    weights = _weights(_checkpoints(run)[-1])
    assert all(v.device.type == "cpu" and torch.isfinite(v).all() for v in weights.values() if v.is_floating_point())


def test_user_errors_exit_with_code_2(tmp_path, data_root, capsys):
    import train

    base = ["--cfg", str(REPO / "configs" / "crossdiff_pre.yaml"), f"save_dir={tmp_path}", "device=cpu",
            "text_encoder.clip_weights=random"]
    assert train.cli(base + ["train.bach_size=1"]) == 2
    assert "did you mean 'train.batch_size'" in capsys.readouterr().err
    assert train.cli(base + [f"data.data_root={tmp_path / 'missing'}", f"data.meta_dir={data_root}"]) == 2
    assert str(tmp_path / "missing") in capsys.readouterr().err
    assert train.cli(base + [f"data.data_root={data_root}", f"data.meta_dir={data_root}",
                             f"data.glove_dir={data_root / 'glove'}", "train.mode=stage3"]) == 2
    assert "train.mode" in capsys.readouterr().err
    data = [f"data.data_root={data_root}", f"data.meta_dir={data_root}", f"data.glove_dir={data_root / 'glove'}"]
    assert train.cli(base + data + ["train.lr_schedule=linear"]) == 2
    assert "train.lr_schedule must be one of constant, cosine" in capsys.readouterr().err
    assert train.cli(base + data + ["train.lr_schedule=cosine", "train.max_steps=null"]) == 2
    assert "set train.max_steps" in capsys.readouterr().err


@pytest.mark.slow
def test_two_process_gloo_run_trains_and_ranks_agree(tmp_path, data_root):
    from train_helpers import tiny_overrides

    overrides = tiny_overrides(tmp_path, data_root) + ["train.max_steps=3", "train.save_interval=3"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CROSSDIFF_RANK_DUMP": str(tmp_path)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(REPO / "tests" / "ddp_worker.py"), *overrides]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    for key in rank0:
        torch.testing.assert_close(rank0[key], rank1[key], rtol=0, atol=0, msg=key)
    saved = _weights(_checkpoints(tmp_path / "save" / "tiny")[-1])
    assert all(np.array_equal(saved[k].numpy(), rank0[k].numpy()) for k in rank0)
