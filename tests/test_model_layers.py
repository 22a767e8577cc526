"""The transformer layers and the cheaper dropout: torch's maths and distribution, not its kernels."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from crossdiff.model.dropout import LEVELS, dropout, keep_mask
from crossdiff.model.layers import DecoderLayer, EncoderLayer, PositionalEncoding

D, HEADS, FF = 32, 4, 64


def test_dropout_rate_and_scale():
    torch.manual_seed(0)
    x = torch.ones(400, 500)
    y = dropout(x, 0.1, training=True)
    kept = y != 0
    expected_drop = round(0.1 * LEVELS) / LEVELS
    assert abs((~kept).float().mean().item() - expected_drop) < 4 * (expected_drop * 0.9 / x.numel()) ** 0.5
    assert torch.allclose(y[kept], torch.tensor(1 / (1 - expected_drop)))   # exact inverse keep rate
    assert abs(y.mean().item() - 1.0) < 0.005


def test_dropout_masks_are_independent_across_positions_and_calls():
    torch.manual_seed(1)
    first, _ = keep_mask((100_000,), 0.5, "cpu")
    second, _ = keep_mask((100_000,), 0.5, "cpu")
    # neighbours come from the two halves of one draw: they must still be uncorrelated
    pairs = first.view(-1, 2).float()
    assert abs(torch.corrcoef(pairs.T)[0, 1].item()) < 0.02
    assert abs(torch.corrcoef(torch.stack([first.float(), second.float()]))[0, 1].item()) < 0.02


def test_dropout_is_identity_in_eval_or_at_zero_and_seeded():
    x = torch.randn(5, 7)
    assert dropout(x, 0.3, training=False) is x and dropout(x, 0.0, training=True) is x
    assert torch.equal(dropout(x, 1.0, training=True), torch.zeros_like(x))
    torch.manual_seed(3)
    a = dropout(x, 0.3, training=True)
    torch.manual_seed(3)
    assert torch.equal(a, dropout(x, 0.3, training=True))


def test_dropout_gradient_uses_the_same_mask():
    torch.manual_seed(4)
    x = torch.randn(64, 32, requires_grad=True)
    y = dropout(x, 0.25, training=True)
    y.sum().backward()
    assert torch.equal(x.grad != 0, y != 0)


@pytest.mark.parametrize("training", [False, True])
def test_layers_equal_torch_layers_without_dropout(training):
    """Same parameters (and initialisation) and the same outputs and gradients as torch's layers."""
    torch.manual_seed(5)
    ours_e = EncoderLayer(D, HEADS, FF, 0.0, activation="gelu")
    torch.manual_seed(5)
    torch_e = nn.TransformerEncoderLayer(D, HEADS, FF, 0.0, activation="gelu")
    torch.manual_seed(6)
    ours_d = DecoderLayer(D, HEADS, FF, 0.0, activation="gelu")
    torch.manual_seed(6)
    torch_d = nn.TransformerDecoderLayer(D, HEADS, FF, 0.0, activation="gelu")
    for ours, theirs in ((ours_e, torch_e), (ours_d, torch_d)):
        assert all(torch.equal(a, b) for a, b in zip(ours.state_dict().values(), theirs.state_dict().values()))
        ours.train(training), theirs.train(training)
    src = torch.randn(9, 3, D, requires_grad=True)
    memory = torch.randn(11, 3, D)
    for ours, theirs, args in ((ours_e, torch_e, (src,)), (ours_d, torch_d, (src, memory))):
        mine, reference = ours(*args), theirs(*args)
        torch.testing.assert_close(mine, reference, rtol=1e-5, atol=1e-5)
        (grad_mine,) = torch.autograd.grad(mine.square().sum(), src)
        (grad_reference,) = torch.autograd.grad(reference.square().sum(), src)
        torch.testing.assert_close(grad_mine, grad_reference, rtol=1e-4, atol=1e-5)


def test_layers_with_dropout_drop_in_training_only():
    torch.manual_seed(7)
    layer = DecoderLayer(D, HEADS, FF, 0.5, activation="gelu")
    tgt, memory = torch.randn(9, 3, D), torch.randn(11, 3, D)
    layer.train()
    assert not torch.allclose(layer(tgt, memory), layer(tgt, memory))
    layer.eval()
    assert torch.equal(layer(tgt, memory), layer(tgt, memory))
    pe = PositionalEncoding(D, dropout=0.5).train()
    assert (pe(torch.zeros(9, 3, D)) == 0).any()


def test_attention_masks_are_refused():
    layer = EncoderLayer(D, HEADS, FF, 0.0, activation="gelu")
    with pytest.raises(ValueError, match="no attention masks"):
        layer(torch.randn(4, 2, D), src_mask=torch.zeros(4, 4))
