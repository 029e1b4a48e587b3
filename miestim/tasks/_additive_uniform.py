r"""Additive uniform noise: X ~ U(0, 1), Y = X + U(−ε, ε). A bounded, non-smooth 1×1 pair."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._validation import check_positive_float
from ..gaussian._checks import as_points
from ..gaussian._tasks import _check_sample_args

__all__ = ["AdditiveUniformTask"]


class AdditiveUniformTask:
    r"""A uniform signal with additive uniform noise: :math:`X \sim U(0, 1)`, :math:`Y = X + N`, :math:`N \sim U(-\varepsilon, \varepsilon)`.

    :math:`I(X;Y) = h(Y) - h(Y \mid X) = h(Y) - \log 2\varepsilon`. For :math:`\varepsilon \le \tfrac12`
    the density of Y is a trapezoid: it rises linearly on :math:`[-\varepsilon, \varepsilon]`, is 1 on
    :math:`[\varepsilon, 1-\varepsilon]` and falls on :math:`[1-\varepsilon, 1+\varepsilon]`; each ramp
    contributes :math:`2\varepsilon \int_0^1 -u \log u \, du = \varepsilon/2` to :math:`h(Y)`, the flat
    part 0, so :math:`h(Y) = \varepsilon`. For :math:`\varepsilon > \tfrac12` the ramps have width 1
    and height :math:`1/2\varepsilon`, and :math:`h(Y) = 1/4\varepsilon + \log 2\varepsilon`:

    .. math::

        I(X;Y) = \begin{cases} \varepsilon - \log(2\varepsilon) & \varepsilon \le \tfrac12 \\
                 \dfrac{1}{4\varepsilon} & \varepsilon > \tfrac12 \end{cases}

    (continuous at :math:`\tfrac12`; e.g. :math:`\varepsilon = 0.2`: 1.1163 nats, 0.1: 1.7094).

    Args:
        epsilon: the noise half-width :math:`\varepsilon > 0`.
        name: display name (default ``"additive-uniform-eps{epsilon}"``).

    Raises:
        TypeError: ``epsilon`` is not a real number.
        ValueError: ``epsilon`` is not finite and positive.

    Example:
        >>> task = AdditiveUniformTask(0.2)
        >>> x, y = task.sample(100, 0)
        >>> task.name, x.shape, round(task.mutual_information, 4)
        ('additive-uniform-eps0.2', (100, 1), 1.1163)
    """

    def __init__(self, epsilon: float, *, name: str | None = None) -> None:
        self._eps = check_positive_float(epsilon, name="epsilon")
        self._name = name if name is not None else f"additive-uniform-eps{self._eps:g}"

    @property
    def dim_x(self) -> int:
        return 1

    @property
    def dim_y(self) -> int:
        return 1

    @property
    def epsilon(self) -> float:
        """The noise half-width :math:`\\varepsilon`."""
        return self._eps

    @property
    def name(self) -> str:
        return self._name

    @property
    def mutual_information(self) -> float:
        """True I(X;Y) in nats."""
        eps = self._eps
        return eps - math.log(2 * eps) if eps <= 0.5 else 1 / (4 * eps)

    def sample(self, n: int, seed: int, *, dtype: Any = np.float32) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` joint samples; returns ``x`` and ``y``, each of shape ``(n, 1)``."""
        n, rng, dtype = _check_sample_args(n, seed, dtype)
        x = rng.random((n, 1))
        y = x + rng.uniform(-self._eps, self._eps, size=(n, 1))
        return x.astype(dtype), y.astype(dtype)

    def _overlap(self, y: np.ndarray) -> np.ndarray:
        """|[y−ε, y+ε] ∩ [0, 1]|: 2ε times p(y), the density of U(0, 1) convolved with U(−ε, ε)."""
        return np.clip(np.minimum(y + self._eps, 1.0) - np.maximum(y - self._eps, 0.0), 0.0, None)

    def log_density_ratio(self, x: Any, y: Any) -> np.ndarray:
        r"""The pointwise MI :math:`\log p(y_i \mid x_i) / p(y_i)`, float64 of shape ``(n,)``.

        Exact: :math:`p(y \mid x) = 1/2\varepsilon` on :math:`|y - x| \le \varepsilon` and
        :math:`p(y) = |[y-\varepsilon, y+\varepsilon] \cap [0, 1]| / 2\varepsilon`, so inside the band
        the ratio is :math:`-\log |[y-\varepsilon, y+\varepsilon] \cap [0, 1]|`. Where the joint
        density is 0 — :math:`|y - x| > \varepsilon` or x outside [0, 1], as for many product pairs —
        it is ``-inf``. Its mean over joint samples is :attr:`mutual_information`.

        Args:
            x: ``(n, 1)`` or ``(n,)`` points.
            y: ``(n, 1)`` or ``(n,)`` points.

        Raises:
            TypeError, ValueError: non-numeric, non-finite or wrongly shaped input, or different
                numbers of rows (the message names the argument).
        """
        x, y = (v[:, 0] for v in as_points({"x": 1, "y": 1}, x=x, y=y))
        inside = (np.abs(y - x) <= self._eps) & (x >= 0.0) & (x <= 1.0)
        overlap = self._overlap(y)
        with np.errstate(divide="ignore"):
            return np.where(inside, -np.log(np.where(inside, overlap, 1.0)), -np.inf)

    def __repr__(self) -> str:
        return f"AdditiveUniformTask(epsilon={self._eps:g}, mi={self.mutual_information:.4g})"
