"""The families trained one fold at a time: a joint critic on ``[x; y]`` and a plain separable critic."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

import torch

from .._validation import child_seed
from ..critics import Critic, GaussianCopulaCritic, JointResidualCritic, SeparableCritic
from ..estimators import JS
from ..functional import sampled_js_objective
from ..heldout import js_rows
from ..result import TrainingHistory
from ..training import seeded_init, train_module
from .family import CriticFamily, Fitted, Fold, RaceSettings
from .gaussian import GaussianFamily

__all__ = ["JointFamily", "SeparableFamily"]


class _FoldByFold(CriticFamily):
    """A family whose critic is trained with the JS objective on each fold in turn, early-stopped on its validation rows.

    Subclasses give :meth:`build` (the untrained critic) and may override :meth:`loss`.
    """

    trained = True
    #: Most rows per training batch, and per validation block: a joint critic scores each pair with a whole MLP.
    batch_cap = 256
    block = 4096

    def build(self, fold: Fold) -> Critic:
        """The untrained critic for ``fold`` (built under a seeded initialisation)."""
        raise NotImplementedError

    def loss(self, module: JS, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The training loss of a batch: minus the JS objective."""
        return -module(x, y)

    def validation_block(self, eval_batch_size: int) -> int:
        return min(self.block, eval_batch_size)

    def fit(self, x_train: torch.Tensor, y_train: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor, *, generator: torch.Generator) -> Critic:
        anchor = GaussianFamily().fit(x_train, y_train, x_val, y_val)
        fold = Fold.from_tensors(x_train, y_train, x_val, y_val, baseline=anchor)
        return self.fit_folds([fold], generator=generator, settings=RaceSettings())[0].critic

    def fit_folds(self, folds: Sequence[Fold], *, generator: torch.Generator, settings: RaceSettings) -> list[Fitted]:
        fitted = []
        for k, fold in enumerate(folds):
            start = time.perf_counter()
            critic, history = self._fit_one(fold, generator=generator, settings=settings, label=f"fold {k + 1}/{len(folds)}")
            fitted.append(Fitted(critic, history, time.perf_counter() - start))
        return fitted

    def _fit_one(self, fold: Fold, *, generator: torch.Generator, settings: RaceSettings, label: str) -> tuple[Critic, TrainingHistory]:
        training, device = settings.training, fold.x_val.device
        with seeded_init(child_seed(generator), device):
            critic = self.build(fold)
        module = JS(fold.x_val.shape[1], fold.y_val.shape[1], critic=critic.to(device), global_batch=False)
        block = self.validation_block(training.eval_batch_size)
        last: dict[str, torch.Tensor] = {}

        def validate(trained: JS) -> float:
            last["rows"] = js_rows(trained.critic, fold.x_val, fold.y_val, block_size=block)
            return float(last["rows"].mean())

        module, history = train_module(
            module,
            lambda idx: self.loss(module, *fold.scaled(fold.rows.train[idx]), generator),
            validate,
            n_train=fold.rows.train.numel(),
            training=replace(training, batch_size=min(training.batch_size, self.batch_cap)),
            generator=generator,
            stop_if=lambda evaluations: settings.losing(fold, last["rows"], evaluations),
            progress=settings.progress,
            description=f"{settings.label}: {self.name}, {label}]",
            term="training loss (minus the JS objective)",
        )
        return module.critic, history


class JointFamily(_FoldByFold):
    r"""The Gaussian-copula critic plus an MLP on ``[x; y]`` (:class:`~miestim.critics.JointResidualCritic`).

    A joint critic scores each pair with the whole MLP, so it is trained on ``negatives`` sampled
    product pairs per row (:func:`~miestim.functional.sampled_js_objective`) rather than all of a
    batch's, and validated in blocks of at most 256 rows.

    Args:
        negatives: product pairs per row in a training batch (default 16).
    """

    name = "joint"
    block = 256

    def __init__(self, negatives: int = 16) -> None:
        self.negatives = negatives

    def build(self, fold: Fold) -> Critic:
        assert isinstance(fold.baseline, GaussianCopulaCritic), "the joint family refines the race's Gaussian-copula baseline"
        return JointResidualCritic(fold.baseline)

    def loss(self, module: JS, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        r"""Minus the JS objective with ``negatives`` product pairs per row: pair ``(i, (i + s) mod n)`` for distinct random shifts :math:`s \in [1, n)`."""
        n = x.shape[0]
        shifts = torch.randperm(n - 1, generator=generator)[: min(self.negatives, n - 1)] + 1
        cols = (torch.arange(n).unsqueeze(0) + shifts.unsqueeze(1)) % n
        product = module.critic.pair_scores(x.repeat(shifts.numel(), 1), y[cols.reshape(-1).to(y.device)])
        return -sampled_js_objective(module.critic.pair_scores(x, y), product)

    def __repr__(self) -> str:
        return f"JointFamily(negatives={self.negatives})"


class SeparableFamily(_FoldByFold):
    """A plain separable critic :math:`g(x)^\\top h(y)` (:class:`~miestim.critics.SeparableCritic`): the residual family without its Gaussian start."""

    name = "separable"

    def build(self, fold: Fold) -> Critic:
        return SeparableCritic(fold.x_val.shape[1], fold.y_val.shape[1])
