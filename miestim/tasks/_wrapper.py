"""The shared part of the wrappers that apply an injective map to a whole side of any MI task.

An injective map of X alone (or Y alone) keeps I(X;Y), and changes p(x, y) and p(x) p(y) by the
same Jacobian, so the wrapped pair's pointwise MI is the base task's at the pre-image. A wrapper
only supplies the map of one side, ``_forward(v, side)``, and its inverse, ``_inverse(v, side)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..gaussian._checks import as_points, check_float_dtype
from ..gaussian._tasks import _check_mi_task, _inner_log_ratio


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
