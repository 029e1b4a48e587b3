"""Estimators as ``torch.nn.Module``: a critic plus a bound, usable as differentiable losses."""

from __future__ import annotations

from typing import Any

from .._validation import check_choice, check_kwargs
from .base import LogBaseline, MIEstimator
from .baseline import TUBA, InterpolatedBound
from .mine import MINE
from .simple import DV, JS, NWJ, SMILE, InfoNCE

__all__ = ["DV", "JS", "MINE", "NWJ", "SMILE", "TUBA", "ESTIMATORS", "InfoNCE", "InterpolatedBound", "LogBaseline", "MIEstimator", "make_estimator"]

#: Estimator classes by name, as accepted by ``estimate_mi(estimator=...)``.
ESTIMATORS: dict[str, type[MIEstimator]] = {cls.name: cls for cls in (DV, NWJ, MINE, InfoNCE, JS, SMILE, TUBA, InterpolatedBound)}


def make_estimator(estimator: str | MIEstimator, x_dim: int, y_dim: int, /, **kwargs: Any) -> MIEstimator:
    """Build an estimator from its name (see :data:`ESTIMATORS`) or check an instance's dimensions.

    The dimensions are positional-only, so an ``x_dim`` among ``kwargs`` is refused by name below.
    """
    if isinstance(estimator, MIEstimator):
        if (estimator.x_dim, estimator.y_dim) != (x_dim, y_dim):
            raise ValueError(f"estimator was built for x_dim={estimator.x_dim}, y_dim={estimator.y_dim}; the data have {x_dim} and {y_dim} columns.")
        return estimator
    if not isinstance(estimator, str):
        raise TypeError(f"estimator must be a name in {sorted(ESTIMATORS)} or an MIEstimator instance; got {type(estimator).__name__}.")
    cls = ESTIMATORS[check_choice(estimator, name="estimator", choices=ESTIMATORS)]
    kwargs = check_kwargs(kwargs, name="estimator_kwargs", target=cls, exclude=("x_dim", "y_dim"))
    return cls(x_dim, y_dim, **kwargs)
