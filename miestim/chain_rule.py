r"""Conditional MI as a difference of two cross-fitted MIs on the same folds and rows.

.. math::

    I(X;Y \mid Z) = I(X; Y, Z) - I(X; Z) = I(Y; X, Z) - I(Y; Z)

Both terms are estimated by the cross-fitted estimator of ``estimate_mi(estimator="auto")``
(:func:`~miestim.crossfit.crossfit_rows`) on one set of folds, so every row :math:`i` is held out
in the same fold for both and gets two values :math:`v_i^{(V;W,Z)}` and :math:`v_i^{(V;Z)}`, each
its term's critic score of the row (the per-row term of the mean-log-ratio readout): their means
are the two estimates exactly, so the per-row difference :math:`d_i = v_i^{(V;W,Z)} - v_i^{(V;Z)}` has the
CMI estimate as its mean and :math:`\mathrm{sd}(d)/\sqrt n` as its standard error. The two terms
share the rows' noise and most of their critics' error (the :math:`V`-:math:`Z` part of both is
the same dependence), and the paired difference lets that cancel instead of adding the two
standard errors in quadrature.

For discrete :math:`Z` (class labels) the chain rule is evaluated exactly in :math:`z`:
:math:`I(X; Y, Z) - I(X; Z) = \sum_c p(c)\, I(X; Y \mid Z = c)`, so each stratum's MI is
cross-fitted on that stratum's rows alone and the per-row values are pooled.
"""

from __future__ import annotations

from typing import Any

import torch

from .conditioning import less_predictable
from .critics import Critic
from .crossfit import CriticFamily, FoldReport, crossfit_rows, fold_splits
from .defaults import Training
from .entry._common import crossfit_result, validation_share
from .heldout import summarize_rows
from .result import EstimateResult
from .scaling import RankGaussianizer, Standardizer

__all__ = ["chain_rule_estimate", "chain_rule_rows"]


def chain_rule_rows(
    x: torch.Tensor,
    y: torch.Tensor,
    z: torch.Tensor,
    *,
    variable: str,
    discrete: bool,
    folds: int,
    validation_fraction: float,
    families: tuple[CriticFamily, ...],
    scaler: type[Standardizer | RankGaussianizer] | None,
    training: Training,
    generator: torch.Generator,
    progress: bool | None,
) -> tuple[torch.Tensor, dict[str, Any], list[Critic], list[FoldReport]]:
    r"""Per-row values of the chain-rule CMI estimate, what was computed, the kept critics and the folds' reports.

    Continuous ``z``: with :math:`V` the ``variable`` (``"x"`` or ``"y"``) and :math:`W` the other,
    the rows' values are :math:`v_i^{(V;W,Z)} - v_i^{(V;Z)}` on one draw of
    :func:`~miestim.crossfit.fold_splits`. Discrete ``z``: each stratum's
    :math:`I(X;Y \mid Z=c)` is cross-fitted on its rows (``variable`` is unused).

    Returns:
        ``(n,)`` float64 row values (mean: the estimate, nats), an ``extra`` dict for the
        result, the critics each fold kept and each fold's :class:`~miestim.crossfit.FoldReport`.

    Raises:
        ValueError: too few rows for ``folds`` (for discrete ``z``: in some stratum; the
            message names the stratum).
    """
    n = x.shape[0]
    options: dict[str, Any] = {"families": families, "scaler": scaler, "training": training, "generator": generator, "progress": progress}
    if discrete:
        return _stratified_rows(x, y, z, folds=folds, validation_fraction=validation_fraction, options=options)
    v, w = (x, y) if variable == "x" else (y, x)
    big, small = ("I(X;Y,Z)", "I(X;Z)") if variable == "x" else ("I(Y;X,Z)", "I(Y;Z)")
    splits = fold_splits(n, folds, validation_fraction, generator=generator)
    # Each term's progress bars name the term, not estimate_mi.
    joint_rows, joint_reports, joint_critics = crossfit_rows(v, torch.cat([w, z], dim=1), splits=splits, label=f"estimate_cmi[{big}", **options)
    marginal_rows, marginal_reports, marginal_critics = crossfit_rows(v, z, splits=splits, label=f"estimate_cmi[{small}", **options)
    terms = {big: summarize_rows(joint_rows), small: summarize_rows(marginal_rows)}
    extra = {
        "form": f"{big} - {small}",
        "variable": variable,
        "terms": terms,
        # What the standard error would be if the two terms' errors were independent.
        "quadrature_stderr": float(sum(se**2 for _, se in terms.values()) ** 0.5),
        "families": {big: [r.family for r in joint_reports], small: [r.family for r in marginal_reports]},
        "folds": folds,
        "discrete_z": False,
    }
    return joint_rows - marginal_rows, extra, joint_critics + marginal_critics, joint_reports + marginal_reports


def _stratified_rows(
    x: torch.Tensor, y: torch.Tensor, z: torch.Tensor, *, folds: int, validation_fraction: float, options: dict[str, Any]
) -> tuple[torch.Tensor, dict[str, Any], list[Critic], list[FoldReport]]:
    values = torch.empty(x.shape[0], dtype=torch.float64)
    labels, stratum = torch.unique(z, dim=0, return_inverse=True)
    strata: dict[str, tuple[int, float, float]] = {}
    families: dict[str, list[str]] = {}
    critics: list[Critic] = []
    all_reports: list[FoldReport] = []
    for c in range(labels.shape[0]):
        rows = (stratum == c).nonzero().flatten()
        name = f"z={labels[c].tolist()}"
        try:
            splits = fold_splits(rows.numel(), folds, validation_fraction, generator=options["generator"])
        except ValueError as err:
            raise ValueError(
                f"z is discrete, and the stratum {name} has {rows.numel()} rows: {err} Use fewer folds, merge rare values of z, "
                "or method='cmine' (one classifier for all strata)."
            ) from None
        rows_cpu = rows.cpu()
        stratum_values, reports, kept = crossfit_rows(x[rows], y[rows], splits=splits, label=f"estimate_cmi[I(X;Y|{name})", **options)
        values[rows_cpu] = stratum_values
        strata[name] = (rows.numel(), *summarize_rows(stratum_values))
        families[name] = [r.family for r in reports]
        critics += kept
        all_reports += reports
    extra = {"form": "sum_c p(c) I(X;Y|Z=c)", "variable": None, "strata": strata, "families": families, "folds": folds, "discrete_z": True}
    return values, extra, critics, all_reports


def chain_rule_estimate(
    x: torch.Tensor,
    y: torch.Tensor,
    z: torch.Tensor,
    *,
    discrete: bool,
    folds: int,
    families: tuple[CriticFamily, ...],
    split: tuple[float, ...],
    scaler: Any,
    training: Training,
    generator: torch.Generator,
    progress: bool | None,
    distributed: bool,
    start: float,
) -> EstimateResult:
    """``estimate_cmi(method="chain_rule")`` on checked tensors: the estimate of :func:`chain_rule_rows` as a result."""
    # I(V;W,Z) = I(V;W|Z) + I(V;Z): with V the variable z predicts less, both terms are smaller.
    variable = "x" if discrete else less_predictable(x, y, z, rows=torch.arange(x.shape[0], device=x.device))
    values, extra, critics, reports = chain_rule_rows(
        x,
        y,
        z,
        variable=variable,
        discrete=discrete,
        folds=folds,
        validation_fraction=validation_share(split),
        families=families,
        scaler=scaler,
        training=training,
        generator=generator,
        progress=progress,
    )
    return crossfit_result(
        values,
        reports,
        critics,
        quantity="I(X;Y|Z)",
        method="chain_rule",
        extra=extra,
        start=start,
        distributed=distributed,
        description="estimate_cmi[chain_rule]",
    )
