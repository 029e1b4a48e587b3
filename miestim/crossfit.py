"""Cross-fitted MI with critic families chosen on validation: the machinery behind ``estimate_mi(estimator="auto")``."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ._validation import warn_shrunk_batch
from .copula import GaussianCopulaCritic, JointResidualCritic, SeparableResidualCritic
from .critics import Critic, SeparableCritic
from .estimators import JS
from .fold_stack import StackedResidualCritics, train_stacked
from .knn_critic import KSGCritic
from .result import TrainingHistory
from .training import RankGaussianizer, Scaler, Standardizer, minibatches, seeded_init, take_rows, train_module

__all__ = ["DEFAULT_FAMILIES", "FAMILIES", "KNN_MAX_DIM", "Budget", "FoldReport", "FoldRows", "crossfit_rows", "fold_splits"]

#: The critic families ``estimate_mi(estimator="auto")`` can choose among, simplest first: of
#: families whose validation scores are alike, the earliest is kept (see ``_choose``).
FAMILIES = ("gaussian", "knn", "residual", "joint", "separable")
#: The families it considers unless told otherwise (``knn`` only up to ``KNN_MAX_DIM``
#: columns). The joint and plain separable families are opt-in: trained fold by fold, a joint
#: critic took 39 s per fold at N = 10,000 (additive uniform noise: 1.016 of 1.116 nats, where
#: the residual family reads 1.099 in 2 s per fold), and a plain separable critic is the
#: residual family without its Gaussian start.
DEFAULT_FAMILIES = ("gaussian", "knn", "residual")
#: Most columns of x and y together for which the default families include the k-NN critic:
#: KSG's bias, and the cost of its neighbour search, grow with the dimension.
KNN_MAX_DIM = 4
#: Product pairs per validation row for the k-NN critic's JS objective (blocks of this many rows
#: plus one): every pair is a neighbour search, so it is not scored against a whole block.
KNN_BLOCK = 64


#: Standard errors by which a family must beat the Gaussian critic on validation rows to be kept.
SELECTION_MARGIN = 2.0
#: Validation rounds after which a neural family that does not beat the Gaussian critic is dropped.
SCREEN_EVALUATIONS = 2
#: The families whose critic is trained with the JS objective (the others are fitted in closed form or not at all).
TRAINED_FAMILIES = ("residual", "joint", "separable")


def _credible(family: str, readout: float, n_train: int) -> bool:
    r"""Whether a family's validation readout (nats) is one its fold's training rows can support.

    A trained critic whose readout exceeds :math:`\log n_{train}` is not kept: with more MI
    than that, every joint pair of a sample of that size lies apart from the product pairs, the
    critic separates them perfectly, and the JS objective no longer pins the scale of its
    scores (d = 1, MI = 10, N = 10,000, seed 0: a residual critic's validation readout of 25.8
    nats). No estimate from N samples can certify more than about :math:`\log N` nats without
    a model of the data (McAllester & Stratos, 2020); the Gaussian critic is such a model and is
    exempt, and the k-NN critic's readout is bounded near :math:`\log n_{train}` by construction.
    """
    return family not in TRAINED_FAMILIES or readout <= math.log(n_train)


@dataclass(frozen=True)
class FoldReport:
    """What one fold of a cross-fitted estimate did.

    Attributes:
        family: the critic family kept (best validation score).
        validation: each family's validation score (the JS classification objective of its
            critic on the fold's validation rows; higher is better); empty when the Gaussian
            critic ran alone, as there was nothing to screen.
        seconds: each family's fitting time.
        n_train, n_validation, n_test: the fold's row counts.
        history: the kept family's training trace (empty for the closed-form Gaussian critic).
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


@dataclass(frozen=True)
class FoldRows:
    """One fold's row indices: its held-out ``test`` rows and the ``train`` / ``validation`` rows of the rest."""

    train: torch.Tensor
    validation: torch.Tensor
    test: torch.Tensor


def fold_splits(n: int, folds: int, validation_fraction: float, *, generator: torch.Generator) -> list[FoldRows]:
    """``folds`` disjoint test folds covering ``range(n)``; the rest of each split into train and validation."""
    order = torch.randperm(n, generator=generator)
    parts = list(order.tensor_split(folds))
    splits = []
    for k, test in enumerate(parts):
        rest = torch.cat([p for j, p in enumerate(parts) if j != k])
        rest = rest[torch.randperm(rest.numel(), generator=generator)]
        n_val = max(2, round(rest.numel() * validation_fraction))
        if rest.numel() - n_val < 2 or test.numel() < 4:
            raise ValueError(f"{n} samples are too few for {folds} folds: a fold has {test.numel()} test and {rest.numel() - n_val} training rows.")
        splits.append(FoldRows(train=rest[n_val:], validation=rest[:n_val], test=test))
    return splits


def _js_rows(critic: Critic, x: torch.Tensor, y: torch.Tensor, block_size: int) -> torch.Tensor:
    r"""Per-row terms of the JS classification objective on held-out rows (their mean is the objective; higher = better critic).

    Row ``i`` contributes :math:`-\operatorname{softplus}(-S_{ii})` minus the mean of
    :math:`\operatorname{softplus}(S)` over its product pairs in its block, so two critics scored
    on the same rows have a paired difference with a standard error.
    """
    n = x.shape[0]
    out = torch.empty(n, dtype=torch.float64)
    with torch.no_grad():
        for idx in torch.arange(n).tensor_split(max(1, -(-n // block_size))):
            scores = critic(x[idx], y[idx]).to(torch.float64).cpu()
            b = idx.numel()
            soft = F.softplus(scores).masked_fill(torch.eye(b, dtype=torch.bool), 0.0)
            out[idx] = -F.softplus(-scores.diagonal()) - (soft.sum(dim=1) + soft.sum(dim=0)) / (2 * (b - 1))
    return out


def _significant_gain(values: torch.Tensor, base: torch.Tensor, margin: float) -> bool:
    """Whether the paired mean of ``values - base`` exceeds ``margin`` of its standard errors."""
    diff = values - base
    return float(diff.mean()) > margin * float(diff.std(correction=1) / math.sqrt(diff.numel()))


def _choose(js_rows: dict[str, torch.Tensor], *, margin: float) -> str:
    """The family to keep: the simplest one (earliest in ``FAMILIES``) that the best validation JS objective does not beat by ``margin`` standard errors.

    The rule of "the simplest model within a few standard errors of the best": the family of
    the best per-row JS objective on the validation rows is kept only if its paired gain over
    every simpler family is significant. A neural critic only as good as the Gaussian one
    estimates the same ratio with more noise, and one only as good as the k-NN critic
    smooths the edges of a ratio that the k-NN critic resolves (additive uniform noise).
    """
    best = max(js_rows, key=lambda f: float(js_rows[f].mean()))
    simplest = sorted(js_rows, key=FAMILIES.index)
    return next(f for f in simplest if f == best or not _significant_gain(js_rows[best], js_rows[f], margin))


@dataclass(frozen=True)
class Budget:
    batch_size: int
    lr: float
    max_steps: int
    eval_every: int
    patience: int
    eval_batch_size: int


def sampled_js_loss(critic: Critic, x: torch.Tensor, y: torch.Tensor, *, negatives: int, generator: torch.Generator) -> torch.Tensor:
    r"""Minus the JS objective with ``negatives`` product pairs per row instead of all :math:`n - 1`.

    Product pair ``(i, (i + s) mod n)`` for ``negatives`` distinct random shifts :math:`s \in [1, n)`:
    a joint critic then scores :math:`n (1 + m)` pairs per step rather than :math:`n^2`.
    """
    n = x.shape[0]
    shifts = torch.randperm(n - 1, generator=generator)[: min(negatives, n - 1)] + 1
    cols = (torch.arange(n).unsqueeze(0) + shifts.unsqueeze(1)) % n
    product = critic.pair_scores(x.repeat(shifts.numel(), 1), y[cols.reshape(-1).to(y.device)])
    return F.softplus(-critic.pair_scores(x, y)).mean() + F.softplus(product).mean()


#: Product pairs per row when training a joint critic.
JOINT_NEGATIVES = 16


def _knn_critic(x: torch.Tensor, y: torch.Tensor, fold: _Fold, rows: torch.Tensor) -> KSGCritic:
    """A fold's k-NN critic with ``rows`` (scaled by the fold's scalers) as its reference rows.

    It is raced with the fold's training rows; once kept, nothing in it being trained, it is
    rebuilt on all of the fold's non-test rows, as a larger reference set lowers KSG's bias.
    """
    return KSGCritic(take_rows(x, rows, fold.sx), take_rows(y, rows, fold.sy))


def _neural_critic(family: str, anchor: GaussianCopulaCritic) -> tuple[Critic, int, int]:
    """A family trained one fold at a time: its critic, training batch size cap and held-out block size (joint critics score every pair)."""
    if family == "joint":
        return JointResidualCritic(anchor), 256, 256
    return SeparableCritic(anchor.x_dim, anchor.y_dim), 256, 4096


def _joint_scores(critic: Critic, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The aligned pairs' scores :math:`f(x_i, y_i)`, float64 on the CPU: each critic's per-row readout."""
    with torch.no_grad():
        return critic.pair_scores(x, y).to(torch.float64).cpu()


def _fit_gaussian(x: torch.Tensor, y: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor) -> GaussianCopulaCritic:
    """The Gaussian-copula critic whose covariance estimate (:meth:`~miestim.copula.GaussianCopulaCritic.candidates`) reads the highest validation MI."""
    candidates = GaussianCopulaCritic.candidates(x, y)
    return max(candidates.values(), key=lambda critic: float(_joint_scores(critic, x_val, y_val).mean()))


@dataclass(frozen=True)
class _Fold:
    """One fold, prepared: its rows and scalers, its scaled validation rows, its Gaussian critic and that critic's per-row validation JS terms."""

    rows: FoldRows
    sx: Scaler | None
    sy: Scaler | None
    x_val: torch.Tensor
    y_val: torch.Tensor
    anchor: GaussianCopulaCritic
    gaussian_rows: torch.Tensor | None
    seconds: float


def _prepare_fold(
    x: torch.Tensor, y: torch.Tensor, rows: FoldRows, scaler: type[Standardizer | RankGaussianizer] | None, *, block: int, screen: bool
) -> _Fold:
    start = time.perf_counter()
    sx = scaler(x, rows=rows.train) if scaler is not None else None
    sy = scaler(y, rows=rows.train) if scaler is not None else None
    x_val, y_val = take_rows(x, rows.validation, sx), take_rows(y, rows.validation, sy)
    anchor = _fit_gaussian(take_rows(x, rows.train, sx), take_rows(y, rows.train, sy), x_val, y_val)
    # The JS rows only screen neural families against the Gaussian critic; alone, it needs none.
    gaussian_rows = _js_rows(anchor, x_val, y_val, block) if screen else None
    return _Fold(rows, sx, sy, x_val, y_val, anchor, gaussian_rows, time.perf_counter() - start)


def _losing(rows: torch.Tensor, fold: _Fold, evaluations: int) -> bool:
    """Whether a neural family's validation rows, after ``evaluations`` rounds, have not beaten the Gaussian critic: the race is lost."""
    assert fold.gaussian_rows is not None, "a fold with neural families is prepared with screen=True"
    return evaluations == SCREEN_EVALUATIONS and not _significant_gain(rows, fold.gaussian_rows, SELECTION_MARGIN)


#: Largest fold training set (rows x columns of x and y) kept scaled in memory for the lockstep residual training.
MATERIALISED_ELEMENTS = 2**24


def _training_rows(x: torch.Tensor, y: torch.Tensor, fold: _Fold) -> Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """A function from batch indices (into the fold's training rows) to the scaled batch.

    Scaling a batch (two binary searches per column for normal scores) costs more than a small
    critic's training step, so a fold's training rows are scaled once when they have at most
    ``MATERIALISED_ELEMENTS`` values; larger ones are gathered and scaled batch by batch, as
    the named estimators do, so that no full-size copy is made.
    """
    train = fold.rows.train
    if train.numel() * (x.shape[1] + y.shape[1]) <= MATERIALISED_ELEMENTS:
        x_train, y_train = take_rows(x, train, fold.sx), take_rows(y, train, fold.sy)
        return lambda idx: (x_train[idx], y_train[idx])
    return lambda idx: (take_rows(x, train[idx], fold.sx), take_rows(y, train[idx], fold.sy))


def _fit_residuals(
    x: torch.Tensor, y: torch.Tensor, prepared: list[_Fold], *, budget: Budget, generator: torch.Generator, progress: bool | None
) -> tuple[list[SeparableResidualCritic], list[TrainingHistory]]:
    """Train every fold's residual critic in lockstep (:class:`~miestim.fold_stack.StackedResidualCritics`), each on its own training rows."""
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    stacked = StackedResidualCritics([fold.anchor for fold in prepared], seed=seed)
    batch_size = warn_shrunk_batch(budget.batch_size, min(fold.rows.train.numel() for fold in prepared))
    streams = [minibatches(fold.rows.train.numel(), batch_size, generator=generator) for fold in prepared]
    sources = [_training_rows(x, y, fold) for fold in prepared]

    def batch() -> tuple[torch.Tensor, torch.Tensor]:
        pairs = [source(next(stream)) for source, stream in zip(sources, streams)]
        return torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])

    last: dict[int, torch.Tensor] = {}

    def validate(k: int, critic: SeparableResidualCritic) -> float:
        last[k] = _js_rows(critic, prepared[k].x_val, prepared[k].y_val, budget.eval_batch_size)
        return float(last[k].mean())

    critics, histories = train_stacked(
        stacked,
        batch,
        validate,
        lr=budget.lr,
        max_steps=budget.max_steps,
        eval_every=budget.eval_every,
        patience=budget.patience,
        progress=progress,
        description=f"estimate_mi[auto: residual, {len(prepared)} folds]",
        drop=lambda k, evaluations: _losing(last[k], prepared[k], evaluations),
    )
    return critics, histories


def _fit_family(
    family: str, x: torch.Tensor, y: torch.Tensor, fold: _Fold, *, budget: Budget, generator: torch.Generator, progress: bool | None, label: str
) -> tuple[Critic, TrainingHistory, int]:
    """Train one neural family on one fold (JS objective, early stopping, screened against the Gaussian critic)."""
    init_seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    with seeded_init(init_seed, x.device):
        critic, batch_cap, block = _neural_critic(family, fold.anchor)
    module = JS(fold.anchor.x_dim, fold.anchor.y_dim, critic=critic.to(x.device), global_batch=False)
    block = min(block, budget.eval_batch_size)
    last: dict[str, torch.Tensor] = {}

    def loss(idx: torch.Tensor) -> torch.Tensor:
        batch = fold.rows.train[idx]
        xb, yb = take_rows(x, batch, fold.sx), take_rows(y, batch, fold.sy)
        if family == "joint":
            return sampled_js_loss(module.critic, xb, yb, negatives=JOINT_NEGATIVES, generator=generator)
        return -module(xb, yb)

    def validate(trained: JS) -> float:
        last["rows"] = _js_rows(trained.critic, fold.x_val, fold.y_val, block)
        return float(last["rows"].mean())

    module, history = train_module(
        module,
        loss,
        validate,
        n_train=fold.rows.train.numel(),
        batch_size=min(budget.batch_size, batch_cap),
        lr=budget.lr,
        max_steps=budget.max_steps,
        eval_every=budget.eval_every,
        patience=budget.patience,
        generator=generator,
        progress=progress,
        description=f"estimate_mi[auto: {family}, {label}]",
        term="training loss (minus the JS objective)",
        stop_if=lambda evaluations: _losing(last["rows"], fold, evaluations),
    )
    return module.critic, history, block


def crossfit_rows(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    splits: list[FoldRows],
    families: tuple[str, ...],
    scaler: type[Standardizer | RankGaussianizer] | None,
    budget: Budget,
    generator: torch.Generator,
    progress: bool | None,
) -> tuple[torch.Tensor, list[FoldReport], list[Critic]]:
    """Per-row held-out values of the cross-fitted estimate, each fold's report, and each fold's kept critic.

    ``splits`` (from :func:`fold_splits`) are passed in rather than drawn here, so that two
    estimates on the same rows (the terms of a chain rule) can share their folds exactly.
    For each fold: fit the scaler and the Gaussian-copula critic on the fold's training rows
    (its covariance estimate chosen on the validation rows); train every neural family with
    the JS objective, early-stopped on the fold's validation rows and dropped after
    ``SCREEN_EVALUATIONS`` rounds unless it beats the Gaussian critic (the residual critics of
    all folds in lockstep, the other families fold by fold); keep the family that ``_choose``
    picks from the validation rows; and read its critic out on the fold's test rows only.

    The readout is each test row's score :math:`f(x_i, y_i)`, so the estimate is the critic's
    mean log density ratio on held-out pairs. The JS objective is maximised by the log density
    ratio itself, so this is the readout whose bias is zero for the exact critic; DV's partition
    estimate is instead dominated by the few product pairs a critic scores far off the joint
    support (a spiral's residual critic: mean log ratio 0.93 of 1.02 nats, DV -14.7).
    """
    values = torch.empty(x.shape[0], dtype=torch.float64)
    challengers = [f for f in families if f != "gaussian"]
    prepared = [_prepare_fold(x, y, rows, scaler, block=budget.eval_batch_size, screen=bool(challengers)) for rows in splits]
    critics: list[dict[str, Critic]] = [{"gaussian": fold.anchor} for fold in prepared]
    histories = [{family: TrainingHistory() for family in ("gaussian", "knn")} for _ in prepared]
    seconds = [{"gaussian": fold.seconds} for fold in prepared]
    blocks = {family: budget.eval_batch_size for family in families} | {"knn": KNN_BLOCK}
    if "knn" in challengers:
        for k, fold in enumerate(prepared):
            start = time.perf_counter()
            critics[k]["knn"] = _knn_critic(x, y, fold, fold.rows.train)
            seconds[k]["knn"] = time.perf_counter() - start
    neural = [f for f in challengers if f != "knn"]
    if "residual" in neural:
        start = time.perf_counter()
        trained, traces = _fit_residuals(x, y, prepared, budget=budget, generator=generator, progress=progress)
        share = (time.perf_counter() - start) / len(prepared)
        for k, (residual, trace) in enumerate(zip(trained, traces)):
            critics[k]["residual"], histories[k]["residual"], seconds[k]["residual"] = residual, trace, share
    for family in (f for f in neural if f != "residual"):
        for k, fold in enumerate(prepared):
            start = time.perf_counter()
            label = f"fold {k + 1}/{len(prepared)}"
            critic, histories[k][family], blocks[family] = _fit_family(
                family, x, y, fold, budget=budget, generator=generator, progress=progress, label=label
            )
            critics[k][family] = critic
            seconds[k][family] = time.perf_counter() - start
    reports, kept = [], []
    for k, fold in enumerate(prepared):
        val_rows = {"gaussian": fold.gaussian_rows} if fold.gaussian_rows is not None else {}
        val_rows |= {name: _js_rows(c, fold.x_val, fold.y_val, blocks[name]) for name, c in critics[k].items() if name != "gaussian"}
        readouts = {name: float(_joint_scores(c, fold.x_val, fold.y_val).mean()) for name, c in critics[k].items()}
        credible = {name: r for name, r in val_rows.items() if _credible(name, readouts[name], fold.rows.train.numel())}
        family = _choose(credible, margin=SELECTION_MARGIN) if challengers else "gaussian"
        if family == "knn":
            critics[k]["knn"] = _knn_critic(x, y, fold, torch.cat([fold.rows.train, fold.rows.validation]))
        rows = fold.rows
        x_test, y_test = take_rows(x, rows.test, fold.sx), take_rows(y, rows.test, fold.sy)
        values[rows.test] = _joint_scores(critics[k][family], x_test, y_test)
        scores = {name: float(r.mean()) for name, r in val_rows.items()}
        reports.append(
            FoldReport(family, scores, seconds[k], rows.train.numel(), rows.validation.numel(), rows.test.numel(), histories[k][family], readouts)
        )
        kept.append(critics[k][family])
    return values, reports, kept
