r"""Sampling tasks that carry their own true mutual information (after bmi).

A task has ``sample(n, seed) -> (x, y)`` returning float32 numpy arrays of shapes
``(n, dim_x)`` and ``(n, dim_y)``, and a ``mutual_information`` property: the exact
I(X;Y) in nats from the closed form. Wrappers apply invertible maps to X and to Y
separately, so they keep the wrapped task's MI while changing the distribution.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import special

from .._validation import check_choice, check_positive_float, check_positive_int
from ._checks import Indices, as_covariance, as_indices, as_points, check_correlation, check_disjoint, check_float_dtype
from ._closed_form import _log_ratio, _mi

__all__ = ["CorrelatedGaussianTask", "GaussianTask", "RotatedTask", "TransformedTask"]


def _check_sample_args(n: Any, seed: Any, dtype: Any) -> tuple[int, np.random.Generator, np.dtype]:
    n = check_positive_int(n, name="n")
    seed = check_positive_int(seed, name="seed", minimum=0)
    return n, np.random.default_rng(seed), check_float_dtype(dtype)


def _check_mi_task(task: Any, *, name: str) -> Any:
    required = ("sample", "mutual_information", "dim_x", "dim_y", "name")
    missing = [attr for attr in required if not hasattr(task, attr)]
    if missing:
        raise TypeError(
            f"{name} must be an MI task with {', '.join(required)} (e.g. CorrelatedGaussianTask); "
            f"got {type(task).__name__} without {', '.join(missing)}."
        )
    return task


def _gaussian_log_ratio(cov: np.ndarray, dim_x: int, dim_y: int, x: Any, y: Any) -> np.ndarray:
    """log p(x, y) - log p(x) - log p(y) for zero-mean [X, Y] with covariance ``cov``."""
    x, y = as_points({"x": dim_x, "y": dim_y}, x=x, y=y)
    xi, yi = tuple(range(dim_x)), tuple(range(dim_x, dim_x + dim_y))
    return _log_ratio(cov, [(xi + yi, np.concatenate([x, y], axis=1))], [(xi, x), (yi, y)])


class GaussianTask:
    r"""X and Y as two blocks of one Gaussian vector :math:`V \sim N(0, \Sigma)`.

    .. math::

        I(X;Y) = \tfrac12 \log \frac{\det \Sigma_X \, \det \Sigma_Y}{\det \Sigma_{XY}}

    Args:
        cov: ``(d, d)`` symmetric positive-definite covariance (numpy array or torch tensor).
        x_idx: coordinates of V forming X.
        y_idx: coordinates of V forming Y, disjoint from ``x_idx``.
        name: display name (default ``"gaussian-{dim_x}x{dim_y}"``).

    Raises:
        TypeError, ValueError: as :func:`miestim.gaussian.mutual_information`.

    Example:
        >>> import numpy as np
        >>> task = GaussianTask(np.array([[1.0, 0.6], [0.6, 1.0]]), [0], [1])
        >>> x, y = task.sample(100, 0)
        >>> x.shape, y.dtype, round(task.mutual_information, 4)
        ((100, 1), dtype('float32'), 0.2231)
    """

    def __init__(self, cov: Any, x_idx: Indices, y_idx: Indices, *, name: str | None = None) -> None:
        full = as_covariance(cov)
        self._x = as_indices(x_idx, name="x_idx", dim=full.shape[0])
        self._y = as_indices(y_idx, name="y_idx", dim=full.shape[0])
        check_disjoint(x_idx=self._x, y_idx=self._y)
        joint = self._x + self._y
        self._cov = full[np.ix_(joint, joint)]
        self._cholesky = np.linalg.cholesky(self._cov)
        self._name = name if name is not None else f"gaussian-{self.dim_x}x{self.dim_y}"

    @classmethod
    def correlated_pairs(cls, dim_x: int, dim_y: int, *, pairs: int, rho: float, name: str | None = None) -> GaussianTask:
        r"""``pairs`` coordinate pairs :math:`(X_i, Y_i)` with correlation ``rho``; every other coordinate independent.

        All coordinates have unit variance; :math:`\operatorname{corr}(X_i, Y_i) = \rho` for
        :math:`i < k` (``k = pairs``) and every other covariance is 0. MI adds over independent blocks:

        .. math:: I(X;Y) = -\tfrac{k}{2} \log(1 - \rho^2)

        (Czyż et al. 2023's sparse Gaussians, e.g. 20×20 with 3 pairs of 0.8: 1.5325 nats).

        Args:
            dim_x, dim_y: dimensions of X and of Y (>= 1).
            pairs: number of correlated pairs ``k``, ``0 <= k <= min(dim_x, dim_y)``.
            rho: their correlation, in (-1, 1).
            name: display name (default ``"gaussian-{dim_x}x{dim_y}-{k}pairs-rho{rho}"``).

        Raises:
            TypeError: a dimension or ``pairs`` is not an integer, or ``rho`` is not a real number.
            ValueError: a dimension < 1, ``pairs`` negative or larger than ``min(dim_x, dim_y)``,
                or ``rho`` outside (-1, 1).

        Example:
            >>> task = GaussianTask.correlated_pairs(4, 4, pairs=2, rho=0.8)
            >>> task.name, round(task.mutual_information, 4)
            ('gaussian-4x4-2pairs-rho0.8', 1.0217)
        """
        dim_x = check_positive_int(dim_x, name="dim_x")
        dim_y = check_positive_int(dim_y, name="dim_y")
        pairs = check_positive_int(pairs, name="pairs", minimum=0)
        if pairs > min(dim_x, dim_y):
            raise ValueError(f"pairs must be at most min(dim_x, dim_y) = {min(dim_x, dim_y)}; got {pairs}.")
        rho = check_correlation(rho, name="rho")
        cov = np.eye(dim_x + dim_y)
        for i in range(pairs):
            cov[i, dim_x + i] = cov[dim_x + i, i] = rho
        label = name if name is not None else f"gaussian-{dim_x}x{dim_y}-{pairs}pairs-rho{rho:g}"
        return cls(cov, list(range(dim_x)), list(range(dim_x, dim_x + dim_y)), name=label)

    @property
    def dim_x(self) -> int:
        return len(self._x)

    @property
    def dim_y(self) -> int:
        return len(self._y)

    @property
    def name(self) -> str:
        return self._name

    @property
    def covariance(self) -> np.ndarray:
        """The ``(dim_x + dim_y, dim_x + dim_y)`` covariance of ``[X, Y]`` (a float64 copy)."""
        return self._cov.copy()

    @property
    def mutual_information(self) -> float:
        """True I(X;Y) in nats."""
        return _mi(self._cov, tuple(range(self.dim_x)), tuple(range(self.dim_x, self.dim_x + self.dim_y)))

    def sample(self, n: int, seed: int, *, dtype: Any = np.float32) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` joint samples; returns ``x`` of shape ``(n, dim_x)`` and ``y`` of shape ``(n, dim_y)``."""
        n, rng, dtype = _check_sample_args(n, seed, dtype)
        joint = rng.standard_normal((n, self._cov.shape[0])) @ self._cholesky.T
        return joint[:, : self.dim_x].astype(dtype), joint[:, self.dim_x :].astype(dtype)

    def log_density_ratio(self, x: Any, y: Any) -> np.ndarray:
        r"""The pointwise mutual information, in nats, float64 of shape ``(n,)``:

        .. math:: \log \frac{p(x_i, y_i)}{p(x_i)\,p(y_i)}

        Its mean over joint samples is :attr:`mutual_information`. Up to a constant it is the
        optimal critic of the variational bounds (DV and InfoNCE: any constant; NWJ: exactly
        1 + this), so scoring it with a bound shows what that bound reads with a perfect
        critic — the readout's own bias and spread on a sample of that size
        (``python -m benchmarks oracle``).
        Pass product pairs (``x`` of one sample, ``y`` of another) to score them.

        Args:
            x: ``(n, dim_x)`` points (1-D when ``dim_x = 1``).
            y: ``(n, dim_y)`` points.

        Raises:
            TypeError, ValueError: non-numeric, non-finite or wrongly shaped input, or
                different numbers of rows (the message names the argument).
        """
        return _gaussian_log_ratio(self._cov, self.dim_x, self.dim_y, x, y)

    def __repr__(self) -> str:
        return f"GaussianTask(dim_x={self.dim_x}, dim_y={self.dim_y}, mi={self.mutual_information:.4g})"


class CorrelatedGaussianTask:
    r"""``dim`` independent coordinate pairs with a common correlation chosen for total MI ``mi``.

    :math:`X \sim N(0, I_d)`, :math:`Y_i = \rho X_i + \sqrt{1-\rho^2}\,\varepsilon_i` with
    :math:`\varepsilon \sim N(0, I_d)`, and

    .. math::

        I(X;Y) = -\tfrac{d}{2}\log(1-\rho^2), \qquad \rho = \sqrt{1 - e^{-2 I / d}}.

    Args:
        dim: dimension ``d`` of X and of Y (>= 1).
        mi: total mutual information in nats (>= 0; 0 gives independent X and Y).

    Raises:
        TypeError: ``dim`` is not an integer or ``mi`` is not a real number.
        ValueError: ``dim < 1`` or ``mi`` negative or not finite.

    Example:
        >>> task = CorrelatedGaussianTask(3, 1.0)
        >>> x, y = task.sample(10, 0)
        >>> x.shape, y.shape, task.mutual_information
        ((10, 3), (10, 3), 1.0)
    """

    def __init__(self, dim: int, mi: float) -> None:
        self._dim = check_positive_int(dim, name="dim")
        self._mi = check_positive_float(mi, name="mi", allow_zero=True)
        # Noise scale sqrt(1 - rho^2) = exp(-mi / d) directly: stays > 0 even when rho rounds to 1.
        self._noise = math.exp(-self._mi / self._dim)
        self._rho = math.sqrt(-math.expm1(-2.0 * self._mi / self._dim))

    @property
    def dim_x(self) -> int:
        return self._dim

    @property
    def dim_y(self) -> int:
        return self._dim

    @property
    def rho(self) -> float:
        """Per-coordinate correlation between X_i and Y_i."""
        return self._rho

    @property
    def name(self) -> str:
        return f"correlated-gaussian-{self._dim}d-mi{self._mi:g}"

    @property
    def covariance(self) -> np.ndarray:
        """The ``(2 dim, 2 dim)`` covariance of ``[X, Y]``: unit diagonal, ``rho`` between X_i and Y_i."""
        eye = np.eye(self._dim)
        return np.block([[eye, self._rho * eye], [self._rho * eye, eye]])

    @property
    def mutual_information(self) -> float:
        """True I(X;Y) in nats (the requested ``mi``)."""
        return self._mi

    def sample(self, n: int, seed: int, *, dtype: Any = np.float32) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` joint samples; returns ``x`` and ``y``, each of shape ``(n, dim)``."""
        n, rng, dtype = _check_sample_args(n, seed, dtype)
        x = rng.standard_normal((n, self._dim))
        y = self._rho * x + self._noise * rng.standard_normal((n, self._dim))
        return x.astype(dtype), y.astype(dtype)

    def log_density_ratio(self, x: Any, y: Any) -> np.ndarray:
        r"""The pointwise MI :math:`\log p(x_i, y_i) / (p(x_i)\,p(y_i))`, float64 ``(n,)``; as :meth:`GaussianTask.log_density_ratio`."""
        return _gaussian_log_ratio(self.covariance, self._dim, self._dim, x, y)

    def __repr__(self) -> str:
        return f"CorrelatedGaussianTask(dim={self._dim}, mi={self._mi:g})"


def _random_orthogonal(dim: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-distributed orthogonal matrix: QR of a Gaussian matrix, columns' signs fixed by diag(R)."""
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    return q * np.where(np.diag(r) < 0, -1.0, 1.0)


# An injective map of X alone (or Y alone) keeps I(X;Y), and changes p(x, y) and p(x) p(y) by the same Jacobian, so
# the wrapped pair's pointwise MI is the base task's at the pre-image. A wrapper supplies only the map of one side,
# ``_forward(v, side)``, and its inverse, ``_inverse(v, side)``; the rotations and elementwise maps here and the
# spiral and mixing maps of :mod:`miestim.tasks` share the rest.
class _SideMapTask:
    """Base class: ``task`` with ``_forward`` applied to X when ``maps_x`` and to Y when ``maps_y``."""

    def __init__(self, task: Any, maps_x: bool, maps_y: bool) -> None:
        self._task = _check_mi_task(task, name="task")
        self._maps = {"x": maps_x, "y": maps_y}

    def _forward(self, v: np.ndarray, side: str) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _inverse(self, v: np.ndarray, side: str) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def dim_x(self) -> int:
        return self._task.dim_x

    @property
    def dim_y(self) -> int:
        return self._task.dim_y

    @property
    def base(self) -> Any:
        """The wrapped task."""
        return self._task

    @property
    def mutual_information(self) -> float:
        """True I(X;Y) in nats: that of the wrapped task (the maps are injective)."""
        return self._task.mutual_information

    def _apply(self, x: np.ndarray, y: np.ndarray, fn: Any) -> tuple[np.ndarray, np.ndarray]:
        return (fn(x, "x") if self._maps["x"] else x), (fn(y, "y") if self._maps["y"] else y)

    def transform(self, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Map points of the wrapped task to this task's (float64); a side that is not mapped is returned as is."""
        x, y = as_points({"x": self.dim_x, "y": self.dim_y}, x=x, y=y)
        return self._apply(x, y, self._forward)

    def inverse_transform(self, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """The pre-image of points of this task under :meth:`transform` (float64)."""
        x, y = as_points({"x": self.dim_x, "y": self.dim_y}, x=x, y=y)
        return self._apply(x, y, self._inverse)

    def sample(self, n: int, seed: int, *, dtype: Any = np.float32) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` samples from the wrapped task (same ``seed``) and map them; shapes ``(n, dim_x)``, ``(n, dim_y)``."""
        dtype = check_float_dtype(dtype)
        base_x, base_y = self._task.sample(n, seed, dtype=np.float64)
        x, y = self._apply(base_x, base_y, self._forward)
        return x.astype(dtype), y.astype(dtype)

    def log_density_ratio(self, x: Any, y: Any) -> np.ndarray:
        r"""The pointwise MI of the mapped pair: the wrapped task's at the pre-image :meth:`inverse_transform` of ``(x, y)``.

        Needs a wrapped task with ``log_density_ratio``. Float64 of shape ``(n,)``.

        Raises:
            TypeError: the wrapped task has no ``log_density_ratio``; or bad points, as
                :meth:`miestim.gaussian.GaussianTask.log_density_ratio`.
            ValueError: as :meth:`miestim.gaussian.GaussianTask.log_density_ratio`.
        """
        ratio = _inner_log_ratio(self._task)
        return ratio(*self.inverse_transform(x, y))


class RotatedTask(_SideMapTask):
    r"""A task with X and Y rotated by fixed random orthogonal matrices; MI is unchanged.

    .. math::

        X' = Q_X X, \quad Y' = Q_Y Y, \qquad I(X';Y') = I(X;Y)

    since :math:`Q_X, Q_Y` are invertible. They are drawn once, from ``seed``.

    Args:
        task: the MI task to wrap.
        seed: seed for the two orthogonal matrices (default 0).

    Raises:
        TypeError: ``task`` is not an MI task, or ``seed`` is not an integer.
        ValueError: ``seed`` is negative.

    Example:
        >>> task = RotatedTask(CorrelatedGaussianTask(2, 0.5), seed=1)
        >>> task.mutual_information
        0.5
    """

    def __init__(self, task: Any, *, seed: int = 0) -> None:
        super().__init__(task, maps_x=True, maps_y=True)
        self._seed = check_positive_int(seed, name="seed", minimum=0)
        rng = np.random.default_rng(self._seed)
        self._q = {"x": _random_orthogonal(task.dim_x, rng), "y": _random_orthogonal(task.dim_y, rng)}

    def _forward(self, v: np.ndarray, side: str) -> np.ndarray:
        return v @ self._q[side].T

    def _inverse(self, v: np.ndarray, side: str) -> np.ndarray:
        return v @ self._q[side]

    @property
    def name(self) -> str:
        return f"rotated({self._task.name})"

    @property
    def rotations(self) -> tuple[np.ndarray, np.ndarray]:
        """The orthogonal matrices ``(Q_X, Q_Y)`` (float64 copies)."""
        return self._q["x"].copy(), self._q["y"].copy()

    def __repr__(self) -> str:
        return f"RotatedTask({self._task!r}, seed={self._seed})"


_TRANSFORMS: dict[str, Callable[[np.ndarray], np.ndarray]] = {"cube": lambda v: v**3, "asinh": np.arcsinh, "normal-cdf": special.ndtr}
_INVERSES: dict[str, Callable[[np.ndarray], np.ndarray]] = {"cube": np.cbrt, "asinh": np.sinh, "normal-cdf": special.ndtri}


def _inner_log_ratio(task: Any) -> Any:
    if not hasattr(task, "log_density_ratio"):
        raise TypeError(f"the wrapped task {task!r} has no log_density_ratio, so the wrapper has none either.")
    return task.log_density_ratio


class TransformedTask(_SideMapTask):
    r"""A task with the same elementwise invertible map applied to every coordinate of X and Y.

    .. math::

        X'_i = g(X_i), \quad Y'_j = g(Y_j), \qquad I(X';Y') = I(X;Y)

    for a strictly monotone ``g``: ``"cube"`` (:math:`g(v) = v^3`, heavy tails),
    ``"asinh"`` (:math:`g(v) = \operatorname{asinh} v`, light tails) or ``"normal-cdf"``
    (:math:`g = \Phi`, the standard normal CDF: uniform margins on (0, 1) for a standard normal coordinate,
    as in Czyż et al. 2023's "@ normal CDF" tasks).

    Args:
        task: the MI task to wrap.
        transform: ``"cube"`` (default), ``"asinh"`` or ``"normal-cdf"``.

    Raises:
        TypeError: ``task`` is not an MI task, or ``transform`` is not a string.
        ValueError: unknown ``transform`` (the message lists the valid names).

    Example:
        >>> task = TransformedTask(CorrelatedGaussianTask(2, 0.5), transform="asinh")
        >>> task.mutual_information
        0.5
    """

    def __init__(self, task: Any, *, transform: str = "cube") -> None:
        super().__init__(task, maps_x=True, maps_y=True)
        self._transform = check_choice(transform, name="transform", choices=sorted(_TRANSFORMS))

    def _forward(self, v: np.ndarray, side: str) -> np.ndarray:
        return _TRANSFORMS[self._transform](v)

    def _inverse(self, v: np.ndarray, side: str) -> np.ndarray:
        return _INVERSES[self._transform](v)

    @property
    def name(self) -> str:
        return f"{self._transform}({self._task.name})"

    def __repr__(self) -> str:
        return f"TransformedTask({self._task!r}, transform={self._transform!r})"
