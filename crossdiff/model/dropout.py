"""Dropout with a cheaper random mask, equal to torch's in distribution.

torch's CPU dropout draws one Bernoulli per element (bernoulli_), about a quarter of a full-size
CrossDiff training step on this CPU. Here each full-range 64-bit integer from the generator (random_
on int64 over all of its values) gives four 16-bit uniforms (its int16 view), compared with a
threshold: an element is dropped with probability round(p·2^16)/2^16 (0.100006 for p = 0.1) and the
kept ones are scaled by the exact inverse keep rate, so E[dropout(x)] = x as with torch. On 2 cores
that mask costs about a sixth of the earlier two 15-bit halves of a 31-bit int32 draw, which needed
an extra pass to clear the sign bit. The draws come from the global generator, so seeded runs and
exact resume behave as before.

`zero_dropped` leaves the scaling to the caller: the transformer layers fold it into the weights of
the next linear map (a few thousand multiplications instead of one per activation), so a dropout
costs the mask and one masked_fill forward and backward.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LEVELS = 1 << 16          # values of one uniform: a 16-bit quarter of a full-range int64 draw
PER_DRAW = 4
INT64_MIN = -(1 << 63)


def _uniforms(numel: int, device) -> torch.Tensor:
    """`numel` independent 16-bit uniforms (int16, -2^15..2^15-1), four per int64 draw."""
    draws = torch.empty(-(-numel // PER_DRAW), dtype=torch.int64, device=device).random_(INT64_MIN, None)
    return draws.view(torch.int16)[:numel]


def drop_mask(shape, p: float, device) -> tuple[torch.Tensor, float]:
    """(bool mask of dropped elements in `shape`, 1 / keep rate): the lowest round(p·2^16) of 2^16 values drop."""
    threshold = round(p * LEVELS)
    dropped = _uniforms(math.prod(shape), device) < threshold - LEVELS // 2
    return dropped.view(shape), LEVELS / (LEVELS - threshold)


def keep_mask(shape, p: float, device) -> tuple[torch.Tensor, float]:
    """(bool mask of kept elements in `shape`, 1 / keep rate): the complement of `drop_mask`."""
    dropped, scale = drop_mask(shape, p, device)
    return ~dropped, scale


def dropout_scale(p: float, training: bool) -> float:
    """The factor 1 / keep rate that dropout(x, p, training) applies to the kept elements (1 when off)."""
    if not training or p == 0.0 or p >= 1.0:
        return 1.0
    return LEVELS / (LEVELS - round(p * LEVELS))


class _ZeroDropped(torch.autograd.Function):
    """x with the `dropped` elements zeroed; the gradient is zeroed at the same elements.

    One pass forward and one backward: masked_fill's own backward clones the gradient and then fills
    it (two passes), and out of place masked_fill clones x first.
    """

    @staticmethod
    def forward(ctx, x, dropped, inplace):
        ctx.save_for_backward(dropped)
        if inplace:
            ctx.mark_dirty(x)
            return x.masked_fill_(dropped, 0.0)
        return torch.where(dropped, 0.0, x)

    @staticmethod
    def backward(ctx, grad):
        (dropped,) = ctx.saved_tensors
        return torch.where(dropped, 0.0, grad), None, None


def zero_dropped(x: torch.Tensor, p: float, training: bool, inplace: bool = False) -> torch.Tensor:
    """x with the dropped elements zeroed and the kept ones left unscaled:
    dropout(x, p, training) == zero_dropped(x, p, training) * dropout_scale(p, training).

    inplace: overwrite x (for a fresh activation that autograd does not keep, e.g. a linear output).
    """
    if not training or p == 0.0:
        return x
    if p >= 1.0:
        return x * 0.0
    dropped, _ = drop_mask(x.shape, p, x.device)
    return _ZeroDropped.apply(x, dropped, inplace)


class _DroppedAttention(torch.autograd.Function):
    """zero_dropped(softmax(q kᵀ)) @ v with one hand-written backward: the dropout's gradient is zeroed in
    place on a fresh tensor and softmax's backward reuses the saved probabilities, so autograd's separate
    nodes (a torch.where allocation and their bookkeeping) drop out. Same mask draw, same numbers."""

    @staticmethod
    def forward(ctx, q, k, v, p):
        # q, k, v are strided views of the projections: matmul would copy each one again for every
        # product it meets (two here, three in backward), so copy them once and save the copies.
        q, k, v = q.contiguous(), k.contiguous(), v.contiguous()
        probs = torch.softmax(q @ k.transpose(-2, -1), dim=-1)
        dropped, _ = drop_mask(probs.shape, p, probs.device)
        kept = torch.where(dropped, 0.0, probs)  # one pass; out-of-place masked_fill clones, then fills
        ctx.save_for_backward(q, k, v, probs, dropped, kept)
        return kept @ v

    @staticmethod
    def backward(ctx, grad):
        q, k, v, probs, dropped, kept = ctx.saved_tensors
        grad = grad.contiguous()  # the output's permute makes it strided; it meets two products
        grad_kept = (grad @ v.transpose(-2, -1)).masked_fill_(dropped, 0.0)
        grad_logits = torch._softmax_backward_data(grad_kept, probs, -1, probs.dtype)
        return grad_logits @ k, grad_logits.transpose(-2, -1) @ q, kept.transpose(-2, -1) @ grad, None


def dropped_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, p: float) -> torch.Tensor:
    """`[B, heads, Sq, hd]`: zero_dropped(softmax(q kᵀ), p, True) @ v (q already scaled; 0 < p < 1)."""
    return _DroppedAttention.apply(q, k, v, p)


def dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """F.dropout(x, p, training) with the mask of `drop_mask`."""
    scale = dropout_scale(p, training)
    zeroed = zero_dropped(x, p, training)
    return zeroed if scale == 1.0 else zeroed * scale


class _DroppedFeedForward(torch.autograd.Function):
    """zero_dropped(linear(zero_dropped(gelu(linear(x, w1, b1))), w2, b2)) with one hand-written backward.

    Autograd's version allocates a fresh gradient for each dropout and for gelu's backward; here the
    hidden gradient is zeroed and passed through gelu's derivative in place. Masks are drawn in the
    same order (hidden, then output), so the numbers are the same.
    """

    @staticmethod
    def forward(ctx, x, w1, b1, w2, b2, p):
        pre = F.linear(x, w1, b1)
        hidden = F.gelu(pre)
        dropped_hidden, _ = drop_mask(hidden.shape, p, hidden.device)
        hidden.masked_fill_(dropped_hidden, 0.0)
        out = F.linear(hidden, w2, b2)
        dropped_out, _ = drop_mask(out.shape, p, out.device)
        ctx.save_for_backward(x, w1, pre, dropped_hidden, hidden, w2, dropped_out)
        return out.masked_fill_(dropped_out, 0.0)

    @staticmethod
    def backward(ctx, grad):
        x, w1, pre, dropped_hidden, hidden, w2, dropped_out = ctx.saved_tensors
        need_x, need_w1, need_b1, need_w2, need_b2, _ = ctx.needs_input_grad
        grad_out = torch.where(dropped_out, 0.0, grad).flatten(0, -2)   # grad is shared with the residual
        hidden, rows = hidden.flatten(0, -2), x.flatten(0, -2)
        grad_hidden = (grad_out @ w2).masked_fill_(dropped_hidden.flatten(0, -2), 0.0)
        grad_pre = torch.ops.aten.gelu_backward.grad_input(grad_hidden, pre.flatten(0, -2), grad_input=grad_hidden)
        return ((grad_pre @ w1).view(x.shape) if need_x else None,
                (rows.t() @ grad_pre).t() if need_w1 else None, grad_pre.sum(0) if need_b1 else None,
                (hidden.t() @ grad_out).t() if need_w2 else None, grad_out.sum(0) if need_b2 else None, None)


def dropped_feed_forward(x, w1, b1, w2, b2, p: float) -> torch.Tensor:
    """`[..., d]`: zero_dropped(F.linear(zero_dropped(F.gelu(F.linear(x, w1, b1)), p, True), w2, b2), p, True)
    (0 < p < 1; dropout scales are the caller's, folded into w2 and b2)."""
    return _DroppedFeedForward.apply(x, w1, b1, w2, b2, p)
