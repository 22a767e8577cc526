"""Gaussian diffusion: schedules, samplers and classifier-free guidance.

`build_diffusion(**cfg.diffusion)` returns a `Diffusion`: the training process (`num_timesteps`,
`q_sample`) plus the configured sampler (`sample`, `sample_mixture`, `sample_2d_then_lift`).
The pieces live in schedule.py (noise process), sampling.py (samplers) and guidance.py (CFG and
head selection); this module only ties them to the config values.
"""

from __future__ import annotations

import contextlib
import math
import numbers
from dataclasses import dataclass
from functools import partial

import torch

from crossdiff.diffusion.guidance import AutocastModel, GuidedModel, head_denoiser
from crossdiff.diffusion.sampling import OnStep, ddim_sample, ddpm_sample, lift_2d_to_3d, mixture_sample
from crossdiff.diffusion.schedule import SCHEDULES, GaussianDiffusion, get_betas, space_timesteps
from crossdiff.errors import UserError

SAMPLERS = ("ddpm", "ddim")
PRECISIONS = {"float32": None, "bfloat16": torch.bfloat16}  # network precision while sampling


@dataclass(frozen=True)
class Diffusion:
    """The training process and the configured sampler.

    base: all `num_timesteps` training steps; sampling: the process the sampler walks (respaced
    to `sampling_steps`, its timestep_map giving the original timesteps). Sampling expects the
    model in eval mode; the caller sets it. precision "bfloat16" runs the network under autocast
    (the samplers' own arithmetic stays float32).
    """

    base: GaussianDiffusion
    sampling: GaussianDiffusion
    sampler: str
    ddim_eta: float
    guidance_scale: float
    precision: str
    guidance_min_timestep: int

    @property
    def num_timesteps(self) -> int:
        return self.base.num_timesteps

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Forward process of training: x_t = √ᾱ_t·x0 + √(1−ᾱ_t)·ε, t `[B]` original timesteps."""
        return self.base.q_sample(x0, t, noise)

    def sample(self, model, shape, text_emb: torch.Tensor, *, head: str = "m", scale: float | None = None,
               generator: torch.Generator | None = None, progress: bool = True,
               noise: torch.Tensor | None = None, on_step: OnStep | None = None) -> torch.Tensor:
        """x0 samples `shape` = (B, C, 1, T) from x_T = `noise` (drawn from `generator` if None).

        head "m" samples 3D (C = 263/251), "j" 2D (C = 134/128); scale None uses guidance_scale.
        on_step(step_index, total_steps) follows the steps (sampling.py); every method takes it.
        """
        if noise is None:
            noise = _gaussian(shape, text_emb, generator)
        denoise = head_denoiser(self._guided(model, scale), text_emb, head)
        with self._scope(text_emb):
            return self._sampler()(denoise, self.sampling, noise, generator=generator, progress=progress,
                                   on_step=on_step)

    def sample_mixture(self, model, shape_3d, shape_2d, text_emb: torch.Tensor, change_idx: int, *,
                       scale: float | None = None, generator: torch.Generator | None = None,
                       progress: bool = True, on_step: OnStep | None = None) -> torch.Tensor:
        """Mixture sampling (docs/original_code.md §8.2): 2D steps down to original timestep `change_idx`, then 3D.

        Guided like every path here when the scale is not 1 (the reference never guided it).
        Returns 3D samples `shape_3d`.
        """
        if not _is_int(change_idx) or not 0 <= change_idx < self.num_timesteps:
            raise UserError(f"change_idx must be an integer timestep in 0..{self.num_timesteps - 1}, "
                            f"got {change_idx!r}")
        noise_2d = _gaussian(shape_2d, text_emb, generator)
        noise_3d = _gaussian(shape_3d, text_emb, generator)
        guided = self._guided(model, scale)
        eta = self.ddim_eta if self.sampler == "ddim" else None
        to_2d, to_3d = head_denoiser(guided, text_emb, "j"), head_denoiser(guided, text_emb, "m")
        with self._scope(text_emb):
            return mixture_sample(to_2d, to_3d, to_3d, self.sampling, noise_2d, noise_3d, int(change_idx),
                                  eta=eta, generator=generator, progress=progress, on_step=on_step)

    def sample_2d_then_lift(self, model, shape_2d, text_emb: torch.Tensor, *, scale: float | None = None,
                            generator: torch.Generator | None = None, progress: bool = True,
                            noise: torch.Tensor | None = None, on_step: OnStep | None = None):
        """generate.py's 2D path (docs/original_code.md §8.3): sample 2D, then one unconditional 3D call at t = 0.

        Returns (sample_2d `shape_2d`, motion_3d `[B, 263, 1, T]`).
        """
        if noise is None:
            noise = _gaussian(shape_2d, text_emb, generator)
        denoise_2d = head_denoiser(self._guided(model, scale), text_emb, "j")
        lift = head_denoiser(self._cast(model), text_emb, "m", force_mask=True)
        with self._scope(text_emb):
            return lift_2d_to_3d(self._sampler(), denoise_2d, lift, self.sampling, noise,
                                 generator=generator, progress=progress, on_step=on_step)

    def _guided(self, model, scale: float | None):
        scale = self.guidance_scale if scale is None else scale
        model = self._cast(model)
        return model if scale == 1.0 else GuidedModel(model, scale, self.guidance_min_timestep)

    def _cast(self, model):
        dtype = PRECISIONS[self.precision]
        return model if dtype is None else AutocastModel(model, dtype)

    def _scope(self, like: torch.Tensor):
        """One autocast region around a whole sampling loop: autocast keeps the bf16 copies of the
        weights for as long as its outermost region lasts, so they are cast once, not once a step
        (18% of a full-size step on this CPU). The samplers' own operations are elementwise, which
        autocast leaves in float32."""
        dtype = PRECISIONS[self.precision]
        return contextlib.nullcontext() if dtype is None else torch.autocast(like.device.type, dtype=dtype)

    def _sampler(self):
        """The configured sampler with the common signature (sampling.py)."""
        return partial(ddim_sample, eta=self.ddim_eta) if self.sampler == "ddim" else ddpm_sample


def build_diffusion(noise_schedule: str = "cosine", diffusion_steps: int = 1000, sampler: str = "ddpm",
                    sampling_steps: int = 1000, ddim_eta: float = 0.0, guidance_scale: float = 1.0,
                    precision: str = "float32", guidance_min_timestep: int = 0) -> Diffusion:
    """The `diffusion:` config section as a Diffusion (every value checked; errors name the key).

    Sampling steps: "ddpm" keeps `sampling_steps` evenly spaced timesteps (the section form
    [N]); "ddim" uses DDIM's fixed stride ("ddimN": 0, s, 2s, ...) when one gives exactly N steps,
    else the same even spacing. With N = diffusion_steps both keep every step.
    """
    _check_choice("diffusion.noise_schedule", noise_schedule, SCHEDULES)
    _check_choice("diffusion.sampler", sampler, SAMPLERS)
    _check_choice("diffusion.precision", precision, tuple(PRECISIONS))
    _check_int("diffusion.diffusion_steps", diffusion_steps, 1, None)
    _check_int("diffusion.sampling_steps", sampling_steps, 1, diffusion_steps, "(at most diffusion.diffusion_steps)")
    _check_real("diffusion.ddim_eta", ddim_eta, 0.0, 1.0)
    _check_real("diffusion.guidance_scale", guidance_scale, -math.inf, math.inf)
    _check_int("diffusion.guidance_min_timestep", guidance_min_timestep, 0, diffusion_steps,
               "(a training timestep; 0 guides every step)")
    # Re-deriving the betas over all steps reproduces the reference's tables bit for bit (docs/original_code.md §6.1).
    base = GaussianDiffusion(get_betas(noise_schedule, diffusion_steps))
    base = base.respaced(range(diffusion_steps))
    sampling = base.respaced(sampling_timesteps(diffusion_steps, sampling_steps, sampler))
    return Diffusion(base=base, sampling=sampling, sampler=sampler, ddim_eta=float(ddim_eta),
                     guidance_scale=float(guidance_scale), precision=precision,
                     guidance_min_timestep=int(guidance_min_timestep))


def sampling_timesteps(diffusion_steps: int, sampling_steps: int, sampler: str) -> list[int]:
    """The original timesteps a sampler visits (ascending), as documented in build_diffusion."""
    if sampler == "ddim":
        try:
            return space_timesteps(diffusion_steps, f"ddim{sampling_steps}")
        except ValueError:
            pass  # no exact stride for this N: fall back to even spacing, documented above
    return space_timesteps(diffusion_steps, [sampling_steps])


def _gaussian(shape, like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randn(tuple(shape), generator=generator, device=like.device, dtype=torch.float32)


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_choice(key: str, value, choices) -> None:
    if value not in choices:
        raise UserError(f"{key} must be one of {', '.join(choices)}, got {value!r}")


def _check_int(key: str, value, low: int, high: int | None, hint: str = "") -> None:
    ok = _is_int(value) and value >= low and (high is None or value <= high)
    if not ok:
        bounds = f"{low}..{high}" if high is not None else f">= {low}"
        raise UserError(f"{key} must be an integer {bounds}{' ' + hint if hint else ''}, got {value!r}")


def _check_real(key: str, value, low: float, high: float) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = ok and math.isfinite(value) and low <= value <= high
    if not ok:
        bounds = "a finite number" if math.isinf(low) else f"a number in [{low}, {high}]"
        raise UserError(f"{key} must be {bounds}, got {value!r}")
