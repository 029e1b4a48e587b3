r"""The spiral: rotate a side in one coordinate plane by an angle that grows with its squared norm."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_positive_float
from ..gaussian._tasks import _SideMapTask
from ._checks import check_plane, check_side

__all__ = ["SpiralTask"]


class SpiralTask(_SideMapTask):
    r"""Any MI task with one side (or both) spun: rotated in a fixed plane by an angle growing with its radius.

    For a side :math:`v \in \mathbb{R}^d` (:math:`d \ge 2`) and the plane of coordinates
    :math:`(i, j)`,

    .. math::

        v \mapsto R_{ij}(\theta(v))\, v, \qquad \theta(v) = s\,\lVert v \rVert^2,

    where :math:`R_{ij}(\theta)` rotates coordinates :math:`i, j` by :math:`\theta` and leaves the
    others alone. This is the spiral of Czyż et al. 2023; the default speed is theirs,
    :math:`s = 1/d` on a side of dimension :math:`d` (bmi 0.1.3's ``speed=1`` divided by the
    dimension: 1/3 on their 3×3 spirals, 1/4 on a 4-d side). Their benchmark spins both sides,
    X in the plane (0, 1) and Y in (1, 2); nest two wrappers for that:
    ``SpiralTask(SpiralTask(task, side="x"), side="y", plane=(1, 2))``. A rotation keeps the norm, so
    :math:`\theta(R v) = \theta(v)` and the inverse is the rotation by :math:`-\theta` of the
    image's own norm: the map is a bijection and :math:`I(X';Y') = I(X;Y)`. Points near the origin
    barely move; far ones wind round several times, so the copula is no longer Gaussian and
    rank-normal scores do not undo it.

    Args:
        task: the MI task to wrap (anything with ``sample``, ``mutual_information``, ``dim_x``,
            ``dim_y`` and ``name``; ``log_density_ratio`` too for this wrapper's).
        speed: :math:`s > 0`, radians per unit of squared norm, on every spun side (default
            ``None``: :math:`1/d` on each spun side of dimension :math:`d`).
        side: ``"x"`` (default), ``"y"`` or ``"both"``: which side is spun.
        plane: the two coordinates ``(i, j)`` rotated on every spun side (default ``(0, 1)``).

    Raises:
        TypeError: ``task`` is not an MI task, ``speed`` not a real number, ``side`` not a string
            or ``plane`` not a pair of integers.
        ValueError: ``speed`` not finite and positive, unknown ``side``, or ``plane`` not two
            distinct coordinates of every spun side (a 1-d side cannot be spun).

    Example:
        >>> from miestim.gaussian import GaussianTask
        >>> task = SpiralTask(GaussianTask.correlated_pairs(4, 4, pairs=2, rho=0.8))
        >>> task.name, round(task.mutual_information, 4)
        ('spiral-x(gaussian-4x4-2pairs-rho0.8)', 1.0217)
    """

    def __init__(self, task: Any, *, speed: float | None = None, side: str = "x", plane: Any = (0, 1)) -> None:
        maps_x, maps_y = check_side(side)
        super().__init__(task, maps_x, maps_y)
        self._speed = None if speed is None else check_positive_float(speed, name="speed")
        self._side = side.lower()
        dims = {name: getattr(self._task, f"dim_{name}") for name, spun in self._maps.items() if spun}
        self._plane = check_plane(plane, dims=dims)
        self._speeds = {name: (1.0 / dim if self._speed is None else self._speed) for name, dim in dims.items()}

    @property
    def speeds(self) -> dict[str, float]:
        """Radians of rotation per unit of squared norm, per spun side (``{"x": 0.25}`` for a 4-d X)."""
        return dict(self._speeds)

    @property
    def plane(self) -> tuple[int, int]:
        """The rotated coordinates ``(i, j)``."""
        return self._plane

    @property
    def name(self) -> str:
        speed = "" if self._speed is None else f"-speed{self._speed:.3g}"
        plane = "" if self._plane == (0, 1) else f"-plane{self._plane[0]}{self._plane[1]}"
        return f"spiral-{self._side}{speed}{plane}({self._task.name})"

    def _rotate(self, v: np.ndarray, side: str, sign: float) -> np.ndarray:
        i, j = self._plane
        theta = sign * self._speeds[side] * (v**2).sum(axis=1)
        cos, sin = np.cos(theta), np.sin(theta)
        out = v.copy()
        out[:, i] = cos * v[:, i] - sin * v[:, j]
        out[:, j] = sin * v[:, i] + cos * v[:, j]
        return out

    def _forward(self, v: np.ndarray, side: str) -> np.ndarray:
        return self._rotate(v, side, 1.0)

    def _inverse(self, v: np.ndarray, side: str) -> np.ndarray:
        return self._rotate(v, side, -1.0)

    def __repr__(self) -> str:
        speed = "None" if self._speed is None else f"{self._speed:.4g}"
        return f"SpiralTask({self._task!r}, speed={speed}, side={self._side!r}, plane={self._plane})"
