"""Our stage-I training step against the original's, written out plainly (bench/original_step.py):
same losses, gradients and updated weights to float32 tolerance on a tiny model.

Dropout makes a training step random, and the two steps draw their masks in a different order, so
the comparison runs with a dropout rate so small that our masks keep everything (round(p·2^15) = 0)
while every dropout code path still runs (the math attention kernel, the mask arithmetic), against
the original with its dropout at 0."""

import sys
from pathlib import Path

import pytest
import torch

from crossdiff.diffusion import build_diffusion
from crossdiff.model import CrossDiff
from crossdiff.model.dropout import LEVELS
from crossdiff.training.losses import Objective
from crossdiff.training.trainer import build_optimizer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from original_step import original_losses, original_step  # noqa: E402

TINY = dict(latent_dim=32, ff_size=48, layers=1, layers2=3, num_heads=2, max_frames=10, cond_mask_prob=0.0)
KEEPS_ALL = 0.4 / LEVELS  # > 0: the dropout paths run; rounds to a threshold of 0: nothing is dropped
TOL = dict(atol=2e-5, rtol=2e-4)


def batch_of(b: int = 5, frames: int = 10, seed: int = 0) -> dict:
    gen = torch.Generator().manual_seed(seed)
    return {"motion": torch.randn(b, 263, 1, frames, generator=gen),
            "joint": torch.randn(b, 134, 1, frames, generator=gen),
            "mask": torch.arange(frames).view(1, 1, 1, -1) < torch.tensor([10, 7, 10, 4, 9]).view(-1, 1, 1, 1),
            "joint_mask": (torch.rand(b, 134, 1, frames, generator=gen) > 0.2).float(),
            "valid": torch.tensor([True, True, False, True, False]),
            "t": torch.randint(0, 1000, (b,), generator=gen), "text_emb": torch.randn(b, 512, generator=gen),
            "noise3d": torch.randn(b, 263, 1, frames, generator=gen),
            "noise2d": torch.randn(b, 134, 1, frames, generator=gen)}


@pytest.fixture(scope="module")
def pair():
    """(ours, original): the same weights; ours trains with dropout on but dropping nothing."""
    torch.manual_seed(3)
    ours = CrossDiff(**TINY, dropout=KEEPS_ALL).train()
    original = CrossDiff(**TINY, dropout=0.0).train()
    original.load_state_dict(ours.state_dict(), strict=True)
    return ours, original


def inputs(batch):
    return batch, batch["t"], batch["text_emb"], batch["noise3d"], batch["noise2d"]


def test_same_losses_and_gradients_as_the_original_step(pair):
    ours, original = pair
    diffusion, batch = build_diffusion(), batch_of()
    ours.zero_grad(set_to_none=True)
    original.zero_grad(set_to_none=True)
    loss, terms = Objective(ours, diffusion, "pretrain", 1.0, 1.0)(*inputs(batch))
    loss.backward()
    m_t = diffusion.q_sample(batch["motion"], batch["t"], batch["noise3d"])
    j_t = diffusion.q_sample(batch["joint"], batch["t"], batch["noise2d"])
    reference = original_losses(original, batch, m_t, j_t, batch["t"], batch["text_emb"])
    sum(reference.values()).mean().backward()
    for name, value in reference.items():
        torch.testing.assert_close(terms[name], value.mean(), **TOL)
    grads = dict(original.named_parameters())
    checked = 0
    for name, p in ours.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and grads[name].grad is not None, name
            torch.testing.assert_close(p.grad, grads[name].grad, **TOL, msg=name)
            checked += 1
    assert checked == sum(1 for p in ours.parameters() if p.requires_grad)


def test_same_weights_after_optimiser_steps(pair):
    ours, original = (m.__class__(**TINY, dropout=m.sequence_pos_encoder.dropout.p).train() for m in pair)
    ours.load_state_dict(pair[0].state_dict())
    original.load_state_dict(pair[0].state_dict())
    diffusion = build_diffusion()
    objective = Objective(ours, diffusion, "pretrain", 1.0, 1.0)
    ours_opt = build_optimizer([p for p in ours.parameters() if p.requires_grad], 1e-3, 0.0)
    original_opt = torch.optim.AdamW(original.parameters(), lr=1e-3, weight_decay=0.0)
    for seed in range(3):
        batch = batch_of(seed=seed)
        loss, _ = objective(*inputs(batch))
        ours_opt.zero_grad(set_to_none=True)
        loss.backward()
        ours_opt.step()
        original_loss = original_step(original, original_opt, diffusion, *inputs(batch))
        torch.testing.assert_close(loss.detach(), original_loss, **TOL)
    reference = original.state_dict()
    for name, value in ours.state_dict().items():
        if name.endswith("in_proj_bias"):
            # The key bias has a zero gradient (softmax ignores a shift shared by all keys); AdamW turns
            # its float32 noise into steps of size ~lr with a random sign, so skip those rows.
            d = value.shape[0] // 3
            value, reference[name] = torch.cat([value[:d], value[2 * d:]]), torch.cat(
                [reference[name][:d], reference[name][2 * d:]])
        torch.testing.assert_close(value, reference[name], **TOL, msg=name)
