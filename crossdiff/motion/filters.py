"""One-Euro low-pass filter (Casiez et al., CHI 2012) with one state per clip.

`finetune_ucf` smooths the teacher's pseudo 3D labels along time with it (docs/original_code.md §7.4). The reference
keeps a single filter object whose state runs on from one clip's last frame into the next clip and
from one batch into the next (docs/original_code.md §13.13). Here the state is a tensor with one row per clip, it
starts fresh at every `one_euro_smooth` call (or `OneEuroFilter.reset()`), and frames past a clip's
length leave its state and values untouched.

The recursion, with `te` the time between frames and `alpha(fc) = r / (r + 1)`, `r = 2*pi*fc*te`:

    dx      = (x - x_prev) / te
    dx_hat  = alpha(d_cutoff) * dx + (1 - alpha(d_cutoff)) * dx_hat_prev
    fc      = min_cutoff + beta * |dx_hat|                       (elementwise)
    x_hat   = alpha(fc) * x + (1 - alpha(fc)) * x_prev

where `x_prev` is the previous *filtered* value; the first frame of a clip is returned unchanged
(and starts the state with `dx_hat_prev = 0`). The defaults are the reference's settings
(`te=1`, `min_cutoff=0.05`, `beta=0.004`, `d_cutoff=1.0`), applied in normalised feature space.
"""

from __future__ import annotations

import math

import torch

MIN_CUTOFF = 0.05
BETA = 0.004
D_CUTOFF = 1.0
TE = 1.0


def smoothing_factor(cutoff, te: float = TE):
    """alpha = r / (r + 1) with r = 2*pi*cutoff*te (a float or a tensor of cutoffs)."""
    r = 2 * math.pi * cutoff * te
    return r / (r + 1)


class OneEuroFilter:
    """Filters a batch of clips frame by frame; each clip (row) has its own state.

    `filter(x [N, ...], active [N] bool)` takes one frame of N clips. Inactive clips (already past
    their last frame) are returned unchanged and keep their state. `reset()` forgets every clip.
    """

    def __init__(self, min_cutoff: float = MIN_CUTOFF, beta: float = BETA, d_cutoff: float = D_CUTOFF,
                 te: float = TE):
        self.min_cutoff, self.beta, self.d_cutoff, self.te = min_cutoff, beta, d_cutoff, te
        self.reset()

    def reset(self) -> None:
        self.x_prev: torch.Tensor | None = None
        self.dx_prev: torch.Tensor | None = None

    def filter(self, x: torch.Tensor, active: torch.Tensor | None = None) -> torch.Tensor:
        """One frame `x [N, ...]` of N clips -> its filtered value, same shape."""
        if self.x_prev is None:  # first frame of every clip: nothing to smooth against
            self.x_prev, self.dx_prev = x.clone(), torch.zeros_like(x)
            return x.clone()
        dx = (x - self.x_prev) / self.te
        dx_hat = torch.lerp(self.dx_prev, dx, smoothing_factor(self.d_cutoff, self.te))
        cutoff = self.min_cutoff + self.beta * dx_hat.abs()
        x_hat = torch.lerp(self.x_prev, x, smoothing_factor(cutoff, self.te))
        if active is not None:
            keep = active.reshape(-1, *([1] * (x.dim() - 1)))
            x_hat = torch.where(keep, x_hat, x)
            dx_hat = torch.where(keep, dx_hat, self.dx_prev)
            self.x_prev = torch.where(keep, x_hat, self.x_prev)
        else:
            self.x_prev = x_hat
        self.dx_prev = dx_hat
        return x_hat


def one_euro_smooth(x: torch.Tensor, lengths: torch.Tensor | None = None, min_cutoff: float = MIN_CUTOFF,
                    beta: float = BETA, d_cutoff: float = D_CUTOFF, te: float = TE) -> torch.Tensor:
    """Smooth each clip of `x [B, ..., T]` along its last (time) axis with a fresh One-Euro filter.

    `lengths [B]` (default: all T) limits each clip: frames `>= lengths[b]` are padding and are
    returned unchanged. The input is not modified. The recursion is sequential in time, so this
    loops over the T frames, each step vectorised over the batch and every feature.
    """
    batch, frames = x.shape[0], x.shape[-1]
    if lengths is None:
        lengths = torch.full((batch,), frames, device=x.device)
    lengths = torch.as_tensor(lengths, device=x.device)
    one_euro = OneEuroFilter(min_cutoff, beta, d_cutoff, te)
    out = x.clone()
    for frame in range(min(int(lengths.max()), frames)):
        out[..., frame] = one_euro.filter(x[..., frame], active=frame < lengths)
    return out
