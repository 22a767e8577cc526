"""Noise process: golden case 5 (tables, q_sample, p_mean_variance, p_sample, respacing, masked_l2)
plus properties the golden data does not pin (linear schedule, composed respacing, errors)."""

import numpy as np
import pytest
import torch

from crossdiff.diffusion import build_diffusion
from crossdiff.diffusion.schedule import GaussianDiffusion, get_betas, linear_betas, masked_l2, space_timesteps
from crossdiff.errors import UserError

TABLES = ["betas", "alphas_cumprod", "alphas_cumprod_prev", "alphas_cumprod_next", "sqrt_alphas_cumprod",
          "sqrt_one_minus_alphas_cumprod", "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod",
          "sqrt_recipm1_alphas_cumprod", "posterior_variance", "posterior_log_variance_clipped",
          "posterior_mean_coef1", "posterior_mean_coef2"]
LOG_TABLES = {"log_one_minus_alphas_cumprod", "posterior_log_variance_clipped"}


@pytest.fixture(scope="module")
def case5(golden):
    return golden("case5_diffusion")


@pytest.fixture(scope="module")
def diffusion():
    """The training process exactly as build_diffusion makes it (the reference's re-derived tables)."""
    return build_diffusion().base


def t_(a):
    return torch.from_numpy(np.asarray(a))


def test_base_betas_match_golden(case5):
    np.testing.assert_allclose(get_betas("cosine", 1000), case5["base_betas"], rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", TABLES)
def test_tables_match_golden(case5, diffusion, name):
    atol = 1e-9 if name in LOG_TABLES else 1e-12
    np.testing.assert_allclose(getattr(diffusion, name), case5[name], rtol=0, atol=atol)
    assert getattr(diffusion, name).dtype == np.float64


def test_timestep_map_is_identity(case5, diffusion):
    np.testing.assert_array_equal(diffusion.timestep_map, case5["timestep_map"])
    assert diffusion.num_timesteps == 1000


def test_spec_reference_values(diffusion):
    """docs/original_code.md §6.1's table and §6.2's clipped log variance."""
    betas, ac = diffusion.betas, diffusion.alphas_cumprod
    assert betas[0] == pytest.approx(4.1284e-05, rel=1e-4)
    assert betas[1] == pytest.approx(4.6142e-05, rel=1e-4)
    assert betas[999] == pytest.approx(0.999, abs=1e-12) and (betas[:999] < 0.999).all()
    for i, value in [(0, 0.99995872), (299, 0.78691051), (300, 0.78563241), (500, 0.49228517)]:
        assert ac[i] == pytest.approx(value, abs=1e-8)
    assert ac[999] == pytest.approx(2.4288e-09, rel=1e-4)
    assert diffusion.posterior_variance[0] == 0
    assert diffusion.posterior_log_variance_clipped[0] == pytest.approx(-10.734, abs=1e-3)


def test_q_sample_and_q_mean_variance_match_golden(case5, diffusion):
    x0, noise, t = t_(case5["q_x0"]), t_(case5["q_noise"]), t_(case5["q_t"])
    np.testing.assert_allclose(diffusion.q_sample(x0, t, noise).numpy(), case5["q_sample"], rtol=0, atol=1e-6)
    mean, variance, log_variance = diffusion.q_mean_variance(x0, t)
    np.testing.assert_allclose(mean.numpy(), case5["q_mean"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(variance.flatten().numpy(), case5["q_variance"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(log_variance.flatten().numpy(), case5["q_log_variance"], rtol=0, atol=1e-6)
    assert variance.shape == (4, 1, 1, 1)


@pytest.mark.parametrize("dim", ["3d", "2d"])
@pytest.mark.parametrize("clip", [0, 1])
def test_p_mean_variance_matches_golden(case5, diffusion, dim, clip):
    x0_pred, x_t, t = (t_(case5[f"pmv{dim}_{k}"]) for k in ("model_output", "x_t", "t"))
    out = diffusion.p_mean_variance(x0_pred, x_t, t, clip=bool(clip))
    for key in ("mean", "pred_xstart", "variance", "log_variance"):
        expected = case5[f"pmv{dim}_clip{clip}_{key}"]
        np.testing.assert_allclose(out[key].numpy().reshape(expected.shape), expected, rtol=0, atol=1e-6, err_msg=key)
    if clip:
        assert out["pred_xstart"].abs().max() <= 1 < x0_pred.abs().max()


@pytest.mark.parametrize("dim", ["3d", "2d"])
def test_p_sample_matches_golden(case5, diffusion, dim):
    x0_pred, x_t, t = (t_(case5[f"pmv{dim}_{k}"]) for k in ("model_output", "x_t", "t"))
    noise = t_(case5[f"psample{dim}_noise"])
    sample = diffusion.p_sample(x0_pred, x_t, t, noise)
    np.testing.assert_allclose(sample.numpy(), case5[f"psample{dim}_sample"], rtol=0, atol=1e-6)
    # t = 0 (item 0) adds no noise: the sample is the posterior mean, i.e. x0_pred (coef1[0] = 1, coef2[0] = 0).
    np.testing.assert_allclose(sample[0].numpy(), case5[f"pmv{dim}_clip0_mean"][0], rtol=0, atol=1e-6)


@pytest.mark.parametrize("name,sections", [("50", [50]), ("ddim50", "ddim50")])
def test_respacing_matches_golden(case5, diffusion, name, sections):
    use = space_timesteps(1000, sections)
    np.testing.assert_array_equal(use, case5[f"respace_{name}_use_timesteps"])
    spaced = diffusion.respaced(use)
    np.testing.assert_array_equal(spaced.timestep_map, case5[f"respace_{name}_timestep_map"])
    for key in ("betas", "alphas_cumprod", "posterior_variance", "posterior_log_variance_clipped"):
        atol = 1e-9 if key in LOG_TABLES else 1e-12
        np.testing.assert_allclose(getattr(spaced, key), case5[f"respace_{name}_{key}"], rtol=0, atol=atol, err_msg=key)
    assert spaced.num_timesteps == 50


def test_multi_section_rule_matches_golden(case5):
    """Round-half-even on a float cursor: e.g. section 2 (100 steps, 15 kept) has stride 99/14."""
    np.testing.assert_array_equal(space_timesteps(300, [10, 15, 20]), case5["respace_sections_10_15_20_of_300"])
    np.testing.assert_array_equal(space_timesteps(300, "10,15,20"), case5["respace_sections_10_15_20_of_300"])


def test_masked_l2_matches_golden(case5):
    a, b = t_(case5["ml2_a"]), t_(case5["ml2_b"])
    temporal = masked_l2(a, b, t_(case5["ml2_mask_bool"]))
    element = masked_l2(a, b, t_(case5["ml2_mask_elementwise"]))
    np.testing.assert_allclose(temporal.numpy(), case5["ml2_loss_lengthmask"], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(element.numpy(), case5["ml2_loss_elementmask"], rtol=1e-6, atol=1e-6)


def test_masked_l2_normalisation():
    """Temporal masks average over channels of valid frames; an empty mask gives 0, not NaN."""
    a = torch.zeros(2, 3, 1, 4)
    b = torch.ones(2, 3, 1, 4) * torch.tensor([1.0, 2.0]).view(2, 1, 1, 1)
    mask = torch.tensor([[1, 1, 0, 0], [0, 0, 0, 0]], dtype=torch.bool).view(2, 1, 1, 4)
    loss = masked_l2(a, b, mask)
    assert loss[0].item() == pytest.approx(1.0, rel=1e-6) and loss[1].item() == 0.0
    element = torch.zeros(2, 3, 1, 4)
    element[0, 0, 0, 0] = 1
    assert masked_l2(a, b, element)[0].item() == pytest.approx(1.0, rel=1e-6)


def test_linear_schedule():
    np.testing.assert_allclose(linear_betas(1000)[[0, -1]], [1e-4, 0.02], rtol=1e-12)
    np.testing.assert_allclose(linear_betas(100)[[0, -1]], [1e-3, 0.2], rtol=1e-12)
    assert (np.diff(linear_betas(1000)) > 0).all()
    short = build_diffusion(noise_schedule="linear", diffusion_steps=100, sampling_steps=100)
    assert short.base.alphas_cumprod[-1] < 1e-3


def test_respacing_keeps_alpha_bar_and_composes_maps(diffusion):
    spaced = diffusion.respaced(space_timesteps(1000, "ddim100"))
    np.testing.assert_allclose(spaced.alphas_cumprod, diffusion.alphas_cumprod[::10], rtol=1e-12)
    twice = spaced.respaced([0, 5, 99])
    np.testing.assert_array_equal(twice.timestep_map, [0, 50, 990])
    np.testing.assert_allclose(twice.alphas_cumprod, diffusion.alphas_cumprod[[0, 50, 990]], rtol=1e-12)
    ac = diffusion.alphas_cumprod
    np.testing.assert_allclose(twice.betas[1], 1 - ac[50] / ac[0], rtol=1e-12)
    with pytest.raises(ValueError):
        diffusion.respaced([1000])


def test_space_timesteps_errors_and_edges():
    assert space_timesteps(1000, "ddim1000") == list(range(1000))
    assert space_timesteps(1000, [1000]) == list(range(1000))
    assert space_timesteps(1000, [1]) == [0]
    with pytest.raises(ValueError, match="stride"):
        space_timesteps(1000, "ddim300")
    with pytest.raises(ValueError, match="section"):
        space_timesteps(10, [6, 6])


def test_coefficients_follow_tensor_dtype_and_device(diffusion):
    """Indexing is float64; float32 inputs get float32-cast coefficients, float64 inputs keep float64."""
    x64 = torch.ones(1, 2, 1, 3, dtype=torch.float64)
    out64 = diffusion.q_sample(x64, torch.tensor([500]), torch.zeros_like(x64))
    assert out64.dtype == torch.float64 and out64[0, 0, 0, 0].item() == diffusion.sqrt_alphas_cumprod[500]
    out32 = diffusion.q_sample(x64.float(), torch.tensor([500]), torch.zeros_like(x64).float())
    assert out32.dtype == torch.float32
    assert out32[0, 0, 0, 0].item() == np.float32(diffusion.sqrt_alphas_cumprod[500])


def test_unknown_schedule_is_a_user_error():
    with pytest.raises(UserError, match="diffusion.noise_schedule.*cosine, linear"):
        get_betas("sigmoid", 1000)


def test_single_step_process_is_finite():
    single = GaussianDiffusion(get_betas("cosine", 1000)).respaced([0])
    assert np.isfinite(single.posterior_log_variance_clipped).all()
