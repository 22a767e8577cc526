"""The T2M evaluation metrics as pure numpy functions (docs/original_code.md §9.4, golden case 7).

Inputs are evaluator embeddings `[N, 512]` (float32, as the evaluation loop produces them).
R-precision and the matching score (MM-Dist) work on consecutive batches of 32 text/motion pairs;
FID compares Gaussian statistics of two embedding sets; Diversity and MultiModality average
distances between randomly drawn pairs.

Random draws use `rng` when given (a `np.random.Generator` or `RandomState`), else numpy's
global legacy RNG as the reference does, so `np.random.seed(s)` before the calls reproduces its
draws exactly.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg

from crossdiff.errors import UserError

R_PRECISION_BATCH = 32     # texts compete with the other 31 motions of their batch
TOP_K = 3
FID_EPS = 1e-6             # added to both covariances when the matrix square root fails
FID_MAX_IMAGINARY = 1e-3   # larger imaginary parts of sqrtm's diagonal mean the root is unreliable


def euclidean_distance_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[N, D], [M, D] -> [N, M] distances as sqrt(-2ab + |a|^2 + |b|^2), in the input precision.

    The expansion is the reference's; identical rows can give a tiny negative radicand (NaN).
    """
    squared = -2 * np.dot(a, b.T) + np.sum(np.square(a), axis=1, keepdims=True) + np.sum(np.square(b), axis=1)
    return np.sqrt(squared)


def calculate_top_k(ranking: np.ndarray, top_k: int = TOP_K) -> np.ndarray:
    """[N, N] row-wise argsort of distances -> bool [N, top_k]: row i's own index is within the first k."""
    own_index_rank = ranking == np.arange(len(ranking))[:, None]
    hits = np.cumsum(own_index_rank[:, :top_k], axis=1) > 0
    # A batch of N < top_k motions (the last one of `test.test_limit=full`, or test.batch_size=2): every
    # text's own motion is among its k >= N closest, so columns N+1..k repeat column N (all True).
    return np.pad(hits, ((0, 0), (0, top_k - hits.shape[1])), mode="edge")


def _batch_distances(text_emb: np.ndarray, motion_emb: np.ndarray, batch_size: int):
    """Distance matrices of consecutive full batches; trailing samples that fill no batch are left out,
    as the reference's drop_last loader never produces them."""
    if len(text_emb) != len(motion_emb):
        raise UserError(f"{len(text_emb)} text embeddings but {len(motion_emb)} motion embeddings")
    batches = len(text_emb) // batch_size
    if batches == 0:
        raise UserError(f"R-precision needs at least {batch_size} samples, got {len(text_emb)}")
    for start in range(0, batches * batch_size, batch_size):
        end = start + batch_size
        yield euclidean_distance_matrix(text_emb[start:end], motion_emb[start:end])


def r_precision(text_emb: np.ndarray, motion_emb: np.ndarray, batch_size: int = R_PRECISION_BATCH,
                top_k: int = TOP_K) -> np.ndarray:
    """[top_k] fraction of texts whose own motion is among the k closest of its batch, k = 1..top_k."""
    counts = np.zeros(top_k, dtype=np.int64)
    samples = 0
    for distances in _batch_distances(text_emb, motion_emb, batch_size):
        counts += calculate_top_k(np.argsort(distances, axis=1), top_k).sum(axis=0)
        samples += len(distances)
    return counts / samples


def matching_score(text_emb: np.ndarray, motion_emb: np.ndarray, batch_size: int = R_PRECISION_BATCH) -> float:
    """MM-Dist: the mean distance between each text and its own motion (trace of the batch matrices / N)."""
    traces, samples = [], 0
    for distances in _batch_distances(text_emb, motion_emb, batch_size):
        traces.append(distances.trace())
        samples += len(distances)
    return float(np.sum(traces) / samples)


def calculate_activation_statistics(activations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[N, D] -> (mean [D] in the input dtype, covariance [D, D] float64 with ddof 1)."""
    if len(activations) < 2:
        raise UserError(f"FID statistics need at least 2 embeddings, got {len(activations)}")
    return np.mean(activations, axis=0), np.cov(activations, rowvar=False)


def _trace_sqrt_product_symmetric(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """tr(sqrt(S1 S2)) from the eigenvalues of the symmetric S1^½ S2 S1^½; stays real for singular S."""
    values, vectors = np.linalg.eigh(sigma1)
    root1 = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    inner = np.linalg.eigvalsh(root1 @ sigma2 @ root1)
    return float(np.sum(np.sqrt(np.clip(inner, 0, None))))


def _quiet_sqrtm(matrix: np.ndarray) -> np.ndarray:
    """scipy's sqrtm without its singular-matrix warning: the callers check the result themselves
    (the reference silences it with the `disp=False` that SciPy 1.18 removes)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        return scipy.linalg.sqrtm(matrix)


def _trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """tr(sqrtm(S1 S2)) the reference's way (scipy sqrtm, then with eps·I added when not finite).

    When both attempts leave a large imaginary part (covariances of fewer samples than dimensions),
    the symmetric eigenvalue form, equal in exact arithmetic, gives the real answer instead of an error.
    """
    root = _quiet_sqrtm(sigma1 @ sigma2)
    if not np.isfinite(root).all():
        offset = np.eye(len(sigma1)) * FID_EPS
        root = _quiet_sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if not np.isfinite(root).all() or np.abs(np.diagonal(root).imag).max() > FID_MAX_IMAGINARY:
        return _trace_sqrt_product_symmetric(sigma1, sigma2)
    return float(np.trace(root.real))


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """FID = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr(sqrt(S1 S2)) between two Gaussians."""
    diff = np.asarray(mu1) - np.asarray(mu2)
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * _trace_sqrt_product(sigma1, sigma2))


def default_diversity_times(num_samples: int) -> int:
    """Pairs drawn for Diversity: 300, or 10 when there are 300 samples or fewer (the reference's rule)."""
    return 300 if num_samples > 300 else 10


def _choose(rng, population: int, count: int) -> np.ndarray:
    """`count` distinct indices of `population` from `rng`, or from numpy's global legacy RNG."""
    return (np.random if rng is None else rng).choice(population, count, replace=False)


def diversity(activations: np.ndarray, diversity_times: int = 300, rng=None) -> float:
    """Mean distance between `diversity_times` random pairs of [N, D] embeddings.

    The two index sets are drawn independently (each without replacement), so a pair can coincide.
    """
    if len(activations) <= diversity_times:
        raise UserError(f"Diversity with {diversity_times} pairs needs more than {diversity_times} "
                        f"samples, got {len(activations)}")
    first = _choose(rng, len(activations), diversity_times)
    second = _choose(rng, len(activations), diversity_times)
    return float(np.linalg.norm(activations[first] - activations[second], axis=1).mean())


def multimodality(activations: np.ndarray, multimodality_times: int = 10, rng=None) -> float:
    """Mean distance between pairs of generations of the same text, [N texts, R generations, D].

    The same `multimodality_times` index pairs (drawn among the R generations) serve every text.
    """
    generations = activations.shape[1]
    if generations <= multimodality_times:
        raise UserError(f"MultiModality with {multimodality_times} pairs needs more than "
                        f"{multimodality_times} generations per text, got {generations}")
    first = _choose(rng, generations, multimodality_times)
    second = _choose(rng, generations, multimodality_times)
    return float(np.linalg.norm(activations[:, first] - activations[:, second], axis=2).mean())
