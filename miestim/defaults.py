"""The one table of defaults of the one-call estimators: :func:`~miestim.estimate_mi`, the chain rule and :func:`~miestim.decompose`.

Every default below was set from a benchmark record; the entry points read them from here only.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CHAIN_RULE_FAMILIES",
    "CHAIN_RULE_FOLDS",
    "CMINE_SPLIT",
    "CMINE_TRAINING",
    "CROSSFIT_FOLDS",
    "CROSSFIT_TRAINING",
    "NAMED_TRAINING",
    "SPLIT",
    "TRAINED_GAIN_STDERRS",
    "Training",
]


@dataclass(frozen=True)
class Training:
    """How a critic is trained: Adam with batches of ``batch_size`` at rate ``lr`` for at most ``max_steps`` steps,
    scored on validation rows every ``eval_every`` steps (in held-out blocks of at most ``eval_batch_size`` rows),
    stopped after ``patience`` evaluations without improvement."""

    batch_size: int
    lr: float
    max_steps: int
    patience: int
    eval_every: int = 100
    eval_batch_size: int = 4096


#: The named estimators of ``estimate_mi`` (one split).
NAMED_TRAINING = Training(batch_size=256, lr=5e-4, max_steps=3000, patience=5)
#: The trained critic families of every cross-fit: ``estimate_mi(estimator="auto")``, the chain rule of
#: ``estimate_cmi`` and so ``decompose`` (before issue 29 the chain rule trained them with the named estimators'
#: settings). The residual critics start at the Gaussian solution and take larger, fewer steps
#: (``python -m benchmarks auto`` measures them against the issue's targets).
CROSSFIT_TRAINING = Training(batch_size=128, lr=5e-3, max_steps=1500, patience=3)
#: CMINE's classifier (``estimate_cmi(method="cmine")``).
CMINE_TRAINING = Training(batch_size=256, lr=1e-3, max_steps=4000, patience=5)

#: Train / validation / test fractions of a single split; a cross-fit splits each fold's other rows in the ratio of the first two.
SPLIT = (0.7, 0.1, 0.2)
#: CMINE's split: its k-NN product draws come from each split's own rows, so validation and test get more of them.
CMINE_SPLIT = (0.6, 0.2, 0.2)

#: Folds of ``estimate_mi(estimator="auto")``. From the accuracy-versus-time table of docs/estimators.md
#: (``python -m benchmarks auto --folds K``, seeds 0-4): 3 folds meet every target of the benchmark, as 5 do,
#: in 0.6-0.75 of the time (spiral 8.1 s against 12.5 s per estimate).
CROSSFIT_FOLDS = 3
#: The critic families of the chain rule's two MI terms, and of ``decompose``'s MIs: the closed-form Gaussian
#: critics of the normal scores and of the data as given (``miestim.crossfit.FAMILIES``' "gaussian" and "linear").
#: The trained families are left out for time: the race of all four, fold by fold, took 177 s for one term at
#: n = 80,000 (d = 5 chain, one thread; every fold kept the Gaussian critic) against a 60 s budget for both terms.
#: The linear family is what carries a 20-dimensional non-Gaussian Z (``python -m benchmarks cmi-chain --parts
#: additive``); pass ``families=(..., "residual")`` for the residual family too.
CHAIN_RULE_FAMILIES: tuple[str, ...] = ("gaussian", "linear")
#: The chain rule's (and ``decompose``'s) cross-fitting folds: the setting of its records
#: (``python -m benchmarks cmi-chain`` and ``decomposition``).
CHAIN_RULE_FOLDS = 5

#: ``estimate_mi(estimator="auto")`` sets ``result.extra["rests_on_training"]`` when the kept trained family read
#: above every untrained family by more than this many standard errors of the estimate
#: (``python -m benchmarks auto --tasks gaps`` counts how often it fires where the estimate is off by more than 3).
TRAINED_GAIN_STDERRS = 3.0
