r"""Sampling tasks that carry their own true conditional mutual information I(X;Y|Z).

A CMI task has ``sample(n, seed) -> (x, y, z)`` returning float32 numpy arrays of shapes
``(n, dim_x)``, ``(n, dim_y)``, ``(n, dim_z)`` and a ``conditional_mutual_information``
property: the exact I(X;Y|Z) in nats from the closed form on the task's covariance.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_choice, check_positive_float, check_positive_int
from ._checks import Indices, as_covariance, as_indices, as_points, check_correlation, check_disjoint
from ._closed_form import _cmi, _log_ratio
from ._tasks import _check_sample_args

__all__ = ["ClassConditionalGaussianTask", "GaussianChainTask", "GaussianCMITask"]


class GaussianCMITask:
    r"""X, Y and Z as three blocks of one Gaussian vector :math:`V \sim N(0, \Sigma)`.

    .. math::

        I(X;Y \mid Z) = \tfrac12 \log
            \frac{\det \Sigma_{XZ} \, \det \Sigma_{YZ}}{\det \Sigma_Z \, \det \Sigma_{XYZ}}

    Args:
        cov: ``(d, d)`` symmetric positive-definite covariance (numpy array or torch tensor).
        x_idx: coordinates of V forming X.
        y_idx: coordinates of V forming Y.
        z_idx: coordinates of V forming the conditioning block Z (non-empty).
        name: display name (default ``"gaussian-cmi-{dim_x}x{dim_y}|{dim_z}"``).

    Raises:
        TypeError, ValueError: as :func:`miestim.gaussian.conditional_mutual_information`;
            also ValueError for an empty ``z_idx``.

    Example:
        >>> import numpy as np
        >>> cov = np.array([[1.0, 0.5, 0.5], [0.5, 1.0, 0.5], [0.5, 0.5, 1.0]])
        >>> task = GaussianCMITask(cov, [0], [1], [2])
        >>> x, y, z = task.sample(50, 0)
        >>> z.shape, round(task.conditional_mutual_information, 4)
        ((50, 1), 0.0589)
    """

    def __init__(self, cov: Any, x_idx: Indices, y_idx: Indices, z_idx: Indices, *, name: str | None = None) -> None:
        full = as_covariance(cov)
        d = full.shape[0]
        x = as_indices(x_idx, name="x_idx", dim=d)
        y = as_indices(y_idx, name="y_idx", dim=d)
        z = as_indices(z_idx, name="z_idx", dim=d)
        check_disjoint(x_idx=x, y_idx=y, z_idx=z)
        self._dims = (len(x), len(y), len(z))
        joint = x + y + z
        self._cov = full[np.ix_(joint, joint)]
        self._cholesky = np.linalg.cholesky(self._cov)
        self._name = name if name is not None else f"gaussian-cmi-{len(x)}x{len(y)}|{len(z)}"

    @property
    def dim_x(self) -> int:
        return self._dims[0]

    @property
    def dim_y(self) -> int:
        return self._dims[1]

    @property
    def dim_z(self) -> int:
        return self._dims[2]

    @property
    def name(self) -> str:
        return self._name

    @property
    def covariance(self) -> np.ndarray:
        """The covariance of ``[X, Y, Z]`` (a float64 copy)."""
        return self._cov.copy()

    @property
    def conditional_mutual_information(self) -> float:
        """True I(X;Y|Z) in nats."""
        dx, dy, dz = self._dims
        x, y, z = tuple(range(dx)), tuple(range(dx, dx + dy)), tuple(range(dx + dy, dx + dy + dz))
        return _cmi(self._cov, x, y, z)

    def _split(self, joint: np.ndarray, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        dx, dy, _ = self._dims
        return (
            joint[:, :dx].astype(dtype),
            joint[:, dx : dx + dy].astype(dtype),
            joint[:, dx + dy :].astype(dtype),
        )

    def sample(self, n: int, seed: int, *, dtype: Any = np.float32) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Draw ``n`` joint samples; returns ``x``, ``y``, ``z`` of shapes ``(n, dim_x|y|z)``."""
        n, rng, dtype = _check_sample_args(n, seed, dtype)
        return self._split(rng.standard_normal((n, self._cov.shape[0])) @ self._cholesky.T, dtype)

    def log_density_ratio(self, x: Any, y: Any, z: Any) -> np.ndarray:
        r"""The pointwise conditional MI, in nats, float64 of shape ``(n,)``:

        .. math:: \log \frac{p(x_i, y_i \mid z_i)}{p(x_i \mid z_i)\,p(y_i \mid z_i)}
                = \log \frac{p(x_i, y_i, z_i)\,p(z_i)}{p(x_i, z_i)\,p(y_i, z_i)}

        Its mean over joint triples is :attr:`conditional_mutual_information`; it is the logit
        of a perfect CMINE classifier, so scoring it with a CMINE readout (on joint triples
        and on k-NN product triples) shows what the readout reads with a perfect classifier
        (``python -m benchmarks oracle``).

        Args:
            x, y, z: ``(n, dim_x)``, ``(n, dim_y)``, ``(n, dim_z)`` points (1-D for one column).

        Raises:
            TypeError, ValueError: non-numeric, non-finite or wrongly shaped input, or
                different numbers of rows (the message names the argument).
        """
        x, y, z = as_points({"x": self.dim_x, "y": self.dim_y, "z": self.dim_z}, x=x, y=y, z=z)
        dx, dy, dz = self._dims
        xi, yi, zi = tuple(range(dx)), tuple(range(dx, dx + dy)), tuple(range(dx + dy, dx + dy + dz))
        joint = [(xi + yi + zi, np.concatenate([x, y, z], axis=1)), (zi, z)]
        marginal = [(xi + zi, np.concatenate([x, z], axis=1)), (yi + zi, np.concatenate([y, z], axis=1))]
        return _log_ratio(self._cov, joint, marginal)

    def __repr__(self) -> str:
        return f"GaussianCMITask(dim_x={self.dim_x}, dim_y={self.dim_y}, dim_z={self.dim_z}, cmi={self.conditional_mutual_information:.4g})"


_CHAIN_TARGETS = {"x;y|z": ("x", "y", "z"), "x;z|y": ("x", "z", "y"), "y;z|x": ("y", "z", "x")}


def _chain_covariance(dim: int, sigma_x: float, sigma_noise: float, sigma_z: float) -> np.ndarray:
    """Covariance of ``[X, Y, Z]`` for X ~ N(0, sx^2 I), Y = X + N(0, sn^2 I), Z = Y + N(0, sz^2 I)."""
    vx = sigma_x**2
    vy = vx + sigma_noise**2
    vz = vy + sigma_z**2
    # Cov(X, Y) = Cov(X, Z) = Var X; Cov(Y, Z) = Var Y: each later variable adds independent noise.
    block = np.array([[vx, vx, vx], [vx, vy, vy], [vx, vy, vz]])
    return np.kron(block, np.eye(dim))


class GaussianChainTask(GaussianCMITask):
    r"""The Markov chain X -> Y -> Z of Gaussians, for a CMI and its conditional-independence null.

    :math:`X \sim N(0, \sigma_x^2 I_d)`, :math:`Y = X + N(0, \sigma_{noise}^2 I_d)`,
    :math:`Z = Y + N(0, \sigma_z^2 I_d)`. ``target`` picks the triple returned as
    ``(x, y, z)`` of the CMI:

    - ``"x;y|z"``: returns (X, Y, Z); I(X;Y|Z) > 0 (1.5185 d nats for the defaults).
    - ``"x;z|y"``: returns (X, Z, Y); I(X;Z|Y) = 0 (Z is independent of X given Y).
    - ``"y;z|x"``: returns (Y, Z, X); I(Y;Z|X) > 0.

    The true value is the closed form

    .. math::

        I(A;B \mid C) = \tfrac12 \log
            \frac{\det \Sigma_{AC} \, \det \Sigma_{BC}}{\det \Sigma_C \, \det \Sigma_{ABC}}

    on the explicit covariance (``Cov(X,Y) = Cov(X,Z) = Var X``, ``Cov(Y,Z) = Var Y``).

    Args:
        dim: dimension ``d`` of each of X, Y, Z (>= 1).
        sigma_x: standard deviation of X (default 10.0).
        sigma_noise: standard deviation of the noise added to X to form Y (default 1.0).
        sigma_z: standard deviation of the noise added to Y to form Z (default 5.0).
        target: ``"x;y|z"`` (default), ``"x;z|y"`` or ``"y;z|x"``.

    Raises:
        TypeError: ``dim`` is not an integer, a sigma is not a real number, or ``target``
            is not a string.
        ValueError: ``dim < 1``, a sigma is not finite and > 0, or unknown ``target``.

    Example:
        >>> round(GaussianChainTask(5).conditional_mutual_information, 3)
        7.592
        >>> GaussianChainTask(5, target="x;z|y").conditional_mutual_information
        0.0
    """

    def __init__(
        self,
        dim: int,
        *,
        sigma_x: float = 10.0,
        sigma_noise: float = 1.0,
        sigma_z: float = 5.0,
        target: str = "x;y|z",
    ) -> None:
        dim = check_positive_int(dim, name="dim")
        self._sigmas = {
            "x": check_positive_float(sigma_x, name="sigma_x"),
            "y": check_positive_float(sigma_noise, name="sigma_noise"),
            "z": check_positive_float(sigma_z, name="sigma_z"),
        }
        self._target = check_choice(target, name="target", choices=list(_CHAIN_TARGETS))
        self._order = _CHAIN_TARGETS[self._target]
        position = {"x": 0, "y": 1, "z": 2}
        blocks = [tuple(range(position[v] * dim, (position[v] + 1) * dim)) for v in self._order]
        cov = _chain_covariance(dim, self._sigmas["x"], self._sigmas["y"], self._sigmas["z"])
        super().__init__(cov, *blocks, name=f"gaussian-chain-{dim}d-{self._target}")
        self._dim = dim

    @property
    def target(self) -> str:
        """Which CMI the triple targets, e.g. ``"x;y|z"``."""
        return self._target

    def sample(self, n: int, seed: int, *, dtype: Any = np.float32) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Draw ``n`` samples of the chain; returns the triple ordered by ``target``, each ``(n, dim)``."""
        n, rng, dtype = _check_sample_args(n, seed, dtype)
        shape = (n, self._dim)
        values = {"x": self._sigmas["x"] * rng.standard_normal(shape)}
        values["y"] = values["x"] + self._sigmas["y"] * rng.standard_normal(shape)
        values["z"] = values["y"] + self._sigmas["z"] * rng.standard_normal(shape)
        a, b, c = (values[v].astype(dtype) for v in self._order)
        return a, b, c

    def __repr__(self) -> str:
        sx, sn, sz = (self._sigmas[k] for k in "xyz")
        return f"GaussianChainTask(dim={self._dim}, sigma_x={sx:g}, sigma_noise={sn:g}, sigma_z={sz:g}, target={self._target!r})"


class ClassConditionalGaussianTask:
    r"""A discrete conditioning variable: Z is a class label, and given Z = c the pair (X, Y) is Gaussian with correlation :math:`\rho_c`.

    :math:`Z` takes the values ``0, ..., K-1`` with probabilities :math:`p_c`; given :math:`Z = c`,
    :math:`X \sim N(0, I_d)` and :math:`Y_i = \rho_c X_i + \sqrt{1-\rho_c^2}\,\varepsilon_i`, so

    .. math::

        I(X;Y \mid Z) = \sum_c p_c \, I(X;Y \mid Z = c) = -\frac d2 \sum_c p_c \log(1 - \rho_c^2).

    ``z`` is returned as one float column of integer values (the class labels), which
    :func:`~miestim.estimate_cmi` resamples exactly within classes.

    Args:
        rhos: the per-class correlations :math:`\rho_c`, each in (-1, 1); at least 2 classes.
        dim: dimension ``d`` of X and of Y (default 1).
        probabilities: class probabilities :math:`p_c`, positive and summing to 1 (default uniform).

    Raises:
        TypeError: ``rhos`` or ``probabilities`` is not a sequence of real numbers, or ``dim`` is not an integer.
        ValueError: fewer than 2 classes, a correlation outside (-1, 1), ``dim < 1``, or
            probabilities that are not positive, do not sum to 1 or do not match ``rhos`` in length.

    Example:
        >>> task = ClassConditionalGaussianTask((0.0, 0.8))
        >>> x, y, z = task.sample(6, 0)
        >>> sorted(set(z.ravel().tolist())) <= [0.0, 1.0], round(task.conditional_mutual_information, 4)
        (True, 0.2554)
    """

    def __init__(self, rhos: Any, *, dim: int = 1, probabilities: Any = None) -> None:
        if isinstance(rhos, (str, bytes)) or not hasattr(rhos, "__len__"):
            raise TypeError(f"rhos must be a sequence of correlations, e.g. (0.0, 0.6, 0.9); got {rhos!r} ({type(rhos).__name__}).")
        if len(rhos) < 2:
            raise ValueError(f"rhos must give at least 2 classes; got {len(rhos)}.")
        self._rhos = tuple(check_correlation(r, name=f"rhos[{i}]") for i, r in enumerate(rhos))
        self._dim = check_positive_int(dim, name="dim")
        if probabilities is None:
            probabilities = (1.0 / len(self._rhos),) * len(self._rhos)
        if isinstance(probabilities, (str, bytes)) or not hasattr(probabilities, "__len__"):
            raise TypeError(f"probabilities must be a sequence of numbers or None; got {probabilities!r} ({type(probabilities).__name__}).")
        if len(probabilities) != len(self._rhos):
            raise ValueError(f"probabilities must give one value per class ({len(self._rhos)}); got {len(probabilities)}.")
        self._p = tuple(check_positive_float(p, name=f"probabilities[{i}]") for i, p in enumerate(probabilities))
        if abs(sum(self._p) - 1.0) > 1e-9:
            raise ValueError(f"probabilities must sum to 1; got {self._p} (sum {sum(self._p):.6g}).")

    @property
    def dim_x(self) -> int:
        return self._dim

    @property
    def dim_y(self) -> int:
        return self._dim

    @property
    def dim_z(self) -> int:
        return 1

    @property
    def name(self) -> str:
        return f"class-conditional-{self._dim}d-rho{'/'.join(f'{r:g}' for r in self._rhos)}"

    @property
    def conditional_mutual_information(self) -> float:
        """True I(X;Y|Z) in nats."""
        return float(sum(-0.5 * self._dim * p * np.log1p(-(r**2)) for p, r in zip(self._p, self._rhos)))

    def sample(self, n: int, seed: int, *, dtype: Any = np.float32) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Draw ``n`` samples; returns ``x``, ``y`` of shape ``(n, dim)`` and the labels ``z`` of shape ``(n, 1)``."""
        n, rng, dtype = _check_sample_args(n, seed, dtype)
        z = rng.choice(len(self._rhos), size=n, p=self._p)
        rho = np.asarray(self._rhos)[z][:, None]
        x = rng.standard_normal((n, self._dim))
        y = rho * x + np.sqrt(1.0 - rho**2) * rng.standard_normal((n, self._dim))
        return x.astype(dtype), y.astype(dtype), z[:, None].astype(dtype)

    def __repr__(self) -> str:
        return f"ClassConditionalGaussianTask(rhos={self._rhos}, dim={self._dim}, probabilities={self._p})"
