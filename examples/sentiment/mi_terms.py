r"""The 11 MI / CMI estimators of MIMRL and the 8 information terms they compose.

Representations: :math:`h_t, h_a, h_v` (modalities), :math:`h_f` (fusion), C the label as a
1-D variable. Estimators (all from :mod:`miestim`'s public API, nats):

- 5 MI bounds (InfoNCE by default, separable critics): I(F;T), I(F;A), I(F;V), I(T;A), I(T;V).
- 6 CMINE classifiers with k-NN product sampling: I(A;C|T), I(T;A|C), I(V;C|T), I(T;V|C),
  I(T;C|A), I(T;C|V). For I(X;Y|Z) the product triple keeps (y_i, z_i) and takes x from a
  k-nearest neighbour of z_i in a *bank* of training features (built once per epoch, see
  :meth:`MITerms.make_bank`), through :class:`miestim.KNNSampler`.

Under ``torchrun`` every method takes this rank's share of a global batch (features, labels)
and the *global* batch's bank rows ``index``. The MI estimators score the global batch from
gathered critic embeddings (:class:`miestim.MIEstimator` with a process group), the CMINE
terms gather the feature columns (:func:`miestim.distributed.all_gather_with_grad`) and score
all triples of the global batch, with product draws for the whole ``index`` from the bank,
which every rank holds in full. So every rank computes the same terms as one process on the
global batch, and their gradients, averaged over the ranks, are one process's gradients.
The bank is replicated (every rank holds all of it); its k-NN tables are built in shares
(:class:`miestim.KNNSampler` with ``distributed=True``) and gathered.

The 8 terms of the training objective (METHOD.md §3-4):

.. math::

    \mathrm{Inv} &= I(T;A) + I(T;V), \qquad \mathrm{Comp} = I(T;A|C) + I(T;V|C),\\
    \mathrm{Spec}_a &= I(A;C|T) - I(T;A|C), \qquad \mathrm{Spec}_v = I(V;C|T) - I(T;V|C),\\
    \mathrm{Spec}_t &= I(T;C|A) - I(T;A|C) + I(T;C|V) - I(T;V|C),

plus the fusion terms I(F;T), I(F;A), I(F;V). Estimators whose terms all have weight 0 are not
built, so an ablation pays only for what it uses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

import miestim
from miestim.distributed import all_gather_with_grad, is_distributed, rank_slice

__all__ = ["CMI_TRIPLES", "FeatureBank", "GROUPS", "MI_PAIRS", "MITerms", "TERM_NAMES", "TERM_PARTS"]

TERM_NAMES = ("I(F;T)", "I(F;A)", "I(F;V)", "Inv", "Spec_t", "Spec_a", "Spec_v", "Comp")

#: MI estimators: name -> (x, y) representation keys.
MI_PAIRS = {"I(F;T)": ("f", "t"), "I(F;A)": ("f", "a"), "I(F;V)": ("f", "v"), "I(T;A)": ("t", "a"), "I(T;V)": ("t", "v")}
#: CMI estimators: name -> (x resampled given z, y, z); "c" is the label.
CMI_TRIPLES = {
    "I(A;C|T)": ("a", "c", "t"),
    "I(T;A|C)": ("t", "a", "c"),
    "I(V;C|T)": ("v", "c", "t"),
    "I(T;V|C)": ("t", "v", "c"),
    "I(T;C|A)": ("t", "c", "a"),
    "I(T;C|V)": ("t", "c", "v"),
}
#: Each term as signed estimator names.
TERM_PARTS: dict[str, tuple[tuple[int, str], ...]] = {
    "I(F;T)": ((1, "I(F;T)"),),
    "I(F;A)": ((1, "I(F;A)"),),
    "I(F;V)": ((1, "I(F;V)"),),
    "Inv": ((1, "I(T;A)"), (1, "I(T;V)")),
    "Spec_t": ((1, "I(T;C|A)"), (-1, "I(T;A|C)"), (1, "I(T;C|V)"), (-1, "I(T;V|C)")),
    "Spec_a": ((1, "I(A;C|T)"), (-1, "I(T;A|C)")),
    "Spec_v": ((1, "I(V;C|T)"), (-1, "I(T;V|C)")),
    "Comp": ((1, "I(T;A|C)"), (1, "I(T;V|C)")),
}
#: Term groups of the ablation study.
GROUPS = {"fusion": ("I(F;T)", "I(F;A)", "I(F;V)"), "invariant": ("Inv",), "specific": ("Spec_t", "Spec_a", "Spec_v"), "complementary": ("Comp",)}

_KEYS = {name: f"{kind}{i}" for kind, names in (("mi", MI_PAIRS), ("cmi", CMI_TRIPLES)) for i, name in enumerate(names)}
_NAMES = {key: name for name, key in _KEYS.items()}


def _columns(features: Mapping[str, torch.Tensor], labels: torch.Tensor) -> dict[str, torch.Tensor]:
    return {**features, "c": labels.reshape(-1, 1).to(features["t"].dtype)}


def _global_columns(cols: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Every rank's rows of the columns, in rank order, in one gather (the columns themselves in one process)."""
    keys = list(cols)
    gathered = all_gather_with_grad(torch.cat([cols[key] for key in keys], dim=1))
    return dict(zip(keys, gathered.split([cols[key].shape[1] for key in keys], dim=1)))


class MITerms(nn.Module):
    """The estimators of the terms with non-zero weight, their bank and their losses.

    Args:
        d: width of :math:`h_t, h_a, h_v, h_f`.
        weights: 8 weights in :data:`TERM_NAMES` order (a term with weight 0 is not estimated).
        estimator: a name in :data:`miestim.ESTIMATORS` for the 5 MI terms (default ``"infonce"``).
        k: neighbours of the k-NN product sampler (default 2).
        critic_kwargs: for the separable critics (default ``hidden=(128,), embed_dim=64``; the
            authors': ``hidden=(256, 256, 256), embed_dim=128, activation="relu"``).
        cmine_hidden: hidden widths of the CMINE classifiers (default ``(128, 128)``; the
            authors': ``(256, 256, 256)``).
    """

    def __init__(
        self,
        d: int,
        weights: Sequence[float],
        *,
        estimator: str = "infonce",
        k: int = 2,
        critic_kwargs: dict | None = None,
        cmine_hidden: Sequence[int] = (128, 128),
    ) -> None:
        super().__init__()
        if len(weights) != len(TERM_NAMES):
            raise ValueError(f"weights must have {len(TERM_NAMES)} entries {TERM_NAMES}; got {len(weights)}.")
        if estimator not in miestim.ESTIMATORS:
            raise ValueError(f"estimator must be one of {sorted(miestim.ESTIMATORS)}; got {estimator!r}.")
        self.weights = {name: float(w) for name, w in zip(TERM_NAMES, weights)}
        self.k = k
        used = {part for name, w in self.weights.items() if w != 0 for _, part in TERM_PARTS[name]}
        critic_kwargs = critic_kwargs or {"hidden": (128,), "embed_dim": 64}
        dims = {"t": d, "a": d, "v": d, "f": d, "c": 1}
        # Module keys must be plain identifiers (they name state_dict entries); _NAMES maps them back.
        self.mi = nn.ModuleDict(
            {_KEYS[name]: miestim.ESTIMATORS[estimator](d, d, critic="separable", critic_kwargs=critic_kwargs) for name in MI_PAIRS if name in used}
        )
        self.cmi = nn.ModuleDict(
            {_KEYS[name]: miestim.CMINE(*(dims[r] for r in CMI_TRIPLES[name]), hidden=cmine_hidden) for name in CMI_TRIPLES if name in used}
        )

    @property
    def active(self) -> bool:
        """Whether any term has a non-zero weight."""
        return bool(len(self.mi) or len(self.cmi))

    def parameter_counts(self) -> dict[str, int]:
        """Parameters of the MI critics and of the CMI classifiers that are built."""
        return {
            f"MI critics ({len(self.mi)})": sum(p.numel() for p in self.mi.parameters()),
            f"CMI classifiers ({len(self.cmi)})": sum(p.numel() for p in self.cmi.parameters()),
        }

    def make_bank(self, features: Mapping[str, torch.Tensor], labels: torch.Tensor, *, seed: int) -> FeatureBank:
        """A :class:`FeatureBank` of detached features with samplers for this module's CMI terms."""
        conditioning = {CMI_TRIPLES[_NAMES[key]][2] for key in self.cmi}
        return FeatureBank(features, labels, conditioning=conditioning, k=self.k, seed=seed)

    def _cmi_inputs(self, cols: Mapping[str, torch.Tensor], bank: FeatureBank, index: torch.Tensor):
        if not self.cmi:
            return
        cols = _global_columns(cols)
        for key, cmine in self.cmi.items():
            x, y, z = CMI_TRIPLES[_NAMES[key]]
            yield key, cmine, (cols[x], cols[y], cols[z], bank.product_sample(x, z, index))

    def estimates(
        self, features: Mapping[str, torch.Tensor], labels: torch.Tensor, bank: FeatureBank, index: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """The estimate of every active estimator on a batch (differentiable w.r.t. ``features``), nats.

        ``index`` gives the bank rows of the batch's samples, whose k-NN neighbours provide
        the CMI product triples. Under ``torchrun``: ``features`` and ``labels`` are this rank's
        share of the global batch (see :func:`miestim.distributed.rank_slice`), ``index`` the
        global batch's rows, and the estimates are those of the global batch, on every rank.
        """
        cols = _columns(features, labels)
        out = {_NAMES[key]: est(*(cols[r] for r in MI_PAIRS[_NAMES[key]])) for key, est in self.mi.items()}
        out.update({_NAMES[key]: cmine(*inputs) for key, cmine, inputs in self._cmi_inputs(cols, bank, index)})
        return out

    def estimator_loss(self, features: Mapping[str, torch.Tensor], labels: torch.Tensor, bank: FeatureBank, index: torch.Tensor) -> torch.Tensor:
        """Stage-1 loss of the estimators: −Σ MI bounds + Σ CMINE cross-entropies (features detached)."""
        cols = {key: value.detach() for key, value in _columns(features, labels).items()}
        losses = [-est(*(cols[r] for r in MI_PAIRS[_NAMES[key]])) for key, est in self.mi.items()]
        losses += [cmine.loss(*inputs) for _, cmine, inputs in self._cmi_inputs(cols, bank, index)]
        return torch.stack(losses).sum()

    def terms(self, estimates: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The 8 terms (those with non-zero weight) composed from estimator values."""
        return {name: sum(sign * estimates[part] for sign, part in TERM_PARTS[name]) for name, w in self.weights.items() if w != 0}

    def objective(self, terms: Mapping[str, torch.Tensor]) -> torch.Tensor:
        r""":math:`\sum_j w_j \cdot \mathrm{term}_j` — subtracted from the task loss in stage 2."""
        return sum(self.weights[name] * value for name, value in terms.items())

    @torch.no_grad()
    def held_out(self, features: Mapping[str, torch.Tensor], labels: torch.Tensor, *, batch_size: int, seed: int) -> dict[str, float]:
        """Estimates and terms on a split the estimators were not trained on (e.g. validation).

        The split is its own bank (its CMI product triples come from the split only) and is
        read in consecutive batches of ``batch_size`` (InfoNCE's value depends on the batch
        size, so use the training batch size); values are batch means, nats. Under
        ``torchrun`` every rank passes the whole split and scores its share of each batch.
        """
        bank = self.make_bank(features, labels, seed=seed)
        n = labels.shape[0]
        sums: dict[str, float] = {}
        for start in range(0, n - batch_size + 1 if n >= batch_size else 1, batch_size):
            index = torch.arange(start, min(start + batch_size, n), device=labels.device)
            share = index[rank_slice(len(index))]  # all of it in one process
            values = self.estimates({m: f[share] for m, f in features.items()}, labels[share], bank, index)
            values.update(self.terms(values))
            for name, value in values.items():
                sums[name] = sums.get(name, 0.0) + float(value)
        batches = max(1, n // batch_size)
        return {name: total / batches for name, total in sums.items()}


class FeatureBank:
    """Detached features of one split and a k-NN sampler per conditioning variable, built once.

    Args:
        features: ``{"t", "a", "v", "f"}`` -> (N, d).
        labels: (N,) label C.
        conditioning: keys of the variables to condition on (``"t"``, ``"a"``, ``"v"``, ``"c"``).
        k, seed: for :class:`miestim.KNNSampler` (the i-th sampler gets ``seed + i``).
    """

    def __init__(self, features: Mapping[str, torch.Tensor], labels: torch.Tensor, *, conditioning, k: int, seed: int) -> None:
        self.columns = {key: value.detach() for key, value in _columns(features, labels).items()}
        # A continuous label can look discrete (few distinct averaged ratings); k-NN keeps it continuous.
        self.samplers = {
            z: miestim.KNNSampler(self.columns[z], k=k, seed=seed + i, discrete=False, distributed=is_distributed())
            for i, z in enumerate(sorted(conditioning))
        }

    def product_sample(self, x: str, z: str, index: torch.Tensor) -> torch.Tensor:
        """Rows of the bank's ``x`` at one k-NN neighbour (in ``z``) of each bank row ``index``."""
        return self.samplers[z].product_sample(self.columns[x], index)
