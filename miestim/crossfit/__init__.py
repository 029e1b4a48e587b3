"""Cross-fitted MI with critic families raced on validation rows: the machinery of ``estimate_mi(estimator="auto")``.

A family (:class:`CriticFamily`) fits a critic on a fold's training rows; the race
(:func:`crossfit_rows`) fits every family on every fold and keeps, per fold, the simplest one
that the best is not significantly better than. A new family subclasses :class:`CriticFamily`
in a module of its own here and is registered in :data:`FAMILIES`.
"""

from __future__ import annotations

from collections.abc import Sequence

from .._validation import check_choice
from .elliptical import EllipticalFamily
from .family import CriticFamily, Fitted, Fold, InSampleReadout, RaceSettings
from .folds import fold_splits
from .gaussian import GaussianFamily, LinearFamily, plug_in_bias
from .ica import ICAFamily, IndependentComponents
from .knn import KNNFamily, split_half_stderr
from .neural import JointFamily, SeparableFamily
from .race import FoldReport, choose, crossfit_rows, in_sample_readout, trained_gain
from .residual import ResidualFamily, StackedResidualCritics

__all__ = [
    "DEFAULT_FAMILIES",
    "EllipticalFamily",
    "FAMILIES",
    "CriticFamily",
    "Fitted",
    "Fold",
    "FoldReport",
    "GaussianFamily",
    "ICAFamily",
    "InSampleReadout",
    "IndependentComponents",
    "JointFamily",
    "KNNFamily",
    "LinearFamily",
    "RaceSettings",
    "ResidualFamily",
    "SeparableFamily",
    "StackedResidualCritics",
    "choose",
    "crossfit_rows",
    "fold_splits",
    "in_sample_readout",
    "plug_in_bias",
    "resolve_families",
    "split_half_stderr",
    "trained_gain",
]

#: The registered families by name, simplest first (the order in which a race given names tries them).
FAMILIES: dict[str, type[CriticFamily]] = {
    "gaussian": GaussianFamily,
    "linear": LinearFamily,
    "ica": ICAFamily,
    "knn": KNNFamily,
    "elliptical": EllipticalFamily,
    "residual": ResidualFamily,
    "joint": JointFamily,
    "separable": SeparableFamily,
}
#: The families raced unless told otherwise, those whose :meth:`~CriticFamily.applies` to the data. The joint and
#: plain separable families are opt-in: trained fold by fold, a joint critic took 39 s per fold at N = 10,000
#: (additive uniform noise: 1.016 of 1.116 nats, where the residual family reads 1.099 in 2 s per fold), and a
#: plain separable critic is the residual family without its Gaussian start. So is the linear family, the chain
#: rule's second: on Gaussian data it is the exact model and beats the normal scores on some folds (2 x 2, N = 1,000,
#: seed 0: one fold of three), and folds that keep different families forgo the bias-corrected in-sample readout.
#: The ica family comes second, a Gaussian copula too: on Gaussian data it reads as the Gaussian family, which is
#: kept as the simpler. The elliptical family comes after the k-NN one: a Gaussian is an elliptical law, and it is fitted in closed form
#: (``python -m benchmarks auto --tasks gaps``).
DEFAULT_FAMILIES = ("gaussian", "ica", "knn", "elliptical", "residual")


def resolve_families(families: Sequence[str | CriticFamily] | None, *, x_dim: int, y_dim: int) -> tuple[CriticFamily, ...]:
    """The families to race, baseline first: as given (names from :data:`FAMILIES` or instances), or the defaults that apply.

    The Gaussian family is the race's baseline: it is put first unless a family of that name is given first already.
    """
    if families is None:
        return tuple(f for f in (FAMILIES[name]() for name in DEFAULT_FAMILIES) if f.applies(x_dim, y_dim))
    if isinstance(families, (str, CriticFamily)) or not isinstance(families, Sequence):
        raise TypeError(f"families must be a sequence of names from {tuple(FAMILIES)} or CriticFamily instances; got {families!r}.")
    resolved: dict[str, CriticFamily] = {"gaussian": GaussianFamily()}
    for family in families:
        if isinstance(family, str):
            name = check_choice(family, name="families", choices=tuple(FAMILIES))
            if name in resolved:
                continue
            family = FAMILIES[name]()
        elif not isinstance(family, CriticFamily):
            raise TypeError(f"families must hold names from {tuple(FAMILIES)} or CriticFamily instances; got {family!r} ({type(family).__name__}).")
        if family.name in resolved and family.name != "gaussian":
            raise ValueError(f"families has two families named {family.name!r}; each family's name must be unique in a race.")
        resolved[family.name] = family
    return tuple(resolved.values())
