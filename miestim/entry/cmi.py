"""``estimate_cmi``: input checks, then the cross-fitted chain rule or CMINE's fit (:mod:`miestim.cmine_fit`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from typing import Any

import torch

from .._validation import (
    as_sample_matrix,
    check_bool,
    check_choice,
    check_consistent_length,
    check_constant_columns,
    check_positive_float,
    check_positive_int,
    make_generator,
    refuse_unused,
    resolve_device,
)
from ..chain_rule import chain_rule_estimate
from ..cmine import READOUTS
from ..cmine_fit import correct_knn_bias, fit_cmine
from ..crossfit import CriticFamily, resolve_families
from ..defaults import CHAIN_RULE_FAMILIES, CHAIN_RULE_FOLDS, CMINE_SPLIT, CMINE_TRAINING, CROSSFIT_TRAINING, SPLIT, Training
from ..distributed import check_same_on_every_rank
from ..functional.two_sample import logit_bound
from ..result import EstimateResult
from ..sampling._knn import is_discrete
from ..scaling import resolve_scaler
from ._common import resolve_distributed, resolve_seed, resolve_steps

__all__ = ["METHODS", "MIN_STRATUM_ROWS_PER_FOLD", "estimate_cmi"]

#: ``method=`` choices of :func:`estimate_cmi`.
METHODS = ("auto", "cmine", "chain_rule")
#: ``method="auto"`` falls back to CMINE when a discrete ``z`` has a stratum of fewer rows than this times ``folds``.
MIN_STRATUM_ROWS_PER_FOLD = 20


def _auto_method(z: torch.Tensor, *, folds: int) -> str:
    """``method="auto"``: the chain rule, unless a discrete ``z`` has a stratum too small to cross-fit alone."""
    if is_discrete(z) and int(torch.unique(z, dim=0, return_counts=True)[1].min()) < MIN_STRATUM_ROWS_PER_FOLD * folds:
        return "cmine"
    return "chain_rule"


def estimate_cmi(
    x: Any,
    y: Any,
    z: Any,
    *,
    method: str = "auto",
    k: int | None = None,
    resample: str | None = None,
    readout: str | None = None,
    hidden: Sequence[int] | None = None,
    activation: str | None = None,
    batch_size: int | None = None,
    max_steps: int | None = None,
    max_epochs: int | None = None,
    lr: float | None = None,
    split: tuple[float, float, float] | None = None,
    standardize: bool | str = "rank",
    eval_every: int = 100,
    patience: int | None = None,
    tau: float | None = None,
    device: torch.device | str | None = None,
    seed: int | None = 0,
    progress: bool | None = None,
    distributed: bool | None = None,
    folds: int | None = None,
    families: Sequence[str | CriticFamily] | None = None,
    knn_correction: bool | None = None,
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
    predicts less (linear :math:`R^2`, :func:`~miestim.conditioning.less_predictable`, on the first 20,000 rows);
    ``extra["form"]`` and ``extra["variable"]`` say which. For discrete ``z`` the chain rule is
    exact in ``z``, :math:`\sum_c p(c)\, I(X; Y \mid Z = c)`: each stratum's MI is cross-fitted
    on its own rows and the rows' values are pooled (``extra["strata"]``). No k-NN sampling is
    involved, so the chain rule has no k-NN bias; its bias is that of the two MI estimates
    (for the Gaussian-copula family: the part of the dependence a Gaussian copula cannot see).

    ``method="auto"`` (default) runs the chain rule, except for a discrete ``z`` with a stratum
    of fewer than :data:`~miestim.entry.cmi.MIN_STRATUM_ROWS_PER_FOLD` x ``folds`` rows (100 with 5 folds), too few to
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
    (:func:`~miestim.cmine_fit.jackknife_readouts`), and ``extra`` holds all three readouts.

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
            ``k``, ``resample``, ``readout``, ``hidden``, ``activation``, ``tau`` and
            ``knn_correction`` are CMINE's and ``folds``, ``families`` the chain rule's; the others
            serve both. An option of the method that does not run is refused (``ValueError``
            naming it), also when ``method="auto"`` chose that method.
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
            training split (:func:`~miestim.conditioning.less_predictable`; ``"x"`` for discrete ``z``, whose
            draw is exact); the choice is reported in ``extra["resample"]``.
        readout: ``"dv"`` (default), ``"nwj"`` or ``"mean_log_ratio"`` (see :class:`~miestim.CMINE`).
        hidden: hidden widths of the classifier MLP (default ``(256, 256)``).
        activation: activation name (default ``"relu"``).
        batch_size: CMINE: joint triples per training step, each with one product triple (default 256);
            chain rule: rows per step of a trained family (default 128, as ``estimate_mi``).
        max_steps: maximum training steps (default 4000 for CMINE, 1500 for each trained critic
            of the chain rule, as ``estimate_mi``); or give ``max_epochs``.
        max_epochs: maximum passes over the training split.
        lr: Adam learning rate (default 1e-3 for CMINE, 5e-3 for the chain rule's critics, as ``estimate_mi``;
            :mod:`miestim.defaults`).
        split: train / validation / test fractions (default 0.6 / 0.2 / 0.2 for CMINE). The
            chain rule cross-fits, so only the ratio of the first two matters there: it splits
            each fold's other rows into training and validation (default 0.7 : 0.1, as
            :func:`~miestim.estimate_mi`).
        standardize: ``"rank"`` (default), ``True`` / ``"zscore"`` or ``False``, as in
            :func:`~miestim.estimate_mi` (the k-NN search always standardises its own ``z`` bank).
        eval_every: steps between validation estimates (default 100).
        patience: validation estimates without improvement before stopping (default 5 for CMINE, 3 for
            the chain rule's critics).
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
            :data:`miestim.crossfit.FAMILIES` or :class:`~miestim.CriticFamily` instances (default
            :data:`miestim.defaults.CHAIN_RULE_FAMILIES`: the closed-form Gaussian critics of the
            normal scores and of the data as given (``"gaussian"``, ``"linear"``), exact in
            model class for data with a Gaussian copula and for X and Y linear in any Z plus
            Gaussian noise, and seconds at n = 80,000 where the race of all four families of
            ``estimate_mi(estimator="auto")`` took minutes per term). On data neither models
            pass ``("gaussian", "linear", "residual")`` to race the residual family too (or
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
    x_t, y_t, z_t = (as_sample_matrix(v, name=name, device=dev) for name, v in (("x", x), ("y", y), ("z", z)))
    n = check_consistent_length(x=x_t, y=y_t, z=z_t)
    for name, tensor in (("x", x_t), ("y", y_t), ("z", z_t)):
        check_constant_columns(tensor, name=name)
    method = check_choice(method, name="method", choices=METHODS)
    cmine = _cmine_options(k=k, resample=resample, readout=readout, hidden=hidden, activation=activation, tau=tau)
    knn_correction = check_bool(False if knn_correction is None else knn_correction, name="knn_correction")
    eval_every = check_positive_int(eval_every, name="eval_every")
    scaler = resolve_scaler(standardize)
    distributed = resolve_distributed(distributed)
    if distributed:
        shapes = {"n": n, "x columns": x_t.shape[1], "y columns": y_t.shape[1], "z columns": z_t.shape[1]}
        check_same_on_every_rank(shapes, what="estimate_cmi's data")
    seed = resolve_seed(seed, distributed=distributed)
    if folds is not None:
        folds = check_positive_int(folds, name="folds", minimum=2)
    chosen = "" if method != "auto" else " (chosen by method='auto')"
    if method == "auto":
        method = _auto_method(z_t, folds=folds or CHAIN_RULE_FOLDS)
    defaults = CMINE_TRAINING if method == "cmine" else CROSSFIT_TRAINING
    batch_size = check_positive_int(defaults.batch_size if batch_size is None else batch_size, name="batch_size", minimum=2)
    training = Training(
        batch_size=batch_size,
        lr=check_positive_float(defaults.lr if lr is None else lr, name="lr"),
        max_steps=defaults.max_steps,
        patience=check_positive_int(defaults.patience if patience is None else patience, name="patience"),
        eval_every=eval_every,
    )
    common: dict[str, Any] = {"scaler": scaler, "progress": progress, "distributed": distributed, "start": start}
    if method == "chain_rule":
        refuse_unused({**cmine, "knn_correction": knn_correction or None}, method=f"the chain rule{chosen}", owner="method='cmine'")
        raced = resolve_families(CHAIN_RULE_FAMILIES if families is None else families, x_dim=x_t.shape[1], y_dim=y_t.shape[1] + z_t.shape[1])
        training = replace(training, max_steps=resolve_steps(max_steps, max_epochs, n, batch_size, default=training.max_steps))
        return chain_rule_estimate(x_t, y_t, z_t, discrete=is_discrete(z_t), folds=folds or CHAIN_RULE_FOLDS, families=raced,
                                   split=SPLIT if split is None else split, training=training, generator=make_generator(seed), **common)  # fmt: skip
    refuse_unused({"folds": folds, "families": families}, method=f"CMINE{chosen}", owner="method='chain_rule'")
    fit: Callable[..., EstimateResult] = partial(fit_cmine, **cmine, training=training, max_steps=max_steps, max_epochs=max_epochs, split=CMINE_SPLIT if split is None else split,
                  **{name: value for name, value in common.items() if name != "start"})  # fmt: skip
    if knn_correction:
        return correct_knn_bias(x_t, y_t, z_t, fit=fit, seed=seed, start=start)
    return fit(x_t, y_t, z_t, generator=make_generator(seed), start=start)


def _cmine_options(**options: Any) -> dict[str, Any]:
    """CMINE's options that were given (not ``None``), checked."""
    given = {name: value for name, value in options.items() if value is not None}
    if "k" in given:
        given["k"] = check_positive_int(given["k"], name="k")
    if "resample" in given:
        given["resample"] = check_choice(given["resample"], name="resample", choices=("auto", "x", "y"))
    if "readout" in given:
        given["readout"] = check_choice(given["readout"], name="readout", choices=READOUTS)
    if "tau" in given:
        logit_bound(given["tau"])
    return given
