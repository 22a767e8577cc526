"""Training objectives: one function per cross path and one per mode (docs/original_code.md §7).

Each path is a masked L2 between the clean target and the network's x0 prediction. Masks:
`[B, 1, 1, T]` temporal masks average over every channel of the valid frames, `[B, C, 1, T]`
element masks over the valid elements only (docs/original_code.md §7.1).

Modes
    pretrain      L = L_3D→3D + L_2D→2D + w_m2j·L_3D→2D + w_j2m·L_2D→3D   (stage I)
    finetune      L = L_3D→3D                                            (stage II)
                  + w_velocity·L_vel, where L_vel is the masked L2 of the frame-to-frame
                  differences of target and prediction (0 by default, as in the original: an
                  extension that weights fast limb motion more; README "Shipped pretrained model")
    finetune_ucf  pretrain's four paths on a batch whose 2D-only samples get pseudo 3D
                  targets from a frozen teacher, smoothed per clip (docs/original_code.md §7.4)
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from crossdiff.diffusion.schedule import masked_l2
from crossdiff.errors import UserError

MODES = ("pretrain", "finetune", "finetune_ucf")


def path_3d_to_3d(motion, pred, mask3d):
    return masked_l2(motion, pred["m_from_m"], mask3d)


def path_2d_to_2d(joint, pred, mask2d):
    return masked_l2(joint, pred["j_from_j"], mask2d)


def path_3d_to_2d(joint, pred, mask3d2d):
    return masked_l2(joint, pred["j_from_m"], mask3d2d)


def path_2d_to_3d(motion, pred, mask3d):
    return masked_l2(motion, pred["m_from_j"], mask3d)


def four_path_terms(motion, joint, pred, mask3d, mask2d, mask3d2d) -> dict:
    """The four per-sample losses `[B]` of stage I (docs/original_code.md §7.2 step 5)."""
    return {
        "3d_3d": path_3d_to_3d(motion, pred, mask3d),
        "2d_2d": path_2d_to_2d(joint, pred, mask2d),
        "3d_2d": path_3d_to_2d(joint, pred, mask3d2d),
        "2d_3d": path_2d_to_3d(motion, pred, mask3d),
    }


def frame_differences(x: torch.Tensor, mask: torch.Tensor):
    """`x[..., 1:] - x[..., :-1]` of `[B, C, 1, T]` features and the mask of pairs of valid frames."""
    return x[..., 1:] - x[..., :-1], mask[..., 1:] * mask[..., :-1]


def velocity_l2(target, pred, mask):
    """Masked L2 between the frame differences of `target` and `pred` (per sample, `[B]`)."""
    d_target, pair_mask = frame_differences(target, mask)
    d_pred, _ = frame_differences(pred, mask)
    return masked_l2(d_target, d_pred, pair_mask)


def combine(terms: dict, w_m2j: float, w_j2m: float, w_velocity: float) -> torch.Tensor:
    """Batch mean of L_3D→3D + w_velocity·L_vel + L_2D→2D + w_m2j·L_3D→2D + w_j2m·L_2D→3D
    (missing terms count 0)."""
    total = terms["3d_3d"]
    if "velocity" in terms:
        total = total + w_velocity * terms["velocity"]
    if "2d_2d" in terms:
        total = total + terms["2d_2d"] + w_m2j * terms["3d_2d"] + w_j2m * terms["2d_3d"]
    return total.mean()


class Objective(nn.Module):
    """The whole loss as one module, so DistributedDataParallel wraps exactly what runs per step.

    `forward(batch, t, text_emb, noise3d, noise2d) -> (loss, {term: mean value})`, where `batch`
    holds the collated tensors of docs/original_code.md §2.7 on the right device and `t` is `[B]` int64.
    """

    def __init__(self, model: nn.Module, diffusion, mode: str, w_m2j: float, w_j2m: float,
                 pseudo_label: Callable | None = None, w_velocity: float = 0.0):
        super().__init__()
        if mode not in MODES:
            raise UserError(f"train.mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.model = model
        self.diffusion = diffusion
        self.mode = mode
        if w_velocity and mode != "finetune":
            raise UserError(f"train.w_velocity={w_velocity} is only used by train.mode=finetune, not {mode!r}: "
                            f"set it to 0")
        self.w_m2j, self.w_j2m, self.w_velocity = w_m2j, w_j2m, w_velocity
        self.pseudo_label = pseudo_label

    def forward(self, batch: dict, t, text_emb, noise3d, noise2d):
        if self.mode == "finetune":
            terms = self._finetune(batch, t, text_emb, noise3d)
        else:
            terms = self._four_paths(batch, t, text_emb, noise3d, noise2d)
        loss = combine(terms, self.w_m2j, self.w_j2m, self.w_velocity)
        return loss, {k: v.detach().mean() for k, v in terms.items()}

    def _finetune(self, batch, t, text_emb, noise3d) -> dict:
        """Stage II: only 3D→3D with the padding mask; `valid` is not applied (docs/original_code.md §7.3)."""
        motion = batch["motion"]
        m_t = self.diffusion.q_sample(motion, t, noise3d)
        pred = self.model(m_t, t, text_emb, return_m=True, return_j=False)
        mask = batch["mask"].float()
        terms = {"3d_3d": masked_l2(motion, pred["m"], mask)}
        if self.w_velocity:
            terms["velocity"] = velocity_l2(motion, pred["m"], mask)
        return terms

    def _four_paths(self, batch, t, text_emb, noise3d, noise2d) -> dict:
        motion, joint = batch["motion"], batch["joint"]
        valid = batch["valid"].float().view(-1, 1, 1, 1)
        mask3d = batch["mask"].float() * valid
        mask2d = batch["joint_mask"]
        mask3d2d = mask2d * valid
        if self.mode == "finetune_ucf":
            motion, mask3d, mask2d, mask3d2d = self._with_pseudo_labels(batch, text_emb, valid)
            # docs/original_code.md §7.4: 2D-only samples are noised after masking unobserved elements.
            m_t = self.diffusion.q_sample(motion * batch["motion_mask"], t, noise3d)
            j_t = self.diffusion.q_sample(joint * batch["joint_mask"], t, noise2d)
        else:
            m_t = self.diffusion.q_sample(motion, t, noise3d)
            j_t = self.diffusion.q_sample(joint, t, noise2d)
        pred = predict_four_paths(self.model, m_t, j_t, t, text_emb)
        return four_path_terms(motion, joint, pred, mask3d, mask2d, mask3d2d)

    def _with_pseudo_labels(self, batch, text_emb, valid):
        """Targets, masks of a mixed batch: GT 3D where valid, teacher 3D elsewhere (docs/original_code.md §7.4)."""
        pseudo = self.pseudo_label(batch, text_emb)
        motion = valid * batch["motion"] + (1 - valid) * pseudo
        mask = valid * batch["mask"].float() + (1 - valid) * batch["motion_mask"]
        joint_mask = batch["joint_mask"]
        # docs/original_code.md §7.4: L_3D→2D uses the plain 2D mask in this mode (2D exists for every sample).
        return motion, mask.expand_as(motion), joint_mask, joint_mask


def predict_four_paths(model, m_t, j_t, t, text_emb) -> dict:
    """x0 predictions of all four paths: `m_from_m`, `j_from_m`, `m_from_j`, `j_from_j`.

    Uses the model's fused two-modality pass when it has one (one bridge pass for both inputs).
    """
    fused = getattr(model, "forward_both", None)
    if fused is not None:
        return fused(m_t, j_t, t, text_emb)
    from_m = model(m_t, t, text_emb, return_m=True, return_j=True)
    from_j = model(j_t, t, text_emb, return_m=True, return_j=True)
    return {"m_from_m": from_m["m"], "j_from_m": from_m["j"], "m_from_j": from_j["m"], "j_from_j": from_j["j"]}
