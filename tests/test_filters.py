"""One-Euro filter: the recursion of docs/original_code.md §7.4, a state per clip, fresh per call, lengths respected."""

from __future__ import annotations

import math

import numpy as np
import torch

from crossdiff.motion.filters import OneEuroFilter, one_euro_smooth


def scalar_one_euro(values, min_cutoff=0.05, beta=0.004, d_cutoff=1.0, te=1.0):
    """The recursion written out for one scalar sequence, straight from docs/original_code.md §7.4."""
    def alpha(cutoff):
        r = 2 * math.pi * cutoff * te
        return r / (r + 1)

    out, x_prev, dx_prev = [values[0]], values[0], 0.0
    for x in values[1:]:
        dx_hat = alpha(d_cutoff) * (x - x_prev) / te + (1 - alpha(d_cutoff)) * dx_prev
        a = alpha(min_cutoff + beta * abs(dx_hat))
        x_hat = a * x + (1 - a) * x_prev
        out.append(x_hat)
        x_prev, dx_prev = x_hat, dx_hat
    return np.array(out)


def signals(batch=3, features=5, frames=30, seed=0):
    rng = np.random.default_rng(seed)
    return torch.from_numpy(np.cumsum(rng.normal(size=(batch, features, 1, frames)), axis=-1) * 3)


def test_matches_the_scalar_recursion_for_every_clip_and_feature():
    x = signals().double()
    smoothed = one_euro_smooth(x).numpy()
    for b in range(x.shape[0]):
        for c in range(x.shape[1]):
            np.testing.assert_allclose(smoothed[b, c, 0], scalar_one_euro(x[b, c, 0].tolist()), rtol=1e-12)
    assert not np.allclose(smoothed, x.numpy())            # it does smooth


def test_each_clip_has_its_own_state_and_each_call_starts_fresh():
    x = signals(batch=4)
    together = one_euro_smooth(x)
    for b in range(4):                                     # no leak from the clip before it
        torch.testing.assert_close(together[b:b + 1], one_euro_smooth(x[b:b + 1]))
    torch.testing.assert_close(one_euro_smooth(x), together)   # no leak from the previous batch
    torch.testing.assert_close(together[..., 0], x[..., 0])    # every clip's first frame is unchanged


def test_frames_past_each_length_are_left_untouched():
    x = signals(batch=3, frames=20)
    lengths = torch.tensor([20, 7, 12])
    smoothed = one_euro_smooth(x, lengths)
    for b, length in enumerate(lengths.tolist()):
        torch.testing.assert_close(smoothed[b, ..., :length], one_euro_smooth(x[b:b + 1, ..., :length])[0])
        torch.testing.assert_close(smoothed[b, ..., length:], x[b, ..., length:])
    assert not torch.equal(smoothed, x)


def test_filter_object_reset_forgets_the_state():
    one_euro = OneEuroFilter()
    frames = signals(batch=2, frames=6)[..., 0, :]
    first = [one_euro.filter(frames[..., t]) for t in range(6)]
    one_euro.reset()
    again = [one_euro.filter(frames[..., t]) for t in range(6)]
    for a, b in zip(first, again):
        torch.testing.assert_close(a, b)


def test_constant_signal_passes_and_noise_is_reduced():
    constant = torch.full((2, 3, 1, 40), 1.5)
    torch.testing.assert_close(one_euro_smooth(constant), constant)
    noisy = torch.from_numpy(np.random.default_rng(1).normal(size=(1, 8, 1, 200)))
    smoothed = one_euro_smooth(noisy)
    assert smoothed[..., 1:].diff(dim=-1).abs().mean() < 0.5 * noisy[..., 1:].diff(dim=-1).abs().mean()
