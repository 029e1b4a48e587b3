"""What the tasks of one random scale per row share: X and Y as two blocks of a scaled Gaussian vector."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..gaussian._checks import as_covariance, as_points
from ..gaussian._closed_form import _mi
from ..gaussian._tasks import _check_sample_args

__all__ = ["ScaledGaussianBlocks"]


class ScaledGaussianBlocks:
    """X and Y as two blocks of :math:`G` scaled per row, :math:`G \\sim N(0, \\Sigma)`: dimensions, dispersion, name, sampling.

    A subclass checks its own parameters, sets ``_dim_x`` and ``_dim_y``, calls :meth:`_set_dispersion`, and gives
    :meth:`_scaled` (how a row's shared scale enters) and :meth:`_log_density` (the exact density of a block).
    """

    _dim_x: int
    _dim_y: int

    def _set_dispersion(self, dispersion: Any, name: str | None, default: str) -> None:
        """The dispersion (default the identity), its Cholesky factor, the Gaussian MI it implies and the display name.

        The default name gets the Gaussian part of the MI appended when the dispersion is not the identity.
        """
        d = self._dim_x + self._dim_y
        if dispersion is None:
            self._cov = np.eye(d)
        else:
            self._cov = as_covariance(dispersion, name="dispersion")
            if self._cov.shape != (d, d):
                raise ValueError(f"dispersion must have shape (dim_x + dim_y, dim_x + dim_y) = ({d}, {d}); got {self._cov.shape}.")
        self._cholesky = np.linalg.cholesky(self._cov)
        self._xi, self._yi = tuple(range(self._dim_x)), tuple(range(self._dim_x, d))
        self._gaussian_mi = _mi(self._cov, self._xi, self._yi)
        if dispersion is not None and not np.array_equal(self._cov, np.eye(d)):
            default += f"-gmi{self._gaussian_mi:.4g}"
        self._name = name if name is not None else default

    @property
    def dim_x(self) -> int:
        return self._dim_x

    @property
    def dim_y(self) -> int:
        return self._dim_y

    @property
    def name(self) -> str:
        return self._name

    @property
    def dispersion(self) -> np.ndarray:
        """The ``(dim_x + dim_y, dim_x + dim_y)`` dispersion :math:`\\Sigma` of ``[X, Y]`` (a float64 copy)."""
        return self._cov.copy()

    def _log_density(self, idx: tuple[int, ...], values: np.ndarray) -> np.ndarray:
        """log density of the block ``idx`` of ``[X, Y]`` at ``values`` (n, len(idx)), per row, float64."""
        raise NotImplementedError

    def log_density_ratio(self, x: Any, y: Any) -> np.ndarray:
        r"""The pointwise MI :math:`\log p(x_i, y_i) / (p(x_i)\,p(y_i))`, float64 of shape ``(n,)``: its mean over joint samples is the MI.

        Args:
            x: ``(n, dim_x)`` points (1-D when ``dim_x = 1``).
            y: ``(n, dim_y)`` points.

        Raises:
            TypeError, ValueError: non-numeric, non-finite or wrongly shaped input, or different
                numbers of rows (the message names the argument).
        """
        x, y = as_points({"x": self._dim_x, "y": self._dim_y}, x=x, y=y)
        joint = self._log_density(self._xi + self._yi, np.concatenate([x, y], axis=1))
        return joint - self._log_density(self._xi, x) - self._log_density(self._yi, y)

    def _scaled(self, gaussian: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``gaussian`` (n, d) with each row scaled by one draw of the task's scale (drawn from ``rng``)."""
        raise NotImplementedError

    def sample(self, n: int, seed: int, *, dtype: Any = np.float32) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` joint samples; returns ``x`` of shape ``(n, dim_x)`` and ``y`` of shape ``(n, dim_y)``."""
        n, rng, dtype = _check_sample_args(n, seed, dtype)
        joint = self._scaled(rng.standard_normal((n, self._cov.shape[0])) @ self._cholesky.T, rng)  # X and Y share a row's scale
        return joint[:, : self._dim_x].astype(dtype), joint[:, self._dim_x :].astype(dtype)
