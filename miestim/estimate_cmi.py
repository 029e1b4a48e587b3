"""One-call conditional MI estimation: the cross-fitted chain rule, or CMINE (k-NN product triples, a trained classifier)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import torch

from ._validation import (
    as_sample_matrix,
    check_bool,
    check_choice,
    check_consistent_length,
    check_constant_columns,
    check_positive_float,
    check_positive_int,
    make_generator,
    resolve_device,
)
from .chain_rule import chain_rule_rows
from .cmine import CMINE, READOUTS
from .crossfit import CriticFamily, resolve_families
from .defaults import Training
from .distributed import all_gather, broadcast_values, check_same_on_every_rank, get_world_size, rank_slice
from .estimate import crossfit_result, resolve_distributed, resolve_steps, validation_share
from .functional.two_sample import clip_logits, logit_bound, two_sample_dv_bound, two_sample_mean_log_ratio, two_sample_nwj_bound
from .result import EstimateResult
from .sampling import KNNSampler
from .sampling._knn import is_discrete
from .scaling import resolve_scaler, take_rows
from .training import check_finite_estimate, random_split, seeded_init, train_module

__all__ = [
    "CHAIN_RULE_FAMILIES",
    "CHAIN_RULE_FOLDS",
    "METHODS",
    "MIN_STRATUM_ROWS_PER_FOLD",
    "estimate_cmi",
    "jackknife_readouts",
    "less_predictable",
]

#: ``method=`` choices of :func:`estimate_cmi`.
METHODS = ("auto", "cmine", "chain_rule")
#: ``method="auto"`` falls back to CMINE when a discrete ``z`` has a stratum of fewer rows than this times ``folds``.
MIN_STRATUM_ROWS_PER_FOLD = 20
#: The critic families of the chain rule's two MI terms unless ``families`` is given. The race of all
#: four families of ``estimate_mi(estimator="auto")``, trained fold by fold, took 177 s for one term at
#: n = 80,000 (d = 5 chain, one thread; every fold kept the Gaussian critic), against a 60 s budget for
#: both terms, so the closed-form Gaussian-copula critic is the default; pass
#: ``families=("gaussian", "residual")`` for the Gaussian and residual families.
CHAIN_RULE_FAMILIES: tuple[str, ...] = ("gaussian",)
#: The chain rule's cross-fitting folds unless ``folds`` is given: the setting of its records
#: (``python -m benchmarks cmi-chain`` and ``decomposition``).
CHAIN_RULE_FOLDS = 5

# Rows scored per forward pass at evaluation time (bounds activation memory, not the result).
_EVAL_CHUNK = 8192

_READOUT_FUNCTIONS = {
    "dv": two_sample_dv_bound,
    "nwj": two_sample_nwj_bound,
    "mean_log_ratio": lambda joint, product: two_sample_mean_log_ratio(joint),
}


def jackknife_readouts(joint: torch.Tensor, product: torch.Tensor, *, groups: int = 20) -> dict[str, tuple[float, float]]:
    r"""All CMINE readouts on held-out logits with delete-a-group jackknife standard errors.

    The ``n`` anchors are cut into ``G`` contiguous groups; :math:`\hat\theta_{(g)}` is a
    readout recomputed without group ``g`` — its joint logits *and* the product logits of
    its anchors — and

    .. math::  \widehat{\mathrm{se}}^2 = \frac{G-1}{G}\sum_g \big(\hat\theta_{(g)} - \bar\theta\big)^2 .

    The logits are computed once; only the readouts are re-evaluated (in float64).

    Args:
        joint: (n,) logits of the joint triples (already clipped).
        product: (n,) or (n, m) logits of the product triples of each anchor (already clipped).
        groups: number of jackknife groups ``G`` (default 20, at most ``n // 2``); 0 skips the
            standard error (``nan``).

    Returns:
        ``{readout: (value, stderr)}`` for ``"dv"``, ``"nwj"`` and ``"mean_log_ratio"``, in nats.
    """
    joint = joint.detach().to(torch.float64)
    product = product.detach().to(torch.float64).reshape(joint.shape[0], -1)
    n = joint.shape[0]
    out = {}
    for name, readout in _READOUT_FUNCTIONS.items():
        value = float(readout(joint, product))
        if groups == 0:
            out[name] = (value, float("nan"))
            continue
        replicates = []
        for members in torch.arange(n, device=joint.device).tensor_split(min(groups, n // 2)):
            keep = torch.ones(n, dtype=torch.bool, device=joint.device)
            keep[members] = False
            replicates.append(float(readout(joint[keep], product[keep])))
        t = torch.tensor(replicates, dtype=torch.float64)
        g = t.numel()
        out[name] = (value, float(((g - 1) / g * ((t - t.mean()) ** 2).sum()).sqrt()))
    return out


def _held_out_logits(
    module: CMINE, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor, x_product: torch.Tensor, *, distributed: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Clipped logits of the joint triples (n,) and of their product triples (n, m), scored in chunks.

    ``distributed``: each rank scores its share of the rows and the logits are gathered in
    rank order, so every rank holds all of them.
    """
    rows = torch.arange(x.shape[0], device=x.device)
    if distributed:
        rows = rows[rank_slice(x.shape[0])]
    joint, product = [], []
    with torch.no_grad():
        for idx in rows.split(max(1, _EVAL_CHUNK // x_product.shape[1])):
            joint.append(module.logits(x[idx], y[idx], z[idx]))
            product.append(module.product_logits(x_product[idx], y[idx], z[idx]))
    joint_t, product_t = torch.cat(joint), torch.cat(product)
    if distributed:
        joint_t, product_t = all_gather(joint_t), all_gather(product_t)
    return clip_logits(joint_t, module.tau), clip_logits(product_t, module.tau)


def _partners(sampler: KNNSampler, x_bank: torch.Tensor, anchors: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Product partners of the ``anchors`` (bank rows): (batch, k, x_dim), never an anchor's own x.

    Continuous ``z``: the x of each of the anchor's k nearest neighbours (no randomness
    beyond the table's tie-breaks). Discrete ``z``: k uniform draws among the other rows of
    the anchor's stratum, from ``generator``.
    """
    if sampler.neighbors_ is not None:
        return x_bank[sampler.neighbors_[anchors.to(sampler.device_)].to(x_bank.device)]
    return torch.stack([sampler.product_sample(x_bank, anchors, generator=generator) for _ in range(sampler.k)], dim=1)


def less_predictable(x: torch.Tensor, y: torch.Tensor, z: torch.Tensor, *, rows: torch.Tensor, max_rows: int = 20_000) -> str:
    r"""``"x"`` or ``"y"``: the variable that ``z`` predicts less well, i.e. the safer one to redraw.

    A k-NN draw of ``v`` given ``z`` is off by how much :math:`\mathbb E[v \mid z]` moves over
    the distance to the neighbour, relative to the spread of :math:`v \mid z`. For each
    variable the mean over its columns of the linear :math:`R^2` of the column on ``[z, 1]``
    is fitted (float64, the first ``max_rows`` of ``rows``); the variable with the smaller
    :math:`R^2` is returned, ``"x"`` on a tie. Linear :math:`R^2` is a heuristic: it does not
    see a dependence on ``z`` that is not linear.
    """
    rows = rows[:max_rows]
    design = take_rows(z, rows, None).double()
    design = torch.cat([design, torch.ones_like(design[:, :1])], dim=1)

    def r_squared(v: torch.Tensor) -> float:
        target = take_rows(v, rows, None).double()
        target = target - target.mean(dim=0)
        fitted = design @ torch.linalg.lstsq(design, target).solution
        residual = ((target - fitted) ** 2).sum(dim=0)
        return float((1 - residual / (target**2).sum(dim=0)).mean())

    return "y" if r_squared(y) < r_squared(x) else "x"


def _check_k(k: int, sizes: dict[str, int]) -> None:
    name, size = min(sizes.items(), key=lambda item: item[1])
    if k >= size - 1:
        raise ValueError(
            f"k={k} is too large: product triples of each split come from that split only, and the {name} split has "
            f"{size} samples, i.e. {size - 1} candidate neighbours per point; k must be smaller than that. "
            "Use a smaller k or more samples."
        )


def _surrogate_corrected(x: torch.Tensor, y: torch.Tensor, z: torch.Tensor, *, options: dict[str, Any], start: float) -> EstimateResult:
    r"""CMINE minus CMINE on a surrogate null with the same ``z``: ``estimate_cmi(method="cmine", knn_correction=True)``.

    With :math:`\tilde p(x \mid z)` the k-NN product draw, CMINE's population target is
    :math:`\mathrm{KL}(p(x,y,z) \,\|\, \tilde p(x \mid z) p(y,z)) = I(X;Y \mid Z) + \mathbb E\,\mathrm{KL}(p(x \mid z) \,\|\, \tilde p(x \mid z))`.
    Replacing ``y`` by the ``y`` of each row's nearest neighbour in ``z`` (never itself) keeps ``x``,
    ``z`` and the product draw, and makes X independent of the surrogate given Z, so the same fit on
    the surrogate estimates the second term alone (the roles swap when ``y`` is the redrawn variable).
    """
    if options["seed"] is None:  # both fits must share one split and initialisation
        options = {**options, "seed": int(torch.randint(0, 2**62, (1,)))}
    raw = estimate_cmi(x, y, z, method="cmine", **options)
    if raw.extra["discrete_z"]:
        raise ValueError("knn_correction applies to a continuous z: a discrete z is resampled exactly within its strata, so there is no k-NN bias.")
    partner = KNNSampler(z, k=1, discrete=False, seed=options["seed"]).neighbors_
    assert partner is not None  # continuous mode always builds the table
    partner = partner[:, 0].to(x.device)
    redrawn = raw.extra["resample"]
    xs, ys = (x, y[partner]) if redrawn == "x" else (x[partner], y)
    bias = estimate_cmi(xs, ys, z, method="cmine", **{**options, "resample": redrawn})
    readouts = {name: raw.extra[name] - bias.extra[name] for name in READOUTS}
    stderrs = {name: float(torch.tensor([raw.extra["stderrs"][name], bias.extra["stderrs"][name]]).norm()) for name in READOUTS}
    readout = options["readout"]
    extra = {
        **raw.extra,
        **readouts,
        "stderrs": stderrs,
        "uncorrected": {name: raw.extra[name] for name in READOUTS},
        "bias": {name: bias.extra[name] for name in READOUTS},
        "uncorrected_seconds": raw.seconds,
    }
    return replace(
        raw, value=readouts[readout], stderr=stderrs[readout], seconds=time.perf_counter() - start, method=f"{raw.method}-corrected", extra=extra
    )


def _auto_method(z: torch.Tensor, *, discrete: bool, folds: int) -> str:
    """``method="auto"``: the chain rule, unless a discrete ``z`` has a stratum too small to cross-fit alone."""
    if discrete and int(torch.unique(z, dim=0, return_counts=True)[1].min()) < MIN_STRATUM_ROWS_PER_FOLD * folds:
        return "cmine"
    return "chain_rule"


def _chain_rule(
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
    """``estimate_cmi(method="chain_rule")`` on validated tensors (see :mod:`miestim.chain_rule`)."""
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


def estimate_cmi(
    x: Any,
    y: Any,
    z: Any,
    *,
    method: str = "auto",
    k: int = 1,
    resample: str = "auto",
    readout: str = "dv",
    hidden: Sequence[int] = (256, 256),
    activation: str = "relu",
    batch_size: int = 256,
    max_steps: int | None = None,
    max_epochs: int | None = None,
    lr: float | None = None,
    split: tuple[float, float, float] | None = None,
    standardize: bool | str = "rank",
    eval_every: int = 100,
    patience: int = 5,
    tau: float = 1e-4,
    device: torch.device | str | None = None,
    seed: int | None = 0,
    progress: bool | None = None,
    distributed: bool | None = None,
    folds: int | None = None,
    families: Sequence[str | CriticFamily] | None = None,
    knn_correction: bool = False,
) -> EstimateResult:
    r"""Estimate the conditional mutual information :math:`I(X;Y \mid Z)` in nats: chain rule or CMINE.

    .. math::

        I(X;Y \mid Z) = \mathrm{KL}\big(p(x,y,z) \,\big\|\, p(x|z)\,p(y|z)\,p(z)\big)
            = I(X; Y, Z) - I(X; Z) = I(Y; X, Z) - I(Y; Z)

    Chain rule (``method="chain_rule"``): the two MIs of one of the chain-rule forms are
    estimated by the cross-fitted estimator of ``estimate_mi(estimator="auto")`` on one set of
    ``folds`` (:mod:`miestim.chain_rule`): every row is held out once, in the same fold for both
    terms, and scored by critics that neither trained nor stopped on it. With :math:`V` the
    conditioned variable and :math:`W` the other, row :math:`i` gets
    :math:`d_i = v_i^{(V;W,Z)} - v_i^{(V;Z)}`, the difference of its two per-row values (each a
    critic's score :math:`f(x_i, y_i)` of the row, the per-row term of the mean-log-ratio readout);
    ``value`` is :math:`\bar d` and ``stderr``
    :math:`\mathrm{sd}(d)/\sqrt n`, the paired standard error, in which the noise the two terms
    share cancels (``extra["quadrature_stderr"]`` is what adding them in quadrature would
    give). Since :math:`I(V; W, Z) = I(V; W \mid Z) + I(V; Z)`, the form with the smaller
    :math:`I(V; Z)` has the smaller terms: :math:`V` is the variable whose columns ``z``
    predicts less (linear :math:`R^2`, :func:`less_predictable`, on the first 20,000 rows);
    ``extra["form"]`` and ``extra["variable"]`` say which. For discrete ``z`` the chain rule is
    exact in ``z``, :math:`\sum_c p(c)\, I(X; Y \mid Z = c)`: each stratum's MI is cross-fitted
    on its own rows and the rows' values are pooled (``extra["strata"]``). No k-NN sampling is
    involved, so the chain rule has no k-NN bias; its bias is that of the two MI estimates
    (for the Gaussian-copula family: the part of the dependence a Gaussian copula cannot see).

    ``method="auto"`` (default) runs the chain rule, except for a discrete ``z`` with a stratum
    of fewer than :data:`MIN_STRATUM_ROWS_PER_FOLD` x ``folds`` rows (100 with 5 folds), too few to
    cross-fit alone, where it runs CMINE (one classifier for all strata). The rule is measured
    (``python -m benchmarks cmi-chain``, seeds 0-4, table on the "Conditional MI" documentation
    page): on every task the chain rule's mean absolute error was the smallest — d=5 chain at
    n=80,000: -0.05% (worst seed -0.16%), null 0.0004 nats at most, 6 s per estimate; X, Y 3-d with
    a 20-d Z, n=20,000: 2.6% against 46% for CMINE and 9.3% for CMINE with ``knn_correction``; with
    a 50-d Z: 2.9% against 376% and 6.1%. ``result.method`` says which ran: ``"chain_rule"`` or
    ``"cmine-<readout>"``.

    CMINE (``method="cmine"``) draws its product triples by k-NN in ``z``, which biases it
    upward as ``z``'s dimension grows: on a null at n=20,000, +0.002 nats with a 5-d ``z``, +0.08
    with 20-d and +0.13 with 50-d (``knn_correction`` brings each within 0.002): do not use it
    uncorrected beyond about 5 conditioning dimensions. Procedure: the samples are split at
    random into train / validation / test, and each of ``x``, ``y``, ``z`` is mapped column by column to normal scores with the training
    split's empirical CDF (see ``standardize``). Product triples of a split come from that split only: a
    :class:`~miestim.sampling.KNNSampler` is built on the split's ``z`` and triple ``i``
    gets the ``x`` of one of the ``k`` nearest neighbours of ``z_i`` (never its own; for
    discrete ``z`` — few integer values — a uniformly drawn other row with the same ``z``).
    A :class:`~miestim.CMINE` classifier on ``[x; y; z]`` is trained with Adam on balanced
    cross-entropy (fresh product draws every step) with Polyak-averaged weights; every
    ``eval_every`` steps it is scored on the validation split (product triples drawn once) —
    by the readout itself for the DV and NWJ bounds, by its cross-entropy for the mean
    log-ratio, which is no bound — and training stops when that score has not improved for
    ``patience`` evaluations or after ``max_steps``. The classifier of the best validation score is
    evaluated on the test split, whose product triples — ``k`` per test triple, drawn once
    with the seeded generator — come from the test split only. ``value`` is the chosen
    readout there, ``stderr`` its delete-a-group jackknife standard error over test triples
    (:func:`jackknife_readouts`), and ``extra`` holds all three readouts.

    Readouts: the default DV bound is exact in expectation at I = 0 (the normalising term
    cancels any offset of the logits) but its :math:`\log\frac1m\sum_j e^{l_j}` term is
    dominated by the few largest product logits at high CMI. The plug-in mean log-ratio
    :math:`\frac1n\sum_i l(x_i, y_i, z_i)` is not a bound and keeps any offset of a
    miscalibrated classifier (about +0.007 nats on a d=1 null whose DV reads 0.0000 ± 0.0002),
    but has far less variance: on the d=5 Gaussian chain (I = 7.59 nats) DV read 7.5% low with
    stderr 0.50, the mean log-ratio 4.1% high with stderr 0.01 (``python -m benchmarks cmi``).
    :func:`~miestim.decompose` uses the mean log-ratio, since its terms are differences of CMIs.

    Args:
        x: ``(n, dx)`` samples (numpy array or torch tensor; 1-D means ``dx = 1``).
        y: ``(n, dy)`` samples paired row by row with ``x``.
        z: ``(n, dz)`` conditioning samples; integer class labels (at most ``min(50, n // 10)``
            distinct rows) are treated as discrete: stratified by the chain rule, resampled
            within their stratum by CMINE.
        method: ``"auto"`` (default), ``"chain_rule"`` or ``"cmine"`` (see above). The options
            ``k``, ``resample``, ``readout``, ``hidden``, ``activation`` and ``tau`` are CMINE's and
            ``folds``, ``families`` the chain rule's; the others serve both.
        k: neighbours per point for the product triples (default 1: the nearest neighbour,
            hence the least k-NN bias; the MIMRL model uses 2). A larger ``k`` gives more
            distinct product partners per anchor but farther ones; must be smaller than the
            smallest split minus 1. On the d=5 chain, the null I(X;Z|Y) read 0.044 nats with
            ``k=1`` and 0.064 with ``k=2``.
        resample: which variable the product triples redraw from its k-NN conditional given
            ``z``: ``"auto"`` (default), ``"x"`` (as in CMINE) or ``"y"`` (:math:`I(X;Y|Z)` is
            symmetric; with ``"y"`` the classifier scores ``[y; x; z]``). The k-NN draw stands
            in for :math:`p(\cdot \mid z)` only up to the distance to the neighbours, and that
            error biases the estimate *upward* by an amount the stderr does not include. It is
            small when the redrawn variable varies little on that scale, so redraw the variable
            that ``z`` determines least: in the chain X -> Y -> Z, I(X;Z|Y) = 0 reads 2.2 nats
            redrawing X (X given Y has sd 1) and 0.064 nats redrawing Z (Z given Y has sd 5;
            0.044 with ``k=1``) at d=5, n=80,000 (``python -m benchmarks cmi``). ``"auto"``
            redraws the variable with the smaller linear :math:`R^2` on ``z`` over the
            training split (:func:`less_predictable`; ``"x"`` for discrete ``z``, whose
            draw is exact); the choice is reported in ``extra["resample"]``.
        readout: ``"dv"`` (default), ``"nwj"`` or ``"mean_log_ratio"`` (see :class:`~miestim.CMINE`).
        hidden: hidden widths of the classifier MLP (default ``(256, 256)``).
        activation: activation name (default ``"relu"``).
        batch_size: joint triples per training step, each with one product triple (default 256).
        max_steps: maximum training steps (default 4000 for CMINE, 3000 for each neural critic
            of the chain rule); or give ``max_epochs``.
        max_epochs: maximum passes over the training split.
        lr: Adam learning rate (default 1e-3 for CMINE, 5e-4 for the chain rule's critics).
        split: train / validation / test fractions (default 0.6 / 0.2 / 0.2 for CMINE). The
            chain rule cross-fits, so only the ratio of the first two matters there: it splits
            each fold's other rows into training and validation (default 0.7 : 0.1, as
            :func:`~miestim.estimate_mi`).
        standardize: ``"rank"`` (default), ``True`` / ``"zscore"`` or ``False``, as in
            :func:`~miestim.estimate_mi` (the k-NN search always standardises its own ``z`` bank).
        eval_every: steps between validation estimates (default 100).
        patience: validation estimates without improvement before stopping (default 5).
        tau: the classifier probability is clipped to ``[tau, 1 - tau]`` in every readout
            (default 1e-4, i.e. logits to :math:`\pm 9.21`).
        device: where to compute; default: the device of tensor inputs, else CPU.
        seed: seeds the split, neighbour draws, initialisation and batch order (default 0);
            the same seed on CPU gives an identical result. ``None`` draws a fresh seed.
        progress: show a tqdm bar (default: when stderr is a terminal; rank 0 only).
        distributed: run as one of the ranks of a ``torch.distributed`` process group (e.g.
            under ``torchrun``); ``None`` (default): when a group of more than one process is
            initialised. Every rank must pass the same data and options. Every rank then
            holds the same splits and the same k-NN samplers: the bank is replicated and the
            neighbour tables are built in shares (``KNNSampler(distributed=True)``; see the
            "Several processes" page of the documentation); each global training batch of
            ``batch_size`` triples gets its product draws on every rank, and each rank
            computes the cross-entropy of its share, weighted so that the gradients
            averaged over the ranks are the one-process gradient of the whole batch (a
            rank with an empty share contributes zero). The
            validation and test logits are computed in shares and gathered. The result is
            rank 0's, broadcast, and equals a one-process run's up to float rounding. The
            chain rule runs the same computation on every rank and broadcasts rank 0's result.
        knn_correction: CMINE only (default False): subtract CMINE's estimate on a surrogate null
            with the same ``z`` — the variable that is not redrawn replaced by its value at each
            row's nearest neighbour in ``z``, which keeps the product draws and makes the CMI zero,
            so its estimate is the k-NN sampling bias :math:`\mathbb E\,\mathrm{KL}(p(x \mid z) \,\|\,
            \tilde p(x \mid z))` (same seed, split and ``resample``). Costs a second fit.
            ``method`` becomes ``"cmine-<readout>-corrected"``, every readout in ``extra`` is
            corrected, ``extra["uncorrected"]`` and ``extra["bias"]`` hold both fits' readouts
            (``extra["uncorrected_seconds"]`` the first fit's time), and
            the stderrs add in quadrature. Measured in ``python -m benchmarks cmi-chain``: see the
            k-NN bias table of the "Conditional MI" documentation page. Continuous ``z`` only.
        folds: chain rule: cross-fitting folds, at least 2 (default 5).
        families: chain rule: the critic families of both MI terms, from
            :data:`miestim.crossfit.FAMILIES` (default :data:`CHAIN_RULE_FAMILIES`, the
            closed-form Gaussian-copula critic alone: exact in model class for data with a
            Gaussian copula, and seconds at n = 80,000 where the race of all four families of
            ``estimate_mi(estimator="auto")`` took minutes per term). On data whose copula is
            not Gaussian pass ``("gaussian", "residual")`` to race the residual family too (or
            add ``"knn"`` when x, y and z have few columns: an explicit ``"knn"`` runs at any dimension).

    Returns:
        :class:`~miestim.EstimateResult` with ``quantity="I(X;Y|Z)"``, ``value`` and ``stderr``
        in nats. CMINE: ``method="cmine-<readout>"``, ``extra = {"dv", "nwj", "mean_log_ratio"``
        (test readouts, nats), ``"stderrs"`` (their jackknife standard errors), ``"k"``,
        ``"resample"`` (``"x"`` or ``"y"``, as resolved), ``"discrete_z"}``. Chain rule:
        ``method="chain_rule"``, ``row_values`` (the :math:`d_i`, input order), ``extra = {"form"``
        (e.g. ``"I(X;Y,Z) - I(X;Z)"``), ``"variable"`` (``"x"``, ``"y"``, or ``None`` for discrete
        ``z``), ``"terms"`` (``{term: (value, stderr)}``), ``"quadrature_stderr"``, ``"families"``
        (the family each fold kept, per term), ``"folds"``, ``"discrete_z"}``; for discrete ``z``
        ``"strata"`` (``{"z=[c]": (rows, value, stderr)}``) instead of the terms.

    Raises:
        ValueError: mismatched lengths, NaN/Inf, constant columns, more than 2 dimensions,
            too few samples for the split or the folds (for the chain rule with discrete ``z``:
            in a stratum, which the message names), ``k`` too large for a split, a discrete
            ``z`` value occurring once in a split, an unknown ``method`` or family, ``folds`` or
            ``families`` with ``method="cmine"``, bad hyper-parameters; ``distributed=True``
            without a process group, or different data shapes on different ranks.
        TypeError: non-numeric, boolean or complex inputs; hyper-parameters of the wrong type.
        FloatingPointError: the training loss or validation score became NaN/Inf (the
            message names the step; no step is skipped), or the held-out estimate did.

    References:
        S. Molavipour, G. Bassi, M. Skoglund, "Neural Estimators for Conditional Mutual
        Information Using Nearest Neighbors Sampling", IEEE Trans. Signal Process. 69 (2021).

    Example:
        >>> import miestim
        >>> task = miestim.gaussian.GaussianChainTask(1)
        >>> x, y, z = task.sample(4000, seed=0)
        >>> res = miestim.estimate_cmi(x, y, z, families=("gaussian",), progress=False)
        >>> res.method, res.extra["form"], abs(res.value - task.conditional_mutual_information) < 4 * res.stderr
        ('chain_rule', 'I(X;Y,Z) - I(X;Z)', True)
        >>> res = miestim.estimate_cmi(x, y, z, method="cmine", hidden=(64, 64), max_steps=400, progress=False)
        >>> abs(res.value - task.conditional_mutual_information) < 0.4
        True
    """
    start = time.perf_counter()
    dev = resolve_device(device, x, y, z)
    x_t = as_sample_matrix(x, name="x", device=dev)
    y_t = as_sample_matrix(y, name="y", device=dev)
    z_t = as_sample_matrix(z, name="z", device=dev)
    n = check_consistent_length(x=x_t, y=y_t, z=z_t)
    for name, tensor in (("x", x_t), ("y", y_t), ("z", z_t)):
        check_constant_columns(tensor, name=name)
    method = check_choice(method, name="method", choices=METHODS)
    k = check_positive_int(k, name="k")
    resample = check_choice(resample, name="resample", choices=("auto", "x", "y"))
    readout = check_choice(readout, name="readout", choices=READOUTS)
    batch_size = check_positive_int(batch_size, name="batch_size", minimum=2)
    eval_every = check_positive_int(eval_every, name="eval_every")
    patience = check_positive_int(patience, name="patience")
    logit_bound(tau)
    scaler = resolve_scaler(standardize)
    distributed = resolve_distributed(distributed)
    world = get_world_size() if distributed else 1
    if distributed:
        check_same_on_every_rank(
            {"n": n, "x columns": x_t.shape[1], "y columns": y_t.shape[1], "z columns": z_t.shape[1]}, what="estimate_cmi's data"
        )
        if seed is None:
            seed = int(broadcast_values([torch.randint(0, 2**52, (1,)).item()])[0])
    generator = make_generator(seed)
    if folds is not None:
        folds = check_positive_int(folds, name="folds", minimum=2)
    if method != "cmine":
        z_discrete = is_discrete(z_t)
        if method == "auto":
            method = _auto_method(z_t, discrete=z_discrete, folds=folds or CHAIN_RULE_FOLDS)
    if method == "chain_rule":
        return _chain_rule(
            x_t,
            y_t,
            z_t,
            discrete=z_discrete,
            folds=folds or CHAIN_RULE_FOLDS,
            families=resolve_families(CHAIN_RULE_FAMILIES if families is None else families, x_dim=x_t.shape[1], y_dim=y_t.shape[1] + z_t.shape[1]),
            split=(0.7, 0.1, 0.2) if split is None else split,
            scaler=scaler,
            training=Training(
                batch_size=batch_size,
                lr=check_positive_float(5e-4 if lr is None else lr, name="lr"),
                max_steps=resolve_steps(max_steps, max_epochs, n, batch_size, default=3000),
                eval_every=eval_every,
                patience=patience,
                eval_batch_size=4096,
            ),
            generator=generator,
            progress=progress,
            distributed=distributed,
            start=start,
        )
    if folds is not None or families is not None:
        raise ValueError(f"folds and families apply to the chain rule only; method={method!r} runs CMINE, which uses one split. Drop them.")
    if check_bool(knn_correction, name="knn_correction"):
        options = dict(
            k=k, resample=resample, readout=readout, hidden=hidden, activation=activation, batch_size=batch_size, max_steps=max_steps,
            max_epochs=max_epochs, lr=lr, split=split, standardize=standardize, eval_every=eval_every, patience=patience, tau=tau,
            device=dev, seed=seed, progress=progress, distributed=distributed,
        )  # fmt: skip
        return _surrogate_corrected(x_t, y_t, z_t, options=options, start=start)
    lr = check_positive_float(1e-3 if lr is None else lr, name="lr")
    split = (0.6, 0.2, 0.2) if split is None else split
    init_seed = int(torch.randint(0, 2**62, (1,), generator=generator))

    split_idx = random_split(n, split, generator=generator, min_test=4)
    parts = {"training": split_idx.train, "validation": split_idx.validation, "test": split_idx.test}
    _check_k(k, {name: len(idx) for name, idx in parts.items()})
    # Neighbours are searched on the raw z (the sampler scales its own bank; discrete labels stay integers).
    samplers: dict[str, KNNSampler] = {}
    for name, idx in parts.items():
        sampler_seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        discrete = None if name == "training" else samplers["training"].discrete_
        try:
            samplers[name] = KNNSampler(z_t[idx], k=k, discrete=discrete, seed=sampler_seed, distributed=distributed)
        except ValueError as err:
            raise ValueError(f"z of the {name} split: {err}") from None
    if resample == "auto":
        resample = "x" if samplers["training"].discrete_ else less_predictable(x_t, y_t, z_t, rows=split_idx.train)
    if resample == "y":
        x_t, y_t = y_t, x_t
    # Scalers are fitted on the training rows in place; each split is gathered and scaled block by block.
    sx, sy, sz = (scaler(t, rows=split_idx.train) if scaler is not None else None for t in (x_t, y_t, z_t))
    x_tr, y_tr, z_tr = (take_rows(t, split_idx.train, s) for t, s in ((x_t, sx), (y_t, sy), (z_t, sz)))
    x_val, y_val, z_val = (take_rows(t, split_idx.validation, s) for t, s in ((x_t, sx), (y_t, sy), (z_t, sz)))
    x_te, y_te, z_te = (take_rows(t, split_idx.test, s) for t, s in ((x_t, sx), (y_t, sy), (z_t, sz)))

    steps = resolve_steps(max_steps, max_epochs, x_tr.shape[0], batch_size, default=4000)
    with seeded_init(init_seed, dev):
        module = CMINE(x_t.shape[1], y_t.shape[1], z_t.shape[1], hidden=hidden, activation=activation, tau=tau).to(dev)

    x_val_product = _partners(samplers["validation"], x_val, torch.arange(x_val.shape[0]), generator)
    x_te_product = _partners(samplers["test"], x_te, torch.arange(x_te.shape[0]), generator)
    train_sampler = samplers["training"]

    def loss(idx: torch.Tensor) -> torch.Tensor:
        # Product draws for the whole global batch on every rank (the generators stay in step);
        # each rank's cross-entropy is weighted by world * its share, so the mean over the ranks
        # is the whole batch's cross-entropy.
        x_product = train_sampler.product_sample(x_tr, idx, generator=generator)
        if not distributed:
            return module.loss(x_tr[idx], y_tr[idx], z_tr[idx], x_product)
        share = rank_slice(len(idx))
        rows = idx[share]
        if len(rows) == 0:  # more ranks than triples: a zero share of the loss, zero gradients
            return torch.as_tensor(sum(p.sum() for p in module.parameters())) * 0.0
        return module.loss(x_tr[rows], y_tr[rows], z_tr[rows], x_product[share]) * (world * len(rows) / len(idx))

    def validate(trained: CMINE) -> float:
        # A bound readout is itself the stopping score (higher is better). The mean log-ratio is
        # no bound, so it stops on the classifier's cross-entropy, a proper scoring rule.
        if readout == "mean_log_ratio":
            return -float(trained.loss(x_val, y_val, z_val, x_val_product))
        joint, product = _held_out_logits(trained, x_val, y_val, z_val, x_val_product, distributed=distributed)
        return float(_READOUT_FUNCTIONS[readout](joint.double(), product.double()))

    module, history = train_module(
        module,
        loss,
        validate,
        n_train=x_tr.shape[0],
        batch_size=batch_size,
        lr=lr,
        max_steps=steps,
        eval_every=eval_every,
        patience=patience,
        generator=generator,
        progress=progress,
        description="estimate_cmi[cmine]",
        term="training loss (the CMINE classifier's cross-entropy)",
        distributed=distributed,
    )
    readouts = jackknife_readouts(*_held_out_logits(module, x_te, y_te, z_te, x_te_product, distributed=distributed))
    if distributed:
        names = list(readouts)
        flat = broadcast_values([v for name in names for v in readouts[name]])
        readouts = {name: (flat[2 * i], flat[2 * i + 1]) for i, name in enumerate(names)}
    value, stderr = readouts[readout]
    check_finite_estimate(value, description=f"estimate_cmi[cmine-{readout}]")
    extra: dict[str, Any] = {name: v for name, (v, _) in readouts.items()}
    extra.update(stderrs={name: se for name, (_, se) in readouts.items()}, k=k, resample=resample, discrete_z=train_sampler.discrete_)
    return EstimateResult(
        value=value,
        stderr=stderr,
        history=history,
        estimator=module,
        seconds=time.perf_counter() - start,
        quantity="I(X;Y|Z)",
        method=f"cmine-{readout}",
        n_train=x_tr.shape[0],
        n_validation=x_val.shape[0],
        n_test=x_te.shape[0],
        extra=extra,
    )
