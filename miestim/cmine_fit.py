"""CMINE's fit: k-NN product triples per split, a classifier trained on them, its readouts on the test split.

``estimate_cmi(method="cmine")`` checks its inputs and calls :func:`fit_cmine` (or
:func:`correct_knn_bias` with ``knn_correction=True``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import torch

from ._validation import child_seed, make_generator
from .cmine import CMINE, READOUTS
from .conditioning import less_predictable
from .defaults import CMINE_SPLIT, CMINE_TRAINING, Training
from .distributed import all_gather, broadcast_values, get_world_size, rank_slice
from .entry._common import resolve_steps
from .functional.two_sample import clip_logits, two_sample_dv_bound, two_sample_mean_log_ratio, two_sample_nwj_bound
from .heldout import jackknife
from .result import EstimateResult
from .sampling import KNNSampler
from .scaling import Scaler, take_rows
from .training import Split, check_finite_estimate, random_split, seeded_init, train_module

__all__ = ["correct_knn_bias", "fit_cmine", "jackknife_readouts"]

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
    out = {}
    for name, readout in _READOUT_FUNCTIONS.items():

        def statistic(keep: torch.Tensor | None, readout: Callable[..., torch.Tensor] = readout) -> float:
            return float(readout(joint, product) if keep is None else readout(joint[keep], product[keep]))

        out[name] = jackknife(statistic, joint.shape[0], groups=groups, device=joint.device)
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


def _check_k(k: int, sizes: dict[str, int]) -> None:
    name, size = min(sizes.items(), key=lambda item: item[1])
    if k >= size - 1:
        raise ValueError(
            f"k={k} is too large: product triples of each split come from that split only, and the {name} split has "
            f"{size} samples, i.e. {size - 1} candidate neighbours per point; k must be smaller than that. "
            "Use a smaller k or more samples."
        )


def _samplers(z: torch.Tensor, split: Split, *, k: int, generator: torch.Generator, distributed: bool) -> dict[str, KNNSampler]:
    """A k-NN sampler per split on that split's raw ``z`` (the sampler scales its own bank; discrete labels stay integers)."""
    parts = {"training": split.train, "validation": split.validation, "test": split.test}
    _check_k(k, {name: len(idx) for name, idx in parts.items()})
    samplers: dict[str, KNNSampler] = {}
    for name, idx in parts.items():
        sampler_seed = child_seed(generator)
        discrete = None if name == "training" else samplers["training"].discrete_
        try:
            samplers[name] = KNNSampler(z[idx], k=k, discrete=discrete, seed=sampler_seed, distributed=distributed)
        except ValueError as err:
            raise ValueError(f"z of the {name} split: {err}") from None
    return samplers


def _train(
    module: CMINE,
    data: dict[str, tuple[torch.Tensor, ...]],
    sampler: KNNSampler,
    *,
    readout: str,
    training: Training,
    steps: int,
    generator: torch.Generator,
    progress: bool | None,
    distributed: bool,
) -> tuple[CMINE, Any]:
    """Train the classifier on fresh product draws every step, early-stopped on the validation split's fixed draws."""
    (x_tr, y_tr, z_tr), (x_val, y_val, z_val, x_val_product) = data["training"], data["validation"]
    world = get_world_size() if distributed else 1

    def loss(idx: torch.Tensor) -> torch.Tensor:
        # Product draws for the whole global batch on every rank (the generators stay in step);
        # each rank's cross-entropy is weighted by world * its share, so the mean over the ranks
        # is the whole batch's cross-entropy.
        x_product = sampler.product_sample(x_tr, idx, generator=generator)
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

    return train_module(
        module,
        loss,
        validate,
        n_train=x_tr.shape[0],
        training=replace(training, max_steps=steps),
        generator=generator,
        progress=progress,
        description="estimate_cmi[cmine]",
        term="training loss (the CMINE classifier's cross-entropy)",
        distributed=distributed,
    )


def fit_cmine(
    x: torch.Tensor,
    y: torch.Tensor,
    z: torch.Tensor,
    *,
    generator: torch.Generator,
    start: float,
    k: int = 1,
    resample: str = "auto",
    readout: str = "dv",
    hidden: Sequence[int] = (256, 256),
    activation: str = "relu",
    tau: float = 1e-4,
    training: Training = CMINE_TRAINING,
    max_steps: int | None = None,
    max_epochs: int | None = None,
    split: tuple[float, float, float] = CMINE_SPLIT,
    scaler: type[Scaler] | None = None,
    progress: bool | None = None,
    distributed: bool = False,
) -> EstimateResult:
    """``estimate_cmi(method="cmine")`` on checked tensors: the procedure its docstring describes, options as there."""
    init_seed = child_seed(generator)
    split_idx = random_split(x.shape[0], split, generator=generator, min_test=4)
    samplers = _samplers(z, split_idx, k=k, generator=generator, distributed=distributed)
    if resample == "auto":
        resample = "x" if samplers["training"].discrete_ else less_predictable(x, y, z, rows=split_idx.train)
    if resample == "y":
        x, y = y, x
    # Scalers are fitted on the training rows in place; each split is gathered and scaled block by block.
    scalers = [scaler(t, rows=split_idx.train) if scaler is not None else None for t in (x, y, z)]
    parts = {"training": split_idx.train, "validation": split_idx.validation, "test": split_idx.test}
    data = {name: tuple(take_rows(t, rows, s) for t, s in zip((x, y, z), scalers)) for name, rows in parts.items()}
    steps = resolve_steps(max_steps, max_epochs, data["training"][0].shape[0], training.batch_size, default=training.max_steps)
    with seeded_init(init_seed, x.device):
        module = CMINE(x.shape[1], y.shape[1], z.shape[1], hidden=hidden, activation=activation, tau=tau).to(x.device)
    for name in ("validation", "test"):  # product triples drawn once, from the split's own rows
        x_part = data[name][0]
        data[name] = (*data[name], _partners(samplers[name], x_part, torch.arange(x_part.shape[0]), generator))
    module, history = _train(module, data, samplers["training"], readout=readout, training=training, steps=steps, generator=generator,
                             progress=progress, distributed=distributed)  # fmt: skip
    readouts = jackknife_readouts(*_held_out_logits(module, *data["test"], distributed=distributed))
    if distributed:
        names = list(readouts)
        flat = broadcast_values([v for name in names for v in readouts[name]])
        readouts = {name: (flat[2 * i], flat[2 * i + 1]) for i, name in enumerate(names)}
    value, stderr = readouts[readout]
    check_finite_estimate(value, description=f"estimate_cmi[cmine-{readout}]")
    extra: dict[str, Any] = {name: v for name, (v, _) in readouts.items()}
    extra.update(stderrs={name: se for name, (_, se) in readouts.items()}, k=k, resample=resample, discrete_z=samplers["training"].discrete_)
    n_train, n_val, n_test = (data[name][0].shape[0] for name in parts)
    return EstimateResult(value=value, stderr=stderr, history=history, estimator=module, seconds=time.perf_counter() - start,
                          quantity="I(X;Y|Z)", method=f"cmine-{readout}", n_train=n_train, n_validation=n_val, n_test=n_test,
                          extra=extra)  # fmt: skip


def correct_knn_bias(
    x: torch.Tensor, y: torch.Tensor, z: torch.Tensor, *, fit: Callable[..., EstimateResult], seed: int, start: float
) -> EstimateResult:
    r"""CMINE minus CMINE on a surrogate null with the same ``z``: ``estimate_cmi(method="cmine", knn_correction=True)``.

    With :math:`\tilde p(x \mid z)` the k-NN product draw, CMINE's population target is
    :math:`\mathrm{KL}(p(x,y,z) \,\|\, \tilde p(x \mid z) p(y,z)) = I(X;Y \mid Z) + \mathbb E\,\mathrm{KL}(p(x \mid z) \,\|\, \tilde p(x \mid z))`.
    Replacing ``y`` by the ``y`` of each row's nearest neighbour in ``z`` (never itself) keeps ``x``,
    ``z`` and the product draw, and makes X independent of the surrogate given Z, so the same fit on
    the surrogate estimates the second term alone (the roles swap when ``y`` is the redrawn variable).
    ``fit`` is :func:`fit_cmine` with its options bound; both fits draw from ``seed`` (one split and initialisation).
    """
    raw = fit(x, y, z, generator=make_generator(seed), start=time.perf_counter())
    if raw.extra["discrete_z"]:
        raise ValueError("knn_correction applies to a continuous z: a discrete z is resampled exactly within its strata, so there is no k-NN bias.")
    partner = KNNSampler(z, k=1, discrete=False, seed=seed).neighbors_
    assert partner is not None  # continuous mode always builds the table
    partner = partner[:, 0].to(x.device)
    redrawn = raw.extra["resample"]
    xs, ys = (x, y[partner]) if redrawn == "x" else (x[partner], y)
    bias = fit(xs, ys, z, generator=make_generator(seed), start=time.perf_counter(), resample=redrawn)
    readouts = {name: raw.extra[name] - bias.extra[name] for name in READOUTS}
    stderrs = {name: float(torch.tensor([raw.extra["stderrs"][name], bias.extra["stderrs"][name]]).norm()) for name in READOUTS}
    readout = raw.method.removeprefix("cmine-")
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
