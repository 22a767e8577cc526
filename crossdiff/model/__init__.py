"""Denoising networks: CrossDiff and the MDM baseline, selected by name from MODELS.

Both take the same constructor keywords (the `model:` config section minus `model_type`) and the
same forward signature `(x [B, C, 1, T], timesteps [B], y [B, text_dim], force_mask, return_m,
return_j) -> {"m": ..., "j": ...}`.
"""

from __future__ import annotations

from crossdiff.errors import UserError
from crossdiff.model.crossdiff import CrossDiff
from crossdiff.model.mdm import MDM

MODELS = {"crossdiff": CrossDiff, "mdm": MDM}


def build_model(model_type: str = "crossdiff", *, njoints_m: int, njoints_j: int, latent_dim: int, layers: int,
                layers2: int, num_heads: int, ff_size: int, dropout: float, text_dim: int,
                cond_mask_prob: float, max_frames: int, query_init: str = "reference"):
    """The network named by `model_type`, built from exactly the `model:` config keys."""
    if model_type not in MODELS:
        raise UserError(f"model.model_type={model_type!r} is unknown; choose one of: {', '.join(MODELS)}")
    return MODELS[model_type](njoints_m=njoints_m, njoints_j=njoints_j, latent_dim=latent_dim, layers=layers,
                              layers2=layers2, num_heads=num_heads, ff_size=ff_size, dropout=dropout,
                              text_dim=text_dim, cond_mask_prob=cond_mask_prob, max_frames=max_frames,
                              query_init=query_init)
