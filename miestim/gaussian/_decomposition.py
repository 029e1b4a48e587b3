r"""Closed-form invariant / specific / complementary decomposition for Gaussian modalities.

The terms of METHOD.md section 3 generalised to any number (>= 2) of named modalities and an
anchor modality ``a`` (text in the paper). Every term is a sum of MIs and CMIs, so for jointly
Gaussian variables each has an exact value in nats.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validation import check_positive_int
from ._checks import Indices, as_covariance, as_indices, check_disjoint
from ._closed_form import _cmi, _mi
from ._tasks import _check_sample_args

__all__ = ["GaussianDecomposition", "GaussianDecompositionTask", "decomposition"]

_RESERVED = ("C", "F")


@dataclass(frozen=True)
class GaussianDecomposition:
    r"""Exact decomposition terms, in nats, with every underlying MI/CMI value.

    Attributes:
        invariant: :math:`\sum_{m \ne a} I(a; m)` (shared information, "redundancy").
        complementary: :math:`\sum_{m \ne a} I(a; m \mid C)` (joint-only information, "synergy").
        specific: per modality; :math:`I(m; C \mid a) - I(a; m \mid C)` for ``m != a`` and
            :math:`\sum_{m \ne a} [I(a; C \mid m) - I(a; m \mid C)]` for the anchor. May be negative.
        fusion: ``{m: I(F; m)}``; empty when no fused block was given.
        components: every MI/CMI used, keyed by formula, e.g. ``"I(t;a)"``, ``"I(t;a|C)"``,
            ``"I(a;C|t)"``, ``"I(t;C|a)"``, ``"I(F;t)"`` (C is the target, F the fused block).
        anchor: name of the anchor modality.
        units: always ``"nats"``.
    """

    invariant: float
    complementary: float
    specific: dict[str, float]
    fusion: dict[str, float]
    components: dict[str, float]
    anchor: str
    units: str = field(default="nats")

    def terms(self) -> list[tuple[str, float]]:
        """Every term as ``(name, value)``, named as :meth:`miestim.Decomposition.terms`: Inv, Comp, Spec_m..., Fus_m...."""
        rows = [("Inv", self.invariant), ("Comp", self.complementary)]
        return rows + [(f"Spec_{m}", v) for m, v in self.specific.items()] + [(f"Fus_{m}", v) for m, v in self.fusion.items()]


def _check_modalities(modalities: Any, dim: int) -> dict[str, tuple[int, ...]]:
    if not isinstance(modalities, Mapping):
        raise TypeError(f"modalities must be a dict mapping names to index sets, e.g. {{'t': [0], 'a': [1]}}; got {type(modalities).__name__}.")
    if len(modalities) < 2:
        raise ValueError(f"modalities must name at least 2 modalities; got {len(modalities)}: {list(modalities)}.")
    checked = {}
    for name, idx in modalities.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"modalities keys must be non-empty strings; got {name!r}.")
        if name in _RESERVED:
            raise ValueError(
                f"modalities must not use the names {list(_RESERVED)} (reserved for the target C and "
                f"the fused block F in component keys); got {name!r}."
            )
        checked[name] = as_indices(idx, name=f"modalities[{name!r}]", dim=dim)
    return checked


def decomposition(
    cov: Any,
    modalities: Mapping[str, Indices],
    target: Indices,
    *,
    fused: Indices | None = None,
    anchor: str | None = None,
) -> GaussianDecomposition:
    r"""Exact invariant, specific, complementary and fusion information of Gaussian modalities.

    For modalities :math:`m` with anchor :math:`a`, target :math:`C` and fused block :math:`F`,
    all blocks of one Gaussian vector :math:`N(0, \Sigma)`:

    .. math::

        \mathrm{Inv} &= \sum_{m \ne a} I(a; m) \\
        \mathrm{Comp} &= \sum_{m \ne a} I(a; m \mid C) \\
        \mathrm{Spec}_m &= I(m; C \mid a) - I(a; m \mid C) \quad (m \ne a) \\
        \mathrm{Spec}_a &= \sum_{m \ne a} \big[ I(a; C \mid m) - I(a; m \mid C) \big] \\
        \mathrm{Fus}_m &= I(F; m)

    Each MI/CMI is the Gaussian closed form (see :func:`mutual_information` and
    :func:`conditional_mutual_information`). By the chain rule
    :math:`\mathrm{Spec}_m = I(m; C) - I(a; m)`, so specific terms can be negative.

    Args:
        cov: ``(d, d)`` symmetric positive-definite covariance (numpy array or torch tensor).
        modalities: at least 2 named modalities, ``{name: indices}``; names must not be
            ``"C"`` or ``"F"``.
        target: coordinates of the target C.
        fused: coordinates of the fused representation F (default None: no fusion terms).
        anchor: name of the anchor modality (default None: the first in ``modalities``).

    Returns:
        A :class:`GaussianDecomposition` with every term and component in nats.

    Raises:
        TypeError: ``cov`` is not a real matrix, ``modalities`` is not a dict, a modality
            name is not a non-empty string, ``anchor`` is not a string, or an index is not
            an integer.
        ValueError: ``cov`` is not positive definite; fewer than 2 modalities; a reserved
            name; ``anchor`` not among the modalities; an empty, out-of-range or repeated
            index; or two index sets (modalities, target, fused) overlap.

    Example:
        >>> import numpy as np
        >>> cov = np.array([[1.0, 0.5, 0.6], [0.5, 1.0, 0.3], [0.6, 0.3, 1.0]])
        >>> result = decomposition(cov, {"t": [0], "a": [1]}, [2])
        >>> round(result.invariant, 4), sorted(result.components)
        (0.1438, ['I(a;C|t)', 'I(t;C|a)', 'I(t;a)', 'I(t;a|C)'])
    """
    cov = as_covariance(cov)
    d = cov.shape[0]
    blocks = _check_modalities(modalities, d)
    c = as_indices(target, name="target", dim=d)
    f = None if fused is None else as_indices(fused, name="fused", dim=d)
    named = {f"modalities[{k!r}]": v for k, v in blocks.items()}
    named["target"] = c
    if f is not None:
        named["fused"] = f
    check_disjoint(**named)
    if anchor is None:
        anchor = next(iter(blocks))
    elif not isinstance(anchor, str):
        raise TypeError(f"anchor must be a modality name (str) or None; got {type(anchor).__name__}.")
    if anchor not in blocks:
        raise ValueError(f"anchor must be one of the modalities {list(blocks)}; got {anchor!r}.")

    a = blocks[anchor]
    components: dict[str, float] = {}
    specific: dict[str, float] = {}
    invariant = complementary = anchor_specific = 0.0
    for m, idx in blocks.items():
        if m == anchor:
            continue
        shared = components[f"I({anchor};{m})"] = _mi(cov, a, idx)
        synergy = components[f"I({anchor};{m}|C)"] = _cmi(cov, a, idx, c)
        m_given_a = components[f"I({m};C|{anchor})"] = _cmi(cov, idx, c, a)
        a_given_m = components[f"I({anchor};C|{m})"] = _cmi(cov, a, c, idx)
        invariant += shared
        complementary += synergy
        specific[m] = m_given_a - synergy
        anchor_specific += a_given_m - synergy
    specific[anchor] = anchor_specific
    specific = {m: specific[m] for m in blocks}  # modality order
    fusion: dict[str, float] = {}
    if f is not None:
        for m, idx in blocks.items():
            fusion[m] = components[f"I(F;{m})"] = _mi(cov, f, idx)
    return GaussianDecomposition(
        invariant=float(invariant),
        complementary=float(complementary),
        specific={k: float(v) for k, v in specific.items()},
        fusion=fusion,
        components={k: float(v) for k, v in components.items()},
        anchor=anchor,
    )


class GaussianDecompositionTask:
    r"""Gaussian modalities and a target, sampled, with their exact decomposition (see :func:`decomposition`).

    The modalities :math:`m` and the target :math:`C` are blocks of one Gaussian vector
    :math:`V \sim N(0, \Sigma)`; :attr:`decomposition` holds the exact terms, e.g.
    :math:`\mathrm{Inv} = \sum_{m \ne a} I(a; m)`, in nats.

    Args:
        cov: ``(d, d)`` symmetric positive-definite covariance (numpy array or torch tensor).
        modalities: at least 2 named modalities, ``{name: indices}`` (names as in :func:`decomposition`).
        target: coordinates of the target C.
        anchor: the anchor modality (default None: the first in ``modalities``).
        name: display name (default ``"gaussian-decomposition-{names}"``).

    Raises:
        TypeError, ValueError: as :func:`decomposition`.

    Example:
        >>> task = GaussianDecompositionTask.latent_factor(("t", "a"), dim=1, seed=0)
        >>> modalities, target = task.sample(5, 0)
        >>> sorted(modalities), target.shape, [name for name, _ in task.decomposition.terms()]
        (['a', 't'], (5, 1), ['Inv', 'Comp', 'Spec_t', 'Spec_a'])
    """

    def __init__(self, cov: Any, modalities: Mapping[str, Indices], target: Indices, *, anchor: str | None = None, name: str | None = None) -> None:
        self._decomposition = decomposition(cov, modalities, target, anchor=anchor)
        self._cov = as_covariance(cov)
        d = self._cov.shape[0]
        self._blocks = {m: as_indices(idx, name=f"modalities[{m!r}]", dim=d) for m, idx in modalities.items()}
        self._target = as_indices(target, name="target", dim=d)
        self._cholesky = np.linalg.cholesky(self._cov)
        self._name = name if name is not None else f"gaussian-decomposition-{'-'.join(self._blocks)}"

    @classmethod
    def latent_factor(cls, names: Sequence[str], *, dim: int, latent: int = 4, seed: int = 0) -> GaussianDecompositionTask:
        r"""Modalities and target driven by a common Gaussian latent: :math:`m = W_m L + \varepsilon_m`, :math:`C = w^\top L + \varepsilon`.

        :math:`L \sim N(0, I_{latent})`; the loadings :math:`W_m` (``dim x latent``, scale 0.6) and
        :math:`w` (scale 0.5) are drawn once from ``seed``; the noises are standard normal.

        Args:
            names: the modality names (at least 2).
            dim: dimension of each modality (>= 1).
            latent: dimension of the latent (default 4).
            seed: seed of the loadings (default 0).

        Returns:
            A :class:`GaussianDecompositionTask` named ``"latent-factor-{names}-{dim}d"``.
        """
        dim = check_positive_int(dim, name="dim")
        latent = check_positive_int(latent, name="latent")
        rng = np.random.default_rng(check_positive_int(seed, name="seed", minimum=0))
        names = list(names)
        mix = np.vstack([rng.normal(scale=0.6, size=(dim, latent)) for _ in names] + [rng.normal(scale=0.5, size=(1, latent))])
        blocks = {m: list(range(i * dim, (i + 1) * dim)) for i, m in enumerate(names)}
        return cls(mix @ mix.T + np.eye(len(mix)), blocks, [len(names) * dim], name=f"latent-factor-{'-'.join(names)}-{dim}d")

    @property
    def name(self) -> str:
        return self._name

    @property
    def decomposition(self) -> GaussianDecomposition:
        """The exact terms and components, in nats."""
        return self._decomposition

    def sample(self, n: int, seed: int, *, dtype: Any = np.float32) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Draw ``n`` samples; returns ``({name: (n, dim_m)}, target (n, dim_C))``."""
        n, rng, dtype = _check_sample_args(n, seed, dtype)
        joint = rng.standard_normal((n, self._cov.shape[0])) @ self._cholesky.T
        return {m: joint[:, idx].astype(dtype) for m, idx in self._blocks.items()}, joint[:, self._target].astype(dtype)

    def __repr__(self) -> str:
        return f"GaussianDecompositionTask(name={self._name!r}, modalities={list(self._blocks)})"
