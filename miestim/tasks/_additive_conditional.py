r"""A conditional task whose conditioning variable is not Gaussian: X and Y depend on Z additively, their noises correlated."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._validation import check_choice, check_positive_float, check_positive_int
from ..gaussian._checks import as_points, check_correlation
from ..gaussian._tasks import _check_sample_args

__all__ = ["AdditiveConditionalTask"]

#: Each law of Z's coordinates, drawn with unit variance.
_LAWS = ("uniform", "student-t", "laplace")


class AdditiveConditionalTask:
    r"""X and Y linear in a non-Gaussian Z plus correlated Gaussian noise: :math:`I(X;Y \mid Z)` in closed form.

    .. math::

        X = Z A + \varepsilon_X, \qquad Y = Z B + \varepsilon_Y, \qquad
        I(X;Y \mid Z) = I(\varepsilon_X; \varepsilon_Y) = -\tfrac{d}{2} \log(1 - \rho^2),

    with :math:`Z`'s ``dim_z`` coordinates i.i.d. from ``z_law`` (unit variance), the loadings
    :math:`A, B` (``dim_z x dim``) drawn once from ``seed`` with entries :math:`N(0, 1/d_z)`, and
    :math:`(\varepsilon_{X,i}, \varepsilon_{Y,i})`, :math:`i \le d`, independent standard normal pairs of
    correlation :math:`\rho`, independent of :math:`Z`. Given :math:`Z` the pair is its noise, so
    the CMI is the noise's MI whatever the law of :math:`Z`; but :math:`(X, Z)` and :math:`(Y, Z)`
    have no Gaussian copula, so an estimator that models them as Gaussian (the chain rule's
    Gaussian-copula critic) is off model.

    Args:
        dim_z: dimension of Z (the issue's tasks use 20).
        rho: the noise correlation :math:`\rho \in (-1, 1)`.
        z_law: ``"uniform"`` (default), ``"student-t"`` (scaled to unit variance; needs
            ``df > 2``) or ``"laplace"``.
        df: degrees of freedom of ``"student-t"`` (default 3).
        dim: dimension :math:`d` of X and of Y (default 1).
        seed: seeds the loadings (default 0).

    Raises:
        TypeError, ValueError: an argument of the wrong type or out of range (the message names it).

    Example:
        >>> task = AdditiveConditionalTask(20, rho=0.6, z_law="uniform")
        >>> x, y, z = task.sample(100, 0)
        >>> task.name, z.shape, round(task.conditional_mutual_information, 4)
        ('additive-conditional-uniform-z20-rho0.6', (100, 20), 0.2231)
    """

    def __init__(self, dim_z: int, *, rho: float, z_law: str = "uniform", df: float = 3.0, dim: int = 1, seed: int = 0) -> None:
        self._dim_z = check_positive_int(dim_z, name="dim_z")
        self._rho = check_correlation(rho, name="rho")
        self._law = check_choice(z_law, name="z_law", choices=_LAWS)
        self._df = check_positive_float(df, name="df")
        if self._law == "student-t" and self._df <= 2:
            raise ValueError(f"z_law='student-t' is scaled to unit variance, so df must be > 2; got {df}.")
        self._dim = check_positive_int(dim, name="dim")
        rng = np.random.default_rng(check_positive_int(seed, name="seed", minimum=0))
        self._a, self._b = (rng.standard_normal((self._dim_z, self._dim)) / math.sqrt(self._dim_z) for _ in range(2))

    @property
    def dim_x(self) -> int:
        return self._dim

    @property
    def dim_y(self) -> int:
        return self._dim

    @property
    def dim_z(self) -> int:
        return self._dim_z

    @property
    def name(self) -> str:
        law = f"student-t{self._df:g}" if self._law == "student-t" else self._law
        return f"additive-conditional-{law}-z{self._dim_z}-rho{self._rho:g}" + (f"-d{self._dim}" if self._dim > 1 else "")

    @property
    def conditional_mutual_information(self) -> float:
        """True :math:`I(X;Y \\mid Z)` in nats."""
        return -0.5 * self._dim * math.log1p(-(self._rho**2))

    def _draw_z(self, rng: np.random.Generator, n: int) -> np.ndarray:
        shape = (n, self._dim_z)
        if self._law == "uniform":
            return rng.uniform(-math.sqrt(3), math.sqrt(3), size=shape)
        if self._law == "laplace":
            return rng.laplace(0.0, 1 / math.sqrt(2), size=shape)
        return rng.standard_t(self._df, size=shape) / math.sqrt(self._df / (self._df - 2))

    def sample(self, n: int, seed: int, *, dtype: Any = np.float32) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Draw ``n`` joint samples; returns ``x``, ``y`` of shape ``(n, dim)`` and ``z`` of shape ``(n, dim_z)``."""
        n, rng, dtype = _check_sample_args(n, seed, dtype)
        z = self._draw_z(rng, n)
        e_x, shared = rng.standard_normal((2, n, self._dim))
        e_y = self._rho * e_x + math.sqrt(1 - self._rho**2) * shared
        return (z @ self._a + e_x).astype(dtype), (z @ self._b + e_y).astype(dtype), z.astype(dtype)

    def log_density_ratio(self, x: Any, y: Any, z: Any) -> np.ndarray:
        r"""The pointwise CMI :math:`\log p(x, y \mid z) / (p(x \mid z)\, p(y \mid z))`, float64 of shape ``(n,)``.

        Exact: given :math:`z` the pair is its noise :math:`(x - zA, y - zB)`, whose log ratio is the
        bivariate Gaussian's, summed over the :math:`d` pairs. Its mean over joint samples is
        :attr:`conditional_mutual_information`.

        Raises:
            TypeError, ValueError: non-numeric, non-finite or wrongly shaped input, or different
                numbers of rows (the message names the argument).
        """
        x, y, z = as_points({"x": self._dim, "y": self._dim, "z": self._dim_z}, x=x, y=y, z=z)
        e_x, e_y = x - z @ self._a, y - z @ self._b
        r, s = self._rho, 1 - self._rho**2
        return (-0.5 * math.log(s) - (r**2 * (e_x**2 + e_y**2) - 2 * r * e_x * e_y) / (2 * s)).sum(axis=1)

    def __repr__(self) -> str:
        return f"AdditiveConditionalTask(dim_z={self._dim_z}, rho={self._rho:g}, z_law={self._law!r}, df={self._df:g}, dim={self._dim})"
