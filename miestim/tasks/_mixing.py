r"""Rotation, then a coordinate-wise nonlinearity, then another rotation: a mixing map of a whole side."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .._validation import check_choice, check_positive_int
from ..gaussian._tasks import _random_orthogonal, _SideMapTask
from ._checks import check_side

__all__ = ["MixingTask"]

_NONLINEARITIES: dict[str, tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]] = {
    "asinh": (np.arcsinh, np.sinh),
    "cube": (lambda v: v**3, np.cbrt),
}


class MixingTask(_SideMapTask):
    r"""Any MI task with a side (or both) mixed: :math:`v \mapsto Q_2\, g(Q_1 v)`.

    :math:`Q_1, Q_2` are fixed random orthogonal matrices (Haar, drawn from ``seed``) and
    :math:`g` acts on each coordinate: ``"asinh"`` (:math:`g = \operatorname{asinh}`, light
    tails) or ``"cube"`` (:math:`g(u) = u^3`, heavy tails). Every step is a bijection of
    :math:`\mathbb{R}^d` with a closed-form inverse, :math:`v = Q_1^\top g^{-1}(Q_2^\top v')`, so

    .. math:: I(X';Y') = I(X;Y).

    Unlike a coordinate-wise map (:class:`miestim.gaussian.TransformedTask`), which rank-normal
    scores undo, the second rotation mixes coordinates after the nonlinearity: the copula of a
    mixed Gaussian is no longer Gaussian. On a 1-d side the rotations are :math:`\pm 1` and the map
    is coordinate-wise.

    Args:
        task: the MI task to wrap.
        nonlinearity: ``"asinh"`` (default) or ``"cube"``.
        side: ``"both"`` (default), ``"x"`` or ``"y"``: which side is mixed.
        seed: seed of the rotations (default 0); :math:`Q_1, Q_2` of X, then of Y, are drawn in
            that order whichever sides are mixed, so a side's map does not depend on ``side``.

    Raises:
        TypeError: ``task`` is not an MI task, ``nonlinearity`` or ``side`` not a string, or
            ``seed`` not an integer.
        ValueError: unknown ``nonlinearity`` or ``side``, or negative ``seed``.

    Example:
        >>> from miestim.gaussian import CorrelatedGaussianTask
        >>> task = MixingTask(CorrelatedGaussianTask(3, 1.0), nonlinearity="cube", seed=1)
        >>> task.name, task.mutual_information
        ('mixed-both-cube-s1(correlated-gaussian-3d-mi1)', 1.0)
    """

    def __init__(self, task: Any, *, nonlinearity: str = "asinh", side: str = "both", seed: int = 0) -> None:
        maps_x, maps_y = check_side(side)
        super().__init__(task, maps_x, maps_y)
        self._side = side.lower()
        self._nonlinearity = check_choice(nonlinearity, name="nonlinearity", choices=sorted(_NONLINEARITIES))
        self._seed = check_positive_int(seed, name="seed", minimum=0)
        rng = np.random.default_rng(self._seed)
        self._rotations = {}
        for name in ("x", "y"):
            dim = getattr(self._task, f"dim_{name}")
            self._rotations[name] = (_random_orthogonal(dim, rng), _random_orthogonal(dim, rng))

    @property
    def rotations(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``{"x": (Q1, Q2), "y": (Q1, Q2)}`` (float64 copies; a side that is not mixed ignores its pair)."""
        return {name: (q1.copy(), q2.copy()) for name, (q1, q2) in self._rotations.items()}

    @property
    def name(self) -> str:
        return f"mixed-{self._side}-{self._nonlinearity}-s{self._seed}({self._task.name})"

    def _forward(self, v: np.ndarray, side: str) -> np.ndarray:
        q1, q2 = self._rotations[side]
        g = _NONLINEARITIES[self._nonlinearity][0]
        return g(v @ q1.T) @ q2.T

    def _inverse(self, v: np.ndarray, side: str) -> np.ndarray:
        q1, q2 = self._rotations[side]
        g_inverse = _NONLINEARITIES[self._nonlinearity][1]
        return g_inverse(v @ q2) @ q1

    def __repr__(self) -> str:
        return f"MixingTask({self._task!r}, nonlinearity={self._nonlinearity!r}, side={self._side!r}, seed={self._seed})"
