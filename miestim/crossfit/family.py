"""The critic-family contract: what the cross-fitted race asks of a family, and the fold it hands one.

This module imports no race and no entry point: a family depends on it, the race depends on families.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import torch

from ..critics import Critic
from ..defaults import CROSSFIT_TRAINING, Training
from ..result import TrainingHistory
from ..scaling import FittedScaler, take_rows
from ..training import Split

__all__ = ["CriticFamily", "Fitted", "Fold", "InSampleReadout", "RaceSettings"]


@dataclass(frozen=True)
class Fold:
    """One prepared fold of a cross-fit: its rows, its scalers (fitted on its training rows) and its scaled validation rows.

    Attributes:
        x, y: all the data, unscaled (possibly a memory map): training rows are scaled on demand.
        rows: the fold's :class:`~miestim.training.Split` (``test``: its held-out rows).
        sx, sy: the fold's scalers, or ``None``.
        x_val, y_val: the scaled validation rows.
        baseline: the critic of the race's first family (the Gaussian-copula critic), which
            families that refine it start from, and which trained families must beat.
        baseline_rows: the baseline's per-row validation JS terms (``None`` when it races alone).
        reference_rows: the best per-row validation JS terms of the baseline and the untrained
            families: a trained family that they beat stops training (``None``: not yet known).
    """

    x: torch.Tensor
    y: torch.Tensor
    rows: Split
    sx: FittedScaler | None
    sy: FittedScaler | None
    x_val: torch.Tensor
    y_val: torch.Tensor
    baseline: Critic | None = None
    baseline_rows: torch.Tensor | None = None
    reference_rows: torch.Tensor | None = None

    @classmethod
    def from_tensors(
        cls, x_train: torch.Tensor, y_train: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor, *, baseline: Critic | None = None
    ) -> Fold:
        """A fold of already scaled training and validation rows (no held-out rows): what :meth:`CriticFamily.fit` sees."""
        n, m = x_train.shape[0], x_val.shape[0]
        rows = Split(torch.arange(n), torch.arange(n, n + m), torch.arange(0))
        return cls(torch.cat([x_train, x_val]), torch.cat([y_train, y_val]), rows, None, None, x_val, y_val, baseline)

    def rescaled(self, scaler: Callable[..., FittedScaler] | None) -> Fold:
        """The fold as a family that scales the data its own way sees it: ``scaler``'s (fitted on the training rows), or none.

        ``scaler`` is called as ``scaler(data, rows=train)``, as a scaler class is (or a partial of
        one with its options); ``None`` gives the data as given. The validation rows are scaled to
        match.
        """
        train, validation = self.rows.train, self.rows.validation
        sx, sy = (scaler(self.x, rows=train), scaler(self.y, rows=train)) if scaler is not None else (None, None)
        return replace(self, sx=sx, sy=sy, x_val=take_rows(self.x, validation, sx), y_val=take_rows(self.y, validation, sy))

    def scaled(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The given rows of ``x`` and ``y``, scaled by the fold's scalers."""
        return take_rows(self.x, rows, self.sx), take_rows(self.y, rows, self.sy)

    def training_rows(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The scaled training rows (a new copy each call: keep it only while fitting)."""
        return self.scaled(self.rows.train)

    def batch_source(self, max_elements: int) -> Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
        """A function from batch indices (into the training rows) to the scaled batch.

        Scaling a batch (two binary searches per column for normal scores) costs more than a
        small critic's training step, so training rows of at most ``max_elements`` values are
        scaled once; larger ones are gathered and scaled batch by batch, so that no full-size
        copy is made.
        """
        train = self.rows.train
        if train.numel() * (self.x.shape[1] + self.y.shape[1]) <= max_elements:
            x_train, y_train = self.training_rows()
            return lambda idx: (x_train[idx], y_train[idx])
        return lambda idx: self.scaled(train[idx])


@dataclass(frozen=True)
class Fitted:
    """A family's critic for one fold, with its training trace (empty when nothing was trained), fitting time and, once the race has them, its per-row validation JS terms and the fold as the family saw it.

    ``seen`` (:meth:`CriticFamily.view`) is kept so that the race scores and reads out the critic
    on the very rows it was fitted to see, without fitting a family's own scalers twice.
    """

    critic: Critic
    history: TrainingHistory = field(default_factory=TrainingHistory)
    seconds: float = 0.0
    validation_rows: torch.Tensor | None = None
    seen: Fold | None = None


@dataclass(frozen=True)
class InSampleReadout:
    """A family's readout on every row, analytically bias-corrected or leave-one-out: what replaces the held-out one when every fold kept the family.

    Attributes:
        values: ``(n,)`` float64 per-row values whose mean is the estimate (nats).
        critic: the critic fitted on all the rows, whose log ratios (less the correction) the values are.
        correction: the bias subtracted from each row's score (nats; 0 for a leave-one-out readout).
        description: how the value was computed, for ``result.evaluated_on``.
        readout: what the values are, for ``result.extra["readout"]``.
        stderr: the estimate's standard error where the values' own would misstate it (their
            rows dependent), or ``None``: the values' standard error.
    """

    values: torch.Tensor
    critic: Critic
    correction: float
    description: str
    readout: str = "in-sample, bias-corrected"
    stderr: float | None = None


@dataclass(frozen=True)
class RaceSettings:
    """What a race tells the families it fits: how trained ones train, and when one is losing.

    ``screen(fold, rows, evaluations)`` is true once a trained family's per-row validation JS
    terms ``rows`` after ``evaluations`` rounds show it will not be kept: it stops training.
    """

    training: Training = CROSSFIT_TRAINING
    progress: bool | None = False
    screen: Callable[[Fold, torch.Tensor, int], bool] | None = None
    label: str = "estimate_mi[auto"

    def losing(self, fold: Fold, rows: torch.Tensor, evaluations: int) -> bool:
        return self.screen is not None and self.screen(fold, rows, evaluations)


class CriticFamily(ABC):
    """A kind of critic the cross-fitted estimator can race: fitted on a fold's training rows, chosen on its validation rows.

    Subclass it and give :meth:`fit`; pass an instance in ``estimate_mi(..., families=[...])``.
    The race fits every family on every fold, scores each fitted critic on the fold's
    validation rows by the JS objective (per row, so families compare with a paired standard
    error), keeps the simplest family not beaten by two standard errors, and reads the kept
    critic out on the fold's held-out rows as its mean score of the joint pairs: so ``fit``
    must return a :class:`~miestim.critics.Critic` whose ``pair_scores`` estimate the log
    density ratio :math:`\\log p(x, y) / (p(x)\\,p(y))`.

    Attributes:
        name: what the family is called in reports (``result.extra["families"]``); unique in a race.
        scaled: whether the family reads the fold's scaled rows (default) or the data as given:
            a model that the per-column normal scores of ``standardize="rank"`` would break (an
            elliptical law) reads the data as given, in fitting, validation and readout alike.
        trained: whether the critic is trained on the fold's training rows: a trained family's
            validation readout above :math:`\\log n_{train}` is not credible and is not kept.
        lockstep: whether :meth:`fit_folds` trains all folds at once; such families are fitted first.
    """

    name: str = "family"
    scaled: bool = True
    trained: bool = False
    lockstep: bool = False

    def applies(self, x_dim: int, y_dim: int) -> bool:
        """Whether the family is raced on data with ``x_dim`` and ``y_dim`` columns (default: always)."""
        return True

    @abstractmethod
    def fit(self, x_train: torch.Tensor, y_train: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor, *, generator: torch.Generator) -> Critic:
        """A critic fitted on the (scaled) training rows; the validation rows may choose among candidates or stop training.

        Draw any randomness from ``generator`` only, so that a seed fixes the result.
        """

    def fit_folds(self, folds: Sequence[Fold], *, generator: torch.Generator, settings: RaceSettings) -> list[Fitted]:
        """The family's critic on each fold. By default :meth:`fit`, fold by fold; override to share work across folds."""
        fitted = []
        for fold in folds:
            start = time.perf_counter()
            critic = self.fit(*fold.training_rows(), fold.x_val, fold.y_val, generator=generator)
            fitted.append(Fitted(critic, seconds=time.perf_counter() - start))
        return fitted

    def validation_block(self, eval_batch_size: int) -> int:
        """Rows per block when the race scores the critic's JS terms on validation rows (default ``eval_batch_size``)."""
        return eval_batch_size

    def in_sample_readout(self, x: torch.Tensor, y: torch.Tensor) -> InSampleReadout | None:
        """The family's readout on all the (scaled) rows, bias-corrected or leave-one-out, or ``None`` (default) where it has none.

        Only a family whose in-sample bias is known in closed form, or whose rows are each scored
        without themselves (leave-one-out), may give one: when every fold of a race kept the
        family, its value replaces the held-out mean, which pays for fitting on a fold's training
        rows only. The per-row values must still carry the estimate's sampling noise, as the
        stderr is their standard error unless the readout gives its own.
        """
        return None

    def held_out_readout(self) -> CriticFamily:
        """The family with its :meth:`in_sample_readout` off, for estimates whose rows must all be held out (default: itself, having none)."""
        return self

    def view(self, fold: Fold) -> Fold:
        """The fold as this family sees it: as prepared, or the data as given (:meth:`Fold.rescaled`) for a family that reads it so."""
        return fold if self.scaled else fold.rescaled(None)

    def finalize(self, critic: Critic, fold: Fold) -> Critic:
        """The critic to read out once the family is kept for ``fold`` (default: as fitted; e.g. refit on training and validation rows)."""
        return critic

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
