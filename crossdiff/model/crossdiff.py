"""The CrossDiff denoiser: modality encoders, a shared bridge and one cross decoder per modality.

G_{iD->jD}(x_t, t, c) = D_jD(E_share(E_iD(x_t, t, c))) (docs/original_code.md §5.4). The attribute names and their
registration order are the official checkpoint's (docs/original_code.md §5.2, §5.5), so official weights load with
`strict=True`. The network predicts x0 in normalised feature space and knows nothing about noise.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from crossdiff.errors import UserError
from crossdiff.model.layers import (PositionalEncoding, TimestepEmbedder, check_width, decoder_layer, drop_text,
                                    encoder_layer, transformer_encoder)

# Sizes the official checkpoints hard-code (docs/original_code.md §5.1, §5.5), not configurable.
ROOT_FF_SIZE = 512      # feed-forward width of the root encoders and root decoders
ROOT_LAYERS = 2         # root encoder depth
ROOT_DECODERS = 2       # root decoder layers per head; they follow the last pose-decoder layers
ROOT_WIDTH = {"m": 4, "j": 2}  # leading root columns: 3D (rot vel, xz vel, y), 2D (root position)
TOKEN_NAME = {"m": "motion_token", "j": "joint_token"}
QUERY_INITS = ("reference", "positional")
POSITIONAL_LOGIT = 16.0  # query_init=positional: Q/K identity scale s with s² · √head_dim = 16 (s = 2 for 16-d heads)


class CrossDiff(nn.Module):
    """x_t of either modality, step and text -> x0 prediction of the 3D and/or 2D motion.

    Inputs are `[B, C, 1, T]` with C = njoints_m (3D) or njoints_j (2D) and T = max_frames; the
    learned query tokens have exactly max_frames positions. No attention masks anywhere: padded
    frames are processed like real ones and the losses apply the masks (docs/original_code.md §5.4).
    """

    def __init__(self, njoints_m: int = 263, njoints_j: int = 134, latent_dim: int = 512, layers: int = 4,
                 layers2: int = 6, num_heads: int = 4, ff_size: int = 1024, dropout: float = 0.1,
                 text_dim: int = 512, cond_mask_prob: float = 0.1, max_frames: int = 196,
                 query_init: str = "reference"):
        super().__init__()
        _check_config(njoints_m, njoints_j, latent_dim, num_heads, layers, layers2, max_frames)
        if query_init not in QUERY_INITS:
            raise UserError(f"model.query_init={query_init!r} is unknown; choose one of: {', '.join(QUERY_INITS)}")
        self.njoints = {"m": njoints_m, "j": njoints_j}
        self.max_frames = max_frames
        self.cond_mask_prob = cond_mask_prob
        d, h = latent_dim, num_heads
        # Registration order = state_dict key order of the official checkpoints (docs/original_code.md §5.2).
        self.motion_token = nn.Parameter(torch.randn(max_frames, 1, d))
        self.joint_token = nn.Parameter(torch.randn(max_frames, 1, d))
        self.p_linear_m = nn.Linear(njoints_m - ROOT_WIDTH["m"], d)
        self.p_linear_j = nn.Linear(njoints_j - ROOT_WIDTH["j"], d)
        self.sequence_pos_encoder = PositionalEncoding(d, dropout)
        self.seqTransEncoder_m = transformer_encoder(layers, d, h, ff_size, dropout)
        self.seqTransEncoder_j = transformer_encoder(layers, d, h, ff_size, dropout)
        self.decoder_m = nn.ModuleList(decoder_layer(d, h, ff_size, dropout) for _ in range(layers2))
        self.decoder_j = nn.ModuleList(decoder_layer(d, h, ff_size, dropout) for _ in range(layers2))
        self.bridge = nn.ModuleList(encoder_layer(d, h, ff_size, dropout) for _ in range(layers2))
        for m in ("m", "j"):
            self._add_root_pipeline(m, d, h, dropout)
        self.embed_timestep = TimestepEmbedder(d, self.sequence_pos_encoder)
        self.embed_text = nn.Linear(text_dim, d)
        self.p_linear2_m = nn.Linear(d, njoints_m - ROOT_WIDTH["m"])
        self.p_linear2_j = nn.Linear(d, njoints_j - ROOT_WIDTH["j"])
        if query_init == "positional":
            self._positional_queries(h)

    @torch.no_grad()
    def _positional_queries(self, heads: int) -> None:
        """Start each decoder query at its own frame: an initialisation for training from scratch.

        With the reference's randn queries the cross decoders must first discover which memory token
        holds which frame; on a small budget they never do, attend everywhere alike and decode the
        same pose at every frame (static motion). Here query f starts as the positional row its frame
        carries in the memory (pe[f + 1]; row 0 is the step token) and the cross-attention query and
        key projections start as scaled identities, so query f attends mostly to frame f from step
        one. Only values change: loaded weights replace all of them.
        """
        pe = self.sequence_pos_encoder.pe[1:self.max_frames + 1]
        d = pe.shape[-1]
        scale = (POSITIONAL_LOGIT / math.sqrt(d // heads)) ** 0.5
        for m in ("m", "j"):
            getattr(self, TOKEN_NAME[m]).copy_(pe)
            for layer in getattr(self, f"decoder_{m}"):
                weight = layer.multihead_attn.in_proj_weight  # rows: W_q, W_k, W_v
                weight[:2 * d].copy_(torch.eye(d).repeat(2, 1) * scale)

    def _add_root_pipeline(self, m: str, d: int, h: int, dropout: float) -> None:
        """r_linear_*, r_encoder_*, r_decoder_*, r_linear2_*, in that order (docs/original_code.md §5.2)."""
        setattr(self, f"r_linear_{m}", nn.Linear(ROOT_WIDTH[m], d))
        setattr(self, f"r_encoder_{m}", transformer_encoder(ROOT_LAYERS, d, h, ROOT_FF_SIZE, dropout))
        setattr(self, f"r_decoder_{m}",
                nn.ModuleList(decoder_layer(d, h, ROOT_FF_SIZE, dropout) for _ in range(ROOT_DECODERS)))
        setattr(self, f"r_linear2_{m}", nn.Linear(d, ROOT_WIDTH[m]))

    def forward(self, x: torch.Tensor, timesteps: torch.Tensor, y: torch.Tensor, force_mask: bool = False,
                return_m: bool = True, return_j: bool = False) -> dict:
        """`x [B, C, 1, T]`, `timesteps [B]` int64, `y [B, text_dim]` -> {"m": [B, njoints_m, 1, T] or
        None, "j": [B, njoints_j, 1, T] or None}. The modality of x is read from C.

        The root stream of every output comes from the input modality's root encoder (docs/original_code.md §5.4).
        """
        src = self._modality(x, "x")
        emb = self._condition(timesteps, drop_text(y, self.cond_mask_prob, self.training, force_mask))
        pose, root = self._encode(src, x, emb)
        memory = self._bridge(pose)
        return {"m": self._decode("m", memory, root) if return_m else None,
                "j": self._decode("j", memory, root) if return_j else None}

    def forward_both(self, m_t: torch.Tensor, j_t: torch.Tensor, timesteps: torch.Tensor, y: torch.Tensor) -> dict:
        """All four cross paths of stage I in one pass (docs/original_code.md §7.2).

        `m_t [B, njoints_m, 1, T]`, `j_t [B, njoints_j, 1, T]`, `timesteps [B]`, `y [B, text_dim]` ->
        {"m_from_m", "j_from_m"} from m_t and {"m_from_j", "j_from_j"} from j_t. Equal to two
        `forward(..., return_m=True, return_j=True)` calls; the encoded streams are stacked to
        `[S, 2B, d]` so the bridge and each decoder run once on twice the batch. Condition dropout
        draws one Bernoulli per modality input (2B draws), as the two separate calls would.
        """
        if self._modality(m_t, "m_t") != "m" or self._modality(j_t, "j_t") != "j":
            raise ValueError(f"forward_both takes 3D then 2D input ({self.njoints['m']} then "
                             f"{self.njoints['j']} channels), got {m_t.shape[1]} and {j_t.shape[1]}")
        if j_t.shape[0] != m_t.shape[0]:
            raise ValueError(f"m_t and j_t need the same batch size, got {m_t.shape[0]} and {j_t.shape[0]}")
        b = m_t.shape[0]
        text = drop_text(torch.cat([y, y]), self.cond_mask_prob, self.training)
        emb = self._condition(torch.cat([timesteps, timesteps]), text)
        pose_m, root_m = self._encode("m", m_t, emb[:, :b])
        pose_j, root_j = self._encode("j", j_t, emb[:, b:])
        memory = self._bridge(torch.cat([pose_m, pose_j], dim=1))
        root = torch.cat([root_m, root_j], dim=1)
        m_out, j_out = self._decode("m", memory, root), self._decode("j", memory, root)
        return {"m_from_m": m_out[:b], "j_from_m": j_out[:b], "m_from_j": m_out[b:], "j_from_j": j_out[b:]}

    def _modality(self, x: torch.Tensor, name: str) -> str:
        """'m' or 'j' from the channel count; a shape the network cannot take is a clear error."""
        if x.dim() != 4 or x.shape[2] != 1:
            raise ValueError(f"{name} must be [B, C, 1, T], got shape {list(x.shape)}")
        if x.shape[3] != self.max_frames:
            raise ValueError(f"{name} has {x.shape[3]} frames; CrossDiff takes exactly max_frames="
                             f"{self.max_frames} (its query tokens are fixed): pad or crop the motion")
        for m, width in self.njoints.items():
            if x.shape[1] == width:
                return m
        raise ValueError(f"{name} has {x.shape[1]} channels; expected {self.njoints['m']} (3D) "
                         f"or {self.njoints['j']} (2D)")

    def _condition(self, timesteps: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """The step/text token `[1, B, d]` = embed_timestep(t) + embed_text(masked text)."""
        return self.embed_timestep(timesteps) + self.embed_text(text)

    def _encode(self, m: str, x: torch.Tensor, emb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """E_m: `x [B, C, 1, T]`, `emb [1, B, d]` -> pose stream `[T+1, B, d]`, root stream `[T, B, d]`."""
        seq = x[:, :, 0].permute(2, 0, 1)  # [T, B, C]
        width = ROOT_WIDTH[m]
        root = getattr(self, f"r_linear_{m}")(seq[..., :width])
        pose = getattr(self, f"p_linear_{m}")(seq[..., width:])
        # The step token is prepended before the positional table is added, to both streams.
        pose = getattr(self, f"seqTransEncoder_{m}")(self.sequence_pos_encoder(torch.cat([emb, pose])))
        root = getattr(self, f"r_encoder_{m}")(self.sequence_pos_encoder(torch.cat([emb, root])))
        return pose, root[1:]

    def _bridge(self, pose: torch.Tensor) -> list[torch.Tensor]:
        """E_share: the output of every bridge layer `[T+1, B, d]` (step token included) is the
        memory of the matching decoder layer."""
        memory = []
        for layer in self.bridge:
            pose = layer(pose)
            memory.append(pose)
        return memory

    def _decode(self, m: str, memory: list[torch.Tensor], root: torch.Tensor) -> torch.Tensor:
        """D_m: learned queries cross-attend to the bridge layers -> `[B, njoints_m or _j, 1, T]`.

        The root decoders follow the last ROOT_DECODERS pose-decoder layers and cross-attend to
        the pose output just updated.
        """
        out = getattr(self, TOKEN_NAME[m]).expand(-1, root.shape[1], -1)
        decoders, root_decoders = getattr(self, f"decoder_{m}"), getattr(self, f"r_decoder_{m}")
        first_root = len(decoders) - len(root_decoders)
        for k, layer in enumerate(decoders):
            out = layer(out, memory[k])
            if k >= first_root:
                root = root_decoders[k - first_root](root, out)
        feats = torch.cat([getattr(self, f"r_linear2_{m}")(root), getattr(self, f"p_linear2_{m}")(out)], dim=-1)
        return feats.permute(1, 2, 0).unsqueeze(2)  # [T, B, C] -> [B, C, 1, T]


def _check_config(njoints_m, njoints_j, latent_dim, num_heads, layers, layers2, max_frames) -> None:
    check_width(latent_dim, num_heads)
    if layers2 < ROOT_DECODERS:
        raise UserError(f"model.layers2={layers2} must be >= {ROOT_DECODERS}: the root decoders "
                        "follow the last two cross-decoder layers")
    if layers < 1:
        raise UserError(f"model.layers={layers} must be >= 1")
    if njoints_m <= ROOT_WIDTH["m"] or njoints_j <= ROOT_WIDTH["j"] or njoints_m == njoints_j:
        raise UserError(f"model.njoints_m={njoints_m} and model.njoints_j={njoints_j} must differ and exceed "
                        "the root widths 4 and 2 (HumanML3D: 263/134, KIT: 251/128)")
    if max_frames < 1:
        raise UserError(f"model.max_frames={max_frames} must be >= 1 (official weights: 196)")
