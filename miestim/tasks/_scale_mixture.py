r"""A Gaussian scale mixture with a lognormal scale: heavy tails that are not a Student-t's.

X and Y share one random scale per row, so they are dependent even with an identity dispersion, as
for a Student-t; but the scale's law is lognormal rather than inverse-chi, so its tails are of
another shape, and the MI has no closed form: the density is one integral over the scale (computed
on a fine grid), and the MI its log ratio's mean over a large fixed sample.
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Any

import numpy as np
from scipy.special import logsumexp

from .._validation import check_positive_float, check_positive_int
from ._elliptical import ScaledGaussianBlocks

__all__ = ["ScaleMixtureTask"]

#: Least half-width of the grid of the standard normal variable xi of log S = sigma * xi, over which the scale integral
#: is a trapezoid sum (the weight exp(-xi^2 / 2) is 2e-22 there), and the margin kept beyond any row's peak.
_XI_MAX = 10.0
#: Rows per block of the density computation (a block holds rows x grid float64 values).
_BLOCK = 1024


class ScaleMixtureTask(ScaledGaussianBlocks):
    r"""X and Y as two blocks of :math:`V = S\,G`, :math:`G \sim N(0, \Sigma)`, :math:`\log S \sim N(0, \sigma^2)`, one S per row.

    Every block of V is again a scale mixture with the same scale law, so with
    :math:`\xi \sim N(0, 1)` the density of a d-dimensional block with dispersion :math:`\Sigma_B` is

    .. math::

        p_B(v) = \mathbb E_\xi\, N\big(v;\, 0,\, e^{2\sigma\xi}\,\Sigma_B\big),

    computed as a sum over a fine grid of :math:`\xi` (exact to float64 rounding for the
    parameters allowed). The MI, :math:`\mathbb E \log p(x, y) / (p(x)\,p(y))`, has no closed form;
    :attr:`mutual_information` is its Monte Carlo mean over ``mc_samples`` rows drawn with a fixed
    seed, and :attr:`mutual_information_stderr` that mean's standard error. As
    :math:`\sigma \to 0` the task tends to the Gaussian with covariance :math:`\Sigma`.

    Args:
        dim_x, dim_y: dimensions of X and of Y (>= 1).
        sigma: standard deviation :math:`\sigma > 0` of :math:`\log S` (at most 2).
        dispersion: ``(dim_x + dim_y, dim_x + dim_y)`` symmetric positive-definite :math:`\Sigma`
            (default the identity: X and Y uncorrelated, dependent through S alone).
        mc_samples: rows of the Monte Carlo mean that gives the MI (default 100,000: a standard
            error of 0.0014 nats at 2 x 2 with sigma 0.5, 0.0031 with sigma 2).
        name: display name (default ``"scale-mixture-{dim_x}x{dim_y}-sigma{sigma}"``).

    Raises:
        TypeError: a dimension or ``mc_samples`` is not an integer, ``sigma`` not a real number,
            or ``dispersion`` not a real matrix.
        ValueError: a dimension < 1, ``sigma`` not in (0, 2], ``mc_samples`` < 1000, or
            ``dispersion`` of the wrong shape, asymmetric or not positive definite.

    Example:
        >>> task = ScaleMixtureTask(2, 2, sigma=1.0)
        >>> task.name, round(task.mutual_information, 2)
        ('scale-mixture-2x2-sigma1', 0.38)
    """

    def __init__(self, dim_x: int, dim_y: int, *, sigma: float, dispersion: Any = None, mc_samples: int = 100_000, name: str | None = None) -> None:
        self._dim_x = check_positive_int(dim_x, name="dim_x")
        self._dim_y = check_positive_int(dim_y, name="dim_y")
        self._sigma = check_positive_float(sigma, name="sigma")
        if self._sigma > 2:
            raise ValueError(f"sigma must be in (0, 2] (the scale grid resolves the density up to there); got {sigma}.")
        self._mc_samples = check_positive_int(mc_samples, name="mc_samples", minimum=1000)
        self._set_dispersion(dispersion, name, default=f"scale-mixture-{self._dim_x}x{self._dim_y}-sigma{self._sigma:g}")
        # The integrand of a d-dimensional block peaks in xi with a width near 1 / (sigma sqrt(2 d)); the trapezoid sum of a
        # smooth integrand converges geometrically once the spacing is a fraction of that width: a third of it, or 0.05.
        self._spacing = min(0.05, 1 / (3 * self._sigma * math.sqrt(2 * (self._dim_x + self._dim_y))))

    @property
    def sigma(self) -> float:
        """Standard deviation of the log scale."""
        return self._sigma

    @cached_property
    def _monte_carlo(self) -> tuple[float, float]:
        # A seed of the task's own, so that the truth is a fixed number, unrelated to any sample a user draws.
        ratios = self.log_density_ratio(*self.sample(self._mc_samples, 2**31 - 1, dtype=np.float64))
        return float(ratios.mean()), float(ratios.std(ddof=1) / math.sqrt(ratios.size))

    @property
    def mutual_information(self) -> float:
        """I(X;Y) in nats: the mean log density ratio over ``mc_samples`` rows (computed once, on first use)."""
        return self._monte_carlo[0]

    @property
    def mutual_information_stderr(self) -> float:
        """The Monte Carlo standard error of :attr:`mutual_information` (nats)."""
        return self._monte_carlo[1]

    def _scaled(self, gaussian: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return gaussian * np.exp(self._sigma * rng.standard_normal((gaussian.shape[0], 1)))

    def _grid(self, quadratic: np.ndarray, d: int) -> np.ndarray:
        r"""The grid of xi for rows of these squared Mahalanobis norms: [-10, 10], widened to 10 beyond any row's mode.

        In xi the integrand of a row is :math:`\exp(-\xi^2/2 - d\sigma\xi - \tfrac q2 e^{-2\sigma\xi})`, log-concave
        with curvature at least 1: one mode (a root of the decreasing derivative, found by bisection on a bracket
        where it changes sign), and a width of at most 1 around it. A far outlier, or a row at the origin when
        :math:`d\sigma` is large, moves the mode out of [-10, 10].
        """
        sigma = self._sigma
        low, high = np.full_like(quadratic, -d * sigma - 1), sigma * quadratic + 1
        for _ in range(100):
            middle = (low + high) / 2
            rising = -middle - d * sigma + sigma * quadratic * np.exp(np.minimum(-2 * sigma * middle, 700)) > 0
            low, high = np.where(rising, middle, low), np.where(rising, high, middle)
        lo, hi = min(-_XI_MAX, float(low.min()) - _XI_MAX), max(_XI_MAX, float(high.max()) + _XI_MAX)
        return np.linspace(lo, hi, math.ceil((hi - lo) / self._spacing) + 1)

    def _log_density(self, idx: tuple[int, ...], values: np.ndarray) -> np.ndarray:
        """log p_B(values) of the block ``idx``, per row, float64: a log-sum over the grid of the scale."""
        d = len(idx)
        factor = np.linalg.cholesky(self._cov[np.ix_(idx, idx)])
        quadratic = (np.linalg.solve(factor, values.T) ** 2).sum(axis=0)
        log_norm = -0.5 * d * math.log(2 * math.pi) - np.log(np.diag(factor)).sum()
        grid = self._grid(quadratic, d)
        log_weights = -0.5 * grid**2 - 0.5 * math.log(2 * math.pi) + math.log(grid[1] - grid[0])
        log_scale = self._sigma * grid  # log s at each grid point
        out = np.empty(values.shape[0])
        for start in range(0, values.shape[0], _BLOCK):
            q = quadratic[start : start + _BLOCK, None]
            terms = log_weights - d * log_scale - 0.5 * q * np.exp(-2 * log_scale)
            out[start : start + _BLOCK] = log_norm + logsumexp(terms, axis=1)
        return out

    def __repr__(self) -> str:
        return f"ScaleMixtureTask(dim_x={self._dim_x}, dim_y={self._dim_y}, sigma={self._sigma:g})"
