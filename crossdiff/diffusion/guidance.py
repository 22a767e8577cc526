"""Classifier-free guidance and head selection, as wrappers with the model's signature.

The model is any callable
    model(x [B, C, 1, T], timesteps [B] int64, y [B, 512], force_mask=False, return_m=True,
          return_j=False) -> {"m": [B, 263, 1, T] | None, "j": [B, 134, 1, T] | None}
that predicts x0. This module never imports the network.
"""

from __future__ import annotations

import torch
from torch import nn

HEADS = ("m", "j")


class GuidedModel(nn.Module):
    """Classifier-free guidance (Ho & Salimans 2022): x̂0 = x̂0(∅) + s·(x̂0(c) − x̂0(∅)) per head.

    The conditional and unconditional passes run as ONE batched call: the batch is doubled and the
    second half's text set to zero, which the network treats exactly like force_mask=True (its
    null condition is embed_text(0), docs/original_code.md §5.3). Scale 1 is the identity: one conditional call.
    Unlike the reference, the scale is applied whenever it is not 1 (docs/original_code.md §13.3).

    `min_timestep` > 0 guides only samples whose timestep is at least that (a guidance interval,
    Kynkäänniemi et al. 2024); below it x̂0 is the conditional prediction alone. 0 guides every step.
    """

    def __init__(self, model, scale: float, min_timestep: int = 0):
        super().__init__()
        self.model = model
        self.scale = float(scale)
        self.min_timestep = int(min_timestep)

    def forward(self, x, timesteps, y, force_mask=False, return_m=True, return_j=False):
        guided = timesteps >= self.min_timestep
        if self.scale == 1.0 or force_mask or not guided.any():
            return self.model(x, timesteps, y, force_mask=force_mask, return_m=return_m, return_j=return_j)
        both = self.model(torch.cat([x, x]), torch.cat([timesteps, timesteps]), torch.cat([y, torch.zeros_like(y)]),
                          force_mask=False, return_m=return_m, return_j=return_j)
        out = {}
        for head, value in both.items():
            if value is None:
                out[head] = None
                continue
            cond, uncond = value.chunk(2)
            mixed = uncond + self.scale * (cond - uncond)
            out[head] = mixed if guided.all() else torch.where(guided.view(-1, *[1] * (cond.dim() - 1)), mixed, cond)
        return out


class AutocastModel(nn.Module):
    """The model run under torch.autocast in `dtype` (bfloat16), returning float32 outputs.

    Matmuls and attention run in bf16 (AMX/AVX512-BF16 on CPU, tensor cores on CUDA); the sampler's
    arithmetic between steps, and guidance when wrapped around this, stay float32.
    """

    def __init__(self, model, dtype: torch.dtype):
        super().__init__()
        self.model = model
        self.dtype = dtype

    def forward(self, x, timesteps, y, force_mask=False, return_m=True, return_j=False):
        with torch.autocast(x.device.type, dtype=self.dtype):
            out = self.model(x, timesteps, y, force_mask=force_mask, return_m=return_m, return_j=return_j)
        return {head: None if value is None else value.float() for head, value in out.items()}


def head_denoiser(model, text_emb: torch.Tensor, head: str = "m", force_mask: bool = False):
    """Bind the text and pick one output head: `denoise(x_t, t) -> x0_pred` for the samplers.

    head "m" is the 3D output `[B, 263, 1, T]`, "j" the 2D output `[B, 134, 1, T]`, chosen
    explicitly whatever the input modality (the reference chose it by channel count, docs/original_code.md §6.2).
    text_emb: `[B, 512]`, the same batch as x_t.
    """
    if head not in HEADS:
        raise ValueError(f"head must be one of {HEADS}, got {head!r}")

    def denoise(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        out = model(x_t, t, text_emb, force_mask=force_mask, return_m=head == "m", return_j=head == "j")
        return out[head]

    return denoise
