"""Building blocks shared by CrossDiff and MDM: positional table, step embedder, text condition.

Shapes follow the reference's sequence-first layout: a token sequence is `[S, B, d]`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from crossdiff.errors import UserError
from crossdiff.model.dropout import dropout as drop
from crossdiff.model.dropout import dropout_scale, dropped_attention, dropped_feed_forward, zero_dropped

PE_MAX_LEN = 5000  # rows of the sinusoid table in official checkpoints


def sinusoid_table(d_model: int, max_len: int = PE_MAX_LEN) -> torch.Tensor:
    """`[max_len, 1, d]` float32: pe[p, 2i] = sin(p·w_i), pe[p, 2i+1] = cos(p·w_i), w_i = 10000^(-2i/d).

    Computed in float32 the way the reference does, so the table matches checkpoints bit for bit.
    """
    position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
    freq = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    table = torch.zeros(max_len, d_model)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq)
    return table.unsqueeze(1)


class PositionalEncoding(nn.Module):
    """Adds the sinusoid table to a sequence `[S, B, d]`, then dropout.

    The table is a frozen nn.Parameter, not a buffer (docs/original_code.md §13.22): `model.parameters()` counts it,
    as the reference's "Total params" does, and checkpoints hold it under every path that reaches it.
    """

    def __init__(self, d_model: int, dropout: float, max_len: int = PE_MAX_LEN):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        self.pe = nn.Parameter(sinusoid_table(d_model, max_len), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`[S, B, d] -> [S, B, d]`."""
        return drop(x + self.pe[: x.shape[0]], self.dropout.p, self.training)


class TimestepEmbedder(nn.Module):
    """Diffusion step `[B]` int64 -> token `[1, B, d]`: MLP(pe[t]) with SiLU in between.

    It keeps a reference to the model's PositionalEncoding (the same module object), which is why
    the table appears a second time in the state_dict as `embed_timestep.sequence_pos_encoder.pe`.
    """

    def __init__(self, latent_dim: int, sequence_pos_encoder: PositionalEncoding):
        super().__init__()
        self.sequence_pos_encoder = sequence_pos_encoder
        self.time_embed = nn.Sequential(nn.Linear(latent_dim, latent_dim), nn.SiLU(),
                                        nn.Linear(latent_dim, latent_dim))

    def forward(self, timesteps: torch.Tensor) -> torch.Tensor:
        """`[B]` integer steps (0..999, no rescaling) -> `[1, B, d]`."""
        return self.time_embed(self.sequence_pos_encoder.pe[timesteps]).permute(1, 0, 2)


def drop_text(text_emb: torch.Tensor, prob: float, training: bool, force_mask: bool = False) -> torch.Tensor:
    """The classifier-free condition mask (docs/original_code.md §5.3): `[B, D] -> [B, D]`.

    force_mask gives zeros (the null condition, so the text token is just `embed_text.bias`);
    in training each sample is zeroed with probability `prob`, one Bernoulli draw per row.
    """
    if force_mask:
        return torch.zeros_like(text_emb)
    if training and prob > 0.0:
        keep = torch.bernoulli(torch.full((text_emb.shape[0], 1), 1.0 - prob, device=text_emb.device))
        return text_emb * keep.to(text_emb.dtype)
    return text_emb


def attention(mha: nn.MultiheadAttention, query: torch.Tensor, memory: torch.Tensor | None,
              training: bool, out_scale: float = 1.0) -> torch.Tensor:
    """nn.MultiheadAttention's maths on its own parameters, sequence-first, no masks.

    `query [Sq, B, d]` attends to itself (memory None: one fused QKV projection) or to `memory
    [Sk, B, d]`. Without dropout the fused attention kernel runs. With it, softmax weights are
    dropped (on the weights, before V, as torch drops them) by zeroing only: the 1/√head_dim of the
    logits is folded into W_q and the dropout's 1/keep rate into W_o. `out_scale` multiplies the
    output projection (weight and bias), for a dropout that follows it.
    """
    p = mha.dropout if training else 0.0
    logit_scale = (query.shape[-1] // mha.num_heads) ** -0.5 if p > 0.0 else 1.0
    q, k, v = _project(mha, query, memory, logit_scale)
    if p == 0.0:
        out, weight_scale = F.scaled_dot_product_attention(q, k, v), 1.0
    else:
        out, weight_scale = dropped_attention(q, k, v, p), dropout_scale(p, True)
    sq, b, d = query.shape
    return scaled_linear(out.permute(2, 0, 1, 3).reshape(sq, b, d), mha.out_proj, weight_scale * out_scale, out_scale)


def _project(mha: nn.MultiheadAttention, query, memory, logit_scale: float):
    """q `[B, heads, Sq, head_dim]` (times logit_scale), k and v `[B, heads, Sk, head_dim]`."""
    sq, b, d = query.shape
    heads, w, bias = mha.num_heads, mha.in_proj_weight, mha.in_proj_bias
    if logit_scale != 1.0:
        rows = torch.ones(3 * d, 1, dtype=w.dtype, device=w.device)
        rows[:d] = logit_scale
        w, bias = w * rows, bias * rows[:, 0]
    if memory is None:
        return F.linear(query, w, bias).view(sq, b, 3, heads, d // heads).permute(2, 1, 3, 0, 4)
    q = F.linear(query, w[:d], bias[:d]).view(sq, b, heads, d // heads).permute(1, 2, 0, 3)
    k, v = F.linear(memory, w[d:], bias[d:]).view(len(memory), b, 2, heads, d // heads).permute(2, 1, 3, 0, 4)
    return q, k, v


def scaled_linear(x: torch.Tensor, linear: nn.Linear, weight_scale: float, bias_scale: float) -> torch.Tensor:
    """linear with its weight and bias multiplied by constants (folded dropout scales; 1: plain linear)."""
    if weight_scale == 1.0 and bias_scale == 1.0:
        return linear(x)
    return F.linear(x, linear.weight * weight_scale, linear.bias * bias_scale)


def _no_masks(*masks) -> None:
    if any(m is not None and m is not False for m in masks):
        raise ValueError("CrossDiff layers take no attention masks (the original uses none)")


def _feed_forward(layer, x: torch.Tensor, p: float, train: bool, scale: float) -> torch.Tensor:
    """dropout(linear2(dropout(gelu(linear1(x))))) with both dropout scales folded into linear2."""
    # Under autocast the linear maps run in bf16/fp16 and autograd owns the casts, so keep its path there.
    if train and 0.0 < p < 1.0 and not torch.is_autocast_enabled(x.device.type):
        return dropped_feed_forward(x, layer.linear1.weight, layer.linear1.bias,
                                    layer.linear2.weight * (scale * scale), layer.linear2.bias * scale, p)
    hidden = zero_dropped(F.gelu(layer.linear1(x)), p, train, inplace=True)  # gelu's backward keeps its input
    return zero_dropped(scaled_linear(hidden, layer.linear2, scale * scale, scale), p, train, inplace=True)


class EncoderLayer(nn.TransformerEncoderLayer):
    """nn.TransformerEncoderLayer(d, heads, ff, dropout, activation="gelu"): the same parameters,
    initialisation and post-norm maths, with the cheaper dropout of crossdiff.model.dropout (each
    dropout's scale folded into the next linear map's weights)."""

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        _no_masks(src_mask, src_key_padding_mask, is_causal)
        p, train = self.dropout.p, self.training
        scale = dropout_scale(p, train)
        x = self.norm1(src + zero_dropped(attention(self.self_attn, src, None, train, scale), p, train, inplace=True))
        return self.norm2(x + _feed_forward(self, x, p, train, scale))


class DecoderLayer(nn.TransformerDecoderLayer):
    """nn.TransformerDecoderLayer(d, heads, ff, dropout, activation="gelu") likewise."""

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        _no_masks(tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask, tgt_is_causal,
                  memory_is_causal)
        p, train = self.dropout.p, self.training
        scale = dropout_scale(p, train)
        x = self.norm1(tgt + zero_dropped(attention(self.self_attn, tgt, None, train, scale), p, train, inplace=True))
        x = self.norm2(x + zero_dropped(attention(self.multihead_attn, x, memory, train, scale), p, train,
                                        inplace=True))
        return self.norm3(x + _feed_forward(self, x, p, train, scale))


def encoder_layer(d: int, heads: int, ff: int, dropout: float) -> nn.TransformerEncoderLayer:
    """Post-norm layer, exact GELU, sequence-first: the official key set and maths."""
    return EncoderLayer(d, heads, ff, dropout, activation="gelu")


def decoder_layer(d: int, heads: int, ff: int, dropout: float) -> nn.TransformerDecoderLayer:
    return DecoderLayer(d, heads, ff, dropout, activation="gelu")


def transformer_encoder(n: int, d: int, heads: int, ff: int, dropout: float) -> nn.TransformerEncoder:
    """n encoder layers under `.layers.N.` (the official nesting); no final norm.

    Nested tensors only apply to batch-first layers with padding masks; turning them off just
    silences PyTorch's warning about it.
    """
    return nn.TransformerEncoder(encoder_layer(d, heads, ff, dropout), n, enable_nested_tensor=False)


def check_width(latent_dim: int, num_heads: int) -> None:
    """Attention needs the width to split evenly into heads; say so in config terms."""
    if latent_dim <= 0 or num_heads <= 0 or latent_dim % num_heads:
        raise UserError(f"model.latent_dim={latent_dim} must be a positive multiple of "
                        f"model.num_heads={num_heads}")
