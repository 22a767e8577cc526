"""The transformer layers and the cheaper dropout: torch's maths and distribution, not its kernels."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from crossdiff.model.dropout import LEVELS, dropout, dropped_attention, dropped_feed_forward, keep_mask, zero_dropped
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
    # neighbours come from the four quarters of one int64 draw: they must still be uncorrelated, and each
    # quarter (the top one holds the draw's sign bit) must drop at the same rate
    quarters = first.view(-1, 4).float()
    assert (torch.corrcoef(quarters.T) - torch.eye(4)).abs().max().item() < 0.02
    assert ((1 - quarters.mean(0)) - 0.5).abs().max().item() < 0.02
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


def test_dropped_attention_equals_autograd_through_the_same_mask():
    """The hand-written backward gives autograd's gradients for q, k and v (same seed, same mask)."""
    q, k, v = (torch.randn(3, 2, 7, 5, dtype=torch.float64, requires_grad=True) for _ in range(3))
    out_grad = torch.randn(3, 2, 7, 5, dtype=torch.float64)
    results = []
    for attend in (dropped_attention, lambda q, k, v, p: zero_dropped(torch.softmax(q @ k.mT, -1), p, True) @ v):
        torch.manual_seed(3)
        out = attend(q, k, v, 0.4)
        results.append((out, *torch.autograd.grad(out, (q, k, v), out_grad)))
    assert not torch.allclose(results[0][0], torch.softmax(q @ k.mT, -1) @ v)  # some weights were dropped
    for fused, plain in zip(*results):
        torch.testing.assert_close(fused, plain, rtol=1e-12, atol=1e-12)
    torch.manual_seed(3)
    assert torch.autograd.gradcheck(lambda q, k, v: (torch.manual_seed(5), dropped_attention(q, k, v, 0.4))[1],
                                    (q, k, v))


def test_dropped_feed_forward_equals_autograd_through_the_same_masks():
    """The hand-written backward (in-place mask and gelu derivative) gives autograd's gradients for the
    input, both weights and both biases, with the masks drawn in the same order."""
    gen = torch.Generator().manual_seed(6)
    args = [torch.randn(*shape, generator=gen, dtype=torch.float64, requires_grad=True)
            for shape in ((4, 3, 6), (10, 6), (10,), (6, 10), (6,))]
    out_grad = torch.randn(4, 3, 6, generator=gen, dtype=torch.float64)

    def plain(x, w1, b1, w2, b2, p):
        return zero_dropped(F.linear(zero_dropped(F.gelu(F.linear(x, w1, b1)), p, True), w2, b2), p, True)

    results = []
    for feed_forward in (dropped_feed_forward, plain):
        torch.manual_seed(2)
        out = feed_forward(*args, 0.3)
        results.append((out, *torch.autograd.grad(out, args, out_grad)))
    assert (results[0][0] == 0).any() and (results[0][1] != 0).all()  # outputs were dropped, the input grad is dense
    for fused, reference in zip(*results):
        torch.testing.assert_close(fused, reference, rtol=1e-12, atol=1e-12)
    assert torch.autograd.gradcheck(lambda *a: (torch.manual_seed(5), dropped_feed_forward(*a, 0.3))[1], args)
    torch.manual_seed(2)  # a frozen first layer: only what needs a gradient gets one
    out = dropped_feed_forward(args[0], args[1].detach(), args[2].detach(), *args[3:], 0.3)
    torch.testing.assert_close(torch.autograd.grad(out, args[0], out_grad)[0], results[1][1], rtol=1e-12, atol=1e-12)


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


def _plain_attention(mha, query, memory, drop):
    """softmax(QKᵀ/√head_dim) with dropout on the weights, then V and W_o: the textbook order."""
    d, heads = query.shape[-1], mha.num_heads
    memory = query if memory is None else memory
    w, b = mha.in_proj_weight, mha.in_proj_bias

    def split(x):  # [S, B, d] -> [B, heads, S, head_dim]
        return x.view(len(x), x.shape[1], heads, d // heads).permute(1, 2, 0, 3)

    q, k, v = split(F.linear(query, w[:d], b[:d])), split(F.linear(memory, w[d:2 * d], b[d:2 * d])), split(
        F.linear(memory, w[2 * d:], b[2 * d:]))
    weights = drop(torch.softmax(q @ k.transpose(-2, -1) / (d // heads) ** 0.5, dim=-1))
    return mha.out_proj((weights @ v).permute(2, 0, 1, 3).reshape(query.shape))


def _plain_layer(layer, x, memory, drop):
    """torch's post-norm layer maths with every dropout written out: drop(·) = mask · x / keep rate."""
    x = layer.norm1(x + drop(_plain_attention(layer.self_attn, x, None, drop)))
    if memory is not None:
        x = layer.norm2(x + drop(_plain_attention(layer.multihead_attn, x, memory, drop)))
    last = layer.norm3 if memory is not None else layer.norm2
    return last(x + drop(layer.linear2(drop(F.gelu(layer.linear1(x))))))


def test_layers_with_dropout_equal_the_plain_maths_with_the_same_masks(monkeypatch):
    """The folded scales (1/√head_dim into W_q, 1/keep rate into the next linear map) give torch's
    dropout maths: record the masks our layers draw and replay them through the plain formulas."""
    import crossdiff.model.dropout as dropout_module

    drawn = []
    draw = dropout_module.drop_mask

    def recording(shape, p, device):
        dropped, scale = draw(shape, p, device)
        drawn.append((dropped, scale))
        return dropped, scale

    monkeypatch.setattr(dropout_module, "drop_mask", recording)
    torch.manual_seed(8)
    for layer, memory in ((EncoderLayer(D, HEADS, FF, 0.3, activation="gelu"), None),
                          (DecoderLayer(D, HEADS, FF, 0.3, activation="gelu"), torch.randn(11, 3, D))):
        drawn.clear()
        x = torch.randn(9, 3, D, requires_grad=True)
        ours = layer.train()(x) if memory is None else layer.train()(x, memory)
        masks = iter(list(drawn))

        def replay(t):
            dropped, scale = next(masks)
            assert dropped.shape == t.shape
            return t * (~dropped).float() * scale

        plain = _plain_layer(layer, x, memory, replay)
        assert next(masks, None) is None and len(drawn) == (4 if memory is None else 6)
        assert any(dropped.any() for dropped, _ in drawn)
        torch.testing.assert_close(ours, plain, rtol=1e-5, atol=1e-5)
        (grad_ours,) = torch.autograd.grad(ours.square().sum(), x)
        (grad_plain,) = torch.autograd.grad(plain.square().sum(), x)
        torch.testing.assert_close(grad_ours, grad_plain, rtol=1e-4, atol=1e-5)
