"""Samplers: short functions sharing one signature over an explicit list of steps.

    sampler(denoise, diffusion, noise, *, generator=None, progress=False, on_step=None) -> x0 sample

- `denoise(x_t [B, C, 1, T], t [B] int64) -> x0_pred [B, C, 1, T]` is the network with its text,
  head and guidance already bound (see guidance.py).
- `diffusion` is a (possibly respaced) GaussianDiffusion. Steps run over its indices
  i = K−1, ..., 0; the tables are read at i, but the network always receives the ORIGINAL
  training timestep `diffusion.timestep_map[i]` (the reference fed the spaced index, docs/original_code.md §13.4).
- `noise` is x_T; every later Gaussian draw comes from `generator` (the global RNG if None), in
  step order and only at steps that use it, so a seed reproduces a sample.
- The caller chooses train/eval mode (sampling expects eval: no condition dropout).
- `on_step(step_index, total_steps)` (optional) is called after every network call, step_index
  running 1..total_steps, beside the tqdm bar: a UI shows it, and raising in it (e.g. a
  cancellation) stops the sampling there.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from crossdiff.diffusion.schedule import GaussianDiffusion, extract

Denoise = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
# step(x0_pred, x_t, i, generator) -> x at index i−1
Step = Callable[[torch.Tensor, torch.Tensor, int, "torch.Generator | None"], torch.Tensor]
OnStep = Callable[[int, int], None]   # (step_index 1..total_steps, total_steps)


@torch.no_grad()
def ddpm_sample(denoise: Denoise, diffusion: GaussianDiffusion, noise: torch.Tensor, *,
                generator: torch.Generator | None = None, progress: bool = False,
                on_step: OnStep | None = None) -> torch.Tensor:
    """Ancestral sampling (Ho et al. 2020, Alg. 2) with an x0-predicting network:

        x_{t−1} = c1_t·x̂0(x_t, t) + c2_t·x_t + 1[t>0]·σ_t·z,   σ_t² = β̃_t,  z ~ N(0, I)

    noise: x_T `[B, C, 1, T]`. Returns x_0 `[B, C, 1, T]`.
    """
    with _bar(diffusion.num_timesteps, progress, "ddpm", on_step) as bar:
        return run_steps(denoise, ancestral_step(diffusion), diffusion, noise,
                         _descending(diffusion.num_timesteps, 0), generator, bar)


@torch.no_grad()
def ddim_sample(denoise: Denoise, diffusion: GaussianDiffusion, noise: torch.Tensor, *, eta: float = 0.0,
                generator: torch.Generator | None = None, progress: bool = False,
                on_step: OnStep | None = None) -> torch.Tensor:
    """DDIM (Song et al. 2021, eq. 12) over the steps of `diffusion`:

        x_{t−1} = √ᾱ_{t−1}·x̂0 + √(1−ᾱ_{t−1}−σ_t²)·ε̂ + σ_t·z,   ε̂ = (x_t − √ᾱ_t·x̂0)/√(1−ᾱ_t)
        σ_t = η·√((1−ᾱ_{t−1})/(1−ᾱ_t))·√(1−ᾱ_t/ᾱ_{t−1})

    η = 0 is deterministic given x_T; η = 1 gives σ_t² = β̃_t and the DDPM posterior mean.
    """
    with _bar(diffusion.num_timesteps, progress, "ddim", on_step) as bar:
        return run_steps(denoise, ddim_step(diffusion, eta), diffusion, noise,
                         _descending(diffusion.num_timesteps, 0), generator, bar)


@torch.no_grad()
def mixture_sample(denoise_2d: Denoise, denoise_2d_to_3d: Denoise, denoise_3d: Denoise,
                   diffusion: GaussianDiffusion, noise_2d: torch.Tensor, noise_3d: torch.Tensor,
                   change_idx: int, *, eta: float | None = None, generator: torch.Generator | None = None,
                   progress: bool = False, on_step: OnStep | None = None) -> torch.Tensor:
    """Mixture sampling (docs/original_code.md §8.2): denoise in 2D down to step α, lift to 3D, finish in 3D.

    α = `change_idx` is an ORIGINAL timestep; the change happens at index k = `change_step(...)`,
    the first step in sampling order whose original timestep is ≤ α (so k = α with all steps).

        i > k:  x̂0 = G_2D→2D(j_i),  j_{i−1} = step(x̂0, j_i)
        i = k:  m̂0 = G_2D→3D(j_k); returned if k = 0, else m_{k−1} = q_sample(m̂0, k−1, noise_3d)
        i < k:  x̂0 = G_3D→3D(m_i),  m_{i−1} = step(x̂0, m_i)

    noise_2d: j_T `[B, 134, 1, T]`; noise_3d `[B, 263, 1, T]` is the ε of the re-noising (the
    reference also draws an initial 3D noise that it overwrites, so one draw suffices).
    `eta=None` takes ancestral steps as the reference; a number takes DDIM steps with that η.
    """
    k = change_step(diffusion, change_idx)
    step = ancestral_step(diffusion) if eta is None else ddim_step(diffusion, eta)
    with _bar(diffusion.num_timesteps, progress, "mixture", on_step) as bar:
        steps_2d = _descending(diffusion.num_timesteps, k + 1)
        j = run_steps(denoise_2d, step, diffusion, noise_2d, steps_2d, generator, bar)
        m0 = denoise_2d_to_3d(j, original_timesteps(diffusion, k, j))
        bar.update()
        if k == 0:
            return m0
        m = diffusion.q_sample(m0, _index(k - 1, m0), noise_3d)
        return run_steps(denoise_3d, step, diffusion, m, _descending(k, 0), generator, bar)


@torch.no_grad()
def lift_2d_to_3d(sample: Callable[..., torch.Tensor], denoise_2d: Denoise, lift: Denoise,
                  diffusion: GaussianDiffusion, noise_2d: torch.Tensor, *,
                  generator: torch.Generator | None = None, progress: bool = False,
                  on_step: OnStep | None = None):
    """generate.py's 2D path (docs/original_code.md §8.3): a full 2D sample, then ONE lift call at t = 0.

    `sample` is one of the samplers above (with its options bound); `lift` is the 3D head with the
    text masked (`head_denoiser(model, text_emb, "m", force_mask=True)`).
    Returns (sample_2d `[B, 134, 1, T]`, motion_3d `[B, 263, 1, T]`).
    """
    sample_2d = sample(denoise_2d, diffusion, noise_2d, generator=generator, progress=progress, on_step=on_step)
    t0 = torch.zeros(sample_2d.shape[0], dtype=torch.int64, device=sample_2d.device)
    return sample_2d, lift(sample_2d, t0)


def change_step(diffusion: GaussianDiffusion, change_idx: int) -> int:
    """Index of the first step (in sampling order) whose original timestep is ≤ change_idx."""
    k = int(np.searchsorted(diffusion.timestep_map, change_idx, side="right")) - 1
    if k < 0:
        raise ValueError(f"change_idx {change_idx} is below every sampled timestep "
                         f"(smallest {int(diffusion.timestep_map[0])})")
    return k


def ancestral_step(diffusion: GaussianDiffusion) -> Step:
    """The DDPM step x_{i−1} = μ̃_i + 1[i>0]·exp(½·log β̃_i)·z (noise drawn only for i > 0)."""
    def step(x0_pred, x_t, i, generator):
        noise = _gaussian(x_t, generator) if i > 0 else torch.zeros_like(x_t)
        return diffusion.p_sample(x0_pred, x_t, _index(i, x_t), noise)

    return step


def ddim_step(diffusion: GaussianDiffusion, eta: float) -> Step:
    """The DDIM step with coefficients from `ddim_coefficients` (noise drawn only where σ_i > 0)."""
    coef_x0, coef_xt, sigma = ddim_coefficients(diffusion, eta)

    def step(x0_pred, x_t, i, generator):
        t = _index(i, x_t)
        x = extract(coef_x0, t, x_t) * x0_pred + extract(coef_xt, t, x_t) * x_t
        if sigma[i] > 0:
            x = x + extract(sigma, t, x_t) * _gaussian(x_t, generator)
        return x

    return step


def ddim_coefficients(diffusion: GaussianDiffusion, eta: float):
    """float64 `[K]` tables (a, b, σ) with x_{i−1} = a_i·x̂0 + b_i·x_i + σ_i·z (DDIM eq. 12 rewritten).

    b = √(1−ᾱ_{i−1}−σ²)/√(1−ᾱ_i) and a = √ᾱ_{i−1} − b·√ᾱ_i. With η = 1 these are exactly the
    posterior coefficients c1, c2 and σ² = β̃ (tested).
    """
    ac, ac_prev = diffusion.alphas_cumprod, diffusion.alphas_cumprod_prev
    sigma = eta * np.sqrt((1.0 - ac_prev) / (1.0 - ac) * (1.0 - ac / ac_prev))
    # Mathematically ≥ 0 for η ≤ 1 (and exactly 0 at i = 0); the clamp only removes rounding below 0.
    direction = np.sqrt(np.maximum(1.0 - ac_prev - sigma**2, 0.0))
    coef_xt = direction / np.sqrt(1.0 - ac)
    coef_x0 = np.sqrt(ac_prev) - coef_xt * np.sqrt(ac)
    return coef_x0, coef_xt, sigma


def run_steps(denoise: Denoise, step: Step, diffusion: GaussianDiffusion, x: torch.Tensor,
              indices, generator, bar) -> torch.Tensor:
    """Apply `x ← step(denoise(x, timestep_map[i]), x, i)` for each index i in order."""
    for i in indices:
        x0_pred = denoise(x, original_timesteps(diffusion, i, x))
        x = step(x0_pred, x, i, generator)
        bar.update()
    return x


def original_timesteps(diffusion: GaussianDiffusion, i: int, x: torch.Tensor) -> torch.Tensor:
    """The network's timestep for index i: `[B]` int64 filled with timestep_map[i]."""
    return torch.full((x.shape[0],), int(diffusion.timestep_map[i]), dtype=torch.int64, device=x.device)


def _index(i: int, x: torch.Tensor) -> torch.Tensor:
    return torch.full((x.shape[0],), i, dtype=torch.int64, device=x.device)


def _descending(stop: int, last: int) -> range:
    """Indices stop−1, ..., last (empty when stop ≤ last)."""
    return range(stop - 1, last - 1, -1)


def _gaussian(like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randn(like.shape, generator=generator, dtype=like.dtype, device=like.device)


class _StepBar:
    """A tqdm bar that also reports every update to `on_step(step_index, total_steps)`."""

    def __init__(self, total: int, progress: bool, desc: str, on_step: OnStep | None):
        self.tqdm = tqdm(total=total, disable=not progress, desc=desc, leave=False)
        self.total, self.done, self.on_step = total, 0, on_step

    def update(self) -> None:
        self.tqdm.update()
        self.done += 1
        if self.on_step is not None:
            self.on_step(self.done, self.total)

    def __enter__(self) -> "_StepBar":
        return self

    def __exit__(self, *exc) -> None:
        self.tqdm.close()


def _bar(total: int, progress: bool, desc: str, on_step: OnStep | None = None) -> _StepBar:
    return _StepBar(total, progress, desc, on_step)
