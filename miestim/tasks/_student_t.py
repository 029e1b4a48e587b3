r"""The multivariate Student-t pair: heavy tails, and MI even with an identity dispersion.

A multivariate t is a Gaussian divided by one shared random scale, so its coordinates are
dependent although uncorrelated: the tail term of the MI below is positive for every finite
``df`` and vanishes as ``df`` grows.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.special import digamma, gammaln

from .._validation import check_positive_float, check_positive_int
from ._elliptical import ScaledGaussianBlocks

__all__ = ["StudentTTask", "student_t_tail_mi"]


def _f(a: float) -> float:
    """ln Γ(a/2) − (a/2) ψ(a/2): the part of a t entropy that does not cancel in the MI."""
    return float(gammaln(a / 2) - (a / 2) * digamma(a / 2))


def student_t_tail_mi(df: float, dim_x: int, dim_y: int) -> float:
    r"""The tail term of the MI of a multivariate t: its MI minus the Gaussian MI of its dispersion.

    .. math::

        I_\nu(d_x, d_y) = f(\nu) + f(\nu + d_x + d_y) - f(\nu + d_x) - f(\nu + d_y),
        \qquad f(a) = \log\Gamma(\tfrac a2) - \tfrac a2\,\psi(\tfrac a2)

    It depends only on the degrees of freedom and the dimensions (not on the dispersion), is
    positive, and tends to 0 as :math:`\nu \to \infty` (the Gaussian limit).

    Args:
        df: degrees of freedom :math:`\nu > 0`.
        dim_x, dim_y: dimensions of X and of Y (>= 1).

    Returns:
        The term in nats (a Python float).

    Raises:
        TypeError: ``df`` is not a real number or a dimension is not an integer.
        ValueError: ``df`` is not finite and positive, or a dimension is < 1.

    Example:
        >>> round(student_t_tail_mi(4, 6, 6), 4), round(student_t_tail_mi(2, 2, 2), 5)
        (0.2595, 0.19315)
    """
    nu = check_positive_float(df, name="df")
    dim_x = check_positive_int(dim_x, name="dim_x")
    dim_y = check_positive_int(dim_y, name="dim_y")
    return max(_f(nu) + _f(nu + dim_x + dim_y) - _f(nu + dim_x) - _f(nu + dim_y), 0.0)


def _log_t_density(cov: np.ndarray, idx: tuple[int, ...], values: np.ndarray, df: float) -> np.ndarray:
    """log t_df(values; 0, cov[idx, idx]) per row of ``values`` (n, len(idx)), float64."""
    d = len(idx)
    factor = np.linalg.cholesky(cov[np.ix_(idx, idx)])
    quadratic = (np.linalg.solve(factor, values.T) ** 2).sum(axis=0)
    log_norm = gammaln((df + d) / 2) - gammaln(df / 2) - (d / 2) * math.log(df * math.pi) - np.log(np.diag(factor)).sum()
    return log_norm - (df + d) / 2 * np.log1p(quadratic / df)


class StudentTTask(ScaledGaussianBlocks):
    r"""X and Y as two blocks of one multivariate Student-t vector :math:`V \sim t_\nu(0, \Sigma)`.

    :math:`V = G / \sqrt{W / \nu}` with :math:`G \sim N(0, \Sigma)` and one
    :math:`W \sim \chi^2_\nu` per row, shared by X and Y. With
    :math:`\Sigma = \begin{pmatrix} \Sigma_{XX} & \Sigma_{XY} \\ \Sigma_{YX} & \Sigma_{YY} \end{pmatrix}`,
    the marginals are t with the same :math:`\nu` and dispersions :math:`\Sigma_{XX}`, :math:`\Sigma_{YY}`,
    and the entropy of a d-dimensional :math:`t_\nu(0, \Sigma)` is (Arellano-Valle et al. 2013)

    .. math::

        h = \tfrac12 \log\det\Sigma + \log \frac{\Gamma(\nu/2)\,(\nu\pi)^{d/2}}{\Gamma((\nu+d)/2)}
            + \frac{\nu+d}{2}\Big[\psi\big(\tfrac{\nu+d}{2}\big) - \psi\big(\tfrac{\nu}{2}\big)\Big].

    :math:`I(X;Y) = h(X) + h(Y) - h(X,Y)`: the :math:`\nu\pi` terms cancel, and what is left is the
    Gaussian MI of the dispersion plus a tail term that depends only on :math:`\nu, d_x, d_y`:

    .. math::

        I(X;Y) = \tfrac12 \log \frac{\det \Sigma_{XX} \det \Sigma_{YY}}{\det \Sigma}
            + \log \frac{\Gamma(\frac{\nu}{2})\,\Gamma(\frac{\nu+d_x+d_y}{2})}{\Gamma(\frac{\nu+d_x}{2})\,\Gamma(\frac{\nu+d_y}{2})}
            + \tfrac{\nu+d_x}{2}\psi(\tfrac{\nu+d_x}{2}) + \tfrac{\nu+d_y}{2}\psi(\tfrac{\nu+d_y}{2})
            - \tfrac{\nu+d_x+d_y}{2}\psi(\tfrac{\nu+d_x+d_y}{2}) - \tfrac{\nu}{2}\psi(\tfrac{\nu}{2})

    (the tail term is :func:`student_t_tail_mi`). With the identity dispersion the Gaussian part
    is 0 and the MI is the tail term alone: X and Y are uncorrelated but dependent (Czyż et al. 2023).

    Args:
        dim_x, dim_y: dimensions of X and of Y (>= 1).
        df: degrees of freedom :math:`\nu > 0` (need not be an integer; the variance is finite
            only for :math:`\nu > 2`, the MI always).
        dispersion: ``(dim_x + dim_y, dim_x + dim_y)`` symmetric positive-definite dispersion
            :math:`\Sigma` of ``[X, Y]`` (numpy array or torch tensor; default the identity).
        name: display name (default ``"student-t-{dim_x}x{dim_y}-df{df}"``, with the Gaussian
            part of the MI appended when the dispersion is not the identity).

    Raises:
        TypeError: a dimension is not an integer, ``df`` is not a real number, or ``dispersion``
            is not a real matrix.
        ValueError: a dimension < 1, ``df`` not finite and positive, or ``dispersion`` of the
            wrong shape, asymmetric or not positive definite.

    References:
        Czyż, Grabowski, Vogt, Beerenwinkel, Marx, "Beyond Normal: On the Evaluation of Mutual
        Information Estimators", NeurIPS 2023. Arellano-Valle, Contreras-Reyes, Genton, "Shannon
        entropy and mutual information for multivariate skew-elliptical distributions",
        Scandinavian Journal of Statistics 40 (2013).

    Example:
        >>> task = StudentTTask(dim_x=6, dim_y=6, df=4)
        >>> x, y = task.sample(100, 0)
        >>> task.name, x.shape, round(task.mutual_information, 4)
        ('student-t-6x6-df4', (100, 6), 0.2595)
    """

    def __init__(self, dim_x: int, dim_y: int, *, df: float, dispersion: Any = None, name: str | None = None) -> None:
        self._dim_x = check_positive_int(dim_x, name="dim_x")
        self._dim_y = check_positive_int(dim_y, name="dim_y")
        self._df = check_positive_float(df, name="df")
        self._set_dispersion(dispersion, name, default=f"student-t-{self._dim_x}x{self._dim_y}-df{self._df:g}")

    @property
    def df(self) -> float:
        """Degrees of freedom :math:`\\nu`."""
        return self._df

    @property
    def mutual_information(self) -> float:
        """True I(X;Y) in nats: the dispersion's Gaussian MI plus :func:`student_t_tail_mi`."""
        return self._gaussian_mi + student_t_tail_mi(self._df, self._dim_x, self._dim_y)

    def _scaled(self, gaussian: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return gaussian / np.sqrt(rng.chisquare(self._df, size=(gaussian.shape[0], 1)) / self._df)

    def _log_density(self, idx: tuple[int, ...], values: np.ndarray) -> np.ndarray:
        # Exact: every block of a multivariate t is a t with the same degrees of freedom and the block's dispersion.
        return _log_t_density(self._cov, idx, values, self._df)

    def __repr__(self) -> str:
        return f"StudentTTask(dim_x={self._dim_x}, dim_y={self._dim_y}, df={self._df:g}, mi={self.mutual_information:.4g})"
