"""Small clean data and tiny settings shared by the malformed-input tests of the entry points.

``tests/hardening/test_malformed_inputs.py`` corrupts one of these inputs per case (the cross-entry contract);
the entry points' own option refusals (``tests/entry/``, ``tests/sampling/``) run on the same clean data.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import miestim

N = 60  # split 42 / 6 / 12 (estimate_mi), 36 / 12 / 12 (estimate_cmi): batch 8 and k = 2 fit every split, so no warning is expected
RNG = np.random.default_rng(0)
X = RNG.normal(size=(N, 2)).astype(np.float32)
Y = (X + RNG.normal(size=(N, 2))).astype(np.float32)
Z = (X[:, :1] + RNG.normal(size=(N, 1))).astype(np.float32)

TINY_MI = dict(
    estimator="smile",
    max_steps=3,
    eval_every=3,
    batch_size=8,
    eval_batch_size=64,
    critic_kwargs={"hidden": (8,), "embed_dim": 4},
    seed=0,
    progress=False,
)
# What the chain-rule decomposition passes on to its SMILE fits (it names the estimator itself).
DECOMPOSE_MI = {k: v for k, v in TINY_MI.items() if k != "estimator"}
# The default estimator, "auto": the same input handling, then its own cross-fit.
TINY_AUTO = dict(max_steps=3, eval_every=3, batch_size=8, eval_batch_size=64, seed=0, progress=False)
TINY_CMI = dict(method="cmine", max_steps=3, eval_every=3, batch_size=8, hidden=(8,), k=2, seed=0, progress=False)


def run_mi(x: Any, y: Any, z: Any, **kwargs: Any) -> float:
    return miestim.estimate_mi(x, y, **{**TINY_MI, **kwargs}).value


def run_auto(x: Any, y: Any, z: Any, **kwargs: Any) -> float:
    return miestim.estimate_mi(x, y, **{**TINY_AUTO, **kwargs}).value


def run_cmi(x: Any, y: Any, z: Any, **kwargs: Any) -> float:
    return miestim.estimate_cmi(x, y, z, **{**TINY_CMI, **kwargs}).value


def run_decompose(x: Any, y: Any, z: Any, **kwargs: Any) -> float:
    """The chain-rule decomposition's terms summed; ``kwargs`` override its options (``method`` included)."""
    options = {"method": "chain_rule", "mi_estimator": "smile", "mi_kwargs": DECOMPOSE_MI, "progress": False, **kwargs}
    d = miestim.decompose({"t": x, "a": y}, z, **options)
    return d.invariant + d.complementary + sum(d.specific.values())
