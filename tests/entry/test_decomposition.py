"""decompose against closed-form Gaussian decompositions and plug-in truths of discrete examples."""

import json
import math
import re
from collections import Counter

import numpy as np
import pytest

import miestim
from miestim.gaussian import conditional_mutual_information, decomposition, mutual_information
from tests._inputs import X, Y, Z, run_decompose

MODALITIES = {"t": [0, 1], "a": [2, 3]}
TARGET = [4]


def random_model(seed: int) -> np.ndarray:
    a = np.random.default_rng(seed).normal(size=(5, 5))
    return a @ a.T / 5 + 0.5 * np.eye(5)


def nuisance_model() -> np.ndarray:
    # Latents: s (a nuisance shared by t and a, unrelated to C), u (the signal), 5 noises.
    # t = (s + .3 e1, u + e2), a = (s + .3 e3, e4), C = u + .5 e5: I(a;C) = 0 < I(t;a), so Spec_a < 0.
    mix = np.zeros((5, 7))
    mix[0, [0, 2]] = 1, 0.3
    mix[1, [1, 3]] = 1, 1
    mix[2, [0, 4]] = 1, 0.3
    mix[3, 5] = 1
    mix[4, [1, 6]] = 1, 0.5
    return mix @ mix.T


def sample(cov: np.ndarray, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, len(cov))) @ np.linalg.cholesky(cov).T).astype(np.float32)


def terms(d) -> dict[str, float]:
    return {"Inv": d.invariant, "Comp": d.complementary, **{f"Spec_{m}": v for m, v in d.specific.items()}}


#: Bias allowances on top of 3 reported stderrs, measured at the seeds below: the Gaussian terms (both methods) were
#: within 3 stderr + 0.001 nats, the discrete ones within 3 stderr + 0.0095 (SMILE and CMINE on bits, stderr < 0.001).
GAUSSIAN_ALLOWANCE, DISCRETE_ALLOWANCE = 0.01, 0.02


def check(estimated, truth, allowance=GAUSSIAN_ALLOWANCE):
    errors = {}
    for name, value, se in estimated.terms():
        true = terms(truth)[name]
        if abs(value - true) > 3 * se + allowance:
            errors[name] = (value, se, true)
    assert not errors, f"terms off by more than 3 stderr + {allowance}: {errors}\n{estimated}"


@pytest.mark.parametrize("cov", [random_model(0), nuisance_model()], ids=["random", "nuisance"])
def test_closed_form_matches_independent_computation(cov):
    truth = decomposition(cov, MODALITIES, TARGET)
    t, a, c = MODALITIES["t"], MODALITIES["a"], TARGET
    assert truth.invariant == pytest.approx(mutual_information(cov, t, a))
    assert truth.complementary == pytest.approx(conditional_mutual_information(cov, t, a, c))
    assert truth.specific["a"] == pytest.approx(conditional_mutual_information(cov, a, c, t) - truth.complementary)
    assert truth.specific["a"] == pytest.approx(mutual_information(cov, a, c) - truth.invariant)  # chain rule


def test_nuisance_model_has_a_negative_specific_term():
    assert decomposition(nuisance_model(), MODALITIES, TARGET).specific["a"] < -0.5


@pytest.mark.parametrize("cov, seed", [(random_model(0), 0), (random_model(2), 2), (nuisance_model(), 1)], ids=["random", "random2", "nuisance"])
def test_decompose_recovers_gaussian_terms(cov, seed):
    # The default: the chain rule, every MI cross-fitted with the Gaussian-copula critic (a second
    # or two per call; the chain rule with SMILE took 96 s here and is left to the benchmark).
    x = sample(cov, 20_000, seed)
    d = miestim.decompose({"t": x[:, :2], "a": x[:, 2:4]}, x[:, 4], seed=seed, progress=False)
    assert d.method == "chain_rule" and all(r.method == "auto" for r in d.components.values())
    assert d.identities == {} and "I(t;a,C)" in d.components
    check(d, decomposition(cov, MODALITIES, TARGET))


@pytest.mark.parametrize("cov, seed", [(random_model(0), 0), (nuisance_model(), 1)], ids=["random", "nuisance"])
def test_cmi_method_recovers_gaussian_terms_and_identities(cov, seed):
    # CMINE on 64 units per layer: measured at these seeds, every term within 0.026 nats of the truth (0.025 with
    # 256 units), and within 3 stderr, in 32 s instead of 50 s. The MI terms are decompose's default, cross-fitted Gaussian-copula critics.
    x = sample(cov, 20_000, seed)
    d = miestim.decompose({"t": x[:, :2], "a": x[:, 2:4]}, x[:, 4], method="cmi", cmi_kwargs={"hidden": (64, 64)}, seed=seed, progress=False)
    assert d.components["I(t;a|C)"].method == "cmine-mean_log_ratio"
    check(d, decomposition(cov, MODALITIES, TARGET))
    # The chain-rule identities hold up to estimation error: 3 stderr of the four estimates each names, + the allowance.
    for identity, residual in d.identities.items():
        named = re.findall(r"I\([^)]*\)", identity)
        assert len(named) == 4 and abs(residual) <= 3 * math.hypot(*(d.components[k].stderr for k in named)) + GAUSSIAN_ALLOWANCE, (
            identity,
            residual,
        )


def test_chain_rule_stderrs_are_paired_over_the_cross_fitted_rows():
    x = sample(random_model(2), 3000, 2)
    d = miestim.decompose({"t": x[:, :2], "a": x[:, 2:4]}, x[:, 4], progress=False)
    c = d.components
    rows = c["I(t;a,C)"].row_values - c["I(t;C)"].row_values
    assert d.complementary == pytest.approx(c["I(t;a,C)"].value - c["I(t;C)"].value)
    assert d.stderr["complementary"] == pytest.approx(float(rows.std() / math.sqrt(3000)))
    # I(t;a,C) and I(t;C) share part of their noise: the paired stderr is below the quadrature one (0.010 vs 0.016).
    assert d.stderr["complementary"] < 0.8 * math.hypot(c["I(t;a,C)"].stderr, c["I(t;C)"].stderr)


def plugin_mi_bits(*columns: np.ndarray, given: np.ndarray | None = None) -> float:
    """Plug-in I(X;Y) or I(X;Y|Z) in bits of integer columns, from empirical entropies."""

    def entropy(*cols):
        counts = np.array(list(Counter(zip(*cols)).values()), dtype=float)
        p = counts / counts.sum()
        return float(-(p * np.log2(p)).sum())

    x, y = columns
    if given is None:
        return entropy(x) + entropy(y) - entropy(x, y)
    return entropy(x, given) + entropy(y, given) - entropy(x, y, given) - entropy(given)


def discrete_truth(t, a, c) -> dict[str, float]:
    nats = math.log(2)
    syn = plugin_mi_bits(t, a, given=c) * nats
    return {
        "Inv": plugin_mi_bits(t, a) * nats,
        "Comp": syn,
        "Spec_t": plugin_mi_bits(t, c, given=a) * nats - syn,
        "Spec_a": plugin_mi_bits(a, c, given=t) * nats - syn,
    }


BITS = np.random.default_rng(5).integers(0, 2, size=(2, 4000))
# CMINE and SMILE: a Gaussian copula cannot see an XOR, so these discrete cases test the other estimators. Critics of
# 64 units per layer: bits need no more, and the fits take 20-24 s instead of 33-36 s; measured at seed 0, every term
# within 0.01 nats of the truth (with 256 units: within 0.02).
FAST = {
    "method": "cmi",
    "mi_estimator": "smile",
    "mi_kwargs": {"max_steps": 600, "critic_kwargs": {"hidden": (64, 64)}},
    "cmi_kwargs": {"max_steps": 600, "hidden": (64, 64)},
    "progress": False,
}


@pytest.mark.parametrize(
    "t, a, c, only",
    [
        (BITS[0], BITS[1], BITS[0] ^ BITS[1], "Comp"),  # XOR: complementary only
        (BITS[0], BITS[0].copy(), BITS[0].copy(), "Inv"),  # a copied bit: invariant only
        (BITS[0], BITS[1], BITS[1].copy(), "Spec_a"),  # target equals a modality: specific only
    ],
    ids=["xor", "copied-bit", "target-is-a"],
)
def test_discrete_examples(t, a, c, only):
    truth = discrete_truth(t, a, c)
    assert truth[only] == pytest.approx(math.log(2), abs=0.01)
    assert all(abs(v) < 0.01 for k, v in truth.items() if k != only)
    d = miestim.decompose({"t": t, "a": a}, c, seed=0, **FAST)
    for name, value, se in d.terms():
        assert abs(value - truth[name]) <= 3 * se + DISCRETE_ALLOWANCE, (name, value, se, truth)


def test_three_modalities_fusion_reuse_and_presentation(tmp_path):
    rng = np.random.default_rng(0)
    t, a, v = rng.normal(size=(3, 600, 2))
    c = t[:, 0] + a[:, 0] + rng.normal(size=600)
    fused = np.c_[t, a, v] @ rng.normal(size=(6, 3))
    d = miestim.decompose(
        {"t": t, "a": a, "v": v},
        c,
        fused=fused,
        anchor="a",
        method="cmi",
        mi_estimator="smile",
        mi_kwargs={"max_steps": 20},
        cmi_kwargs={"max_steps": 20, "hidden": (8,)},
        progress=False,
    )
    assert d.anchor == "a" and list(d.specific) == ["t", "a", "v"] and list(d.fusion) == ["t", "a", "v"]
    # Each quantity is fitted once: I(a;C) serves both identities, I(F;m) each fusion term.
    assert sorted(d.components) == sorted(
        [
            "I(a;t)",
            "I(a;v)",
            "I(a;t|C)",
            "I(a;v|C)",
            "I(t;C|a)",
            "I(v;C|a)",
            "I(a;C|t)",
            "I(a;C|v)",
            "I(t;C)",
            "I(v;C)",
            "I(a;C)",
            "I(F;t)",
            "I(F;a)",
            "I(F;v)",
        ]
    )
    assert d.invariant == pytest.approx(d.components["I(a;t)"].value + d.components["I(a;v)"].value)
    assert d.specific["a"] == pytest.approx(sum(d.components[f"I(a;C|{m})"].value - d.components[f"I(a;{m}|C)"].value for m in ("t", "v")))
    assert d.stderr["invariant"] == pytest.approx(math.hypot(d.components["I(a;t)"].stderr, d.components["I(a;v)"].stderr))
    assert "Spec_v" in repr(d) and "Fus_t" in repr(d)
    json.dumps(d.to_dict())
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    ax = d.plot()
    assert len(ax.patches) == len(d.terms())


@pytest.mark.parametrize(
    "modalities, kwargs, exc, match",
    [
        ([np.zeros(10)], {}, TypeError, "modalities must be a dict"),
        ({"t": np.zeros(10)}, {}, ValueError, "at least 2 modalities"),
        ({"t": np.arange(10.0), "C": np.arange(10.0)}, {}, ValueError, "must not be named"),
        ({"t": np.arange(10.0), 3: np.arange(10.0)}, {}, TypeError, "keys must be names"),
        ({"t": np.arange(10.0), "a": np.arange(10.0)}, {"anchor": "v"}, ValueError, "anchor must be one of"),
        ({"t": np.arange(10.0), "a": np.arange(10.0)}, {"method": "direct"}, ValueError, "method must be one of"),
        ({"t": np.arange(10.0), "a": np.arange(10.0)}, {"cmi_estimator": "ksg"}, ValueError, "cmi_estimator must be one of"),
        ({"t": np.arange(10.0), "a": np.arange(9.0)}, {}, ValueError, "same number of samples"),
        ({"t": np.arange(10.0), "a": np.full(10, np.nan)}, {}, ValueError, r"modalities\['a'\] contains NaN"),
    ],
)
def test_bad_input_is_refused(modalities, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        miestim.decompose(modalities, np.arange(10.0), progress=False, **kwargs)


# ---------------------------------------------------------------------------------------------
# Options refused by name (zero, negative, wrong type, unknown names with suggestions), on the tiny
# clean data of the cross-entry malformed-input contract (tests/_inputs.py).

BAD_OPTIONS = [
    # (kwargs, exception, match), on top of the chain rule with tiny SMILE fits
    ({"method": "chain-rule"}, ValueError, r"method must be one of .*Did you mean 'chain_rule'"),
    ({"mi_estimator": "infonse"}, ValueError, r"mi_estimator must be one of .*Did you mean 'infonce'"),
    ({"cmi_estimator": "cmin"}, ValueError, r"cmi_estimator must be one of .*Did you mean 'cmine'"),
    ({"mi_kwargs": {"max_step": 3}}, TypeError, r"mi_kwargs has unknown option\(s\) \['max_step'\] .*Did you mean 'max_steps'"),
    ({"cmi_kwargs": {"k": 3}}, ValueError, "cmi_kwargs is an option of method='cmi', which method='chain_rule' \\(MIs only\\) does not use"),
    ({"cmi_kwargs": {"kk": 3}}, TypeError, r"cmi_kwargs has unknown option\(s\) \['kk'\] for estimate_cmi"),
    ({"mi_kwargs": "fast"}, TypeError, "mi_kwargs must be a dict of keyword arguments"),
    ({"mi_kwargs": {"estimator": "dv"}}, ValueError, r"mi_kwargs must not name the estimator \(got estimator='dv'\); pass mi_estimator="),
    ({"anchor": "v"}, ValueError, r"anchor must be one of the modalities \['t', 'a'\]; got 'v'"),
    ({"method": "cmi", "cmi_kwargs": {"k": 20}}, ValueError, "k=20 is too large"),
]


@pytest.mark.parametrize("kwargs, exc, match", [pytest.param(*c, id=f"{'-'.join(map(str, c[0]))}-{i}") for i, c in enumerate(BAD_OPTIONS)])
def test_bad_options_are_refused_naming_them(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        run_decompose(X, Y, Z, **kwargs)


@pytest.mark.parametrize("mi_kwargs", [{}, {"families": ("gaussian",)}, {"families": ("residual", "Gaussian")}])
def test_every_mi_of_a_decomposition_is_read_out_on_held_out_rows(mi_kwargs):
    # Terms are paired differences of MIs: the in-sample rows of two nested Gaussian fits would nearly cancel.
    z = sample(random_model(0), 1200, seed=0)
    d = miestim.decompose({"t": z[:, :2], "a": z[:, 2:4]}, z[:, 4], mi_kwargs={**mi_kwargs, "max_steps": 100}, progress=False)
    assert {r.extra["readout"] for r in d.components.values()} == {"held-out"}
    assert all(r.evaluated_on.startswith("every row once") for r in d.components.values())
    # A Gaussian family given as an instance is the user's choice, kept as given.
    own = miestim.decompose({"t": z[:, :2], "a": z[:, 2:4]}, z[:, 4], mi_kwargs={"families": [miestim.crossfit.GaussianFamily()]}, progress=False)
    assert {r.extra["readout"] for r in own.components.values()} == {"in-sample, bias-corrected"}


def test_every_named_family_with_an_in_sample_readout_is_built_held_out():
    from miestim.entry.decomposition import _held_out

    gaussian, linear, knn, residual = _held_out(("Gaussian", "linear", "knn", "residual"))
    assert (gaussian.bias_corrected, linear.bias_corrected, knn.leave_one_out) == (False, False, False)
    assert isinstance(linear, miestim.crossfit.LinearFamily) and residual == "residual"  # no in-sample readout: its name is kept
    own = miestim.crossfit.KNNFamily()
    assert _held_out(("gaussian", own))[1] is own
