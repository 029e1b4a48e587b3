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
from .family import CriticFamily, Fitted, Fold, InSampleReadout, RaceSettings

__all__ = [
    "SCREEN_EVALUATIONS",
    "SCREEN_ROWS",
    "SELECTION_MARGIN",
    "FoldReport",
    "choose",
    "crossfit_rows",
    "in_sample_readout",
    "trained_gain",
]

#: Standard errors by which a family must beat a simpler one on validation rows to be kept.
SELECTION_MARGIN = 2.0
#: Validation rounds after which a trained family that does not beat the baseline, or that the best untrained family
#: beats, is dropped.
SCREEN_EVALUATIONS = 2
#: Training rows of the subsample on which a fold with more than twice as many first races its challengers: only
#: the families that win some fold's subsample race are fitted on the full folds. At 1,000,000 rows of 16 + 16
#: Gaussian columns the residual family, losing every fold, had trained on 580,000 rows a fold and been scored
#: on 83,000 validation rows per round (``python -m benchmarks large-data``).
SCREEN_ROWS = 10_000


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
        screened_out: the families that lost the race on a subsample of every fold (see
            :data:`SCREEN_ROWS`) and so were not fitted on the full folds.
    """

    family: str
    validation: dict[str, float]
    seconds: dict[str, float]
    n_train: int
    n_validation: int
    n_test: int
    history: TrainingHistory = field(default_factory=TrainingHistory)
    readout: dict[str, float] = field(default_factory=dict)
    screened_out: tuple[str, ...] = ()


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

    A family that reads below a simpler one already beaten is beaten too, however wide its
    standard error: a Gaussian of Cauchy data as given scores a few rows thousands of nats off,
    which made its paired standard error so wide that it was kept over the elliptical family
    (JS objective -2.42 against -1.14; its readout then put the estimate at -1.8 nats).
    """
    best = max(js_rows, key=lambda f: float(js_rows[f].mean()))
    beaten = -math.inf  # the best JS objective of the simpler families the best one beats
    for family, rows in js_rows.items():
        mean = float(rows.mean())
        if family == best or (mean >= beaten and not _significant_gain(js_rows[best], rows, margin)):
            return family
        beaten = max(beaten, mean)
    return best  # not reached: the loop returns at ``best`` at the latest


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


def _reading_check(kept: str, js_rows: dict[str, torch.Tensor], readouts: dict[str, float], by_name: dict[str, CriticFamily]) -> str:
    """The family to keep once :func:`choose` kept ``kept``: a trained family only if no untrained one reads higher on the validation rows.

    Otherwise the untrained families that read higher are raced by :func:`choose` alone. The JS
    objective charges the k-NN critic for the noise of its per-pair scores, which averages out
    of its readout, so a smooth trained critic can classify better yet miss dependence: a
    JS-trained critic is nearly normalised (mean exp f over product pairs 1.007 for a residual
    critic), so its readout is about a lower bound (Donsker-Varadhan), and one below an
    untrained family's readout shows dependence it missed (additive uniform noise of half-width
    0.75, N = 5,000, seed 0: the residual critic, kept on every fold by its JS objective, read
    0.224-0.252 of 0.333 nats on the validation rows, the k-NN critic 0.275-0.308).
    """
    if not by_name[kept].trained:
        return kept
    above = {name: rows for name, rows in js_rows.items() if not by_name[name].trained and readouts[name] > readouts[kept]}
    return choose(above) if above else kept


def _losing(fold: Fold, rows: torch.Tensor, evaluations: int) -> bool:
    """Whether a trained family's validation rows, after ``evaluations`` rounds, show it will not be kept: the race is lost.

    It is lost when it has not beaten the baseline, or when the best untrained family beats it
    (``fold.reference_rows``): either way it could not be kept.
    """
    assert fold.baseline_rows is not None, "a fold with challengers is prepared with its baseline's rows"
    if evaluations != SCREEN_EVALUATIONS:
        return False
    beaten = fold.reference_rows is not None and _significant_gain(fold.reference_rows, rows, SELECTION_MARGIN)
    return beaten or not _significant_gain(rows, fold.baseline_rows, SELECTION_MARGIN)


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
    seen = baseline.view(fold)
    critic = baseline.fit(*seen.training_rows(), seen.x_val, seen.y_val, generator=generator)
    # The JS rows only screen challengers against the baseline; alone, it needs none.
    baseline_rows = js_rows(critic, seen.x_val, seen.y_val, block_size=block) if screen else None
    return replace(fold, baseline=critic, baseline_rows=baseline_rows), Fitted(critic, seconds=time.perf_counter() - start, seen=seen)


def _validation_rows(family: CriticFamily, critic: Critic, seen: Fold, eval_batch_size: int) -> torch.Tensor:
    """A critic's per-row validation JS terms, on ``seen``: the fold as its family sees it (:meth:`CriticFamily.view`)."""
    return js_rows(critic, seen.x_val, seen.y_val, block_size=family.validation_block(eval_batch_size))


def _fit_all(folds: list[Fold], families: Sequence[CriticFamily], *, generator: torch.Generator, settings: RaceSettings) -> dict[str, list[Fitted]]:
    """Every challenger's critic on every fold: untrained families first, then trained ones (lockstep first) in the order given.

    A trained family goes on training only while it beats the baseline and is not beaten by the
    best untrained family on the fold's validation rows: otherwise it could not be kept, so it
    is dropped after :data:`SCREEN_EVALUATIONS` rounds.
    """
    fitted: dict[str, list[Fitted]] = {}
    folds = list(folds)  # each fold gains its reference rows below; the caller's list is left as it was
    block = settings.training.eval_batch_size
    for family in (f for f in families if not f.trained):
        views = [family.view(fold) for fold in folds]
        fits = family.fit_folds(views, generator=generator, settings=settings)
        fitted[family.name] = [
            replace(fit, validation_rows=_validation_rows(family, fit.critic, seen, block), seen=seen) for fit, seen in zip(fits, views)
        ]
    for k, fold in enumerate(folds):
        scored = [rows for rows in [fold.baseline_rows] + [fits[k].validation_rows for fits in fitted.values()] if rows is not None]
        if scored:
            folds[k] = replace(fold, reference_rows=max(scored, key=lambda rows: float(rows.mean())))
    for family in sorted((f for f in families if f.trained), key=lambda f: not f.lockstep):
        views = [family.view(fold) for fold in folds]
        fits = family.fit_folds(views, generator=generator, settings=settings)
        fitted[family.name] = [replace(fit, seen=seen) for fit, seen in zip(fits, views)]
    return {family.name: fitted[family.name] for family in families}


def _report(fold: Fold, families: Sequence[CriticFamily], fitted: dict[str, Fitted], eval_batch_size: int) -> tuple[FoldReport, Fold]:
    """Score every family's critic on the fold's validation rows, keep one by :func:`choose`, and report (with the fold as the kept family sees it)."""
    by_name = {family.name: family for family in families}
    views = {name: f.seen for name, f in fitted.items() if f.seen is not None}  # every race fit keeps the fold it saw
    baseline = families[0].name
    val_rows = {baseline: fold.baseline_rows} if fold.baseline_rows is not None else {}
    for name, f in fitted.items():
        if name != baseline:
            val_rows[name] = (
                f.validation_rows if f.validation_rows is not None else _validation_rows(by_name[name], f.critic, views[name], eval_batch_size)
            )
    readouts = {name: float(joint_scores(f.critic, views[name].x_val, views[name].y_val).mean()) for name, f in fitted.items()}
    n_train = fold.rows.train.numel()
    credible = {name: r for name, r in val_rows.items() if _credible(by_name[name], readouts[name], n_train)}
    kept = choose(credible) if len(families) > 1 else baseline
    kept = _reading_check(kept, credible, readouts, by_name)
    scores = {name: float(r.mean()) for name, r in val_rows.items()}
    seconds = {name: f.seconds for name, f in fitted.items()}
    rows = fold.rows
    report = FoldReport(kept, scores, seconds, n_train, rows.validation.numel(), rows.test.numel(), fitted[kept].history, readouts)
    return report, views[kept]


def _subsample(rows: Split, size: int) -> Split:
    """A fold's first ``size`` training rows and its validation rows in the same ratio (both are in random order), without test rows."""
    n_validation = max(2, round(rows.validation.numel() * size / rows.train.numel()))
    return Split(rows.train[:size], rows.validation[:n_validation], rows.test[:0])


def _survivors(
    x: torch.Tensor,
    y: torch.Tensor,
    splits: Sequence[Split],
    families: Sequence[CriticFamily],
    scaler: type[Scaler] | None,
    *,
    settings: RaceSettings,
    generator: torch.Generator,
) -> tuple[CriticFamily, ...]:
    """The challengers to fit on the full folds: those that win the race on a subsample of :data:`SCREEN_ROWS` training rows of some fold.

    Every challenger where a fold has at most twice that many training rows: the race is then cheap, and unchanged.
    """
    baseline, *challengers = families
    if not challengers or min(rows.train.numel() for rows in splits) <= 2 * SCREEN_ROWS:
        return tuple(challengers)
    block = baseline.validation_block(settings.training.eval_batch_size)
    subsamples = [_subsample(rows, SCREEN_ROWS) for rows in splits]
    prepared = [_prepare(x, y, rows, scaler, baseline, block=block, screen=True, generator=generator) for rows in subsamples]
    screening = replace(settings, label=f"{settings.label}, screening on {SCREEN_ROWS} rows")
    fitted = _fit_all([fold for fold, _ in prepared], challengers, generator=generator, settings=screening)
    kept = set()
    for k, (fold, base) in enumerate(prepared):
        # Only the choice counts here: the kept critic is not finalized (a refit on the subsample would be thrown away).
        report, _ = _report(fold, families, {baseline.name: base} | {name: f[k] for name, f in fitted.items()}, settings.training.eval_batch_size)
        kept.add(report.family)
    return tuple(family for family in challengers if family.name in kept)


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
    rounds unless it beats the baseline and is not beaten by the best untrained family); keep the family that :func:`choose` picks from the
    validation rows, in the order of ``families`` (simplest first); and read its critic
    (:meth:`~CriticFamily.finalize`) out on the fold's test rows only. Where the folds have more
    than twice :data:`SCREEN_ROWS` training rows, the challengers first race on a subsample of that
    many rows of each fold, and only those that win some fold's subsample are fitted on the full folds.

    The readout is each test row's score :math:`f(x_i, y_i)`, so the estimate is the critic's
    mean log density ratio on held-out pairs. The JS objective is maximised by the log density
    ratio itself, so this is the readout whose bias is zero for the exact critic; DV's partition
    estimate is instead dominated by the few product pairs a critic scores far off the joint
    support (a spiral's residual critic: mean log ratio 0.93 of 1.02 nats, DV -14.7).
    """
    settings = RaceSettings(training=training, progress=progress, screen=_losing, label=label)
    baseline, *challengers = families
    survivors = _survivors(x, y, splits, families, scaler, settings=settings, generator=generator)
    screened_out = tuple(family.name for family in challengers if family not in survivors)
    raced = (baseline, *survivors)
    block = baseline.validation_block(training.eval_batch_size)
    prepared = [_prepare(x, y, rows, scaler, baseline, block=block, screen=bool(survivors), generator=generator) for rows in splits]
    fitted = _fit_all([fold for fold, _ in prepared], survivors, generator=generator, settings=settings)
    values = torch.empty(x.shape[0], dtype=torch.float64)
    reports, kept = [], []
    for k, (fold, base) in enumerate(prepared):
        fold_fits = {baseline.name: base} | {name: f[k] for name, f in fitted.items()}
        report, seen = _report(fold, raced, fold_fits, training.eval_batch_size)
        critic = next(f for f in raced if f.name == report.family).finalize(fold_fits[report.family].critic, seen)
        values[fold.rows.test] = joint_scores(critic, *seen.scaled(fold.rows.test))
        reports.append(replace(report, screened_out=screened_out))
        kept.append(critic)
    return values, reports, kept


def in_sample_readout(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    families: Sequence[CriticFamily],
    reports: Sequence[FoldReport],
    scaler: type[Standardizer | RankGaussianizer] | None,
) -> InSampleReadout | None:
    """The bias-corrected in-sample readout of the family that every fold kept (:meth:`CriticFamily.in_sample_readout`), or ``None``.

    ``None`` when the folds kept different families or the family kept has no such readout.
    The rows are scaled by scalers fitted to all of them, as the family's fit is.
    """
    kept = {report.family for report in reports}
    if len(kept) != 1:
        return None
    family = next(f for f in families if f.name in kept)
    every_row = torch.arange(x.shape[0])
    sx, sy = (scaler(x), scaler(y)) if scaler is not None and family.scaled else (None, None)
    return family.in_sample_readout(take_rows(x, every_row, sx), take_rows(y, every_row, sy))


def trained_gain(reports: Sequence[FoldReport], families: Sequence[CriticFamily]) -> float:
    """How far (nats) a kept trained family read above every untrained one on validation rows, averaged over the folds (0 where none was kept).

    The race's own evidence of how much the estimate rests on training: a trained critic is a
    variational model whose shortfall from the true log ratio is not in the stderr. Untrained
    families (the closed forms and the k-NN critic) are the reference.
    """
    trained = {family.name for family in families if family.trained}
    gains = []
    for report in reports:
        untrained = [value for name, value in report.readout.items() if name not in trained]
        kept = report.readout.get(report.family)
        gains.append(kept - max(untrained) if report.family in trained and kept is not None and untrained else 0.0)
    return sum(gains) / len(gains)
