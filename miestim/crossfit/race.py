"""The race: every family fitted on every fold, the simplest one not beaten on validation kept, read out on held-out rows.

It asks of a family only what :class:`~miestim.crossfit.family.CriticFamily` promises, so it
names none: the first family given is the baseline that trained families must beat.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import torch

from ..critics import Critic
from ..defaults import Training
from ..heldout import joint_scores, js_rows
from ..result import TrainingHistory
from ..scaling import RankGaussianizer, Scaler, Standardizer, take_rows
from ..training import Split
from .family import CriticFamily, Fitted, Fold, RaceSettings

__all__ = ["SCREEN_EVALUATIONS", "SELECTION_MARGIN", "FoldReport", "choose", "crossfit_rows"]

#: Standard errors by which a family must beat a simpler one on validation rows to be kept.
SELECTION_MARGIN = 2.0
#: Validation rounds after which a trained family that does not beat the baseline is dropped.
SCREEN_EVALUATIONS = 2


@dataclass(frozen=True)
class FoldReport:
    """What one fold of a cross-fitted estimate did.

    Attributes:
        family: the name of the critic family kept.
        validation: each family's validation score (the JS classification objective of its
            critic on the fold's validation rows; higher is better); empty when the baseline
            raced alone, as there was nothing to screen.
        seconds: each family's fitting time.
        n_train, n_validation, n_test: the fold's row counts.
        history: the kept family's training trace (empty for a family that trains nothing).
        readout: each family's readout on the validation rows: its mean log density ratio (nats).
    """

    family: str
    validation: dict[str, float]
    seconds: dict[str, float]
    n_train: int
    n_validation: int
    n_test: int
    history: TrainingHistory = field(default_factory=TrainingHistory)
    readout: dict[str, float] = field(default_factory=dict)


def _significant_gain(values: torch.Tensor, base: torch.Tensor, margin: float) -> bool:
    """Whether the paired mean of ``values - base`` exceeds ``margin`` of its standard errors."""
    diff = values - base
    return float(diff.mean()) > margin * float(diff.std(correction=1) / math.sqrt(diff.numel()))


def choose(js_rows: dict[str, torch.Tensor], *, margin: float = SELECTION_MARGIN) -> str:
    """The family to keep: the simplest one (earliest in ``js_rows``) that the best validation JS objective does not beat by ``margin`` standard errors.

    The rule of "the simplest model within a few standard errors of the best": the family of
    the best per-row JS objective on the validation rows is kept only if its paired gain over
    every simpler family is significant. A neural critic only as good as the Gaussian one
    estimates the same ratio with more noise, and one only as good as the k-NN critic
    smooths the edges of a ratio that the k-NN critic resolves (additive uniform noise).
    """
    best = max(js_rows, key=lambda f: float(js_rows[f].mean()))
    return next(f for f in js_rows if f == best or not _significant_gain(js_rows[best], js_rows[f], margin))


def _credible(family: CriticFamily, readout: float, n_train: int) -> bool:
    r"""Whether a family's validation readout (nats) is one its fold's training rows can support.

    A trained critic whose readout exceeds :math:`\log n_{train}` is not kept: with more MI
    than that, every joint pair of a sample of that size lies apart from the product pairs, the
    critic separates them perfectly, and the JS objective no longer pins the scale of its
    scores (d = 1, MI = 10, N = 10,000, seed 0: a residual critic's validation readout of 25.8
    nats). No estimate from N samples can certify more than about :math:`\log N` nats without
    a model of the data (McAllester & Stratos, 2020); an untrained family (the Gaussian critic,
    a model; the k-NN critic, bounded near :math:`\log n_{train}` by construction) is exempt.
    """
    return not family.trained or readout <= math.log(n_train)


def _losing(fold: Fold, rows: torch.Tensor, evaluations: int) -> bool:
    """Whether a trained family's validation rows, after ``evaluations`` rounds, have not beaten the baseline: the race is lost."""
    assert fold.baseline_rows is not None, "a fold with challengers is prepared with its baseline's rows"
    return evaluations == SCREEN_EVALUATIONS and not _significant_gain(rows, fold.baseline_rows, SELECTION_MARGIN)


def _prepare(
    x: torch.Tensor,
    y: torch.Tensor,
    rows: Split,
    scaler: type[Scaler] | None,
    baseline: CriticFamily,
    *,
    block: int,
    screen: bool,
    generator: torch.Generator,
) -> tuple[Fold, Fitted]:
    """One fold's scalers (fitted on its training rows), scaled validation rows and baseline critic with its per-row JS terms."""
    start = time.perf_counter()
    sx = scaler(x, rows=rows.train) if scaler is not None else None
    sy = scaler(y, rows=rows.train) if scaler is not None else None
    fold = Fold(x, y, rows, sx, sy, take_rows(x, rows.validation, sx), take_rows(y, rows.validation, sy))
    critic = baseline.fit(*fold.training_rows(), fold.x_val, fold.y_val, generator=generator)
    # The JS rows only screen challengers against the baseline; alone, it needs none.
    baseline_rows = js_rows(critic, fold.x_val, fold.y_val, block_size=block) if screen else None
    return replace(fold, baseline=critic, baseline_rows=baseline_rows), Fitted(critic, seconds=time.perf_counter() - start)


def _fit_all(folds: list[Fold], families: Sequence[CriticFamily], *, generator: torch.Generator, settings: RaceSettings) -> dict[str, list[Fitted]]:
    """Every challenger's critic on every fold; families trained in lockstep first, then the others in the order given."""
    fitted = {}
    for family in sorted(families, key=lambda f: not f.lockstep):
        fitted[family.name] = family.fit_folds(folds, generator=generator, settings=settings)
    return {family.name: fitted[family.name] for family in families}


def _report(fold: Fold, families: Sequence[CriticFamily], fitted: dict[str, Fitted], eval_batch_size: int) -> tuple[FoldReport, Critic]:
    """Score every family's critic on the fold's validation rows, keep one by :func:`choose`, and report."""
    by_name = {family.name: family for family in families}
    baseline = families[0].name
    val_rows = {baseline: fold.baseline_rows} if fold.baseline_rows is not None else {}
    val_rows |= {
        name: js_rows(f.critic, fold.x_val, fold.y_val, block_size=by_name[name].validation_block(eval_batch_size))
        for name, f in fitted.items()
        if name != baseline
    }
    readouts = {name: float(joint_scores(f.critic, fold.x_val, fold.y_val).mean()) for name, f in fitted.items()}
    n_train = fold.rows.train.numel()
    credible = {name: r for name, r in val_rows.items() if _credible(by_name[name], readouts[name], n_train)}
    kept = choose(credible) if len(families) > 1 else baseline
    scores = {name: float(r.mean()) for name, r in val_rows.items()}
    seconds = {name: f.seconds for name, f in fitted.items()}
    rows = fold.rows
    report = FoldReport(kept, scores, seconds, n_train, rows.validation.numel(), rows.test.numel(), fitted[kept].history, readouts)
    return report, by_name[kept].finalize(fitted[kept].critic, fold)


def crossfit_rows(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    splits: Sequence[Split],
    families: Sequence[CriticFamily],
    scaler: type[Standardizer | RankGaussianizer] | None,
    training: Training,
    generator: torch.Generator,
    progress: bool | None,
    label: str = "estimate_mi[auto",
) -> tuple[torch.Tensor, list[FoldReport], list[Critic]]:
    """Per-row held-out values of the cross-fitted estimate, each fold's report, and each fold's kept critic.

    ``splits`` (from :func:`~miestim.crossfit.fold_splits`) are passed in rather than drawn
    here, so that two estimates on the same rows (the terms of a chain rule) can share their
    folds exactly. For each fold: fit the scaler and the baseline (``families[0]``) on the
    fold's training rows; fit every other family (:meth:`~CriticFamily.fit_folds`; a trained
    one early-stopped on the fold's validation rows and dropped after ``SCREEN_EVALUATIONS``
    rounds unless it beats the baseline); keep the family that :func:`choose` picks from the
    validation rows, in the order of ``families`` (simplest first); and read its critic
    (:meth:`~CriticFamily.finalize`) out on the fold's test rows only.

    The readout is each test row's score :math:`f(x_i, y_i)`, so the estimate is the critic's
    mean log density ratio on held-out pairs. The JS objective is maximised by the log density
    ratio itself, so this is the readout whose bias is zero for the exact critic; DV's partition
    estimate is instead dominated by the few product pairs a critic scores far off the joint
    support (a spiral's residual critic: mean log ratio 0.93 of 1.02 nats, DV -14.7).
    """
    baseline, *challengers = families
    block = baseline.validation_block(training.eval_batch_size)
    prepared = [_prepare(x, y, rows, scaler, baseline, block=block, screen=bool(challengers), generator=generator) for rows in splits]
    folds = [fold for fold, _ in prepared]
    settings = RaceSettings(training=training, progress=progress, screen=_losing, label=label)
    fitted = _fit_all(folds, challengers, generator=generator, settings=settings)
    values = torch.empty(x.shape[0], dtype=torch.float64)
    reports, kept = [], []
    for k, (fold, base) in enumerate(prepared):
        report, critic = _report(fold, families, {baseline.name: base} | {name: f[k] for name, f in fitted.items()}, training.eval_batch_size)
        values[fold.rows.test] = joint_scores(critic, *fold.scaled(fold.rows.test))
        reports.append(report)
        kept.append(critic)
    return values, reports, kept
