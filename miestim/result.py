"""Result records returned by the one-call estimators."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

__all__ = ["EstimateResult", "TrainingHistory"]


@dataclass(frozen=True)
class TrainingHistory:
    """Training trace: at each evaluation step, the mean training objective since the last
    evaluation and the estimate on the validation split (nats for MI bounds)."""

    steps: tuple[int, ...] = ()
    train: tuple[float, ...] = ()
    validation: tuple[float, ...] = ()
    stopped_early: bool = False

    def __len__(self) -> int:
        return len(self.steps)


@dataclass(frozen=True)
class EstimateResult:
    r"""An MI or CMI estimate with its uncertainty.

    Attributes:
        value: the estimate in nats, computed only on rows the critic neither trained nor
            stopped on (``evaluated_on`` says which): every row once, each by its fold's critic,
            for the cross-fitted estimates (``estimate_mi``'s default, the chain rule); the
            held-out test split for a named estimator and CMINE.
        stderr: standard error of ``value`` in nats: the standard deviation of ``row_values``
            over :math:`\sqrt n` for cross-fitted estimates, the delete-a-group jackknife over
            the test samples otherwise. It is the held-out rows' sampling noise for the fitted
            critics; it excludes the critics' bias and the spread between training runs.
        history: the training trace (:class:`TrainingHistory`).
        estimator: the trained module (in eval mode, on the device it was trained on).
        seconds: wall time of the whole call.
        quantity: what was estimated, e.g. ``"I(X;Y)"`` or ``"I(X;Y|Z)"``.
        method: the estimator's name.
        n_train, n_validation, n_test: split sizes.
        extra: other readouts on the same test split (e.g. ``{"nwj": ..., "mean_log_ratio": ...}``), or
            what a cross-fitted estimate chose (``estimator="auto"``: the family kept in each fold and
            each family's validation score).
        evaluated_on: which rows ``value`` was computed on.
        row_values: cross-fitted estimates only: ``(n,)`` float64 per-row contributions, one per input
            row in input order, whose mean is ``value`` (``stderr`` is their standard deviation over
            :math:`\sqrt n`); two such estimates on the same rows have a paired standard error.
    """

    value: float
    stderr: float
    history: TrainingHistory
    estimator: nn.Module
    seconds: float
    quantity: str = "I(X;Y)"
    method: str = ""
    n_train: int = 0
    n_validation: int = 0
    n_test: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    units: str = "nats"
    evaluated_on: str = "held-out test split"
    row_values: torch.Tensor | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return (
            f"EstimateResult({self.quantity} = {self.value:.4f} ± {self.stderr:.4f} {self.units}, method={self.method!r}, "
            f"n_test={self.n_test}, seconds={self.seconds:.2f})"
        )
