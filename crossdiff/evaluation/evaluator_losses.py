"""What training a T2M evaluator optimises (Guo et al., CVPR 2022): the two stages' losses.

Stage 1 (movement auto-encoder): `MovementConvDecoder` turns movement tokens back into features, and
`movement_loss` is the L1 reconstruction plus small sparsity and smoothness terms on the tokens.
The decoder exists only for this stage; official evaluator files do not hold it.

Stage 2 (co-embedding): `contrastive_loss` pulls each caption's embedding towards its own motion's
and pushes it at least `margin` away from another motion of the batch (Hadsell et al.'s squared
form, as Guo's evaluator): loss = mean d(t_i, m_i)^2 + mean max(0, margin - d(t_i, m_j))^2.
Guo's negatives are the batch shifted by a random offset of 1..B-1; `negatives="all"` uses every
other pair of the batch instead, which costs no extra network evaluation and learns faster in short
runs. Pairs whose captions are the same text are left out either way (they are not mismatches).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from crossdiff.evaluation.evaluator import UNIT_LENGTH


class MovementConvDecoder(nn.Module):
    """Movement tokens `[B, L, 512]` -> features `[B, 4L, output_size]` (two stride-2 transposed convs)."""

    def __init__(self, output_size: int, input_size: int = 512, hidden_size: int = 512):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose1d(input_size, hidden_size, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.ConvTranspose1d(hidden_size, output_size, 4, 2, 1), nn.LeakyReLU(0.2),
        )
        self.out_net = nn.Linear(output_size, output_size)   # undoes the LeakyReLU's squashed negatives

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.out_net(self.main(tokens.permute(0, 2, 1)).permute(0, 2, 1))


def eval_motions(batch: dict, normalizer) -> torch.Tensor:
    """An evaluation batch's `motion` [B, 263, 1, T] (dataset-normalised) -> [B, T, 263] in the
    evaluator's normalisation (mean_eval/std_eval, or Mean/Std when the folder has none), as the
    evaluation protocol feeds it (docs/original_code.md §9.3)."""
    return normalizer.renorm4t2m(batch["motion"][:, :, 0].permute(0, 2, 1))


def random_windows(motions: torch.Tensor, lengths: torch.Tensor, window: int,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """[B, T, C] padded motions, lengths [B] -> one random window [B, window, C] inside each motion.

    A motion shorter than `window` gives its first `window` frames (ending in padding).
    """
    assert window % UNIT_LENGTH == 0 and window <= motions.shape[1], window
    room = (lengths - window).clamp(min=0) + 1                        # possible start positions
    starts = (torch.rand(len(lengths), generator=generator) * room).long()
    frames = starts[:, None] + torch.arange(window)                   # [B, window]
    return torch.gather(motions, 1, frames[..., None].expand(-1, -1, motions.shape[2]).to(motions.device))


def movement_loss(features: torch.Tensor, tokens: torch.Tensor, reconstruction: torch.Tensor,
                  sparsity_weight: float, smooth_weight: float) -> tuple[torch.Tensor, dict]:
    """Stage-1 loss of windows [B, W, C], their tokens [B, W/4, 512] and decoded windows [B, W, C].

    L1(reconstruction, features) + sparsity_weight * mean|tokens| + smooth_weight * L1(tokens[t+1], tokens[t]).
    Returns (loss, {"recon", "sparsity", "smooth"} as floats).
    """
    recon = F.l1_loss(reconstruction, features)
    sparsity = tokens.abs().mean()
    smooth = F.l1_loss(tokens[:, 1:], tokens[:, :-1])
    loss = recon + sparsity_weight * sparsity + smooth_weight * smooth
    return loss, {"recon": recon.item(), "sparsity": sparsity.item(), "smooth": smooth.item()}


def negative_mask(captions: list[str], shift: int | None = None) -> torch.Tensor:
    """bool [B, B]: which (caption i, motion j) pairs count as mismatches.

    With `shift` (Guo's recipe) each caption i has one candidate, motion (i + shift) % B; with None
    every other motion of the batch is a candidate. Pairs whose captions are the same text never count.
    """
    size = len(captions)
    different = torch.tensor([[a != b for b in captions] for a in captions])
    if shift is None:
        return different
    assert 0 < shift < size, (shift, size)
    shifted = torch.zeros(size, size, dtype=torch.bool)
    shifted[torch.arange(size), (torch.arange(size) + shift) % size] = True
    return shifted & different


def contrastive_loss(text_emb: torch.Tensor, motion_emb: torch.Tensor, negatives: torch.Tensor,
                     margin: float) -> tuple[torch.Tensor, dict]:
    """Co-embedding loss of text/motion embeddings [B, 512] (row i of each is one pair).

    Positive term: mean squared distance of the matched pairs. Negative term: mean of
    max(0, margin - d)^2 over the mismatched pairs selected by `negatives` [B, B] (text i, motion j);
    zero if it selects none. Returns (loss, {"positive", "negative", "distance_pos", "distance_neg"}).
    """
    distances = F.pairwise_distance(text_emb[:, None], motion_emb[None])          # [B, B]
    positive_d = distances.diagonal()
    negative_d = distances[negatives.to(distances.device)]
    positive = positive_d.pow(2).mean()
    negative = (margin - negative_d).clamp(min=0).pow(2).mean() if len(negative_d) else positive_d.new_zeros(())
    loss = positive + negative
    return loss, {"positive": positive.item(), "negative": negative.item(),
                  "distance_pos": positive_d.mean().item(),
                  "distance_neg": negative_d.mean().item() if len(negative_d) else float("nan")}
