"""The Gaussian noise process: beta schedules, float64 tables, forward process and posterior.

Notation (Ho et al. 2020): β_t, α_t = 1 − β_t, ᾱ_t = Π_{s≤t} α_s (`alphas_cumprod`).
The network predicts x0 (docs/original_code.md §6.2: START_X) and the reverse variance is the posterior variance
β̃_t (FIXED_SMALL). Tables are float64 numpy arrays; a coefficient is indexed in float64 and then
cast to the tensor's dtype (float32 in practice), which reproduces the reference's float32 results
bit for bit (golden case 5). This module knows nothing about networks or text.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from crossdiff.errors import UserError

SCHEDULES = ("cosine", "linear")


def cosine_betas(num_timesteps: int, max_beta: float = 0.999) -> np.ndarray:
    """β_i = min(1 − ᾱ((i+1)/T)/ᾱ(i/T), 0.999) with ᾱ(s) = cos(((s+0.008)/1.008)·π/2)²,
    as the original (docs/original_code.md §6.1)."""
    def alpha_bar(s: np.ndarray) -> np.ndarray:
        return np.cos((s + 0.008) / 1.008 * math.pi / 2) ** 2

    i = np.arange(num_timesteps, dtype=np.float64)
    ratio = alpha_bar((i + 1) / num_timesteps) / alpha_bar(i / num_timesteps)
    return np.minimum(1.0 - ratio, max_beta)


def linear_betas(num_timesteps: int) -> np.ndarray:
    """DDPM's linear schedule, 1e-4 → 0.02 for 1000 steps, scaled by 1000/T for other lengths."""
    scale = 1000.0 / num_timesteps
    return np.linspace(scale * 1e-4, scale * 0.02, num_timesteps, dtype=np.float64)


def get_betas(noise_schedule: str, num_timesteps: int) -> np.ndarray:
    """β `[T]` float64 of a named schedule."""
    if noise_schedule == "cosine":
        return cosine_betas(num_timesteps)
    if noise_schedule == "linear":
        return linear_betas(num_timesteps)
    raise UserError(f"diffusion.noise_schedule must be one of {', '.join(SCHEDULES)}, got {noise_schedule!r}")


def extract(table: np.ndarray, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """table[t] as `[B, 1, ..., 1]` in x's dtype and device (indexed in float64, then cast)."""
    values = torch.from_numpy(table).to(t.device)[t].to(device=x.device, dtype=x.dtype)
    return values.reshape(-1, *([1] * (x.dim() - 1)))


class GaussianDiffusion:
    """A discrete Gaussian diffusion defined by its betas.

    `timestep_map[i]` is the original training timestep of index i: the identity for the base
    process, a subset of 0..T−1 for a respaced one (`respaced`). All methods take *indices* i
    into this process's tables; samplers give the network `timestep_map[i]` instead.
    """

    def __init__(self, betas: np.ndarray, timestep_map: Sequence[int] | None = None):
        betas = np.asarray(betas, dtype=np.float64)
        assert betas.ndim == 1 and (betas > 0).all() and (betas <= 1).all(), "betas must lie in (0, 1]"
        self.betas = betas
        self.num_timesteps = len(betas)
        if timestep_map is None:
            timestep_map = np.arange(self.num_timesteps)
        self.timestep_map = np.asarray(timestep_map, dtype=np.int64)
        assert self.timestep_map.shape == betas.shape
        self._build_tables()

    def _build_tables(self) -> None:
        betas = self.betas
        alphas = 1.0 - betas
        ac = np.cumprod(alphas)
        ac_prev = np.append(1.0, ac[:-1])
        self.alphas_cumprod = ac
        self.alphas_cumprod_prev = ac_prev
        self.alphas_cumprod_next = np.append(ac[1:], 0.0)
        self.sqrt_alphas_cumprod = np.sqrt(ac)
        self.sqrt_one_minus_alphas_cumprod = np.sqrt(1.0 - ac)
        self.log_one_minus_alphas_cumprod = np.log(1.0 - ac)
        self.sqrt_recip_alphas_cumprod = np.sqrt(1.0 / ac)
        self.sqrt_recipm1_alphas_cumprod = np.sqrt(1.0 / ac - 1.0)
        # q(x_{t-1} | x_t, x0) = N(coef1·x0 + coef2·x_t, β̃_t), β̃_t = β_t(1−ᾱ_{t−1})/(1−ᾱ_t)
        self.posterior_variance = betas * (1.0 - ac_prev) / (1.0 - ac)
        # β̃_0 = 0, so its log is replaced by log β̃_1 (docs/original_code.md §6.2); used only where noise is masked.
        if self.num_timesteps > 1:
            clipped = np.append(self.posterior_variance[1], self.posterior_variance[1:])
        else:
            clipped = np.maximum(self.posterior_variance, np.finfo(np.float64).tiny)
        self.posterior_log_variance_clipped = np.log(clipped)
        self.posterior_mean_coef1 = betas * np.sqrt(ac_prev) / (1.0 - ac)
        self.posterior_mean_coef2 = (1.0 - ac_prev) * np.sqrt(alphas) / (1.0 - ac)

    def respaced(self, use_timesteps: Sequence[int]) -> "GaussianDiffusion":
        """The process restricted to the indices `use_timesteps` (Nichol & Dhariwal 2021, §4).

        Its ᾱ are this process's ᾱ at the kept indices; the betas are re-derived as
        β'_k = 1 − ᾱ[i_k]/ᾱ[i_{k−1}] (ᾱ[i_{−1}] = 1), and the timestep map composes.
        """
        keep = np.unique(np.asarray(list(use_timesteps), dtype=np.int64))
        if len(keep) == 0 or keep[0] < 0 or keep[-1] >= self.num_timesteps:
            raise ValueError(f"use_timesteps must be a non-empty subset of 0..{self.num_timesteps - 1}")
        ac = self.alphas_cumprod[keep]
        betas = 1.0 - ac / np.append(1.0, ac[:-1])
        return GaussianDiffusion(betas, timestep_map=self.timestep_map[keep])

    def q_mean_variance(self, x0: torch.Tensor, t: torch.Tensor):
        """q(x_t | x0) = N(√ᾱ_t·x0, 1−ᾱ_t): (mean like x0, variance and log variance `[B, 1, 1, 1]`)."""
        mean = extract(self.sqrt_alphas_cumprod, t, x0) * x0
        return mean, extract(1.0 - self.alphas_cumprod, t, x0), extract(self.log_one_minus_alphas_cumprod, t, x0)

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """x_t = √ᾱ_t·x0 + √(1−ᾱ_t)·ε. x0, noise `[B, C, 1, T]`; t `[B]` int64 indices."""
        return (extract(self.sqrt_alphas_cumprod, t, x0) * x0
                + extract(self.sqrt_one_minus_alphas_cumprod, t, x0) * noise)

    def q_posterior_mean_variance(self, x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor):
        """q(x_{t−1} | x_t, x0): (mean `[B, C, 1, T]`, β̃_t and clipped log β̃_t `[B, 1, 1, 1]`)."""
        mean = extract(self.posterior_mean_coef1, t, x_t) * x0 + extract(self.posterior_mean_coef2, t, x_t) * x_t
        return mean, extract(self.posterior_variance, t, x_t), extract(self.posterior_log_variance_clipped, t, x_t)

    def p_mean_variance(self, x0_pred: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor, clip: bool = False) -> dict:
        """p(x_{t−1} | x_t) from an x0 prediction: the posterior at x̂0 (clamped to [−1, 1] if `clip`).

        Returns {"mean", "variance", "log_variance", "pred_xstart"}; the variances are `[B, 1, 1, 1]`.
        The reference never clips (docs/original_code.md §6.2).
        """
        if clip:
            x0_pred = x0_pred.clamp(-1.0, 1.0)
        mean, variance, log_variance = self.q_posterior_mean_variance(x0_pred, x_t, t)
        return {"mean": mean, "variance": variance, "log_variance": log_variance, "pred_xstart": x0_pred}

    def p_sample(self, x0_pred: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor, noise: torch.Tensor,
                 clip: bool = False) -> torch.Tensor:
        """One ancestral step: x_{t−1} = μ̃_t(x_t, x̂0) + 1[t>0]·exp(½·log β̃_t)·z."""
        out = self.p_mean_variance(x0_pred, x_t, t, clip=clip)
        nonzero = (t != 0).to(x_t.dtype).reshape(-1, *([1] * (x_t.dim() - 1)))
        return out["mean"] + nonzero * torch.exp(0.5 * out["log_variance"]) * noise


def space_timesteps(num_timesteps: int, section_counts: str | Sequence[int]) -> list[int]:
    """Indices to keep when respacing a `num_timesteps` process, sorted ascending.

    - "ddimN": the fixed stride s for which range(0, T, s) has exactly N entries (DDIM's uniform τ).
    - [n_1, ..., n_k] (or "n_1,n_2"): T is cut into k near-equal sections (the first T mod k get one
      more step); section j keeps n_j steps at start + round(c), c = 0, d, 2d, ... with
      d = (size−1)/(n_j−1) accumulated by repeated addition, round() being half-to-even.
    """
    if isinstance(section_counts, str):
        if section_counts.startswith("ddim"):
            return _ddim_stride_steps(num_timesteps, int(section_counts[len("ddim"):]))
        section_counts = [int(n) for n in section_counts.split(",")]
    size_per, extra = divmod(num_timesteps, len(section_counts))
    steps, start = [], 0
    for j, count in enumerate(section_counts):
        size = size_per + (1 if j < extra else 0)
        if not 1 <= count <= size:
            raise ValueError(f"cannot take {count} steps from a section of {size} timesteps")
        stride = (size - 1) / (count - 1) if count > 1 else 1.0
        cursor = 0.0
        for _ in range(count):
            steps.append(start + round(cursor))
            cursor += stride
        start += size
    return sorted(set(steps))


def _ddim_stride_steps(num_timesteps: int, count: int) -> list[int]:
    for stride in range(1, num_timesteps + 1):
        if len(range(0, num_timesteps, stride)) == count:
            return list(range(0, num_timesteps, stride))
    raise ValueError(f"no fixed stride gives exactly {count} of {num_timesteps} timesteps")


def masked_l2(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-sample masked mean squared error `[B]` (docs/original_code.md §7.1).

    a, b `[B, C, 1, T]`. A temporal mask `[B, 1, 1, T]` averages over every channel of the masked
    frames (Σmask·C·1 entries); an element mask `[B, C, 1, T]` over its Σmask elements. A sample with
    an empty mask gives 0 (the 1e-8 keeps the division finite).
    """
    mask = mask.to(a.dtype)
    err = ((a - b) ** 2 * mask).flatten(1).sum(1)
    entries = mask.flatten(1).sum(1)
    if mask.shape[1] == 1:
        entries = entries * (a.shape[1] * a.shape[2])
    return err / (entries + 1e-8)
