"""Opt-in training levers, off by default so the paper's training is unchanged: the velocity term of stage II
(train.w_velocity: what it measures, which frames it sees) and the low-noise share of timesteps
(train.low_noise_share)."""

import pytest
import torch

from crossdiff.diffusion import build_diffusion
from crossdiff.diffusion.schedule import masked_l2
from crossdiff.errors import UserError
from crossdiff.model import CrossDiff
from crossdiff.training.losses import Objective, velocity_l2
from crossdiff.training.trainer import with_low_noise_share

TINY = dict(latent_dim=32, ff_size=48, layers=1, layers2=2, num_heads=2, max_frames=10, cond_mask_prob=0.0,
            dropout=0.0)


def padded_mask(lengths, frames=10):
    return (torch.arange(frames).view(1, 1, 1, -1) < torch.tensor(lengths).view(-1, 1, 1, 1)).float()


def test_a_constant_offset_costs_nothing_but_a_changed_step_does():
    target = torch.randn(2, 263, 1, 10)
    mask = padded_mask([10, 10])
    assert torch.allclose(velocity_l2(target, target + 0.7, mask), torch.zeros(2), atol=1e-6)
    assert masked_l2(target, target + 0.7, mask).min() > 0.4
    jolted = target.clone()
    jolted[1, 5, 0, 4] += 1.0  # one element of one frame: two frame differences change by 1
    assert torch.allclose(velocity_l2(target, jolted, mask), torch.tensor([0.0, 2.0 / (263 * 9)]), atol=1e-7)


def test_pairs_touching_a_padded_frame_are_ignored():
    target = torch.zeros(1, 263, 1, 10)
    pred = target.clone()
    pred[..., 6:] = 5.0  # every change happens at or after the padding, which starts at frame 6
    assert velocity_l2(target, pred, padded_mask([6])).item() == 0.0
    assert velocity_l2(target, pred, padded_mask([7])).item() > 0.0


def objective(mode, w_velocity):
    torch.manual_seed(0)
    return Objective(CrossDiff(**TINY).eval(), build_diffusion(), mode, 1.0, 1.0,
                     w_velocity=w_velocity)


def finetune_batch():
    gen = torch.Generator().manual_seed(1)
    batch = {"motion": torch.randn(3, 263, 1, 10, generator=gen), "mask": padded_mask([10, 6, 8]).bool()}
    return (batch, torch.tensor([5, 500, 900]), torch.randn(3, 512, generator=gen),
            torch.randn(3, 263, 1, 10, generator=gen), None)


def test_the_loss_adds_the_weighted_velocity_term_only_when_asked():
    plain_loss, plain_terms = objective("finetune", 0.0)(*finetune_batch())
    assert set(plain_terms) == {"3d_3d"}
    loss, terms = objective("finetune", 2.5)(*finetune_batch())
    assert set(terms) == {"3d_3d", "velocity"}
    assert terms["velocity"] > 0
    assert torch.allclose(terms["3d_3d"], plain_terms["3d_3d"])
    assert torch.allclose(loss, plain_loss + 2.5 * terms["velocity"], atol=1e-6)


@pytest.mark.parametrize("mode", ["pretrain", "finetune_ucf"])
def test_other_modes_refuse_a_velocity_weight(mode):
    with pytest.raises(UserError, match="train.w_velocity"):
        objective(mode, 1.0)


def test_the_low_noise_share_redraws_that_share_of_timesteps_from_the_lowest_tenth():
    torch.manual_seed(0)
    t = torch.randint(0, 1000, (20000,))
    assert torch.equal(with_low_noise_share(t, 1000, 0.0), t)
    assert with_low_noise_share(t, 1000, 1.0).max() < 100
    half = with_low_noise_share(t, 1000, 0.5)
    assert 0.48 < (half == t).float().mean() < 0.52   # half kept as drawn
    assert 0.53 < (half < 100).float().mean() < 0.57  # 0.5 redrawn low + 0.5 x 0.1 uniform ones already low


def test_a_low_noise_share_outside_0_to_1_is_a_user_error(tmp_path, data_root):
    from crossdiff.training.setup import build_trainer
    from train_helpers import tiny_config

    cfg = tiny_config(tmp_path, data_root, "train.low_noise_share=1.5")
    with pytest.raises(UserError, match="train.low_noise_share"):
        build_trainer(cfg, *[None] * 8)   # the check comes before anything is built
