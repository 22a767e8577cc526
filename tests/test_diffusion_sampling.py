"""Samplers and guidance with a tiny fake x0-predicting network that has the model's signature."""

import numpy as np
import pytest
import torch
from torch import nn

from crossdiff.diffusion import build_diffusion, sampling_timesteps
from crossdiff.diffusion.guidance import GuidedModel, head_denoiser
from crossdiff.diffusion.sampling import (change_step, ddim_coefficients, ddim_sample, ddpm_sample,
                                          mixture_sample)
from crossdiff.diffusion.schedule import GaussianDiffusion, get_betas
from crossdiff.errors import UserError

C_M, C_J, FRAMES, B, TEXT = 6, 4, 5, 2, 3
SHAPE_3D, SHAPE_2D = (B, C_M, 1, FRAMES), (B, C_J, 1, FRAMES)


class FakeModel(nn.Module):
    """x0 predictor in [B, C, 1, T] layout; the input modality is read from C like the real network.

    The text enters through a non-linearity (so guidance changes the output) and a zero text vector
    is its null condition, as for CrossDiff (embed_text(0) = bias). Every call is recorded.
    """

    def __init__(self, hidden=8):
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        self.enc = nn.ParameterDict({str(c): nn.Parameter(torch.randn(c, hidden, generator=gen) * 0.5)
                                     for c in (C_M, C_J)})
        self.text = nn.Linear(TEXT, hidden)
        self.out = nn.ParameterDict({"m": nn.Parameter(torch.randn(hidden, C_M, generator=gen) * 0.5),
                                     "j": nn.Parameter(torch.randn(hidden, C_J, generator=gen) * 0.5)})
        self.calls = []

    def forward(self, x, timesteps, y, force_mask=False, return_m=True, return_j=False):
        assert timesteps.dtype == torch.int64 and timesteps.shape == (x.shape[0],)
        self.calls.append({"t": timesteps.tolist(), "c_in": x.shape[1], "batch": x.shape[0],
                           "force_mask": force_mask, "heads": (return_m, return_j),
                           "autocast": torch.is_autocast_enabled(x.device.type)})
        if force_mask:
            y = torch.zeros_like(y)
        seq = x[:, :, 0].transpose(1, 2)  # [B, T, C]
        h = torch.tanh(seq @ self.enc[str(x.shape[1])] + self.text(y)[:, None] + timesteps[:, None, None] / 1000)
        out = {"m": None, "j": None}
        for head, wanted in (("m", return_m), ("j", return_j)):
            if wanted:
                out[head] = (h @ self.out[head]).transpose(1, 2)[:, :, None]
        return out


@pytest.fixture
def model():
    return FakeModel().eval()


@pytest.fixture
def text():
    return torch.randn(B, TEXT, generator=torch.Generator().manual_seed(1))


def seeded(seed=0):
    return torch.Generator().manual_seed(seed)


def base_process():
    return GaussianDiffusion(get_betas("cosine", 1000))


# --- guidance --------------------------------------------------------------------------------------

def test_guidance_scale_one_is_the_conditional_model(model, text):
    x, t = torch.randn(SHAPE_3D), torch.full((B,), 500)
    plain = model(x, t, text, return_m=True, return_j=True)
    model.calls.clear()
    guided = GuidedModel(model, 1.0)(x, t, text, return_m=True, return_j=True)
    assert len(model.calls) == 1 and model.calls[0]["batch"] == B
    for head in ("m", "j"):
        assert torch.equal(guided[head], plain[head])


def test_guidance_equals_two_separate_calls(model, text):
    x, t, scale = torch.randn(SHAPE_2D), torch.tensor([999, 3]), 2.5
    cond = model(x, t, text, return_m=True, return_j=True)
    uncond = model(x, t, text, force_mask=True, return_m=True, return_j=True)
    model.calls.clear()
    guided = GuidedModel(model, scale)(x, t, text, return_m=True, return_j=True)
    assert len(model.calls) == 1 and model.calls[0]["batch"] == 2 * B  # one batched call
    for head in ("m", "j"):
        expected = uncond[head] + scale * (cond[head] - uncond[head])
        torch.testing.assert_close(guided[head], expected, rtol=0, atol=1e-6)
        assert not torch.allclose(guided[head], cond[head], atol=1e-3)  # guidance does something here
    assert GuidedModel(model, scale)(x, t, text, return_m=False, return_j=True)["m"] is None


def test_a_guidance_interval_guides_only_the_samples_at_or_above_its_timestep(model, text):
    x, t, scale = torch.randn(SHAPE_2D), torch.tensor([999, 3]), 2.5
    cond = model(x, t, text, return_m=True, return_j=True)
    everywhere = GuidedModel(model, scale)(x, t, text, return_m=True, return_j=True)
    interval = GuidedModel(model, scale, min_timestep=500)(x, t, text, return_m=True, return_j=True)
    for head in ("m", "j"):
        torch.testing.assert_close(interval[head][:1], everywhere[head][:1], rtol=0, atol=0)   # t = 999: guided
        torch.testing.assert_close(interval[head][1:], cond[head][1:], rtol=0, atol=0)         # t = 3: conditional
    model.calls.clear()
    low = GuidedModel(model, scale, min_timestep=500)(x, torch.tensor([3, 499]), text, return_m=True, return_j=False)
    assert len(model.calls) == 1 and model.calls[0]["batch"] == B                   # no unconditional pass at all
    torch.testing.assert_close(low["m"], model(x, torch.tensor([3, 499]), text)["m"], rtol=0, atol=0)


def test_the_configured_guidance_interval_reaches_the_sampler(model, text):
    noise = torch.randn(SHAPE_3D, generator=seeded(4))
    runs = {start: build_diffusion(sampler="ddim", sampling_steps=5, guidance_scale=3.0, guidance_min_timestep=start)
            .sample(model, SHAPE_3D, text, noise=noise, progress=False) for start in (0, 500, 1000)}
    unguided = build_diffusion(sampler="ddim", sampling_steps=5).sample(model, SHAPE_3D, text, noise=noise,
                                                                        progress=False)
    torch.testing.assert_close(runs[1000], unguided, rtol=0, atol=0)   # above every timestep: never guided
    assert not torch.allclose(runs[500], runs[0], atol=1e-4) and not torch.allclose(runs[500], unguided, atol=1e-4)


def test_head_denoiser_picks_the_head_explicitly(model, text):
    x, t = torch.randn(SHAPE_2D), torch.full((B,), 10)
    lifted = head_denoiser(model, text, "m")(x, t)  # 2D input, 3D head
    assert lifted.shape == SHAPE_3D and model.calls[-1]["heads"] == (True, False)
    assert head_denoiser(model, text, "j")(x, t).shape == SHAPE_2D
    unconditional = head_denoiser(model, text, "m", force_mask=True)(x, t)
    torch.testing.assert_close(unconditional, head_denoiser(model, torch.zeros_like(text), "m")(x, t))
    with pytest.raises(ValueError, match="head"):
        head_denoiser(model, text, "3d")


# --- timesteps the network receives --------------------------------------------------------------

def received_timesteps(model):
    assert all(len(set(call["t"])) == 1 for call in model.calls)
    return [call["t"][0] for call in model.calls]


def test_ddim50_visits_pinned_original_timesteps(model, text):
    diffusion = build_diffusion(sampler="ddim", sampling_steps=50)
    diffusion.sample(model, SHAPE_3D, text, generator=seeded(), progress=False)
    assert received_timesteps(model) == list(range(980, -1, -20))


def test_respaced_ddpm_feeds_original_timesteps(model, text):
    """The reference fed spaced indices ([49, 3] in golden case 5); the network must get originals."""
    diffusion = build_diffusion(sampling_steps=50)
    diffusion.sample(model, SHAPE_3D, text, generator=seeded(), progress=False)
    seen = received_timesteps(model)
    assert len(seen) == 50 and seen[0] == 999 and seen[49 - 3] == 61 and seen[-1] == 0
    assert seen == sorted(sampling_timesteps(1000, 50, "ddpm"), reverse=True)


def test_ddim_spacing_falls_back_to_even_spacing():
    steps = sampling_timesteps(1000, 300, "ddim")
    assert len(steps) == 300 and steps[0] == 0 and steps[-1] == 999
    assert sampling_timesteps(1000, 50, "ddim") == list(range(0, 1000, 20))


# --- sampler identities --------------------------------------------------------------------------

def test_respaced_ddpm_with_all_steps_equals_full_ddpm(model, text):
    diffusion = build_diffusion(sampling_steps=1000)
    np.testing.assert_array_equal(diffusion.sampling.timestep_map, np.arange(1000))
    noise = torch.randn(SHAPE_3D, generator=seeded(5))
    spaced = diffusion.sample(model, SHAPE_3D, text, noise=noise, generator=seeded(6), progress=False)
    full = ddpm_sample(head_denoiser(model, text, "m"), base_process(), noise, generator=seeded(6))
    torch.testing.assert_close(spaced, full, rtol=0, atol=1e-6)
    assert received_timesteps(model) == list(range(999, -1, -1)) * 2


@pytest.mark.parametrize("steps", [1000, 50])
def test_ddim_eta1_coefficients_are_the_ddpm_posterior(steps):
    """With η = 1: a = c1, b = c2 and σ² = β̃ (also on a respaced process, whose β are re-derived)."""
    diffusion = build_diffusion(sampling_steps=steps).sampling
    a, b, sigma = ddim_coefficients(diffusion, eta=1.0)
    np.testing.assert_allclose(a, diffusion.posterior_mean_coef1, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(b, diffusion.posterior_mean_coef2, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(sigma**2, diffusion.posterior_variance, rtol=1e-9, atol=1e-15)


def test_ddim_eta1_sample_matches_ddpm_with_the_same_noise(model, text):
    diffusion = build_diffusion(sampling_steps=50).sampling
    noise = torch.randn(SHAPE_3D, generator=seeded(2))
    denoise = head_denoiser(model, text, "m")
    ddpm = ddpm_sample(denoise, diffusion, noise, generator=seeded(3))
    ddim = ddim_sample(denoise, diffusion, noise, eta=1.0, generator=seeded(3))
    torch.testing.assert_close(ddim, ddpm, rtol=0, atol=1e-5)


def test_ddim_eta0_is_deterministic(model, text):
    diffusion = build_diffusion(sampler="ddim", sampling_steps=20)
    noise = torch.randn(SHAPE_3D, generator=seeded(4))
    gen = seeded(7)
    state = gen.get_state()
    first = diffusion.sample(model, SHAPE_3D, text, noise=noise, generator=gen, progress=False)
    assert torch.equal(gen.get_state(), state)  # no draws at all
    second = diffusion.sample(model, SHAPE_3D, text, noise=noise, generator=seeded(8), progress=False)
    assert torch.equal(first, second)
    stochastic = ddim_sample(head_denoiser(model, text, "m"), diffusion.sampling, noise, eta=1.0, generator=seeded(8))
    assert not torch.allclose(first, stochastic, atol=1e-3)


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_seeds_reproduce_samples(model, text, sampler):
    diffusion = build_diffusion(sampler=sampler, sampling_steps=25, ddim_eta=0.5)
    runs = [diffusion.sample(model, SHAPE_3D, text, generator=seeded(s), progress=False) for s in (11, 11, 12)]
    assert torch.equal(runs[0], runs[1])
    assert not torch.allclose(runs[0], runs[2], atol=1e-3)


def test_sample_applies_the_configured_guidance(model, text):
    """Guidance is applied on the sampling path when the scale is not 1 (docs/original_code.md §13.3)."""
    diffusion = build_diffusion(sampling_steps=10, guidance_scale=3.0)
    noise = torch.randn(SHAPE_3D, generator=seeded(9))
    guided = diffusion.sample(model, SHAPE_3D, text, noise=noise, generator=seeded(1), progress=False)
    assert {call["batch"] for call in model.calls} == {2 * B}

    def two_calls(x, t):
        cond = model(x, t, text)["m"]
        uncond = model(x, t, text, force_mask=True)["m"]
        return uncond + 3.0 * (cond - uncond)

    expected = ddpm_sample(two_calls, diffusion.sampling, noise, generator=seeded(1))
    torch.testing.assert_close(guided, expected, rtol=0, atol=1e-5)
    unguided = diffusion.sample(model, SHAPE_3D, text, scale=1.0, noise=noise, generator=seeded(1), progress=False)
    assert not torch.allclose(guided, unguided, atol=1e-3)


# --- mixture sampling and the 2D lift ------------------------------------------------------------

def literal_mixture(model, text, diffusion, generator, alpha):
    """docs/original_code.md §8.2 re-stated step by step with all 1000 steps (noise drawn as sample_mixture does)."""
    j = torch.randn(SHAPE_2D, generator=generator)
    renoise = torch.randn(SHAPE_3D, generator=generator)
    m = None
    for i in range(999, -1, -1):
        t = torch.full((B,), i)
        if i > alpha:
            x0 = model(j, t, text, return_m=False, return_j=True)["j"]
            j = posterior_sample(diffusion, x0, j, t, generator)
        elif i == alpha:
            m0 = model(j, t, text, return_m=True, return_j=False)["m"]
            if alpha == 0:
                return m0
            m = diffusion.q_sample(m0, torch.full((B,), alpha - 1), renoise)
        else:
            x0 = model(m, t, text, return_m=True, return_j=False)["m"]
            m = posterior_sample(diffusion, x0, m, t, generator)
    return m


def posterior_sample(diffusion, x0, x_t, t, generator):
    mean, _, log_variance = diffusion.q_posterior_mean_variance(x0, x_t, t)
    if t[0] == 0:
        return mean
    return mean + torch.exp(0.5 * log_variance) * torch.randn(x_t.shape, generator=generator)


@pytest.mark.parametrize("alpha", [300, 0, 999])
def test_mixture_equals_the_literal_procedure(model, text, alpha):
    diffusion = build_diffusion()
    ours = diffusion.sample_mixture(model, SHAPE_3D, SHAPE_2D, text, alpha, generator=seeded(3), progress=False)
    calls = list(model.calls)
    reference = literal_mixture(model, text, diffusion.base, seeded(3), alpha)
    assert torch.equal(ours, reference)  # same operations in the same order: bit-identical
    assert len(calls) == 1000
    lift = calls[999 - alpha]
    assert lift["t"] == [alpha] * B and lift["c_in"] == C_J and lift["heads"] == (True, False)
    assert all(c["c_in"] == C_J and c["heads"] == (False, True) for c in calls[:999 - alpha])
    assert all(c["c_in"] == C_M and c["heads"] == (True, False) for c in calls[1000 - alpha:])


def test_mixture_on_a_respaced_process_changes_at_the_first_step_not_above_alpha(model, text):
    diffusion = build_diffusion(sampler="ddim", sampling_steps=50)
    assert change_step(diffusion.sampling, 300) == 15 and change_step(diffusion.sampling, 319) == 15
    diffusion.sample_mixture(model, SHAPE_3D, SHAPE_2D, text, np.int64(319), generator=seeded(), progress=False)
    seen = received_timesteps(model)
    assert seen == list(range(980, -1, -20))
    lift_at = seen.index(300)
    assert model.calls[lift_at]["c_in"] == C_J and model.calls[lift_at]["heads"] == (True, False)
    assert model.calls[lift_at - 1]["heads"] == (False, True) and model.calls[lift_at + 1]["c_in"] == C_M


def test_mixture_sampler_ddim_eta0_needs_no_generator(model, text):
    diffusion = build_diffusion(sampling_steps=10).sampling
    noise_2d, noise_3d = torch.randn(SHAPE_2D), torch.randn(SHAPE_3D)
    denoisers = (head_denoiser(model, text, "j"), head_denoiser(model, text, "m"), head_denoiser(model, text, "m"))
    runs = [mixture_sample(*denoisers, diffusion, noise_2d, noise_3d, 500, eta=0.0, generator=seeded(s))
            for s in (1, 2)]
    assert torch.equal(runs[0], runs[1]) and runs[0].shape == SHAPE_3D


def test_mixture_rejects_out_of_range_change_idx(model, text):
    diffusion = build_diffusion(sampling_steps=10)
    for bad in (-1, 1000, 2.5):
        with pytest.raises(UserError, match="change_idx"):
            diffusion.sample_mixture(model, SHAPE_3D, SHAPE_2D, text, bad, progress=False)


def test_sample_2d_then_lift(model, text):
    diffusion = build_diffusion(sampling_steps=20)
    sample_2d, motion_3d = diffusion.sample_2d_then_lift(model, SHAPE_2D, text, generator=seeded(4), progress=False)
    lift = model.calls[-1]
    assert lift["t"] == [0] * B and lift["force_mask"] and lift["c_in"] == C_J and lift["heads"] == (True, False)
    expected_2d = diffusion.sample(model, SHAPE_2D, text, head="j", generator=seeded(4), progress=False)
    assert torch.equal(sample_2d, expected_2d)
    expected_3d = model(sample_2d, torch.zeros(B, dtype=torch.int64), text, force_mask=True)["m"]
    assert torch.equal(motion_3d, expected_3d) and motion_3d.shape == SHAPE_3D


# --- progress callback -----------------------------------------------------------------------------

def _run_path(diffusion, model, text, path, on_step):
    if path == "3d":
        return diffusion.sample(model, SHAPE_3D, text, generator=seeded(5), progress=False, on_step=on_step)
    if path == "2d":
        return diffusion.sample_2d_then_lift(model, SHAPE_2D, text, generator=seeded(5), progress=False,
                                             on_step=on_step)
    return diffusion.sample_mixture(model, SHAPE_3D, SHAPE_2D, text, 500, generator=seeded(5), progress=False,
                                    on_step=on_step)


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
@pytest.mark.parametrize("path", ["3d", "2d", "mixture"])
def test_on_step_reports_every_step_once_in_order(model, text, sampler, path):
    diffusion = build_diffusion(sampler=sampler, sampling_steps=7)
    calls = []
    with_callback = _run_path(diffusion, model, text, path, lambda i, n: calls.append((i, n)))
    assert calls == [(i, 7) for i in range(1, 8)]
    without = _run_path(diffusion, model, text, path, None)  # the callback observes; it changes nothing
    for a, b in zip(with_callback if isinstance(with_callback, tuple) else (with_callback,),
                    without if isinstance(without, tuple) else (without,)):
        assert torch.equal(a, b)


def test_on_step_raising_stops_the_sampling(model, text):
    class Stop(Exception):
        pass

    def stop_at_third(i, n):
        if i == 3:
            raise Stop

    diffusion = build_diffusion(sampler="ddim", sampling_steps=10)
    with pytest.raises(Stop):
        diffusion.sample(model, SHAPE_3D, text, progress=False, on_step=stop_at_third)
    assert len(model.calls) == 3  # no network call after the raising step


# --- precision -------------------------------------------------------------------------------------

@pytest.mark.parametrize("scale", [1.0, 2.5])
def test_bfloat16_precision_runs_every_call_under_autocast(text, scale):
    """precision=bfloat16: the network runs under autocast, the sampler gets float32 back, and the
    sample stays near the float32 one (bf16 keeps 8 bits of mantissa; guidance amplifies the
    difference by up to |1 - s| + |s|)."""
    torch.manual_seed(0)  # the fixture's text layer draws from the global generator
    model = FakeModel().eval()
    noise = torch.randn(SHAPE_3D, generator=seeded(3))
    runs = {}
    for precision in ("float32", "bfloat16"):
        model.calls.clear()
        diffusion = build_diffusion(sampler="ddim", sampling_steps=10, guidance_scale=scale, precision=precision)
        runs[precision] = diffusion.sample(model, SHAPE_3D, text, noise=noise, progress=False)
        assert {call["autocast"] for call in model.calls} == {precision == "bfloat16"}
    assert runs["bfloat16"].dtype == torch.float32
    difference = (runs["bfloat16"] - runs["float32"]).abs().max()
    assert 0 < difference < 0.05 * (abs(1 - scale) + abs(scale))


def test_bfloat16_region_leaves_the_sampler_arithmetic_in_float32(model, text):
    """The whole loop runs in one autocast region (weights cast once); the samplers' elementwise
    steps are unaffected by it: the same result as per-call autocast outside any region."""
    from crossdiff.diffusion.guidance import AutocastModel

    diffusion = build_diffusion(sampler="ddim", sampling_steps=10, precision="bfloat16")
    noise = torch.randn(SHAPE_3D, generator=seeded(4))
    in_region = diffusion.sample(model, SHAPE_3D, text, noise=noise, progress=False)
    per_call = ddim_sample(head_denoiser(AutocastModel(model, torch.bfloat16), text, "m"), diffusion.sampling,
                           noise, eta=0.0)
    assert torch.equal(in_region, per_call)


def test_bfloat16_precision_covers_the_lift(model, text):
    diffusion = build_diffusion(sampling_steps=5, precision="bfloat16")
    sample_2d, motion = diffusion.sample_2d_then_lift(model, SHAPE_2D, text, generator=seeded(2), progress=False)
    assert motion.dtype == sample_2d.dtype == torch.float32
    assert model.calls[-1]["force_mask"] and all(call["autocast"] for call in model.calls)


# --- configuration ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,key", [
    ({"noise_schedule": "quadratic"}, "diffusion.noise_schedule"),
    ({"sampler": "plms"}, "diffusion.sampler"),
    ({"diffusion_steps": 0}, "diffusion.diffusion_steps"),
    ({"sampling_steps": 0}, "diffusion.sampling_steps"),
    ({"sampling_steps": 1001}, "diffusion.sampling_steps"),
    ({"ddim_eta": 1.5}, "diffusion.ddim_eta"),
    ({"guidance_scale": float("nan")}, "diffusion.guidance_scale"),
    ({"precision": "float16"}, "diffusion.precision"),
    ({"guidance_min_timestep": -1}, "diffusion.guidance_min_timestep"),
    ({"guidance_min_timestep": 1001}, "diffusion.guidance_min_timestep"),
    ({"guidance_min_timestep": 2.5}, "diffusion.guidance_min_timestep"),
])
def test_bad_config_values_are_user_errors(kwargs, key):
    with pytest.raises(UserError, match=key.replace(".", r"\.")):
        build_diffusion(**kwargs)


def test_unknown_sampler_lists_the_choices():
    with pytest.raises(UserError, match="ddpm, ddim"):
        build_diffusion(sampler="plms")


def test_training_interface():
    diffusion = build_diffusion()
    x0, noise, t = torch.randn(SHAPE_3D), torch.randn(SHAPE_3D), torch.tensor([0, 999])
    assert diffusion.num_timesteps == 1000
    torch.testing.assert_close(diffusion.q_sample(x0, t, noise), base_process().q_sample(x0, t, noise))
