"""train.center_text: train the text projection on centred CLIP features, saved in the official layout.

CLIP text features share a large component: over the synthetic captions with random weights the
mean feature has norm 18.5 against 12.0 for a caption's deviation from it. In `embed_text(y) =
W·y + b` that component makes every gradient of W mostly `δ·μᵀ`, a second bias gradient, and
Adam spends its step size on it: the network learns to use the text several times more slowly.

This module trains the same function under the change of variables `b = b′ − W·μ`:
`embed_text(y) = W·(y − μ) + b′`, so the gradient of W is `δ·(y − μ)ᵀ`. μ is the mean feature of
the training captions. The null condition (y = 0) still gives `b`, the checkpoint still holds
`embed_text.weight` and the official bias `b` (converted on save and on load), and a model loaded
from it computes exactly what was trained. Only the optimisation path differs from the reference.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from crossdiff.errors import UserError


class CenteredTextLinear(nn.Linear):
    """`nn.Linear` whose bias parameter is b′ = b + W·μ; `state_dict` and `load_state_dict` use b."""

    def __init__(self, linear: nn.Linear, mean: torch.Tensor):
        super().__init__(linear.in_features, linear.out_features, device=linear.weight.device,
                         dtype=linear.weight.dtype)
        if linear.bias is None or mean.shape != (linear.in_features,):
            raise ValueError(f"need a biased Linear and a mean of shape [{linear.in_features}], "
                             f"got bias={linear.bias is not None}, mean {list(mean.shape)}")
        self.register_buffer("mean", mean.detach().to(linear.weight), persistent=False)
        with torch.no_grad():
            self.weight.copy_(linear.weight)
            self.bias.copy_(self._shifted(linear.weight, linear.bias, +1))

    def _shifted(self, weight: torch.Tensor, bias: torch.Tensor, sign: int) -> torch.Tensor:
        """b + sign·W·μ in float64, so a save/load round trip does not drift."""
        shift = weight.detach().double() @ self.mean.double()
        return (bias.detach().double() + sign * shift).to(bias.dtype)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return F.linear(y - self.mean.to(y.dtype), self.weight, self.bias)

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        destination[prefix + "bias"] = self._shifted(self.weight, self.bias, -1)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        weight, bias = state_dict.get(prefix + "weight"), state_dict.get(prefix + "bias")
        if weight is not None and bias is not None and weight.shape == self.weight.shape:
            state_dict = {**state_dict, prefix + "bias": self._shifted(weight.to(self.mean), bias.to(self.mean), +1)}
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)


def caption_mean(encode_text, captions: list[str], chunk: int = 1024) -> torch.Tensor:
    """Mean text feature `[D]` float32 over distinct captions (the warm text cache makes this cheap)."""
    captions = list(dict.fromkeys(captions))
    if not captions:
        raise UserError("train.center_text=true needs the training captions, and this dataset lists none; "
                        "set train.center_text=false")
    total = None
    for start in range(0, len(captions), chunk):
        part = encode_text(captions[start:start + chunk]).double().sum(0).cpu()
        total = part if total is None else total + part
    return (total / len(captions)).float()


def center_text_projection(model: nn.Module, mean: torch.Tensor) -> None:
    """Swap `model.embed_text` for its centred form (same function, same checkpoint layout)."""
    linear = getattr(model, "embed_text", None)
    if not isinstance(linear, nn.Linear) or isinstance(linear, CenteredTextLinear):
        raise ValueError("model has no plain nn.Linear embed_text to centre")
    model.embed_text = CenteredTextLinear(linear, mean)
