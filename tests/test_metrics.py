"""Evaluation metrics against golden case 7: exact counts, rtol 1e-5 for the rest (golden README §7, §10)."""

import numpy as np
import pytest
import scipy.linalg

from crossdiff.errors import UserError
from crossdiff.evaluation import metrics
from crossdiff.evaluation.metrics import (calculate_activation_statistics, calculate_top_k, default_diversity_times,
                                          diversity, euclidean_distance_matrix, frechet_distance, matching_score,
                                          multimodality, r_precision)

RTOL = 1e-5


@pytest.fixture(scope="module")
def case7(golden):
    return golden("case7_metrics")


@pytest.fixture
def global_rng():
    """Leave numpy's global legacy RNG as the test found it."""
    state = np.random.get_state()
    yield
    np.random.set_state(state)


class RecordingRng:
    """Delegates `choice` to a RandomState and remembers what was drawn."""

    def __init__(self, seed):
        self.rng = np.random.RandomState(seed)
        self.drawn = []

    def choice(self, *args, **kwargs):
        self.drawn.append(self.rng.choice(*args, **kwargs))
        return self.drawn[-1]


@pytest.mark.parametrize("kind", ["real", "gen"])
def test_distance_matrices_and_rankings(case7, kind):
    text, motion = case7["rp_text"], case7[f"rp_motion_{kind}"]
    for batch in range(2):
        rows = slice(32 * batch, 32 * batch + 32)
        distances = euclidean_distance_matrix(text[rows], motion[rows])
        assert distances.dtype == np.float32
        np.testing.assert_allclose(distances, case7[f"rp_{kind}_dist"][batch], rtol=RTOL)
        np.testing.assert_array_equal(np.argsort(distances, axis=1), case7[f"rp_{kind}_argsort"][batch])
        top_k = calculate_top_k(case7[f"rp_{kind}_argsort"][batch], 3)
        np.testing.assert_array_equal(top_k, case7[f"rp_{kind}_topk_mat"][batch])
        np.testing.assert_array_equal(top_k.sum(axis=0), case7[f"rp_{kind}_counts"][batch])
        np.testing.assert_allclose(distances.trace(), case7[f"rp_{kind}_trace"][batch], rtol=RTOL)


@pytest.mark.parametrize("kind", ["real", "gen"])
def test_r_precision_and_matching_score(case7, kind):
    text, motion = case7["rp_text"], case7[f"rp_motion_{kind}"]
    np.testing.assert_array_equal(r_precision(text, motion), case7[f"rp_{kind}_R_precision"])
    np.testing.assert_allclose(matching_score(text, motion), case7[f"rp_{kind}_matching_score"], rtol=RTOL)


def test_r_precision_uses_full_batches_only(case7):
    text, motion = case7["rp_text"], case7["rp_motion_real"]
    np.testing.assert_array_equal(r_precision(text[:50], motion[:50]), case7["rp_real_counts"][0] / 32)
    with pytest.raises(UserError, match="at least 32 samples"):
        r_precision(text[:31], motion[:31])
    with pytest.raises(UserError, match="64 text embeddings but 32"):
        matching_score(text, motion[:32])


def test_r_precision_of_matching_pairs_is_perfect():
    text = np.random.default_rng(0).standard_normal((64, 8)) * 10
    np.testing.assert_array_equal(r_precision(text, text + 0.01), [1.0, 1.0, 1.0])


@pytest.mark.parametrize("name", ["fid_small", "fid"])
def test_activation_statistics_and_fid(case7, name):
    real, gen = case7[f"{name}_real"], case7[f"{name}_gen"]
    mu_real, cov_real = calculate_activation_statistics(real)
    mu_gen, cov_gen = calculate_activation_statistics(gen)
    assert mu_real.dtype == np.float32 and cov_real.dtype == np.float64
    np.testing.assert_allclose(mu_real, case7[f"{name}_mu_real"], rtol=RTOL)
    np.testing.assert_allclose(mu_gen, case7[f"{name}_mu_gen"], rtol=RTOL)
    if name == "fid_small":
        np.testing.assert_allclose(cov_real, case7["fid_small_cov_real"], rtol=RTOL)
        np.testing.assert_allclose(cov_gen, case7["fid_small_cov_gen"], rtol=RTOL)
    else:
        np.testing.assert_allclose(np.trace(cov_real), case7["fid_trace_cov_real"], rtol=RTOL)
        np.testing.assert_allclose(np.trace(cov_gen), case7["fid_trace_cov_gen"], rtol=RTOL)
        np.testing.assert_allclose(cov_real[:8, :8], case7["fid_cov_real_first8x8"], rtol=RTOL, atol=1e-9)
        np.testing.assert_allclose(cov_gen[:8, :8], case7["fid_cov_gen_first8x8"], rtol=RTOL, atol=1e-9)
    np.testing.assert_allclose(frechet_distance(mu_real, cov_real, mu_gen, cov_gen), case7[name], rtol=RTOL)


def test_fid_with_singular_covariances_is_real_and_consistent():
    rng = np.random.default_rng(1)
    real = rng.standard_normal((40, 64)).astype(np.float32)          # fewer samples than dimensions
    gen = (rng.standard_normal((40, 64)) + 0.5).astype(np.float32)
    mu1, cov1 = calculate_activation_statistics(real)
    mu2, cov2 = calculate_activation_statistics(gen)
    fid = frechet_distance(mu1, cov1, mu2, cov2)
    symmetric = (np.sum((mu1 - mu2) ** 2) + np.trace(cov1) + np.trace(cov2)
                 - 2 * metrics._trace_sqrt_product_symmetric(cov1, cov2))
    assert np.isfinite(fid) and fid == pytest.approx(symmetric, rel=1e-6)
    assert abs(frechet_distance(mu1, cov1, mu1, cov1)) < 1e-3 * np.trace(cov1)
    zeros = np.zeros((64, 64))
    assert frechet_distance(mu1, zeros, mu1, zeros) == 0.0


def test_fid_falls_back_when_sqrtm_fails(monkeypatch):
    rng = np.random.default_rng(2)
    mu1, cov1 = calculate_activation_statistics(rng.standard_normal((200, 16)))
    mu2, cov2 = calculate_activation_statistics(rng.standard_normal((200, 16)) * 1.5)
    expected = frechet_distance(mu1, cov1, mu2, cov2)
    calls = []

    def failing_sqrtm(matrix, *args, **kwargs):
        calls.append(matrix)
        return np.full(matrix.shape, np.nan)

    monkeypatch.setattr(scipy.linalg, "sqrtm", failing_sqrtm)
    assert frechet_distance(mu1, cov1, mu2, cov2) == pytest.approx(expected, rel=1e-9)
    assert len(calls) == 2   # the plain product, then the one with eps added to both covariances
    np.testing.assert_allclose(calls[1] - calls[0], 1e-6 * (cov1 + cov2) + 1e-12 * np.eye(16), atol=1e-15)


def test_fid_statistics_need_two_samples():
    with pytest.raises(UserError, match="at least 2"):
        calculate_activation_statistics(np.zeros((1, 4)))


def test_diversity_on_the_global_legacy_rng(case7, global_rng):
    np.random.seed(int(case7["div_seed"]))
    real = diversity(case7["fid_real"], 300)
    gen = diversity(case7["fid_gen"], 300)
    np.testing.assert_allclose([real, gen], [case7["div_real"], case7["div_gen"]], rtol=RTOL)
    np.random.seed(int(case7["div_seed"]) + 1)
    np.testing.assert_allclose(diversity(case7["fid_real"][:64], 10), case7["div10_real"], rtol=RTOL)


def test_diversity_draws_the_golden_indices(case7):
    recorder = RecordingRng(int(case7["div_seed"]))
    diversity(case7["fid_real"], 300, rng=recorder)
    diversity(case7["fid_gen"], 300, rng=recorder)
    for drawn, key in zip(recorder.drawn, ["div_real_first", "div_real_second", "div_gen_first", "div_gen_second"]):
        np.testing.assert_array_equal(drawn, case7[f"{key}_indices"])


def test_diversity_with_a_generator_leaves_the_global_rng_alone(case7, global_rng):
    np.random.seed(5)
    before = np.random.get_state()[1].copy()
    values = [diversity(case7["fid_real"], 300, rng=np.random.default_rng(3)) for _ in range(2)]
    assert values[0] == values[1] and np.array_equal(np.random.get_state()[1], before)
    assert values[0] == pytest.approx(case7["div_real"], rel=0.1)   # same population, other pairs


def test_diversity_times_rule_and_too_few_samples():
    assert (default_diversity_times(301), default_diversity_times(300)) == (300, 10)
    with pytest.raises(UserError, match="more than 10 samples, got 10"):
        diversity(np.zeros((10, 4), np.float32), 10)


def test_multimodality(case7, global_rng):
    np.random.seed(int(case7["mm_seed"]))
    np.testing.assert_allclose(multimodality(case7["mm_activation"], 10), case7["multimodality"], rtol=RTOL)
    recorder = RecordingRng(int(case7["mm_seed"]))
    multimodality(case7["mm_activation"], 10, rng=recorder)
    np.testing.assert_array_equal(recorder.drawn[0], case7["mm_first_dices"])
    np.testing.assert_array_equal(recorder.drawn[1], case7["mm_second_dices"])
    with pytest.raises(UserError, match="more than 10 generations"):
        multimodality(case7["mm_activation"][:, :10], 10)


def test_top_k_of_a_batch_smaller_than_k_counts_every_text_as_found():
    """Batches of 2 (test.batch_size=2, or the last batch of test_limit=full) used to break top-3."""
    swapped = np.array([[1, 0], [1, 0]])          # text 0: own motion second; text 1: first
    np.testing.assert_array_equal(calculate_top_k(swapped, 3), [[False, True, True], [True, True, True]])
    text = np.random.default_rng(1).standard_normal((4, 8))
    np.testing.assert_array_equal(r_precision(text, text + 0.01, batch_size=2)[1:], [1.0, 1.0])
