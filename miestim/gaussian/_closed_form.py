r"""Closed-form (conditional) mutual information of jointly Gaussian variables, in nats.

All determinants are log-determinants of sub-blocks of one covariance matrix, computed in
float64 with :func:`numpy.linalg.slogdet`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._validation import check_positive_float, check_positive_int
from ._checks import Indices, as_covariance, as_indices, check_correlation, check_disjoint

__all__ = ["conditional_mutual_information", "correlated_mi", "mutual_information", "rho_for_mi"]


def _logdet(cov: np.ndarray, idx: tuple[int, ...]) -> float:
    """log det of the sub-block ``cov[idx, idx]``; 0 for the empty block."""
    if not idx:
        return 0.0
    # Principal sub-blocks of a validated positive-definite matrix are positive definite: sign is +1.
    _, logdet = np.linalg.slogdet(cov[np.ix_(idx, idx)])
    return float(logdet)


def _log_density(cov: np.ndarray, idx: tuple[int, ...], values: np.ndarray) -> np.ndarray:
    """log N(values; 0, cov[idx, idx]) per row of ``values`` (n, len(idx)), float64."""
    factor = np.linalg.cholesky(cov[np.ix_(idx, idx)])
    whitened = np.linalg.solve(factor, values.T)  # L^-1 v: the quadratic form is its squared norm
    log_det = 2.0 * np.log(np.diag(factor)).sum()
    return -0.5 * ((whitened**2).sum(axis=0) + log_det + len(idx) * math.log(2.0 * math.pi))


def _log_ratio(
    cov: np.ndarray, numerator: list[tuple[tuple[int, ...], np.ndarray]], denominator: list[tuple[tuple[int, ...], np.ndarray]]
) -> np.ndarray:
    """Sum of the log densities of the ``(coordinates, values)`` blocks of ``numerator`` minus those of ``denominator``."""
    return np.asarray(sum(_log_density(cov, idx, v) for idx, v in numerator) - sum(_log_density(cov, idx, v) for idx, v in denominator))


def _mi(cov: np.ndarray, x: tuple[int, ...], y: tuple[int, ...]) -> float:
    """I(X;Y) for a validated covariance and disjoint, validated index sets."""
    value = 0.5 * (_logdet(cov, x) + _logdet(cov, y) - _logdet(cov, x + y))
    return max(value, 0.0)  # clip rounding error below zero


def _cmi(cov: np.ndarray, x: tuple[int, ...], y: tuple[int, ...], z: tuple[int, ...]) -> float:
    """I(X;Y|Z) for a validated covariance and disjoint, validated index sets."""
    value = 0.5 * (_logdet(cov, x + z) + _logdet(cov, y + z) - _logdet(cov, z) - _logdet(cov, x + y + z))
    return max(value, 0.0)


def mutual_information(cov: Any, x_idx: Indices, y_idx: Indices) -> float:
    r"""Mutual information I(X;Y) between two blocks of a Gaussian vector :math:`N(0, \Sigma)`.

    .. math::

        I(X;Y) = \tfrac12 \log \frac{\det \Sigma_X \, \det \Sigma_Y}{\det \Sigma_{XY}}

    where :math:`\Sigma_X = \Sigma[x, x]`, :math:`\Sigma_Y = \Sigma[y, y]` and
    :math:`\Sigma_{XY}` is the joint block over ``x_idx + y_idx``.

    Args:
        cov: ``(d, d)`` symmetric positive-definite covariance (numpy array or torch tensor).
        x_idx: coordinates of X (an int or a sequence of ints in ``[0, d)``).
        y_idx: coordinates of Y, disjoint from ``x_idx``.

    Returns:
        I(X;Y) in nats (a Python float, >= 0).

    Raises:
        TypeError: ``cov`` is not a real matrix, or an index is not an integer.
        ValueError: ``cov`` is not square, symmetric and positive definite; an index set is
            empty, out of range or repeats an index; or ``x_idx`` and ``y_idx`` overlap.

    Example:
        >>> import numpy as np
        >>> round(mutual_information(np.array([[1.0, 0.6], [0.6, 1.0]]), [0], [1]), 4)
        0.2231
    """
    cov = as_covariance(cov)
    x = as_indices(x_idx, name="x_idx", dim=cov.shape[0])
    y = as_indices(y_idx, name="y_idx", dim=cov.shape[0])
    check_disjoint(x_idx=x, y_idx=y)
    return _mi(cov, x, y)


def conditional_mutual_information(cov: Any, x_idx: Indices, y_idx: Indices, z_idx: Indices) -> float:
    r"""Conditional mutual information I(X;Y|Z) between blocks of a Gaussian vector :math:`N(0, \Sigma)`.

    .. math::

        I(X;Y \mid Z) = \tfrac12 \log
            \frac{\det \Sigma_{XZ} \, \det \Sigma_{YZ}}{\det \Sigma_Z \, \det \Sigma_{XYZ}}

    With an empty ``z_idx`` (:math:`\det \Sigma_Z = 1`) this is :func:`mutual_information`.

    Args:
        cov: ``(d, d)`` symmetric positive-definite covariance (numpy array or torch tensor).
        x_idx: coordinates of X (an int or a sequence of ints in ``[0, d)``).
        y_idx: coordinates of Y.
        z_idx: coordinates of the conditioning block Z (may be empty).

    Returns:
        I(X;Y|Z) in nats (a Python float, >= 0).

    Raises:
        TypeError: ``cov`` is not a real matrix, or an index is not an integer.
        ValueError: ``cov`` is not square, symmetric and positive definite; ``x_idx`` or
            ``y_idx`` is empty; an index is out of range or repeated; or two of the index
            sets overlap.

    Example:
        >>> import numpy as np
        >>> cov = np.array([[1.0, 0.5, 0.5], [0.5, 1.0, 0.5], [0.5, 0.5, 1.0]])
        >>> round(conditional_mutual_information(cov, [0], [1], [2]), 4)
        0.0589
    """
    cov = as_covariance(cov)
    d = cov.shape[0]
    x = as_indices(x_idx, name="x_idx", dim=d)
    y = as_indices(y_idx, name="y_idx", dim=d)
    z = as_indices(z_idx, name="z_idx", dim=d, allow_empty=True)
    check_disjoint(x_idx=x, y_idx=y, z_idx=z)
    return _cmi(cov, x, y, z)


def correlated_mi(d: int, rho: float) -> float:
    r"""MI of ``d`` independent coordinate pairs, each with correlation ``rho``.

    For :math:`Y_i = \rho X_i + \sqrt{1-\rho^2}\,\varepsilon_i`, :math:`i = 1..d`:

    .. math::

        I(X;Y) = -\tfrac{d}{2} \log(1 - \rho^2)

    Args:
        d: number of coordinate pairs (>= 1).
        rho: per-coordinate correlation in ``(-1, 1)``.

    Returns:
        I(X;Y) in nats.

    Raises:
        TypeError: ``d`` is not an integer or ``rho`` is not a real number.
        ValueError: ``d < 1`` or ``rho`` outside ``(-1, 1)``.

    Example:
        >>> round(correlated_mi(2, 0.6), 4)
        0.4463
    """
    d = check_positive_int(d, name="d")
    rho = check_correlation(rho, name="rho")
    return -0.5 * d * math.log1p(-rho * rho)


def rho_for_mi(d: int, mi: float) -> float:
    r"""The per-coordinate correlation giving total MI ``mi`` over ``d`` pairs (inverse of :func:`correlated_mi`).

    .. math::

        \rho = \sqrt{1 - e^{-2 I / d}}

    Args:
        d: number of coordinate pairs (>= 1).
        mi: target total mutual information in nats (>= 0).

    Returns:
        The correlation :math:`\rho \in [0, 1)` (it rounds to 1.0 for very large ``mi / d``).

    Raises:
        TypeError: ``d`` is not an integer or ``mi`` is not a real number.
        ValueError: ``d < 1`` or ``mi`` negative or not finite.

    Example:
        >>> round(rho_for_mi(2, 0.4463), 3)
        0.6
    """
    d = check_positive_int(d, name="d")
    mi = check_positive_float(mi, name="mi", allow_zero=True)
    return math.sqrt(-math.expm1(-2.0 * mi / d))
