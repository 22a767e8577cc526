"""The original code's stage-I training step, written out plainly on a CrossDiff module's own weights.

docs/original_code.md §7.2 and §5.4: one full forward pass per modality, each returning both heads (3D input ->
3D and 2D, 2D input -> 3D and 2D: the four cross paths), the four masked L2 losses, then AdamW.
The layers run torch's own `nn.TransformerEncoderLayer` / `nn.TransformerDecoderLayer` forwards
and the positional dropout `nn.Dropout`, as the original does; ours subclass those modules, so the
same parameters serve both. With `torch_layers=False` the layers run our forwards instead (two
`model.forward` calls: the original's structure with our kernels).

bench/train_bench.py times this against our step; tests/test_train_step.py checks that both give the
same losses and gradients.
"""

from __future__ import annotations

import torch
from torch import nn

from crossdiff.diffusion.schedule import masked_l2
from crossdiff.model.crossdiff import ROOT_WIDTH, TOKEN_NAME
from crossdiff.model.layers import drop_text


def positional(model, x: torch.Tensor) -> torch.Tensor:
    pe = model.sequence_pos_encoder
    return pe.dropout(x + pe.pe[: x.shape[0]])


def encoder_stack(layers, x: torch.Tensor) -> torch.Tensor:
    for layer in layers:
        x = nn.TransformerEncoderLayer.forward(layer, x)
    return x


def head(model, m: str, middle: list, root: torch.Tensor) -> torch.Tensor:
    """One decoder D_m on the bridge outputs `middle` and the root stream (docs/original_code.md §5.4 steps 7-8)."""
    out = getattr(model, TOKEN_NAME[m]).expand(-1, root.shape[1], -1)
    decoders, root_decoders = getattr(model, f"decoder_{m}"), getattr(model, f"r_decoder_{m}")
    first_root = len(decoders) - len(root_decoders)
    for k, layer in enumerate(decoders):
        out = nn.TransformerDecoderLayer.forward(layer, out, middle[k])
        if k >= first_root:
            root = nn.TransformerDecoderLayer.forward(root_decoders[k - first_root], root, out)
    out = torch.cat([getattr(model, f"r_linear2_{m}")(root), getattr(model, f"p_linear2_{m}")(out)], -1)
    return out.permute(1, 2, 0).unsqueeze(2)


def original_forward(model, x: torch.Tensor, timesteps: torch.Tensor, y: torch.Tensor) -> dict:
    """The original `forward(x, t, y, return_m=True, return_j=True)` with torch's layers."""
    m = "m" if x.shape[1] == model.njoints["m"] else "j"
    seq = x[:, :, 0].permute(2, 0, 1)
    emb = model.embed_timestep(timesteps) + model.embed_text(drop_text(y, model.cond_mask_prob, model.training))
    root = getattr(model, f"r_linear_{m}")(seq[..., :ROOT_WIDTH[m]])
    pose = getattr(model, f"p_linear_{m}")(seq[..., ROOT_WIDTH[m]:])
    pose = encoder_stack(getattr(model, f"seqTransEncoder_{m}").layers, positional(model, torch.cat([emb, pose])))
    root = encoder_stack(getattr(model, f"r_encoder_{m}").layers, positional(model, torch.cat([emb, root])))[1:]
    middle = []
    for layer in model.bridge:
        pose = nn.TransformerEncoderLayer.forward(layer, pose)
        middle.append(pose)
    return {"m": head(model, "m", middle, root), "j": head(model, "j", middle, root)}


def original_losses(model, batch: dict, m_t, j_t, t, text_emb, torch_layers: bool = True) -> dict:
    """The four per-sample stage-I losses `[B]` of docs/original_code.md §7.2 step 5, from two full forward passes."""
    if torch_layers:
        P, Q = original_forward(model, m_t, t, text_emb), original_forward(model, j_t, t, text_emb)
    else:
        P = model(m_t, t, text_emb, return_m=True, return_j=True)
        Q = model(j_t, t, text_emb, return_m=True, return_j=True)
    valid = batch["valid"].float().view(-1, 1, 1, 1)
    mask3d, mask2d = batch["mask"].float() * valid, batch["joint_mask"]
    motion, joint = batch["motion"], batch["joint"]
    return {"3d_3d": masked_l2(motion, P["m"], mask3d), "2d_2d": masked_l2(joint, Q["j"], mask2d),
            "3d_2d": masked_l2(joint, P["j"], mask2d * valid), "2d_3d": masked_l2(motion, Q["m"], mask3d)}


def original_step(model, optimizer, diffusion, batch: dict, t, text_emb, noise3d, noise2d,
                  torch_layers: bool = True) -> torch.Tensor:
    """zero_grad, loss (w_m2j = w_j2m = 1), backward, AdamW step; returns the loss."""
    m_t = diffusion.q_sample(batch["motion"], t, noise3d)
    j_t = diffusion.q_sample(batch["joint"], t, noise2d)
    terms = original_losses(model, batch, m_t, j_t, t, text_emb, torch_layers)
    loss = (terms["3d_3d"] + terms["2d_2d"] + terms["3d_2d"] + terms["2d_3d"]).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.detach()
