"""The MDM baseline (docs/original_code.md §5.8): one transformer encoder over [step/text token, frames], 3D only.

Key layout of the reference's `MDM` with arch `trans_enc` and `hml_vec` features (golden
case 4): input_process.poseEmbedding, sequence_pos_encoder, seqTransEncoder.layers.N,
embed_timestep, embed_text, output_process.poseFinal.
"""

from __future__ import annotations

import torch
from torch import nn

from crossdiff.errors import UserError
from crossdiff.model.layers import (PE_MAX_LEN, PositionalEncoding, TimestepEmbedder, check_width, drop_text,
                                    transformer_encoder)

THREE_D_ONLY = "MDM is 3D only: use train.mode=finetune (MDM has no 2D input or output)"


class InputProcess(nn.Module):
    """`[B, C, 1, T] -> [T, B, d]` (the reference's nesting gives `input_process.poseEmbedding`)."""

    def __init__(self, njoints: int, latent_dim: int):
        super().__init__()
        self.poseEmbedding = nn.Linear(njoints, latent_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.poseEmbedding(x[:, :, 0].permute(2, 0, 1))


class OutputProcess(nn.Module):
    """`[T, B, d] -> [B, C, 1, T]` through `output_process.poseFinal`."""

    def __init__(self, njoints: int, latent_dim: int):
        super().__init__()
        self.poseFinal = nn.Linear(latent_dim, njoints)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.poseFinal(h).permute(1, 2, 0).unsqueeze(2)


class MDM(nn.Module):
    """x_t `[B, njoints_m, 1, T]`, step and text -> x0 prediction `{"m": [B, njoints_m, 1, T], "j": None}`.

    Takes CrossDiff's constructor keywords so one config section builds either network;
    njoints_j and layers2 mean nothing here and are ignored, `layers` is the encoder depth.
    Nothing in the layout is tied to the frame count, so any T from 1 to max_frames is accepted.
    """

    def __init__(self, njoints_m: int = 263, njoints_j: int = 134, latent_dim: int = 512, layers: int = 4,
                 layers2: int = 6, num_heads: int = 4, ff_size: int = 1024, dropout: float = 0.1,
                 text_dim: int = 512, cond_mask_prob: float = 0.1, max_frames: int = 196,
                 query_init: str = "reference"):
        super().__init__()
        del njoints_j, layers2, query_init  # CrossDiff-only keys, accepted so the config section is shared
        check_width(latent_dim, num_heads)
        if layers < 1:
            raise UserError(f"model.layers={layers} must be >= 1")
        if not 1 <= max_frames < PE_MAX_LEN:
            raise UserError(f"model.max_frames={max_frames} must be in 1..{PE_MAX_LEN - 1}")
        self.njoints_m = njoints_m
        self.max_frames = max_frames
        self.cond_mask_prob = cond_mask_prob
        self.input_process = InputProcess(njoints_m, latent_dim)
        self.sequence_pos_encoder = PositionalEncoding(latent_dim, dropout)
        self.seqTransEncoder = transformer_encoder(layers, latent_dim, num_heads, ff_size, dropout)
        self.embed_timestep = TimestepEmbedder(latent_dim, self.sequence_pos_encoder)
        self.embed_text = nn.Linear(text_dim, latent_dim)
        self.output_process = OutputProcess(njoints_m, latent_dim)

    def forward(self, x: torch.Tensor, timesteps: torch.Tensor, y: torch.Tensor, force_mask: bool = False,
                return_m: bool = True, return_j: bool = False) -> dict:
        """Same signature as CrossDiff.forward; `return_j=True` or a 2D input is a UserError."""
        self._check_input(x, return_j)
        emb = self.embed_timestep(timesteps) + self.embed_text(
            drop_text(y, self.cond_mask_prob, self.training, force_mask))
        h = self.seqTransEncoder(self.sequence_pos_encoder(torch.cat([emb, self.input_process(x)])))
        return {"m": self.output_process(h[1:]) if return_m else None, "j": None}

    def _check_input(self, x: torch.Tensor, return_j: bool) -> None:
        if return_j:
            raise UserError(f"{THREE_D_ONLY}; return_j=True was asked")
        if x.dim() != 4 or x.shape[2] != 1:
            raise ValueError(f"x must be [B, C, 1, T], got shape {list(x.shape)}")
        if x.shape[1] != self.njoints_m:
            raise UserError(f"{THREE_D_ONLY}; got an input with {x.shape[1]} channels, "
                            f"expected njoints_m={self.njoints_m}")
        if not 1 <= x.shape[3] <= self.max_frames:
            raise ValueError(f"x has {x.shape[3]} frames; MDM takes 1..max_frames={self.max_frames}")
