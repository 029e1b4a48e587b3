"""Cross-fitted MI with critic families chosen on validation: the machinery behind ``estimate_mi(estimator="auto")``."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from .copula import GaussianCopulaCritic, JointResidualCritic, SeparableResidualCritic
from .critics import Critic, SeparableCritic
from .estimators import JS
from .heldout import dv_rows, row_scores
from .result import TrainingHistory
from .training import RankGaussianizer, Scaler, Standardizer, seeded_init, take_rows, train_module

__all__ = ["FAMILIES", "Budget", "FoldReport", "FoldRows", "crossfit_rows", "fold_splits"]

#: The critic families ``estimate_mi(estimator="auto")`` chooses among, in order of cost.
FAMILIES = ("gaussian", "residual", "joint", "separable")


#: Standard errors by which a family must beat the Gaussian critic on validation rows to be kept.
SELECTION_MARGIN = 2.0
#: Validation rounds after which a neural family that does not beat the Gaussian critic is dropped.
SCREEN_EVALUATIONS = 2


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
        readout: each family's MI readout on the validation rows (nats).
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


def _choose(js_rows: dict[str, torch.Tensor], readouts: dict[str, float], *, margin: float) -> str:
    """The family to keep: the highest validation readout among the Gaussian critic and the families that beat it.

    A family is eligible when its paired gain in the JS objective over the Gaussian critic on
    the validation rows exceeds ``margin`` standard errors (a neural critic only as good as
    the Gaussian reads out with more noise); among the eligible, the higher MI readout on
    the same rows wins, since each readout is a lower bound of the MI for its critic.
    """
    eligible = [f for f in js_rows if f == "gaussian" or _significant_gain(js_rows[f], js_rows["gaussian"], margin)]
    return max(eligible, key=lambda f: readouts[f])


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


def _neural_critic(family: str, anchor: GaussianCopulaCritic) -> tuple[Critic, int, int]:
    """The family's critic, its training batch size cap and held-out block size (joint critics score every pair)."""
    if family == "residual":
        return SeparableResidualCritic(anchor), 256, 4096
    if family == "joint":
        return JointResidualCritic(anchor), 256, 256
    return SeparableCritic(anchor.x_dim, anchor.y_dim), 256, 4096


def _joint_scores(critic: Critic, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The aligned pairs' scores :math:`f(x_i, y_i)`, float64 on the CPU: the Gaussian critic's readout needs no partition."""
    with torch.no_grad():
        return critic.pair_scores(x, y).to(torch.float64).cpu()


def _fit_gaussian(x: torch.Tensor, y: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor) -> GaussianCopulaCritic:
    """The Gaussian-copula critic whose covariance estimate (:meth:`~miestim.copula.GaussianCopulaCritic.candidates`) reads the highest validation MI."""
    candidates = GaussianCopulaCritic.candidates(x, y)
    return max(candidates.values(), key=lambda critic: float(_joint_scores(critic, x_val, y_val).mean()))


@dataclass(frozen=True)
class _Fold:
    """One fold's data: the full inputs, its training rows and scalers, and its scaled validation rows."""

    x: torch.Tensor
    y: torch.Tensor
    train: torch.Tensor
    sx: Scaler | None
    sy: Scaler | None
    x_val: torch.Tensor
    y_val: torch.Tensor
    gaussian_rows: torch.Tensor


def _fit_family(
    family: str, anchor: GaussianCopulaCritic, fold: _Fold, *, budget: Budget, generator: torch.Generator, progress: bool | None, label: str
) -> tuple[Critic, TrainingHistory, int]:
    """Train one neural family on the fold (JS objective, early stopping, screened against the Gaussian critic)."""
    init_seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    with seeded_init(init_seed, fold.x.device):
        critic, batch_cap, block = _neural_critic(family, anchor)
    module = JS(anchor.x_dim, anchor.y_dim, critic=critic.to(fold.x.device), global_batch=False)
    block = min(block, budget.eval_batch_size)
    last: dict[str, torch.Tensor] = {}

    def loss(idx: torch.Tensor) -> torch.Tensor:
        batch = fold.train[idx]
        xb, yb = take_rows(fold.x, batch, fold.sx), take_rows(fold.y, batch, fold.sy)
        if family == "joint":
            return sampled_js_loss(module.critic, xb, yb, negatives=JOINT_NEGATIVES, generator=generator)
        return -module(xb, yb)

    def validate(trained: JS) -> float:
        last["rows"] = _js_rows(trained.critic, fold.x_val, fold.y_val, block)
        return float(last["rows"].mean())

    def losing(evaluations: int) -> bool:
        return evaluations == SCREEN_EVALUATIONS and not _significant_gain(last["rows"], fold.gaussian_rows, SELECTION_MARGIN)

    module, history = train_module(
        module,
        loss,
        validate,
        n_train=fold.train.numel(),
        batch_size=min(budget.batch_size, batch_cap),
        lr=budget.lr,
        max_steps=budget.max_steps,
        eval_every=budget.eval_every,
        patience=budget.patience,
        generator=generator,
        progress=progress,
        description=f"estimate_mi[auto: {family}, {label}]",
        term="training loss (minus the JS objective)",
        stop_if=losing,
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
    (its covariance estimate chosen on the validation rows), train every neural family (JS
    objective, early stopping on the fold's validation rows, dropped after
    ``SCREEN_EVALUATIONS`` rounds unless it beats the Gaussian critic), keep the family
    that ``_choose`` picks from the validation rows, and read its critic out on the fold's
    test rows only (:func:`~miestim.heldout.dv_rows`, against the Gaussian partition for
    critics anchored on it; the mean log ratio for the Gaussian critic itself).
    """
    values = torch.empty(x.shape[0], dtype=torch.float64)
    reports, kept = [], []
    folds = len(splits)
    for k, rows in enumerate(splits):
        sx = scaler(x, rows=rows.train) if scaler is not None else None
        sy = scaler(y, rows=rows.train) if scaler is not None else None
        x_val, y_val = take_rows(x, rows.validation, sx), take_rows(y, rows.validation, sy)
        start = time.perf_counter()
        anchor = _fit_gaussian(take_rows(x, rows.train, sx), take_rows(y, rows.train, sy), x_val, y_val)
        critics: dict[str, Critic] = {"gaussian": anchor}
        blocks: dict[str, int] = {"gaussian": budget.eval_batch_size}
        # The JS rows only screen neural families against the Gaussian critic; alone, it needs none.
        neural = [f for f in families if f != "gaussian"]
        val_rows = {"gaussian": _js_rows(anchor, x_val, y_val, budget.eval_batch_size)} if neural else {}
        seconds = {"gaussian": time.perf_counter() - start}
        histories = {"gaussian": TrainingHistory()}
        for family in neural:
            start = time.perf_counter()
            fold = _Fold(x, y, rows.train, sx, sy, x_val, y_val, val_rows["gaussian"])
            critic, histories[family], block = _fit_family(
                family, anchor, fold, budget=budget, generator=generator, progress=progress, label=f"fold {k + 1}/{folds}"
            )
            critics[family], blocks[family] = critic, block
            val_rows[family] = _js_rows(critic, x_val, y_val, block)
            seconds[family] = time.perf_counter() - start
        readouts = {name: float(_readout(c, anchor, x_val, y_val, blocks[name]).mean()) for name, c in critics.items()}
        family = _choose(val_rows, readouts, margin=SELECTION_MARGIN) if neural else "gaussian"
        scores = {name: float(per_row.mean()) for name, per_row in val_rows.items()}
        x_test, y_test = take_rows(x, rows.test, sx), take_rows(y, rows.test, sy)
        values[rows.test] = _readout(critics[family], anchor, x_test, y_test, blocks[family])
        reports.append(
            FoldReport(family, scores, seconds, rows.train.numel(), rows.validation.numel(), rows.test.numel(), histories[family], readouts)
        )
        kept.append(critics[family])
    return values, reports, kept


def _readout(critic: Critic, anchor: GaussianCopulaCritic, x: torch.Tensor, y: torch.Tensor, block: int) -> torch.Tensor:
    if critic is anchor:
        # A normalised density ratio of the fitted model: its mean log ratio is the model's held-out MI.
        return _joint_scores(critic, x, y)
    joint, log_z = row_scores(critic, x, y, block_size=block)
    anchored = isinstance(critic, (SeparableResidualCritic, JointResidualCritic))
    return dv_rows(joint, log_z, anchor_log_z=row_scores(anchor, x, y, block_size=block)[1] if anchored else None)
