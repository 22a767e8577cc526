"""Dropout with a cheaper random mask, equal to torch's in distribution.

torch's CPU dropout draws one Bernoulli per element (bernoulli_), about a quarter of a full-size
CrossDiff training step on this CPU. Here each 31-bit integer from the generator (random_ on int32)
gives two 15-bit uniforms, compared with a threshold: an element is dropped with probability
round(p·2^15)/2^15 (0.100006 for p = 0.1) and the kept ones are scaled by the exact inverse keep
rate, so E[dropout(x)] = x as with torch. The draws come from the global generator, so seeded runs
and exact resume behave as before.

`zero_dropped` leaves the scaling to the caller: the transformer layers fold it into the weights of
the next linear map (a few thousand multiplications instead of one per activation), so a dropout
costs the mask and one masked_fill forward and backward.
"""

from __future__ import annotations

import math

import torch

LEVELS = 1 << 15          # uniforms per draw: the low and high 16-bit halves of a random_ int32, 15 bits each
LOW_BITS = LEVELS - 1


def _uniforms(numel: int, device) -> torch.Tensor:
    """`numel` independent 15-bit uniforms (int16, 0..2^15-1), two per int32 draw."""
    draws = torch.empty((numel + 1) // 2, dtype=torch.int32, device=device).random_()
    return draws.view(torch.int16)[:numel] & LOW_BITS


def drop_mask(shape, p: float, device) -> tuple[torch.Tensor, float]:
    """(bool mask of dropped elements in `shape`, 1 / keep rate)."""
    threshold = round(p * LEVELS)
    return (_uniforms(math.prod(shape), device) < threshold).view(shape), LEVELS / (LEVELS - threshold)


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


def dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """F.dropout(x, p, training) with the mask of `drop_mask`."""
    scale = dropout_scale(p, training)
    zeroed = zero_dropped(x, p, training)
    return zeroed if scale == 1.0 else zeroed * scale
