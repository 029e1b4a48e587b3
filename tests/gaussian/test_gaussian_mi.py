"""Closed-form Gaussian MI / CMI against independent computations, and every input check."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from miestim.gaussian import conditional_mutual_information, correlated_mi, mutual_information, rho_for_mi


def random_cov(d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((d, d))
    return a @ a.T + 0.5 * np.eye(d)


def canonical_mi(cov: np.ndarray, x: list[int], y: list[int]) -> float:
    """Independent reference: I = -1/2 sum log(1 - s_k^2) over canonical correlations s_k."""

    def inv_sqrt(m: np.ndarray) -> np.ndarray:
        w, v = np.linalg.eigh(m)
        return v @ np.diag(w**-0.5) @ v.T

    whitened = inv_sqrt(cov[np.ix_(x, x)]) @ cov[np.ix_(x, y)] @ inv_sqrt(cov[np.ix_(y, y)])
    s = np.linalg.svd(whitened, compute_uv=False)
    return float(-0.5 * np.sum(np.log1p(-(s**2))))


def conditional_cov(cov: np.ndarray, keep: list[int], given: list[int]) -> np.ndarray:
    """Covariance of the ``keep`` block given ``given`` (Schur complement)."""
    k, g = np.ix_(keep, keep), np.ix_(given, given)
    cross = cov[np.ix_(keep, given)]
    return cov[k] - cross @ np.linalg.solve(cov[g], cross.T)


# ---------------------------------------------------------------- closed forms


def test_mi_of_independent_pairs_is_sum_of_per_coordinate_terms():
    rhos = np.array([0.1, -0.5, 0.9])
    scales = np.array([1.0, 3.0, 0.2])  # MI ignores the marginal scales
    d = len(rhos)
    cov = np.zeros((2 * d, 2 * d))
    for i, (r, s) in enumerate(zip(rhos, scales)):
        cov[i, i], cov[d + i, d + i] = s**2, 1.0
        cov[i, d + i] = cov[d + i, i] = r * s
    expected = float(np.sum(-0.5 * np.log(1 - rhos**2)))
    assert mutual_information(cov, list(range(d)), list(range(d, 2 * d))) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_mi_matches_canonical_correlations(seed):
    cov = random_cov(7, seed)
    x, y = [4, 0, 2], [1, 6]
    assert mutual_information(cov, x, y) == pytest.approx(canonical_mi(cov, x, y), rel=1e-9)
    assert mutual_information(cov, y, x) == pytest.approx(mutual_information(cov, x, y), rel=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_cmi_matches_conditional_covariance_and_chain_rule(seed):
    cov = random_cov(7, seed)
    x, y, z = [0, 3], [5], [1, 6]
    cmi = conditional_mutual_information(cov, x, y, z)
    # Reference 1: MI of the conditional Gaussian of (X, Y) given Z.
    cond = conditional_cov(cov, x + y, z)
    assert cmi == pytest.approx(canonical_mi(cond, [0, 1], [2]), rel=1e-9)
    # Reference 2: chain rule I(X;Y|Z) = I(X;YZ) - I(X;Z).
    assert cmi == pytest.approx(canonical_mi(cov, x, y + z) - canonical_mi(cov, x, z), rel=1e-9)


def test_scalar_cmi_matches_partial_correlation():
    cov = np.array([[2.0, 0.8, 0.5], [0.8, 1.0, 0.3], [0.5, 0.3, 1.5]])
    sd = np.sqrt(np.diag(cov))
    r = cov / np.outer(sd, sd)
    partial = (r[0, 1] - r[0, 2] * r[1, 2]) / math.sqrt((1 - r[0, 2] ** 2) * (1 - r[1, 2] ** 2))
    expected = -0.5 * math.log(1 - partial**2)
    assert conditional_mutual_information(cov, 0, 1, 2) == pytest.approx(expected, rel=1e-12)


def test_cmi_with_empty_z_equals_mi():
    cov = random_cov(5, 11)
    assert conditional_mutual_information(cov, [0, 1], [3], []) == pytest.approx(mutual_information(cov, [0, 1], [3]))


def test_cmi_is_zero_under_conditional_independence():
    # Markov chain X -> Z -> Y: X and Y independent given Z.
    cov = np.array([[1.0, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 1.0]])
    assert conditional_mutual_information(cov, [0], [2], [1]) == pytest.approx(0.0, abs=1e-12)
    assert mutual_information(cov, [0], [2]) > 0


def test_independent_blocks_have_zero_mi():
    assert mutual_information(np.diag([1.0, 2.0, 3.0]), [0], [1, 2]) == 0.0


def test_input_forms_agree():
    cov = random_cov(4, 3)
    reference = mutual_information(cov, [0, 1], [2])
    assert mutual_information(torch.tensor(cov), [0, 1], [2]) == pytest.approx(reference)
    assert mutual_information(torch.tensor(cov, dtype=torch.float32), [0, 1], [2]) == pytest.approx(reference, rel=1e-5)
    assert mutual_information(cov.tolist(), np.array([0, 1]), (2,)) == pytest.approx(reference)
    assert mutual_information(cov, torch.tensor([0, 1]), np.int64(2)) == pytest.approx(reference)
    assert mutual_information(np.eye(3, dtype=int), 0, range(1, 3)) == 0.0
    assert isinstance(reference, float)


def test_correlated_mi_and_rho_for_mi_are_inverse():
    for d, rho in [(1, 0.3), (4, 0.95), (10, -0.7)]:
        mi = correlated_mi(d, rho)
        assert mi == pytest.approx(-0.5 * d * math.log(1 - rho**2), rel=1e-12)
        assert rho_for_mi(d, mi) == pytest.approx(abs(rho), rel=1e-12)
        eye = np.eye(d)
        cov = np.block([[eye, rho * eye], [rho * eye, eye]])
        assert mutual_information(cov, list(range(d)), list(range(d, 2 * d))) == pytest.approx(mi, rel=1e-10)
    assert rho_for_mi(3, 0) == 0.0
    assert correlated_mi(3, 0.0) == 0.0


# ---------------------------------------------------------------- input checks


@pytest.mark.parametrize(
    ("cov", "error", "match"),
    [
        ("abc", TypeError, "cov must be a numpy array or torch tensor"),
        ({"a": 1}, TypeError, "cov must be a numpy array or torch tensor"),
        (np.eye(2, dtype=complex), TypeError, "cov must hold real numbers"),
        (np.array([["a", "b"], ["c", "d"]]), TypeError, "cov must hold real numbers"),
        (torch.eye(2, dtype=torch.bool), TypeError, "cov must hold real numbers"),
        (np.ones((2, 3)), ValueError, r"cov must be a non-empty square matrix \(d, d\); got shape \(2, 3\)"),
        (np.ones(3), ValueError, "cov must be a non-empty square matrix"),
        (np.zeros((0, 0)), ValueError, "cov must be a non-empty square matrix"),
        (np.array([[1.0, np.nan], [np.nan, 1.0]]), ValueError, "cov must contain only finite values"),
        (np.array([[1.0, 0.5], [0.4, 1.0]]), ValueError, "cov must be symmetric; the largest"),
        (np.array([[1.0, 2.0], [2.0, 1.0]]), ValueError, r"cov must be positive definite .*smallest eigenvalue is -1"),
        (np.ones((2, 2)), ValueError, "cov must be positive definite"),
    ],
)
def test_invalid_covariance(cov, error, match):
    with pytest.raises(error, match=match):
        mutual_information(cov, [0], [1])


@pytest.mark.parametrize(
    ("x_idx", "error", "match"),
    [
        ("0", TypeError, "x_idx must be an integer or a sequence of integers; got str"),
        (0.0, TypeError, "x_idx must be an integer or a sequence of integers; got float"),
        ([0.5], TypeError, r"x_idx must contain integers only; got 0\.5"),
        ([True], TypeError, "x_idx must contain integers only; got True"),
        (np.array([0.0]), TypeError, "x_idx must contain integers only"),
        ([], ValueError, "x_idx must contain at least one index"),
        ([3], ValueError, r"x_idx entries must lie in \[0, 3\) for a 3x3 covariance; got \[3\]"),
        ([-1], ValueError, r"x_idx entries must lie in \[0, 3\)"),
        ([0, 0], ValueError, r"x_idx must not repeat an index; got duplicates \[0\]"),
    ],
)
def test_invalid_indices(x_idx, error, match):
    with pytest.raises(error, match=match):
        mutual_information(np.eye(3), x_idx, [2])


def test_overlapping_index_sets():
    cov = np.eye(4)
    with pytest.raises(ValueError, match=r"x_idx and y_idx must not overlap; both contain indices \[1\]"):
        mutual_information(cov, [0, 1], [1, 2])
    with pytest.raises(ValueError, match=r"x_idx and z_idx must not overlap; both contain indices \[0\]"):
        conditional_mutual_information(cov, [0], [1], [0, 2])
    with pytest.raises(ValueError, match=r"y_idx and z_idx must not overlap; both contain indices \[2, 3\]"):
        conditional_mutual_information(cov, [0], [1, 2, 3], [2, 3])
    with pytest.raises(ValueError, match="y_idx must contain at least one index"):
        conditional_mutual_information(cov, [0], [], [2])
    with pytest.raises(ValueError, match=r"z_idx entries must lie in \[0, 4\)"):
        conditional_mutual_information(cov, [0], [1], [4])


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: correlated_mi(0, 0.5), ValueError, "d must be an integer >= 1; got 0"),
        (lambda: correlated_mi(2.0, 0.5), TypeError, "d must be an integer >= 1"),
        (lambda: correlated_mi(2, 1.0), ValueError, r"rho must lie in the open interval \(-1, 1\); got 1.0"),
        (lambda: correlated_mi(2, -1.5), ValueError, r"rho must lie in the open interval \(-1, 1\)"),
        (lambda: correlated_mi(2, float("nan")), ValueError, r"rho must lie in the open interval"),
        (lambda: correlated_mi(2, "0.5"), TypeError, r"rho must be a real number in \(-1, 1\)"),
        (lambda: correlated_mi(2, True), TypeError, r"rho must be a real number in \(-1, 1\)"),
        (lambda: rho_for_mi(0, 1.0), ValueError, "d must be an integer >= 1"),
        (lambda: rho_for_mi(2, -0.1), ValueError, "mi must be a finite number >= 0; got -0.1"),
        (lambda: rho_for_mi(2, float("inf")), ValueError, "mi must be a finite number >= 0"),
        (lambda: rho_for_mi(2, None), TypeError, "mi must be a real number"),
    ],
)
def test_invalid_shortcut_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()
