"""One-call conditional MI estimation with CMINE: k-NN product triples, a trained classifier, a held-out readout."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import torch

from ._validation import (
    as_sample_matrix,
    check_choice,
    check_consistent_length,
    check_constant_columns,
    check_positive_float,
    check_positive_int,
    make_generator,
    resolve_device,
)
from .cmine import CMINE, READOUTS
from .distributed import all_gather, broadcast_values, check_same_on_every_rank, get_world_size, rank_slice
from .estimate import resolve_distributed, resolve_steps
from .functional.two_sample import clip_logits, logit_bound, two_sample_dv_bound, two_sample_mean_log_ratio, two_sample_nwj_bound
from .result import EstimateResult
from .sampling import KNNSampler
from .training import check_finite_estimate, random_split, resolve_scaler, seeded_init, take_rows, train_module

__all__ = ["estimate_cmi", "jackknife_readouts", "less_predictable"]

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


def estimate_cmi(
    x: Any,
    y: Any,
    z: Any,
    *,
    k: int = 1,
    resample: str = "auto",
    readout: str = "dv",
    hidden: Sequence[int] = (256, 256),
    activation: str = "relu",
    batch_size: int = 256,
    max_steps: int | None = None,
    max_epochs: int | None = None,
    lr: float = 1e-3,
    split: tuple[float, float, float] = (0.6, 0.2, 0.2),
    standardize: bool | str = "rank",
    eval_every: int = 100,
    patience: int = 5,
    tau: float = 1e-4,
    device: torch.device | str | None = None,
    seed: int | None = 0,
    progress: bool | None = None,
    distributed: bool | None = None,
) -> EstimateResult:
    r"""Estimate the conditional mutual information :math:`I(X;Y \mid Z)` in nats with CMINE.

    .. math::

        I(X;Y \mid Z) = \mathrm{KL}\big(p(x,y,z) \,\big\|\, p(x|z)\,p(y|z)\,p(z)\big)

    Procedure: the samples are split at random into train / validation / test, and each
    of ``x``, ``y``, ``z`` is mapped column by column to normal scores with the training
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
        z: ``(n, dz)`` conditioning samples; integer class labels are sampled by stratum.
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
        max_steps: maximum training steps (default 4000); or give ``max_epochs``.
        max_epochs: maximum passes over the training split.
        lr: Adam learning rate (default 1e-3).
        split: train / validation / test fractions (default 0.6 / 0.2 / 0.2).
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
            rank 0's, broadcast, and equals a one-process run's up to float rounding.

    Returns:
        :class:`~miestim.EstimateResult` with ``quantity="I(X;Y|Z)"``, ``value`` and ``stderr``
        in nats, and ``extra = {"dv", "nwj", "mean_log_ratio"`` (test readouts, nats),
        ``"stderrs"`` (their jackknife standard errors), ``"k"``, ``"resample"`` (``"x"`` or
        ``"y"``, as resolved), ``"discrete_z"}``.

    Raises:
        ValueError: mismatched lengths, NaN/Inf, constant columns, more than 2 dimensions,
            too few samples for the split, ``k`` too large for a split, a discrete ``z``
            value occurring once in a split, bad hyper-parameters; ``distributed=True``
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
        >>> res = miestim.estimate_cmi(x, y, z, hidden=(64, 64), max_steps=400, progress=False)
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
    k = check_positive_int(k, name="k")
    resample = check_choice(resample, name="resample", choices=("auto", "x", "y"))
    readout = check_choice(readout, name="readout", choices=READOUTS)
    lr = check_positive_float(lr, name="lr")
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
